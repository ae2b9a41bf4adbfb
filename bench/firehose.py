"""Section 8: the firehose consumer against the local PDS's own subscribeRepos. The consumer runs
in this process (its DynamoDB calls counted on the shared client); other accounts publish on the
PDS directly, as other clients would."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from bench.common import CallRecorder, heading, table, verdict
from local_runtime.stack import LocalStack

if TYPE_CHECKING:
    from albums_core.adapters.atproto.commit_verify import CommitVerifier

TRACK, LIST, LIKE = "fm.plyr.track", "fm.plyr.list", "fm.plyr.like"
OTHER = "com.example.bench.note"  # a collection we do not index


class _Account:
    def __init__(self, stack: LocalStack, prefix: str) -> None:
        from albums_core.adapters.atproto import xrpc

        assert stack.pds is not None
        password = "pw-" + uuid.uuid4().hex[:10]
        handle = f"{prefix}{uuid.uuid4().hex[:6]}.test"
        account = stack.pds.create_account(handle, password)
        out = xrpc.create_session(stack.pds.pds_url, account["did"], password)
        self.did = account["did"]
        self.session = xrpc.PdsSession(stack.pds.pds_url, self.did, xrpc.Tokens(out["accessJwt"], out["refreshJwt"]))

    def create(self, collection: str, record: dict[str, Any]) -> tuple[str, str]:
        body = {"repo": self.did, "collection": collection, "record": record, "validate": False}
        out = self.session.authed("POST", "com.atproto.repo.createRecord", body=body)
        return str(out["uri"]), str(out["cid"])

    def put(self, uri: str, record: dict[str, Any]) -> None:
        self.session.put_record(uri.split("/")[-2], uri.rsplit("/", 1)[1], record, None)

    def delete(self, uri: str) -> None:
        self.session.delete_record(uri.split("/")[-2], uri.rsplit("/", 1)[1])


def _track(title: str) -> dict[str, Any]:
    from albums_core.domain.records import now_iso

    return {"$type": TRACK, "title": title, "artist": "Bench", "fileType": "mp3", "createdAt": now_iso()}


class _Consumer:
    def __init__(self, relay: str) -> None:
        from albums_core.bootstrap import firehose
        from albums_core.services.firehose.consumer import ConsumerConfig

        self.stop = threading.Event()
        self.consumer = firehose.consumer(ConsumerConfig(relay_url=relay, batch_wait_seconds=0.05))
        self.sources: list[Any] = []
        made = self.consumer.source_factory

        def factory(url: str, cursor: int | None) -> Any:
            source = made(url, cursor)
            self.sources.append(source)
            return source

        self.consumer.source_factory = factory
        self.report: Any = None
        self.thread = threading.Thread(target=lambda: setattr(self, "report", self._run()), daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not (self.sources and self.sources[0].connected.is_set()):
            if time.monotonic() > deadline:
                raise RuntimeError("the consumer did not connect")
            time.sleep(0.05)

    def _run(self) -> Any:
        return self.consumer.run(lambda: 10**9, self.stop.is_set)

    def verifier(self) -> CommitVerifier:
        """The ingestion's commit verifier, with its counts and times (bootstrap's ingestion
        builds a CommitVerifier; the consumer knows it only as its port)."""
        from albums_core.adapters.atproto.commit_verify import CommitVerifier
        from albums_core.services.firehose.ingest import Ingest

        ingest = self.consumer.ingest
        assert isinstance(ingest, Ingest) and isinstance(ingest.verifier, CommitVerifier)
        return ingest.verifier

    def finish(self) -> Any:
        self.stop.set()
        self.thread.join(600)  # the batch in hand is applied first
        if self.report is None:
            raise RuntimeError("the consumer did not stop")
        return self.report


def _wait(check: Callable[[], bool], seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError("the consumer did not catch up")
        time.sleep(0.25)


def run(stack: LocalStack) -> list[tuple[str, bool]]:
    from albums_core.adapters.aws_clients import dynamodb

    heading("8. Firehose consumer (subscribeRepos of the local PDS; the consumer in this process)")
    assert stack.pds is not None
    relay = stack.pds.pds_url.replace("http://", "ws://", 1)
    artist, fan_a, fan_b = _Account(stack, "fh-artist"), _Account(stack, "fh-fan"), _Account(stack, "fh-fan")
    summary: list[tuple[str, bool]] = []

    # --- a burst of 1,000 mixed events, applied live --------------------------------------------
    consumer = _Consumer(relay)
    recorder = CallRecorder(dynamodb())
    began = time.perf_counter()
    with recorder:
        tracks = [artist.create(TRACK, _track(f"Burst {i:03d}")) for i in range(200)]  # 200 creates
        items = [{"subject": {"uri": u, "cid": c}} for u, c in tracks[:100]]
        artist.create(LIST, {"$type": LIST, "name": "Bench Burst", "listType": "album", "items": items})  # 1

        def fan_likes(fan: _Account) -> list[str]:
            return [fan.create(LIKE, {"$type": LIKE, "subject": {"uri": u, "cid": c}})[0] for u, c in tracks]

        with ThreadPoolExecutor(3) as pool:
            likes = [pool.submit(fan_likes, fan) for fan in (fan_a, fan_b)]  # 2 x 200 likes
            for i, (uri, _) in enumerate(tracks[:150]):  # 150 updates
                artist.put(uri, _track(f"Burst {i:03d} (edit)"))
            liked = [f.result() for f in likes]
        for uri in liked[0][:150]:  # 150 unlikes
            fan_a.delete(uri)
        for uri, _ in tracks[101:200]:  # 99 deletes: 1,000 commits in all
            artist.delete(uri)
        published = time.perf_counter() - began
        report_source = consumer.sources[0]
        # 200 creates, 1 list, 400 likes, 150 updates, 150 unlikes, 99 deletes.
        _wait(lambda: report_source.counts["frames_decoded"] >= 1000 and report_source.events.empty())
        time.sleep(1.0)  # the last batch applied and checkpointed
        report = consumer.finish()
    counts = report.counts
    applied = counts["applied"]
    seen = report_source.counts["frames_decoded"] + report_source.counts["frames_filtered"]
    calls = len(recorder.calls)
    lags = sorted(report.lags)
    p50 = lags[len(lags) // 2] if lags else float("nan")
    p95 = lags[min(len(lags) - 1, int(len(lags) * 0.95))] if lags else float("nan")
    rate = seen / report.busy_seconds if report.busy_seconds else float("nan")
    print(
        table(
            [
                "burst",
                "frames",
                "applied (ops)",
                "published in",
                "consumer busy",
                "events/s applied",
                "lag p50",
                "lag p95",
            ],
            [
                [
                    "1,000 mixed",
                    str(seen),
                    str(applied),
                    f"{published:.1f} s",
                    f"{report.busy_seconds:.1f} s",
                    f"{rate:.0f}",
                    f"{p50:.2f} s",
                    f"{p95:.2f} s",
                ]
            ],
        )
    )
    print()
    print(f"  DynamoDB calls: {calls} ({recorder.per_operation()})")
    spent: dict[str, float] = {}
    for call in recorder.calls:
        spent[call.operation] = spent.get(call.operation, 0.0) + call.seconds
    print(
        f"  time in DynamoDB calls: {recorder.seconds:.1f} s of {report.busy_seconds:.1f} s busy ("
        + " ".join(f"{op}:{sec:.1f}s" for op, sec in sorted(spent.items()))
        + ")"
    )
    print(f"  per applied op: {calls / max(1, applied):.2f}; indexings: {counts['indexings']}; ")
    verifier = consumer.verifier()
    per_verified = verifier.seconds / max(1, verifier.checked)
    per_event_busy = report.busy_seconds / max(1, seen)
    print(
        f"  verification (signature, record CIDs, MST paths): {verifier.checked} commits, "
        f"{verifier.seconds * 1e3:.0f} ms in all, {per_verified * 1e6:.0f} µs each "
        f"({per_verified / per_event_busy:.1%} of an event's share of the busy time; of it the keys: "
        f"{verifier.key_seconds * 1e3:.0f} ms, the DID documents read once per DID); "
        f"refused {counts['unverified_commits']}, keys read again {verifier.rereads}"
    )
    print(f"  counts: {dict(sorted((k, v) for k, v in counts.items() if v))}")
    summary.append(("firehose lag p95 under 2 s during the burst", p95 < 2.0))
    summary.append(("firehose DynamoDB calls per applied event <= 3", calls / max(1, applied) <= 3))

    # --- 90% of the events in collections we do not index -----------------------------------------
    consumer = _Consumer(relay)
    with ThreadPoolExecutor(3) as pool:
        futures = [pool.submit(fan_a.create, OTHER, {"$type": OTHER, "n": i}) for i in range(450)]
        futures += [pool.submit(fan_b.create, OTHER, {"$type": OTHER, "n": i}) for i in range(450)]
        futures += [pool.submit(artist.create, TRACK, _track(f"Mixed {i:03d}")) for i in range(100)]
        for future in futures:
            future.result()
    source = consumer.sources[0]
    _wait(lambda: source.counts["frames_decoded"] + source.counts["frames_filtered"] >= 1000 and source.events.empty())
    time.sleep(1.0)
    mixed = consumer.finish()
    verifier = consumer.verifier()
    filtered_n = max(1, source.counts["frames_filtered"])
    decoded_n = max(1, source.counts["frames_decoded"])
    per_filtered = (source.seconds["frame_filtered"] + source.seconds["filtered"]) / filtered_n
    # An applied event: its frame, its decoding (model + CAR) and its share of the apply time.
    per_applied = (source.seconds["frame_decoded"] + source.seconds["decoded"] + mixed.busy_seconds) / decoded_n
    share = per_filtered / per_applied if per_applied else float("nan")
    print()
    print(
        table(
            ["90% other collections", "frames", "cost each (frame + decode + apply)", "share of an applied one"],
            [
                ["filtered out", str(source.counts["frames_filtered"]), f"{per_filtered * 1e6:.0f} µs", f"{share:.1%}"],
                ["applied (ours)", str(source.counts["frames_decoded"]), f"{per_applied * 1e6:.0f} µs", "100%"],
            ],
        )
    )
    per_verified = verifier.seconds / max(1, verifier.checked)
    print(
        f"  verified: {verifier.checked} commits of {source.counts['frames_decoded']} ours and "
        f"{source.counts['frames_filtered']} filtered out ({per_verified * 1e6:.0f} µs each, keys "
        f"{verifier.key_seconds / max(1, verifier.checked) * 1e6:.0f} µs of it, "
        f"{per_verified / per_applied:.1%} of an applied event's cost); filtered-out events verified: "
        f"{max(0, verifier.checked - source.counts['frames_decoded'])}"
    )
    summary.append(("firehose filtered-out event <= 5% of an applied one", share <= 0.05))
    summary.append(("firehose filtered-out events never verified", verifier.checked <= source.counts["frames_decoded"]))
    for name, met in summary:
        print(f"  {name}: {verdict(met)}")
    return summary

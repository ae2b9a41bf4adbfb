"""The firehose consumer against the real local PDS: records written directly on the PDS by
other clients (accounts that never used our API among them) reach the catalogue and the pages;
replays, duplicates, bad records and error frames change nothing they should not."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from albums_core import bootstrap
from albums_core.adapters.atproto import xrpc
from albums_core.adapters.dynamodb.catalogue import CatalogueWriter
from albums_core.adapters.dynamodb.firehose_lease import FirehoseLeases
from albums_core.adapters.dynamodb.firehose_state import FirehoseState
from albums_core.adapters.dynamodb.session_lookup import Viewer
from albums_core.bootstrap import firehose
from albums_core.domain.errors import AlbumNotFound, ArtistNotFound
from albums_core.domain.records import now_iso
from albums_core.services.album_pages import Moved
from albums_core.services.firehose.consumer import ConsumerConfig, RunReport
from local_runtime.firehose_pump import FUNCTION
from local_runtime.lambda_host import FunctionError, LambdaHost
from local_runtime.pds import LocalPds
from local_runtime.processes import MotoServer
from local_runtime.stream_pump import scheduled_event
from local_runtime.template import local_stack

TRACK, LIST, LIKE = "fm.plyr.track", "fm.plyr.list", "fm.plyr.like"


class Client:
    """Another client of the PDS: raw XRPC with the account's own session (not our API)."""

    def __init__(self, pds: LocalPds, handle: str, account: tuple[str, str] | None = None) -> None:
        """A new account, or `account` (DID, password): one made elsewhere."""
        if account is None:
            password = "pw-" + uuid.uuid4().hex[:12]
            account = (pds.create_account(handle, password)["did"], password)
        did, password = account
        out = xrpc.create_session(pds.pds_url, did, password)
        self.handle = handle
        self.did = did
        self.session = xrpc.PdsSession(pds.pds_url, self.did, xrpc.Tokens(out["accessJwt"], out["refreshJwt"]))

    def create(self, collection: str, record: dict[str, Any], validate: bool | None = None) -> tuple[str, str]:
        body: dict[str, Any] = {"repo": self.did, "collection": collection, "record": record}
        if validate is not None:
            body["validate"] = validate
        out = self.session.authed("POST", "com.atproto.repo.createRecord", body=body)
        return str(out["uri"]), str(out["cid"])

    def track(self, title: str) -> tuple[str, str]:
        return self.create(
            TRACK, {"$type": TRACK, "title": title, "artist": self.handle, "fileType": "mp3", "createdAt": now_iso()}
        )

    def album(self, name: str, tracks: list[tuple[str, str]], rkey: str | None = None) -> tuple[str, str]:
        record = self.album_record(name, tracks)
        if rkey is not None:
            cid = self.session.put_record(LIST, rkey, record, None)
            return f"at://{self.did}/{LIST}/{rkey}", cid
        return self.create(LIST, record)

    @staticmethod
    def album_record(name: str, tracks: list[tuple[str, str]]) -> dict[str, Any]:
        return {
            "$type": LIST,
            "name": name,
            "listType": "album",
            "items": [{"subject": {"uri": u, "cid": c}} for u, c in tracks],
            "createdAt": now_iso(),
        }

    def like(self, track: tuple[str, str]) -> str:
        uri, _ = self.create(
            LIKE, {"$type": LIKE, "subject": {"uri": track[0], "cid": track[1]}, "createdAt": now_iso()}
        )
        return uri

    def delete(self, uri: str) -> None:
        collection, rkey = uri.split("/")[-2:]
        self.session.delete_record(collection, rkey)


class Running:
    """The consumer in a thread of this process, until stopped."""

    def __init__(self, relay: str, **config: Any) -> None:
        self.stop_flag = threading.Event()
        self.consumer = firehose.consumer(ConsumerConfig(relay_url=relay, batch_wait_seconds=0.1, **config))
        self.report: RunReport | None = None
        self.sources: list[Any] = []
        factory = self.consumer.source_factory

        def source(url: str, cursor: int | None) -> Any:
            made = factory(url, cursor)
            self.sources.append(made)
            return made

        self.consumer.source_factory = source
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 120  # a hang limit only: a cold consumer on a busy machine is slow
        while not (self.sources and self.sources[0].connected.is_set()):
            assert time.monotonic() < deadline and self.thread.is_alive(), f"consumer did not connect: {self.report}"
            time.sleep(0.05)

    def _run(self) -> None:
        # As the schedule does: while a consumer that ended without releasing (a worker killed
        # at the previous test's end) still holds the lease, try again until it lapses.
        deadline = time.monotonic() + 30
        while True:
            self.report = self.consumer.run(lambda: 10**9, self.stop_flag.is_set)
            if not self.report.status.startswith("lease held") or time.monotonic() > deadline:
                return
            if self.stop_flag.wait(0.2):
                return

    def settle(self, quiet: float = 1.5) -> None:
        """Until the consumer has applied everything it received: its queue empty and its
        checkpoint unchanged for `quiet` seconds (a page can show a record before its event is
        applied, since an indexing reads the whole repository)."""
        state, source = FirehoseState.on().leases, self.consumer.config.source_id
        last: Any = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            cursor = (state.read_lease(source) or {}).get("cursor")
            if cursor == last and self.sources[-1].events.empty():
                return
            last = cursor
            time.sleep(quiet)
        raise AssertionError("the consumer did not settle")

    def stop(self) -> RunReport:
        self.stop_flag.set()
        self.thread.join(15)
        assert self.report is not None
        return self.report


@pytest.fixture
def relay(pds_env: LocalPds) -> str:
    return pds_env.pds_url.replace("http://", "ws://")


@pytest.fixture
def consumer(relay: str) -> Iterator[Running]:
    running = Running(relay)
    yield running
    running.stop()


def eventually(check: Callable[[], Any], timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            out = check()
            if out:
                return out
        except (AssertionError, LookupError, AlbumNotFound, ArtistNotFound):
            if time.monotonic() > deadline:
                raise
        if time.monotonic() > deadline:
            raise AssertionError("not reached in time")
        time.sleep(0.2)


def page(handle: str, slug: str, viewer: str | None = None) -> dict[str, Any]:
    return json.loads(bootstrap.album_pages().render(handle, slug, Viewer(viewer, None) if viewer else None))


def handle(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:6]}.test"


def test_an_album_published_elsewhere_by_an_account_new_to_us_appears_renames_and_goes(
    pds_env: LocalPds, consumer: Running
) -> None:
    carol = Client(pds_env, handle("carol"))
    one, two, three = carol.track("One"), carol.track("Two"), carol.track("Three")
    list_uri, _ = carol.album("Night Drive", [three, one, two])

    def albums() -> list[tuple[str, str, int]]:
        return [
            (a["title"], a["slug"], a["track_count"])
            for a in bootstrap.listings().list_artist_albums(carol.handle)["albums"]
        ]

    eventually(lambda: albums() == [("Night Drive", "night-drive", 3)])
    shown = eventually(lambda: page(carol.handle, "night-drive"))
    assert [t["title"] for t in shown["tracks"]] == ["Three", "One", "Two"]

    # Renamed elsewhere: renamed here (new slug, the old one names where the album is now).
    carol.album("Night Drive Redux", [three, one, two], rkey=list_uri.rsplit("/", 1)[1])
    eventually(
        lambda: (
            [a["slug"] for a in bootstrap.listings().list_artist_albums(carol.handle)["albums"]]
            == ["night-drive-redux"]
        )
    )
    assert bootstrap.album_pages().render(carol.handle, "night-drive", None) == Moved(carol.handle, "night-drive-redux")

    # A track deleted elsewhere leaves the page.
    carol.delete(one[0])
    eventually(lambda: [t["title"] for t in page(carol.handle, "night-drive-redux")["tracks"]] == ["Three", "Two"])

    # The list deleted elsewhere: the album is gone, its tracks stay as singles.
    carol.delete(list_uri)
    eventually(lambda: bootstrap.listings().list_artist_albums(carol.handle)["albums"] == [])
    singles = CatalogueWriter().artist_tracks(carol.did)
    assert sorted(t.title for t in singles) == ["Three", "Two"] and all(t.album_id is None for t in singles)


def test_a_like_from_another_account_counts_once_for_that_viewer_only(pds_env: LocalPds, consumer: Running) -> None:
    dave, erin, frank = Client(pds_env, handle("dave")), Client(pds_env, handle("erin")), Client(pds_env, handle("fr"))
    track = dave.track("Liked")
    dave.album("Likeable", [track])
    eventually(lambda: page(dave.handle, "likeable"))
    like = erin.like(track)

    def liked() -> dict[str, Any]:
        shown = page(dave.handle, "likeable", viewer=erin.did)["tracks"][0]
        return shown if shown["like_count"] == 1 else {}

    assert eventually(liked)["is_liked"] is True
    assert page(dave.handle, "likeable", viewer=frank.did)["tracks"][0]["is_liked"] is False
    assert page(dave.handle, "likeable")["tracks"][0]["is_liked"] is False

    erin.delete(like)
    eventually(lambda: page(dave.handle, "likeable", viewer=erin.did)["tracks"][0]["like_count"] == 0)
    assert page(dave.handle, "likeable", viewer=erin.did)["tracks"][0]["is_liked"] is False


def snapshot() -> list[dict[str, Any]]:
    """The catalogue's items, but the consumer's own bookkeeping (lease, revs)."""
    client = CatalogueWriter().client
    table = CatalogueWriter().table
    items: list[dict[str, Any]] = []
    params: dict[str, Any] = {"TableName": table}
    while True:
        out = client.scan(**params)
        items.extend(out["Items"])
        if "LastEvaluatedKey" not in out:
            break
        params["ExclusiveStartKey"] = out["LastEvaluatedKey"]
    keep = [i for i in items if not i["pk"]["S"].startswith(("FIREHOSE", "REPO#"))]
    for item in keep:
        item.pop("synced_at", None)
    return sorted(keep, key=lambda i: (i["pk"]["S"], i["sk"]["S"]))


def test_replaying_from_an_old_cursor_changes_nothing(pds_env: LocalPds, relay: str) -> None:
    running = Running(relay)
    state = FirehoseState.on().leases
    source = ConsumerConfig(relay_url=relay).source_id
    gus, hal = Client(pds_env, handle("gus")), Client(pds_env, handle("hal"))
    # The consumer started live: where it stood before this test's records (the new accounts'
    # own #identity / #account events only).
    first = eventually(lambda: (state.read_lease(source) or {}).get("cursor"))
    tracks = [gus.track(f"T{i}") for i in range(4)]
    list_uri, _ = gus.album("Replayed", tracks)
    likes = [hal.like(t) for t in tracks[:3]]
    hal.delete(likes[0])
    gus.delete(tracks[3][0])
    gus.album("Replayed Again", tracks[:3], rkey=list_uri.rsplit("/", 1)[1])
    eventually(lambda: [t["like_count"] for t in page(gus.handle, "replayed-again")["tracks"]] == [0, 1, 1])
    report = running.stop()
    assert report.status == "ok" and report.cursor is not None and report.cursor > first
    before = snapshot()

    # Every event since then again.
    assert state.rewind(source, first)
    again = Running(relay)
    eventually(lambda: state.read_lease(source)["cursor"] >= report.cursor)  # type: ignore[index]
    replay = again.stop()
    assert replay.counts["skipped_replayed"] > 0
    assert snapshot() == before


def test_bad_records_are_counted_and_skipped_and_the_next_good_one_applies(
    pds_env: LocalPds, consumer: Running
) -> None:
    ivy = Client(pds_env, handle("ivy"))
    good = ivy.track("Good")
    ivy.create(TRACK, {"$type": TRACK, "artist": "x", "fileType": "mp3", "createdAt": now_iso()}, validate=False)
    ivy.create(LIST, {"$type": LIST, "name": "Playlist", "listType": "playlist", "items": [], "createdAt": now_iso()})
    ivy.create(
        LIST,
        {
            "$type": LIST,
            "name": "Huge",
            "listType": "album",
            "items": [{"subject": {"uri": good[0], "cid": good[1]}}] * 600,
            "createdAt": now_iso(),
        },
        validate=False,
    )
    ivy.create(
        LIKE, {"$type": LIKE, "subject": {"uri": "at://did:plc:x/app.bsky.feed.post/1", "cid": "b"}}, validate=False
    )
    ivy.create(LIKE, {"$type": LIKE, "subject": "not a ref"}, validate=False)
    ivy.album("Fine", [good])
    eventually(lambda: page(ivy.handle, "fine")["tracks"][0]["title"] == "Good")
    consumer.settle()
    report = consumer.stop()
    assert report.counts["skipped_invalid"] >= 5
    assert report.status == "ok"


def test_a_cursor_from_the_future_restarts_from_now(pds_env: LocalPds, relay: str) -> None:
    state = FirehoseState.on().leases
    source = ConsumerConfig(relay_url=relay).source_id
    assert state.rewind(source, 10**12)
    running = Running(relay)
    jo = Client(pds_env, handle("jo"))
    track = jo.track("After the future")
    jo.album("Future", [track])
    eventually(lambda: page(jo.handle, "future"))
    report = running.stop()
    assert report.counts.get("info_FutureCursor", 0) >= 1
    lease = state.read_lease(source)
    assert lease is not None and lease["cursor"] < 10**12


def test_one_consumer_at_a_time(relay: str, consumer: Running) -> None:
    second = firehose.consumer(ConsumerConfig(relay_url=relay)).run(lambda: 10**9)
    assert second.status == "lease held by another consumer"


# ---- a consumer killed in the middle of a burst ------------------------------------------------


def test_sigkill_in_the_middle_of_a_burst_then_restart_counts_exact(
    pds_env: LocalPds, relay: str, moto: MotoServer
) -> None:
    """The consumer in its Lambda-like worker, killed with SIGKILL while a burst is applied; the
    next invocation resumes from the checkpoint: nothing missing, nothing doubled."""
    kim, lee, max_ = Client(pds_env, handle("kim")), Client(pds_env, handle("lee")), Client(pds_env, handle("max"))
    state = FirehoseState.on().leases
    source = ConsumerConfig(relay_url=relay).source_id
    warm = Running(relay)  # learn where the stream stands, then hand over at that cursor
    kim.track("warm-up")
    start = eventually(lambda: (state.read_lease(source) or {}).get("cursor"))
    warm.stop()

    # The burst is waiting at the relay when the consumer starts: it is applied in batches of 10
    # and the consumer is killed in the middle of it.
    tracks = [kim.track(f"Burst {i:02d}") for i in range(40)]
    kim.album("Burst", tracks)
    with ThreadPoolExecutor(2) as pool:
        futures = {who.did: pool.submit(lambda w=who: [w.like(t) for t in tracks]) for who in (lee, max_)}
        liked = {did: f.result() for did, f in futures.items()}

    stack = local_stack(overrides={"PlcUrl": pds_env.plc_url, "HandleResolverUrl": pds_env.pds_url, "RelayUrl": relay})
    # A checkpoint after every batch: with the default (at most one a second) a quick consumer
    # could apply the whole burst between two checkpoints, and the kill would land after it.
    settings = {"FIREHOSE_LEASE_SECONDS": "2", "FIREHOSE_HOLD_SECONDS": "120", "FIREHOSE_BATCH_SIZE": "10"}
    env = {FUNCTION: {**settings, "FIREHOSE_CHECKPOINT_SECONDS": "0"}}
    event = scheduled_event(stack, FUNCTION, "rate(1 minute)")
    with LambdaHost(stack, moto.url, env, export_environment=False) as host:
        first = threading.Thread(target=_invoke_once, args=(host, event), daemon=True)
        first.start()
        # Killed early in the burst of ~120 events (the consumer may apply a few batches more
        # before the kill lands: it keeps up with a burst now).
        eventually(lambda: _past(state, source, start + 30), timeout=60)
        (pid,) = host.worker_pids()[FUNCTION]
        os.kill(pid, signal.SIGKILL)
        first.join(10)
        assert not first.is_alive()
        # Where it died: its last checkpoint (one after every batch here), inside the burst.
        killed_at = int((state.read_lease(source) or {})["cursor"])
        assert killed_at < start + len(tracks) + 1 + 2 * len(tracks), "the kill landed after the burst"
        for uri in liked[lee.did][:10]:
            lee.delete(uri)
        for uri, _ in tracks[35:]:
            kim.delete(uri)
        second = threading.Thread(target=_invoke_quietly, args=(host, event), daemon=True)
        second.start()  # waits out the dead consumer's lease, then resumes from its checkpoint

        expected = [1] * 10 + [2] * 25

        def counts() -> list[int]:
            return [t["like_count"] for t in page(kim.handle, "burst")["tracks"]]

        eventually(lambda: counts() == expected, timeout=90)
        time.sleep(2)  # anything doubled would show now
        assert counts() == expected
        shown = page(kim.handle, "burst", viewer=lee.did)["tracks"]
        assert [t["is_liked"] for t in shown] == [False] * 10 + [True] * 25
        assert [t["title"] for t in shown] == [f"Burst {i:02d}" for i in range(35)]
        album = bootstrap.listings().list_artist_albums(kim.handle)["albums"][0]
        assert album["track_count"] == 35
        # The second invocation went on past where the first one died.
        assert killed_at < int((state.read_lease(source) or {})["cursor"])


def _past(state: FirehoseLeases, source: str, seq: int) -> int | None:
    cursor = (state.read_lease(source) or {}).get("cursor")
    return int(cursor) if cursor is not None and cursor > seq else None


def _invoke_once(host: LambdaHost, event: dict[str, Any]) -> None:
    with contextlib.suppress(FunctionError, RuntimeError):  # killed; the host closed
        host.invoke(FUNCTION, event)


def _invoke_quietly(host: LambdaHost, event: dict[str, Any]) -> None:
    """Invoke until an invocation gets the lease (as the schedule would, every minute)."""
    for _ in range(40):
        try:
            result = host.invoke(FUNCTION, event)
        except FunctionError:
            result = {}
        except RuntimeError:  # the host closed at the test's end
            return
        if not str(result.get("status", "")).startswith("lease held"):
            return
        time.sleep(0.5)


def test_a_deactivated_account_leaves_every_read_and_returns_when_active(pds_env: LocalPds, consumer: Running) -> None:

    quinn = Client(pds_env, handle("quinn"))
    track = quinn.track("Gone for a while")
    quinn.album("Hiatus", [track])
    eventually(lambda: any(a["title"] == "Hiatus" for a in bootstrap.listings().list_albums(100, None)["albums"]))

    quinn.session.authed("POST", "com.atproto.server.deactivateAccount", body={})

    def gone() -> bool:
        try:
            bootstrap.listings().list_artist_albums(quinn.handle)
        except ArtistNotFound:
            return True
        return False

    eventually(gone)
    with pytest.raises(AlbumNotFound):
        page(quinn.handle, "hiatus")
    assert not any(a["title"] == "Hiatus" for a in bootstrap.listings().list_albums(100, None)["albums"])

    quinn.session.authed("POST", "com.atproto.server.activateAccount")
    eventually(lambda: page(quinn.handle, "hiatus")["tracks"][0]["title"] == "Gone for a while")
    eventually(lambda: any(a["title"] == "Hiatus" for a in bootstrap.listings().list_albums(100, None)["albums"]))

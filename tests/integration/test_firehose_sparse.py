"""The consumer on the whole network's stream (issue 22 §3): our records are 1% of the frames, so
nearly every batch holds one commit of ours among filtered frames. Its DynamoDB calls per
applied op stay few (no checkpoint, rev write or catalogue re-read per batch), and a run
abandoned between its writes and its checkpoint is resumed without applying anything twice.

The consumer as bootstrap.firehose wires it (revs written before each checkpoint), against moto,
fed by a scripted source; its clock is injected (each take is 0.1 s), so the checkpoints'
timing does not depend on the machine's speed."""

from __future__ import annotations

import itertools
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from albums_core.adapters.dynamodb.catalogue import CatalogueRepository, CatalogueWriter
from albums_core.adapters.dynamodb.firehose_state import FirehoseState
from albums_core.bootstrap import firehose
from albums_core.bootstrap.firehose import FirehoseWiring
from albums_core.domain.firehose_events import Event, Skipped
from albums_core.domain.models import Artist
from albums_core.services.firehose.consumer import Consumer, ConsumerConfig
from tests.integration.factory import make_album, make_artist
from tests.integration.test_firehose_apply import TRUSTED, Recorder, create, like
from tests.integration.test_firehose_apply import commit as make_commit

FILTERED_PER_BATCH = 9
# DynamoDB calls per applied op of the sparse run, all included (lease, revs, reads, writes).
# Before: a checkpoint and a rev write per batch, the artist's tracks, albums and orphans read
# again before each track created: about 6 per op.
# (3.0 with the checkpoints by time and the revs held; 2.25 with track ids reserved ahead.)
CALLS_PER_OP = 2.25


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Script:
    """A source replaying its batches after the cursor it is started from, one a take (each take
    moves the clock 0.1 s)."""

    def __init__(self, batches: list[list[Event]], clock: Clock) -> None:
        self.batches = batches
        self.clock = clock
        self.counts: Counter[str] = Counter({"connects": 1})
        self.cursor: int | None = None
        self.taken = 0

    def __call__(self, url: str, cursor: int | None) -> Script:
        self.cursor = cursor
        self.pending = [kept for batch in self.batches if (kept := [e for e in batch if (e.seq or 0) > (cursor or 0)])]
        return self

    def wait_connected(self, timeout: float) -> bool:
        return True

    def start(self) -> None:
        pass

    def take(self, limit: int, wait: float) -> list[Event]:
        self.clock.now += 0.1
        if not self.pending:
            return []
        self.taken += 1
        return self.pending.pop(0)

    def stop(self, timeout: float = 3.0) -> None:
        pass

    @property
    def done(self) -> bool:
        return not self.pending


@contextmanager
def dynamodb_calls(client: Any) -> Iterator[Counter[str]]:
    calls: Counter[str] = Counter()
    unique = f"sparse-{uuid.uuid4().hex}"

    def count(model: Any, **_: Any) -> None:
        calls[model.name] += 1

    client.meta.events.register("before-call.dynamodb", count, unique_id=unique)
    try:
        yield calls
    finally:
        client.meta.events.unregister("before-call.dynamodb", count, unique_id=unique)


_seqs = itertools.count(1)


def sparse_batches(artists: list[Artist], fan: str, creates: int, likes: int) -> tuple[list[list[Event]], list[str]]:
    """Batches of FILTERED_PER_BATCH filtered frames and one commit of ours: `creates` track
    creates over the artists, then `likes` likes of them by `fan`. Returns the track rkeys too."""
    batches: list[list[Event]] = []
    rkeys: list[str] = []
    for i in range(creates + likes):
        frames: list[Event] = [Skipped("filtered", next(_seqs)) for _ in range(FILTERED_PER_BATCH)]
        artist = artists[i % len(artists)]
        if i < creates:
            rkeys.append(f"s{uuid.uuid4().hex[:10]}")
            ours = make_commit(artist.did, create(rkeys[-1], f"Sparse {i}"))
        else:
            owner = artists[(i - creates) % creates % len(artists)]
            target = rkeys[(i - creates) % creates]
            track = _pending_track(owner.did, target)
            ours = make_commit(fan, like(f"l{uuid.uuid4().hex[:10]}", track))
        ours = type(ours)(next(_seqs), ours.repo, ours.rev, ours.time, ours.ops)
        batches.append([*frames, ours])
    return batches, rkeys


def _pending_track(did: str, rkey: str) -> Any:
    """Enough of a track for a like's subject (its URI and CID as the create gave them)."""

    class Subject:
        record_uri = f"at://{did}/fm.plyr.track/{rkey}"
        record_cid = f"bafy{rkey}"

    return Subject()


def make_consumer(writer: CatalogueWriter, script: Script, clock: Clock, **config: Any) -> tuple[Consumer, Recorder]:
    recorder = Recorder()
    wired = FirehoseWiring.on(writer)
    applier = firehose.ingest(wired, index=recorder, verifier=TRUSTED, defer_revs=True)
    relay = f"ws://sparse-{uuid.uuid4().hex[:8]}.test"
    consumer = firehose.consumer(
        ConsumerConfig(relay_url=relay, metrics_every_seconds=1e9, **config),
        wired,
        applier=applier,
        source_factory=script,
    )
    consumer.clock = clock
    return consumer, recorder


def run_until_done(consumer: Consumer, script: Script) -> Any:
    return consumer.run(lambda: 10**9, should_stop=lambda: script.done and script.taken > 0)


@pytest.fixture
def world(repo: CatalogueRepository) -> tuple[CatalogueWriter, list[Artist], str]:
    writer = CatalogueWriter(repo.table, repo.client)
    tag = uuid.uuid4().hex[:6]
    artists = [make_artist(repo, f"sparse{tag}{i}.test", pds_url="http://127.0.0.1:9") for i in range(2)]
    return writer, artists, f"did:plc:fan{tag}"


def test_sparse_batches_cost_few_dynamodb_calls_per_applied_op(
    world: tuple[CatalogueWriter, list[Artist], str],
) -> None:
    writer, artists, fan = world
    clock = Clock()
    batches, rkeys = sparse_batches(artists, fan, creates=10, likes=10)
    script = Script(batches, clock)
    consumer, recorder = make_consumer(writer, script, clock)
    with dynamodb_calls(writer.client) as calls:
        report = run_until_done(consumer, script)
    assert report.status == "ok" and recorder.runs == []
    assert report.counts["applied"] == 20 and report.counts["skipped_filtered"] == 20 * FILTERED_PER_BATCH
    total = sum(calls.values())
    assert total <= CALLS_PER_OP * 20, f"{total} calls for 20 applied ops: {dict(calls)}"
    lease = FirehoseState.on(writer).leases.read_lease(consumer.config.source_id)
    assert lease is not None and lease["cursor"] == batches[-1][-1].seq
    repos = FirehoseState.on(writer).repos
    assert all(repos.repo_state(did).get("rev") for did in (artists[0].did, artists[1].did, fan))


def test_likes_of_album_tracks_drop_their_current_page_once_a_batch(
    repo: CatalogueRepository, world: tuple[CatalogueWriter, list[Artist], str]
) -> None:
    writer, artists, fan = world
    album, tracks = make_album(repo, artists[0], "Sparse Album", tracks=3)
    batches: list[list[Event]] = []
    for i in range(12):
        ours = make_commit(f"{fan}x{i}", like(f"a{uuid.uuid4().hex[:10]}", tracks[i % 3]))
        ours = type(ours)(next(_seqs), ours.repo, ours.rev, ours.time, ours.ops)
        batches.append([Skipped("filtered", next(_seqs)), ours])
    clock = Clock()
    script = Script(batches, clock)
    consumer, _ = make_consumer(writer, script, clock)
    with dynamodb_calls(writer.client) as calls:
        report = run_until_done(consumer, script)
    assert report.counts["likes_applied"] == 12
    assert [t.like_count for t in writer.artist_tracks(artists[0].did)] == [4, 4, 4]
    # The artist, each fan's rev and the lease read once each; the album's page dropped once a
    # batch under its slug as it is now (a held slug may be a renamed one's): the album read, in
    # one BatchGetItem per batch, the handle the one held of its artist (no artist read); its
    # tombstone with the batch's others, in one BatchWriteItem.
    assert calls["GetItem"] <= 12 + 3 and calls["Query"] <= 3, dict(calls)
    assert calls["BatchGetItem"] <= 12, dict(calls)
    assert calls["BatchWriteItem"] == 12 and not calls["PutItem"], dict(calls)


class Abandoned(BaseException):
    """The container is gone (a crash, a timeout): nothing after this point runs."""


class CrashingLeases:
    """The lease adapter, abandoning the run at its first checkpoint once armed (its revs are
    written by then: the consumer writes them just before)."""

    def __init__(self, leases: Any, armed: Any) -> None:
        self.leases = leases
        self.armed = armed

    def __getattr__(self, name: str) -> Any:
        return getattr(self.leases, name)

    def checkpoint(self, *args: Any) -> bool:
        if self.armed():
            raise Abandoned()
        return bool(self.leases.checkpoint(*args))


class CrashingRevs:
    """The ingestion, abandoning the run before it writes its revs once armed."""

    def __init__(self, ingest: Any, armed: Any) -> None:
        self.ingest = ingest
        self.armed = armed

    def __getattr__(self, name: str) -> Any:
        return getattr(self.ingest, name)

    def flush_revs(self) -> None:
        if self.armed():
            raise Abandoned()
        self.ingest.flush_revs()


@pytest.mark.parametrize("where", ["between the revs and the checkpoint", "before the revs"])
def test_a_run_abandoned_before_its_checkpoint_is_resumed_without_applying_anything_twice(
    world: tuple[CatalogueWriter, list[Artist], str], where: str
) -> None:
    writer, artists, fan = world
    clock = Clock()
    batches, rkeys = sparse_batches(artists, fan, creates=6, likes=6)
    script = Script(batches, clock)
    # Checkpoints every 0.5 s of the injected clock: the first after 5 batches, then the crash
    # at the next one (every batch after the first checkpoint is applied, not checkpointed).
    consumer, _ = make_consumer(writer, script, clock, checkpoint_seconds=0.45)
    leases = consumer.leases
    first = {"done": False}

    def armed() -> bool:
        if not first["done"]:
            first["done"] = True
            return False
        return True

    if where == "before the revs":
        consumer.ingest = CrashingRevs(consumer.ingest, armed)
    else:
        consumer.leases = CrashingLeases(leases, armed)  # type: ignore[assignment]
    with pytest.raises(Abandoned):
        run_until_done(consumer, script)
    checkpoint = leases.read_lease(consumer.config.source_id)
    assert checkpoint is not None
    applied_before = script.taken
    assert 0 < checkpoint["cursor"] < batches[applied_before - 1][-1].seq  # applied, not checkpointed
    # The crashed run's lease lapses (released here instead of waiting for it).
    leases.release(consumer.config.source_id, consumer.holder)

    # A new container resumes from the checkpoint: the batches after it are played again.
    again = Script(batches, clock)
    resumed, _ = make_consumer(writer, again, clock)
    resumed.config = consumer.config  # the same relay: its checkpoint
    report = run_until_done(resumed, again)
    assert report.status == "ok" and again.cursor == checkpoint["cursor"]
    replayed = applied_before - sum(1 for b in batches if b[-1].seq <= checkpoint["cursor"])
    assert replayed > 0
    if where == "between the revs and the checkpoint":
        # The revs were written: every replayed commit is skipped without any work.
        assert report.counts["skipped_replayed"] == replayed
        assert report.counts["applied"] == len(batches) - applied_before
    else:
        # Applied again, changing nothing: the track is held already, each like is known.
        assert report.counts["tracks_created"] == 0 and report.counts["skipped_replayed"] == 0
        assert report.counts["likes_applied"] == len(batches) - applied_before

    for artist in artists:
        tracks = writer.artist_tracks(artist.did)
        uris = [t.record_uri for t in tracks]
        assert len(uris) == len(set(uris)) == 3  # every track once
        assert all(t.like_count == 1 for t in tracks), {t.record_uri: t.like_count for t in tracks}
    lease = leases.read_lease(consumer.config.source_id)
    assert lease is not None and lease["cursor"] == batches[-1][-1].seq

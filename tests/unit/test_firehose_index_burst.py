"""A batch's indexings (album lists, here) run several at once, each a different repository's:
a burst of lists one after another was most of the consumer's lag on the whole network's
stream (bench section 9). What each changed is still counted once, in order, and a PDS failure
of one leaves only its repository's rev unrecorded."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from albums_core.domain.firehose_events import TRACK
from albums_core.domain.models import Artist
from albums_core.domain.read_budget import ReadBudget
from albums_core.domain.upstream import PdsUnavailable
from albums_core.services.firehose import together
from albums_core.services.firehose.indexing import INDEX_WORKERS
from albums_core.services.firehose.planning import BatchReport, RepoWork
from tests.fakes.firehose import FakeIndexer
from tests.unit.firehose_world import World, commit, list_op

# A hang limit only: the indexings meet at the barrier at once, or never when run one by one.
HANG_SECONDS = 60.0


class MeetingIndexer(FakeIndexer):
    """Each indexing waits until `parties` of them are running together."""

    def __init__(self, parties: int, failing: str | None = None) -> None:
        super().__init__()
        self.barrier = threading.Barrier(parties, timeout=HANG_SECONDS)
        self.failing = failing
        self.threads: set[str] = set()

    def index(self, artist: Artist, budget: ReadBudget) -> Any:
        self.threads.add(threading.current_thread().name)
        self.barrier.wait()
        if artist.did == self.failing:
            raise PdsUnavailable("down")
        return super().index(artist, budget)


def test_lists_of_several_repositories_are_indexed_at_once() -> None:
    world = World()
    artists = [world.artist(f"burst{i}") for i in range(INDEX_WORKERS)]
    world.indexer = MeetingIndexer(INDEX_WORKERS, failing=artists[1].did)
    ingest = world.fresh()
    # Lists naming a track not held: only the indexer can tell what they make.
    batch = [commit(a.did, list_op(f"l{i}", f"at://{a.did}/{TRACK}/unheld")) for i, a in enumerate(artists)]
    report = ingest.apply(batch)
    assert len(world.indexer.threads) == INDEX_WORKERS  # each in a thread of its own, together
    assert sorted(world.indexer.runs or []) == sorted(a.did for i, a in enumerate(artists) if i != 1)
    assert report.counts["indexings"] == INDEX_WORKERS - 1 and report.counts["failed_index"] == 1
    assert report.counts["applied"] == INDEX_WORKERS - 1
    # The failed one's rev is not recorded: its commit is applied again when replayed.
    again = world.fresh()
    world.indexer = MeetingIndexer(1)
    again.indexing.indexer = world.indexer
    replay = again.apply(batch)
    assert replay.counts["skipped_replayed"] == INDEX_WORKERS - 1 and world.indexer.runs == [artists[1].did]


class BlockedIndexer(FakeIndexer):
    """Each indexing runs until `release` is set (by a heartbeat, below)."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.started = 0
        self.timed_out = 0
        self.lock = threading.Lock()

    def index(self, artist: Artist, budget: ReadBudget) -> Any:
        with self.lock:
            self.started += 1
        if not self.release.wait(HANG_SECONDS):
            with self.lock:
                self.timed_out += 1
        return super().index(artist, budget)


def test_the_lease_is_renewed_from_the_consumers_thread_while_indexings_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(together, "BEAT_SECONDS", 0.01)  # the waits between heartbeats
    world = World()
    artists = [world.artist(f"slow{i}") for i in range(INDEX_WORKERS)]
    world.indexer = indexer = BlockedIndexer()
    ingest = world.fresh()
    beats_while_running: list[str] = []

    def heartbeat() -> None:
        if indexer.started == INDEX_WORKERS and not indexer.release.is_set():
            beats_while_running.append(threading.current_thread().name)
            if len(beats_while_running) == 3:
                indexer.release.set()

    report = ingest.apply(
        [commit(a.did, list_op(f"l{i}", f"at://{a.did}/{TRACK}/unheld")) for i, a in enumerate(artists)],
        heartbeat=heartbeat,
    )
    assert indexer.timed_out == 0  # released by the heartbeats, not by the hang limit
    assert beats_while_running == [threading.current_thread().name] * 3
    assert report.counts["indexings"] == INDEX_WORKERS


class BuggyIndexer(FakeIndexer):
    """One repository's indexing fails with what is no PDS failure (a bug, a store's error)."""

    def __init__(self, failing: str) -> None:
        super().__init__()
        self.failing = failing

    def index(self, artist: Artist, budget: ReadBudget) -> Any:
        if artist.did == self.failing:
            raise RuntimeError("not a PDS failure")
        return super().index(artist, budget)


def test_an_unexpected_failure_of_one_indexing_is_raised_once_the_others_are_settled() -> None:
    world = World()
    artists = [world.artist(f"buggy{i}") for i in range(3)]
    world.indexer = BuggyIndexer(artists[0].did)
    ingest = world.fresh()
    report = BatchReport()
    for i, artist in enumerate(artists):
        entry = RepoWork(artist.did, index=True, ops=[list_op(f"l{i}")])
        ingest.indexing.index(entry, artist, report, ingest.aside.budget())
    with pytest.raises(RuntimeError, match="not a PDS failure"):
        ingest.indexing.run(lambda: None)
    # The batch fails as it did when indexings ran one by one, but the others were settled.
    assert report.counts["indexings"] == 2 and report.counts["applied"] == 2

"""The firehose consumer against relays that misbehave (loopback stand-ins, tests/support/relays.py):
one that says our cursor is outdated (#info OutdatedCursor: every artist is re-read), and one
that drops every connection after two seconds while a burst is published on the real local PDS
(the consumer reconnects with its cursor: every track once, every like count exact)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from albums_core.adapters.dynamodb.catalogue import CatalogueWriter
from albums_core.adapters.dynamodb.firehose_gaps import DONE, PENDING, FirehoseGaps
from albums_core.adapters.dynamodb.firehose_state import FirehoseState
from albums_core.adapters.dynamodb.jobs import CleanupJobs
from albums_core.domain.models import Artist
from albums_core.services.firehose_consumer import ConsumerConfig
from albums_core.services.firehose_gap import GapBackfill, job_id
from albums_core.services.indexer import INDEX_JOB
from local_runtime.pds import LocalPds
from tests.integration.test_firehose import Client, Running, eventually, handle
from tests.support.relays import DroppingProxy, ScriptedRelay, info, other_commit


def _artists(n: int) -> list[Artist]:
    repo = CatalogueWriter()
    made = []
    for i in range(n):
        artist = Artist(
            did=f"did:plc:gapartist{i:02d}xxxxxxxxxxxx",
            handle=f"gap{i}.test",
            display_name=f"Gap {i}",
            pds_url="http://127.0.0.1:9",
        )
        repo.put_artist(artist)
        made.append(artist)
    return made


def _index_jobs(did: str) -> list[dict[str, Any]]:
    return [j for j in CleanupJobs().of_artist(did) if j.get("kind") == INDEX_JOB]


@pytest.fixture
def outdated_relay() -> Iterator[ScriptedRelay]:
    """Answers every connection as a relay does when the cursor asked for is older than what it
    keeps: #info OutdatedCursor, then the events it has (here: commits of other collections),
    and, in the same connection, OutdatedCursor once more."""

    def script(cursor: int | None, n: int) -> list[bytes]:
        return [
            info("OutdatedCursor", f"cursor {cursor} is older than the oldest event kept"),
            other_commit(1000 + 10 * n),
            info("OutdatedCursor", "again"),
            other_commit(1001 + 10 * n),
        ]

    relay = ScriptedRelay(script, pause=0.3)  # one batch each
    yield relay
    relay.stop()


def test_an_outdated_cursor_has_every_known_artist_reread_once_and_the_consumer_goes_on(
    aws_env: None, outdated_relay: ScriptedRelay
) -> None:
    artists = _artists(5)
    state, gaps = FirehoseState(), FirehoseGaps()
    source = ConsumerConfig(relay_url=outdated_relay.url).source_id
    assert state.rewind(source, 5)  # the checkpoint the relay no longer has events after

    # Pages of two catalogue items: the re-read goes over several pages, between batches.
    running = Running(outdated_relay.url, gap_page_size=2)
    eventually(lambda: (state.read_lease(source) or {}).get("cursor") == 1011)
    gap = eventually(lambda: (g := gaps.current(source)) is not None and g.status == DONE and g)
    report = running.stop()

    assert outdated_relay.cursors == [5]
    assert gap.cursor == 5 and gap.enqueued == len(artists) and gap.at
    for artist in artists:
        (job,) = _index_jobs(artist.did)  # exactly one, though OutdatedCursor came twice
        assert job["job_id"] == job_id(gap.gap_id, artist.did) and job["status"] == "pending"
    assert report.status == "ok" and report.cursor == 1011
    assert report.counts["info_OutdatedCursor"] == 2
    assert (report.counts["gap_opened"], report.counts["gap_repeated"]) == (1, 1)
    assert report.counts["gap_jobs"] == len(artists) and report.counts["gap_done"] == 1


def test_a_reread_left_unfinished_is_finished_by_the_next_run_without_doubles(
    aws_env: None,
) -> None:
    """A run that saw the gap but ended after one page of artists: the next run (no
    OutdatedCursor of its own) requests the rest, and none of the first page again."""
    artists = _artists(6)
    state = FirehoseState()
    relay = ScriptedRelay(lambda cursor, n: [other_commit(2000 + n)])
    try:
        source = ConsumerConfig(relay_url=relay.url).source_id
        lease = state.acquire(source, "earlier-run", 30)
        assert lease is not None
        earlier = GapBackfill(source, "earlier-run", page_size=3)
        assert earlier.outdated(7)
        assert not earlier.outdated(7)  # the same run: nothing new
        first = 0
        while first == 0:  # a page may hold no artist (pages count the items scanned)
            first += earlier.step()
        assert earlier.pending and first < len(artists)
        state.release(source, "earlier-run")
        left = FirehoseGaps().current(source)
        assert left is not None and left.status == PENDING and left.enqueued == first

        running = Running(relay.url)
        gap = eventually(lambda: (g := FirehoseGaps().current(source)) is not None and g.status == DONE and g)
        report = running.stop()
    finally:
        relay.stop()
    assert gap.gap_id == earlier.run_id and gap.enqueued == len(artists)
    assert report.counts["gap_jobs"] == len(artists) - first and report.counts.get("gap_opened", 0) == 0
    for artist in artists:
        (job,) = _index_jobs(artist.did)
        assert job["job_id"] == job_id(gap.gap_id, artist.did)

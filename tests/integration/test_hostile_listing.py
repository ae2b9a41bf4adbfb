"""A PDS that answers listRecords with endless pages (issue 18, item 1): every read is bounded
by pages, records and bytes and by its caller's budget (checked before each page); a login and a
sync answer within theirs and a job continues from the listing's cursor; past the record cap the
artist is marked; the firehose consumer sets such a repository aside while the others' events are
applied. Budgets run on an injected clock the PDS advances per request: no wall-clock asserts."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest

from albums_core import bootstrap, config
from albums_core.adapters.atproto import xrpc
from albums_core.adapters.atproto.identity import Identity
from albums_core.adapters.atproto.repo_reads import IdentityResolver, RepoReads
from albums_core.adapters.dynamodb import keys
from albums_core.adapters.dynamodb.catalogue import CatalogueRepository, CatalogueWriter
from albums_core.adapters.dynamodb.codec import from_item, to_item
from albums_core.adapters.dynamodb.jobs import CleanupJobs
from albums_core.bootstrap import firehose
from albums_core.bootstrap.firehose import FirehoseWiring
from albums_core.domain.firehose_events import LIKE, LIST, MISSING_BLOCK, TRACK, Commit, RecordOp
from albums_core.domain.read_budget import ReadBudget
from albums_core.services import indexer
from tests.integration.factory import make_artist
from tests.integration.test_firehose_apply import TRUSTED
from tests.integration.test_login_backfill import job_record
from tests.support.hostile_pds import EndlessPds, StepClock

DID = "did:plc:hostilehostilehostile01"
_seqs = itertools.count(1)


@pytest.fixture
def endless() -> Iterator[EndlessPds]:
    server = EndlessPds().start()
    yield server
    server.stop()


@pytest.fixture
def clocked(monkeypatch: pytest.MonkeyPatch, endless: EndlessPds) -> StepClock:
    """The indexer's budgets on a clock the PDS moves by a second per request."""
    clock = StepClock(tick=1.0)
    endless.on_request = clock.advance

    def budget(seconds: float | None = None, calls: int | None = None) -> ReadBudget:
        return ReadBudget(seconds, calls, clock)

    monkeypatch.setattr(indexer, "ReadBudget", budget)
    return clock


def index_jobs(did: str) -> list[dict[str, Any]]:
    return [j for j in CleanupJobs().of_artist(did) if j.get("kind") == indexer.INDEX_JOB]


def test_a_listing_stops_at_its_page_cap_and_goes_on_from_its_cursor(endless: EndlessPds) -> None:
    first = xrpc.list_records(endless.url, DID, TRACK)
    assert (first.stopped, first.complete, first.pages, len(first)) == ("pages", False, 20, 200)
    assert first.cursor == "c20"
    second = xrpc.list_records(endless.url, DID, TRACK, cursor=first.cursor, max_records=35)
    assert (second.stopped, len(second), second.cursor) == ("records", 35, "c24")
    assert endless.track_pages()[20:] == ["c20", "c21", "c22", "c23"]
    assert len(endless.asked) == 24


def test_the_callers_deadline_and_calls_are_checked_before_each_page(endless: EndlessPds) -> None:
    clock = StepClock(tick=1.0)
    endless.on_request = clock.advance
    by_time = xrpc.list_records(endless.url, DID, TRACK, budget=ReadBudget(3.5, None, clock))
    assert (by_time.stopped, by_time.pages, by_time.cursor) == ("deadline", 4, "c4")
    by_calls = xrpc.list_records(endless.url, DID, TRACK, budget=ReadBudget(None, 3, clock))
    assert (by_calls.stopped, by_calls.pages) == ("calls", 3)
    assert len(endless.asked) == 7


def test_a_page_cut_off_by_the_callers_deadline_stops_the_listing_there(
    endless: EndlessPds, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The third page's timeout is what is left of the budget; the PDS answers later than that:
    # the budget ran out, not the PDS (a login then leaves the rest to its job, issue #24).
    clock = StepClock(tick=1.0)
    endless.on_request = clock.advance
    sent, timeouts = xrpc.send, []

    def late_third_page(url: str, method: str, **kw: Any) -> Any:
        if len(endless.asked) == 2:
            timeouts.append(kw["timeout"])
            clock.advance(kw["timeout"])
            raise xrpc.PdsUnavailable("TimeoutError")
        return sent(url, method, **kw)

    monkeypatch.setattr(xrpc, "send", late_third_page)
    out = xrpc.list_records(endless.url, DID, TRACK, budget=ReadBudget(3.5, None, clock))
    assert (out.stopped, out.pages, out.cursor, len(out)) == ("deadline", 2, "c2", 20)
    assert timeouts == [1.5]
    # A PDS that fails while the caller still has time is unavailable, as before.
    with pytest.raises(xrpc.PdsUnavailable):
        xrpc.list_records(endless.url, DID, TRACK, budget=ReadBudget(60, None, clock))


def test_a_page_of_more_records_than_asked_and_an_endless_response_are_cut(
    endless: EndlessPds, settings_env: pytest.MonkeyPatch
) -> None:
    endless.page_size = 250  # asked for 100
    page = xrpc.list_records(endless.url, DID, TRACK, max_pages=1)
    assert len(page) == 100
    settings_env.setenv("PDS_RESPONSE_MAX_BYTES", "4096")
    config.settings.cache_clear()
    with pytest.raises(xrpc.PdsUnavailable):
        xrpc.list_records(endless.url, DID, TRACK, max_pages=1)


def test_a_login_answers_within_its_budget_and_the_job_goes_on_from_the_cursor(
    repo: CatalogueRepository, endless: EndlessPds, clocked: StepClock, settings_env: pytest.MonkeyPatch
) -> None:
    artist = make_artist(repo, "endless.test", pds_url=endless.url)
    settings_env.setenv("LOGIN_INDEX_SECONDS", "5")
    settings_env.setenv("INDEX_JOB_SECONDS", "7")
    config.settings.cache_clear()
    out = bootstrap.indexing().index_at_login(artist)
    # Half its 5 s listing (a page a second: 3 pages), the rest writing what it read.
    assert out["complete"] is False and out["backfill_job"]
    assert endless.track_pages() == [None, "c1", "c2"]
    assert out["tracks_created"] == 30 == len(CatalogueWriter().artist_tracks(artist.did))
    (job,) = index_jobs(artist.did)
    assert job["resume"]["cursors"] == {TRACK: "c3"}

    # The job (the catalogue stream's) reads on from there, and hands the rest to the next.
    assert bootstrap.stream_events().handle(job_record(out["backfill_job"])) == "done"
    assert endless.track_pages()[3:] == ["c3", "c4", "c5", "c6"]
    assert len(CatalogueWriter().artist_tracks(artist.did)) == 70
    (following,) = index_jobs(artist.did)
    assert following["resume"]["cursors"] == {TRACK: "c7"} and following["resume"]["links"] == 2


def test_a_sync_answers_within_its_budget_and_past_the_record_cap_the_artist_is_marked(
    repo: CatalogueRepository, endless: EndlessPds, clocked: StepClock, settings_env: pytest.MonkeyPatch
) -> None:
    artist = make_artist(repo, "endless2.test", pds_url=endless.url)
    settings_env.setenv("SYNC_INDEX_SECONDS", "4")
    settings_env.setenv("INDEX_JOB_SECONDS", "100")
    settings_env.setenv("PDS_LIST_PAGES_PER_CALL", "2")
    settings_env.setenv("PDS_LIST_MAX_RECORDS", "55")
    config.settings.cache_clear()
    out = bootstrap.indexing().sync_for_caller(artist)
    assert out["complete"] is False and out["tracks_created"] == 20
    (job,) = index_jobs(artist.did)
    # Calls of two pages go on within one run, until the cap of 55 records in all.
    assert bootstrap.stream_events().handle(job_record(job["job_id"])) == "done"
    assert endless.track_pages() == [None, "c1", "c2", "c3", "c4", "c5"]
    assert len(CatalogueWriter().artist_tracks(artist.did)) == 55
    assert index_jobs(artist.did) == []  # nothing left to go on with
    item = from_item(repo.client.get_item(TableName=repo.table, Key=to_item(keys.artist(artist.did)))["Item"])
    assert item["over_record_cap"] == [TRACK]


def commit(repo: str, *ops: RecordOp) -> Commit:
    n = next(_seqs)
    return Commit(n, repo, f"3m{n:011d}", "2026-12-01T00:00:00Z", tuple(ops))


def track_op(rkey: str) -> RecordOp:
    value = {"$type": TRACK, "title": rkey, "artist": "A", "fileType": "mp3", "createdAt": "2026-11-01T00:00:00Z"}
    return RecordOp("create", TRACK, rkey, f"bafy{rkey}", value)


def list_op(rkey: str) -> RecordOp:
    # It names a track the consumer does not hold: the commit alone cannot decide such a list, so
    # the repository goes to the indexer (an empty list would be applied from its commit).
    items = [{"subject": {"uri": "at://did:plc:nobody/fm.plyr.track/unheld", "cid": "bafyz"}}]
    value = {"$type": LIST, "name": "L", "listType": "album", "items": items, "createdAt": "2026-11-01T00:00:00Z"}
    return RecordOp("create", LIST, rkey, f"bafy{rkey}", value)


def test_the_consumer_sets_a_repository_over_its_budget_aside_and_applies_the_others(
    repo: CatalogueRepository, endless: EndlessPds, settings_env: pytest.MonkeyPatch
) -> None:
    writer = CatalogueWriter(repo.table, repo.client)
    hostile = make_artist(repo, "endless3.test", pds_url=endless.url)
    calm = make_artist(repo, "calm.test", pds_url="http://127.0.0.1:9")
    clock = StepClock(tick=0.1)
    endless.on_request = clock.advance
    settings_env.setenv("FIREHOSE_REPO_CALLS", "3")
    config.settings.cache_clear()
    ingest = firehose.ingest(FirehoseWiring.on(writer), clock=clock, verifier=TRUSTED)  # commits built by hand

    # A list record has the hostile repository indexed: three PDS calls, then it is set aside.
    report = ingest.apply([commit(hostile.did, list_op("l1")), commit(calm.did, track_op("a"), track_op("b"))])
    assert report.counts["repos_set_aside"] == 1 and report.counts["reindex_jobs"] == 1
    assert len(endless.asked) == 3
    assert {t.title for t in writer.artist_tracks(calm.did)} == {"a", "b"}
    (job,) = index_jobs(hostile.did)
    assert job["resume"]["cursors"] == {TRACK: "c3"}

    # While aside its tracks and lists wait for the job: no PDS call; the others flow.
    again = ingest.apply([commit(hostile.did, list_op("l2")), commit(calm.did, track_op("c"))])
    assert again.counts["set_aside_events"] == 1 and len(endless.asked) == 3
    assert {t.title for t in writer.artist_tracks(calm.did)} == {"a", "b", "c"}

    # A minute later the events that waited get a job of their own, and it is tried again:
    # over its budget again, it is set aside for twice as long.
    clock.advance(61)
    later = ingest.apply([commit(hostile.did, list_op("l3"))])
    assert later.counts["reindex_jobs"] == 2 and later.counts["repos_set_aside"] == 1
    assert len(endless.asked) == 6
    clock.advance(61)
    assert ingest.apply([commit(hostile.did, list_op("l4"))]).counts["set_aside_events"] == 1
    clock.advance(60)
    assert ingest.apply([commit(hostile.did, list_op("l5"))]).counts["repos_set_aside"] == 1


def test_like_reads_from_a_slow_likers_pds_stop_at_the_repositorys_budget(
    repo: CatalogueRepository, settings_env: pytest.MonkeyPatch
) -> None:
    writer = CatalogueWriter(repo.table, repo.client)
    clock = StepClock(tick=0.0)
    asked: list[str] = []

    def slow_get_record(pds_url: str, did: str, collection: str, rkey: str) -> None:
        asked.append(rkey)
        clock.advance(0.9)  # each read just under the per-request timeout's worth of waiting
        return None

    settings_env.setenv("FIREHOSE_REPO_SECONDS", "2")
    settings_env.setenv("FIREHOSE_REPO_CALLS", "20")
    config.settings.cache_clear()
    liker = "did:plc:slowliker0000000000000"
    wired = FirehoseWiring.on(
        writer,
        RepoReads(get_record=slow_get_record),
        IdentityResolver(lambda did: Identity(did, "slow.test", "http://127.0.0.1:9")),
    )
    ingest = firehose.ingest(wired, clock=clock, verifier=TRUSTED)
    unread = [RecordOp("create", LIKE, f"like{n}", f"bafylike{n}", None, MISSING_BLOCK) for n in range(30)]
    report = ingest.apply([commit(liker, *unread)])
    # Three reads fit in two seconds; the other 27 wait (the rev is not recorded for them).
    assert asked == ["like0", "like1", "like2"]
    assert report.counts["like_reads_over_budget"] == 27
    assert report.counts["skipped_like_gone"] == 3

"""The firehose consumer against relays that misbehave (loopback stand-ins, tests/support/relays.py):
one that says our cursor is outdated (#info OutdatedCursor: every artist is re-read), and one
that drops every connection after two seconds while a burst is published on the real local PDS
(the consumer reconnects with its cursor: every track once, every like count exact)."""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import libipld
import pytest

from albums_core import bootstrap
from albums_core.adapters.atproto.firehose import FirehoseSource
from albums_core.adapters.dynamodb.catalogue import CatalogueWriter
from albums_core.adapters.dynamodb.firehose_gaps import DONE, PENDING, FirehoseGaps
from albums_core.adapters.dynamodb.firehose_state import FirehoseState
from albums_core.adapters.dynamodb.jobs import CleanupJobs
from albums_core.bootstrap import firehose
from albums_core.bootstrap.firehose import FirehoseWiring
from albums_core.domain.models import Artist
from albums_core.services.firehose.consumer import ConsumerConfig
from albums_core.services.firehose.gap import job_id
from albums_core.services.indexer import INDEX_JOB
from local_runtime.pds import LocalPds
from tests.integration.test_firehose import TRACK, Client, Running, eventually, handle
from tests.support.firehose_frames import DEFAULT_SIGNER, Signer
from tests.support.plc import OwnedAccount, create_owned_account
from tests.support.relays import DroppingProxy, ScriptedRelay, commit, info, other_commit


def relayed_account(pds: LocalPds, prefix: str, signer: Signer = DEFAULT_SIGNER) -> tuple[Client, OwnedAccount]:
    """An account of the local PDS whose DID document names `signer` as its repository's key (a
    PLC update signed with our rotation key): the scripted relays' commits of it verify."""
    password = "pw-" + uuid.uuid4().hex[:12]
    owned = create_owned_account(pds, handle(prefix), password)
    owned.sign_with(signer.did_key)
    return Client(pds, owned.handle, (owned.did, password)), owned


def relayed_client(pds: LocalPds, prefix: str) -> Client:
    return relayed_account(pds, prefix)[0]


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
    state, gaps = FirehoseState.on().leases, FirehoseGaps()
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
    state = FirehoseState.on().leases
    relay = ScriptedRelay(lambda cursor, n: [other_commit(2000 + n)])
    try:
        source = ConsumerConfig(relay_url=relay.url).source_id
        lease = state.acquire(source, "earlier-run", 30)
        assert lease is not None
        earlier = firehose.gap_rereads(FirehoseWiring.on(CatalogueWriter()))(source, "earlier-run", 3)
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


# ---- a relay that drops every connection after two seconds -----------------------------------


def _burst(artist: Client, liker: Client, n: int, unliked: int) -> None:
    """`n` tracks by `artist`, each liked by `liker` as soon as it exists (two clients writing at
    once), then the first `unliked` likes deleted."""
    made: list[tuple[str, str]] = []
    likes: list[str] = []
    done = threading.Event()

    def like_them() -> None:
        while len(likes) < n:
            if len(likes) < len(made):
                likes.append(liker.like(made[len(likes)]))
            elif done.is_set() and len(likes) >= len(made):
                return
            else:
                time.sleep(0.01)

    thread = threading.Thread(target=like_them, daemon=True)
    thread.start()
    for i in range(n):
        made.append(artist.track(f"Burst {i:03d}"))
    done.set()
    thread.join(120)
    assert len(likes) == n
    for uri in likes[:unliked]:
        liker.delete(uri)


@pytest.mark.parametrize("clean", [True, False], ids=["clean-close", "cut"])
def test_a_relay_dropping_every_connection_loses_nothing_and_doubles_nothing(pds_env: LocalPds, clean: bool) -> None:
    pds_relay = pds_env.pds_url.replace("http://", "ws://")
    state = FirehoseState.on().leases
    nia, oz = Client(pds_env, handle("nia")), Client(pds_env, handle("oz"))
    # Where the PDS's stream stands now (the consumer then starts there, not live: a connection
    # dropped before its first event must not skip what was published meanwhile).
    warm = Running(pds_relay)
    nia.track("warm-up")
    start = eventually(lambda: (state.read_lease(ConsumerConfig(relay_url=pds_relay).source_id) or {}).get("cursor"))
    warm.stop()

    proxy = DroppingProxy(pds_relay, life=2.0, clean=clean)
    try:
        running = Running(proxy.url, start_cursor=start)
        n, unliked = 150, 10
        _burst(nia, oz, n, unliked)

        def tracks() -> list[Any]:
            found = CatalogueWriter().artist_tracks(nia.did)
            return found if len(found) >= n + 1 else []

        eventually(tracks, timeout=45)
        expected = [0] * unliked + [1] * (n - unliked)

        def like_counts() -> list[int]:
            burst = [t for t in CatalogueWriter().artist_tracks(nia.did) if t.title != "warm-up"]
            return [t.like_count for t in sorted(burst, key=lambda t: t.title)]

        eventually(lambda: like_counts() == expected, timeout=45)
        running.settle(quiet=1.0)
        report = running.stop()
    finally:
        proxy.stop()
    reconnects = report.counts["source_connects"] - 1
    found = CatalogueWriter().artist_tracks(nia.did)
    titles = sorted(t.title for t in found)
    assert titles == sorted(["warm-up"] + [f"Burst {i:03d}" for i in range(n)])  # each once
    assert like_counts() == expected
    assert report.status == "ok"
    assert reconnects > 1 and proxy.connections == report.counts["source_connects"]
    # Each connection resumed where the last frame received left off, never before it.
    assert proxy.cursors[0] == start and proxy.cursors == sorted(proxy.cursors)
    assert len(set(proxy.cursors)) > 1
    # A clean close ends the SDK's client (the source connects again); after a cut the SDK's
    # client reconnects itself (the one clean close is the consumer's own, at its stop).
    closed = report.counts["source_closed"]
    assert closed >= reconnects if clean else closed <= 1


# ---- how soon the source connects again ------------------------------------------------------


def _connections_within(relay: ScriptedRelay, seconds: float) -> FirehoseSource:
    source = FirehoseSource(relay.url, None).start()
    try:
        time.sleep(seconds)
    finally:
        source.stop()
    return source


def test_after_a_working_connection_closes_cleanly_the_source_connects_again_at_once() -> None:
    """Each connection delivers a frame and is closed (cleanly) 0.3 s later: the next one opens at
    once, from the cursor of the last frame received."""
    relay = ScriptedRelay(lambda cursor, n: [other_commit(100 + n)], close_after=0.3)
    try:
        source = _connections_within(relay, 3.0)
    finally:
        relay.stop()
    opened = relay.opened
    assert len(opened) >= 6, opened
    assert max(b - a for a, b in itertools.pairwise(opened)) < 0.3 + 0.25
    assert relay.cursors[:4] == [None, 101, 102, 103]
    assert source.counts["connects"] == len(opened) and source.counts["frames_filtered"] >= len(opened) - 1


def test_a_relay_that_closes_every_connection_at_once_is_backed_off_from() -> None:
    """Accepted and closed before any frame, again and again: a failing relay, not a busy one. The
    waits between connections grow (0.5, 1, 2 s...) instead of hammering it."""
    relay = ScriptedRelay(lambda cursor, n: [], close_after=0.0)
    try:
        _connections_within(relay, 4.0)
    finally:
        relay.stop()
    opened = relay.opened
    waits = [b - a for a, b in itertools.pairwise(opened)]
    assert 3 <= len(opened) <= 4, waits
    assert waits == sorted(waits) and waits[-1] > 1.5 * waits[0], waits


# ---- frames that do not decode, a commit without its record's block ---------------------------


def test_undecodable_frames_are_passed_over_and_a_commit_without_its_block_reads_the_repository(
    pds_env: LocalPds,
) -> None:
    """A relay whose stream holds, between two events, frames that are not DAG-CBOR or not a
    frame, then a commit whose CAR lacks the record's block (the record is on the PDS): each
    broken frame is counted and passed over (a reconnect would get it again: the consumer would
    never get past it), and the record is read from the repository."""
    pat = relayed_client(pds_env, "pat")
    uri, cid = pat.track("Blockless")
    rkey = uri.rsplit("/", 1)[1]
    stream: list[tuple[float, bytes | str]] = [
        (500, other_commit(500)),
        (500.1, b"\xff\xfe not DAG-CBOR"),
        (500.2, bytes(libipld.encode_dag_cbor({"op": 1, "t": "#commit"}))),  # a header, no body
        (500.3, "a text frame"),
        (501, commit(501, pat.did, "3n3mo53iplk2x", [("create", f"{TRACK}/{rkey}", cid, None)])),
        (502, other_commit(502)),
    ]
    # As a relay replays: what comes after the cursor asked for.
    relay = ScriptedRelay(lambda cursor, n: [data for at, data in stream if cursor is None or at > cursor])
    try:
        source = ConsumerConfig(relay_url=relay.url).source_id
        running = Running(relay.url)
        eventually(lambda: (FirehoseState.on().leases.read_lease(source) or {}).get("cursor") == 502)
        report = running.stop()
    finally:
        relay.stop()
    (track,) = CatalogueWriter().artist_tracks(pat.did)
    assert (track.title, track.record_uri, track.record_cid) == ("Blockless", uri, cid)
    assert report.status == "ok" and relay.cursors == [None]  # one connection: nothing to retry
    assert report.counts["source_undecodable"] == 2 and report.counts["skipped_invalid"] == 1


def test_a_like_whose_block_is_missing_is_read_from_the_likers_repository(pds_env: LocalPds) -> None:
    ray, sue = relayed_client(pds_env, "ray"), relayed_client(pds_env, "sue")
    track_uri, track_cid = ray.track("Liked without a block")
    like_uri = sue.like((track_uri, track_cid))
    like = sue.session.authed("GET", "com.atproto.repo.getRecord", params=_at(like_uri))
    track_record = {"$type": TRACK, "title": "Liked without a block", "artist": ray.handle, "fileType": "mp3"}
    stream: list[tuple[float, bytes | str]] = [
        (600, commit(600, ray.did, "3n3mo53iplk2x", [("create", _path(track_uri), track_cid, track_record)])),
        (601, commit(601, sue.did, "3n3mo53iplk2x", [("create", _path(like_uri), str(like["cid"]), None)])),
        (602, other_commit(602)),
    ]
    relay = ScriptedRelay(lambda cursor, n: [data for at, data in stream if cursor is None or at > cursor])
    try:
        source = ConsumerConfig(relay_url=relay.url).source_id
        running = Running(relay.url)
        eventually(lambda: (FirehoseState.on().leases.read_lease(source) or {}).get("cursor") == 602)
        running.settle(quiet=0.5)
        running.stop()
    finally:
        relay.stop()
    (track,) = CatalogueWriter().artist_tracks(ray.did)
    assert track.like_count == 1


def _path(uri: str) -> str:
    return "/".join(uri.split("/")[-2:])


def _at(uri: str) -> dict[str, str]:
    repo, collection, rkey = uri.removeprefix("at://").split("/")
    return {"repo": repo, "collection": collection, "rkey": rkey}


def test_likes_given_and_withdrawn_in_a_gap_are_read_from_the_likers_pds(pds_env: LocalPds) -> None:
    """The consumer counted a like; then, while it was away past what the relay keeps, the liker
    withdrew it and liked another track. The gap's job for the liker, run from its stream record
    as the catalogue stream runs it, reads the liker's real PDS: the counts are what it holds."""
    from albums_core.adapters.dynamodb.codec import to_item
    from albums_core.services.firehose.like_reread import request_like_reread

    ann, bo = Client(pds_env, handle("ann")), Client(pds_env, handle("bo"))
    with_consumer = Running(pds_env.pds_url.replace("http://", "ws://"))
    first, second = ann.track("Before the gap"), ann.track("In the gap")
    early = bo.like(first)
    eventually(lambda: [t.like_count for t in CatalogueWriter().artist_tracks(ann.did)] == [1, 0])
    with_consumer.settle(quiet=0.5)
    with_consumer.stop()

    bo.delete(early)  # the gap: nobody follows the stream now
    bo.like(second)
    writer = CatalogueWriter()
    job = request_like_reread(bo.did, CleanupJobs(writer), job_id="gap-test-likes")
    assert job is not None
    item = CleanupJobs(writer).get(job)
    assert item is not None
    record = {
        "eventName": "INSERT",
        "dynamodb": {"Keys": to_item({"pk": f"JOB#{job}", "sk": "JOB"}), "NewImage": to_item(item)},
    }
    assert bootstrap.stream_events().handle(record) == "done"
    counts = {t.title: t.like_count for t in writer.artist_tracks(ann.did)}
    assert counts == {"Before the gap": 0, "In the gap": 1}

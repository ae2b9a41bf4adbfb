"""AlbumAdmin's orchestration on in-memory fakes of its ports: the order of the writes, the
502 that leaves a state the same request finishes, the album's lease, slug clashes,
ownership, and each mutation once. The same behaviour against the real PDS and moto is in
tests/integration/test_write_side.py; these run in milliseconds."""

from __future__ import annotations

import hashlib
import threading
import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import libipld
import pytest

from albums_core.adapters.atproto.gateway import AtprotoWriter
from albums_core.adapters.atproto.xrpc import SessionRevoked, Tokens
from albums_core.adapters.dynamodb.page_cache import album_cache_key
from albums_core.adapters.dynamodb.session_store import Session
from albums_core.domain import views
from albums_core.domain.errors import (
    AlbumNotFound,
    BadRequest,
    Conflict,
    Forbidden,
    InvalidSession,
    NotFound,
    ServiceError,
    TrackTaken,
    Unprocessable,
    UpstreamFailure,
)
from albums_core.domain.models import Artist, Track
from albums_core.domain.records import LIST, TRACK, new_track
from albums_core.services import cleanup
from albums_core.services.album_admin import AlbumAdmin
from albums_core.services.auth import Caller
from tests.fakes import FakeCatalogue, FakeDeletionJobs, FakePageCache, FakePds, Journal
from tests.fakes.pds import refused, unavailable

# The production PDS writer: its record edits run on the fake PDS each test gives.
WRITER = AtprotoWriter()
ALICE = "did:plc:alicealicealicealice01"
BOB = "did:plc:bobbobbobbobbobbobbob01"


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


class World:
    """One catalogue and cache, and a PDS per artist, all writing to one journal."""

    def __init__(self) -> None:
        self.journal = Journal()
        self.clock = Clock()
        self.catalogue = FakeCatalogue(self.journal, clock=self.clock)
        self.cache = FakePageCache(self.journal, clock=self.clock)
        self.jobs = FakeDeletionJobs(self.catalogue)
        self.pds: dict[str, FakePds] = {}

    def admin(self, did: str = ALICE, handle: str | None = None) -> AlbumAdmin:
        handle = handle or f"{did.rsplit(':', 1)[1][:5]}.test"
        artist = Artist(did=did, handle=handle, display_name=handle, pds_url="https://pds.example")
        session = Session("s" * 32, did, handle, "https://pds.example", Tokens("a", "r"), 2**31)
        pds = self.pds.setdefault(did, FakePds(did, self.journal))
        return AlbumAdmin(
            Caller(session, artist), repo=self.catalogue, pds=pds, cache=self.cache, jobs=self.jobs, writer=WRITER
        )

    def list_items(self, meta: dict[str, Any], did: str = ALICE) -> list[dict[str, Any]]:
        value = self.pds[did].value(meta["list_uri"])
        assert value is not None
        return list(value["items"])

    def listed(self, meta: dict[str, Any], did: str = ALICE) -> list[str]:
        return [i["subject"]["uri"] for i in self.list_items(meta, did)]

    def album_tracks(self, album_id: str) -> list[Any]:
        loaded = self.catalogue.load_album(album_id)
        return loaded[1] if loaded else []


@pytest.fixture
def world() -> World:
    return World()


def blob_cid(i: int) -> str:
    """The CID of an audio blob (raw codec, sha2-256): a link a PDS accepts."""
    return libipld.encode_cid(b"\x01\x55\x12\x20" + hashlib.sha256(f"audio {i}".encode()).digest())


def album_with_tracks(world: World, title: str, count: int) -> tuple[dict[str, Any], list[str]]:
    admin = world.admin()
    _, meta = admin.create(title)
    uris = [
        world.pds[ALICE].publish_track(f"{title} {i}", audioBlob={"ref": {"$link": blob_cid(i)}}) for i in range(count)
    ]
    admin.attach(meta["id"], uris)
    return meta, uris


def catalogue_writes_around_the_pds(journal: Journal) -> tuple[list[str], list[str]]:
    """The catalogue's writes before the first PDS write and after the last one; asserts that
    none came in between."""
    entries = journal.entries
    pds_at = [i for i, (port, _) in enumerate(entries) if port == "pds"]
    assert pds_at, "no PDS write"
    first, last = pds_at[0], pds_at[-1]
    assert all(port != "catalogue" for port, _ in entries[first:last])
    before = [op for port, op in entries[:first] if port == "catalogue"]
    after = [op for port, op in entries[last:] if port == "catalogue"]
    return before, after


def raises(error: type[ServiceError], status: int, action: Callable[[], Any], detail: str | None = None) -> None:
    with pytest.raises(error) as caught:
        action()
    assert caught.value.status == status
    if detail is not None:
        assert caught.value.detail == detail


# ---- create --------------------------------------------------------------------------------------


def test_create_is_idempotent_per_slug_and_writes_the_list_record(world: World) -> None:
    status, meta = world.admin().create("  First Light  ", "notes")
    assert status == 201
    assert (meta["title"], meta["slug"], meta["description"], meta["track_count"]) == (
        "First Light",
        "first-light",
        "notes",
        0,
    )
    record = world.pds[ALICE].value(meta["list_uri"])
    assert record == {
        "$type": LIST,
        "name": "First Light",
        "listType": "album",
        "items": [],
        "createdAt": world.catalogue.albums[meta["id"]].created_at,
    }
    assert world.catalogue.albums[meta["id"]].list_cid == world.pds[ALICE].cid(meta["list_uri"])
    again_status, again = world.admin().create("first light")
    assert (again_status, again["id"]) == (200, meta["id"])
    assert len(world.pds[ALICE].records) == 1


def test_create_finishes_a_list_record_a_failed_create_left_out(world: World) -> None:
    world.pds.setdefault(ALICE, FakePds(ALICE, world.journal)).faults.fail("create_record", unavailable)
    raises(UpstreamFailure, 502, lambda: world.admin().create("Half Made"))
    album = next(iter(world.catalogue.albums.values()))
    assert album.list_cid is None and world.pds[ALICE].value(album.list_uri or "") is None
    status, meta = world.admin().create("Half Made")
    assert status == 200 and meta["id"] == album.id
    assert world.catalogue.albums[album.id].list_cid == world.pds[ALICE].cid(meta["list_uri"])


# ---- attach --------------------------------------------------------------------------------------


def test_attach_writes_the_pds_before_the_catalogue(world: World) -> None:
    admin = world.admin()
    _, meta = admin.create("Order")
    uris = [world.pds[ALICE].publish_track(f"t{i}", customField={"kept": [1, None]}) for i in range(3)]
    world.journal.clear()
    out = admin.attach(meta["id"], uris)
    assert out["track_count"] == 3
    # The lease and the track claims, then every PDS write, then the catalogue's data.
    before, after = catalogue_writes_around_the_pds(world.journal)
    assert before == ["lock_album", "claim_tracks"]
    assert after[:2] == ["reserve_track_ids", "move_tracks_into"] and after[-1] == "unlock_album"
    # One applyWrites: the three tracks, then the list pinning the CIDs they get in it.
    assert world.journal.of("pds") == ["applyWrites x4"]
    assert world.listed(meta) == uris
    # The list pins each track record as it stands after the write that set its album.
    assert [i["subject"]["cid"] for i in world.list_items(meta)] == [world.pds[ALICE].cid(u) for u in uris]
    for uri in uris:
        value = world.pds[ALICE].value(uri)
        assert value is not None and value["album"] == "Order" and value["customField"] == {"kept": [1, None]}
    tracks = world.album_tracks(meta["id"])
    assert sorted(t.record_uri for t in tracks) == sorted(uris)
    assert all(t.record_cid == world.pds[ALICE].cid(t.record_uri) for t in tracks)
    album = world.catalogue.albums[meta["id"]]
    assert album.track_count == 3 and album.track_order == uris
    assert album.list_cid == world.pds[ALICE].cid(meta["list_uri"])
    assert album_cache_key(admin.handle, "order") in world.cache.invalidated
    assert not world.catalogue.leases


def test_attach_again_writes_nothing(world: World) -> None:
    meta, uris = album_with_tracks(world, "Again", 2)
    world.journal.clear()
    world.admin().attach(meta["id"], uris[:1])
    assert world.journal.of("pds") == [] and "move_tracks_into" not in world.journal.of("catalogue")


def test_attach_pds_failure_is_502_with_nothing_in_the_catalogue_and_a_retry_converges(world: World) -> None:
    admin = world.admin()
    _, meta = admin.create("Flaky")
    pds = world.pds[ALICE]
    uris = [pds.publish_track(f"f{i}") for i in range(3)]
    pds.faults.fail("apply_writes", unavailable)
    raises(
        UpstreamFailure,
        502,
        lambda: admin.attach(meta["id"], uris),
        "your PDS did not complete the change; repeat the request to finish it",
    )
    assert world.album_tracks(meta["id"]) == [] and world.catalogue.albums[meta["id"]].track_count == 0
    assert all("album" not in (pds.value(u) or {}) for u in uris)
    assert not world.catalogue.leases  # released after the failure
    out = admin.attach(meta["id"], uris)
    assert out["track_count"] == 3 and world.listed(meta) == uris


def test_attach_is_one_write_so_a_failed_one_leaves_nothing_and_a_retry_finishes(world: World) -> None:
    admin = world.admin()
    _, meta = admin.create("Midway")
    pds = world.pds[ALICE]
    uris = [pds.publish_track(f"m{i}") for i in range(2)]
    published = [pds.cid(u) for u in uris]

    def write_fails() -> None:
        raise refused("InternalServerError")()

    pds.before_write = write_fails
    refusal = "your PDS refused the change (InternalServerError); repeat the request to finish it"
    raises(UpstreamFailure, 502, lambda: admin.attach(meta["id"], uris), refusal)
    # The tracks and the list go in one applyWrites: none of them changed.
    assert [pds.cid(u) for u in uris] == published and all("album" not in (pds.value(u) or {}) for u in uris)
    assert world.listed(meta) == [] and world.album_tracks(meta["id"]) == []
    pds.before_write = None
    world.journal.clear()
    admin.attach(meta["id"], uris)
    assert world.journal.of("pds") == ["applyWrites x3"]
    assert world.listed(meta) == uris
    # The list pins the CIDs the rewritten track records got in that same write.
    assert [i["subject"]["cid"] for i in world.list_items(meta)] == [pds.cid(u) for u in uris] != published
    assert len(world.album_tracks(meta["id"])) == 2


def test_attach_survives_another_client_writing_in_between(world: World) -> None:
    admin = world.admin()
    _, meta = admin.create("Busy Repo")
    pds = world.pds[ALICE]
    uris = [pds.publish_track("b0"), pds.publish_track("b1")]
    writes = {"n": 0}

    def another_client() -> None:
        writes["n"] += 1
        if writes["n"] == 1:
            pds.put("app.bsky.feed.post", {"text": "meanwhile"})

    pds.before_write = another_client
    admin.attach(meta["id"], uris)
    assert world.listed(meta) == uris
    assert all((pds.value(u) or {}).get("album") == "Busy Repo" for u in uris)


def test_attach_refusals(world: World) -> None:
    admin = world.admin()
    _, meta = admin.create("Picky")
    mine = world.pds[ALICE].publish_track("mine")
    world.admin(BOB)
    theirs = world.pds[BOB].publish_track("theirs")
    world.journal.clear()
    raises(
        Forbidden, 403, lambda: admin.attach(meta["id"], [theirs]), "you can only add your own tracks to your albums"
    )
    raises(Unprocessable, 422, lambda: admin.attach(meta["id"], []))
    raises(Unprocessable, 422, lambda: admin.attach(meta["id"], [mine, mine]))
    raises(Unprocessable, 422, lambda: admin.attach(meta["id"], ["not a uri"]))
    raises(Unprocessable, 422, lambda: admin.attach(meta["id"], [mine.replace(TRACK, "app.bsky.feed.post")]))
    raises(NotFound, 404, lambda: admin.attach(meta["id"], [mine.rsplit("/", 1)[0] + "/3kzzzzzzzzzzz"]))
    post = world.pds[ALICE].put(TRACK, {"$type": TRACK, "text": "no title"})
    raises(Unprocessable, 422, lambda: admin.attach(meta["id"], [post]))
    assert world.journal.of("pds") == [] and "claim_tracks" not in world.journal.of("catalogue")


def test_a_track_of_another_album_is_409_and_nothing_is_written(world: World) -> None:
    admin = world.admin()
    x, uris = album_with_tracks(world, "Album X", 1)
    _, y = admin.create("Album Y")
    before = world.pds[ALICE].commit
    raises(TrackTaken, 409, lambda: admin.attach(y["id"], uris), "track already belongs to another album")
    assert world.pds[ALICE].commit == before
    assert world.listed(y) == [] and world.listed(x) == uris


def test_a_track_claimed_by_an_unfinished_attach_is_409_until_its_lease_lapses(world: World) -> None:
    admin = world.admin()
    _, x = admin.create("Claim X")
    _, y = admin.create("Claim Y")
    uri = world.pds[ALICE].publish_track("contested")
    world.pds[ALICE].faults.fail("apply_writes", unavailable)
    raises(UpstreamFailure, 502, lambda: admin.attach(x["id"], [uri]))  # claimed for X, then failed
    raises(TrackTaken, 409, lambda: admin.attach(y["id"], [uri]))
    world.clock.now += 61  # the claim's lease lapses
    admin.attach(y["id"], [uri])
    assert world.listed(y) == [uri]


def test_an_indexed_standalone_track_moves_in_keeping_its_id_and_counters(world: World) -> None:
    admin = world.admin()
    _, meta = admin.create("Indexed")
    pds = world.pds[ALICE]
    uri = pds.publish_track("known")
    value = pds.value(uri)
    assert value is not None
    indexed = new_track(41, ALICE, None, uri, pds.cid(uri) or "", value)
    known = world.catalogue.add_track(replace(indexed, play_count=7, like_count=2))
    out = admin.attach(meta["id"], [uri])
    (track,) = world.album_tracks(meta["id"])
    assert (track.id, track.play_count, track.like_count, track.album_id) == (known.id, 7, 2, meta["id"])
    assert out["total_plays"] == 7 and world.catalogue.albums[meta["id"]].total_plays == 7


def test_a_track_another_writer_creates_between_the_attachs_read_and_write_is_moved_in(world: World) -> None:
    """The firehose consumer creates the record's track after the attach last read the artist's
    tracks (the attach reserves an id for a new one): the record keeps that one track item."""
    admin = world.admin()
    _, meta = admin.create("Raced")
    pds = world.pds[ALICE]
    uri = pds.publish_track("raced")
    value = pds.value(uri)
    assert value is not None
    reserve = world.catalogue.reserve_track_ids
    created: list[Track] = []

    def meanwhile(count: int) -> range:
        ids = reserve(count)
        created.append(world.catalogue.add_track(replace(new_track(0, ALICE, None, uri, "bafyc", value), like_count=3)))
        return ids

    world.catalogue.reserve_track_ids = meanwhile  # type: ignore[method-assign]
    out = admin.attach(meta["id"], [uri])
    assert [(t.id, t.album_id, t.like_count) for t in world.catalogue.tracks.values() if t.record_uri == uri] == [
        (created[0].id, meta["id"], 3)
    ]
    assert out["track_count"] == 1


def test_an_attach_whose_tracks_the_indexer_moves_in_meanwhile_answers_what_it_did(world: World) -> None:
    """The attach's list commit comes back through the firehose: the indexer moves some of the
    records' tracks into the album between the attach's read and its write. The attach answers
    200 with every track, not 409 'track already belongs to another album'."""
    admin = world.admin()
    _, meta = admin.create("Indexed Meanwhile")
    pds = world.pds[ALICE]
    uris = [pds.publish_track(f"meanwhile {i}") for i in range(4)]
    for uri in uris:  # the consumer indexed them before the attach
        value = pds.value(uri)
        assert value is not None
        world.catalogue.add_track(new_track(0, ALICE, None, uri, "bafyc", value))
    reserve = world.catalogue.reserve_track_ids

    def meanwhile(count: int) -> range:
        for track in [t for t in world.catalogue.tracks.values() if t.record_uri in uris[:2]]:
            world.catalogue.tracks[track.id] = replace(track, album_id=meta["id"])
        return reserve(count)

    world.catalogue.reserve_track_ids = meanwhile  # type: ignore[method-assign]
    out = admin.attach(meta["id"], uris)
    assert out["track_count"] == 4
    held = [t for t in world.catalogue.tracks.values() if t.record_uri in uris]
    assert len(held) == 4 and {t.album_id for t in held} == {meta["id"]}


# ---- the album's lease ---------------------------------------------------------------------------


def test_a_second_mutation_while_the_lease_is_held_is_409(world: World) -> None:
    meta, uris = album_with_tracks(world, "Leased", 2)
    pds = world.pds[ALICE]
    outcome: dict[str, Any] = {}

    def concurrent_rename() -> None:
        pds.before_write = None
        with pytest.raises(Conflict) as caught:
            world.admin().update(meta["id"], title="Elsewhere")
        outcome["error"] = caught.value

    pds.before_write = concurrent_rename
    ids = [t.id for t in world.album_tracks(meta["id"])]
    world.admin().reorder(meta["id"], ids[::-1])
    error = outcome["error"]
    assert (error.status, error.detail) == (409, "this album is being changed by another request; try again")
    # The first request finished; the second changed nothing.
    assert world.listed(meta) == uris[::-1]
    assert world.catalogue.albums[meta["id"]].title == "Leased"
    assert world.catalogue.slug_owner(ALICE, "elsewhere") is None


def test_a_lease_left_by_a_crashed_request_lapses(world: World) -> None:
    admin = world.admin()
    _, meta = admin.create("Crashed")
    assert world.catalogue.lock_album(meta["id"], uuid.uuid4().hex, 60) is not None
    raises(Conflict, 409, lambda: admin.update(meta["id"], description="now"))
    assert world.catalogue.albums[meta["id"]].description is None
    world.clock.now += 61
    assert admin.update(meta["id"], description="now")["description"] == "now"


# ---- ownership -----------------------------------------------------------------------------------


def test_another_artists_album_is_403_and_an_unknown_one_404(world: World) -> None:
    meta, _ = album_with_tracks(world, "Alice Only", 1)
    track_id = world.album_tracks(meta["id"])[0].id
    before = dict(world.pds[ALICE].records)
    bob = world.admin(BOB)
    bobs_track = world.pds[BOB].publish_track("b")
    for action, message in [
        (lambda: bob.update(meta["id"], title="Mine Now"), "you can only update your own albums"),
        (lambda: bob.delete(meta["id"], True), "you can only delete your own albums"),
        (lambda: bob.attach(meta["id"], [bobs_track]), "you can only modify your own albums"),
        (lambda: bob.reorder(meta["id"], [track_id]), "you can only modify your own albums"),
        (lambda: bob.remove_track(meta["id"], track_id), "you can only modify your own albums"),
        (lambda: bob.owned(meta["id"], "you can only upload cover art for your own albums"), None),
    ]:
        raises(Forbidden, 403, action, message)
    for ref in [str(uuid.uuid4()), "not-an-id", meta["id"].upper() + "x", ""]:
        raises(AlbumNotFound, 404, lambda ref=ref: bob.update(ref, title="x"), "album not found")
    assert world.pds[ALICE].records == before and not world.catalogue.leases


def test_the_album_the_guard_loaded_is_not_read_again(world: World) -> None:
    from albums_core.services.album_admin import AlbumCaller

    admin = world.admin()
    _, meta = admin.create("Loaded Once")
    album = world.catalogue.albums[meta["id"]]
    reads: list[str] = []
    original = world.catalogue.get_album

    def counting_get(album_id: str) -> Any:
        reads.append(album_id)
        return original(album_id)

    world.catalogue.get_album = counting_get  # type: ignore[method-assign]
    guarded = AlbumAdmin(
        AlbumCaller(admin.caller.session, admin.caller.artist, album),
        repo=world.catalogue,
        pds=world.pds[ALICE],
        cache=world.cache,
        jobs=world.jobs,
        writer=WRITER,
    )
    guarded.update(meta["id"], description="read once")
    assert reads == []


# ---- reorder, remove ------------------------------------------------------------------------------


def test_reorder_sets_the_list_order_and_refuses_anything_but_every_track_once(world: World) -> None:
    meta, uris = album_with_tracks(world, "Shuffle", 3)
    by_uri = {t.record_uri: t.id for t in world.album_tracks(meta["id"])}
    order = [by_uri[uris[2]], by_uri[uris[0]], by_uri[uris[1]]]
    world.admin().reorder(meta["id"], order)
    assert world.listed(meta) == [uris[2], uris[0], uris[1]]
    assert world.catalogue.albums[meta["id"]].track_order == [uris[2], uris[0], uris[1]]
    for bad in ([order[0], order[0], order[1]], order[:2], [*order, 999_999]):
        raises(Unprocessable, 422, lambda bad=bad: world.admin().reorder(meta["id"], bad))
    assert world.listed(meta) == [uris[2], uris[0], uris[1]]


def _rkey(meta: dict[str, Any]) -> str:
    return str(meta["list_uri"]).rsplit("/", 1)[1]


def test_reorder_by_list_key_answers_the_list_ref_and_pins_current_cids(world: World) -> None:
    meta, uris = album_with_tracks(world, "By List", 3)
    pds = world.pds[ALICE]
    # A stale CID (the web app's copy of a track before an edit) is not an error.
    pds.put(TRACK, {**(pds.value(uris[1]) or {}), "title": "Edited"}, rkey=uris[1].rsplit("/", 1)[1])
    order = [uris[1], uris[2], uris[0]]
    world.cache.invalidated.clear()
    answer = world.admin().reorder_list(_rkey(meta), order)
    assert answer == {"uri": meta["list_uri"], "cid": pds.cid(meta["list_uri"])}
    assert world.listed(meta) == order
    assert [i["subject"]["cid"] for i in world.list_items(meta)] == [pds.cid(u) for u in order]
    album = world.catalogue.albums[meta["id"]]
    assert album.track_order == order and album.list_cid == answer["cid"]
    assert album_cache_key(world.admin().handle, "by-list") in world.cache.invalidated
    assert not world.catalogue.leases


def test_reorder_by_list_key_refuses_anything_but_the_albums_tracks_once(world: World) -> None:
    meta, uris = album_with_tracks(world, "Strict List", 2)
    other = world.pds[ALICE].publish_track("Loose")
    bobs = f"at://{BOB}/{TRACK}/3kbobtrack0001"
    for bad, says in [
        ([uris[0], uris[0], uris[1]], "items[1].uri: listed twice"),
        ([uris[0]], "missing"),
        ([*uris, other], "not in the album"),
        ([*uris, bobs], "items[2].uri: not a record of your repository"),
        (["not a uri", *uris], "items[0].uri: not an AT-URI"),
        ([uris[0].replace(TRACK, LIST), uris[1]], f"items[0].uri: not an {TRACK} record"),
    ]:
        with pytest.raises(Unprocessable) as caught:
            world.admin().reorder_list(_rkey(meta), bad)
        assert caught.value.status == 422 and says in caught.value.detail
    assert world.listed(meta) == uris and not world.catalogue.leases


def test_reorder_by_list_key_of_no_album_of_the_caller_is_404(world: World) -> None:
    meta, uris = album_with_tracks(world, "Alice List", 1)
    before = dict(world.pds[ALICE].records)
    bob = world.admin(BOB)
    for rkey in [_rkey(meta), "3kzzzzzzzzzzz", "not a key!", "", "..", "a" * 600]:
        raises(NotFound, 404, lambda rkey=rkey: bob.reorder_list(rkey, uris), "list not found")
    raises(NotFound, 404, lambda: world.admin().reorder_list("3kzzzzzzzzzzz", uris), "list not found")
    assert world.pds[ALICE].records == before


def test_reorder_by_list_key_during_another_change_is_409(world: World) -> None:
    meta, uris = album_with_tracks(world, "Busy List", 2)
    assert world.catalogue.lock_album(meta["id"], uuid.uuid4().hex, 60) is not None
    raises(Conflict, 409, lambda: world.admin().reorder_list(_rkey(meta), uris[::-1]))
    assert world.listed(meta) == uris


def test_remove_track_makes_it_standalone_on_the_pds_and_in_the_catalogue(world: World) -> None:
    meta, uris = album_with_tracks(world, "Remove", 2)
    pds = world.pds[ALICE]
    track = next(t for t in world.album_tracks(meta["id"]) if t.record_uri == uris[0])
    world.journal.clear()
    assert world.admin().remove_track(meta["id"], track.id) == {"removed": True, "track_id": track.id}
    before, after = catalogue_writes_around_the_pds(world.journal)
    assert before == ["lock_album"] and after[0] == "detach_track"
    value = pds.value(uris[0])
    assert value is not None and "album" not in value and value["audioBlob"] == {"ref": {"$link": blob_cid(0)}}
    assert world.listed(meta) == [uris[1]]
    standalone = world.catalogue.tracks[track.id]
    assert standalone.album_id is None and standalone.record_cid == pds.cid(uris[0])
    album = world.catalogue.albums[meta["id"]]
    assert (album.track_count, album.track_order) == (1, [uris[1]])
    raises(BadRequest, 400, lambda: world.admin().remove_track(meta["id"], track.id), "track is not in this album")
    raises(NotFound, 404, lambda: world.admin().remove_track(meta["id"], 999_999), "track not found")


# ---- rename ---------------------------------------------------------------------------------------


def test_rename_rewrites_every_record_then_the_catalogue(world: World) -> None:
    meta, uris = album_with_tracks(world, "Before", 3)
    pds = world.pds[ALICE]
    world.journal.clear()
    out = world.admin().update(meta["id"], title="After")
    assert (out["title"], out["slug"]) == ("After", "after")
    before, after = catalogue_writes_around_the_pds(world.journal)
    assert before == ["lock_album", "claim_slug"] and "finish_rename" in after
    assert world.journal.of("pds") == ["applyWrites x4"]  # three tracks and the list, at once
    for i, uri in enumerate(uris):
        value = pds.value(uri)
        assert value is not None and value["album"] == "After" and value["audioBlob"] == {"ref": {"$link": blob_cid(i)}}
    list_value = pds.value(meta["list_uri"])
    assert list_value is not None and list_value["name"] == "After" and world.listed(meta) == uris
    # The list pins each track's new version, written in the same applyWrites.
    assert [i["subject"]["cid"] for i in world.list_items(meta)] == [pds.cid(u) for u in uris]
    assert all(t.record_cid == pds.cid(t.record_uri) for t in world.album_tracks(meta["id"]))
    assert world.catalogue.slug_owner(ALICE, "after") == meta["id"]
    assert world.catalogue.slug_owner(ALICE, "before") is None
    handle = world.admin().handle
    assert {album_cache_key(handle, "before"), album_cache_key(handle, "after")} <= set(world.cache.invalidated)


@pytest.mark.parametrize("change", ["rename", "reorder"])
def test_the_catalogue_reads_of_a_rewrite_overlap_the_pds_reads(world: World, change: str) -> None:
    """The artist's track count is read while the PDS's commit is: the count waits for the
    commit's read (a generous hang limit), which a rename or reorder reading one after the other
    never starts meanwhile."""
    meta, uris = album_with_tracks(world, "Overlap", 3)
    pds, catalogue = world.pds[ALICE], world.catalogue
    commit_read, overlapped = threading.Event(), []
    latest_commit, count = pds.latest_commit, catalogue.artist_track_count

    def reading_commit() -> str:
        commit_read.set()
        return latest_commit()

    def counting(did: str, up_to: int) -> int:
        overlapped.append(commit_read.wait(30))
        return count(did, up_to)

    pds.latest_commit = reading_commit  # type: ignore[method-assign]
    catalogue.artist_track_count = counting  # type: ignore[method-assign]
    admin = world.admin()
    if change == "rename":
        assert admin.update(meta["id"], title="Overlapped")["title"] == "Overlapped"
        assert all(pds.value(u)["album"] == "Overlapped" for u in uris)  # type: ignore[index]
    else:
        ids = [t.id for t in world.album_tracks(meta["id"])][::-1]
        admin.reorder(meta["id"], ids)
        assert world.listed(meta) == uris[::-1]
    assert overlapped == [True]


def test_a_mutation_answers_its_counts_without_the_page_entry_of_each_track(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    meta, _ = album_with_tracks(world, "Counted Only", 3)
    for t in world.album_tracks(meta["id"]):
        world.catalogue.tracks[t.id] = replace(t, play_count=t.id)
    plays = sum(t.play_count for t in world.album_tracks(meta["id"]))

    def no_entries(*_: object) -> dict[str, Any]:
        raise AssertionError("a track's page entry built for a mutation's answer")

    monkeypatch.setattr(views, "track_response", no_entries)
    out = world.admin().update(meta["id"], title="Counted Only Renamed")
    assert (out["title"], out["track_count"], out["total_plays"]) == ("Counted Only Renamed", 3, plays)
    out = world.admin().update(meta["id"], description="counts")
    assert (out["description"], out["track_count"], out["total_plays"]) == ("counts", 3, plays)


def test_rename_to_the_slug_of_another_album_is_409_before_anything_is_written(world: World) -> None:
    admin = world.admin()
    admin.create("Taken Name")
    meta, _ = album_with_tracks(world, "Mine", 1)
    pds_before = dict(world.pds[ALICE].records)
    raises(
        Conflict,
        409,
        lambda: admin.update(meta["id"], title="taken name"),
        "another of your albums already uses that name",
    )
    assert world.pds[ALICE].records == pds_before
    assert world.catalogue.albums[meta["id"]].title == "Mine"


def test_rename_pds_failure_is_502_frees_the_new_slug_and_a_retry_converges(world: World) -> None:
    meta, uris = album_with_tracks(world, "Old Name", 2)
    pds = world.pds[ALICE]
    pds.faults.fail("apply_writes", unavailable)
    raises(UpstreamFailure, 502, lambda: world.admin().update(meta["id"], title="New Name"))
    assert world.catalogue.slug_owner(ALICE, "new-name") is None
    assert world.catalogue.albums[meta["id"]].title == "Old Name"
    out = world.admin().update(meta["id"], title="New Name")
    assert out["slug"] == "new-name"
    assert all((pds.value(u) or {}).get("album") == "New Name" for u in uris)


def test_a_revoked_session_is_401(world: World) -> None:
    meta, _ = album_with_tracks(world, "Revoked", 1)
    world.pds[ALICE].faults.fail("latest_commit", lambda: SessionRevoked("token revoked"))
    raises(
        InvalidSession, 401, lambda: world.admin().update(meta["id"], title="Whatever"), "invalid or expired session"
    )
    assert world.catalogue.slug_owner(ALICE, "whatever") is None


def test_update_needs_a_field_and_applies_the_text_rules(world: World) -> None:
    _, meta = world.admin().create("Rules")
    raises(Unprocessable, 422, lambda: world.admin().update(meta["id"]))
    raises(Unprocessable, 422, lambda: world.admin().update(meta["id"], title="   "))
    raises(Unprocessable, 422, lambda: world.admin().update(meta["id"], description="x" * 5001))
    assert world.admin().update(meta["id"], description="  ")["description"] is None


# ---- delete ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("cascade", [False, True])
def test_delete_removes_the_list_record_then_the_album(world: World, cascade: bool) -> None:
    meta, uris = album_with_tracks(world, "Goodbye", 2)
    pds = world.pds[ALICE]
    ids = [t.id for t in world.album_tracks(meta["id"])]
    world.journal.clear()
    assert world.admin().delete(meta["id"], cascade) == {"deleted": True, "cascade": cascade}
    before, after = catalogue_writes_around_the_pds(world.journal)
    assert before == ["lock_album"] and after[:2] == ["release_tracks", "delete_album_items"]
    assert pds.value(meta["list_uri"]) is None
    assert meta["id"] not in world.catalogue.albums and world.catalogue.slug_owner(ALICE, "goodbye") is None
    if cascade:
        assert all(pds.value(u) is None for u in uris) and not any(i in world.catalogue.tracks for i in ids)
    else:
        assert all("album" not in (pds.value(u) or {"album": 1}) for u in uris)
        assert all(world.catalogue.tracks[i].album_id is None for i in ids)


def test_delete_pds_failure_is_502_and_nothing_is_removed(world: World) -> None:
    meta, uris = album_with_tracks(world, "Stays", 2)
    pds = world.pds[ALICE]
    pds.faults.fail("apply_writes", unavailable)
    raises(UpstreamFailure, 502, lambda: world.admin().delete(meta["id"], True))
    assert pds.value(meta["list_uri"]) is not None and all(pds.value(u) is not None for u in uris)
    assert meta["id"] in world.catalogue.albums and len(world.album_tracks(meta["id"])) == 2
    world.admin().delete(meta["id"], True)
    assert pds.value(meta["list_uri"]) is None and meta["id"] not in world.catalogue.albums


def test_a_large_album_is_handed_to_a_cleanup_job_after_its_list_record_is_gone(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cleanup, "SYNC_DELETE_MAX_TRACKS", 2)
    meta, uris = album_with_tracks(world, "Too Big", 3)
    pds = world.pds[ALICE]
    pds.faults.fail("apply_writes", unavailable)
    raises(UpstreamFailure, 502, lambda: world.admin().delete(meta["id"], False))
    assert world.jobs.jobs == [] and meta["id"] in world.catalogue.albums
    world.journal.clear()
    assert world.admin().delete(meta["id"], False) == {"deleted": True, "cascade": False}
    before, _ = catalogue_writes_around_the_pds(world.journal)
    assert before == ["lock_album"] and world.journal.of("pds") == ["applyWrites x1"]  # the list record only
    assert world.journal.of("catalogue")[1] == "hand_over"
    (job,) = world.jobs.jobs
    assert (job.album.id, job.cascade, job.tokens) == (meta["id"], False, pds.tokens)
    assert pds.value(meta["list_uri"]) is None and all(pds.value(u) is not None for u in uris)
    assert meta["id"] not in world.catalogue.albums and world.catalogue.slug_owner(ALICE, "too-big") is None


# ---- the guard of the album routes -----------------------------------------------------------------


def test_the_album_guard_checks_the_album_of_the_path_and_passes_it_on(world: World) -> None:
    from albums_core.http.guards import album_guard
    from albums_core.services.album_admin import AlbumCaller

    _, meta = world.admin().create("Guarded")
    callers = {"alice": world.admin().caller, "bob": world.admin(BOB).caller}

    def guard_for(who: str) -> Callable[[dict[str, Any]], Caller]:
        return album_guard(
            "you can only modify your own albums",
            caller_of=lambda event: callers[who],
            admin_for=lambda caller: AlbumAdmin(
                caller, repo=world.catalogue, cache=world.cache, jobs=world.jobs, writer=WRITER
            ),
        )

    caller = guard_for("alice")({"pathParameters": {"ref": meta["id"]}, "rawPath": "/stage/albums/x"})
    assert isinstance(caller, AlbumCaller) and caller.album == world.catalogue.albums[meta["id"]]
    raises(Forbidden, 403, lambda: guard_for("bob")({"pathParameters": {"ref": meta["id"]}}))
    for event in ({"pathParameters": {"ref": "nope"}}, {"pathParameters": None}, {}):
        raises(AlbumNotFound, 404, lambda event=event: guard_for("alice")(event), "album not found")

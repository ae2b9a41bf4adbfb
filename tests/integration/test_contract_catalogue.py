"""The catalogue's behavioural contract, run against the in-memory fake (tests/fakes/catalogue.py)
and the DynamoDB adapter (`CatalogueWriter` on moto, tables from template.yaml): a unit test on
the fake proves something about production only while both pass these."""

from __future__ import annotations

from dataclasses import replace

import pytest

from albums_core.adapters.dynamodb.catalogue import CatalogueWriter
from albums_core.adapters.dynamodb.subsonic_store import SubsonicStore
from albums_core.domain.errors import AlbumNotFound, ConcurrentUpdate, Conflict, PreconditionFailed, TrackTaken
from albums_core.domain.models import Album, Track
from tests.fakes.catalogue import FakeCatalogue
from tests.fakes.indexing import FakeIndexCatalogue

Catalogue = FakeCatalogue | CatalogueWriter

DID = "did:plc:contractartist0000000001"
OTHER = "did:plc:contractartist0000000002"
HANDLE = "artist.test"


@pytest.fixture(params=["fake", "dynamodb"])
def cat(request: pytest.FixtureRequest) -> Catalogue:
    if request.param == "fake":
        return FakeCatalogue()
    request.getfixturevalue("aws_env")
    return CatalogueWriter()


def album(slug: str = "first", album_id: str | None = None, did: str = DID, **fields: object) -> Album:
    return Album(
        id=album_id or f"album-{slug}",
        artist_did=did,
        slug=slug,
        title=slug.title(),
        created_at="2026-01-01T00:00:00Z",
        **fields,  # type: ignore[arg-type]
    )


def track(cat: Catalogue, rkey: str, did: str = DID, plays: int = 0, album_id: str | None = None) -> Track:
    track_id = cat.reserve_track_ids(1)[0]
    return Track(
        id=track_id,
        title=f"Track {rkey}",
        artist_did=did,
        file_id=f"file-{rkey}",
        file_type="mp3",
        created_at=f"2026-02-01T00:00:{track_id % 60:02d}Z",
        album_id=album_id,
        record_uri=f"at://{did}/fm.plyr.track/{rkey}",
        record_cid=f"bafy{rkey}",
        play_count=plays,
    )


def standalone(cat: Catalogue, rkey: str, plays: int = 0) -> Track:
    """A track the catalogue indexed outside any album (as the firehose consumer does)."""
    made = track(cat, rkey, plays=plays)
    if isinstance(cat, FakeCatalogue):
        return cat.add_track(made)
    return cat.add_new_tracks([made])[0]


def attach(cat: Catalogue, to: Album, tracks: list[Track]) -> list[Track]:
    """Claim the records, then move the tracks in: the write side's attach."""
    uris = [t.record_uri or "" for t in tracks]
    assert cat.claim_tracks(to.artist_did, to.id, uris, "attach", 60) == []
    moved = [replace(t, album_id=to.id) for t in tracks]
    cat.move_tracks_into(to, [(None, m) for m in moved])
    return moved


def listed(cat: Catalogue) -> set[str]:
    """The albums in the listing (the read side's list of albums)."""
    if isinstance(cat, FakeCatalogue):
        return set(cat.listed)
    return {a.id for a in cat.listed_albums_page(100, None)[0]}


def counters(cat: Catalogue, album_id: str) -> tuple[int, int]:
    stored = cat.get_album(album_id)
    assert stored is not None
    return stored.track_count, stored.total_plays


# ---- albums ------------------------------------------------------------------------------------


def test_create_and_load(cat: Catalogue) -> None:
    first = album()
    cat.create_album(first, HANDLE)
    assert cat.get_album(first.id) == first
    assert cat.load_album(first.id) == (first, [])
    assert cat.slug_owner(DID, "first") == first.id
    assert cat.get_album("nope") is None and cat.load_album("nope") is None
    assert listed(cat) == set()  # no tracks: not listed


def test_create_refuses_a_taken_slug_or_id(cat: Catalogue) -> None:
    cat.create_album(album(), HANDLE)
    with pytest.raises(Conflict):
        cat.create_album(album(album_id="another"), HANDLE)
    with pytest.raises(Conflict):
        cat.create_album(album(slug="second", album_id="album-first"), HANDLE)
    # Another artist's slug is no conflict.
    cat.create_album(album(album_id="theirs", did=OTHER), "other.test")
    assert cat.slug_owner(OTHER, "first") == "theirs"


def test_delete_album_items(cat: Catalogue) -> None:
    first = album()
    cat.create_album(first, HANDLE)
    assert cat.lock_album(first.id, "tok", 60) is not None
    cat.delete_album_items(first, HANDLE)
    assert cat.get_album(first.id) is None
    assert cat.slug_owner(DID, "first") is None
    cat.create_album(album(album_id="again"), HANDLE)  # the slug is free again
    assert cat.slug_owner(DID, "first") == "again"


# ---- tracks in and out -------------------------------------------------------------------------


def test_reserve_track_ids(cat: Catalogue) -> None:
    assert list(cat.reserve_track_ids(0)) == []
    first = cat.reserve_track_ids(3)
    second = cat.reserve_track_ids(2)
    assert len(first) == 3 and len(second) == 2
    assert not set(first) & set(second)
    assert second[0] > first[-1]


def test_attach_new_tracks(cat: Catalogue) -> None:
    first = album()
    cat.create_album(first, HANDLE)
    tracks = [track(cat, "a", plays=2), track(cat, "b", plays=3)]
    moved = attach(cat, first, tracks)
    loaded = cat.load_album(first.id)
    assert loaded is not None
    stored, in_album = loaded
    assert sorted(t.id for t in in_album) == sorted(t.id for t in moved)
    assert all(t.album_id == first.id for t in in_album)
    assert (stored.track_count, stored.total_plays) == (2, 5)
    assert stored.version == first.version  # counters are no mutation of the album's own
    assert listed(cat) == {first.id}
    found = cat.find_track(moved[0].id)
    assert found is not None and found.album_id == first.id
    assert sorted(t.id for t in cat.artist_tracks(DID)) == sorted(t.id for t in moved)
    assert cat.artist_track_count(DID, 10) == 2
    assert cat.artist_track_count(DID, 1) == 1
    assert cat.artist_track_count(OTHER, 10) == 0


def test_attach_a_standalone_track_moves_it(cat: Catalogue) -> None:
    first = album()
    cat.create_album(first, HANDLE)
    loose = standalone(cat, "a", plays=4)
    assert cat.claim_tracks(DID, first.id, [loose.record_uri or ""], "tok", 60) == []
    cat.move_tracks_into(first, [(loose, replace(loose, album_id=first.id))])
    found = cat.find_track(loose.id)
    assert found is not None and found.album_id == first.id
    assert [t.id for t in cat.artist_tracks(DID)] == [loose.id]  # moved, not copied
    assert counters(cat, first.id) == (1, 4)


def play(cat: Catalogue, track: Track, second: int) -> None:
    """A listener's play of `track` where it is now (its album's total too): Subsonic's scrobble."""
    if isinstance(cat, FakeCatalogue):
        stored = cat.tracks[track.id]
        cat.tracks[track.id] = replace(stored, play_count=stored.play_count + 1)
        if stored.album_id:
            held = cat.albums[stored.album_id]
            cat.albums[held.id] = replace(held, total_plays=held.total_plays + 1)
        return
    assert SubsonicStore(cat.db.client).count_play("did:plc:listener", track, second)


def test_a_play_counted_between_the_read_and_the_move_is_carried(cat: Catalogue) -> None:
    first = album()
    cat.create_album(first, HANDLE)
    loose = standalone(cat, "a", plays=4)  # read with 4 plays
    play(cat, loose, 1_800_000_000)
    assert cat.claim_tracks(DID, first.id, [loose.record_uri or ""], "tok", 60) == []
    cat.move_tracks_into(first, [(loose, replace(loose, album_id=first.id))])
    found = cat.find_track(loose.id)
    assert found is not None and found.album_id == first.id and found.play_count == 5
    assert counters(cat, first.id) == (1, 5)


def test_a_new_track_of_a_record_already_indexed_takes_its_item(cat: Catalogue) -> None:
    first = album()
    cat.create_album(first, HANDLE)
    loose = standalone(cat, "a")
    fresh = replace(track(cat, "a"), album_id=first.id)
    assert cat.claim_tracks(DID, first.id, [loose.record_uri or ""], "tok", 60) == []
    cat.move_tracks_into(first, [(None, fresh)])
    tracks = cat.artist_tracks(DID)
    assert [(t.id, t.album_id) for t in tracks] == [(loose.id, first.id)]
    assert counters(cat, first.id) == (1, 0)


def test_move_without_a_claim_is_track_taken(cat: Catalogue) -> None:
    first = album()
    cat.create_album(first, HANDLE)
    with pytest.raises(TrackTaken):
        cat.move_tracks_into(first, [(None, replace(track(cat, "a"), album_id=first.id))])
    assert cat.load_album(first.id) == (first, [])


def test_claims(cat: Catalogue) -> None:
    first, second = album(), album("second")
    cat.create_album(first, HANDLE)
    cat.create_album(second, HANDLE)
    uri_a, uri_b = f"at://{DID}/fm.plyr.track/a", f"at://{DID}/fm.plyr.track/b"
    assert cat.claim_tracks(DID, first.id, [], "t1", 60) == []
    assert cat.claim_tracks(DID, first.id, [uri_a], "t1", 60) == []
    assert cat.claim_tracks(DID, first.id, [uri_a], "t2", 60) == []  # this album's already
    # Another album's pending claim holds the record; nothing of the batch is claimed.
    assert cat.claim_tracks(DID, second.id, [uri_b, uri_a], "t3", 60) == [uri_a]
    assert cat.claim_tracks(DID, first.id, [uri_b], "t1", 60) == []
    # A lapsed pending claim is free.
    assert cat.claim_tracks(DID, first.id, [f"at://{DID}/fm.plyr.track/c"], "t1", -5) == []
    assert cat.claim_tracks(DID, second.id, [f"at://{DID}/fm.plyr.track/c"], "t3", 60) == []
    # Claims are per artist.
    assert cat.claim_tracks(OTHER, second.id, [uri_a], "t3", 60) == []


def test_a_membership_holds_until_the_track_leaves(cat: Catalogue) -> None:
    first, second = album(), album("second")
    cat.create_album(first, HANDLE)
    cat.create_album(second, HANDLE)
    [moved] = attach(cat, first, [track(cat, "a", plays=1)])
    uri = moved.record_uri or ""
    assert cat.claim_tracks(DID, second.id, [uri], "t2", 60) == [uri]
    cat.detach_track(first.id, moved, replace(moved, album_id=None))
    assert cat.claim_tracks(DID, second.id, [uri], "t2", 60) == []


def test_detach_track(cat: Catalogue) -> None:
    first = album()
    cat.create_album(first, HANDLE)
    kept, leaving = attach(cat, first, [track(cat, "a", plays=1), track(cat, "b", plays=5)])
    cat.detach_track(first.id, leaving, replace(leaving, album_id=None))
    found = cat.find_track(leaving.id)
    assert found is not None and found.album_id is None
    loaded = cat.load_album(first.id)
    assert loaded is not None and [t.id for t in loaded[1]] == [kept.id]
    assert counters(cat, first.id) == (1, 1)
    cat.detach_track(first.id, kept, replace(kept, album_id=None))
    assert counters(cat, first.id) == (0, 0)
    # Counters ADDed down to 0 leave the album in the listing: the recount takes it out.
    assert listed(cat) == {first.id}


def test_a_play_counted_between_the_read_and_the_detach_is_carried(cat: Catalogue) -> None:
    first = album()
    cat.create_album(first, HANDLE)
    kept, leaving = attach(cat, first, [track(cat, "a", plays=1), track(cat, "b", plays=5)])
    play(cat, leaving, 1_800_000_000)  # after the detach read the track with 5
    cat.detach_track(first.id, leaving, replace(leaving, album_id=None))
    found = cat.find_track(leaving.id)
    assert found is not None and found.album_id is None and found.play_count == 6
    assert counters(cat, first.id) == (1, 1)


@pytest.fixture(params=["fake", "dynamodb"])
def index_cat(request: pytest.FixtureRequest) -> Catalogue:
    """The catalogue as the indexer has it: its fake adds the indexer's own writes (detach_tracks)."""
    if request.param == "fake":
        return FakeIndexCatalogue()
    request.getfixturevalue("aws_env")
    return CatalogueWriter()


def test_a_play_counted_between_the_read_and_a_bulk_detach_is_carried(index_cat: Catalogue) -> None:
    cat = index_cat
    first = album()
    cat.create_album(first, HANDLE)
    tracks = attach(cat, first, [track(cat, "a", plays=1), track(cat, "b", plays=5), track(cat, "c")])
    play(cat, tracks[1], 1_800_000_000)  # after the indexer loaded the album
    play(cat, tracks[2], 1_800_000_000)
    moved = cat.detach_tracks(tracks)
    assert [t.play_count for t in moved] == [1, 6, 1]
    found = [cat.find_track(t.id) for t in tracks]
    assert [(t.album_id, t.play_count) for t in found if t] == [(None, 1), (None, 6), (None, 1)]


def test_recount_sets_counters_from_the_tracks(cat: Catalogue) -> None:
    first = album()
    cat.create_album(first, HANDLE)
    attach(cat, first, [track(cat, "a", plays=2), track(cat, "b", plays=3)])
    cat.set_album_fields(first, track_count=7, total_plays=1)
    recounted = cat.recount(first.id)
    assert recounted is not None and (recounted.track_count, recounted.total_plays) == (2, 5)
    assert counters(cat, first.id) == (2, 5)
    assert listed(cat) == {first.id}
    assert cat.recount("nope") is None


def test_recount_of_an_empty_album_unlists_it(cat: Catalogue) -> None:
    """The drift issue #21 named: the adapter's recount takes an album whose counters are already
    right at 0 out of the listing (ADDs down to 0 leave it there); the fake's did nothing."""
    first = album()
    cat.create_album(first, HANDLE)
    [moved] = attach(cat, first, [track(cat, "a")])
    cat.detach_track(first.id, moved, replace(moved, album_id=None))
    assert listed(cat) == {first.id}
    recounted = cat.recount(first.id)
    assert recounted is not None and recounted.track_count == 0
    assert listed(cat) == set()


def test_recount_to_zero_unlists(cat: Catalogue) -> None:
    first = album()
    cat.create_album(first, HANDLE)
    attach(cat, first, [track(cat, "a")])
    stored = cat.get_album(first.id)
    assert stored is not None
    cat.set_album_fields(stored, track_count=3)
    # The track goes without the counters (a failed request): the recount makes them exact.
    [gone] = cat.load_album(first.id)[1]  # type: ignore[index]
    cat.release_tracks([gone], delete=True, cids={})
    assert cat.recount(first.id) is not None
    assert counters(cat, first.id) == (0, 0)
    assert listed(cat) == set()


# ---- fields, versions and the lease ------------------------------------------------------------


def test_set_album_fields_unversioned(cat: Catalogue) -> None:
    first = album()
    cat.create_album(first, HANDLE)
    attach(cat, first, [track(cat, "a", plays=2)])
    # The caller's copy is stale (no counters): an update of the named fields keeps them.
    out = cat.set_album_fields(first, description="new words")
    assert out == replace(first, description="new words")
    stored = cat.get_album(first.id)
    assert stored is not None
    assert (stored.description, stored.track_count, stored.total_plays, stored.version) == ("new words", 1, 2, 0)
    out = cat.set_album_fields(first, description=None)
    stored = cat.get_album(first.id)
    assert stored is not None and stored.description is None
    with pytest.raises(AlbumNotFound):
        cat.set_album_fields(album("gone"), description="x")


def test_set_album_fields_versioned(cat: Catalogue) -> None:
    first = album()
    cat.create_album(first, HANDLE)
    out = cat.set_album_fields(first, versioned=True, expected=frozenset({0}), image_id="img1")
    assert out.version == 1 and out.image_id == "img1"
    assert cat.get_album(first.id) == out
    out = cat.set_album_fields(first, versioned=True, image_id="img2")  # no If-Match: any version
    assert out.version == 2
    with pytest.raises(PreconditionFailed):
        cat.set_album_fields(first, versioned=True, expected=frozenset({1}), image_id="img3")
    with pytest.raises(PreconditionFailed):
        cat.set_album_fields(first, versioned=True, expected=frozenset(), image_id="img3")
    assert cat.get_album(first.id) == out  # refused: nothing written
    assert cat.set_album_fields(first, versioned=True, expected=frozenset({1, 2}), image_id="img3").version == 3
    with pytest.raises(AlbumNotFound):
        cat.set_album_fields(album("gone"), versioned=True, expected=frozenset({0}), image_id="x")
    with pytest.raises(AlbumNotFound):
        cat.set_album_fields(album("gone"), versioned=True, image_id="x")


def test_versioned_change_of_an_absent_album_with_an_empty_if_match(cat: Catalogue) -> None:
    # An If-Match naming no version matches nothing, whether or not the album is there.
    with pytest.raises(PreconditionFailed):
        cat.set_album_fields(album("gone"), versioned=True, expected=frozenset(), image_id="x")


def test_lock_album(cat: Catalogue) -> None:
    first = album()
    cat.create_album(first, HANDLE)
    locked = cat.lock_album(first.id, "one", 60)
    assert locked is not None and locked.version == 1 and locked.id == first.id
    assert cat.lock_album(first.id, "two", 60) is None  # held
    cat.unlock_album(first.id, "two")  # not the holder: nothing
    assert cat.lock_album(first.id, "two", 60) is None
    cat.unlock_album(first.id, "one")
    again = cat.lock_album(first.id, "two", 60, expected=frozenset({1}))
    assert again is not None and again.version == 2
    cat.unlock_album(first.id, "two")
    assert cat.lock_album("nope", "one", 60) is None
    assert cat.lock_album("nope", "one", 60, expected=frozenset({0})) is None


def test_an_expired_lease_passes_on(cat: Catalogue) -> None:
    first = album()
    cat.create_album(first, HANDLE)
    assert cat.lock_album(first.id, "one", -5) is not None
    taken = cat.lock_album(first.id, "two", 60)
    assert taken is not None and taken.version == 2
    cat.unlock_album(first.id, "one")  # the first holder's late unlock does not free it
    assert cat.lock_album(first.id, "three", 60) is None


def test_lock_album_if_match(cat: Catalogue) -> None:
    first = album()
    cat.create_album(first, HANDLE)
    with pytest.raises(PreconditionFailed):
        cat.lock_album(first.id, "one", 60, expected=frozenset({3}))
    with pytest.raises(PreconditionFailed):
        cat.lock_album(first.id, "one", 60, expected=frozenset())
    stored = cat.get_album(first.id)
    assert stored is not None and stored.version == 0  # refused: no version spent
    assert cat.lock_album(first.id, "one", 60, expected=frozenset({0, 5})) is not None
    # Held, and the If-Match names another version: 412 before "held".
    with pytest.raises(PreconditionFailed):
        cat.lock_album(first.id, "two", 60, expected=frozenset({0}))
    assert cat.lock_album(first.id, "two", 60, expected=frozenset({1})) is None


def test_lock_of_an_absent_album_with_an_empty_if_match(cat: Catalogue) -> None:
    with pytest.raises(PreconditionFailed):
        cat.lock_album("nope", "one", 60, expected=frozenset())


# ---- slugs and renames -------------------------------------------------------------------------


def test_claim_and_release_slug(cat: Catalogue) -> None:
    first, second = album(), album("second")
    cat.create_album(first, HANDLE)
    cat.create_album(second, HANDLE)
    assert cat.claim_slug(DID, HANDLE, "new", first.id) is True
    assert cat.claim_slug(DID, HANDLE, "new", first.id) is True  # already this album's
    assert cat.claim_slug(DID, HANDLE, "new", second.id) is False
    assert cat.claim_slug(DID, HANDLE, "first", second.id) is False
    cat.release_slug(DID, HANDLE, "new", second.id)  # not its: kept
    assert cat.slug_owner(DID, "new") == first.id
    cat.release_slug(DID, HANDLE, "new", first.id)
    assert cat.slug_owner(DID, "new") is None


def test_rename(cat: Catalogue) -> None:
    first = album()
    cat.create_album(first, HANDLE)
    attach(cat, first, [track(cat, "a", plays=2)])
    assert cat.claim_slug(DID, HANDLE, "renamed", first.id)
    out = cat.finish_rename(first, HANDLE, "Renamed", "renamed", "2026-03-01T00:00:00Z")
    assert (out.title, out.slug, out.updated_at) == ("Renamed", "renamed", "2026-03-01T00:00:00Z")
    stored = cat.get_album(first.id)
    assert stored is not None
    assert (stored.title, stored.slug, stored.track_count, stored.total_plays) == ("Renamed", "renamed", 1, 2)
    assert cat.slug_owner(DID, "renamed") == first.id
    assert cat.slug_owner(DID, "first") is None
    assert cat.former_slugs(DID, first.id) == ["first"]
    assert cat.current_slug(DID, "first") == "renamed"
    assert cat.current_slug(DID, "never") is None
    # Renamed again: both earlier slugs redirect to the current one.
    assert cat.claim_slug(DID, HANDLE, "third", first.id)
    cat.finish_rename(stored, HANDLE, "Third", "third", "2026-03-02T00:00:00Z")
    assert cat.former_slugs(DID, first.id) == ["first", "renamed"]
    assert cat.current_slug(DID, "first") == "third"
    # A title change alone keeps the slug.
    cat.finish_rename(replace(stored, slug="third"), HANDLE, "THIRD", "third", "2026-03-03T00:00:00Z")
    assert cat.slug_owner(DID, "third") == first.id


def test_a_new_album_takes_over_a_former_slug(cat: Catalogue) -> None:
    first = album()
    cat.create_album(first, HANDLE)
    assert cat.claim_slug(DID, HANDLE, "renamed", first.id)
    cat.finish_rename(first, HANDLE, "Renamed", "renamed", "2026-03-01T00:00:00Z")
    cat.create_album(album(album_id="newcomer"), HANDLE)
    assert cat.former_slugs(DID, first.id) == []
    assert cat.current_slug(DID, "first") is None
    assert cat.slug_owner(DID, "first") == "newcomer"


def test_drop_former_slugs(cat: Catalogue) -> None:
    first = album()
    cat.create_album(first, HANDLE)
    assert cat.claim_slug(DID, HANDLE, "renamed", first.id)
    cat.finish_rename(first, HANDLE, "Renamed", "renamed", "2026-03-01T00:00:00Z")
    assert cat.drop_former_slugs(DID, first.id) == ["first"]
    assert cat.former_slugs(DID, first.id) == []
    assert cat.drop_former_slugs(DID, first.id) == []


def test_rename_refused_when_the_slug_was_taken_or_the_album_went(cat: Catalogue) -> None:
    first, second = album(), album("second")
    cat.create_album(first, HANDLE)
    cat.create_album(second, HANDLE)
    with pytest.raises(ConcurrentUpdate):
        cat.finish_rename(first, HANDLE, "Second", "second", "2026-03-01T00:00:00Z")
    assert cat.slug_owner(DID, "first") == first.id
    cat.delete_album_items(first, HANDLE)
    with pytest.raises(ConcurrentUpdate):
        cat.finish_rename(first, HANDLE, "First again", "first", "2026-03-01T00:00:00Z")


# ---- track records -----------------------------------------------------------------------------


def test_set_track_cids(cat: Catalogue) -> None:
    first = album()
    cat.create_album(first, HANDLE)
    a, b = attach(cat, first, [track(cat, "a", plays=2), track(cat, "b")])
    cat.set_track_cids([a, b], {a.record_uri or "": "bafynew", b.record_uri or "": None})
    found_a, found_b = cat.find_track(a.id), cat.find_track(b.id)
    assert found_a is not None and found_a.record_cid == "bafynew" and found_a.play_count == 2
    assert found_b is not None and found_b.record_cid == b.record_cid
    cat.set_track_cids([], {})


def test_album_track_refs_hold_what_a_rewrite_needs(cat: Catalogue) -> None:
    first = album()
    cat.create_album(first, HANDLE)
    moved = attach(cat, first, [track(cat, "a", plays=2), track(cat, "b", plays=5)])
    cat.create_album(album("second"), HANDLE)
    refs = sorted(cat.album_track_refs(first.id), key=lambda t: t.id)
    keep = ("id", "artist_did", "album_id", "record_uri", "record_cid", "play_count", "created_at")
    assert [[getattr(t, f) for f in keep] for t in refs] == [
        [getattr(t, f) for f in keep] for t in sorted(moved, key=lambda t: t.id)
    ]
    # The rest is left empty: a ref is for writing its record, not for showing the track.
    assert {(t.title, t.file_id) for t in refs} == {("", "")}
    assert cat.album_track_refs("album-second") == []
    # Its CIDs are written as a whole track's would be.
    cat.set_track_cids(refs, {refs[0].record_uri or "": "bafynew"})
    found = cat.find_track(refs[0].id)
    assert found is not None and (found.record_cid, found.title, found.play_count) == ("bafynew", "Track a", 2)


def test_set_track_cids_leaves_out_a_track_that_moved(cat: Catalogue) -> None:
    first = album()
    cat.create_album(first, HANDLE)
    [moved] = attach(cat, first, [track(cat, "a")])
    read_before = replace(moved, album_id=None)  # read where it was before it moved in
    cat.set_track_cids([read_before], {moved.record_uri or "": "bafynew"})
    found = cat.find_track(moved.id)
    assert found is not None and found.record_cid == moved.record_cid and found.album_id == first.id


def test_set_track_cids_compares_with_the_cid_read(cat: Catalogue) -> None:
    first = album()
    cat.create_album(first, HANDLE)
    [moved] = attach(cat, first, [track(cat, "a")])
    cat.set_track_cids([moved], {moved.record_uri or "": "bafynew"})
    # A copy that already has the CID: nothing to write for it.
    cat.set_track_cids([replace(moved, record_cid="bafyother")], {moved.record_uri or "": "bafyother"})
    found = cat.find_track(moved.id)
    assert found is not None and found.record_cid == "bafynew"


def test_set_track_cids_keeps_a_newer_cid_stored_meanwhile(cat: Catalogue) -> None:
    first = album()
    cat.create_album(first, HANDLE)
    a, b = attach(cat, first, [track(cat, "a"), track(cat, "b")])
    # A firehose echo stores b's next version between the mutation's read and its write.
    if isinstance(cat, FakeCatalogue):
        cat.tracks[b.id] = replace(cat.tracks[b.id], record_cid="bafyecho")
    else:
        assert cat.update_track_record(b, replace(b, record_cid="bafyecho"))
    cat.set_track_cids([a, b], {a.record_uri or "": "bafynew", b.record_uri or "": "bafynew"})
    found_a, found_b = cat.find_track(a.id), cat.find_track(b.id)
    assert found_a is not None and found_a.record_cid == "bafynew"
    assert found_b is not None and found_b.record_cid == "bafyecho"


def test_release_tracks(cat: Catalogue) -> None:
    first = album()
    cat.create_album(first, HANDLE)
    kept, gone = attach(cat, first, [track(cat, "a"), track(cat, "b")])
    cat.release_tracks([kept], delete=False, cids={kept.record_uri or "": "bafyafter"})
    cat.release_tracks([gone], delete=True, cids={})
    found = cat.find_track(kept.id)
    assert found is not None and (found.album_id, found.record_cid) == (None, "bafyafter")
    assert cat.find_track(gone.id) is None
    assert [t.id for t in cat.artist_tracks(DID)] == [kept.id]
    cat.release_tracks([kept], delete=False, cids={kept.record_uri or "": "bafyafter"})  # idempotent
    found = cat.find_track(kept.id)
    assert found is not None and found.record_cid == "bafyafter"

import concurrent.futures as cf
import uuid
from dataclasses import replace

import pytest

from albums_core.adapters.dynamodb.catalogue import CatalogueRepository, CatalogueWriter
from albums_core.domain.errors import Conflict
from albums_core.domain.models import Album
from tests.integration.factory import like, make_album, make_artist


def test_slug_is_unique_per_artist(repo: CatalogueRepository) -> None:
    artist = make_artist(repo)
    album, _ = make_album(repo, artist, "Same Name")
    with pytest.raises(Conflict, match="another of your albums already uses that name"):
        repo.create_album(replace(album, id=str(uuid.uuid4())), artist.handle)
    other = make_artist(repo, "bob.test")
    make_album(repo, other, "Same Name")  # another artist may use it


def test_concurrent_creates_of_one_slug_let_exactly_one_win(repo: CatalogueRepository) -> None:
    artist = make_artist(repo)

    def create(n: int) -> bool:
        album = Album(id=str(uuid.uuid4()), artist_did=artist.did, slug="race", title="Race")
        try:
            CatalogueRepository().create_album(album, artist.handle)
            return True
        except Conflict:
            return False

    with cf.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(create, range(10)))
    assert results.count(True) == 1
    assert len(repo.artist_albums(artist.did)) == 1


def test_album_and_tracks_come_back_in_one_query(repo: CatalogueRepository) -> None:
    artist = make_artist(repo)
    album, tracks = make_album(repo, artist, "Full", tracks=3, plays=5)
    loaded = repo.load_album_by_slug(artist.handle, album.slug)
    assert loaded is not None
    _, stored, stored_tracks = loaded
    assert stored.track_count == 3 and stored.total_plays == 15
    assert sorted(t.id for t in stored_tracks) == sorted(t.id for t in tracks)


def test_counters_stay_exact_under_concurrent_adds(repo: CatalogueRepository) -> None:
    """Twenty attaches at once, each the transaction AlbumAdmin's attach commits (the track's
    conditional put and the album's counter ADD): no update lost."""
    from albums_core.domain.models import Track

    artist = make_artist(repo)
    album, _ = make_album(repo, artist, "Busy")

    def add(n: int) -> None:
        r = CatalogueWriter()
        track = Track(
            id=r.next_track_id(),
            title=str(n),
            artist_did=artist.did,
            file_id="f",
            file_type="mp3",
            created_at="2026",
            album_id=album.id,
            play_count=n,
        )
        r.transact_in_batches([r.put_track(track, new=True), r.counter_action(album.id, 1, n, album.title)])

    with cf.ThreadPoolExecutor(8) as pool:
        list(pool.map(add, range(20)))
    stored = repo.get_album(album.id)
    assert stored is not None and stored.track_count == 20 and stored.total_plays == sum(range(20))
    assert [a.id for a in repo.listed_albums_page(10, None)[0]] == [album.id]


def test_a_pointer_to_another_artists_album_serves_nothing(repo: CatalogueRepository) -> None:
    alice = make_artist(repo)
    bob = make_artist(repo, "bob.test")
    album, _ = make_album(repo, bob, "Bobs", tracks=1)
    # A stale pointer under alice's handle (e.g. left by a handle change) naming bob's album.
    repo.client.put_item(
        TableName=repo.table,
        Item={
            "pk": {"S": f"HANDLE#{alice.handle}"},
            "sk": {"S": f"SLUG#{album.slug}"},
            "album_id": {"S": album.id},
            "artist_did": {"S": alice.did},
        },
    )
    assert repo.load_album_by_slug(alice.handle, album.slug) is None


def test_artist_albums_by_title_including_empty_ones(repo: CatalogueRepository) -> None:
    artist = make_artist(repo)
    for title in ["beta", "Alpha", "gamma"]:
        make_album(repo, artist, title, tracks=0 if title == "gamma" else 1)
    assert [a.title for a in repo.artist_albums(artist.did)] == ["Alpha", "beta", "gamma"]


def test_likes_batch(repo: CatalogueRepository) -> None:
    like(repo, "did:plc:fan", 3)
    like(repo, "did:plc:fan", 7)
    like(repo, "did:plc:other", 5)
    assert repo.liked_track_ids("did:plc:fan", list(range(1, 150))) == {3, 7}
    assert repo.liked_track_ids("did:plc:fan", []) == set()

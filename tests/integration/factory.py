"""Catalogue data for tests, written through the repository methods production calls."""

from __future__ import annotations

import uuid

from albums_core.adapters.dynamodb import keys
from albums_core.adapters.dynamodb.catalogue import CatalogueRepository, CatalogueWriter
from albums_core.adapters.dynamodb.codec import to_item
from albums_core.domain.models import Album, Artist, Track
from albums_core.domain.slugs import slugify
from local_runtime.record_server import RecordStore


def make_artist(
    repo: CatalogueRepository,
    handle: str = "alice.test",
    pds_url: str | None = None,
    avatar: str | None = None,
    display_name: str | None = None,
) -> Artist:
    did = "did:plc:" + uuid.uuid5(uuid.NAMESPACE_DNS, handle).hex[:24]
    artist = Artist(did, handle, display_name or handle.split(".")[0].title(), avatar, pds_url)
    repo.put_artist(artist)
    return artist


def make_album(
    repo: CatalogueRepository,
    artist: Artist,
    title: str,
    tracks: int = 0,
    plays: int = 1,
    image_url: str | None = None,
    gate: dict | None = None,
) -> tuple[Album, list[Track]]:
    album_id = str(uuid.uuid4())
    album = Album(
        id=album_id,
        artist_did=artist.did,
        slug=slugify(title),
        title=title,
        image_url=image_url,
        list_uri=f"at://{artist.did}/fm.plyr.list/3l{album_id[:8]}",
        created_at="2026-01-01T00:00:00Z",
    )
    repo.create_album(album, artist.handle)
    made = []
    for n in range(tracks):
        track_id = repo.next_track_id()
        track = Track(
            id=track_id,
            title=f"{title} {n}",
            artist_did=artist.did,
            file_id=f"file{track_id}",
            file_type="mp3",
            created_at=f"2026-02-{n + 1:02d}T00:00:00Z",
            album_id=album_id,
            record_uri=f"at://{artist.did}/fm.plyr.track/3t{track_id:08d}",
            play_count=plays,
            support_gate=gate,
        )
        made.append(track)
    add_tracks(repo, album, made)
    return album, made


# Track puts per transaction, with the album's counter update: as AlbumAdmin's attach commits.
_PER_TRANSACTION = 24


def add_tracks(repo: CatalogueRepository, album: Album, tracks: list[Track]) -> None:
    """What an attach commits once the PDS has the records: each track item put where none
    was and the album's counters ADDed, in one transaction per batch."""
    writer = CatalogueWriter(repo.table, repo._client)
    for start in range(0, len(tracks), _PER_TRANSACTION):
        batch = tracks[start : start + _PER_TRANSACTION]
        writer.transact_in_batches(
            [writer.put_track(t, new=True) for t in batch]
            + [writer.counter_action(album.id, len(batch), sum(t.play_count for t in batch), album.title)]
        )


def like(repo: CatalogueRepository, user_did: str, track_id: int) -> None:
    """A like as the platform stores it (this service only reads likes)."""
    repo.client.put_item(
        TableName=repo.table,
        Item=to_item({**keys.like(user_did, track_id), "track_id": track_id, "user_did": user_did}),
    )


def publish_list(store: RecordStore, album: Album, uris: list[str]) -> None:
    assert album.list_uri
    store.put(
        album.list_uri,
        {
            "$type": "fm.plyr.list",
            "listType": "album",
            "name": album.title,
            "items": [{"subject": {"uri": u, "cid": "bafy"}} for u in uris],
            "createdAt": "2026-01-01T00:00:00Z",
        },
    )

"""Catalogue data for tests, written through the repository."""

from __future__ import annotations

import uuid

from albums_core.models import Album, Artist, Track
from albums_core.repository import CatalogueRepository
from albums_core.slugs import slugify
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
        repo.add_track_to_album(track, album)
        made.append(track)
    return album, made


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

"""The demo catalogue: a few artists, albums with covers and tracks, list records served by
the loopback record server. Idempotent: seeding twice changes nothing."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from albums_core.models import Album, Artist, Track
from albums_core.repository import CatalogueRepository
from albums_core.slugs import slugify
from local_runtime.pngs import solid_png
from local_runtime.record_server import RecordStore

CREATED = "2026-01-{day:02d}T12:00:00Z"


@dataclass
class DemoAlbum:
    id: str
    title: str
    cover: tuple[int, int, int] | None
    tracks: list[str]
    # Indexes into `tracks`, in list-record order (None: no list record).
    list_order: list[int] | None
    description: str | None = None

    @property
    def slug(self) -> str:
        return slugify(self.title)


@dataclass
class DemoArtist:
    did: str
    handle: str
    display_name: str
    avatar: tuple[int, int, int] | None
    albums: list[DemoAlbum]


DEMO = [
    DemoArtist(
        "did:plc:demoaurora7x2kq4mfa3bnw5",
        "aurora.test",
        "Aurora Lane",
        (230, 120, 60),
        [
            DemoAlbum(
                "6f1c2f7e-3b7b-4c59-9a59-0d7c5c7a1a01",
                "Café del Mar Sessions",
                (40, 90, 160),
                ["Sunset Over Ibiza", "Salt Air", "Low Tide"],
                [2, 0, 1],
                "Recorded on a balcony over three summer evenings.",
            ),
            DemoAlbum(
                "6f1c2f7e-3b7b-4c59-9a59-0d7c5c7a1a02",
                "Northern Lights",
                (20, 160, 120),
                ["Aurora", "Polar Night", "Magnetic", "Solar Wind"],
                [0, 1, 2, 3],
            ),
        ],
    ),
    DemoArtist(
        "did:plc:demokenji4h6s2yq7wde8rt3",
        "kenji.test",
        "Kenji Watanabe",
        None,
        [
            DemoAlbum("6f1c2f7e-3b7b-4c59-9a59-0d7c5c7a1a03", "日本語の夜", None, ["東京の雨", "Shinjuku 3AM"], [1, 0]),
        ],
    ),
    DemoArtist(
        "did:plc:demoquiet5m3n8p2r6t4v7wx",
        "quiet.test",
        "Quiet Artist",
        (90, 90, 90),
        [
            DemoAlbum("6f1c2f7e-3b7b-4c59-9a59-0d7c5c7a1a04", "Unreleased", None, [], None),
        ],
    ),
]


def _put_image(s3: Any, bucket: str, base_url: str, rgb: tuple[int, int, int]) -> tuple[str, str, str]:
    data = solid_png(256, 256, rgb)
    thumb = solid_png(96, 96, rgb)
    image_id = hashlib.sha256(data).hexdigest()[:32]
    s3.put_object(Bucket=bucket, Key=f"images/{image_id}.png", Body=data, ContentType="image/png")
    s3.put_object(Bucket=bucket, Key=f"images/{image_id}-96.png", Body=thumb, ContentType="image/png")
    return image_id, f"{base_url}/images/{image_id}.png", f"{base_url}/images/{image_id}-96.png"


def seed_demo(
    repo: CatalogueRepository, s3: Any, bucket: str, covers_base_url: str, pds_url: str, records: RecordStore
) -> dict[str, Any]:
    """Write the demo catalogue; returns a summary for .local/stack.json."""
    summary: list[dict[str, Any]] = []
    track_no = 0
    for artist_spec in DEMO:
        avatar = _put_image(s3, bucket, covers_base_url, artist_spec.avatar)[1] if artist_spec.avatar else None
        artist = Artist(artist_spec.did, artist_spec.handle, artist_spec.display_name, avatar, pds_url)
        repo.put_artist(artist)
        for spec in artist_spec.albums:
            existing = repo.get_album(spec.id)
            image_id = image_url = thumb_url = None
            if spec.cover:
                image_id, image_url, thumb_url = _put_image(s3, bucket, covers_base_url, spec.cover)
            list_uri = f"at://{artist.did}/fm.plyr.list/3demo{spec.id[-4:]}"
            if existing is None:
                album = Album(
                    id=spec.id,
                    artist_did=artist.did,
                    slug=spec.slug,
                    title=spec.title,
                    description=spec.description,
                    image_id=image_id,
                    image_url=image_url,
                    thumbnail_url=thumb_url,
                    list_uri=list_uri,
                    list_cid="bafyreidemolist",
                    created_at=CREATED.format(day=1),
                    updated_at=CREATED.format(day=1),
                )
                repo.create_album(album, artist.handle)
                uris = []
                for n, title in enumerate(spec.tracks):
                    track_no += 1
                    rkey = f"3demotrack{track_no:03d}"
                    uri = f"at://{artist.did}/fm.plyr.track/{rkey}"
                    uris.append(uri)
                    track = Track(
                        id=repo.next_track_id(),
                        title=title,
                        artist_did=artist.did,
                        file_id=hashlib.sha256(uri.encode()).hexdigest()[:16],
                        file_type="mp3",
                        created_at=CREATED.format(day=n + 2),
                        album_id=album.id,
                        record_uri=uri,
                        record_cid=f"bafyreidemo{track_no:03d}",
                        play_count=7 * track_no + n,
                        like_count=track_no % 3,
                        tags=["demo"],
                        duration=180 + 13 * n,
                        audio_storage="r2",
                    )
                    repo.add_track_to_album(track, album)
                if spec.list_order is not None:
                    ordered = [uris[i] for i in spec.list_order]
                    repo.set_track_order(album.id, ordered)
                    records.put(
                        list_uri,
                        {
                            "$type": "fm.plyr.list",
                            "name": spec.title,
                            "listType": "album",
                            "items": [{"subject": {"uri": u, "cid": "bafyreidemo"}} for u in ordered],
                            "createdAt": CREATED.format(day=1),
                        },
                    )
            summary.append({"handle": artist.handle, "slug": spec.slug, "title": spec.title})
    return {"albums": summary}

"""The demo catalogue, published the way artists publish: accounts on the local PDS, profile,
fm.plyr.track and fm.plyr.list records written there, then indexed by the service's own
login and indexing path. Covers go to the covers bucket."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from local_runtime.pngs import solid_png

# albums_core is imported inside the functions: the local runtime sets the functions'
# environment (which Powertools reads at import) before the layer is first imported.

CREATED = "2026-01-{day:02d}T12:00:00.000Z"


@dataclass
class DemoAlbum:
    title: str
    cover: tuple[int, int, int] | None
    tracks: list[str]
    # Indexes into `tracks`, in list-record order.
    list_order: list[int]
    description: str | None = None

    @property
    def slug(self) -> str:
        from albums_core.domain.slugs import slugify

        return slugify(self.title)


@dataclass
class DemoArtist:
    handle: str
    display_name: str
    avatar: tuple[int, int, int] | None
    albums: list[DemoAlbum]


DEMO = [
    DemoArtist(
        "aurora.test",
        "Aurora Lane",
        (230, 120, 60),
        [
            DemoAlbum(
                "Café del Mar Sessions",
                (40, 90, 160),
                ["Sunset Over Ibiza", "Salt Air", "Low Tide"],
                [2, 0, 1],
                "Recorded on a balcony over three summer evenings.",
            ),
            DemoAlbum(
                "Northern Lights", (20, 160, 120), ["Aurora", "Polar Night", "Magnetic", "Solar Wind"], [0, 1, 2, 3]
            ),
        ],
    ),
    DemoArtist(
        "kenji.test",
        "Kenji Watanabe",
        None,
        [
            DemoAlbum("日本語の夜", None, ["東京の雨", "Shinjuku 3AM"], [1, 0]),
        ],
    ),
    DemoArtist(
        "quiet.test",
        "Quiet Artist",
        (90, 90, 90),
        [
            DemoAlbum("Unreleased", None, [], []),
        ],
    ),
]


def demo_accounts() -> list[dict[str, str]]:
    return [
        {"handle": a.handle, "password": secrets.token_urlsafe(12), "email": f"{a.handle}@example.com"} for a in DEMO
    ]


def _put_cover(s3: Any, bucket: str, base_url: str, rgb: tuple[int, int, int]) -> dict[str, str]:
    data = solid_png(256, 256, rgb)
    image_id = hashlib.sha256(data).hexdigest()[:32]
    # Content-hashed keys: stored immutable, as the cover service stores them.
    immutable = "public, max-age=31536000, immutable"
    s3.put_object(
        Bucket=bucket, Key=f"images/{image_id}.png", Body=data, ContentType="image/png", CacheControl=immutable
    )
    thumbnail = solid_png(96, 96, rgb)
    s3.put_object(
        Bucket=bucket, Key=f"images/{image_id}-96.png", Body=thumbnail, ContentType="image/png", CacheControl=immutable
    )
    return {
        "image_id": image_id,
        "image_url": f"{base_url}/images/{image_id}.png",
        "thumbnail_url": f"{base_url}/images/{image_id}-96.png",
    }


# Ten MPEG-1 Layer III frames (128 kbit/s, 44.1 kHz) of silence.
SILENT_MP3 = (b"\xff\xfb\x90\x64" + b"\x00" * 413) * 10


def _upload_blob(pds: Any, data: bytes, mime: str) -> dict[str, Any]:
    from albums_core.adapters.atproto.safe_http import request

    reply = request(
        "POST",
        f"{pds.pds_url}/xrpc/com.atproto.repo.uploadBlob",
        timeout=10,
        max_bytes=100_000,
        allow_loopback=True,
        body=data,
        headers={"Content-Type": mime, "Authorization": f"Bearer {pds.tokens.access_jwt}"},
    )
    if reply.status != 200:
        raise RuntimeError(f"uploadBlob failed: {reply.status} {reply.body}")
    return dict(reply.body["blob"])


def publish_demo(accounts: list[dict[str, str]], s3: Any, bucket: str, covers_base_url: str) -> dict[str, Any]:
    """Publish the demo records on the local PDS and index them; a summary for stack.json."""
    from albums_core import bootstrap
    from albums_core.adapters.dynamodb.catalogue import CatalogueWriter
    from albums_core.adapters.dynamodb.session_store import pds_session
    from albums_core.domain.records import LIST, TRACK

    passwords = {a["handle"]: a["password"] for a in accounts}
    repo = CatalogueWriter()
    albums: list[dict[str, Any]] = []
    for spec in DEMO:
        session, _ = bootstrap.auth().login(spec.handle, passwords[spec.handle])
        pds = pds_session(session)
        profile: dict[str, Any] = {"$type": "app.bsky.actor.profile", "displayName": spec.display_name}
        if spec.avatar:
            profile["avatar"] = _upload_blob(pds, solid_png(128, 128, spec.avatar), "image/png")
        pds.put_record("app.bsky.actor.profile", "self", profile, swap_record=None)
        # Something to play (a quarter-second of silent MP3 on the PDS, one blob for every track),
        # so that a Subsonic app can stream the demo albums.
        audio = _upload_blob(pds, SILENT_MP3, "audio/mpeg")
        for n, album in enumerate(spec.albums):
            uris = []
            for i, title in enumerate(album.tracks):
                uri, _ = pds.create_record(
                    TRACK,
                    {
                        "$type": TRACK,
                        "title": title,
                        "artist": spec.display_name,
                        "album": album.title,
                        "fileType": "mp3",
                        "audioBlob": audio,
                        "duration": 180 + 13 * i,
                        "createdAt": CREATED.format(day=i + 2),
                    },
                )
                uris.append(uri)
            items = []
            for i in album.list_order:
                record = pds.get_record(TRACK, uris[i].rsplit("/", 1)[1])
                assert record is not None
                items.append({"subject": {"uri": uris[i], "cid": record.cid}})
            pds.create_record(
                LIST,
                {
                    "$type": LIST,
                    "name": album.title,
                    "listType": "album",
                    "items": items,
                    "createdAt": CREATED.format(day=n + 1),
                },
            )
        # Logging in again picks up the profile; indexing brings the records in.
        session, artist = bootstrap.auth().login(spec.handle, passwords[spec.handle])
        bootstrap.indexing(repo).sync_artist(artist)
        for album in spec.albums:
            loaded = repo.load_album_by_slug(spec.handle, album.slug)
            assert loaded is not None, album.title
            stored = loaded[1]
            changes: dict[str, Any] = {}
            if album.description:
                changes["description"] = album.description
            if album.cover:
                changes.update(_put_cover(s3, bucket, covers_base_url, album.cover))
            if changes:
                stored = repo.set_album_fields(stored, **changes)
            albums.append({"handle": spec.handle, "slug": stored.slug, "title": stored.title, "id": stored.id})
    return {"albums": albums}

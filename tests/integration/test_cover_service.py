"""Attaching covers against moto: objects under content-hash keys, the album and its page cache
updated, and an old cover deleted only when no album or track still refers to its image_id.
Also the S3 trigger of presigned uploads, invoked as Lambda would."""

from __future__ import annotations

import io
import os
from typing import Any

import pytest
from PIL import Image

from albums_core.adapters.aws_clients import client
from albums_core.adapters.dynamodb.catalogue import CatalogueWriter
from albums_core.adapters.dynamodb.page_cache import AlbumPageCache, album_cache_key, now_ms
from albums_core.adapters.s3_covers import S3CoverStore
from albums_core.domain.cover_images import Cover, process
from albums_core.domain.errors import AlbumNotFound
from albums_core.domain.models import Album, Artist, Track
from albums_core.services.covers import Covers, public_url
from local_runtime.lambda_host import LambdaHost
from local_runtime.processes import MotoServer
from local_runtime.template import Stack
from tests.integration.factory import add_tracks, make_album, make_artist
from tests.integration.write_fixtures import Artist as LoggedIn
from tests.unit.test_covers import noise, padded_png

IMMUTABLE = "public, max-age=31536000, immutable"


def _covers(repo: CatalogueWriter) -> Covers:
    return Covers(repo, S3CoverStore(), AlbumPageCache())


def attach(album: Album, handle: str, cover: Cover, repo: CatalogueWriter) -> dict[str, Any]:
    return _covers(repo).attach(album, handle, cover)


def delete_if_unreferenced(image_id: str, repo: CatalogueWriter) -> bool:
    return _covers(repo).delete_if_unreferenced(image_id)


def is_referenced(image_id: str, repo: CatalogueWriter) -> bool:
    return _covers(repo).is_referenced(image_id)


def upload_form(album: Album) -> dict[str, Any]:
    return _covers(CatalogueWriter()).upload_form(album)


@pytest.fixture
def writer(aws_env: None) -> CatalogueWriter:
    return CatalogueWriter()


@pytest.fixture
def artist(writer: CatalogueWriter) -> Artist:
    return make_artist(writer, "kenji.test")


def bucket() -> str:
    return os.environ["COVERS_BUCKET"]


def keys_in_bucket(prefix: str = "") -> set[str]:
    listed = client("s3").list_objects_v2(Bucket=bucket(), Prefix=prefix)
    return {o["Key"] for o in listed.get("Contents", [])}


def stored(cover: Cover) -> bool:
    present = keys_in_bucket(f"images/{cover.image_id}")
    assert present in (set(), {cover.key, cover.thumbnail_key}), present
    return bool(present)


def new_album(writer: CatalogueWriter, artist: Artist, title: str) -> Album:
    album, _ = make_album(writer, artist, title)
    return album


def fresh(writer: CatalogueWriter, album: Album) -> Album:
    found = writer.get_album(album.id)
    assert found is not None
    return found


def put_track(writer: CatalogueWriter, artist: Artist, track_id: int, image_id: str, album: Album | None) -> Track:
    track = Track(
        id=track_id,
        title=f"track {track_id}",
        artist_did=artist.did,
        file_id=f"file{track_id}",
        file_type="mp3",
        created_at="2026-02-01T00:00:00Z",
        album_id=album.id if album else None,
        record_uri=f"at://{artist.did}/fm.plyr.track/3t{track_id:08d}",
        image_id=image_id,
        image_url=f"https://example.test/{image_id}.png",
    )
    if album:
        add_tracks(writer, album, [track])
    else:
        writer.transact_in_batches([writer.put_track(track)])
    return track


# ---- attach ------------------------------------------------------------------------------------


def test_attach_stores_the_objects_and_updates_the_album(writer: CatalogueWriter, artist: Artist) -> None:
    album = new_album(writer, artist, "First Light")
    cover = process(noise((120, 80)))
    out = attach(album, artist.handle, cover, writer)

    base = os.environ["COVERS_BASE_URL"]
    assert out == {
        "image_url": f"{base}/images/{cover.image_id}.png",
        "image_id": cover.image_id,
        "thumbnail_url": f"{base}/images/{cover.image_id}-96.webp",
    }
    s3 = client("s3")
    original = s3.get_object(Bucket=bucket(), Key=cover.key)
    assert original["ContentType"] == "image/png" and original["CacheControl"] == IMMUTABLE
    assert original["Body"].read() == cover.original
    thumb = s3.get_object(Bucket=bucket(), Key=cover.thumbnail_key)
    assert thumb["ContentType"] == "image/webp" and thumb["Body"].read() == cover.thumbnail
    with Image.open(io.BytesIO(cover.thumbnail)) as img:
        assert img.format == "WEBP" and img.size == (96, 96)

    updated = fresh(writer, album)
    assert (updated.image_id, updated.image_url, updated.thumbnail_url) == (
        cover.image_id,
        out["image_url"],
        out["thumbnail_url"],
    )
    assert updated.updated_at and updated.updated_at != album.updated_at
    assert is_referenced(cover.image_id, writer)


@pytest.mark.parametrize(
    ("fmt", "ext", "content_type"), [("JPEG", "jpg", "image/jpeg"), ("WEBP", "webp", "image/webp")]
)
def test_each_format_is_stored_with_its_content_type(
    writer: CatalogueWriter, artist: Artist, fmt: str, ext: str, content_type: str
) -> None:
    album = new_album(writer, artist, f"Format {fmt}")
    cover = process(noise((40, 40), fmt))
    out = attach(album, artist.handle, cover, writer)
    assert out["image_url"].endswith(f"/images/{cover.image_id}.{ext}")
    head = client("s3").head_object(Bucket=bucket(), Key=cover.key)
    assert head["ContentType"] == content_type


def test_attach_invalidates_the_album_page_cache(writer: CatalogueWriter, artist: Artist) -> None:
    album = new_album(writer, artist, "Cached Page")
    cache = AlbumPageCache()
    key = album_cache_key(artist.handle, album.slug)
    assert cache.put(key, '{"metadata": {"image_url": null}}', now_ms())
    assert cache.get(key) is not None
    attach(album, artist.handle, process(noise()), writer)
    assert cache.get(key) is None


def test_a_cover_for_an_album_deleted_meanwhile_is_404_and_leaves_no_objects(
    writer: CatalogueWriter, artist: Artist
) -> None:
    # The handler found the album, then a delete finished while the image was decoded.
    album = new_album(writer, artist, "Gone Midway")
    writer.delete_album_items(album, artist.handle)
    cover = process(noise((64, 48)))
    with pytest.raises(AlbumNotFound) as err:
        attach(album, artist.handle, cover, writer)
    assert err.value.status == 404 and err.value.detail == "album not found"
    assert keys_in_bucket("images/") == set()
    assert writer.get_album(album.id) is None
    # The same image in use by another album stays.
    kept = new_album(writer, artist, "Keeps It")
    attach(kept, artist.handle, cover, writer)
    doomed = new_album(writer, artist, "Also Gone")
    writer.delete_album_items(doomed, artist.handle)
    with pytest.raises(AlbumNotFound):
        attach(doomed, artist.handle, cover, writer)
    assert stored(cover)


def test_reuploading_the_same_bytes_deletes_nothing(writer: CatalogueWriter, artist: Artist) -> None:
    album = new_album(writer, artist, "Same Again")
    data = noise()
    first = process(data)
    attach(album, artist.handle, first, writer)
    again = process(bytes(data))
    assert again.image_id == first.image_id
    out = attach(fresh(writer, album), artist.handle, again, writer)
    assert out["image_id"] == first.image_id
    assert stored(first)
    assert fresh(writer, album).image_id == first.image_id
    # and once more from a stale album object (the id is the same: still nothing deleted)
    attach(album, artist.handle, process(data), writer)
    assert stored(first)


def test_replacing_an_unshared_cover_deletes_the_old_objects(writer: CatalogueWriter, artist: Artist) -> None:
    album = new_album(writer, artist, "Replaced")
    old, new = process(noise()), process(noise())
    attach(album, artist.handle, old, writer)
    unrelated = process(noise())
    attach(new_album(writer, artist, "Unrelated"), artist.handle, unrelated, writer)

    attach(fresh(writer, album), artist.handle, new, writer)
    assert not stored(old)
    assert stored(new) and stored(unrelated)
    assert fresh(writer, album).image_id == new.image_id


def test_a_cover_shared_by_two_albums_is_deleted_only_when_neither_uses_it(
    writer: CatalogueWriter, artist: Artist
) -> None:
    one, two = new_album(writer, artist, "Side A"), new_album(writer, artist, "Side B")
    shared = process(noise())
    attach(one, artist.handle, shared, writer)
    attach(two, artist.handle, process(noise()), writer)
    attach(fresh(writer, two), artist.handle, shared, writer)  # both albums now use one image_id
    assert fresh(writer, one).image_id == fresh(writer, two).image_id == shared.image_id

    b = process(noise())
    attach(fresh(writer, one), artist.handle, b, writer)
    assert stored(shared), "deleted while album two still uses it"
    assert is_referenced(shared.image_id, writer)

    c = process(noise())
    attach(fresh(writer, two), artist.handle, c, writer)
    assert not stored(shared)
    assert stored(b) and stored(c)


def test_a_shared_cover_survives_for_an_album_of_another_artist(writer: CatalogueWriter, artist: Artist) -> None:
    other = make_artist(writer, "aurora.test")
    mine, theirs = new_album(writer, artist, "Mine"), new_album(writer, other, "Theirs")
    shared = process(noise())
    attach(mine, artist.handle, shared, writer)
    attach(theirs, other.handle, shared, writer)
    attach(fresh(writer, mine), artist.handle, process(noise()), writer)
    assert stored(shared)


@pytest.mark.parametrize("in_album", [True, False], ids=["track-in-another-album", "standalone-track"])
def test_a_cover_a_track_uses_is_kept(writer: CatalogueWriter, artist: Artist, in_album: bool) -> None:
    album = new_album(writer, artist, "Cover Owner")
    old = process(noise())
    attach(album, artist.handle, old, writer)
    holder = new_album(writer, artist, "Track Holder") if in_album else None
    track = put_track(writer, artist, 9001, old.image_id, holder)

    attach(fresh(writer, album), artist.handle, process(noise()), writer)
    assert stored(old), "deleted while a track still uses it"

    writer.transact_in_batches([writer.delete_track_action(track)])
    assert delete_if_unreferenced(old.image_id, writer) is True
    assert not stored(old)


def test_a_track_of_the_same_album_keeps_the_cover(writer: CatalogueWriter, artist: Artist) -> None:
    album = new_album(writer, artist, "Inner Track")
    old = process(noise())
    attach(album, artist.handle, old, writer)
    put_track(writer, artist, 9002, old.image_id, fresh(writer, album))
    attach(fresh(writer, album), artist.handle, process(noise()), writer)
    assert stored(old)


def test_delete_if_unreferenced(writer: CatalogueWriter, artist: Artist) -> None:
    album = new_album(writer, artist, "Referenced")
    used = process(noise())
    attach(album, artist.handle, used, writer)
    assert delete_if_unreferenced(used.image_id, writer) is False
    assert stored(used)

    # objects nothing refers to (left behind by a crash between store and update)
    orphan = process(noise())
    s3 = client("s3")
    for key in (orphan.key, orphan.thumbnail_key):
        s3.put_object(Bucket=bucket(), Key=key, Body=b"x")
    s3.put_object(Bucket=bucket(), Key=f"uploads/{album.id}/pending", Body=b"x")
    assert delete_if_unreferenced(orphan.image_id, writer) is True
    assert not stored(orphan)
    assert stored(used) and f"uploads/{album.id}/pending" in keys_in_bucket("uploads/")
    # nothing left to delete: still True, no error
    assert delete_if_unreferenced(orphan.image_id, writer) is True


def test_attach_on_an_album_made_by_the_write_side(alice: LoggedIn) -> None:
    status, meta = alice.admin().create("Cover Through Admin")
    assert status == 201  # a new album (200 is only for a title the artist already used)
    writer = CatalogueWriter()
    album = writer.get_album(meta["id"])
    assert album is not None
    cover = process(noise())
    out = attach(album, "alice.test", cover, writer)
    page = alice.admin().metadata(fresh(writer, album))
    assert page["image_url"] == out["image_url"] == public_url(cover.key)


# ---- the S3 trigger of presigned uploads ---------------------------------------------------------


@pytest.fixture
def host(aws_env: None, moto: MotoServer, stack: Stack) -> LambdaHost:
    return LambdaHost(stack, moto.url)


def s3_event(key: str, size: int) -> dict[str, Any]:
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": "us-east-1",
                "eventName": "ObjectCreated:Post",
                "s3": {
                    "bucket": {"name": bucket(), "arn": f"arn:aws:s3:::{bucket()}"},
                    "object": {"key": key, "size": size},
                },
            }
        ]
    }


def upload(album: Album, data: bytes) -> str:
    key = str(upload_form(album)["key"])
    client("s3").put_object(Bucket=bucket(), Key=key, Body=data, ContentType="image/png")
    return key


def test_the_trigger_attaches_a_large_valid_upload_and_deletes_it(
    host: LambdaHost, writer: CatalogueWriter, artist: Artist
) -> None:
    album = new_album(writer, artist, "Big Cover")
    data = padded_png(6 * 1024 * 1024)
    key = upload(album, data)
    out = host.invoke("ProcessCoverUploadFunction", s3_event(key, len(data)))
    assert out == {"processed": {key: "attached"}}
    expected = process(data, max_bytes=20 * 1024 * 1024)
    assert fresh(writer, album).image_id == expected.image_id and stored(expected)
    assert keys_in_bucket("uploads/") == set()
    # delivered again (S3 delivers at least once): nothing to do, nothing broken
    again = host.invoke("ProcessCoverUploadFunction", s3_event(key, len(data)))
    assert again == {"processed": {key: "gone"}}
    assert fresh(writer, album).image_id == expected.image_id


@pytest.mark.parametrize(
    "data",
    [b"<html>not an image</html>", b"\xff\xd8\xff\xe0<script>x</script>", b""],
    ids=["text", "polyglot", "empty"],
)
def test_the_trigger_rejects_a_non_image_and_deletes_it(
    host: LambdaHost, writer: CatalogueWriter, artist: Artist, data: bytes
) -> None:
    album = new_album(writer, artist, "Kept Cover")
    kept = process(noise())
    attach(album, artist.handle, kept, writer)
    key = upload(album, data)
    out = host.invoke("ProcessCoverUploadFunction", s3_event(key, len(data)))
    assert out == {"processed": {key: "rejected"}}
    assert keys_in_bucket("uploads/") == set()
    assert fresh(writer, album).image_id == kept.image_id and stored(kept)


def test_the_trigger_rejects_an_upload_over_20mb_and_deletes_it(
    host: LambdaHost, writer: CatalogueWriter, artist: Artist
) -> None:
    album = new_album(writer, artist, "Too Big")
    data = padded_png(20 * 1024 * 1024 + 1)
    key = upload(album, data)
    out = host.invoke("ProcessCoverUploadFunction", s3_event(key, len(data)))
    assert out == {"processed": {key: "rejected"}}
    assert keys_in_bucket("uploads/") == set()
    assert fresh(writer, album).image_id is None


@pytest.mark.parametrize("key", ["uploads/not-a-uuid/abc", "uploads/00000000-0000-4000-8000-000000000000/abc"])
def test_the_trigger_deletes_an_upload_for_no_known_album(host: LambdaHost, writer: CatalogueWriter, key: str) -> None:
    client("s3").put_object(Bucket=bucket(), Key=key, Body=noise())
    out = host.invoke("ProcessCoverUploadFunction", s3_event(key, 100))
    assert out == {"processed": {key: "rejected"}}
    assert keys_in_bucket("uploads/") == set()

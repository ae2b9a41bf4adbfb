"""Black-box: cover uploads over HTTP through the local runtime. Multipart bodies are built by
hand; covers are fetched where the gateway serves the bucket (/covers/...); presigned uploads go
to moto's S3 and are attached (or refused and deleted) by the S3 trigger the runtime pumps.

Every album here is a new album of kenji.test (or aurora.test for the 403), made via POST
/albums, so the demo data other tests read is untouched."""

from __future__ import annotations

import io
import time
import uuid
from collections.abc import Callable
from typing import Any

import boto3
import pytest
import requests
from PIL import ExifTags, Image

from tests.e2e.conftest import Api, Reply
from tests.unit.test_covers import (
    BOUNDARY,
    POLYGLOT,
    SVG,
    TEXT,
    alpha_png,
    assert_no_metadata,
    cmyk_jpeg,
    file_part,
    form,
    form_type,
    gif,
    gps_image,
    heic,
    noise,
    padded_png,
    png_bomb,
    rotated_jpeg,
    solid,
    truncated_jpeg,
)

MB = 1024 * 1024
UNSUPPORTED = "unsupported image type for album. supported: jpeg, jpg, png, webp"
FOREIGN = "you can only upload cover art for your own albums"


# ---- helpers -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def kenji(api: Api) -> str:
    return api.login("kenji.test")


@pytest.fixture(scope="module")
def aurora(api: Api) -> str:
    return api.login("aurora.test")


@pytest.fixture(scope="module")
def s3(api: Api) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=api.state["aws_endpoint_url"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )


def new_album(api: Api, session: str, title: str = "Cover Test") -> dict[str, Any]:
    reply = api.send("POST", "/albums", {"title": f"{title} {uuid.uuid4().hex[:8]}"}, session=session)
    assert reply.status == 201, reply.body
    return dict(reply.json())


def post_cover(
    api: Api,
    album_id: str,
    body: bytes,
    session: str | None,
    content_type: str | None = None,
) -> Reply:
    headers = {"Content-Type": content_type or form_type()}
    if session:
        headers["Cookie"] = f"session_id={session}"
    return api.request("POST", f"/albums/{album_id}/cover", headers=headers, body=body)


def upload(api: Api, album_id: str, data: bytes, session: str | None, **part: Any) -> Reply:
    return post_cover(api, album_id, form(file_part(data, **part)), session)


def accepted(reply: Reply) -> dict[str, str]:
    assert reply.status == 200, (reply.status, reply.body[:500])
    body = reply.json()
    assert set(body) == {"image_url", "image_id", "thumbnail_url"}, body
    return dict(body)


def fetch(api: Api, url: str) -> Reply:
    base = api.state["covers_base_url"]
    assert url.startswith(base + "/"), (url, base)
    return api.get(url)


def served_image(api: Api, url: str, content_type: str) -> Image.Image:
    reply = fetch(api, url)
    assert reply.status == 200, (url, reply.status)
    assert reply.headers["content-type"] == content_type
    img = Image.open(io.BytesIO(reply.body))
    img.load()
    return img


def served_bytes(api: Api, url: str) -> bytes:
    reply = fetch(api, url)
    assert reply.status == 200, (url, reply.status)
    return reply.body


def page_image(api: Api, album: dict[str, Any]) -> str | None:
    reply = api.get(f"/albums/kenji.test/{album['slug']}")
    assert reply.status == 200, reply.body
    return reply.json()["metadata"]["image_url"]


def wait_for(check: Callable[[], bool], seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return check()


def uploads_of(s3: Any, api: Api, album: dict[str, Any]) -> list[str]:
    listed = s3.list_objects_v2(Bucket=api.state["bucket"], Prefix=f"uploads/{album['id']}/")
    return [o["Key"] for o in listed.get("Contents", [])]


@pytest.fixture(scope="module")
def covered(api: Api, kenji: str) -> dict[str, Any]:
    """An album with a known cover, for refusals: the cover must stay what it is."""
    album = new_album(api, kenji, "Refusals")
    album["data"] = noise()
    album["cover"] = accepted(upload(api, album["id"], album["data"], kenji))
    return album


def assert_cover_unchanged(api: Api, album: dict[str, Any]) -> None:
    assert page_image(api, album) == album["cover"]["image_url"]
    assert fetch(api, album["cover"]["image_url"]).status == 200


# ---- refusals by content ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "filename", "content_type", "status", "detail"),
    [
        (TEXT, "cover.png", "image/png", 400, UNSUPPORTED),
        (POLYGLOT, "cover.jpg", "image/jpeg", 400, None),
        (gif(), "cover.gif", "image/gif", 400, UNSUPPORTED),
        (SVG, "cover.svg", "image/svg+xml", 400, UNSUPPORTED),
        (heic(), "cover.heic", "image/heic", 400, UNSUPPORTED),
        (truncated_jpeg(), "cover.jpg", "image/jpeg", 400, None),
        (b"", "cover.png", "image/png", 400, None),
    ],
    ids=["text-named-cover-png", "html-js-polyglot", "gif", "svg", "heic", "truncated-jpeg", "zero-bytes"],
)
def test_what_is_not_a_jpeg_png_or_webp_is_400(
    api: Api,
    kenji: str,
    covered: dict[str, Any],
    data: bytes,
    filename: str,
    content_type: str,
    status: int,
    detail: str | None,
) -> None:
    reply = upload(api, covered["id"], data, kenji, filename=filename, content_type=content_type)
    assert reply.status == status, (reply.status, reply.body)
    body = reply.json()
    assert isinstance(body["detail"], str) and body["detail"]
    if detail:
        assert body["detail"] == detail
    assert_cover_unchanged(api, covered)


def test_a_decompression_bomb_is_refused_fast_without_decoding(api: Api, kenji: str, covered: dict[str, Any]) -> None:
    bomb = png_bomb(20000, 20000)
    assert len(bomb) < 500_000
    reply = upload(api, covered["id"], bomb, kenji)
    assert reply.status == 400, reply.body
    # The pixel cap, from the header's size. That it comes before any pixel is decoded, and
    # costs little CPU time, is tests/unit/test_covers.py::test_decompression_bombs_are_refused_
    # from_the_header (a spy on Pillow's decoder): no clock over HTTP on a busy machine.
    assert "(20000x20000): at most 40 megapixels" in reply.json()["detail"]
    assert_cover_unchanged(api, covered)


def test_one_byte_over_4mb_is_413(api: Api, kenji: str, covered: dict[str, Any]) -> None:
    reply = upload(api, covered["id"], padded_png(4 * MB + 1), kenji)
    assert reply.status == 413 and reply.json() == {"detail": "image too large (max 4MB)"}
    assert_cover_unchanged(api, covered)


# ---- refusals by form ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        (form_type(), form(file_part(solid()), file_part(solid((2, 2))))),
        (form_type(), form(file_part(solid(), name="file"))),
        (form_type(), form(file_part(solid(), name="Image"))),
        ("image/png", solid()),
        ("application/json", b'{"image": "iVBORw0KGgo="}'),
        ("application/octet-stream", solid()),
        ("multipart/form-data", form(file_part(solid()))),
        ("multipart/form-data; boundary=", form(file_part(solid()))),
        ("multipart/form-data; boundary=not-the-one-used", form(file_part(solid()))),
        (form_type(), form(file_part(solid())).replace(BOUNDARY.encode() + b"--", BOUNDARY.encode())),
        (form_type(), form(file_part(solid())).replace(b"\r\n", b"\n")),
    ],
    ids=[
        "two-image-parts",
        "field-named-file",
        "field-named-Image",
        "raw-image-body",
        "json-body",
        "octet-stream-body",
        "no-boundary",
        "empty-boundary",
        "boundary-mismatch",
        "never-closed",
        "lf-only-framing",
    ],
)
def test_a_form_without_exactly_one_image_file_is_422(
    api: Api, kenji: str, covered: dict[str, Any], content_type: str, body: bytes
) -> None:
    reply = post_cover(api, covered["id"], body, kenji, content_type=content_type)
    assert reply.status == 422, (reply.status, reply.body)
    assert isinstance(reply.json()["detail"], str)
    assert_cover_unchanged(api, covered)


def test_an_album_of_another_artist_is_403(api: Api, kenji: str, aurora: str) -> None:
    theirs = new_album(api, aurora, "Aurora's")
    reply = upload(api, theirs["id"], solid(), kenji)
    assert reply.status == 403 and reply.json() == {"detail": FOREIGN}
    form_reply = api.send("POST", f"/albums/{theirs['id']}/cover/upload-url", session=kenji)
    assert form_reply.status == 403 and form_reply.json() == {"detail": FOREIGN}
    page = api.get(f"/albums/aurora.test/{theirs['slug']}").json()["metadata"]
    assert "/covers/images/" not in (page["image_url"] or "")


# Fixed ids: every xdist worker must collect the same test names.
@pytest.mark.parametrize("album_id", [str(uuid.uuid4()), "not-an-album"], ids=["unknown-uuid", "not-an-album"])
def test_an_unknown_album_is_404(api: Api, kenji: str, album_id: str) -> None:
    reply = upload(api, album_id, solid(), kenji)
    assert reply.status == 404 and reply.json() == {"detail": "album not found"}
    assert api.send("POST", f"/albums/{album_id}/cover/upload-url", session=kenji).status == 404


def test_no_session_is_401(api: Api, covered: dict[str, Any]) -> None:
    reply = upload(api, covered["id"], solid(), None)
    assert reply.status == 401 and reply.json() == {"detail": "not authenticated - login required"}
    stale = upload(api, covered["id"], solid(), "unknownsession0000000000")
    assert stale.status == 401
    assert api.send("POST", f"/albums/{covered['id']}/cover/upload-url").status == 401
    assert_cover_unchanged(api, covered)


# ---- accepted covers -----------------------------------------------------------------------------


def test_a_1x1_png_is_attached_served_and_shown(api: Api, kenji: str) -> None:
    album = new_album(api, kenji, "One Pixel")
    before = page_image(api, album)  # fills the page cache
    data = solid((1, 1), (10, 20, 30 + uuid.uuid4().int % 200))
    out = accepted(upload(api, album["id"], data, kenji))
    image_id = out["image_id"]
    assert out["image_url"].endswith(f"/covers/images/{image_id}.png")
    assert out["thumbnail_url"].endswith(f"/covers/images/{image_id}-96.webp")

    original = served_image(api, out["image_url"], "image/png")
    assert original.format == "PNG" and original.size == (1, 1)
    thumb = served_image(api, out["thumbnail_url"], "image/webp")
    assert thumb.format == "WEBP" and thumb.size == (96, 96)
    # the album page shows the new cover at once: the cached page was invalidated
    assert before != out["image_url"]
    assert page_image(api, album) == out["image_url"]


def test_image_id_is_a_content_hash_and_the_same_bytes_delete_nothing(api: Api, kenji: str) -> None:
    album, other = new_album(api, kenji, "Hash One"), new_album(api, kenji, "Hash Two")
    data = noise()
    first = accepted(upload(api, album["id"], data, kenji, filename="a.png"))
    again = accepted(upload(api, album["id"], data, kenji, filename="b.png", content_type="application/octet-stream"))
    assert again == first
    elsewhere = accepted(upload(api, other["id"], data, kenji))
    assert elsewhere["image_id"] == first["image_id"]
    assert accepted(upload(api, other["id"], noise(), kenji))["image_id"] != first["image_id"]
    # re-uploading the same bytes deleted nothing, and album one still uses them
    assert served_bytes(api, first["image_url"]) and served_bytes(api, first["thumbnail_url"])
    assert page_image(api, album) == first["image_url"]


def test_a_replaced_cover_that_nothing_uses_is_deleted(api: Api, kenji: str) -> None:
    album = new_album(api, kenji, "Replaced")
    old = accepted(upload(api, album["id"], noise(), kenji))
    new = accepted(upload(api, album["id"], noise(), kenji))
    assert new["image_id"] != old["image_id"]
    assert fetch(api, old["image_url"]).status == 404
    assert fetch(api, old["thumbnail_url"]).status == 404
    assert fetch(api, new["image_url"]).status == 200
    assert page_image(api, album) == new["image_url"]


def test_a_cover_two_albums_share_survives_one_replacement(api: Api, kenji: str) -> None:
    one, two = new_album(api, kenji, "Shared One"), new_album(api, kenji, "Shared Two")
    data = noise()
    shared = accepted(upload(api, one["id"], data, kenji))
    assert accepted(upload(api, two["id"], data, kenji)) == shared
    accepted(upload(api, one["id"], noise(), kenji))
    assert fetch(api, shared["image_url"]).status == 200, "deleted while album two still shows it"
    assert page_image(api, two) == shared["image_url"]
    accepted(upload(api, two["id"], noise(), kenji))
    assert fetch(api, shared["image_url"]).status == 404


@pytest.mark.parametrize(
    ("fmt", "content_type", "ext"),
    [("JPEG", "image/jpeg", "jpg"), ("PNG", "image/png", "png"), ("WEBP", "image/webp", "webp")],
)
def test_each_format_is_served_with_its_content_type(
    api: Api, kenji: str, fmt: str, content_type: str, ext: str
) -> None:
    album = new_album(api, kenji, f"Format {fmt}")
    # a misleading declared type and name: the bytes decide
    out = accepted(upload(api, album["id"], noise((80, 60), fmt), kenji, filename="x.gif", content_type="image/gif"))
    assert out["image_url"].endswith(f".{ext}")
    assert served_image(api, out["image_url"], content_type).size == (80, 60)
    served_image(api, out["thumbnail_url"], "image/webp")


def test_a_cmyk_jpeg_is_stored_as_an_rgb_jpeg(api: Api, kenji: str) -> None:
    album = new_album(api, kenji, "CMYK")
    out = accepted(upload(api, album["id"], cmyk_jpeg(), kenji, filename="cmyk.jpg", content_type="image/jpeg"))
    original = served_image(api, out["image_url"], "image/jpeg")
    assert original.format == "JPEG" and original.mode == "RGB" and original.size == (64, 48)
    r, g, b = original.getpixel((10, 10))
    assert r > 200 and g < 40 and b < 40


def test_a_png_with_alpha_keeps_it_in_the_thumbnail(api: Api, kenji: str) -> None:
    album = new_album(api, kenji, "Alpha")
    out = accepted(upload(api, album["id"], alpha_png(), kenji))
    thumb = served_image(api, out["thumbnail_url"], "image/webp")
    assert thumb.mode == "RGBA" and thumb.size == (96, 96)
    assert thumb.getpixel((48, 48))[3] < 255
    assert served_image(api, out["image_url"], "image/png").mode == "RGBA"


def test_exif_orientation_6_is_applied(api: Api, kenji: str) -> None:
    album = new_album(api, kenji, "Rotated")
    out = accepted(upload(api, album["id"], rotated_jpeg(), kenji, filename="photo.jpg", content_type="image/jpeg"))
    original = served_image(api, out["image_url"], "image/jpeg")
    assert original.size == (100, 200)
    assert not original.getexif().get(ExifTags.Base.Orientation)
    thumb = served_image(api, out["thumbnail_url"], "image/webp")
    top, bottom = thumb.getpixel((48, 5)), thumb.getpixel((48, 90))
    assert top[0] > 200 and top[2] < 60, top  # red on top once rotated
    assert bottom[2] > 200 and bottom[0] < 60, bottom


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_exif_gps_is_not_served(api: Api, kenji: str, fmt: str) -> None:
    album = new_album(api, kenji, f"GPS {fmt}")
    out = accepted(upload(api, album["id"], gps_image(fmt), kenji))
    assert_no_metadata(served_bytes(api, out["image_url"]))
    assert_no_metadata(served_bytes(api, out["thumbnail_url"]))


def test_exactly_4mb_is_accepted(api: Api, kenji: str) -> None:
    album = new_album(api, kenji, "Four Megabytes")
    data = padded_png(4 * MB)
    assert len(data) == 4 * MB
    out = accepted(upload(api, album["id"], data, kenji))
    assert served_image(api, out["image_url"], "image/png").size == (8, 8)
    assert page_image(api, album) == out["image_url"]


def test_no_filename_works(api: Api, kenji: str) -> None:
    album = new_album(api, kenji, "No Filename")
    out = accepted(upload(api, album["id"], noise(), kenji, filename=None, content_type=None))
    assert page_image(api, album) == out["image_url"]


@pytest.mark.parametrize("filename", ["../../../etc/passwd.png", "..\\..\\evil.png", "/abs/../cover.png"])
def test_a_filename_with_dot_dot_works_and_is_not_used_for_the_key(api: Api, kenji: str, filename: str) -> None:
    album = new_album(api, kenji, "Dot Dot")
    out = accepted(upload(api, album["id"], noise(), kenji, filename=filename))
    base = api.state["covers_base_url"]
    assert out["image_url"] == f"{base}/images/{out['image_id']}.png"
    assert out["thumbnail_url"] == f"{base}/images/{out['image_id']}-96.webp"
    assert fetch(api, out["image_url"]).status == 200


def test_other_fields_next_to_the_image_are_ignored(api: Api, kenji: str) -> None:
    album = new_album(api, kenji, "Extra Fields")
    body = form(
        b'Content-Disposition: form-data; name="title"\r\n\r\nignored',
        file_part(noise()),
        b'Content-Disposition: form-data; name="note"\r\n\r\n--not a boundary',
    )
    out = accepted(
        post_cover(api, album["id"], body, kenji, content_type=f'multipart/form-data; boundary="{BOUNDARY}"')
    )
    assert page_image(api, album) == out["image_url"]


# ---- presigned uploads ---------------------------------------------------------------------------


def upload_form(api: Api, album: dict[str, Any], session: str) -> dict[str, Any]:
    reply = api.send("POST", f"/albums/{album['id']}/cover/upload-url", session=session)
    assert reply.status == 200, reply.body
    body = dict(reply.json())
    assert body["url"].startswith("http://127.0.0.1:"), body["url"]
    assert body["key"].startswith(f"uploads/{album['id']}/") and body["max_bytes"] == 20 * MB
    return body


def post_to_s3(target: dict[str, Any], data: bytes, content_type: str = "image/png") -> requests.Response:
    fields = {**target["fields"], "Content-Type": content_type}
    return requests.post(target["url"], data=fields, files={"file": ("cover.png", data, content_type)}, timeout=60)


def test_a_large_cover_through_the_presigned_form_is_attached(api: Api, kenji: str, s3: Any) -> None:
    album = new_album(api, kenji, "Presigned")
    before = page_image(api, album)
    data = padded_png(6 * MB, base=noise((40, 30)))
    target = upload_form(api, album, kenji)
    sent = post_to_s3(target, data)
    # S3 answers a POST upload 204 No Content (the form sets no success_action_status).
    assert sent.status_code == 204, sent.text[:500]
    assert wait_for(lambda: page_image(api, album) != before), "the trigger did not attach the cover within 10 s"
    image_url = page_image(api, album)
    assert image_url and image_url.startswith(api.state["covers_base_url"] + "/images/") and image_url.endswith(".png")
    assert served_image(api, image_url, "image/png").size == (40, 30)
    thumb_url = image_url.rsplit(".", 1)[0] + "-96.webp"
    assert served_image(api, thumb_url, "image/webp").size == (96, 96)
    assert wait_for(lambda: uploads_of(s3, api, album) == []), "the upload was kept"


def test_a_presigned_upload_gets_the_id_a_direct_upload_of_the_same_bytes_gets(api: Api, kenji: str, s3: Any) -> None:
    direct, presigned = new_album(api, kenji, "Direct"), new_album(api, kenji, "Presigned Twin")
    data = rotated_jpeg() + uuid.uuid4().bytes  # bytes after EOI: still a valid JPEG, and unique
    out = accepted(upload(api, direct["id"], data, kenji, filename="p.jpg", content_type="image/jpeg"))
    assert post_to_s3(upload_form(api, presigned, kenji), data, "image/jpeg").status_code == 204
    assert wait_for(lambda: page_image(api, presigned) == out["image_url"]), page_image(api, presigned)
    assert served_image(api, out["image_url"], "image/jpeg").size == (100, 200)
    assert wait_for(lambda: uploads_of(s3, api, presigned) == [])


@pytest.mark.parametrize(
    ("make", "content_type"),
    [
        (lambda: TEXT, "image/png"),
        (lambda: POLYGLOT, "image/jpeg"),
        (lambda: padded_png(20 * MB + 1), "image/png"),
        (lambda: b"<!doctype html><script>alert(document.domain)</script>", "text/html"),
    ],
    ids=["not-an-image", "polyglot", "over-20mb", "html-as-text-html"],
)
def test_a_presigned_upload_that_is_refused_is_not_kept(
    api: Api, kenji: str, covered: dict[str, Any], s3: Any, make: Callable[[], bytes], content_type: str
) -> None:
    target = upload_form(api, covered, kenji)
    sent = post_to_s3(target, make(), content_type)
    # S3 may refuse it itself (policy: size range, image/ content type), or the trigger refuses it
    assert wait_for(lambda: uploads_of(s3, api, covered) == []), f"upload kept (S3 answered {sent.status_code})"
    assert_cover_unchanged(api, covered)

"""The cover upload trigger's service (services/covers.accept_upload) on the in-memory cover
store: an upload that cannot be attached is rejected and deleted, one already handled is left
alone. Attaching for real (S3, the catalogue, the page cache) is in
tests/integration/test_cover_service.py."""

from __future__ import annotations

import uuid

from albums_core.domain.cover_images import MAX_UPLOAD_BYTES
from albums_core.domain.models import Album, Artist
from albums_core.services.covers import Covers, album_of_upload, check_direct_size
from tests.fakes.covers import FakeCoverStore
from tests.fakes.page_cache import FakePageCache

ALBUM_ID = str(uuid.UUID(int=7))


class Albums:
    """The two catalogue reads the trigger makes."""

    def __init__(self, *albums: Album) -> None:
        self.albums = {a.id: a for a in albums}

    def get_album(self, album_id: str) -> Album | None:
        return self.albums.get(album_id)

    def get_artist(self, did: str) -> Artist | None:
        return Artist(did=did, handle="x.test", display_name="X")


def accept_upload(key: str, size: int, repo: Albums, store: FakeCoverStore) -> str:
    return Covers(repo, store, FakePageCache()).accept_upload(key, size)  # type: ignore[arg-type]


def album() -> Album:
    return Album(
        id=ALBUM_ID,
        artist_did="did:plc:x",
        slug="blue",
        title="Blue",
        created_at="2026-01-01T00:00:00.000Z",
        updated_at="2026-01-01T00:00:00.000Z",
    )


def upload(store: FakeCoverStore, key: str, data: bytes = b"not an image") -> str:
    store.objects[key] = data
    return key


def test_an_upload_for_an_unknown_album_is_rejected_and_deleted() -> None:
    store = FakeCoverStore()
    key = upload(store, f"uploads/{uuid.UUID(int=8)}/abc")
    assert accept_upload(key, 12, Albums(album()), store) == "rejected"  # type: ignore[arg-type]
    assert key not in store.objects


def test_an_upload_under_a_malformed_key_is_rejected_and_deleted() -> None:
    store = FakeCoverStore()
    key = upload(store, "uploads/not-a-uuid/abc")
    assert accept_upload(key, 12, Albums(album()), store) == "rejected"  # type: ignore[arg-type]
    assert key not in store.objects


def test_an_upload_larger_than_allowed_is_rejected_unread() -> None:
    store = FakeCoverStore()
    key = upload(store, f"uploads/{ALBUM_ID}/abc")
    assert accept_upload(key, MAX_UPLOAD_BYTES + 1, Albums(album()), store) == "rejected"  # type: ignore[arg-type]
    assert key not in store.objects


def test_an_upload_that_is_not_an_image_is_rejected_and_deleted() -> None:
    store = FakeCoverStore()
    key = upload(store, f"uploads/{ALBUM_ID}/abc")
    assert accept_upload(key, 12, Albums(album()), store) == "rejected"  # type: ignore[arg-type]
    assert key not in store.objects and not any(k.startswith("images/") for k in store.objects)


def test_an_upload_larger_than_its_notification_said_is_rejected_and_deleted() -> None:
    store = FakeCoverStore()
    key = upload(store, f"uploads/{ALBUM_ID}/abc", b"\x89PNG" + bytes(MAX_UPLOAD_BYTES))
    assert accept_upload(key, 12, Albums(album()), store) == "rejected"  # type: ignore[arg-type]
    assert key not in store.objects


def test_an_upload_delivered_again_after_it_was_handled_is_left_alone() -> None:
    store = FakeCoverStore()
    assert accept_upload(f"uploads/{ALBUM_ID}/gone", 12, Albums(album()), store) == "gone"  # type: ignore[arg-type]


def test_upload_keys_name_their_album() -> None:
    assert album_of_upload(f"uploads/{ALBUM_ID}/abc") == ALBUM_ID
    assert album_of_upload(f"uploads/{ALBUM_ID}") is None
    assert album_of_upload(f"images/{ALBUM_ID}/abc") is None


def test_a_direct_upload_body_is_bounded_with_room_for_its_framing() -> None:
    check_direct_size(4 * 1024 * 1024 + 100, 100)
    try:
        check_direct_size(4 * 1024 * 1024 + 101, 100)
    except Exception as exc:
        assert getattr(exc, "status", None) == 413
    else:
        raise AssertionError("a body over the limit passed")

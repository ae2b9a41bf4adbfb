"""The cover upload trigger's service (services/covers.accept_upload) on the in-memory cover
store: an upload that cannot be attached is rejected and deleted, one already handled is left
alone. Attaching for real (S3, the catalogue, the page cache) is in
tests/integration/test_cover_service.py."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

from albums_core.domain.cover_images import MAX_UPLOAD_BYTES
from albums_core.domain.errors import AlbumNotFound, PreconditionFailed
from albums_core.domain.models import Album, Artist
from albums_core.services.covers import Covers, album_of_upload, check_direct_size, upload_of
from tests.fakes.covers import FakeCoverStore
from tests.fakes.page_cache import FakePageCache
from tests.unit.test_covers import noise

ALBUM_ID = str(uuid.UUID(int=7))


class Albums:
    """The two catalogue reads the trigger makes."""

    def __init__(self, *albums: Album) -> None:
        self.albums = {a.id: a for a in albums}

    def get_album(self, album_id: str) -> Album | None:
        return self.albums.get(album_id)

    def get_artist(self, did: str) -> Artist | None:
        return Artist(did=did, handle="x.test", display_name="X")

    def set_album_fields(
        self, album: Album, *, versioned: bool = False, expected: frozenset[int] | None = None, **changes: Any
    ) -> Album:
        stored = self.albums.get(album.id)
        if stored is None:
            raise AlbumNotFound()
        if versioned and expected is not None and stored.version not in expected:
            raise PreconditionFailed()
        stored = replace(stored, **changes, version=stored.version + versioned)
        self.albums[album.id] = stored
        return stored

    def image_in_use(self, image_id: str) -> bool:
        return any(a.image_id == image_id for a in self.albums.values())


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
    assert upload_of(f"uploads/{ALBUM_ID}/abc") == (ALBUM_ID, None)
    assert upload_of(f"uploads/{ALBUM_ID}/abc-v7") == (ALBUM_ID, frozenset({7}))
    assert upload_of(f"uploads/{ALBUM_ID}/abc-vx") is None
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


def test_an_upload_form_issued_under_if_match_is_attached_only_at_that_version() -> None:
    store = FakeCoverStore()
    repo = Albums(replace(album(), version=3))
    covers = Covers(repo, store, FakePageCache())  # type: ignore[arg-type]
    key = covers.upload_form(repo.albums[ALBUM_ID], frozenset({3}))["key"]
    assert upload_of(key) == (ALBUM_ID, frozenset({3}))
    # The album changes (a rename, another cover) between the form and the upload's arrival.
    repo.albums[ALBUM_ID] = replace(repo.albums[ALBUM_ID], version=4)
    upload(store, key, noise())
    assert covers.accept_upload(key, 12) == "rejected"
    assert store.objects == {}  # the upload and the objects it made are gone
    assert repo.albums[ALBUM_ID].image_id is None and repo.albums[ALBUM_ID].version == 4


def test_an_upload_form_issued_under_if_match_attaches_while_the_album_is_unchanged() -> None:
    store = FakeCoverStore()
    repo = Albums(replace(album(), version=3))
    covers = Covers(repo, store, FakePageCache())  # type: ignore[arg-type]
    key = covers.upload_form(repo.albums[ALBUM_ID], frozenset({3}))["key"]
    upload(store, key, noise())
    assert covers.accept_upload(key, 12) == "attached"
    assert repo.albums[ALBUM_ID].image_id is not None and repo.albums[ALBUM_ID].version == 4
    # Without If-Match the form carries no version: attached whatever the album's version.
    key = covers.upload_form(repo.albums[ALBUM_ID])["key"]
    assert upload_of(key) == (ALBUM_ID, None)
    repo.albums[ALBUM_ID] = replace(repo.albums[ALBUM_ID], version=9)
    upload(store, key, noise())
    assert covers.accept_upload(key, 12) == "attached"

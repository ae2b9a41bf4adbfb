"""Attaching a cover to an album: objects stored under a content-hash key, the album updated,
the page cache invalidated, and the previous cover deleted only when nothing refers to it.
Covers too large for a request arrive through a presigned upload and the S3 trigger."""

from __future__ import annotations

import uuid
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from albums_core.config import settings
from albums_core.domain.cover_images import MAX_DIRECT_BYTES, MAX_UPLOAD_BYTES, Cover, TooLarge, process
from albums_core.domain.errors import AlbumNotFound, PreconditionFailed, ServiceError
from albums_core.domain.models import Album
from albums_core.domain.records import now_iso
from albums_core.observability import logger, metrics
from albums_core.ports import CoverCatalogue, CoverObjects, ImageReferences, PageCache

UPLOAD_PREFIX = "uploads/"
UPLOAD_URL_SECONDS = 600
# Between an upload key's random name and the album version it is held to.
_VERSION_MARK = "-v"


def public_url(key: str) -> str:
    return f"{settings().covers_base_url}/{key}"


def delete_if_unreferenced(image_id: str, repo: ImageReferences, objects: CoverObjects) -> bool:
    """Delete a cover's objects when no album or track refers to it any more. The index is
    eventually consistent: a reference it still shows keeps the objects (the sweep of
    unreferenced objects collects them later); it never deletes a cover in use."""
    if repo.image_in_use(image_id):
        return False
    objects.delete_image(image_id)
    return True


def check_direct_size(body_bytes: int, framing: int) -> None:
    """A direct upload's body (the file plus at most `framing` bytes of multipart around it)."""
    if body_bytes > MAX_DIRECT_BYTES + framing:
        raise TooLarge()


def upload_key(album: Album, expected: frozenset[int] | None) -> str:
    """A fresh key under the album's upload prefix. Issued under an If-Match, it carries the
    album's version (the one the If-Match named): the attach, later, holds the upload to it.
    The presigned form fixes the key, so the uploader cannot change the version."""
    name = uuid.uuid4().hex
    if expected is not None:
        if album.version not in expected:
            raise PreconditionFailed()
        name += f"{_VERSION_MARK}{album.version}"
    return f"{UPLOAD_PREFIX}{album.id}/{name}"


def upload_of(key: str) -> tuple[str, frozenset[int] | None] | None:
    """The album of an upload's key and the versions its attach accepts (None: any); None for
    a key that is not an upload's."""
    parts = key.split("/")
    if len(parts) != 3 or parts[0] + "/" != UPLOAD_PREFIX:
        return None
    try:
        album_id = str(uuid.UUID(parts[1]))
    except ValueError:
        return None
    _, mark, version = parts[2].rpartition(_VERSION_MARK)
    if not mark:
        return album_id, None
    if not (version.isascii() and version.isdigit() and len(version) <= 18):
        return None
    return album_id, frozenset({int(version)})


def album_of_upload(key: str) -> str | None:
    found = upload_of(key)
    return found[0] if found else None


class Covers:
    def __init__(self, repo: CoverCatalogue, objects: CoverObjects, cache: PageCache) -> None:
        self.repo = repo
        self.objects = objects
        self.cache = cache

    def is_referenced(self, image_id: str) -> bool:
        return self.repo.image_in_use(image_id)

    def delete_if_unreferenced(self, image_id: str) -> bool:
        return delete_if_unreferenced(image_id, self.repo, self.objects)

    def attach(self, album: Album, handle: str, cover: Cover, expected: frozenset[int] | None = None) -> dict[str, Any]:
        """The cover becomes the album's: a change of the album, so its version goes up by one
        (checked against `expected`, the request's If-Match). The body carries no version; the
        album as written is `attached(...)`."""
        return self.attached(album, handle, cover, expected)[0]

    def attached(
        self, album: Album, handle: str, cover: Cover, expected: frozenset[int] | None = None
    ) -> tuple[dict[str, Any], Album]:
        self.objects.put(cover)
        old = album.image_id
        try:
            updated = self.repo.set_album_fields(
                album,
                image_id=cover.image_id,
                image_url=public_url(cover.key),
                thumbnail_url=public_url(cover.thumbnail_key),
                updated_at=now_iso(),
                versioned=True,
                expected=expected,
            )
        except (AlbumNotFound, PreconditionFailed):
            # The album was deleted while the image was processed: the objects just stored are
            # nobody's (unless another album or track shares the image) and must not linger.
            self.delete_if_unreferenced(cover.image_id)
            raise
        self.cache.invalidate(self.cache.album_key(handle, album.slug))
        metrics.add_metric(name="CoverAccepted", unit=MetricUnit.Count, value=1)
        if old and old != cover.image_id:
            try:
                self.delete_if_unreferenced(old)
            except Exception:  # noqa: BLE001 - the new cover stands; the sweep collects the old one
                logger.warning("old cover not deleted", extra={"image_id": old}, exc_info=True)
        body = {"image_url": updated.image_url, "image_id": cover.image_id, "thumbnail_url": updated.thumbnail_url}
        return body, updated

    def attach_direct(
        self, album: Album, handle: str, data: bytes, expected: frozenset[int] | None = None
    ) -> tuple[dict[str, Any], int]:
        """A cover sent in the request itself (at most MAX_DIRECT_BYTES), checked then attached;
        with the album's version after it."""
        body, updated = self.attached(album, handle, process(data), expected)
        return body, updated.version

    def upload_form(self, album: Album, expected: frozenset[int] | None = None) -> dict[str, Any]:
        """A presigned POST for a cover too large for a direct upload: one key under the upload
        prefix, a size range and an image content type enforced by S3. Under an If-Match
        (`expected`), the upload is attached only while the album is still at that version."""
        key = upload_key(album, expected)
        form = self.objects.upload_form(key, MAX_UPLOAD_BYTES, UPLOAD_URL_SECONDS)
        return {
            "url": form["url"],
            "fields": form["fields"],
            "key": key,
            "max_bytes": MAX_UPLOAD_BYTES,
            "expires_in": UPLOAD_URL_SECONDS,
        }

    def accept_upload(self, key: str, size: int) -> str:
        """An object arrived under uploads/ (the S3 trigger): check it exactly like a direct
        upload, attach it to its album (at the version its key carries, if any), and delete the
        upload either way. Returns "attached", "rejected" or "gone" (delivered again after it was
        handled)."""
        try:
            upload = upload_of(key)
            album = self.repo.get_album(upload[0]) if upload else None
            if album is None or upload is None:
                raise ServiceError("upload for an unknown album")
            if size > MAX_UPLOAD_BYTES:
                raise ServiceError("upload larger than allowed")
            data = self.objects.read(key, MAX_UPLOAD_BYTES)
            if data is None:
                return "gone"
            artist = self.repo.get_artist(album.artist_did)
            if artist is None:
                raise ServiceError("album without an artist")
            # A form issued under an If-Match: refused (412, objects cleaned up) when the album
            # changed since, checked in the album's own conditional write.
            self.attach(album, artist.handle, process(data, max_bytes=MAX_UPLOAD_BYTES), upload[1])
            outcome = "attached"
        except ServiceError as exc:
            metrics.add_metric(name="CoverRejected", unit=MetricUnit.Count, value=1)
            logger.info("cover upload rejected", extra={"key": key, "reason": exc.detail})
            outcome = "rejected"
        # Attached covers live under images/; the upload itself is never kept.
        self.objects.delete(key)
        return outcome

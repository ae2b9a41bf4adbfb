"""What the catalogue stream's records mean for the service (the cleanup function's logic):
finish album deletions, keep caches right, delete covers nothing refers to. Every handler is
idempotent: records arrive at least once, and out of order across shards."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, ClassVar

from albums_core.adapters import sqs_dead_letters
from albums_core.adapters.dynamodb.attempts import count_attempt
from albums_core.adapters.dynamodb.catalogue import CatalogueWriter
from albums_core.adapters.dynamodb.page_cache import invalidate_album_cache, invalidate_album_cache_by_id
from albums_core.adapters.dynamodb.stream_images import item_change
from albums_core.observability import logger
from albums_core.services.cleanup import PENDING, run_job
from albums_core.services.covers import delete_if_unreferenced
from albums_core.services.firehose.like_reread import LIKES_JOB
from albums_core.services.indexer import INDEX_JOB, run_backfill

# After this many failed attempts a record goes to the dead-letter queue and the shard moves on.
MAX_ATTEMPTS = 3
_IMAGE_ID = re.compile(r"^[0-9a-f]{32}$")


class PoisonRecord(ValueError):
    """A record that cannot be handled however often it is retried."""


def _image_id(item: dict[str, Any]) -> str | None:
    image_id = item.get("image_id")
    if image_id is None:
        return None
    if not isinstance(image_id, str) or not _IMAGE_ID.match(image_id):
        raise PoisonRecord(f"malformed image id {image_id!r}")
    return image_id


class PageInvalidations:
    """The album pages a batch of stream records makes stale, each dropped once when the batch
    is handled (`flush`), however many of its records touch the album: a rename of 100 tracks
    is 100 track records of one album page.

    Albums whose own REMOVE record was seen need no lookup: their page was dropped by that
    record, and an album id never comes back (it is derived from a new list record key). They
    are remembered for the container's life too, as the tracks of a large album are removed
    by its cleanup job, batches after the album."""

    _GONE_KEPT = 4096
    _gone: ClassVar[dict[str, None]] = {}  # shared by the container's invocations, oldest first

    def __init__(self, repo: CatalogueWriter | None = None) -> None:
        self.repo = repo or CatalogueWriter()
        self.albums: dict[str, None] = {}

    @classmethod
    def album_removed(cls, album_id: str) -> None:
        cls._gone[album_id] = None
        while len(cls._gone) > cls._GONE_KEPT:
            del cls._gone[next(iter(cls._gone))]

    def add(self, album_id: str) -> None:
        self.albums[album_id] = None

    def flush(self) -> None:
        for album_id in self.albums:
            if album_id not in self._gone:
                invalidate_album_cache_by_id(album_id, repo=self.repo)
        self.albums.clear()


def handle(
    record: dict[str, Any],
    repo: CatalogueWriter | None = None,
    pages: PageInvalidations | None = None,
    likes: Callable[[str], str] | None = None,
) -> str:
    """One stream record. Album pages to drop go to `pages` (dropped when the caller flushes
    it, once per batch); without one they are dropped before this returns. `likes` runs a like
    re-read job (bootstrap.firehose.like_reread().run)."""
    repo = repo or CatalogueWriter()
    if pages is None:
        pages = PageInvalidations(repo)
        try:
            return handle(record, repo, pages, likes)
        finally:
            pages.flush()
    change = item_change(record)
    new, old, event = change.new, change.old, change.event
    if change.kind == "job" and new is not None and new.get("status") == PENDING:
        if new.get("kind") == INDEX_JOB:
            return run_backfill(str(new["job_id"]), repo)
        if new.get("kind") == LIKES_JOB:
            if likes is None:
                raise RuntimeError("a like re-read job, and no like re-read wired")
            return likes(str(new["job_id"]))
        return run_job(str(new["job_id"]), repo)
    if change.kind == "album" and event == "REMOVE" and old is not None:
        if old.get("id"):
            PageInvalidations.album_removed(str(old["id"]))
        image_id = _image_id(old)
        artist = repo.get_artist(str(old.get("artist_did")))
        # Its former slugs end with it (their redirects were dropped with them).
        former = repo.drop_former_slugs(str(old.get("artist_did")), str(old["id"])) if old.get("id") else []
        if artist is not None:
            for slug in [str(old.get("slug")), *former]:
                invalidate_album_cache(artist.handle, slug)
        if image_id:
            delete_if_unreferenced(image_id, repo)
        return "album removed"
    if change.kind == "track":
        albums = {str(i.get("album_id")) for i in (old, new) if i and i.get("album_id")}
        for album_id in albums:
            pages.add(album_id)
        if event == "REMOVE" and old is not None:
            image_id = _image_id(old)
            if image_id:
                delete_if_unreferenced(image_id, repo)
        return "track changed"
    return "ignored"


def dead_letter(record: dict[str, Any], reason: str) -> None:
    sqs_dead_letters.send(record, reason)


def handle_with_dead_letters(
    record: dict[str, Any], pages: PageInvalidations | None = None, likes: Callable[[str], str] | None = None
) -> str:
    """Handle a record; a failure is re-raised (the batch reports it and it is retried) until
    its MAX_ATTEMPTS-th time, when the whole record goes to the dead-letter queue instead."""
    try:
        return handle(record, pages.repo if pages else None, pages, likes)
    except Exception as exc:
        attempts = count_attempt(str(record.get("eventID")))
        if attempts < MAX_ATTEMPTS and not isinstance(exc, PoisonRecord):
            logger.warning("stream record failed; it will be retried", extra={"attempts": attempts}, exc_info=True)
            raise
        dead_letter(record, f"{type(exc).__name__}: {exc}")
        logger.error("stream record sent to the dead-letter queue", extra={"event_id": record.get("eventID")})
        return "dead-lettered"

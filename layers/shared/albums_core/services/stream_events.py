"""What the catalogue stream's records mean for the service (the cleanup function's logic):
finish album deletions, keep caches right, delete covers nothing refers to. Every handler is
idempotent: records arrive at least once, and out of order across shards."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, ClassVar

from albums_core.observability import logger
from albums_core.ports import CoverObjects, PageCache, StreamCatalogue, StreamPlumbing
from albums_core.services.cleanup import PENDING, Cleanup
from albums_core.services.covers import delete_if_unreferenced
from albums_core.services.firehose.like_reread import LIKES_JOB
from albums_core.services.indexer import INDEX_JOB, Indexing

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

    def __init__(self, repo: StreamCatalogue, cache: PageCache) -> None:
        self.repo = repo
        self.cache = cache
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
                self._invalidate(album_id)
        self.albums.clear()

    def _invalidate(self, album_id: str) -> None:
        """Look up the album's handle and slug, then drop its cached page. Never raises."""
        try:
            album = self.repo.get_album(album_id)
            if album is None:
                return
            artist = self.repo.get_artist(album.artist_did)
            if artist is None:
                return
            self.cache.invalidate(self.cache.album_key(artist.handle, album.slug))
        except Exception:  # noqa: BLE001
            logger.warning("cache invalidation by id failed", extra={"album_id": album_id}, exc_info=True)


class StreamEvents:
    """What each record of the catalogue stream calls for."""

    def __init__(
        self,
        repo: StreamCatalogue,
        cache: PageCache,
        objects: CoverObjects,
        plumbing: StreamPlumbing,
        cleanup: Cleanup,
        indexing: Indexing,
        like_reread: Callable[[str], str],
    ) -> None:
        self.repo = repo
        self.cache = cache
        self.objects = objects
        self.plumbing = plumbing
        self.cleanup = cleanup
        self.indexing = indexing
        self.like_reread = like_reread

    def pages(self) -> PageInvalidations:
        return PageInvalidations(self.repo, self.cache)

    def handle(self, record: dict[str, Any], pages: PageInvalidations | None = None) -> str:
        """One stream record. Album pages to drop go to `pages` (dropped when the caller flushes
        it, once per batch); without one they are dropped before this returns."""
        if pages is None:
            pages = self.pages()
            try:
                return self.handle(record, pages)
            finally:
                pages.flush()
        change = self.plumbing.decode(record)
        new, old, event = change.new, change.old, change.event
        if change.kind == "job" and new is not None and new.get("status") == PENDING:
            return self._run_job(new)
        if change.kind == "album" and event == "REMOVE" and old is not None:
            return self._album_removed(old)
        if change.kind == "track":
            albums = {str(i.get("album_id")) for i in (old, new) if i and i.get("album_id")}
            for album_id in albums:
                pages.add(album_id)
            if event == "REMOVE" and old is not None:
                image_id = _image_id(old)
                if image_id:
                    delete_if_unreferenced(image_id, self.repo, self.objects)
            return "track changed"
        return "ignored"

    def _run_job(self, new: dict[str, Any]) -> str:
        if new.get("kind") == INDEX_JOB:
            return self.indexing.run_backfill(str(new["job_id"]))
        if new.get("kind") == LIKES_JOB:
            return self.like_reread(str(new["job_id"]))
        return self.cleanup.run_job(str(new["job_id"]))

    def _album_removed(self, old: dict[str, Any]) -> str:
        if old.get("id"):
            PageInvalidations.album_removed(str(old["id"]))
        image_id = _image_id(old)
        artist = self.repo.get_artist(str(old.get("artist_did")))
        # Its former slugs end with it (their redirects were dropped with them).
        former = self.repo.drop_former_slugs(str(old.get("artist_did")), str(old["id"])) if old.get("id") else []
        if artist is not None:
            for slug in [str(old.get("slug")), *former]:
                self.cache.invalidate(self.cache.album_key(artist.handle, slug))
        if image_id:
            delete_if_unreferenced(image_id, self.repo, self.objects)
        return "album removed"

    def handle_with_dead_letters(self, record: dict[str, Any], pages: PageInvalidations | None = None) -> str:
        """Handle a record; a failure is re-raised (the batch reports it and it is retried) until
        its MAX_ATTEMPTS-th time, when the whole record goes to the dead-letter queue instead."""
        try:
            return self.handle(record, pages)
        except Exception as exc:
            attempts = self.plumbing.count_attempt(str(record.get("eventID")))
            if attempts < MAX_ATTEMPTS and not isinstance(exc, PoisonRecord):
                logger.warning("stream record failed; it will be retried", extra={"attempts": attempts}, exc_info=True)
                raise
            self.plumbing.dead_letter(record, f"{type(exc).__name__}: {exc}")
            logger.error("stream record sent to the dead-letter queue", extra={"event_id": record.get("eventID")})
            return "dead-lettered"

"""The scheduled sweep: what TTLs and triggers leave behind. Covers nothing refers to (older
than a day), abandoned uploads, expired cache and session items DynamoDB has not removed
yet, and artists not indexed for a while. Bounded work per run; where a run stops, the
next one goes on (its cursors are kept in a state item). `now` is injectable for tests."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from albums_core.config import settings
from albums_core.domain.cover_images import IMAGE_PREFIX
from albums_core.domain.models import Artist
from albums_core.observability import logger
from albums_core.ports import ArtistWrites, ImageReferences, ListedObjects, StoredObject, SweepStore
from albums_core.services.covers import UPLOAD_PREFIX


def _stamp(moment: datetime) -> str:
    """The format of every timestamp we store (records.now_iso), so strings compare in order."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


GRACE = timedelta(days=1)
_IMAGE_KEY = re.compile(r"^images/([0-9a-f]{32})[.-]")


class SweptCatalogue(ImageReferences, ArtistWrites, Protocol):
    pass


class Resync(Protocol):
    """The indexing of one artist's whole repository (services.indexer.Indexing)."""

    def sync_artist(self, artist: Artist) -> dict[str, int]: ...


class Sweep:
    def __init__(
        self,
        now: datetime,
        budget: int = 500,
        *,
        repo: SweptCatalogue,
        objects: ListedObjects,
        store: SweepStore,
        indexing: Resync,
    ) -> None:
        self.now = now
        self.budget = budget
        self.repo = repo
        self.store = store
        self.objects = objects
        self.indexing = indexing
        self.report: dict[str, int] = {
            "covers_deleted": 0,
            "uploads_deleted": 0,
            "cache_items_deleted": 0,
            "sessions_deleted": 0,
            "artists_resynced": 0,
        }
        self.state: dict[str, Any] = self.store.load_state()

    # ---- S3 -------------------------------------------------------------------------------

    def _objects(self, prefix: str, cursor_name: str) -> list[StoredObject]:
        objects, self.state[cursor_name] = self.objects.list_page(prefix, self.budget, self.state.get(cursor_name))
        return objects

    def covers(self) -> None:
        stale = self.now - GRACE
        doomed: list[str] = []
        checked: dict[str, bool] = {}
        for obj in self._objects(IMAGE_PREFIX, "covers_cursor"):
            match = _IMAGE_KEY.match(obj.key)
            if not match or obj.last_modified > stale:
                continue
            image_id = match.group(1)
            if image_id not in checked:
                checked[image_id] = self.repo.image_in_use(image_id)
            if not checked[image_id]:
                doomed.append(obj.key)
        self._delete_objects(doomed, "covers_deleted")

    def uploads(self) -> None:
        stale = self.now - GRACE
        doomed = [o.key for o in self._objects(UPLOAD_PREFIX, "uploads_cursor") if o.last_modified <= stale]
        self._delete_objects(doomed, "uploads_deleted")

    def _delete_objects(self, object_keys: list[str], counter: str) -> None:
        self.objects.delete_keys(object_keys)
        self.report[counter] += len(object_keys)

    # ---- DynamoDB TTL stragglers ------------------------------------------------------------

    def expired(self, table: str, key: str, cursor_name: str, counter: str) -> None:
        deleted, self.state[cursor_name] = self.store.delete_expired(
            table, key, self.now.timestamp(), self.budget, self.state.get(cursor_name)
        )
        self.report[counter] += deleted

    # ---- re-indexing ------------------------------------------------------------------------

    def resync(self, limit: int = 5) -> None:
        cutoff = _stamp(self.now - timedelta(seconds=settings().resync_after_seconds))
        artists, self.state["artists_cursor"] = self.store.stale_artists(
            cutoff, self.budget, self.state.get("artists_cursor")
        )
        for artist in artists[:limit]:
            if not artist.pds_url:
                continue
            try:
                self.indexing.sync_artist(artist)
            except Exception:  # noqa: BLE001 - one artist's PDS being down does not stop the sweep
                logger.warning("re-indexing failed", extra={"did": artist.did}, exc_info=True)
                continue
            self.repo.mark_synced(artist.did, self.now.isoformat(), must_exist=False)
            self.report["artists_resynced"] += 1

    def run(self) -> dict[str, int]:
        cfg = settings()
        self.covers()
        self.uploads()
        self.expired(cfg.cache_table, "cache_key", "cache_cursor", "cache_items_deleted")
        self.expired(cfg.sessions_table, "session_key", "sessions_cursor", "sessions_deleted")
        self.resync()
        self.store.save_state(self.state)
        return self.report

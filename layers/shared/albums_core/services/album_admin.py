"""An artist managing their albums: every change lands on their PDS first (read-modify-write,
swap-guarded), then in the catalogue, then the cache is invalidated. A PDS failure answers
502 and leaves a state from which the same request, repeated, finishes the job.

The catalogue, the PDS writer (and session), the page cache and the deletion jobs are ports
(albums_core.ports) given to the constructor: albums_core.bootstrap gives the production
adapters, tests/unit/test_album_admin.py the in-memory fakes. Request bodies are
typed and bounded by http.request_models before they get here: what is checked here are the
rules of the domain (whose tracks, which album, how many)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from albums_core.domain import list_records
from albums_core.domain.errors import (
    AlbumNotFound,
    Conflict,
    Forbidden,
    ListNotFound,
    PreconditionFailed,
    TrackTaken,
    Unprocessable,
)
from albums_core.domain.models import Album, Track
from albums_core.domain.record_edits import DELETE, Edit
from albums_core.domain.records import (
    LIST,
    album_id_for,
    new_tid,
    now_iso,
)
from albums_core.domain.slugs import slugify
from albums_core.domain.text_rules import clean_description, clean_title
from albums_core.observability import metrics
from albums_core.ports import Catalogue, DeletionJobs, PageCache, Pds, PdsWriter
from albums_core.services import cleanup
from albums_core.services.album_membership import (
    DROP_ALBUM,
    LEASE_SECONDS,
    MAX_TRACKS,
    AlbumMembership,
    cids_of,
    set_album,
)
from albums_core.services.auth import Caller

UNSET: Any = object()
TRACK_TAKEN = TrackTaken.detail
SLUG_TAKEN = "another of your albums already uses that name"

__all__ = ["MAX_TRACKS", "TRACK_TAKEN", "UNSET", "AlbumAdmin", "AlbumCaller"]


@dataclass(frozen=True)
class AlbumCaller(Caller):
    """The caller of an album's endpoint, with the album the guard loaded: the request reads
    it once (the handler's `AlbumAdmin` takes it from here instead of loading it again)."""

    album: Album | None = None
    # The album versions the request's If-Match accepts (None: no If-Match, or `*`).
    expected: frozenset[int] | None = None


def _valid_album_id(album_id: str) -> bool:
    try:
        return str(uuid.UUID(album_id)) == album_id.lower() and len(album_id) == 36
    except (ValueError, AttributeError):
        return False


def _delete(_: dict[str, Any]) -> Any:
    return DELETE


class AlbumAdmin(AlbumMembership):
    def __init__(
        self,
        caller: Caller,
        *,
        repo: Catalogue,
        cache: PageCache,
        jobs: DeletionJobs,
        writer: PdsWriter,
        pds: Pds | None = None,
    ) -> None:
        self.caller = caller
        self.did = caller.artist.did
        self.handle = caller.artist.handle
        self.repo = repo
        self.cache = cache
        self.jobs = jobs
        self.writer = writer
        self._pds = pds
        # The album's version after this request's change (its ETag), once known.
        self.version: int | None = None

    @property
    def pds(self) -> Pds:
        """The artist's PDS session, opened on first use (a request refused before any PDS
        call never unseals the session's tokens)."""
        if self._pds is None:
            self._pds = self.writer.open(self.caller.session)
        return self._pds

    # ---- shared ----------------------------------------------------------------------------

    def owned(self, album_id: str, message: str) -> Album:
        """The album, which must exist (404) and be the caller's (403 with `message`)."""
        known = getattr(self.caller, "album", None)
        if isinstance(known, Album) and known.id == album_id:
            # Loaded by the guard of this request (and checked there).
            album: Album | None = known
        else:
            album = self.repo.get_album(album_id) if _valid_album_id(album_id) else None
        if album is None:
            raise AlbumNotFound()
        if album.artist_did != self.did:
            raise Forbidden(message)
        self.check_version(album)
        return album

    def check_version(self, album: Album) -> None:
        """Early 412 from the album as read (no write yet); the lease checks it again atomically."""
        expected = getattr(self.caller, "expected", None)
        if expected is not None and album.version not in expected:
            raise PreconditionFailed()

    def list_album(self, rkey: str) -> Album:
        """The caller's album whose list record is `at://<caller>/fm.plyr.list/<rkey>`: another
        artist's key, or any list that is not one of the caller's albums, is 404."""
        uri = f"at://{self.did}/{LIST}/{rkey}"
        known = getattr(self.caller, "album", None)
        if isinstance(known, Album) and known.list_uri == uri:
            return known  # loaded by the guard of this request
        album = self.repo.get_album(album_id_for(uri)) if self.writer.is_record_key(rkey) else None
        if album is None or album.list_uri != uri or album.artist_did != self.did:
            raise ListNotFound()
        self.check_version(album)
        return album

    @contextmanager
    def locked(self, album: Album) -> Iterator[Album]:
        """One multi-step change of an album at a time: concurrent ones get 409 instead of
        racing on the PDS and the slug claims. Yields the album as the lease found it."""
        token = uuid.uuid4().hex
        current = self.repo.lock_album(album.id, token, LEASE_SECONDS, getattr(self.caller, "expected", None))
        if current is None:
            raise Conflict("this album is being changed by another request; try again")
        self.version = current.version
        failed = False
        try:
            yield current
        except BaseException:
            # The request answers an error: the version the lease added is taken back, so the
            # same request with the same If-Match can be repeated to finish the job.
            failed = True
            raise
        finally:
            self.repo.unlock_album(album.id, token, undo_version=failed)

    # ---- create ------------------------------------------------------------------------------

    def create(self, title: str, description: str | None = None) -> tuple[int, dict[str, Any]]:
        clean = clean_title(title)
        text = clean_description(description)
        slug = slugify(clean)
        existing = self.repo.slug_owner(self.did, slug)
        if existing is None:
            now = now_iso()
            list_uri = f"at://{self.did}/{LIST}/{new_tid()}"
            album = Album(
                id=album_id_for(list_uri),
                artist_did=self.did,
                slug=slug,
                title=clean,
                description=text,
                list_uri=list_uri,
                created_at=now,
                updated_at=now,
            )
            try:
                self.repo.create_album(album, self.handle)
                status = 201
            except Conflict:
                existing = self.repo.slug_owner(self.did, slug)
        if existing is not None:
            found = self.repo.get_album(existing)
            if found is None:
                raise Conflict(SLUG_TAKEN)
            album, status = found, 200
        album = self.ensure_list_record(album)
        self._invalidate(slug)
        if status == 201:
            metrics.add_metric(name="AlbumCreated", unit=MetricUnit.Count, value=1)
        return status, self.metadata(album)

    # ---- the mutations of an existing album: owner checked, then the album's lease ----------

    def _guarded(self, album_id: str, message: str, work: Callable[..., Any], *args: Any) -> Any:
        return self._leased(self.owned(album_id, message), work, *args)

    def _leased(self, album: Album, work: Callable[..., Any], *args: Any) -> Any:
        with self.locked(album) as current:
            try:
                # The lease's update returned the album: no read of it after the lease.
                return work(current, *args)
            finally:
                # Also after a failure: the PDS may already show part of the change.
                self._invalidate(album.slug)

    def attach(self, album_id: str, uris: list[str]) -> dict[str, Any]:
        return self._guarded(album_id, "you can only modify your own albums", self._attach, uris)

    def reorder(self, album_id: str, track_ids: list[int]) -> dict[str, Any]:
        return self._guarded(album_id, "you can only modify your own albums", self._reorder, track_ids)

    def reorder_list(self, rkey: str, uris: list[str]) -> dict[str, Any]:
        """The web app's reorder: the album's list record by its key, the tracks' record URIs
        in the new order (their CIDs are not taken: the list pins the records' current ones)."""
        return self._leased(self.list_album(rkey), self._reorder_list, uris)

    def remove_track(self, album_id: str, track_id: int) -> dict[str, Any]:
        return self._guarded(album_id, "you can only modify your own albums", self._remove_track, track_id)

    def update(self, album_id: str, title: object = UNSET, description: object = UNSET) -> dict[str, Any]:
        return self._guarded(album_id, "you can only update your own albums", self._update, title, description)

    def delete(self, album_id: str, cascade: bool) -> dict[str, Any]:
        return self._guarded(album_id, "you can only delete your own albums", self._delete_album, cascade)

    # ---- title and description ---------------------------------------------------------------

    def _update(self, album: Album, title: object = UNSET, description: object = UNSET) -> dict[str, Any]:
        if title is UNSET and description is UNSET:
            raise Unprocessable("give a title and/or a description to change")
        new_title = clean_title(title) if title is not UNSET else album.title
        new_description = clean_description(description) if description is not UNSET else album.description
        old_slug = album.slug
        tracks: list[Track] | None = None
        if new_title != album.title:
            album, tracks = self._rename(album, new_title)
        if new_description != album.description:
            album = self.repo.set_album_fields(album, description=new_description, updated_at=now_iso())
        if album.slug != old_slug:
            self._invalidate(album.slug)  # the old one: as the lease ends (_leased)
        return self.metadata(album, tracks)

    def _rename(self, album: Album, title: str) -> tuple[Album, list[Track]]:
        """The album renamed, and its tracks (read under the lease) with their records' new CIDs."""
        slug = slugify(title)
        if slug != album.slug and not self.repo.claim_slug(self.did, self.handle, slug, album.id):
            raise Conflict(SLUG_TAKEN)
        try:
            album = self.ensure_list_record(album)
            assert album.list_uri
            # The tracks (projected) and the artist's count, while the PDS's commit and list record are read.
            (tracks, sizes), head = self.read_for_write(album, partial(self.tracks_and_sizes, album))
            edits = [Edit(t.record_uri, set_album(title)) for t in tracks if t.record_uri]
            edits.append(Edit(album.list_uri, partial(list_records.renamed, name=title, now=now_iso())))
            cids = cids_of(self.records.write(edits, head, sizes))
        except Exception:
            if slug != album.slug:
                self.repo.release_slug(self.did, self.handle, slug, album.id)
            raise
        self.repo.set_track_cids(tracks, cids)
        renamed = self.repo.finish_rename(album, self.handle, title, slug, now_iso())
        if album.list_uri and cids.get(album.list_uri):
            renamed = self.repo.set_album_fields(renamed, list_cid=cids[album.list_uri])
        metrics.add_metric(name="AlbumRenamed", unit=MetricUnit.Count, value=1)
        return renamed, [replace(t, record_cid=cids.get(t.record_uri or "") or t.record_cid) for t in tracks]

    # ---- delete ------------------------------------------------------------------------------

    def _delete_in_background(self, album: Album, cascade: bool) -> dict[str, Any]:
        """A large album: its list record goes now (502 and nothing removed if that fails), the
        album leaves every read at once, and the cleanup job finishes the tracks."""
        if album.list_uri:
            self.records.apply([Edit(album.list_uri, _delete)])
        self.jobs.hand_over(album, self.handle, cascade, self.pds)
        metrics.add_metric(name="AlbumDeleted", unit=MetricUnit.Count, value=1)
        return {"deleted": True, "cascade": cascade}

    def _delete_album(self, album: Album, cascade: bool) -> dict[str, Any]:
        tracks = self.tracks(album)
        if len(tracks) > cleanup.SYNC_DELETE_MAX_TRACKS:
            return self._delete_in_background(album, cascade)
        change = _delete if cascade else DROP_ALBUM
        edits = [Edit(t.record_uri, change) for t in tracks if t.record_uri]
        if album.list_uri:
            edits.append(Edit(album.list_uri, _delete))  # last: the album stays whole until then
        cids = self.records.apply(edits, self.track_sizes(len(tracks)))
        self.repo.release_tracks(tracks, cascade, cids)
        self.repo.delete_album_items(album, self.handle)
        metrics.add_metric(name="AlbumDeleted", unit=MetricUnit.Count, value=1)
        return {"deleted": True, "cascade": cascade}

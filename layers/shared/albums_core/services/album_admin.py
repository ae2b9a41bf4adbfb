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
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from albums_core.domain import list_records
from albums_core.domain.at_uri import AtUri
from albums_core.domain.errors import (
    AlbumNotFound,
    BadRequest,
    Conflict,
    Forbidden,
    ListNotFound,
    NotFound,
    TrackTaken,
    Unprocessable,
)
from albums_core.domain.firehose_events import storage_problem
from albums_core.domain.models import Album, Track
from albums_core.domain.ordering import order_tracks
from albums_core.domain.record_edits import DELETE, Edit, keep
from albums_core.domain.records import (
    LIST,
    TRACK,
    album_id_for,
    is_track_record,
    new_tid,
    new_track,
    now_iso,
    onto_existing,
)
from albums_core.domain.slugs import slugify
from albums_core.domain.text_rules import clean_description, clean_title
from albums_core.domain.views import album_page
from albums_core.observability import metrics
from albums_core.ports import Catalogue, DeletionJobs, PageCache, Pds, PdsWriter, RecordEditor
from albums_core.services import cleanup
from albums_core.services.auth import Caller

MAX_TRACKS = 500
UNSET: Any = object()
# Longer than a function may run: a crashed request frees the album after this.
_LEASE_SECONDS = 60
TRACK_TAKEN = TrackTaken.detail
SLUG_TAKEN = "another of your albums already uses that name"

__all__ = ["MAX_TRACKS", "TRACK_TAKEN", "UNSET", "AlbumAdmin", "AlbumCaller"]


@dataclass(frozen=True)
class AlbumCaller(Caller):
    """The caller of an album's endpoint, with the album the guard loaded: the request reads
    it once (the handler's `AlbumAdmin` takes it from here instead of loading it again)."""

    album: Album | None = None


def _valid_album_id(album_id: str) -> bool:
    try:
        return str(uuid.UUID(album_id)) == album_id.lower() and len(album_id) == 36
    except (ValueError, AttributeError):
        return False


def _delete(_: dict[str, Any]) -> Any:
    return DELETE


def _set_album(title: str) -> Callable[[dict[str, Any]], Any]:
    return partial(list_records.with_field, name="album", value=title)


_DROP_ALBUM = partial(list_records.without_field, name="album")


class AlbumAdmin:
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

    @property
    def pds(self) -> Pds:
        """The artist's PDS session, opened on first use (a request refused before any PDS
        call never unseals the session's tokens)."""
        if self._pds is None:
            self._pds = self.writer.open(self.caller.session)
        return self._pds

    @property
    def records(self) -> RecordEditor:
        return self.writer.editor(self.pds)

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
        return album

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
        return album

    @contextmanager
    def locked(self, album: Album) -> Iterator[Album]:
        """One multi-step change of an album at a time: concurrent ones get 409 instead of
        racing on the PDS and the slug claims. Yields the album as the lease found it."""
        token = uuid.uuid4().hex
        current = self.repo.lock_album(album.id, token, _LEASE_SECONDS)
        if current is None:
            raise Conflict("this album is being changed by another request; try again")
        try:
            yield current
        finally:
            self.repo.unlock_album(album.id, token)

    def tracks(self, album: Album) -> list[Track]:
        """The album's tracks as the catalogue holds them now."""
        loaded = self.repo.load_album(album.id)
        return loaded[1] if loaded else []

    def metadata(self, album: Album) -> dict[str, Any]:
        loaded = self.repo.load_album(album.id)
        album, tracks = loaded if loaded else (album, [])
        return album_page(album, self.caller.artist, order_tracks(tracks, None, album.track_order))["metadata"]

    def _invalidate(self, *slugs: str) -> None:
        for slug in dict.fromkeys(slugs):
            self.cache.invalidate(self.cache.album_key(self.handle, slug))

    def ensure_list_record(self, album: Album) -> Album:
        """The album's list record exists on the PDS (created at the key chosen up front)."""
        if album.list_cid:
            return album
        assert album.list_uri
        cid = self.records.ensure(album.list_uri, list_records.new_list(album.title, album.created_at))
        return self.repo.set_album_fields(album, list_cid=cid)

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

    # ---- membership ------------------------------------------------------------------------

    def _attach(self, album: Album, uris: list[str]) -> dict[str, Any]:
        wanted = self._own_track_uris(uris)
        current = self.tracks(album)
        have = {t.record_uri for t in current}
        new = [u for u in wanted if u not in have]
        if not new:
            return self.metadata(album)
        if len(current) + len(new) > MAX_TRACKS:
            raise Unprocessable(f"track_uris: an album holds at most {MAX_TRACKS} tracks")
        local = {t.record_uri: t for t in self.repo.artist_tracks(self.did)}
        if any((other := local.get(u)) is not None and other.album_id not in (None, album.id) for u in new):
            raise TrackTaken()
        # Read once: the commit first, so the write below can swap against it unread.
        snapshot = self.records.read(new)
        for uri in new:
            record = snapshot.records[uri]
            if record is None:
                raise NotFound(f"track record not found: {uri}")
            if not is_track_record(record.value):
                raise Unprocessable(f"track_uris: not a track record: {uri}")
            if (problem := storage_problem(record.value)) is not None:
                raise Unprocessable(f"track_uris: a track record we cannot store ({problem}): {uri}")
        # Claimed before any PDS write: of two albums taking one track at once, the loser
        # writes nothing. A claim left by a failed request lapses with its lease.
        if self.repo.claim_tracks(self.did, album.id, new, uuid.uuid4().hex, _LEASE_SECONDS):
            raise TrackTaken()
        album = self.ensure_list_record(album)
        assert album.list_uri
        # One applyWrites: the tracks, then the list, whose new items the write pins to the CID
        # each rewritten track record gets (record_writes computes it before writing).
        refs = [(u, record.cid if (record := snapshot.records.get(u)) else None) for u in new]
        append = partial(list_records.appended, refs=refs, now=now_iso())
        edits = [Edit(u, _set_album(album.title)) for u in new] + [Edit(album.list_uri, append)]
        fresh = self.records.write(edits, snapshot)
        listed = fresh.get(album.list_uri)
        list_cid = listed.cid if listed else None
        present = [u for u in new if fresh.get(u) is not None]
        if any(u not in local for u in present):
            # Read again: the firehose consumer may have indexed a record since (an artist who
            # publishes a track elsewhere and adds it here at once); that item is moved, not copied.
            local = {t.record_uri: t for t in self.repo.artist_tracks(self.did)}
        # One counter update for every track the catalogue does not know yet.
        ids = iter(self.repo.reserve_track_ids(sum(1 for u in present if u not in local)))
        moves: list[tuple[Track | None, Track]] = []
        for uri in present:
            record = fresh[uri]
            assert record is not None
            known = local.get(uri)
            track = new_track(known.id if known else next(ids), self.did, album.id, uri, record.cid, record.value)
            if known:
                track = onto_existing(track, known)
            moves.append((known, track))
        self.repo.move_tracks_into(album, moves)
        self.repo.recount(album.id)
        order = [t.record_uri for t in order_tracks(current, None, album.track_order) if t.record_uri]
        album = self.repo.set_album_fields(
            album,
            list_cid=list_cid,
            track_order=order + [t.record_uri for _, t in moves if t.record_uri],
            updated_at=now_iso(),
        )
        self._invalidate(album.slug)
        return self.metadata(album)

    def _own_track_uris(self, uris: list[str]) -> list[str]:
        """The URIs, each once, of the caller's own track records."""
        if not uris:
            raise Unprocessable("track_uris: must be a non-empty list of AT-URIs")
        seen: set[str] = set()
        for i, uri in enumerate(uris):
            # The SDK's syntax (DID, NSID, record key), then our parse of the same string.
            at = AtUri.parse(uri) if self.writer.record_uri_parts(uri) else None
            if at is None:
                raise Unprocessable(f"track_uris[{i}]: not an AT-URI")
            if at.collection != TRACK:
                raise Unprocessable(f"track_uris[{i}]: not an {TRACK} record")
            if at.repo != self.did:
                raise Forbidden("you can only add your own tracks to your albums")
            if uri in seen:
                raise Unprocessable(f"track_uris[{i}]: listed twice")
            seen.add(uri)
        return list(uris)

    def _reorder_list(self, album: Album, uris: list[str]) -> dict[str, Any]:
        tracks = {t.record_uri: t for t in self.tracks(album) if t.record_uri}
        seen: set[str] = set()
        for i, uri in enumerate(uris):
            at = AtUri.parse(uri) if self.writer.record_uri_parts(uri) else None
            if at is None:
                raise Unprocessable(f"items[{i}].uri: not an AT-URI")
            if at.collection != TRACK:
                raise Unprocessable(f"items[{i}].uri: not an {TRACK} record")
            if at.repo != self.did:
                raise Unprocessable(f"items[{i}].uri: not a record of your repository")
            if uri in seen:
                raise Unprocessable(f"items[{i}].uri: listed twice")
            seen.add(uri)
        foreign = [u for u in uris if u not in tracks]
        missing = [u for u in tracks if u not in seen]
        if foreign or missing:
            raise Unprocessable(
                "items: must list every track of the album exactly once"
                f" (not in the album: {foreign[:20]}, missing: {missing[:20]})"
            )
        album = self._apply_order(album, list(tracks.values()), uris)
        return {"uri": album.list_uri, "cid": album.list_cid}

    def _reorder(self, album: Album, track_ids: list[int]) -> dict[str, Any]:
        tracks = {t.id: t for t in self.tracks(album)}
        counts = Counter(track_ids)
        duplicates = sorted(i for i, n in counts.items() if n > 1)
        foreign = sorted(i for i in counts if i not in tracks)
        missing = sorted(set(tracks) - set(counts))
        if duplicates or foreign or missing:
            raise Unprocessable(
                "track_ids: must list every track of the album exactly once"
                f" (duplicates: {duplicates[:20]}, not in the album: {foreign[:20]}, missing: {missing[:20]})"
            )
        order: list[str] = [u for i in track_ids if (u := tracks[i].record_uri)]
        return self.metadata(self._apply_order(album, list(tracks.values()), order))

    def _apply_order(self, album: Album, tracks: list[Track], order: list[str]) -> Album:
        """The list record, then the catalogue, in `order` (record URIs of all of `tracks`)."""
        cids = {t.record_uri: t.record_cid for t in tracks if t.record_uri}
        album = self.ensure_list_record(album)
        assert album.list_uri
        change = partial(list_records.reordered, order=order, cids=cids, now=now_iso())
        # The tracks are read, not written: the list pins each by the CID its record has now.
        after = self.records.apply([Edit(u, keep) for u in order] + [Edit(album.list_uri, change)])
        self.repo.set_track_cids(tracks, after)
        album = self.repo.set_album_fields(
            album, track_order=order, list_cid=after[album.list_uri], updated_at=now_iso()
        )
        self._invalidate(album.slug)
        return album

    def _remove_track(self, album: Album, track_id: int) -> dict[str, Any]:
        track = self.repo.find_track(track_id)
        if track is None or track.artist_did != self.did:
            raise NotFound("track not found")
        in_album = next((t for t in self.tracks(album) if t.id == track_id), None)
        if in_album is None:
            raise BadRequest("track is not in this album")
        uri = in_album.record_uri
        edits = [Edit(uri, _DROP_ALBUM)] if uri else []
        if album.list_uri and album.list_cid:
            edits.append(Edit(album.list_uri, partial(list_records.without_item, uri=uri, now=now_iso())))
        cids = self.records.apply(edits)
        standalone = replace(in_album, album_id=None, record_cid=cids.get(uri or "") or in_album.record_cid)
        self.repo.detach_track(album.id, in_album, standalone)
        self.repo.recount(album.id)
        changes: dict[str, Any] = {"track_order": [u for u in album.track_order if u != uri], "updated_at": now_iso()}
        if album.list_uri and cids.get(album.list_uri):
            changes["list_cid"] = cids[album.list_uri]
        self.repo.set_album_fields(album, **changes)
        self._invalidate(album.slug)
        return {"removed": True, "track_id": track_id}

    # ---- title and description ---------------------------------------------------------------

    def _update(self, album: Album, title: object = UNSET, description: object = UNSET) -> dict[str, Any]:
        if title is UNSET and description is UNSET:
            raise Unprocessable("give a title and/or a description to change")
        new_title = clean_title(title) if title is not UNSET else album.title
        new_description = clean_description(description) if description is not UNSET else album.description
        old_slug = album.slug
        if new_title != album.title:
            album = self._rename(album, new_title)
        if new_description != album.description:
            album = self.repo.set_album_fields(album, description=new_description, updated_at=now_iso())
        self._invalidate(old_slug, album.slug)
        return self.metadata(album)

    def _rename(self, album: Album, title: str) -> Album:
        slug = slugify(title)
        if slug != album.slug and not self.repo.claim_slug(self.did, self.handle, slug, album.id):
            raise Conflict(SLUG_TAKEN)
        try:
            album = self.ensure_list_record(album)
            assert album.list_uri
            tracks = self.tracks(album)
            edits = [Edit(t.record_uri, _set_album(title)) for t in tracks if t.record_uri]
            edits.append(Edit(album.list_uri, partial(list_records.renamed, name=title, now=now_iso())))
            cids = self.records.apply(edits)
        except Exception:
            if slug != album.slug:
                self.repo.release_slug(self.did, self.handle, slug, album.id)
            raise
        self.repo.set_track_cids(tracks, cids)
        renamed = self.repo.finish_rename(album, self.handle, title, slug, now_iso())
        if album.list_uri and cids.get(album.list_uri):
            renamed = self.repo.set_album_fields(renamed, list_cid=cids[album.list_uri])
        metrics.add_metric(name="AlbumRenamed", unit=MetricUnit.Count, value=1)
        return renamed

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
        change = _delete if cascade else _DROP_ALBUM
        edits = [Edit(t.record_uri, change) for t in tracks if t.record_uri]
        if album.list_uri:
            edits.append(Edit(album.list_uri, _delete))  # last: the album stays whole until then
        cids = self.records.apply(edits)
        self.repo.release_tracks(tracks, cascade, cids)
        self.repo.delete_album_items(album, self.handle)
        self._invalidate(album.slug)
        metrics.add_metric(name="AlbumDeleted", unit=MetricUnit.Count, value=1)
        return {"deleted": True, "cascade": cascade}

"""Applying the firehose's events to the catalogue, idempotently (an application service).

Tracks and album lists are applied by reading the repository again with the existing indexer,
which writes only differences and already handles renames as renames, slug conflicts, deleted
lists (their tracks become singles), membership and exact counters, and albums a request or a
cleanup is changing right now. An event is the trigger, the repository the truth: a replayed,
duplicated or reordered event can only lead to the state the PDS holds, never resurrect a
deleted record (it is not in the repository any more) nor roll an edit back. A commit whose rev
is not after the rev applied for its repository is skipped without any work; a batch's commits
of one repository cost one indexing. Our own API writes come back as commits whose records
already match: the catalogue's own CIDs are checked first (one Query), and nothing is written.

Likes are per record: counted once per (liker, track) in one conditional transaction with the
like record; a deleted like leaves a tombstone, so a replayed create never counts again."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from albums_core.adapters.atproto import identity, xrpc
from albums_core.adapters.dynamodb.catalogue import CatalogueWriter
from albums_core.adapters.dynamodb.firehose_state import FirehoseState
from albums_core.adapters.dynamodb.page_cache import invalidate_album_cache, invalidate_album_cache_by_id
from albums_core.domain.firehose_events import (
    LIKE,
    LIST,
    TRACK,
    AccountChange,
    Commit,
    Event,
    IdentityChange,
    Info,
    RecordOp,
    RepoResync,
    Skipped,
    newer,
    seconds_since,
    strong_ref_track,
)
from albums_core.domain.models import Artist, Track
from albums_core.observability import logger
from albums_core.services.indexer import sync_artist

_LIKE_ATTEMPTS = 3
_TRACKS_KEPT = 2000


@dataclass
class BatchReport:
    counts: Counter[str] = field(default_factory=Counter)
    lags: list[float] = field(default_factory=list)


@dataclass
class _RepoWork:
    did: str
    rev: str | None = None
    time: str = ""
    index: bool = False  # tracks or lists changed: read the repository again
    resync: bool = False  # its state is not on the stream: read it whatever the CIDs say
    failed: bool = False  # reading the repository failed: its rev is not recorded
    ops: list[RecordOp] = field(default_factory=list)
    likes: list[tuple[RecordOp, str]] = field(default_factory=list)  # (op, commit time)


class Ingest:
    def __init__(
        self,
        state: FirehoseState | None = None,
        catalogue: CatalogueWriter | None = None,
        indexer: Callable[[Artist, CatalogueWriter], Any] | None = None,
        resolve: Callable[[str], identity.Identity] | None = None,
    ) -> None:
        self.catalogue = catalogue or CatalogueWriter()
        self.state = state or FirehoseState(self.catalogue)
        self.indexer = indexer or (lambda artist, repo: sync_artist(artist, repo))
        self.resolve = resolve or identity.resolve
        self._revs: dict[str, str | None] = {}  # per repository, for this container's life
        # Tracks liked lately, by record URI: a like's transaction fails when the track is no
        # longer where it was read, and the entry is dropped then.
        self._tracks: dict[str, Track] = {}
        self._pages: set[str] = set()

    def _remember(self, uri: str, track: Track) -> None:
        if len(self._tracks) >= _TRACKS_KEPT:
            self._tracks.pop(next(iter(self._tracks)))
        self._tracks[uri] = track

    # ---- one batch -----------------------------------------------------------------------------

    def apply(
        self,
        events: list[Event],
        now: Callable[[], datetime] | None = None,
        heartbeat: Callable[[], None] | None = None,
    ) -> BatchReport:
        """Apply a batch. `heartbeat` is called between units of work (a repository's
        indexing, a like, an identity): the consumer renews its lease there, so a long batch
        never outlives it (and it raises there when the lease was lost)."""
        beat = heartbeat or (lambda: None)
        clock = now or (lambda: datetime.now(UTC))
        report = BatchReport()
        work: dict[str, _RepoWork] = {}
        others: list[Event] = []
        for event in events:
            report.counts["seen"] += 1
            if isinstance(event, Skipped):
                report.counts[f"skipped_{event.reason}"] += 1
            elif isinstance(event, Info):
                report.counts[f"info_{event.name}"] += 1
                logger.warning("firehose info", extra={"info_name": event.name, "info": event.message[:200]})
            elif isinstance(event, Commit):
                self._plan_commit(event, work, report)
            elif isinstance(event, RepoResync):
                entry = work.setdefault(event.did, _RepoWork(event.did))
                entry.resync = entry.index = True
                entry.time = event.time
                report.counts["resyncs"] += 1
            else:
                others.append(event)
        # Tracks and lists first, so a like of a track published in the same batch finds it.
        for entry in work.values():
            if entry.index:
                self._index(entry, report)
                beat()
        for entry in work.values():
            for op, _ in entry.likes:
                self._like(entry.did, op, report)
                beat()
        for event in others:
            if isinstance(event, IdentityChange):
                self._identity(event, report)
            elif isinstance(event, AccountChange):
                self._account(event, report)
            beat()
        # Pages whose like counts changed: once per album per batch, however many likes.
        for album_id in sorted(self._pages):
            invalidate_album_cache_by_id(album_id, repo=self.catalogue)
        self._pages.clear()
        for entry in work.values():
            if entry.rev is not None and not entry.failed:
                self.state.set_repo_rev(entry.did, entry.rev)
                self._revs[entry.did] = entry.rev
        moment = clock()
        for entry in work.values():
            if entry.time and (entry.index or entry.likes):
                lag = seconds_since(entry.time, moment)
                if lag is not None:
                    report.lags.append(max(0.0, lag))
        return report

    def _held_rev(self, did: str) -> str | None:
        if did not in self._revs:
            self._revs[did] = self.state.repo_state(did).get("rev")
        return self._revs[did]

    def _plan_commit(self, commit: Commit, work: dict[str, _RepoWork], report: BatchReport) -> None:
        if not commit.ops:
            report.counts["skipped_filtered"] += 1
            return
        entry = work.get(commit.repo)
        held = entry.rev if entry and entry.rev else self._held_rev(commit.repo)
        if not newer(commit.rev, held):
            report.counts["skipped_replayed"] += 1
            return
        entry = work.setdefault(commit.repo, _RepoWork(commit.repo))
        entry.rev = commit.rev
        entry.time = commit.time
        for op in commit.ops:
            if op.action != "delete" and op.problem is not None:
                report.counts["skipped_invalid"] += 1
                logger.info(
                    "firehose record skipped",
                    extra={"uri": op.uri(commit.repo), "problem": op.problem, "seq": commit.seq},
                )
                if op.problem == "no record in the commit's blocks":
                    entry.resync = entry.index = True  # valid or not, the PDS says
                continue
            if op.collection == LIKE:
                entry.likes.append((op, commit.time))
            elif op.collection in (TRACK, LIST):
                entry.ops.append(op)
                entry.index = True

    # ---- tracks and lists ------------------------------------------------------------------------

    def _index(self, entry: _RepoWork, report: BatchReport) -> None:
        artist = self.catalogue.get_artist(entry.did)
        if artist is None:
            artist = self._backfill_artist(entry.did, report)
            if artist is None:
                return
        elif not entry.resync and self._already_applied(entry):
            report.counts["applied_own"] += len(entry.ops)
            return
        if not artist.pds_url:
            return
        try:
            counts = self.indexer(artist, self.catalogue)
        except (xrpc.PdsUnavailable, xrpc.XrpcError) as exc:
            # The repository stays as it was here; its rev is not recorded, so a replay or the
            # next commit reads it again (and the sweep re-indexes a day-old artist anyway).
            entry.failed = True
            report.counts["failed_index"] += 1
            logger.warning("firehose indexing failed", extra={"did": entry.did, "error": str(exc)[:200]})
            return
        report.counts["applied"] += max(1, len(entry.ops))
        report.counts["indexings"] += 1
        if isinstance(counts, dict):
            for name, value in counts.items():
                if value:
                    report.counts[name] += int(value)

    def _already_applied(self, entry: _RepoWork) -> bool:
        """Whether every op of the batch is already in the catalogue (our own API's writes
        coming back): same CID for creates and updates, absent for deletes."""
        if not entry.ops:
            return False
        held = self.catalogue_records(entry.did)
        for op in entry.ops:
            uri = op.uri(entry.did)
            if op.action == "delete":
                if uri in held:
                    return False
            elif held.get(uri) != op.cid:
                return False
        return True

    def catalogue_records(self, did: str) -> dict[str, str | None]:
        """Record URI -> CID of the artist's albums and tracks in the catalogue."""
        out: dict[str, str | None] = {}
        for album in self.catalogue.artist_albums(did):
            if album.list_uri:
                out[album.list_uri] = album.list_cid
        for track in self.catalogue.artist_tracks(did):
            if track.record_uri:
                out[track.record_uri] = track.record_cid
        return out

    def _backfill_artist(self, did: str, report: BatchReport) -> Artist | None:
        """A repository we never indexed publishes our records: its artist, then the whole
        repository once with the indexer (the stream keeps it live from then on)."""
        try:
            who = self.resolve(did)
        except identity.UnknownIdentity:
            report.counts["skipped_unknown_identity"] += 1
            return None
        except (xrpc.PdsUnavailable, xrpc.XrpcError):
            report.counts["failed_identity"] += 1
            return None
        artist = Artist(did=did, handle=who.handle, display_name=who.handle, pds_url=who.pds_url)
        self.catalogue.upsert_artist(artist)
        report.counts["backfills"] += 1
        logger.info("firehose backfill", extra={"did": did, "handle": who.handle})
        return self.catalogue.get_artist(did) or artist

    # ---- likes ---------------------------------------------------------------------------------

    def _like(self, liker: str, op: RecordOp, report: BatchReport) -> None:
        if op.action == "update":
            report.counts["skipped_like_update"] += 1  # a like's subject is fixed: nothing to do
            return
        if op.action == "delete":
            self._unlike(liker, op, report)
            return
        subject = strong_ref_track((op.value or {}).get("subject"))
        assert subject is not None  # checked when decoded
        artist_did, uri, cid = subject
        for _ in range(_LIKE_ATTEMPTS):
            track = self._tracks.get(uri) or self.state.track_by_uri(artist_did, uri)
            if track is None:
                if self.state.orphan_like(liker, op.rkey, uri, cid):
                    report.counts["likes_orphan"] += 1
                else:
                    report.counts["skipped_replayed"] += 1
                return
            outcome = self.state.add_like(liker, op.rkey, track, cid)
            if outcome == "moved":
                self._tracks.pop(uri, None)  # read again: it moved or went
            else:
                self._remember(uri, track)
            if outcome != "moved":
                report.counts[f"likes_{outcome}"] += 1
                if outcome == "applied":
                    report.counts["applied"] += 1
                    if track.album_id:
                        self._pages.add(track.album_id)
                return
        report.counts["failed_like"] += 1

    def _unlike(self, liker: str, op: RecordOp, report: BatchReport) -> None:
        for _ in range(_LIKE_ATTEMPTS):
            record = self.state.like_record(liker, op.rkey)
            track = None
            if record is not None and record.get("state") == "counted":
                track = self.catalogue.find_track(int(record["track_id"]))
            outcome = self.state.remove_like(liker, op.rkey, track)
            if outcome != "moved":
                report.counts[f"unlikes_{outcome}"] += 1
                if outcome == "applied":
                    report.counts["applied"] += 1
                    if track is not None and track.album_id:
                        self._pages.add(track.album_id)
                return
        report.counts["failed_like"] += 1

    # ---- identity and account --------------------------------------------------------------------

    def _identity(self, event: IdentityChange, report: BatchReport) -> None:
        """Re-resolve the DID (the event's handle, when there is one, is only a hint): the
        artist item, the handle pointer and the pages move to the verified handle and PDS."""
        artist = self.catalogue.get_artist(event.did)
        if artist is None:
            report.counts["skipped_identity_unknown"] += 1
            return
        # The container's identity cache may hold the DID's old document and handle.
        identity.forget(event.did, artist.handle, *([event.handle] if event.handle else []))
        try:
            who = self.resolve(event.did)
        except identity.UnknownIdentity:
            report.counts["skipped_identity_unresolved"] += 1
            return
        except (xrpc.PdsUnavailable, xrpc.XrpcError):
            report.counts["failed_identity"] += 1
            return
        if (who.handle, who.pds_url) == (artist.handle, artist.pds_url):
            report.counts["identity_unchanged"] += 1
            return
        old = artist.handle
        self.catalogue.upsert_artist(replace(artist, handle=who.handle, pds_url=who.pds_url))
        for album in self.catalogue.artist_albums(event.did):
            invalidate_album_cache(old, album.slug)
        report.counts["identity_changed"] += 1
        report.counts["applied"] += 1

    def _account(self, event: AccountChange, report: BatchReport) -> None:
        """An account event describes the host that sent it: before hiding anyone, ask the
        DID's current PDS whether the repository is really inactive."""
        artist = self.catalogue.get_artist(event.did)
        if artist is None:
            report.counts["skipped_account_unknown"] += 1
            return
        hidden = bool(self.state.repo_state(event.did).get("hidden"))
        identity.forget(event.did)  # a moved account's PDS is in its new document
        try:
            who = self.resolve(event.did)
            status = xrpc.call(
                who.pds_url, "GET", "com.atproto.sync.getRepoStatus", params={"did": event.did}, timeout=5
            )
            active = bool(status.get("active")) if isinstance(status, dict) else True
            reason = status.get("status") if isinstance(status, dict) else None
        except identity.UnknownIdentity:
            active, reason = False, "deleted"
        except xrpc.XrpcError as exc:
            if exc.status not in (400, 404):
                report.counts["failed_account"] += 1
                return
            active, reason = False, "deleted"  # RepoNotFound on its own PDS
        except xrpc.PdsUnavailable:
            report.counts["failed_account"] += 1
            return
        if active == (not hidden):
            report.counts["account_unchanged"] += 1
            return
        albums = self.catalogue.artist_albums(event.did)
        if active:
            self.state.set_hidden(event.did, False, None)
            self.catalogue.upsert_artist(replace(artist, pds_url=who.pds_url))
            for album in albums:
                self.state.relist_album(album)
            report.counts["accounts_restored"] += 1
        else:
            self.state.set_hidden(event.did, True, str(reason or "inactive"))
            self.state.hide_artist(artist)
            for album in albums:
                self.state.unlist_album(album.id)
                invalidate_album_cache(artist.handle, album.slug)
            report.counts["accounts_hidden"] += 1
        report.counts["applied"] += 1

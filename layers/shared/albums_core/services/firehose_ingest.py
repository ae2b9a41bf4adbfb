"""Applying the firehose's events to the catalogue, idempotently (an application service).

Track records are applied from the values the commits carry: a create writes a new track, an
update rewrites the record's fields in place (only while the item still holds the version we
read: counters and album stay ours), a delete removes the item with its album's counters. A
batch of one repository costs a few calls whatever its size: the artist's tracks and albums are
read once and kept for a minute (refreshed after any indexing of the artist), new ids reserved
at once, new items written 25 a call. What that path cannot decide alone goes to the existing
indexer, which reads the repository again and writes only differences: list records (a rename
as a rename, slug conflicts, membership and order, a deleted list's tracks become singles), a
new track some list names, a repository we never indexed (a backfill), a commit whose blocks
miss a record, and any write that finds the item moved or changed meanwhile. A commit whose rev
is not after the rev applied for its repository is skipped without any work. Our own API writes
come back as commits whose records already match: nothing is written.

Likes are per record: counted once per (liker, track) with the like record, in transactions of
up to 33 likes (each track's counter raised once by its number of likes); a transaction a
condition refuses (a replay, a duplicate, a moved track) is applied again like by like. A
deleted like leaves a tombstone, so a replayed create never counts again.

Each repository has a budget per batch (FIREHOSE_REPO_SECONDS on an injected clock and
FIREHOSE_REPO_CALLS PDS calls) for its tracks and lists: one whose indexing does not fit is set
aside, a re-index job (the indexer's background job, from where it stopped) replacing its events,
and its tracks and lists are not worked on again for a while (doubling from a minute to an hour
while it keeps not fitting), so a hostile or slow PDS never holds up the other repositories.

Nothing a relay says is taken on its word: a commit that would be applied is first checked
against its repository's signing key and Merkle tree (adapters/atproto/commit_verify.py); one
that does not prove itself is counted (`unverified_commits`), logged and not applied."""

from __future__ import annotations

import time
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from aws_lambda_powertools.metrics import MetricUnit

from albums_core.adapters.atproto import identity, xrpc
from albums_core.adapters.atproto.commit_verify import CommitVerifier, Refusal
from albums_core.adapters.dynamodb.catalogue import CatalogueWriter
from albums_core.adapters.dynamodb.firehose_state import FirehoseState
from albums_core.adapters.dynamodb.page_cache import invalidate_album_cache, invalidate_album_cache_by_id
from albums_core.config import settings
from albums_core.domain.firehose_events import (
    LIKE,
    LIST,
    MISSING_BLOCK,
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
    record_problem,
    seconds_since,
    strong_ref_track,
)
from albums_core.domain.models import Album, Artist, Track
from albums_core.domain.read_budget import Clock, ReadBudget
from albums_core.domain.records import new_track, strong_ref_uris, track_fields
from albums_core.observability import logger, metrics
from albums_core.services.indexer import IndexOutcome

_LIKE_ATTEMPTS = 3
# Likes per transaction: two puts each and at most one counter: 99 actions of DynamoDB's 100.
_LIKES_PER_TRANSACTION = 33
# What is kept of an artist's catalogue between batches, and for how many artists.
_HELD_SECONDS = 60.0
_HELD_ARTISTS = 64
# How long a repository over its budget is set aside: doubling from the first to the last.
_ASIDE_FIRST_SECONDS = 60.0
_ASIDE_LAST_SECONDS = 3600.0


def _indexing(repo: CatalogueWriter) -> Any:
    # Until the firehose services are wired by albums_core.bootstrap (issue #21): the indexer
    # on this catalogue, from the composition root.
    from albums_core import bootstrap

    return bootstrap.indexing(repo)


@dataclass
class BatchReport:
    counts: Counter[str] = field(default_factory=Counter)
    lags: list[float] = field(default_factory=list)


@dataclass
class _RepoWork:
    did: str
    rev: str | None = None
    time: str = ""
    index: bool = False  # tracks or lists changed
    resync: bool = False  # its state is not on the stream: read it whatever the CIDs say
    failed: bool = False  # reading the repository failed: its rev is not recorded
    ops: list[RecordOp] = field(default_factory=list)
    likes: list[RecordOp] = field(default_factory=list)
    likes_unread: list[RecordOp] = field(default_factory=list)  # created, their blocks missing


@dataclass
class _Held:
    """What the catalogue holds of one artist, as this container last read (and since wrote) it.
    Writes made from it are conditional on the items being as read, so a stale entry costs a
    refused write and a fresh read, never a wrong one."""

    artist: Artist | None
    tracks: dict[str, Track]  # by record URI
    albums: dict[str, Album] | None  # by id; read when first needed
    at: float
    # Orphan likes of the artist's tracks (pointers by track URI); read when a track is created.
    orphans: dict[str, list[dict[str, Any]]] | None = None


@dataclass
class _Aside:
    """A repository whose indexing did not fit its budget: until `until` its tracks and lists
    are left to the re-index job; `pending` when events came meanwhile (another job then)."""

    until: float
    strikes: int
    pending: bool = False


class Verifier(Protocol):
    def check(self, commit: Commit) -> Refusal | None: ...


class _Fallback(Exception):
    """The record-by-record path cannot apply this repository's batch: index it instead."""


class _Stale(Exception):
    """A conditional write found an item other than the one held: read again and retry."""


def _artist_of(uri: str) -> str:
    return uri.removeprefix("at://").split("/", 1)[0]


class Ingest:
    def __init__(
        self,
        state: FirehoseState | None = None,
        catalogue: CatalogueWriter | None = None,
        indexer: Callable[[Artist, CatalogueWriter, ReadBudget], Any] | None = None,
        resolve: Callable[[str], identity.Identity] | None = None,
        list_records: Callable[..., xrpc.Listing] | None = None,
        clock: Clock = time.monotonic,
        verifier: Verifier | None = None,
    ) -> None:
        self.catalogue = catalogue or CatalogueWriter()
        self.verifier: Verifier = verifier or CommitVerifier()
        self.state = state or FirehoseState(self.catalogue)
        self.indexer = indexer or (lambda artist, repo, budget: _indexing(repo).index(artist, budget))
        self.resolve = resolve or identity.resolve
        self.list_records = list_records or xrpc.list_records
        self.clock = clock
        self._aside: dict[str, _Aside] = {}
        self.get_record = xrpc.get_record
        self._revs: dict[str, str | None] = {}  # per repository, for this container's life
        self._held_artists: OrderedDict[str, _Held] = OrderedDict()
        self._pages: set[str] = set()  # album ids whose page changed, handle unknown
        self._page_keys: set[tuple[str, str]] = set()  # (handle, slug) of pages that changed

    # ---- what is held of an artist -------------------------------------------------------------

    def _held(self, did: str, albums: bool = False) -> _Held:
        held = self._held_artists.get(did)
        if held is None or time.monotonic() - held.at > _HELD_SECONDS:
            artist = self.catalogue.get_artist(did)
            tracks = {t.record_uri: t for t in self.catalogue.artist_tracks(did) if t.record_uri} if artist else {}
            held = _Held(artist, tracks, None, time.monotonic())
            self._held_artists[did] = held
            while len(self._held_artists) > _HELD_ARTISTS:
                self._held_artists.popitem(last=False)
        self._held_artists.move_to_end(did)
        if albums and held.albums is None:
            held.albums = {a.id: a for a in self.catalogue.artist_albums(did)} if held.artist else {}
        return held

    def forget(self, did: str) -> None:
        self._held_artists.pop(did, None)

    def _changed_page(self, track: Track) -> None:
        if not track.album_id:
            return
        held = self._held_artists.get(track.artist_did)
        album = held.albums.get(track.album_id) if held and held.albums else None
        if held and held.artist and album:
            self._page_keys.add((held.artist.handle, album.slug))
        else:
            self._pages.add(track.album_id)

    # ---- one batch -----------------------------------------------------------------------------

    def apply(
        self,
        events: list[Event],
        now: Callable[[], datetime] | None = None,
        heartbeat: Callable[[], None] | None = None,
    ) -> BatchReport:
        """Apply a batch. `heartbeat` is called between units of work (a repository's tracks
        and lists, a transaction of likes, an identity): the consumer renews its lease there,
        so a long batch never outlives it (and it raises there when the lease was lost)."""
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
        self._requeue_aside(report)
        # Tracks and lists first, so a like of a track published in the same batch finds it.
        for entry in work.values():
            if entry.index and self._set_aside_now(entry, report):
                continue
            if entry.index:
                self._tracks_and_lists(entry, report, self._budget())
                beat()
        for entry in work.values():
            if entry.likes_unread:
                self._read_likes(entry, report)
        self._likes([(entry.did, op) for entry in work.values() for op in entry.likes], report, beat)
        for event in others:
            if isinstance(event, IdentityChange):
                self._identity(event, report)
            elif isinstance(event, AccountChange):
                self._account(event, report)
            beat()
        self._flush_pages()
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

    # ---- repositories over their budget ------------------------------------------------------------

    def _budget(self) -> ReadBudget:
        cfg = settings()
        return ReadBudget(cfg.firehose_repo_seconds, cfg.firehose_repo_calls, self.clock)

    def _set_aside_now(self, entry: _RepoWork, report: BatchReport) -> bool:
        """Whether the repository is set aside now: its tracks and lists wait for its job."""
        aside = self._aside.get(entry.did)
        if aside is None or self.clock() >= aside.until:
            return False
        aside.pending = True
        report.counts["set_aside_events"] += max(1, len(entry.ops))
        return True

    def _requeue_aside(self, report: BatchReport) -> None:
        """A repository whose time aside is over gets a re-index job for the events that came
        meanwhile (its next events are tried in the batch again)."""
        now = self.clock()
        for did, aside in list(self._aside.items()):
            if now < aside.until or not aside.pending:
                continue
            aside.pending = False
            artist = self.catalogue.get_artist(did)
            if artist is not None and artist.pds_url and _indexing(self.catalogue).request_backfill(artist):
                report.counts["reindex_jobs"] += 1

    def _put_aside(self, entry: _RepoWork, budget: ReadBudget, job: str | None, report: BatchReport) -> None:
        before = self._aside.get(entry.did)
        strikes = (before.strikes if before else 0) + 1
        wait = min(_ASIDE_FIRST_SECONDS * 2 ** (strikes - 1), _ASIDE_LAST_SECONDS)
        self._aside[entry.did] = _Aside(self.clock() + wait, strikes)
        report.counts["repos_set_aside"] += 1
        if job:
            report.counts["reindex_jobs"] += 1
        metrics.add_metric(name="FirehoseReposSetAside", unit=MetricUnit.Count, value=1)
        logger.warning(
            "firehose repository over its budget: set aside, a job re-indexes it",
            extra={"did": entry.did, "budget": budget.spent, "calls": budget.calls_made, "job_id": job, "for": wait},
        )

    def _flush_pages(self) -> None:
        """Pages that changed: each once per batch, however many of its tracks or likes changed."""
        for handle, slug in sorted(self._page_keys):
            invalidate_album_cache(handle, slug)
        for album_id in sorted(self._pages):
            invalidate_album_cache_by_id(album_id, repo=self.catalogue)
        self._page_keys.clear()
        self._pages.clear()

    def reread_likes(self, liker: str) -> Counter[str]:
        """Reconcile what we hold of a liker's likes with the like records their PDS lists now
        (after a gap in the stream): a record we never saw is applied as a create, one we count
        that is gone as a delete. What we hold is read first, so a like the live consumer
        applies meanwhile is never taken for one that went."""
        report = BatchReport()
        held = self.state.like_records_of(liker)
        try:
            pds_url = self.resolve(liker).pds_url
        except identity.UnknownIdentity:
            report.counts["skipped_unknown_identity"] += 1
            return report.counts
        listing = self.list_records(pds_url, liker, LIKE)
        listed = {record.uri.rsplit("/", 1)[1]: record for record in listing}
        ops: list[tuple[str, RecordOp]] = []
        for rkey, record in listed.items():
            if rkey in held:
                continue
            if record_problem(LIKE, record.value) is None:
                ops.append((liker, RecordOp("create", LIKE, rkey, record.cid, record.value)))
            else:
                report.counts["skipped_invalid"] += 1
        for rkey, item in held.items():
            # A listing cut at its caps does not say what is gone.
            if listing.complete and rkey not in listed and item.get("state") != "deleted":
                ops.append((liker, RecordOp("delete", LIKE, rkey)))
        self._likes(ops, report, lambda: None)
        self._flush_pages()
        report.counts["listed"] += len(listed)
        return report.counts

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
        # Only a commit that would be applied is checked (filtered and replayed ones never are).
        refusal = self.verifier.check(commit)
        if refusal is not None:
            report.counts["unverified_commits"] += 1
            report.counts[f"unverified_{refusal.reason}"] += 1
            logger.warning(
                "firehose commit not verified: not applied",
                extra={"did": commit.repo, "seq": commit.seq, "reason": refusal.reason, "detail": refusal.detail[:300]},
            )
            return
        report.counts["verified_commits"] += 1
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
                # A record we may hold became invalid (it counts nowhere now), or its block is
                # missing: the repository says what stands (for a like, the record itself).
                missing = op.problem == MISSING_BLOCK
                if missing and op.collection == LIKE:
                    entry.likes_unread.append(op)
                elif missing or (op.action == "update" and op.collection in (TRACK, LIST)):
                    entry.resync = entry.index = True
                continue
            if op.collection == LIKE:
                entry.likes.append(op)
            elif op.collection in (TRACK, LIST):
                entry.ops.append(op)
                entry.index = True

    # ---- tracks and lists ------------------------------------------------------------------------

    def _tracks_and_lists(self, entry: _RepoWork, report: BatchReport, budget: ReadBudget) -> None:
        held = self._held(entry.did)
        if held.artist is None:
            artist = self._backfill_artist(entry.did, report)
            if artist is not None:
                self._index(entry, artist, report, budget)
            return
        if not held.artist.pds_url:
            return
        if not entry.resync and any(op.collection == LIST for op in entry.ops):
            # Lists are the indexer's; our own API's writes coming back need nothing.
            if self._all_held(entry) or (self._forgotten(entry.did) and self._all_held(entry)):
                report.counts["applied_own"] += len(entry.ops)
                return
        elif not entry.resync:
            for attempt in (1, 2):
                try:
                    self._apply_tracks(entry, report, budget)
                    return
                except _Stale:
                    self.forget(entry.did)  # read the catalogue again, then once more
                    if attempt == 2:
                        report.counts["fallback_indexings"] += 1
                except _Fallback as why:
                    report.counts["fallback_indexings"] += 1
                    logger.info("firehose batch indexed instead", extra={"did": entry.did, "reason": str(why)})
                    break
        self._index(entry, self._held(entry.did).artist or held.artist, report, budget)

    def _forgotten(self, did: str) -> bool:
        self.forget(did)
        return True

    def _all_held(self, entry: _RepoWork) -> bool:
        """Whether the catalogue already holds every op of the batch: the same CID for a
        create or update, nothing for a delete (our own API's writes coming back)."""
        held = self._held(entry.did, albums=True)
        assert held.albums is not None
        lists = {a.list_uri: a.list_cid for a in held.albums.values() if a.list_uri}
        for op in entry.ops:
            uri = op.uri(entry.did)
            if op.collection == LIST:
                present, cid = uri in lists, lists.get(uri)
            else:
                track = held.tracks.get(uri)
                present, cid = track is not None, track.record_cid if track else None
            if (op.action == "delete" and present) or (op.action != "delete" and cid != op.cid):
                return False
        return True

    def _apply_tracks(self, entry: _RepoWork, report: BatchReport, budget: ReadBudget) -> None:
        """The batch's track ops from the record values the commits carry (the last op of each
        record wins: a create then a delete in one batch is a delete)."""
        did = entry.did
        last: dict[str, RecordOp] = {}
        for op in entry.ops:
            last[op.uri(did)] = op
        started = time.monotonic()
        held = self._held(did, albums=True)
        created = [(uri, op) for uri, op in last.items() if op.action != "delete" and uri not in held.tracks]
        if created and held.at < started:
            # The held copy may predate a request that indexed the record meanwhile (an artist
            # who creates a track elsewhere and adds it to an album here at once): a track is
            # created only when the catalogue read now does not have it either.
            self.forget(did)
            held = self._held(did, albums=True)
            created = [(uri, op) for uri, op in created if uri not in held.tracks]
        if created and held.albums:
            # A list may name a track before it exists: membership is the indexer's to work out.
            assert held.artist is not None and held.artist.pds_url
            try:
                listing = self.list_records(held.artist.pds_url, did, LIST, budget=budget)
            except (xrpc.PdsUnavailable, xrpc.XrpcError) as exc:
                raise _Fallback(f"list records unreadable: {str(exc)[:100]}") from exc
            if not listing.complete:
                raise _Fallback(f"list records not read whole ({listing.stopped})")
            listed = {
                uri
                for record in listing
                if record_problem(LIST, record.value) is None
                for uri in strong_ref_uris(record.value)
            }
            if any(uri in listed for uri, _ in created):
                raise _Fallback("a new track is named by a list")
        own = 0
        if created:
            ids = self.catalogue.reserve_track_ids(len(created))
            tracks = [
                new_track(track_id, did, None, uri, op.cid or "", op.value or {})
                for track_id, (uri, op) in zip(ids, created, strict=True)
            ]
            # A record another writer created a track for meanwhile (a request, the indexer)
            # keeps that track: it is held, not created again.
            now_held = self.catalogue.add_new_tracks(tracks)
            for track in now_held:
                held.tracks[track.record_uri or ""] = track
            report.counts["tracks_created"] += sum(1 for a, b in zip(tracks, now_held, strict=True) if a is b)
            self._adopt_orphans(did, [t.record_uri or "" for t in now_held], report)
        new_uris = {uri for uri, _ in created}
        shrunk: set[str] = set()
        for uri, op in last.items():
            local = held.tracks.get(uri)
            if local is None or (op.action != "delete" and uri in new_uris):
                continue
            if op.action == "delete":
                if not self.catalogue.drop_track(local):
                    raise _Stale()
                del held.tracks[uri]
                self._changed_page(local)
                if local.album_id:
                    shrunk.add(local.album_id)
                report.counts["tracks_removed"] += 1
                continue
            after = Track.from_data({**asdict(local), **track_fields(uri, op.cid or "", op.value or {})})
            if after == local:
                own += 1  # our own write coming back, or a replay: nothing to do
                continue
            if not self.catalogue.update_track_record(local, after):
                raise _Stale()
            held.tracks[uri] = after
            self._changed_page(after)
            report.counts["tracks_updated"] += 1
        # ADDs down to 0 leave an album in the listing index: out it goes once it has no track.
        for album_id in shrunk - {t.album_id for t in held.tracks.values()}:
            self.catalogue.unlist_if_empty(album_id)
        # Every op is applied (an earlier op of a record by its last one, a delete of a record
        # never held by nothing), but those that were there already (our own writes).
        report.counts["applied"] += len(entry.ops) - own
        if own:
            report.counts["applied_own"] += own

    def _index(self, entry: _RepoWork, artist: Artist, report: BatchReport, budget: ReadBudget) -> None:
        if not artist.pds_url:
            return
        self.forget(entry.did)  # whatever the indexing writes, the next batch reads afresh
        try:
            counts = self.indexer(artist, self.catalogue, budget)
        except (xrpc.PdsUnavailable, xrpc.XrpcError) as exc:
            # The repository stays as it was here; its rev is not recorded, so a replay or the
            # next commit reads it again (and the sweep re-indexes a day-old artist anyway).
            entry.failed = True
            report.counts["failed_index"] += 1
            logger.warning("firehose indexing failed", extra={"did": entry.did, "error": str(exc)[:200]})
            return
        if isinstance(counts, IndexOutcome):
            if not counts.complete:
                self._put_aside(entry, budget, counts.job, report)
            else:
                self._aside.pop(entry.did, None)
            counts = counts.counts
        report.counts["applied"] += max(1, len(entry.ops))
        report.counts["indexings"] += 1
        if isinstance(counts, dict):
            for name, value in counts.items():
                if value:
                    report.counts[name] += int(value)
        if not isinstance(counts, dict) or counts.get("tracks_created"):
            self._adopt_orphans(entry.did, None, report)

    def _adopt_orphans(self, did: str, created: list[str] | None, report: BatchReport) -> None:
        """Likes that came before their track (the `created` tracks, or any now held) count now."""
        held = self._held(did)
        if held.orphans is None:
            held.orphans = {}
            for pointer in self.state.orphans(did):
                held.orphans.setdefault(str(pointer["track_uri"]), []).append(pointer)
        for uri in list(held.orphans) if created is None else created:
            track = held.tracks.get(uri)
            if track is None or uri not in held.orphans:
                continue
            for pointer in held.orphans.pop(uri):
                outcome = self.state.adopt_orphan(pointer, track)
                report.counts[f"orphans_{outcome}"] += 1
                if outcome == "applied":
                    self._changed_page(track)
                elif outcome == "moved":
                    held.orphans = None  # read again with the track, next time
                    self.forget(did)
                    return

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
        self.forget(did)
        report.counts["backfills"] += 1
        logger.info("firehose backfill", extra={"did": did, "handle": who.handle})
        return self.catalogue.get_artist(did) or artist

    # ---- likes ---------------------------------------------------------------------------------

    def _track(self, uri: str, track_id: int | None = None) -> Track | None:
        """The held track of a record URI (its artist's tracks read once); with `track_id`, only
        if it is that track."""
        track = self._held(_artist_of(uri)).tracks.get(uri)
        if track is not None and track_id is not None and track.id != track_id:
            return None
        return track

    def _likes(self, likes: list[tuple[str, RecordOp]], report: BatchReport, beat: Callable[[], None]) -> None:
        """Deletes before creates (a like deleted and another made for the same track in one
        batch leaves the new one counted), many to a transaction; a record seen twice in the
        batch, an update, or a transaction refused: one by one, in stream order."""
        times = Counter((liker, op.rkey) for liker, op in likes)
        one_by_one = [(liker, op) for liker, op in likes if times[(liker, op.rkey)] > 1 or op.action == "update"]
        deletes = [(liker, op) for liker, op in likes if times[(liker, op.rkey)] == 1 and op.action == "delete"]
        creates = [(liker, op) for liker, op in likes if times[(liker, op.rkey)] == 1 and op.action == "create"]
        if deletes:
            one_by_one += self._unlike_many(deletes, report, beat)
        if creates:
            one_by_one += self._like_many(creates, report, beat)
        for liker, op in one_by_one:
            self._like(liker, op, report)
            beat()

    def _chunks(self, rows: list[tuple[str, str, Track, Any]]) -> list[list[tuple[str, str, Track, Any]]]:
        """Rows (liker, rkey, track, extra) in chunks without two rows of one (liker, track)."""
        chunks: list[list[tuple[str, str, Track, Any]]] = []
        pairs: list[set[tuple[str, int]]] = []
        for row in rows:
            pair = (row[0], row[2].id)
            for chunk, taken in zip(chunks, pairs, strict=True):
                if len(chunk) < _LIKES_PER_TRANSACTION and pair not in taken:
                    chunk.append(row)
                    taken.add(pair)
                    break
            else:
                chunks.append([row])
                pairs.append({pair})
        return chunks

    def _read_likes(self, entry: _RepoWork, report: BatchReport) -> None:
        """Likes whose commits came without their blocks: read from the liker's PDS (the record
        as it is now; gone means deleted since, and its delete is on the stream). A PDS that
        cannot answer leaves the repository's rev unrecorded. The reads share the repository's
        budget per batch, so a liker's slow PDS delays no one else by more than that: the likes
        left unread wait, like those of a PDS that cannot answer."""
        budget = self._budget()
        try:
            pds_url = self.resolve(entry.did).pds_url
        except identity.UnknownIdentity:
            report.counts["skipped_unknown_identity"] += len(entry.likes_unread)
            return
        except (xrpc.PdsUnavailable, xrpc.XrpcError):
            entry.failed = True
            report.counts["failed_like_read"] += len(entry.likes_unread)
            return
        for n, op in enumerate(entry.likes_unread):
            if not budget.take_call():
                entry.failed = True
                report.counts["like_reads_over_budget"] += len(entry.likes_unread) - n
                logger.warning(
                    "firehose like reads over the repository's budget",
                    extra={"did": entry.did, "left": len(entry.likes_unread) - n, "budget": budget.spent},
                )
                break
            try:
                record = self.get_record(pds_url, entry.did, LIKE, op.rkey)
            except (xrpc.PdsUnavailable, xrpc.XrpcError):
                entry.failed = True
                report.counts["failed_like_read"] += 1
                continue
            if record is None:
                report.counts["skipped_like_gone"] += 1
            elif (problem := record_problem(LIKE, record.value)) is not None:
                report.counts["skipped_invalid"] += 1
                logger.info("firehose record skipped", extra={"uri": record.uri, "problem": problem})
            else:
                entry.likes.append(RecordOp("create", LIKE, op.rkey, record.cid, record.value))
                report.counts["likes_read"] += 1

    def _like_many(
        self, creates: list[tuple[str, RecordOp]], report: BatchReport, beat: Callable[[], None]
    ) -> list[tuple[str, RecordOp]]:
        """Returns the likes left to apply one by one."""
        rest: list[tuple[str, RecordOp]] = []
        rows: list[tuple[str, str, Track, Any]] = []
        for liker, op in creates:
            subject = strong_ref_track((op.value or {}).get("subject"))
            assert subject is not None  # checked when decoded
            track = self._track(subject[1])
            if track is None:
                rest.append((liker, op))  # not held (yet): recorded as an orphan
            else:
                rows.append((liker, op.rkey, track, (subject[2], op)))
        for chunk in self._chunks(rows):
            if self.state.add_likes([(liker, rkey, track, extra[0]) for liker, rkey, track, extra in chunk]):
                report.counts["likes_applied"] += len(chunk)
                report.counts["applied"] += len(chunk)
                for _, _, track, _ in chunk:
                    self._changed_page(track)
            else:
                rest += [(liker, extra[1]) for liker, _, _, extra in chunk]
            beat()
        return rest

    def _unlike_many(
        self, deletes: list[tuple[str, RecordOp]], report: BatchReport, beat: Callable[[], None]
    ) -> list[tuple[str, RecordOp]]:
        """Returns the deletes left to apply one by one."""
        records = self.state.like_records([(liker, op.rkey) for liker, op in deletes])
        rest: list[tuple[str, RecordOp]] = []
        rows: list[tuple[str, str, Track, Any]] = []
        for liker, op in deletes:
            record = records.get((liker, op.rkey))
            track = None
            if record is not None and record.get("state") == "counted" and record.get("track_uri"):
                track = self._track(str(record["track_uri"]), int(record["track_id"]))
            if track is None:
                rest.append((liker, op))  # never seen, already deleted, not counted, or moved
            else:
                rows.append((liker, op.rkey, track, op))
        for chunk in self._chunks(rows):
            if self.state.remove_likes([(liker, rkey, track.id, track) for liker, rkey, track, _ in chunk]):
                report.counts["unlikes_applied"] += len(chunk)
                report.counts["applied"] += len(chunk)
                for _, _, track, _ in chunk:
                    self._changed_page(track)
            else:
                rest += [(liker, op) for liker, _, _, op in chunk]
            beat()
        return rest

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
        for attempt in range(_LIKE_ATTEMPTS):
            track = self._track(uri)
            if track is None and attempt == 0:
                self.forget(artist_did)  # indexed since it was read (a login, a sync)?
                continue
            if track is None:
                if self.state.orphan_like(liker, op.rkey, uri, cid):
                    report.counts["likes_orphan"] += 1
                    held = self._held_artists.get(artist_did)
                    if held is not None and held.orphans is not None:
                        pointer = {"liker": liker, "rkey": op.rkey, "track_uri": uri, "subject_cid": cid}
                        held.orphans.setdefault(uri, []).append(pointer)
                else:
                    report.counts["skipped_replayed"] += 1
                return
            outcome = self.state.add_like(liker, op.rkey, track, cid)
            if outcome == "moved":
                self.forget(artist_did)  # read again: it moved or went
                continue
            report.counts[f"likes_{outcome}"] += 1
            if outcome == "applied":
                report.counts["applied"] += 1
                self._changed_page(track)
            return
        report.counts["failed_like"] += 1

    def _unlike(self, liker: str, op: RecordOp, report: BatchReport) -> None:
        for _ in range(_LIKE_ATTEMPTS):
            record = self.state.like_record(liker, op.rkey)
            track = None
            if record is not None and record.get("state") == "counted":
                if record.get("track_uri"):
                    track = self._track(str(record["track_uri"]), int(record["track_id"]))
                if track is None:
                    track = self.catalogue.find_track(int(record["track_id"]))
            outcome = self.state.remove_like(liker, op.rkey, track)
            if outcome == "moved":
                if record is not None and record.get("track_uri"):
                    self.forget(_artist_of(str(record["track_uri"])))
                continue
            report.counts[f"unlikes_{outcome}"] += 1
            if outcome in ("applied", "handed_over"):
                report.counts["applied"] += 1
            if outcome == "applied" and track is not None:
                self._changed_page(track)
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
        self.forget(event.did)
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
        self.forget(event.did)
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

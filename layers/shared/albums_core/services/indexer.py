"""Indexing an artist's repository: their fm.plyr.track records and fm.plyr.list (album)
records, read with listRecords, upserted into the catalogue. Only differences are written,
so a second run changes nothing.

Every run is bounded, whoever runs the PDS: its listings by pages, records and bytes (the
settings' caps) and by the run's budget (a deadline on an injected clock and, for the firehose
consumer, a number of calls), checked before each page and between writes; half the time goes
to listing, so what was read is written. What a run leaves (a login's LOGIN_INDEX_SECONDS, a
sync's SYNC_INDEX_SECONDS, a job's INDEX_JOB_SECONDS) is a background job: a job item in the
catalogue, which its stream hands to ProcessCatalogueStreamFunction, which continues from the
listing's cursor. A collection read from its start to its end in one run is "whole": only then
are albums and tracks it no longer lists removed (a partial read keeps what it did not see).
Past PDS_LIST_MAX_RECORDS records of a collection the artist is marked over the cap."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from albums_core.adapters.atproto import xrpc
from albums_core.adapters.atproto.record_editor import pds_failures
from albums_core.adapters.dynamodb.catalogue import CatalogueWriter
from albums_core.adapters.dynamodb.jobs import CleanupJobs
from albums_core.adapters.dynamodb.page_cache import invalidate_album_cache
from albums_core.config import settings
from albums_core.domain.at_uri import list_item_uris
from albums_core.domain.errors import AlbumNotFound, ConcurrentUpdate, Conflict, RecordHeld
from albums_core.domain.firehose_events import NOT_AN_ALBUM, record_problem
from albums_core.domain.models import Album, Artist, Track
from albums_core.domain.read_budget import ReadBudget
from albums_core.domain.records import LIST, TRACK, album_id_for, new_track, now_iso, track_fields
from albums_core.domain.slugs import slugify
from albums_core.domain.text_rules import record_text, salvage_title
from albums_core.observability import logger, metrics
from albums_core.services import cleanup

UNTITLED = "Untitled album"
# The kind of the job item that finishes an indexing a login left unfinished.
INDEX_JOB = "index_artist"
# The album lease the indexer takes to remove an album (as long as a request's).
_LEASE_SECONDS = 60
# What the catalogue raises when a write finds the album gone or changed meanwhile.
_RACED = (AlbumNotFound, ConcurrentUpdate)
# The share of a run's time its listings may take: the rest writes what they read.
_LISTING_SHARE = 0.5
# Skipped records logged one by one per run (the rest only counted: a listing may be all junk).
_LOGGED_SKIPS = 10
# Jobs one indexing may chain (each continuing where the last stopped) before it gives up.
_MAX_LINKS = 50


@dataclass
class Reading:
    """One collection as a run read it. `whole`: from its start to its end in this run, so a
    record it does not list is gone. `cursor`: where the next run continues (None: the end was
    reached, or the PDS gave no way on). `listed`: records read since the indexing began."""

    records: dict[str, xrpc.Record] = field(default_factory=dict)
    whole: bool = False
    start: str | None = None
    cursor: str | None = None
    listed: int = 0
    over_cap: bool = False
    skipped: bool = False  # read to its end by an earlier run of this indexing: not read again


def _title(value: dict[str, Any]) -> str:
    return salvage_title(value.get("name")) or UNTITLED


class Indexer:
    def __init__(
        self,
        artist: Artist,
        repo: CatalogueWriter | None = None,
        budget: ReadBudget | None = None,
        resume: dict[str, Any] | None = None,
    ) -> None:
        assert artist.pds_url
        self.artist = artist
        self.repo = repo or CatalogueWriter()
        # What the run may spend (None: a background job's INDEX_JOB_SECONDS).
        self.budget = budget or ReadBudget(settings().index_job_seconds)
        # Where an earlier run of this indexing stopped (a job's), None: from the start.
        self.resume = resume or {}
        self.complete = True
        self.readings: dict[str, Reading] = {}
        self.touched: set[str] = set()
        # Albums another actor is changing or deleting right now (a request holding the
        # album's lease, a cleanup job, a delete that finished meanwhile): their tracks are
        # left to it, so no run reports or writes a state that actor is undoing.
        self.busy: set[str] = set()
        self.counts = {
            "albums_created": 0,
            "albums_updated": 0,
            "albums_removed": 0,
            "tracks_created": 0,
            "tracks_updated": 0,
            "tracks_removed": 0,
            # Records we cannot or will not store (too large, too deep, not of the lexicon's
            # shape): skipped, so one bad record never stops the others.
            "skipped_invalid": 0,
        }

    def _in_time(self) -> bool:
        """False once the deadline has passed (and from then on): the run writes nothing more."""
        if self.complete and not self.budget.in_time():
            self.complete = False
        return self.complete

    def _read(self, collection: str, budget: ReadBudget) -> Reading:
        """The collection from where this indexing stopped, in listing calls while they end on
        a per-call cap, until its end, PDS_LIST_MAX_RECORDS in all, PDS_LIST_MAX_BYTES this run,
        or the budget."""
        cfg = settings()
        cursors = self.resume.get("cursors") or {}
        start = cursors.get(collection)
        out = Reading(start=start, cursor=start, listed=int((self.resume.get("listed") or {}).get(collection, 0)))
        if collection in (self.resume.get("done") or []):
            out.skipped = True
            return out
        size = 0
        while True:
            left = cfg.pds_list_max_records - out.listed
            if left <= 0:
                out.over_cap, out.cursor = True, None
                return out
            listing = xrpc.list_records(
                str(self.artist.pds_url),
                self.artist.did,
                collection,
                cursor=out.cursor,
                budget=budget,
                max_records=min(cfg.pds_list_records_per_call, left),
                max_bytes=max(1, cfg.pds_list_max_bytes - size),
            )
            for record in listing:
                out.records[record.uri] = record
            out.listed += len(listing)
            size += listing.size
            out.cursor = listing.cursor
            if listing.complete:
                out.whole = start is None
                return out
            if listing.stopped not in ("pages", "records") or size >= cfg.pds_list_max_bytes:
                return out  # the budget, the bytes, or a PDS that gives no way on

    def continuation(self) -> dict[str, Any] | None:
        """What a job needs to go on where this run stopped; None when nothing is left. A run
        whose writes were cut goes on from where it started reading (writes are idempotent)."""
        if not self.readings:
            return None
        cut = not self.complete
        if not cut and all(r.cursor is None for r in self.readings.values()):
            return None
        cursors: dict[str, str] = {}
        listed: dict[str, int] = {}
        done: list[str] = []
        before = self.resume.get("listed") or {}
        for collection, reading in self.readings.items():
            if reading.skipped:
                done.append(collection)
                continue
            cursor = reading.start if cut else reading.cursor
            if cursor is not None:
                cursors[collection] = cursor
                listed[collection] = int(before.get(collection, 0)) if cut else reading.listed
            elif collection == TRACK and not cut:
                done.append(collection)  # read to its end in this indexing: not again (lists are)
        links = int(self.resume.get("links", 0)) + 1
        if links > _MAX_LINKS:
            logger.warning("indexing stopped after its last job", extra={"did": self.artist.did, "links": links})
            return None
        return {"cursors": cursors, "listed": listed, "done": done, "links": links}

    def _note_over_cap(self) -> None:
        over = sorted(c for c, r in self.readings.items() if r.over_cap)
        if not over:
            return
        logger.warning(
            "artist over the record cap: the rest of the collection is not indexed",
            extra={"did": self.artist.did, "collections": over, "cap": settings().pds_list_max_records},
        )
        metrics.add_metric(name="ArtistsOverRecordCap", unit=MetricUnit.Count, value=1)
        self.repo.mark_over_record_cap(self.artist.did, over, now_iso())

    def run(self) -> dict[str, int]:
        did, pds = self.artist.did, self.artist.pds_url
        assert pds
        # The catalogue before the PDS: a delete removes the list record before the album, so
        # an album missing here is missing there too (read the other way round, a delete
        # finishing in between would have the run create the album again).
        local_albums = {a.list_uri: a for a in self.repo.artist_albums(did) if a.list_uri}
        self.busy.update(cleanup.albums_in_cleanup(self.repo, did))
        local_tracks = {t.record_uri: t for t in self.repo.artist_tracks(did) if t.record_uri}
        listing_budget = self.budget.share(_LISTING_SHARE)
        tracks = self.readings[TRACK] = self._read(TRACK, listing_budget)
        lists = self.readings[LIST] = self._read(LIST, listing_budget)
        self._note_over_cap()
        # Records are checked as the firehose consumer checks them (one rule for both ways in):
        # a list of 600 items or a record whose $type is another collection counts nowhere.
        remote_tracks = self._valid(tracks.records.values(), TRACK)
        remote_lists = self._valid(lists.records.values(), LIST)

        # Membership from the list records: a track belongs to the first album listing it. A
        # track not listed in this run (a partial read) counts where the catalogue has it.
        membership: dict[str, str] = {}
        orders: dict[str, list[str]] = {}
        for list_uri in sorted(remote_lists, key=lambda u: (str(remote_lists[u].value.get("createdAt", "")), u)):
            order = []
            for uri in list_item_uris({"value": remote_lists[list_uri].value}):
                held = local_tracks.get(uri)
                known = uri in remote_tracks or (
                    not tracks.whole and held is not None and held.album_id == album_id_for(list_uri)
                )
                if known and uri not in membership:
                    membership[uri] = list_uri
                    order.append(uri)
            orders[list_uri] = order

        albums: dict[str, Album] = {}
        for list_uri, record in remote_lists.items():
            if not self._in_time():
                break
            try:
                albums[list_uri] = self._upsert_album(local_albums.get(list_uri), list_uri, record, orders[list_uri])
            except _RACED:
                # Deleted between the reads and this write: the delete finishes it.
                if self.repo.get_album(album_id_for(list_uri)) is not None:
                    raise
                self.busy.add(album_id_for(list_uri))
        for list_uri, album in local_albums.items():
            if lists.whole and list_uri not in remote_lists and album.list_cid and self._in_time():
                self._remove_album(album, local_tracks)

        # Album tracks first, in their albums' order: a run cut short shows whole albums first.
        ranked = {uri: i for i, uri in enumerate(u for order in orders.values() for u in order)}
        for uri in sorted(remote_tracks, key=lambda u: (ranked.get(u, len(ranked)), u)):
            if not self._in_time():
                break
            record = remote_tracks[uri]
            local = local_tracks.get(uri)
            if uri in membership:
                member = albums.get(membership[uri])
                album_id = member.id if member else None
            elif not lists.whole and local is not None:
                album_id = local.album_id  # its list may be one this run did not read
            else:
                album_id = None
            if (local and local.album_id in self.busy) or (album_id and album_id in self.busy):
                continue
            self._upsert_track(local, uri, record, album_id)
        for uri, track in local_tracks.items():
            if tracks.whole and uri not in remote_tracks and track.album_id not in self.busy and self._in_time():
                self.repo.remove_track(track)
                self.counts["tracks_removed"] += 1
                if track.album_id:
                    self.touched.add(track.album_id)

        # Also when cut short: the counters of every album it changed are exact.
        for album_id in self.touched - self.busy:
            self._recount(album_id)
        if skipped := self.counts["skipped_invalid"]:
            metrics.add_metric(name="RecordsSkippedInvalid", unit=MetricUnit.Count, value=skipped)
        if not self.complete or not (tracks.whole and lists.whole):
            return self.counts  # not synced: the background job goes on, the sweep reads it whole
        self.repo.mark_synced(did, now_iso())
        return self.counts

    def _valid(self, records: Iterable[xrpc.Record], collection: str) -> dict[str, xrpc.Record]:
        """The records that may be indexed, by URI; the others counted (a list of another
        kind, a playlist, is not ours rather than invalid) and logged."""
        valid: dict[str, xrpc.Record] = {}
        for record in records:
            problem = record_problem(collection, record.value)
            if problem is None:
                valid[record.uri] = record
            elif problem != NOT_AN_ALBUM:
                self.counts["skipped_invalid"] += 1
                if self.counts["skipped_invalid"] <= _LOGGED_SKIPS:
                    logger.info("record skipped", extra={"uri": record.uri[:300], "problem": problem})
        return valid

    def _upsert_album(self, album: Album | None, list_uri: str, record: xrpc.Record, order: list[str]) -> Album:
        title = _title(record.value)
        if album is None:
            created = record_text(record.value.get("createdAt"), 64) or now_iso()
            base = slugify(title)
            for n in range(1, 50):
                slug = base if n == 1 else f"{base[:95]}-{n}"
                album = Album(
                    id=album_id_for(list_uri),
                    artist_did=self.artist.did,
                    slug=slug,
                    title=title,
                    list_uri=list_uri,
                    list_cid=record.cid,
                    created_at=created,
                    updated_at=now_iso(),
                    track_order=order,
                )
                try:
                    self.repo.create_album(album, self.artist.handle)
                    break
                except Conflict:
                    raced = self.repo.get_album(album.id)
                    if raced is not None:  # another run indexed this record meanwhile
                        return raced
                    continue
            assert album is not None
            self.counts["albums_created"] += 1
            self.touched.add(album.id)
            return album
        changes: dict[str, Any] = {}
        if album.list_cid != record.cid:
            changes["list_cid"] = record.cid
        if album.track_order != order:
            changes["track_order"] = order
        if title != album.title:
            slug = slugify(title)
            if slug == album.slug or self.repo.claim_slug(self.artist.did, self.artist.handle, slug, album.id):
                invalidate_album_cache(self.artist.handle, album.slug)
                album = self.repo.finish_rename(album, self.artist.handle, title, slug, now_iso())
            else:
                changes["title"] = title
        if changes:
            # A change made elsewhere (the firehose, a sync): an editor's If-Match must see it.
            album = self.repo.set_album_fields(album, versioned=True, **changes)
        if changes or title != album.title:
            self.counts["albums_updated"] += 1
            self.touched.add(album.id)
        return album

    def _remove_album(self, album: Album, local_tracks: dict[str, Track]) -> None:
        """An album whose list record is gone: its tracks become standalone, it goes. Under
        the album's lease, like a request: when a request holds it (most likely the delete
        that removed the list record) or the album is gone already, that request finishes."""
        token = uuid.uuid4().hex
        if not self.repo.lock_album(album.id, token, _LEASE_SECONDS):
            self.busy.add(album.id)
            return
        try:
            loaded = self.repo.load_album(album.id)
            for moved in self.repo.detach_tracks(loaded[1] if loaded else []):
                if moved.record_uri:
                    local_tracks[moved.record_uri] = moved
            self.repo.delete_album_items(album, self.artist.handle)
        finally:
            self.repo.unlock_album(album.id, token)
        invalidate_album_cache(self.artist.handle, album.slug)
        self.counts["albums_removed"] += 1

    def _upsert_track(self, local: Track | None, uri: str, record: xrpc.Record, album_id: str | None) -> None:
        if local is None:
            track = new_track(self.repo.next_track_id(), self.artist.did, album_id, uri, record.cid, record.value)
            try:
                if not self._write_track(track, None):
                    return
            except RecordHeld as held:
                # Another writer (an attach, the firehose consumer) created the record's track
                # after this run read the catalogue: that one is updated, no second is made.
                if held.track.album_id not in self.busy:
                    self._upsert_track(held.track, uri, record, album_id)
                return
            self.counts["tracks_created"] += 1
        else:
            track = Track.from_data(
                {**asdict(local), **track_fields(uri, record.cid, record.value), "album_id": album_id}
            )
            if track == local:
                return
            if local.album_id != album_id and local.album_id:
                self.touched.add(local.album_id)
            if not self._write_track(track, local):
                return
            self.counts["tracks_updated"] += 1
        if album_id:
            self.touched.add(album_id)

    def _write_track(self, track: Track, replaces: Track | None) -> bool:
        """Into an album only while it exists: a track put in the partition of an album
        deleted meanwhile would outlive it. False when it is gone (its delete finishes)."""
        try:
            self.repo.save_track(track, replaces)
        except ConcurrentUpdate:
            if not track.album_id or self.repo.get_album(track.album_id) is not None:
                raise
            self.busy.add(track.album_id)
            return False
        return True

    def _recount(self, album_id: str) -> None:
        album = self.repo.recount(album_id)  # None when deleted after it was read
        if album is not None:
            invalidate_album_cache(self.artist.handle, album.slug)


@dataclass(frozen=True)
class IndexOutcome:
    """A bounded indexing: what it changed, whether it did all, and the job that goes on."""

    counts: dict[str, int]
    complete: bool
    job: str | None


def index(
    artist: Artist,
    repo: CatalogueWriter | None = None,
    budget: ReadBudget | None = None,
    resume: dict[str, Any] | None = None,
    job_id: str | None = None,
) -> IndexOutcome:
    """One bounded run; what it leaves is a background job (`job_id`: at most once)."""
    repo = repo or CatalogueWriter()
    run = Indexer(artist, repo, budget, resume)
    counts = run.run()
    following = run.continuation()
    job = request_backfill(artist, repo, job_id, resume=following) if following is not None else None
    if job:
        logger.info(
            "indexing cut short by its budget; a job goes on",
            extra={"did": artist.did, "job_id": job, "budget": run.budget.spent, "links": following.get("links")}
            if following
            else {"did": artist.did, "job_id": job},
        )
    return IndexOutcome(counts, following is None, job)


def sync_artist(
    artist: Artist, repo: CatalogueWriter | None = None, budget: ReadBudget | None = None
) -> dict[str, int]:
    return index(artist, repo, budget).counts


def sync_for_caller(artist: Artist) -> dict[str, Any]:
    """POST /artists/me/sync: SYNC_INDEX_SECONDS of indexing, the rest a background job (so it
    answers in time whatever the PDS does); a PDS failure raised as the domain error the HTTP
    layer answers (502; 403 when the PDS refuses the account), as the album mutations do."""
    pds_url = artist.pds_url
    assert pds_url
    with pds_failures(lambda: xrpc.latest_commit(pds_url, artist.did)):
        out = index(artist, budget=ReadBudget(settings().sync_index_seconds))
    return {**out.counts, "complete": out.complete}


def request_backfill(
    artist: Artist, repo: CatalogueWriter, job_id: str | None = None, resume: dict[str, Any] | None = None
) -> str | None:
    """A job item that has the catalogue stream index the artist's repository (from where
    `resume` says an earlier run stopped). With a `job_id` chosen by the caller it is requested
    at most once: None when it was already."""
    job_id = job_id or uuid.uuid4().hex
    job: dict[str, Any] = {
        "job_id": job_id,
        "kind": INDEX_JOB,
        "status": cleanup.PENDING,
        "artist_did": artist.did,
        "created_at": now_iso(),
    }
    if resume:
        job["resume"] = resume
    return job_id if CleanupJobs(repo).create(job, only_new=True) else None


def run_backfill(job_id: str, repo: CatalogueWriter | None = None, budget: ReadBudget | None = None) -> str:
    """The job of `request_backfill` (from the catalogue stream): INDEX_JOB_SECONDS of the
    indexing from where it stopped, another job for what is left, then this job goes.
    Idempotent: "gone" when it already ran (a stream record delivered again)."""
    repo = repo or CatalogueWriter()
    jobs = CleanupJobs(repo)
    job = jobs.get(job_id)
    if job is None:
        return "gone"
    artist = repo.get_artist(str(job.get("artist_did")))
    if artist is not None and artist.pds_url:
        resume = job.get("resume") if isinstance(job.get("resume"), dict) else None
        out = index(
            artist, repo, budget, resume=resume, job_id=f"{job_id[:40]}-{int((resume or {}).get('links', 0)) + 1}"
        )
        logger.info("background indexing ran", extra={"job_id": job_id, "next_job": out.job, **out.counts})
    jobs.finish(job_id)
    return "done"


def index_at_login(artist: Artist, repo: CatalogueWriter | None = None) -> dict[str, Any]:
    """What a login indexes before it answers: LOGIN_INDEX_SECONDS of it, and a background job
    for the rest when that is not all."""
    out = index(artist, repo, ReadBudget(settings().login_index_seconds))
    return {**out.counts, "complete": out.complete, "backfill_job": out.job}

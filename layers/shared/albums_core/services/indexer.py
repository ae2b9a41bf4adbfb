"""Indexing an artist's repository: their fm.plyr.track records and fm.plyr.list (album)
records, read with listRecords, upserted into the catalogue. Only differences are written,
so a second run changes nothing.

A login indexes only what fits in LOGIN_INDEX_SECONDS (a run stops between two writes when
its deadline passes); the rest is a background job: a job item in the catalogue, which its
stream hands to ProcessCatalogueStreamFunction, which runs the whole (idempotent) indexing."""

from __future__ import annotations

import time
import uuid
from dataclasses import asdict
from typing import Any

from albums_core.adapters.atproto import xrpc
from albums_core.adapters.atproto.record_editor import pds_failures
from albums_core.adapters.dynamodb.catalogue import CatalogueWriter
from albums_core.adapters.dynamodb.jobs import CleanupJobs
from albums_core.adapters.dynamodb.page_cache import invalidate_album_cache
from albums_core.config import settings
from albums_core.domain.at_uri import list_item_uris
from albums_core.domain.errors import AlbumNotFound, ConcurrentUpdate, Conflict, RecordHeld
from albums_core.domain.firehose_events import record_problem
from albums_core.domain.models import Album, Artist, Track
from albums_core.domain.records import LIST, TRACK, album_id_for, new_track, now_iso, track_fields
from albums_core.domain.slugs import slugify
from albums_core.domain.text_rules import salvage_title
from albums_core.observability import logger
from albums_core.services import cleanup

UNTITLED = "Untitled album"
# The kind of the job item that finishes an indexing a login left unfinished.
INDEX_JOB = "index_artist"
# The album lease the indexer takes to remove an album (as long as a request's).
_LEASE_SECONDS = 60
# What the catalogue raises when a write finds the album gone or changed meanwhile.
_RACED = (AlbumNotFound, ConcurrentUpdate)


def _title(value: dict[str, Any]) -> str:
    return salvage_title(value.get("name")) or UNTITLED


class Indexer:
    def __init__(self, artist: Artist, repo: CatalogueWriter | None = None, deadline: float | None = None) -> None:
        assert artist.pds_url
        self.artist = artist
        self.repo = repo or CatalogueWriter()
        # time.monotonic() after which no more records are written (None: the whole run).
        self.deadline = deadline
        self.complete = True
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
        }

    def _in_time(self) -> bool:
        """False once the deadline has passed (and from then on): the run writes nothing more."""
        if self.complete and self.deadline is not None and time.monotonic() >= self.deadline:
            self.complete = False
        return self.complete

    def run(self) -> dict[str, int]:
        did, pds = self.artist.did, self.artist.pds_url
        assert pds
        # The catalogue before the PDS: a delete removes the list record before the album, so
        # an album missing here is missing there too (read the other way round, a delete
        # finishing in between would have the run create the album again).
        local_albums = {a.list_uri: a for a in self.repo.artist_albums(did) if a.list_uri}
        self.busy.update(cleanup.albums_in_cleanup(self.repo, did))
        local_tracks = {t.record_uri: t for t in self.repo.artist_tracks(did) if t.record_uri}
        # Records are checked as the firehose consumer checks them (one rule for both ways in):
        # a list of 600 items or a record whose $type is another collection counts nowhere.
        remote_tracks = {r.uri: r for r in xrpc.list_records(pds, did, TRACK) if record_problem(TRACK, r.value) is None}
        remote_lists = {r.uri: r for r in xrpc.list_records(pds, did, LIST) if record_problem(LIST, r.value) is None}

        # Membership from the list records: a track belongs to the first album listing it.
        membership: dict[str, str] = {}
        orders: dict[str, list[str]] = {}
        for list_uri in sorted(remote_lists, key=lambda u: (str(remote_lists[u].value.get("createdAt", "")), u)):
            order = []
            for uri in list_item_uris({"value": remote_lists[list_uri].value}):
                if uri in remote_tracks and uri not in membership:
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
            if list_uri not in remote_lists and album.list_cid and self._in_time():
                self._remove_album(album, local_tracks)

        # Album tracks first, in their albums' order: a run cut short shows whole albums first.
        ranked = {uri: i for i, uri in enumerate(u for order in orders.values() for u in order)}
        for uri in sorted(remote_tracks, key=lambda u: (ranked.get(u, len(ranked)), u)):
            if not self._in_time():
                break
            record = remote_tracks[uri]
            local = local_tracks.get(uri)
            member_of = albums.get(membership.get(uri, ""))
            if (local and local.album_id in self.busy) or (member_of and member_of.id in self.busy):
                continue
            self._upsert_track(local, uri, record, member_of)
        for uri, track in local_tracks.items():
            if uri not in remote_tracks and track.album_id not in self.busy and self._in_time():
                self.repo.remove_track(track)
                self.counts["tracks_removed"] += 1
                if track.album_id:
                    self.touched.add(track.album_id)

        # Also when cut short: the counters of every album it changed are exact.
        for album_id in self.touched - self.busy:
            self._recount(album_id)
        if not self.complete:
            return self.counts  # not synced: the background job finishes and marks it
        self.repo.mark_synced(did, now_iso())
        return self.counts

    def _upsert_album(self, album: Album | None, list_uri: str, record: xrpc.Record, order: list[str]) -> Album:
        title = _title(record.value)
        if album is None:
            created = str(record.value.get("createdAt") or now_iso())[:64]
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
            album = self.repo.set_album_fields(album, **changes)
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

    def _upsert_track(self, local: Track | None, uri: str, record: xrpc.Record, album: Album | None) -> None:
        album_id = album.id if album else None
        if local is None:
            track = new_track(self.repo.next_track_id(), self.artist.did, album_id, uri, record.cid, record.value)
            try:
                if not self._write_track(track, None):
                    return
            except RecordHeld as held:
                # Another writer (an attach, the firehose consumer) created the record's track
                # after this run read the catalogue: that one is updated, no second is made.
                if held.track.album_id not in self.busy:
                    self._upsert_track(held.track, uri, record, album)
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


def sync_artist(artist: Artist, repo: CatalogueWriter | None = None) -> dict[str, int]:
    return Indexer(artist, repo).run()


def sync_for_caller(artist: Artist) -> dict[str, int]:
    """POST /artists/me/sync: the whole indexing, a PDS failure raised as the domain error the
    HTTP layer answers (502), as the album mutations do."""
    with pds_failures():
        return sync_artist(artist)


def request_backfill(artist: Artist, repo: CatalogueWriter, job_id: str | None = None) -> str | None:
    """A job item that has the catalogue stream index the artist's whole repository. With a
    `job_id` chosen by the caller it is requested at most once: None when it was already."""
    job_id = job_id or uuid.uuid4().hex
    job = {
        "job_id": job_id,
        "kind": INDEX_JOB,
        "status": cleanup.PENDING,
        "artist_did": artist.did,
        "created_at": now_iso(),
    }
    return job_id if CleanupJobs(repo).create(job, only_new=True) else None


def run_backfill(job_id: str, repo: CatalogueWriter | None = None) -> str:
    """The job of `request_backfill` (from the catalogue stream): the whole indexing, then the job
    goes. Idempotent: "gone" when it already ran (a stream record delivered again)."""
    repo = repo or CatalogueWriter()
    jobs = CleanupJobs(repo)
    job = jobs.get(job_id)
    if job is None:
        return "gone"
    artist = repo.get_artist(str(job.get("artist_did")))
    if artist is not None and artist.pds_url:
        counts = Indexer(artist, repo).run()
        logger.info("background indexing finished", extra={"job_id": job_id, **counts})
    jobs.finish(job_id)
    return "done"


def index_at_login(artist: Artist, repo: CatalogueWriter | None = None) -> dict[str, Any]:
    """What a login indexes before it answers: LOGIN_INDEX_SECONDS of it, and a background job
    for the rest when that is not all."""
    repo = repo or CatalogueWriter()
    run = Indexer(artist, repo, deadline=time.monotonic() + settings().login_index_seconds)
    counts = run.run()
    job = None if run.complete else request_backfill(artist, repo)
    if job:
        logger.info("login indexed part of the repository; a job indexes the rest", extra={"job_id": job})
    return {**counts, "complete": run.complete, "backfill_job": job}

"""One indexing run of an artist's repository (services/indexer.py starts runs and chains them
as jobs): their fm.plyr.track and fm.plyr.list records listed from the PDS, within the run's
budget, and the catalogue brought to what they say. Only differences are written, so a second
run changes nothing. A collection read from its start to its end in one run is "whole": only
then are albums and tracks it no longer lists removed (a partial read keeps what it did not
see). Past PDS_LIST_MAX_RECORDS records of a collection the artist is marked over the cap."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from albums_core.config import settings
from albums_core.domain.at_uri import list_item_uris
from albums_core.domain.errors import AlbumNotFound, ConcurrentUpdate, Conflict, RecordHeld
from albums_core.domain.firehose_events import NOT_AN_ALBUM, record_problem
from albums_core.domain.models import Album, Artist, Track
from albums_core.domain.read_budget import ReadBudget
from albums_core.domain.records import LIST, TRACK, album_id_for, album_of_list, new_track, now_iso, track_fields
from albums_core.domain.sessions import Record
from albums_core.domain.slugs import slugify
from albums_core.domain.text_rules import salvage_title
from albums_core.observability import logger, metrics
from albums_core.ports import IndexCatalogue, PageCache, PdsReader
from albums_core.services.index_reading import Reading, continuation, read_collection

UNTITLED = "Untitled album"
# The album lease the indexer takes to remove an album (as long as a request's).
_LEASE_SECONDS = 60
# What the catalogue raises when a write finds the album gone or changed meanwhile.
_RACED = (AlbumNotFound, ConcurrentUpdate)
# The share of a run's time its listings may take: the rest writes what they read.
_LISTING_SHARE = 0.5
# Skipped records logged one by one per run (the rest only counted: a listing may be all junk).
_LOGGED_SKIPS = 10


@dataclass
class _Plan:
    """What the run read, and what it makes of the list records: each listed track's album
    (the first list naming it) and each list's order."""

    tracks: Reading
    lists: Reading
    local_albums: dict[str, Album]
    local_tracks: dict[str, Track]
    remote_tracks: dict[str, Record]
    remote_lists: dict[str, Record]
    membership: dict[str, str] = field(default_factory=dict)
    orders: dict[str, list[str]] = field(default_factory=dict)


def _title(value: dict[str, Any]) -> str:
    return salvage_title(value.get("name")) or UNTITLED


class Indexer:
    """One run: `run` then `continuation` (what a job needs to go on where it stopped)."""

    def __init__(
        self,
        artist: Artist,
        repo: IndexCatalogue,
        reader: PdsReader,
        cache: PageCache,
        budget: ReadBudget,
        busy: set[str],
        resume: dict[str, Any] | None = None,
    ) -> None:
        assert artist.pds_url
        self.artist = artist
        self.repo = repo
        self.reader = reader
        self.cache = cache
        self.budget = budget
        # Where an earlier run of this indexing stopped (a job's), None: from the start.
        self.resume = resume or {}
        self.complete = True
        self.readings: dict[str, Reading] = {}
        self.touched: set[str] = set()
        # Albums another actor is changing or deleting right now (a request holding the
        # album's lease, a cleanup job, a delete that finished meanwhile): their tracks are
        # left to it, so no run reports or writes a state that actor is undoing.
        self.busy = busy
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

    def _drop_page(self, slug: str) -> None:
        self.cache.invalidate(self.cache.album_key(self.artist.handle, slug))

    # ---- reading ------------------------------------------------------------------------------

    def _read(self, collection: str, budget: ReadBudget) -> Reading:
        return read_collection(self.reader, self.artist, collection, budget, self.resume)

    def continuation(self) -> dict[str, Any] | None:
        """What a job needs to go on where this run stopped; None when nothing is left."""
        return continuation(self.readings, self.complete, self.resume, self.artist.did)

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

    def _valid(self, records: Iterable[Record], collection: str) -> dict[str, Record]:
        """The records that may be indexed, by URI; the others counted (a list of another
        kind, a playlist, is not ours rather than invalid) and logged."""
        valid: dict[str, Record] = {}
        for record in records:
            problem = record_problem(collection, record.value)
            if problem is None:
                valid[record.uri] = record
            elif problem != NOT_AN_ALBUM:
                self.counts["skipped_invalid"] += 1
                if self.counts["skipped_invalid"] <= _LOGGED_SKIPS:
                    logger.info("record skipped", extra={"uri": record.uri[:300], "problem": problem})
        return valid

    def _plan(self, cleaning: Callable[[], set[str]]) -> _Plan:
        did = self.artist.did
        # The catalogue before the PDS: a delete removes the list record before the album, so
        # an album missing here is missing there too (read the other way round, a delete
        # finishing in between would have the run create the album again).
        local_albums = {a.list_uri: a for a in self.repo.artist_albums(did) if a.list_uri}
        self.busy.update(cleaning())
        local_tracks = {t.record_uri: t for t in self.repo.artist_tracks(did) if t.record_uri}
        listing_budget = self.budget.share(_LISTING_SHARE)
        tracks = self.readings[TRACK] = self._read(TRACK, listing_budget)
        lists = self.readings[LIST] = self._read(LIST, listing_budget)
        self._note_over_cap()
        # Records are checked as the firehose consumer checks them (one rule for both ways in):
        # a list of 600 items or a record whose $type is another collection counts nowhere.
        plan = _Plan(
            tracks,
            lists,
            local_albums,
            local_tracks,
            self._valid(tracks.records.values(), TRACK),
            self._valid(lists.records.values(), LIST),
        )
        # Membership from the list records: a track belongs to the first album listing it. A
        # track not listed in this run (a partial read) counts where the catalogue has it.
        remote_lists = plan.remote_lists
        for list_uri in sorted(remote_lists, key=lambda u: (str(remote_lists[u].value.get("createdAt", "")), u)):
            order = []
            for uri in list_item_uris({"value": remote_lists[list_uri].value}):
                held = local_tracks.get(uri)
                known = uri in plan.remote_tracks or (
                    not tracks.whole and held is not None and held.album_id == album_id_for(list_uri)
                )
                if known and uri not in plan.membership:
                    plan.membership[uri] = list_uri
                    order.append(uri)
            plan.orders[list_uri] = order
        return plan

    # ---- writing ------------------------------------------------------------------------------

    def run(self, cleaning: Callable[[], set[str]]) -> dict[str, int]:
        """The run; `cleaning`: the artist's albums a cleanup job is finishing (left to it)."""
        plan = self._plan(cleaning)
        albums = self._sync_albums(plan)
        self._sync_tracks(plan, albums)
        # Also when cut short: the counters of every album it changed are exact.
        for album_id in self.touched - self.busy:
            self._recount(album_id)
        if skipped := self.counts["skipped_invalid"]:
            metrics.add_metric(name="RecordsSkippedInvalid", unit=MetricUnit.Count, value=skipped)
        if not self.complete or not (plan.tracks.whole and plan.lists.whole):
            return self.counts  # not synced: the background job goes on, the sweep reads it whole
        self.repo.mark_synced(self.artist.did, now_iso())
        return self.counts

    def _sync_albums(self, plan: _Plan) -> dict[str, Album]:
        albums: dict[str, Album] = {}
        for list_uri, record in plan.remote_lists.items():
            if not self._in_time():
                break
            try:
                albums[list_uri] = self._upsert_album(
                    plan.local_albums.get(list_uri), list_uri, record, plan.orders[list_uri]
                )
            except _RACED:
                # Deleted between the reads and this write: the delete finishes it.
                if self.repo.get_album(album_id_for(list_uri)) is not None:
                    raise
                self.busy.add(album_id_for(list_uri))
        for list_uri, album in plan.local_albums.items():
            if plan.lists.whole and list_uri not in plan.remote_lists and album.list_cid and self._in_time():
                self._remove_album(album, plan.local_tracks)
        return albums

    def _album_of(self, plan: _Plan, albums: dict[str, Album], uri: str, local: Track | None) -> str | None:
        if uri in plan.membership:
            member = albums.get(plan.membership[uri])
            return member.id if member else None
        if not plan.lists.whole and local is not None:
            return local.album_id  # its list may be one this run did not read
        return None

    def _sync_tracks(self, plan: _Plan, albums: dict[str, Album]) -> None:
        # Album tracks first, in their albums' order: a run cut short shows whole albums first.
        ranked = {uri: i for i, uri in enumerate(u for order in plan.orders.values() for u in order)}
        for uri in sorted(plan.remote_tracks, key=lambda u: (ranked.get(u, len(ranked)), u)):
            if not self._in_time():
                break
            local = plan.local_tracks.get(uri)
            album_id = self._album_of(plan, albums, uri, local)
            if (local and local.album_id in self.busy) or (album_id and album_id in self.busy):
                continue
            self._upsert_track(local, uri, plan.remote_tracks[uri], album_id)
        for uri, track in plan.local_tracks.items():
            if (
                plan.tracks.whole
                and uri not in plan.remote_tracks
                and track.album_id not in self.busy
                and self._in_time()
            ):
                self.repo.remove_track(track)
                self.counts["tracks_removed"] += 1
                if track.album_id:
                    self.touched.add(track.album_id)

    def _create_album(self, list_uri: str, record: Record, title: str, order: list[str]) -> Album:
        base = slugify(title)
        album: Album | None = None
        for n in range(1, 50):
            slug = base if n == 1 else f"{base[:95]}-{n}"
            album = album_of_list(self.artist.did, list_uri, record.cid, record.value, title, slug, order)
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

    def _upsert_album(self, album: Album | None, list_uri: str, record: Record, order: list[str]) -> Album:
        title = _title(record.value)
        if album is None:
            return self._create_album(list_uri, record, title, order)
        changes: dict[str, Any] = {}
        if album.list_cid != record.cid:
            changes["list_cid"] = record.cid
        if album.track_order != order:
            changes["track_order"] = order
        if title != album.title:
            slug = slugify(title)
            if slug == album.slug or self.repo.claim_slug(self.artist.did, self.artist.handle, slug, album.id):
                self._drop_page(album.slug)
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
        self._drop_page(album.slug)
        self.counts["albums_removed"] += 1

    def _upsert_track(self, local: Track | None, uri: str, record: Record, album_id: str | None) -> None:
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
            self._drop_page(album.slug)

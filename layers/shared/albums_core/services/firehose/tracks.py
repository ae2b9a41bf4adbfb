"""A repository's track and list records of one batch. Track records are applied from the values
the commits carry: a create writes a new track, an update rewrites the record's fields in place
(only while the item still holds the version we read: counters and album stay ours), a delete
removes the item with its album's counters. A batch of one repository costs a few calls
whatever its size: the artist's tracks and albums are read once and held (held.py), new ids
reserved at once, new items written many a call.

List records the commit decides are applied from it too (lists.py). What that path cannot
decide alone goes to the indexer (indexing.py), which reads the repository again and writes
only differences: other list records (a rename as a rename, slug conflicts, membership across
albums, a deleted list's tracks become singles), a new track some list
names, a repository we never indexed (a backfill), a commit whose blocks miss a record, and any
write that finds the item moved or changed meanwhile. Our own API writes come back as commits
whose records already match: nothing is written."""

from __future__ import annotations

import threading
from dataclasses import asdict, replace

from albums_core.domain.firehose_events import LIST, RecordOp, record_problem
from albums_core.domain.models import Track
from albums_core.domain.read_budget import ReadBudget
from albums_core.domain.records import new_track, strong_ref_uris, track_fields
from albums_core.domain.upstream import PdsUnavailable, XrpcError
from albums_core.observability import logger
from albums_core.ports.firehose import FirehoseCatalogue, PdsReader
from albums_core.services.firehose.held import Held, HeldCatalogue
from albums_core.services.firehose.indexing import Indexing
from albums_core.services.firehose.likes import LikeIngest
from albums_core.services.firehose.lists import ListIngest, Undecided
from albums_core.services.firehose.planning import BatchReport, RepoWork

# Track ids reserved ahead, so that a track created alone (the whole network's stream: nearly
# every batch holds one) does not pay the counter's update: ids left when the container ends
# are never used (ids need only be unique; a guard that finds the track held wastes one too).
IDS_AHEAD = 16


class _Fallback(Exception):
    """The record-by-record path cannot apply this repository's batch: index it instead."""


class _Stale(Exception):
    """A conditional write found an item other than the one held: read again and retry."""


class TrackIngest:
    def __init__(
        self,
        held: HeldCatalogue,
        catalogue: FirehoseCatalogue,
        pds: PdsReader,
        likes: LikeIngest,
        indexing: Indexing,
    ) -> None:
        self.held = held
        self.catalogue = catalogue
        self.pds = pds
        self.likes = likes
        self.indexing = indexing
        self._ids: list[int] = []  # reserved, not used yet
        self._ids_lock = threading.Lock()
        self.lists = ListIngest(held, catalogue)

    def _take_ids(self, count: int) -> list[int]:
        with self._ids_lock:  # repositories are applied in threads (together.py)
            if len(self._ids) < count:
                self._ids += self.catalogue.reserve_track_ids(max(count - len(self._ids), IDS_AHEAD))
            taken, self._ids = self._ids[:count], self._ids[count:]
            return taken

    def apply(self, entry: RepoWork, report: BatchReport, budget: ReadBudget) -> None:
        held = self.held.held(entry.did)
        if held.artist is None:
            artist = self.indexing.backfill_artist(entry.did, report)
            if artist is not None:
                self.indexing.index(entry, artist, report, budget)
            return
        if not held.artist.pds_url:
            return
        if not entry.resync and any(op.collection == LIST for op in entry.ops):
            # Our own API's writes coming back need nothing. Tracks with their list, on a copy
            # held from before the batch, are checked once more on a fresh read: a track our API
            # uploaded into an album would otherwise look new and send the batch to the indexer.
            # A list alone is read again by its own path only if it cannot be applied (lists.py).
            if self._all_held(entry) or (self._with_tracks(entry) and self._again(entry)):
                report.counts["applied_own"] += len(entry.ops)
                return
            if self._lists_from_commits(entry, report, budget):
                return
        elif not entry.resync and self._applied_from_commits(entry, report, budget):
            return
        self.indexing.index(entry, self.held.held(entry.did).artist or held.artist, report, budget)

    def _applied_from_commits(self, entry: RepoWork, report: BatchReport, budget: ReadBudget) -> bool:
        """Whether the batch's track ops were applied from the commits (else: index it)."""
        for attempt in (1, 2):
            try:
                self._apply_tracks(entry, report, budget)
                return True
            except _Stale:
                self.held.forget(entry.did)  # read the catalogue again, then once more
                if attempt == 2:
                    report.counts["fallback_indexings"] += 1
            except _Fallback as why:
                report.counts["fallback_indexings"] += 1
                logger.info("firehose batch indexed instead", extra={"did": entry.did, "reason": str(why)})
                break
        return False

    def _lists_from_commits(self, entry: RepoWork, report: BatchReport, budget: ReadBudget) -> bool:
        """Whether the batch's tracks, then its lists, were applied from the commits (else: index
        it; the indexer then counts only the list ops, the tracks being applied)."""
        tracks = [op for op in entry.ops if op.collection != LIST]
        lists = [op for op in entry.ops if op.collection == LIST]
        if tracks and not self._applied_from_commits(replace(entry, ops=tracks), report, budget):
            return False
        try:
            self.lists.apply(entry, lists, report)
            return True
        except Undecided as why:
            report.counts["fallback_indexings"] += 1
            logger.info("firehose list indexed instead", extra={"did": entry.did, "reason": str(why)})
            entry.ops = lists
            return False

    def _with_tracks(self, entry: RepoWork) -> bool:
        return self.held.predates_batch(entry.did) and any(op.collection != LIST for op in entry.ops)

    def _again(self, entry: RepoWork) -> bool:
        self.held.forget(entry.did)
        return self._all_held(entry)

    def _all_held(self, entry: RepoWork) -> bool:
        """Whether the catalogue already holds every op of the batch: the same CID for a
        create or update, nothing for a delete (our own API's writes coming back)."""
        held = self.held.held(entry.did, albums=True)
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

    def _apply_tracks(self, entry: RepoWork, report: BatchReport, budget: ReadBudget) -> None:
        """The batch's track ops from the record values the commits carry (the last op of each
        record wins: a create then a delete in one batch is a delete)."""
        did = entry.did
        last: dict[str, RecordOp] = {}
        for op in entry.ops:
            last[op.uri(did)] = op
        held, created = self._to_create(did, last)
        if created and held.albums:
            self._no_list_names(held, did, created, budget)
        written = self._create(did, held, created, report) if created else set()
        own = self._rewrite(held, last, written, report)
        # Every op is applied (an earlier op of a record by its last one, a delete of a record
        # never held by nothing), but those that were there already (our own writes).
        report.counts["applied"] += len(entry.ops) - own
        if own:
            report.counts["applied_own"] += own

    def _to_create(self, did: str, last: dict[str, RecordOp]) -> tuple[Held, list[tuple[str, RecordOp]]]:
        """The records to create a track for: those the held copy lacks. Not read again first:
        a track another writer (a request, the indexer) created since the held read is found by
        its record's guard in `add_new_tracks`, which returns that track instead of writing (the op
        then goes through `_rewrite`)."""
        held = self.held.held(did, albums=True)
        created = [(uri, op) for uri, op in last.items() if op.action != "delete" and uri not in held.tracks]
        return held, created

    def _no_list_names(self, held: Held, did: str, created: list[tuple[str, RecordOp]], budget: ReadBudget) -> None:
        """A list may name a track before it exists: membership is the indexer's to work out."""
        assert held.artist is not None and held.artist.pds_url
        try:
            listing = self.pds.list_records(held.artist.pds_url, did, LIST, budget=budget)
        except (PdsUnavailable, XrpcError) as exc:
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

    def _create(self, did: str, held: Held, created: list[tuple[str, RecordOp]], report: BatchReport) -> set[str]:
        """The URIs whose track this call wrote (the others' ops are `_rewrite`'s)."""
        ids = self._take_ids(len(created))
        tracks = [
            new_track(track_id, did, None, uri, op.cid or "", op.value or {})
            for track_id, (uri, op) in zip(ids, created, strict=True)
        ]
        # A record another writer created a track for meanwhile (a request, the indexer)
        # keeps that track: it is held, not created again, and the op (maybe an update of a
        # version newer than that track's) goes through `_rewrite`'s conditional write.
        now_held = self.catalogue.add_new_tracks(tracks)
        for track in now_held:
            held.tracks[track.record_uri or ""] = track
        written = {a.record_uri or "" for a, b in zip(tracks, now_held, strict=True) if a is b}
        report.counts["tracks_created"] += len(written)
        self.likes.adopt_orphans(did, [t.record_uri or "" for t in now_held], report)
        return written

    def _rewrite(self, held: Held, last: dict[str, RecordOp], new_uris: set[str], report: BatchReport) -> int:
        """Updates and deletes of held tracks but those just written (`new_uris`); how many ops
        changed nothing (our own writes)."""
        own = 0
        shrunk: set[str] = set()
        for uri, op in last.items():
            local = held.tracks.get(uri)
            if local is None or (op.action != "delete" and uri in new_uris):
                continue
            if op.action == "delete":
                if not self.catalogue.drop_track(local):
                    raise _Stale()
                del held.tracks[uri]
                self.held.changed_page(local)
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
            self.held.changed_page(after)
            report.counts["tracks_updated"] += 1
        # ADDs down to 0 leave an album in the listing index: out it goes once it has no track.
        for album_id in shrunk - {t.album_id for t in held.tracks.values()}:
            self.catalogue.unlist_if_empty(album_id)
        return own

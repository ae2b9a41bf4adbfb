"""Likes applied per record: counted once per (liker, track) with the like record, in
transactions of up to 33 likes (each track's counter raised once by its number of likes); a
transaction a condition refuses (a replay, a duplicate, a moved track) is applied again like by
like. A deleted like leaves a tombstone, so a replayed create never counts again. A like that
comes before its track is an orphan, counted once the track is held."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from albums_core.domain.firehose_events import RecordOp, strong_ref_track
from albums_core.domain.models import Track
from albums_core.ports.firehose import FirehoseCatalogue, LikeStore
from albums_core.services.firehose.held import HeldCatalogue, artist_of
from albums_core.services.firehose.planning import BatchReport

_LIKE_ATTEMPTS = 3
# Likes per transaction: two puts each and at most one counter: 99 actions of DynamoDB's 100.
LIKES_PER_TRANSACTION = 33

Row = tuple[str, str, Track, Any]  # liker, rkey, track, what the caller keeps with it


def chunks(rows: list[Row]) -> list[list[Row]]:
    """Rows in chunks of at most LIKES_PER_TRANSACTION without two rows of one (liker, track)."""
    out: list[list[Row]] = []
    pairs: list[set[tuple[str, int]]] = []
    for row in rows:
        pair = (row[0], row[2].id)
        for chunk, taken in zip(out, pairs, strict=True):
            if len(chunk) < LIKES_PER_TRANSACTION and pair not in taken:
                chunk.append(row)
                taken.add(pair)
                break
        else:
            out.append([row])
            pairs.append({pair})
    return out


class LikeIngest:
    def __init__(self, held: HeldCatalogue, store: LikeStore, catalogue: FirehoseCatalogue) -> None:
        self.held = held
        self.store = store
        self.catalogue = catalogue

    def apply(self, likes: list[tuple[str, RecordOp]], report: BatchReport, beat: Callable[[], None]) -> None:
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

    def _like_many(
        self, creates: list[tuple[str, RecordOp]], report: BatchReport, beat: Callable[[], None]
    ) -> list[tuple[str, RecordOp]]:
        """Returns the likes left to apply one by one."""
        rest: list[tuple[str, RecordOp]] = []
        rows: list[Row] = []
        for liker, op in creates:
            subject = strong_ref_track((op.value or {}).get("subject"))
            assert subject is not None  # checked when decoded
            track = self.held.track(subject[1])
            if track is None:
                rest.append((liker, op))  # not held (yet): recorded as an orphan
            else:
                rows.append((liker, op.rkey, track, (subject[2], op)))
        for chunk in chunks(rows):
            if self.store.add_likes([(liker, rkey, track, extra[0]) for liker, rkey, track, extra in chunk]):
                report.counts["likes_applied"] += len(chunk)
                report.counts["applied"] += len(chunk)
                for _, _, track, _ in chunk:
                    self.held.changed_page(track)
            else:
                rest += [(liker, extra[1]) for liker, _, _, extra in chunk]
            beat()
        return rest

    def _unlike_many(
        self, deletes: list[tuple[str, RecordOp]], report: BatchReport, beat: Callable[[], None]
    ) -> list[tuple[str, RecordOp]]:
        """Returns the deletes left to apply one by one."""
        records = self.store.like_records([(liker, op.rkey) for liker, op in deletes])
        rest: list[tuple[str, RecordOp]] = []
        rows: list[Row] = []
        for liker, op in deletes:
            record = records.get((liker, op.rkey))
            track = None
            if record is not None and record.get("state") == "counted" and record.get("track_uri"):
                track = self.held.track(str(record["track_uri"]), int(record["track_id"]))
            if track is None:
                rest.append((liker, op))  # never seen, already deleted, not counted, or moved
            else:
                rows.append((liker, op.rkey, track, op))
        for chunk in chunks(rows):
            if self.store.remove_likes([(liker, rkey, track.id, track) for liker, rkey, track, _ in chunk]):
                report.counts["unlikes_applied"] += len(chunk)
                report.counts["applied"] += len(chunk)
                for _, _, track, _ in chunk:
                    self.held.changed_page(track)
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
            track = self.held.track(uri)
            if track is None and attempt == 0:
                self.held.forget(artist_did)  # indexed since it was read (a login, a sync)?
                continue
            if track is None:
                self._orphan(liker, op.rkey, artist_did, uri, cid, report)
                return
            outcome = self.store.add_like(liker, op.rkey, track, cid)
            if outcome == "moved":
                self.held.forget(artist_did)  # read again: it moved or went
                continue
            report.counts[f"likes_{outcome}"] += 1
            if outcome == "applied":
                report.counts["applied"] += 1
                self.held.changed_page(track)
            return
        report.counts["failed_like"] += 1

    def _orphan(self, liker: str, rkey: str, artist_did: str, uri: str, cid: str, report: BatchReport) -> None:
        if not self.store.orphan_like(liker, rkey, uri, cid):
            report.counts["skipped_replayed"] += 1
            return
        report.counts["likes_orphan"] += 1
        held = self.held.peek(artist_did)
        if held is not None and held.orphans is not None:
            pointer = {"liker": liker, "rkey": rkey, "track_uri": uri, "subject_cid": cid}
            held.orphans.setdefault(uri, []).append(pointer)

    def _unlike(self, liker: str, op: RecordOp, report: BatchReport) -> None:
        for _ in range(_LIKE_ATTEMPTS):
            record = self.store.like_record(liker, op.rkey)
            track = None
            if record is not None and record.get("state") == "counted":
                if record.get("track_uri"):
                    track = self.held.track(str(record["track_uri"]), int(record["track_id"]))
                if track is None:
                    track = self.catalogue.find_track(int(record["track_id"]))
            outcome = self.store.remove_like(liker, op.rkey, track)
            if outcome == "moved":
                if record is not None and record.get("track_uri"):
                    self.held.forget(artist_of(str(record["track_uri"])))
                continue
            report.counts[f"unlikes_{outcome}"] += 1
            if outcome in ("applied", "handed_over"):
                report.counts["applied"] += 1
            if outcome == "applied" and track is not None:
                self.held.changed_page(track)
            return
        report.counts["failed_like"] += 1

    def adopt_orphans(self, did: str, created: list[str] | None, report: BatchReport) -> None:
        """Likes that came before their track (the `created` tracks, or any now held) count now."""
        held = self.held.held(did)
        if held.orphans is None:
            held.orphans = {}
            for pointer in self.store.orphans(did):
                held.orphans.setdefault(str(pointer["track_uri"]), []).append(pointer)
        for uri in list(held.orphans) if created is None else created:
            track = held.tracks.get(uri)
            if track is None or uri not in held.orphans:
                continue
            for pointer in held.orphans.pop(uri):
                outcome = self.store.adopt_orphan(pointer, track)
                report.counts[f"orphans_{outcome}"] += 1
                if outcome == "applied":
                    self.held.changed_page(track)
                elif outcome == "moved":
                    held.orphans = None  # read again with the track, next time
                    self.held.forget(did)
                    return

"""The likes the consumer applies, in memory (`albums_core.ports.firehose.LikeStore`), with the
adapter's conditions (adapters/dynamodb/likes.py): a like record is new once, a (liker, track)
like is counted once (other records of it are duplicates named on it), a counter is written only
where the track's item is as read, and every multi-item change is all or nothing."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from typing import Any

from albums_core.domain.models import Track
from tests.fakes.firehose import FakeFirehoseCatalogue


class _Refused(Exception):
    """A condition of the transaction failed: nothing of it is written."""


class FakeLikeStore:
    def __init__(self, catalogue: FakeFirehoseCatalogue) -> None:
        self.catalogue = catalogue
        self.records: dict[tuple[str, str], dict[str, Any]] = {}
        self.likes: dict[tuple[str, int], dict[str, Any]] = {}  # like_rkey, duplicates
        self.pointers: dict[tuple[str, str, str], dict[str, Any]] = {}  # (track uri, liker, rkey)
        self.calls: Counter[str] = Counter()

    # ---- one transaction: changes staged on copies, kept only when every condition holds ---------

    def _transact(self, name: str, change: Any) -> bool:
        self.calls[name] += 1
        saved = (
            {k: dict(v) for k, v in self.records.items()},
            {k: {**v, "duplicates": set(v.get("duplicates", ()))} for k, v in self.likes.items()},
            dict(self.pointers),
            dict(self.catalogue.tracks),
        )
        try:
            change()
        except _Refused:
            self.records, self.likes, self.pointers, self.catalogue.tracks = saved
            return False
        return True

    def _count(self, track: Track, delta: int) -> None:
        if not self.catalogue.where(track):
            raise _Refused()
        stored = self.catalogue.tracks[track.id]
        self.catalogue.tracks[track.id] = replace(stored, like_count=stored.like_count + delta)

    def _new_record(self, liker: str, rkey: str, fields: dict[str, Any]) -> None:
        if (liker, rkey) in self.records:
            raise _Refused()
        self.records[(liker, rkey)] = fields

    def _state(self, liker: str, rkey: str, was: str, now: str, **fields: Any) -> None:
        record = self.records.get((liker, rkey))
        if record is None or record.get("state") != was:
            raise _Refused()
        record.update(state=now, **fields)

    def _unlike(self, liker: str, track_id: int, rkey: str, no_duplicates: bool = False) -> None:
        like = self.likes.get((liker, track_id))
        if like is None or like["like_rkey"] != rkey or (no_duplicates and like.get("duplicates")):
            raise _Refused()
        del self.likes[(liker, track_id)]

    def _name_duplicate(self, liker: str, track_id: int, rkey: str, add: bool) -> None:
        like = self.likes.get((liker, track_id))
        if like is None:
            raise _Refused()
        duplicates = like.setdefault("duplicates", set())
        (duplicates.add if add else duplicates.discard)(rkey)

    # ---- reads ------------------------------------------------------------------------------------

    def like_record(self, liker: str, rkey: str) -> dict[str, Any] | None:
        self.calls["like_record"] += 1
        record = self.records.get((liker, rkey))
        return dict(record) if record is not None else None

    def like_records(self, pairs: list[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
        self.calls["like_records"] += 1
        return {pair: dict(self.records[pair]) for pair in pairs if pair in self.records}

    def like_records_of(self, liker: str) -> dict[str, dict[str, Any]]:
        self.calls["like_records_of"] += 1
        return {rkey: dict(r) for (who, rkey), r in self.records.items() if who == liker}

    def orphans(self, artist_did: str) -> list[dict[str, Any]]:
        self.calls["orphans"] += 1
        prefix = f"at://{artist_did}/"
        return [dict(p) for (uri, _, _), p in sorted(self.pointers.items()) if uri.startswith(prefix)]

    # ---- writes -----------------------------------------------------------------------------------

    def add_likes(self, likes: list[tuple[str, str, Track, str]]) -> bool:
        def change() -> None:
            for liker, rkey, track, cid in likes:
                fields = {"track_id": track.id, "track_uri": track.record_uri, "subject_cid": cid}
                self._new_record(liker, rkey, {"state": "counted", **fields})
                if (liker, track.id) in self.likes:
                    raise _Refused()
                self.likes[(liker, track.id)] = {"like_rkey": rkey}
                self._count(track, 1)

        return self._transact("add_likes", change)

    def add_like(self, liker: str, rkey: str, track: Track, subject_cid: str) -> str:
        if self.add_likes([(liker, rkey, track, subject_cid)]):
            return "applied"
        if self.like_record(liker, rkey) is not None:
            return "replayed"
        fields = {"state": "duplicate", "track_id": track.id, "track_uri": track.record_uri, "subject_cid": subject_cid}

        def duplicate() -> None:
            self._new_record(liker, rkey, fields)
            self._name_duplicate(liker, track.id, rkey, add=True)

        if (liker, track.id) in self.likes and self._transact("add_duplicate", duplicate):
            return "duplicate"
        return "replayed" if self.like_record(liker, rkey) is not None else "moved"

    def remove_likes(self, likes: list[tuple[str, str, int, Track]]) -> bool:
        def change() -> None:
            for liker, rkey, track_id, track in likes:
                self._state(liker, rkey, "counted", "deleted")
                self._unlike(liker, track_id, rkey, no_duplicates=True)
                self._count(track, -1)

        return self._transact("remove_likes", change)

    def remove_like(self, liker: str, rkey: str, track: Track | None) -> str:
        record = self.like_record(liker, rkey)
        if record is None:
            tombstone = self._transact("tombstone", lambda: self._new_record(liker, rkey, {"state": "deleted"}))
            return "tombstoned" if tombstone else "moved"
        state = str(record.get("state"))
        if state == "deleted":
            return "replayed"
        if state == "duplicate" and record.get("track_id") is not None:

            def named() -> None:
                self._state(liker, rkey, "duplicate", "deleted")
                self._name_duplicate(liker, int(record["track_id"]), rkey, add=False)

            if self._transact("remove_duplicate", named):
                return "applied"
        if state == "counted":
            handed = self._hand_over(liker, rkey, int(record["track_id"]))
            if handed:
                return handed

        def change() -> None:
            self._state(liker, rkey, state, "deleted")
            if state == "orphan" and record.get("track_uri"):
                self.pointers.pop((str(record["track_uri"]), liker, rkey), None)
            if state == "counted":
                self._unlike(liker, int(record["track_id"]), rkey)
                if track is not None:
                    self._count(track, -1)

        return "applied" if self._transact("remove_like", change) else "moved"

    def _hand_over(self, liker: str, rkey: str, track_id: int) -> str | None:
        like = self.likes.get((liker, track_id))
        duplicates = sorted(like.get("duplicates") or ()) if like else []
        if not duplicates:
            return None
        heir = duplicates[0]

        def change() -> None:
            self._state(liker, rkey, "counted", "deleted")
            held = self.likes.get((liker, track_id))
            if held is None or held["like_rkey"] != rkey:
                raise _Refused()
            held["like_rkey"] = heir
            held["duplicates"].discard(heir)
            self._state(liker, heir, "duplicate", "counted")

        return "handed_over" if self._transact("hand_over", change) else "moved"

    def orphan_like(self, liker: str, rkey: str, subject_uri: str, subject_cid: str) -> bool:
        def change() -> None:
            self._new_record(liker, rkey, {"state": "orphan", "track_uri": subject_uri, "subject_cid": subject_cid})
            pointer = {"liker": liker, "rkey": rkey, "track_uri": subject_uri, "subject_cid": subject_cid}
            self.pointers[(subject_uri, liker, rkey)] = pointer

        return self._transact("orphan_like", change)

    def adopt_orphan(self, pointer: dict[str, Any], track: Track) -> str:
        liker, rkey = str(pointer["liker"]), str(pointer["rkey"])
        key = (str(pointer["track_uri"]), liker, rkey)

        def counted() -> None:
            self._state(liker, rkey, "orphan", "counted", track_id=track.id)
            if (liker, track.id) in self.likes:
                raise _Refused()
            self.likes[(liker, track.id)] = {"like_rkey": rkey}
            self._count(track, 1)
            self.pointers.pop(key, None)

        if self._transact("adopt_orphan", counted):
            return "applied"
        record = self.like_record(liker, rkey)
        if record is None or record.get("state") != "orphan":
            self._transact("drop_pointer", lambda: self.pointers.pop(key, None))
            return "gone"

        def duplicate() -> None:
            self._state(liker, rkey, "orphan", "duplicate", track_id=track.id)
            self._name_duplicate(liker, track.id, rkey, add=True)
            self.pointers.pop(key, None)

        if (liker, track.id) in self.likes and self._transact("adopt_duplicate", duplicate):
            return "duplicate"
        return "moved"

    # ---- for tests --------------------------------------------------------------------------------

    def counted(self, liker: str) -> set[int]:
        """The track ids the liker likes."""
        return {track_id for who, track_id in self.likes if who == liker}

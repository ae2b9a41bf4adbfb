"""Tracks moving into and out of albums, as an album's mutations change its membership: each
move a delete and a put of the track item with the album's counters, and (in) the track's
membership claim, in one transaction."""

from __future__ import annotations

import time
from dataclasses import replace

from botocore.exceptions import ClientError

from albums_core.adapters.dynamodb import keys
from albums_core.adapters.dynamodb.catalogue_albums import Albums
from albums_core.adapters.dynamodb.catalogue_claims import Claims
from albums_core.adapters.dynamodb.catalogue_tracks import GUARD_ATTEMPTS, Tracks, track_key
from albums_core.adapters.dynamodb.table import Action, Table, error_code, refused_positions
from albums_core.domain.errors import ConcurrentUpdate, TrackTaken
from albums_core.domain.models import Album, Track
from albums_core.domain.records import onto_existing

# A transaction holds 100 actions: at most three per moved track, and the album's counters.
_MOVES_PER_TRANSACTION = 33

Move = tuple[Track | None, Track]


class Membership:
    def __init__(self, db: Table, tracks: Tracks, albums: Albums, claims: Claims) -> None:
        self.db = db
        self.tracks = tracks
        self.albums = albums
        self.claims = claims

    def move_tracks_into(self, album: Album, moves: list[Move]) -> None:
        """Each (the track's item where it was, or None; the track in `album`) moves in with
        its membership claim and the album's counters, a few per transaction.

        A track created here (None) takes its record's guard in the same transaction. Other
        writers may change the records' tracks meanwhile (the firehose consumer creating them,
        the indexer following the list record the attach just wrote and moving them in): a
        move refused for that is made again from where the record's track is now (already in
        the album: only its membership), so a record never gets a second item and a move that
        another writer made is no failure. `TrackTaken` only when another album holds a track
        (or its claim lapsed and another album took it)."""
        for start in range(0, len(moves), _MOVES_PER_TRANSACTION):
            self._move_batch(album, moves[start : start + _MOVES_PER_TRANSACTION])

    def _move_actions(
        self, album: Album, batch: list[Move], stale: dict[int, int | None]
    ) -> tuple[list[Action], dict[int, int], set[int]]:
        """One round's transaction: its actions, the move each action belongs to (by position)
        and the positions of the membership claims."""
        tracks = self.tracks
        actions: list[Action] = []
        owner: dict[int, int] = {}  # action position -> move position
        claims: set[int] = set()  # positions of the membership claims
        count = plays = 0
        for j, (known, track) in enumerate(batch):
            if known is None or track_key(known) != track_key(track):
                if known is not None:
                    owner[len(actions)] = j
                    # As read, counters too: a play meanwhile refuses it, and the move is
                    # made again from a fresh read that carries it (_resettled).
                    actions.append(tracks.delete_track_action(known, must_exist=True, counted=True))
                owner[len(actions)] = j
                actions.append(tracks.put_track(track, new=True))
                if known is None and track.record_uri:
                    owner[len(actions)] = j
                    actions.append(tracks.guard_action(track, stale.get(j)))
                count, plays = count + 1, plays + track.play_count
            if track.record_uri:
                claims.add(len(actions))
                actions.append(
                    self.claims.claim_membership_action(album.artist_did, album.id, track.record_uri, track.id)
                )
        actions.append(self.albums.counter_action(album.id, count, plays, album.title))
        return actions, owner, claims

    def _move_batch(self, album: Album, batch: list[Move]) -> None:
        stale: dict[int, int | None] = {}
        # A round whose refusals change a move (another writer's change found) is progress:
        # another writer may change the records' tracks one by one for as long as the batch
        # has moves. Only rounds that change nothing (a conflicting transaction) are retries.
        stalls = rounds = 0
        while True:
            rounds += 1
            actions, owner, claims = self._move_actions(album, batch, stale)
            try:
                self.db.transact(actions)
                return
            except ClientError as exc:
                if error_code(exc) != "TransactionCanceledException":
                    raise
                refused = refused_positions(exc)
                if refused & claims:
                    raise TrackTaken() from exc  # the claim is another album's now
                before = (list(batch), dict(stale))
                for j in sorted({owner[p] for p in refused if p in owner}):
                    batch[j] = self._resettled(album, batch[j], stale, j)
                if (batch, stale) == before:
                    stalls += 1
                    if stalls >= GUARD_ATTEMPTS:
                        raise ConcurrentUpdate() from exc
                    time.sleep(0.05 * 2**stalls)  # a conflicting transaction: later
                elif rounds > GUARD_ATTEMPTS + 3 * len(batch):
                    raise ConcurrentUpdate() from exc  # never endless, whatever the others do

    def _resettled(self, album: Album, move: Move, stale: dict[int, int | None], j: int) -> Move:
        """A refused move made again from where its record's track is now: already in `album`
        (moved in by another writer: nothing to move, its membership only), elsewhere (moved
        from there), or nowhere (created, taking over a guard whose track is gone)."""
        known, track = move
        assert track.record_uri
        here = self.db.get(keys.album_track(album.id, track.id), consistent=True)
        if here is not None:
            arrived = Track.from_data(here)
            return arrived, arrived
        held_by, holder = self.tracks.record_holder(album.artist_did, track.record_uri)
        if holder is None and held_by is None and known is not None:
            holder = self.tracks.find_track(known.id)  # a track from before the record guards
        if holder is None:
            stale[j] = held_by
            return None, track
        if holder.album_id not in (None, album.id):
            raise TrackTaken()  # another album has it (the indexer followed another list)
        return holder, replace(onto_existing(track, holder), album_id=album.id)

    def detach_track(self, album_id: str, track: Track, standalone: Track) -> None:
        """The album's `track` becomes `standalone` (no album) and the album's counters drop,
        in one transaction. A play or like counted since `track` was read refuses it: it is
        made again with the counters read afresh, so the standalone item keeps them."""
        tracks = self.tracks
        for attempt in range(GUARD_ATTEMPTS):
            try:
                self.db.transact(
                    [
                        tracks.delete_track_action(track, counted=True),
                        tracks.put_track(standalone),
                        self.albums.counter_action(album_id, -1, -track.play_count),
                    ]
                )
                return
            except ClientError as exc:
                refused = _cancelled(exc)
                if 0 in refused:
                    track = self._counted_again(track)
                    standalone = _counted_as(standalone, track)
                elif not refused:
                    _later(attempt)  # a play or like in a transaction of its own on the item
                else:
                    raise
        raise ConcurrentUpdate()

    def detach_tracks(self, tracks: list[Track]) -> list[Track]:
        """Tracks leave their album and become standalone (each move a delete and a put in one
        transaction; 49 moves per transaction), with the counters they have when they move.
        Returns the moved tracks."""
        moved: list[Track] = []
        for start in range(0, len(tracks), 49):
            moved += self._detach_batch(tracks[start : start + 49])
        return moved

    def _detach_batch(self, batch: list[Track]) -> list[Track]:
        for attempt in range(GUARD_ATTEMPTS):
            actions: list[Action] = []
            for track in batch:
                actions.append(self.tracks.delete_track_action(track, counted=True))
                actions.append(self.tracks.put_track(replace(track, album_id=None)))
            try:
                self.db.transact(actions)
                return [replace(t, album_id=None) for t in batch]
            except ClientError as exc:
                refused = {p // 2 for p in _cancelled(exc)}
                if not refused:
                    _later(attempt)  # a conflicting transaction: the same moves again
                    continue
                # Counted meanwhile: those moves again, with the counters they have now.
                batch = [self._counted_again(t) if i in refused else t for i, t in enumerate(batch)]
        raise ConcurrentUpdate()

    def _counted_again(self, track: Track) -> Track:
        """`track` with its counters as its item has them now (as read, when the item is gone:
        the delete's condition holds then)."""
        here = self.db.get(track_key(track), consistent=True)
        return track if here is None else _counted_as(track, Track.from_data(here))


def _cancelled(exc: ClientError) -> set[int]:
    """The positions a cancelled transaction's conditions refused (none: a conflicting
    transaction cancelled it); any other error is raised again."""
    if error_code(exc) != "TransactionCanceledException":
        raise exc
    return refused_positions(exc)


def _later(attempt: int) -> None:
    time.sleep(0.05 * 2**attempt)


def _counted_as(track: Track, source: Track) -> Track:
    """`track` with `source`'s counters (the ones plays, likes and comments ADD to)."""
    return replace(
        track, play_count=source.play_count, like_count=source.like_count, comment_count=source.comment_count
    )

"""The catalogue in memory: `albums_core.ports.Catalogue` with the conditions the DynamoDB
adapter enforces (one album per (artist, slug), one album per track record, one change of an
album at a time, counters that follow the tracks, the listing, former slugs). Kept to the
adapter by tests/integration/test_contract_catalogue.py."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from albums_core.domain.errors import AlbumNotFound, ConcurrentUpdate, Conflict, PreconditionFailed, TrackTaken
from albums_core.domain.models import Album, Track
from albums_core.domain.records import onto_existing
from tests.fakes.journal import Faults, Journal

SLUG_TAKEN = "another of your albums already uses that name"


def _check_version(album: Album | None, expected: frozenset[int] | None) -> None:
    """The catalogue's conditional write on the album's version (If-Match)."""
    if album is not None and expected is not None and album.version not in expected:
        raise PreconditionFailed()


def _check_if_match(expected: frozenset[int] | None) -> None:
    """An If-Match that names no version matches nothing, album or not (refused before any write)."""
    if expected is not None and not expected:
        raise PreconditionFailed()


@dataclass
class _Claim:
    album_id: str
    state: str  # "pending" | "member"
    until: float = 0.0
    token: str | None = None
    track_id: int | None = None


@dataclass
class _Lease:
    token: str
    until: float


class FakeCatalogue:
    def __init__(self, journal: Journal | None = None, clock: Callable[[], float] = time.time) -> None:
        self.journal = journal or Journal()
        self.clock = clock
        self.faults = Faults()
        self.albums: dict[str, Album] = {}
        self.tracks: dict[int, Track] = {}
        self.slugs: dict[tuple[str, str], str] = {}  # (did, slug) -> album id
        self.pointers: dict[tuple[str, str], str] = {}  # (handle, slug) -> album id
        self.formers: dict[tuple[str, str], str] = {}  # (did, slug before a rename) -> album id
        # The listing index: an album is in it once tracks moved in (counters ADDed down to 0
        # leave it there), out when set or recounted to 0 tracks.
        self.listed: set[str] = set()
        self.claims: dict[tuple[str, str], _Claim] = {}  # (did, record uri)
        self.leases: dict[str, _Lease] = {}
        self.gone: set[str] = set()  # deleted albums' tombstones (jobs.hand_over)
        self._ids = itertools.count(1)

    def _write(self, operation: str) -> None:
        self.faults.check(operation)
        self.journal.add("catalogue", operation)

    # ---- reads ------------------------------------------------------------------------------

    def get_album(self, album_id: str) -> Album | None:
        return self.albums.get(album_id)

    def load_album(self, album_id: str) -> tuple[Album, list[Track]] | None:
        album = self.albums.get(album_id)
        if album is None:
            return None
        return album, sorted((t for t in self.tracks.values() if t.album_id == album_id), key=lambda t: t.id)

    def artist_tracks(self, did: str) -> list[Track]:
        return sorted((t for t in self.tracks.values() if t.artist_did == did), key=lambda t: (t.created_at, t.id))

    def artist_track_count(self, did: str, up_to: int) -> int:
        return min(up_to, sum(1 for t in self.tracks.values() if t.artist_did == did))

    def album_track_refs(self, album_id: str) -> list[Track]:
        # As the adapter's projection: what a write needs, the rest empty.
        loaded = self.load_album(album_id)
        return [
            Track(
                id=t.id,
                title="",
                artist_did=t.artist_did,
                file_id="",
                file_type="",
                created_at=t.created_at,
                album_id=t.album_id,
                record_uri=t.record_uri,
                record_cid=t.record_cid,
                play_count=t.play_count,
            )
            for t in (loaded[1] if loaded else [])
        ]

    def find_track(self, track_id: int) -> Track | None:
        return self.tracks.get(track_id)

    def slug_owner(self, did: str, slug: str) -> str | None:
        return self.slugs.get((did, slug))

    def former_slugs(self, did: str, album_id: str) -> list[str]:
        return sorted(s for (d, s), held in self.formers.items() if d == did and held == album_id)

    def current_slug(self, did: str, former: str) -> str | None:
        album = self.albums.get(self.formers.get((did, former), ""))
        if album is None or album.artist_did != did or album.slug == former:
            return None
        return album.slug

    # ---- albums and slugs -------------------------------------------------------------------

    def create_album(self, album: Album, handle: str) -> None:
        if (album.artist_did, album.slug) in self.slugs or album.id in self.albums:
            raise Conflict(SLUG_TAKEN)
        self._write("create_album")
        self.slugs[(album.artist_did, album.slug)] = album.id
        self.pointers[(handle, album.slug)] = album.id
        self.formers.pop((album.artist_did, album.slug), None)  # the slug was another's before a rename
        self.albums[album.id] = album
        if album.track_count > 0:
            self.listed.add(album.id)

    def set_album_fields(
        self, album: Album, *, versioned: bool = False, expected: frozenset[int] | None = None, **changes: Any
    ) -> Album:
        if versioned:
            _check_if_match(expected)
        if album.id not in self.albums:
            raise AlbumNotFound()
        if versioned:
            _check_version(self.albums[album.id], expected)
        self._write("set_album_fields")
        # An update of the named fields: what others changed meanwhile (counters) is kept.
        self.albums[album.id] = replace(self.albums[album.id], **changes)
        if "track_count" in changes:
            self._list(album.id, self.albums[album.id].track_count > 0)
        if versioned:
            stored = self.albums[album.id]
            self.albums[album.id] = replace(stored, version=stored.version + 1)
            return self.albums[album.id]
        return replace(album, **changes)

    def claim_slug(self, did: str, handle: str, slug: str, album_id: str) -> bool:
        if self.slugs.get((did, slug), album_id) != album_id:
            return False
        self._write("claim_slug")
        self.slugs[(did, slug)] = album_id
        self.pointers[(handle, slug)] = album_id
        return True

    def release_slug(self, did: str, handle: str, slug: str, album_id: str) -> None:
        if self.slugs.get((did, slug)) != album_id:
            return
        self._write("release_slug")
        del self.slugs[(did, slug)]
        if self.pointers.get((handle, slug)) == album_id:
            del self.pointers[(handle, slug)]

    def finish_rename(self, album: Album, handle: str, title: str, slug: str, updated_at: str) -> Album:
        if album.id not in self.albums or self.slugs.get((album.artist_did, slug), album.id) != album.id:
            raise ConcurrentUpdate()
        self._write("finish_rename")
        if slug != album.slug:
            self.formers[(album.artist_did, album.slug)] = album.id
            self.formers.pop((album.artist_did, slug), None)
            self.slugs[(album.artist_did, slug)] = album.id
            self.pointers[(handle, slug)] = album.id
            if self.slugs.get((album.artist_did, album.slug)) == album.id:
                del self.slugs[(album.artist_did, album.slug)]
            if self.pointers.get((handle, album.slug)) == album.id:
                del self.pointers[(handle, album.slug)]
        self.albums[album.id] = replace(self.albums[album.id], title=title, slug=slug, updated_at=updated_at)
        return replace(album, title=title, slug=slug, updated_at=updated_at)

    def drop_former_slugs(self, did: str, album_id: str) -> list[str]:
        slugs = self.former_slugs(did, album_id)
        for slug in slugs:
            del self.formers[(did, slug)]
        return slugs

    def delete_album_items(self, album: Album, handle: str) -> None:
        self._write("delete_album_items")
        self.gone.add(album.id)
        self.albums.pop(album.id, None)
        self.listed.discard(album.id)
        self.leases.pop(album.id, None)
        if self.slugs.get((album.artist_did, album.slug)) == album.id:
            del self.slugs[(album.artist_did, album.slug)]
        self.pointers.pop((handle, album.slug), None)

    # ---- the album's lease ------------------------------------------------------------------

    def lock_album(
        self, album_id: str, token: str, seconds: int, expected: frozenset[int] | None = None
    ) -> Album | None:
        _check_if_match(expected)
        album = self.albums.get(album_id)
        _check_version(album, expected)
        lease = self.leases.get(album_id)
        now = self.clock()
        if album is None or (lease is not None and lease.until >= now):
            return None
        self._write("lock_album")
        self.leases[album_id] = _Lease(token, now + seconds)
        self.albums[album_id] = album = replace(album, version=album.version + 1)
        return album

    def unlock_album(self, album_id: str, token: str, undo_version: bool = False) -> None:
        lease = self.leases.get(album_id)
        if lease is not None and lease.token == token:
            self._write("unlock_album")
            del self.leases[album_id]
            if undo_version and (album := self.albums.get(album_id)) is not None:
                self.albums[album_id] = replace(album, version=album.version - 1)

    # ---- tracks -----------------------------------------------------------------------------

    def reserve_track_ids(self, count: int) -> range:
        if count <= 0:
            return range(0)
        self._write("reserve_track_ids")
        ids = [next(self._ids) for _ in range(count)]
        return range(ids[0], ids[-1] + 1)

    def _holds(self, claim: _Claim) -> bool:
        track = self.tracks.get(claim.track_id) if claim.track_id is not None else None
        return track is not None and track.album_id == claim.album_id

    def claim_tracks(self, did: str, album_id: str, uris: list[str], token: str, seconds: int) -> list[str]:
        if not uris:
            return []
        now = self.clock()
        lost = []
        for uri in uris:
            claim = self.claims.get((did, uri))
            free = (
                claim is None
                or claim.album_id == album_id
                or (claim.state == "pending" and claim.until < now)
                or (claim.state == "member" and not self._holds(claim))
            )
            if not free:
                lost.append(uri)
        if lost:
            return lost
        self._write("claim_tracks")
        for uri in uris:
            self.claims[(did, uri)] = _Claim(album_id, "pending", now + seconds, token)
        return []

    def move_tracks_into(self, album: Album, moves: list[tuple[Track | None, Track]]) -> None:
        # A record has one track item (the adapter's record guard), and other writers may move
        # it meanwhile: each move is made from where the record's track is now (in the album
        # already: its membership only).
        held = [self._held_move(album, known, track) for known, track in moves]
        for track in (t for t in held if isinstance(t, Track)):
            self.claims[(album.artist_did, track.record_uri or "")] = _Claim(album.id, "member", track_id=track.id)
        moves = [m for m in held if isinstance(m, tuple)]
        for _, track in moves:
            claim = self.claims.get((album.artist_did, track.record_uri or ""))
            if album.id not in self.albums or (
                track.record_uri is not None and (claim is None or claim.album_id != album.id)
            ):
                raise TrackTaken()
        self._write("move_tracks_into")
        for known, track in moves:
            if known is not None and known.id != track.id:
                self.tracks.pop(known.id, None)
            self.tracks[track.id] = track
            if track.record_uri:
                self.claims[(album.artist_did, track.record_uri)] = _Claim(album.id, "member", track_id=track.id)
        stored = self.albums[album.id]
        self.albums[album.id] = replace(
            stored,
            track_count=stored.track_count + len(moves),
            total_plays=stored.total_plays + sum(t.play_count for _, t in moves),
        )
        self.listed.add(album.id)  # the counters' update lists it (even when nothing moved)

    def _held_move(self, album: Album, known: Track | None, track: Track) -> tuple[Track | None, Track] | Track:
        """The move to make, or the track already in the album that holds the record."""
        if track.record_uri is None:
            return known, track
        holder = next((t for t in self.tracks.values() if t.record_uri == track.record_uri), None)
        if holder is None:
            return None, track
        if holder.album_id == album.id:
            return holder
        if holder.album_id is not None:
            raise TrackTaken()
        return holder, replace(onto_existing(track, holder), album_id=album.id)

    def detach_track(self, album_id: str, track: Track, standalone: Track) -> None:
        if album_id not in self.albums:
            raise AlbumNotFound()
        self._write("detach_track")
        # As the adapter: the counters as they are now (a play since the read is kept).
        if (now := self.tracks.get(track.id)) is not None and now.album_id == album_id:
            track = now
            standalone = replace(
                standalone, play_count=now.play_count, like_count=now.like_count, comment_count=now.comment_count
            )
        self.tracks[standalone.id] = standalone
        stored = self.albums[album_id]
        self.albums[album_id] = replace(
            stored, track_count=stored.track_count - 1, total_plays=stored.total_plays - track.play_count
        )

    def recount(self, album_id: str) -> Album | None:
        loaded = self.load_album(album_id)
        if loaded is None:
            return None
        album, tracks = loaded
        count, plays = len(tracks), sum(t.play_count for t in tracks)
        if (album.track_count, album.total_plays) != (count, plays):
            album = self.set_album_fields(album, track_count=count, total_plays=plays)
        elif count == 0:
            self.listed.discard(album_id)  # ADDs down to 0 leave it in the listing
        return album

    def _list(self, album_id: str, listed: bool) -> None:
        if listed:
            self.listed.add(album_id)
        else:
            self.listed.discard(album_id)

    def set_track_cids(self, tracks: list[Track], cids: dict[str, str | None]) -> None:
        # As the adapter's conditional updates: only a track still where it was read and still
        # holding the CID read, and only when the new CID differs from it (never a counter).
        for track in tracks:
            cid = cids.get(track.record_uri or "")
            stored = self.tracks.get(track.id)
            if (
                cid
                and cid != track.record_cid
                and stored is not None
                and stored.album_id == track.album_id
                and (stored.record_cid or "") == (track.record_cid or "")  # none or empty alike
            ):
                self._write("set_track_cid")
                self.tracks[track.id] = replace(stored, record_cid=cid)

    def release_tracks(self, tracks: list[Track], delete: bool, cids: dict[str, str | None]) -> None:
        self._write("release_tracks")
        for track in tracks:
            if delete:
                self.tracks.pop(track.id, None)
            else:
                cid = cids.get(track.record_uri or "") or track.record_cid
                self.tracks[track.id] = replace(track, album_id=None, record_cid=cid)

    # ---- for tests --------------------------------------------------------------------------

    def add_track(self, track: Track) -> Track:
        """A track the catalogue already knows (indexed standalone, or in an album)."""
        stored = replace(track, id=track.id or next(self._ids))
        self.tracks[stored.id] = stored
        return stored

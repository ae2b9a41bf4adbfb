"""Which tracks an album holds, and in what order: attach, reorder (by track ids or by the list
record's URIs) and remove, each on the PDS first (read-modify-write, swap-guarded), then in
the catalogue. The part of `AlbumAdmin` (services.album_admin) that works on the album's
tracks, with the helpers every mutation shares; AlbumAdmin runs each under the album's lease
and drops the album's page once it is done."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from albums_core.domain import list_records
from albums_core.domain.at_uri import AtUri
from albums_core.domain.errors import BadRequest, Forbidden, NotFound, TrackTaken, Unprocessable
from albums_core.domain.firehose_events import storage_problem
from albums_core.domain.models import Album, Track
from albums_core.domain.ordering import order_tracks
from albums_core.domain.record_edits import PAGE_SIZE, Edit, Sizes, Snapshot, keep
from albums_core.domain.records import TRACK, is_track_record, new_track, now_iso, onto_existing
from albums_core.domain.sessions import Record
from albums_core.domain.views import album_metadata
from albums_core.ports import Catalogue, PageCache, Pds, PdsWriter, RecordEditor
from albums_core.services.auth import Caller

T = TypeVar("T")

MAX_TRACKS = 500
# Longer than a function may run: a crashed request frees the album (and its claims) after this.
LEASE_SECONDS = 60


def set_album(title: str) -> Callable[[dict[str, Any]], Any]:
    return partial(list_records.with_field, name="album", value=title)


DROP_ALBUM = partial(list_records.without_field, name="album")


def cids_of(records: dict[str, Record | None]) -> dict[str, str | None]:
    return {u: (r.cid if r else None) for u, r in records.items()}


def _check_track_records(uris: list[str], snapshot: Snapshot) -> None:
    """Each record exists and is a track record we can store."""
    for uri in uris:
        record = snapshot.records[uri]
        if record is None:
            raise NotFound(f"track record not found: {uri}")
        if not is_track_record(record.value):
            raise Unprocessable(f"track_uris: not a track record: {uri}")
        if (problem := storage_problem(record.value)) is not None:
            raise Unprocessable(f"track_uris: a track record we cannot store ({problem}): {uri}")


class AlbumMembership:
    caller: Caller
    did: str
    handle: str
    repo: Catalogue
    cache: PageCache
    writer: PdsWriter
    version: int | None  # the album's version after the request's change (its ETag)

    if TYPE_CHECKING:
        # AlbumAdmin's lazily opened session; declared for the type checker only, so the mixin
        # adds no attribute of its own at run time.
        @property
        def pds(self) -> Pds: ...

    @property
    def records(self) -> RecordEditor:
        return self.writer.editor(self.pds)

    # ---- shared ----------------------------------------------------------------------------

    def tracks(self, album: Album) -> list[Track]:
        """The album's tracks as the catalogue holds them now."""
        loaded = self.repo.load_album(album.id)
        return loaded[1] if loaded else []

    def tracks_and_sizes(self, album: Album) -> tuple[list[Track], Sizes | None]:
        """The album's tracks as a rewrite of their records needs them (catalogue's projection),
        and how their records are best read (`track_sizes`)."""
        tracks = self.repo.album_track_refs(album.id)
        return tracks, self.track_sizes(len(tracks))

    def read_for_write(self, album: Album, catalogue: Callable[[], T]) -> tuple[T, Snapshot]:
        """`catalogue()` (the catalogue's reads a write needs) and meanwhile, on the PDS, the
        repository's commit and the album's list record: neither needs the other, so they
        overlap. The write swaps against that commit, read before any record, as always."""
        assert album.list_uri
        uri = album.list_uri
        with ThreadPoolExecutor(1) as pool:
            head = pool.submit(lambda: self.records.read([uri]))
            found = catalogue()
            return found, head.result()

    def metadata(self, album: Album, tracks: list[Track] | None = None) -> dict[str, Any]:
        """The album's answer: from `album` and `tracks` when the caller holds them as they now
        stand (under the lease), else read again."""
        if tracks is None:
            loaded = self.repo.load_album(album.id)
            album, tracks = loaded if loaded else (album, [])
        self.version = album.version
        # Counts and sums only: not the page's entry for each track (URL checks of every one).
        return album_metadata(album, self.caller.artist, tracks)

    def _invalidate(self, *slugs: str) -> None:
        for slug in dict.fromkeys(slugs):
            self.cache.invalidate(self.cache.album_key(self.handle, slug))

    def ensure_list_record(self, album: Album) -> Album:
        """The album's list record exists on the PDS (created at the key chosen up front)."""
        if album.list_cid:
            return album
        assert album.list_uri
        cid = self.records.ensure(album.list_uri, list_records.new_list(album.title, album.created_at))
        return self.repo.set_album_fields(album, list_cid=cid)

    def track_sizes(self, count: int) -> Sizes | None:
        """How `count` of the artist's track records are best read: with the catalogue's count of
        the artist's tracks (counted only as far as it matters) when listRecords pages of 100
        could take fewer calls than one getRecord each."""
        if count < 2:
            return None
        return {TRACK: self.repo.artist_track_count(self.did, PAGE_SIZE * (count - 1) + 1)}

    def _own_track_uris(self, uris: list[str], field: str, foreign: Exception | None = None) -> list[str]:
        """The URIs, each once, of the caller's own track records. `field` names an item in an
        error (`field.format(i)`); a record of another repository is `foreign` when given."""
        seen: set[str] = set()
        for i, uri in enumerate(uris):
            where = field.format(i)
            # The SDK's syntax (DID, NSID, record key), then our parse of the same string.
            at = AtUri.parse(uri) if self.writer.record_uri_parts(uri) else None
            if at is None:
                raise Unprocessable(f"{where}: not an AT-URI")
            if at.collection != TRACK:
                raise Unprocessable(f"{where}: not an {TRACK} record")
            if at.repo != self.did:
                raise foreign or Unprocessable(f"{where}: not a record of your repository")
            if uri in seen:
                raise Unprocessable(f"{where}: listed twice")
            seen.add(uri)
        return list(uris)

    # ---- attach ------------------------------------------------------------------------------

    def _attach(self, album: Album, uris: list[str]) -> dict[str, Any]:
        if not uris:
            raise Unprocessable("track_uris: must be a non-empty list of AT-URIs")
        foreign = Forbidden("you can only add your own tracks to your albums")
        wanted = self._own_track_uris(uris, "track_uris[{}]", foreign)
        current = self.tracks(album)
        have = {t.record_uri for t in current}
        new = [u for u in wanted if u not in have]
        if not new:
            return self.metadata(album)
        if len(current) + len(new) > MAX_TRACKS:
            raise Unprocessable(f"track_uris: an album holds at most {MAX_TRACKS} tracks")
        local = {t.record_uri: t for t in self.repo.artist_tracks(self.did)}
        if any((other := local.get(u)) is not None and other.album_id not in (None, album.id) for u in new):
            raise TrackTaken()
        # Read once: the commit first, so the write below can swap against it unread. The
        # artist's records are at least those the catalogue knows and the new ones.
        snapshot = self.records.read(new, {TRACK: len(local.keys() | set(new))})
        _check_track_records(new, snapshot)
        # Claimed before any PDS write: of two albums taking one track at once, the loser
        # writes nothing. A claim left by a failed request lapses with its lease.
        if self.repo.claim_tracks(self.did, album.id, new, uuid.uuid4().hex, LEASE_SECONDS):
            raise TrackTaken()
        album = self.ensure_list_record(album)
        fresh = self._write_attached(album, new, snapshot)
        # A record the consumer indexed since the read above is found by its guard when the
        # move creates its track: that item is moved in, not copied (move_tracks_into).
        moves = self._moves(album, [u for u in new if fresh.get(u) is not None], fresh, local)
        self.repo.move_tracks_into(album, moves)
        self.repo.recount(album.id)
        order = [t.record_uri for t in order_tracks(current, None, album.track_order) if t.record_uri]
        listed = fresh.get(album.list_uri or "")
        album = self.repo.set_album_fields(
            album,
            list_cid=listed.cid if listed else None,
            track_order=order + [t.record_uri for _, t in moves if t.record_uri],
            updated_at=now_iso(),
        )
        return self.metadata(album)

    def _write_attached(self, album: Album, new: list[str], snapshot: Snapshot) -> dict[str, Record | None]:
        """One applyWrites: the tracks, then the list, whose new items the write pins to the CID
        each rewritten track record gets (record_writes computes it before writing)."""
        assert album.list_uri
        refs = [(u, record.cid if (record := snapshot.records.get(u)) else None) for u in new]
        append = partial(list_records.appended, refs=refs, now=now_iso())
        edits = [Edit(u, set_album(album.title)) for u in new] + [Edit(album.list_uri, append)]
        return self.records.write(edits, snapshot)

    def _moves(
        self, album: Album, present: list[str], fresh: dict[str, Record | None], local: dict[str | None, Track]
    ) -> list[tuple[Track | None, Track]]:
        """(where each track is, the track in the album); new ids in one counter update."""
        ids = iter(self.repo.reserve_track_ids(sum(1 for u in present if u not in local)))
        moves: list[tuple[Track | None, Track]] = []
        for uri in present:
            record = fresh[uri]
            assert record is not None
            known = local.get(uri)
            track = new_track(known.id if known else next(ids), self.did, album.id, uri, record.cid, record.value)
            moves.append((known, onto_existing(track, known) if known else track))
        return moves

    # ---- order -------------------------------------------------------------------------------

    def _reorder_list(self, album: Album, uris: list[str]) -> dict[str, Any]:
        tracks = {t.record_uri: t for t in self.repo.album_track_refs(album.id) if t.record_uri}
        seen = set(self._own_track_uris(uris, "items[{}].uri"))
        foreign = [u for u in uris if u not in tracks]
        missing = [u for u in tracks if u not in seen]
        if foreign or missing:
            raise Unprocessable(
                "items: must list every track of the album exactly once"
                f" (not in the album: {foreign[:20]}, missing: {missing[:20]})"
            )
        album = self._apply_order(album, list(tracks.values()), uris)
        return {"uri": album.list_uri, "cid": album.list_cid}

    def _reorder(self, album: Album, track_ids: list[int]) -> dict[str, Any]:
        tracks = {t.id: t for t in self.repo.album_track_refs(album.id)}
        counts = Counter(track_ids)
        duplicates = sorted(i for i, n in counts.items() if n > 1)
        foreign = sorted(i for i in counts if i not in tracks)
        missing = sorted(set(tracks) - set(counts))
        if duplicates or foreign or missing:
            raise Unprocessable(
                "track_ids: must list every track of the album exactly once"
                f" (duplicates: {duplicates[:20]}, not in the album: {foreign[:20]}, missing: {missing[:20]})"
            )
        order: list[str] = [u for i in track_ids if (u := tracks[i].record_uri)]
        return self.metadata(self._apply_order(album, list(tracks.values()), order))

    def _apply_order(self, album: Album, tracks: list[Track], order: list[str]) -> Album:
        """The list record, then the catalogue, in `order` (record URIs of all of `tracks`)."""
        cids = {t.record_uri: t.record_cid for t in tracks if t.record_uri}
        album = self.ensure_list_record(album)
        assert album.list_uri
        change = partial(list_records.reordered, order=order, cids=cids, now=now_iso())
        # The tracks are read, not written: the list pins each by the CID its record has now.
        edits = [Edit(u, keep) for u in order] + [Edit(album.list_uri, change)]
        sizes, head = self.read_for_write(album, partial(self.track_sizes, len(order)))
        after = cids_of(self.records.write(edits, head, sizes))
        self.repo.set_track_cids(tracks, after)
        list_cid = after[album.list_uri]
        return self.repo.set_album_fields(album, track_order=order, list_cid=list_cid, updated_at=now_iso())

    # ---- remove ------------------------------------------------------------------------------

    def _remove_track(self, album: Album, track_id: int) -> dict[str, Any]:
        track = self.repo.find_track(track_id)
        if track is None or track.artist_did != self.did:
            raise NotFound("track not found")
        in_album = next((t for t in self.tracks(album) if t.id == track_id), None)
        if in_album is None:
            raise BadRequest("track is not in this album")
        uri = in_album.record_uri
        edits = [Edit(uri, DROP_ALBUM)] if uri else []
        if album.list_uri and album.list_cid:
            edits.append(Edit(album.list_uri, partial(list_records.without_item, uri=uri, now=now_iso())))
        cids = self.records.apply(edits)
        standalone = replace(in_album, album_id=None, record_cid=cids.get(uri or "") or in_album.record_cid)
        self.repo.detach_track(album.id, in_album, standalone)
        self.repo.recount(album.id)
        changes: dict[str, Any] = {"track_order": [u for u in album.track_order if u != uri], "updated_at": now_iso()}
        if album.list_uri and cids.get(album.list_uri):
            changes["list_cid"] = cids[album.list_uri]
        self.repo.set_album_fields(album, **changes)
        return {"removed": True, "track_id": track_id}

"""The indexer's ports in memory: the catalogue's `IndexCatalogue` (FakeCatalogue plus the
artist and the one-track writes) and the public `PdsReader`'s listings, each with the contract
its adapter documents (the job items, `JobQueue`, are tests/fakes/jobs.py's)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from albums_core.domain.errors import ArtistNotFound, ConcurrentUpdate, RecordHeld
from albums_core.domain.models import Album, Artist, Track
from albums_core.domain.read_budget import ReadBudget
from albums_core.domain.sessions import Listing, Record
from tests.fakes.catalogue import FakeCatalogue
from tests.fakes.pds import cid_of


class FakeIndexCatalogue(FakeCatalogue):
    """`before_save` runs before each track write (time passing, another writer)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.artists: dict[str, Artist] = {}
        self.synced: dict[str, str] = {}
        self.over_cap: dict[str, list[str]] = {}
        self.before_save: Callable[[], None] | None = None
        self._track_ids = itertools.count(10_000)

    # ---- artists ----------------------------------------------------------------------------

    def get_artist(self, did: str) -> Artist | None:
        return self.artists.get(did)

    def get_artist_by_handle(self, handle: str) -> Artist | None:
        return next((a for a in self.artists.values() if a.handle == handle), None)

    def get_artists(self, dids: set[str]) -> dict[str, Artist]:
        return {d: a for d, a in self.artists.items() if d in dids}

    def upsert_artist(self, artist: Artist) -> None:
        self.artists[artist.did] = artist

    def mark_synced(self, did: str, stamp: str, must_exist: bool = True) -> None:
        if must_exist and did not in self.artists:
            raise ArtistNotFound()
        self.synced[did] = stamp

    def mark_over_record_cap(self, did: str, collections: list[str], stamp: str) -> None:
        if did in self.artists:  # an artist gone meanwhile has nothing to mark
            self.over_cap[did] = collections

    def artist_albums(self, did: str) -> list[Album]:
        return [a for a in self.albums.values() if a.artist_did == did]

    def find_album_by_slug(self, handle: str, slug: str) -> tuple[Artist, Album, list[Track]] | str | None:
        artist = self.get_artist_by_handle(handle)
        if artist is None:
            return None
        album_id = self.slugs.get((artist.did, slug))
        loaded = self.load_album(album_id) if album_id else None
        if loaded is not None:
            return artist, loaded[0], loaded[1]
        return self.current_slug(artist.did, slug)

    def listed_albums_page(self, limit: int, after: dict[str, str] | None) -> tuple[list[Album], dict[str, str] | None]:
        """By lower-cased title then id, as the listing index orders them."""
        listed = sorted((self.albums[i] for i in self.listed), key=lambda a: (a.title.lower(), a.id))
        if after is not None:
            listed = [a for a in listed if (a.title.lower(), a.id) > (after["title"], after["id"])]
        page = listed[:limit]
        more = len(listed) > limit and page
        return page, {"title": page[-1].title.lower(), "id": page[-1].id} if more else None

    # ---- the indexer's track writes ---------------------------------------------------------

    def next_track_id(self) -> int:
        return next(self._track_ids)

    def album_tracks(self, album_id: str, limit: int | None = None) -> list[Track]:
        tracks = sorted((t for t in self.tracks.values() if t.album_id == album_id), key=lambda t: t.id)
        return tracks if limit is None else tracks[:limit]

    def save_track(self, track: Track, replaces: Track | None = None) -> None:
        """As the adapter: into an album only while it exists (ConcurrentUpdate), and a new
        track of a record another track holds is not written (RecordHeld names that one)."""
        if self.before_save is not None:
            self.before_save()
        if track.album_id and track.album_id not in self.albums:
            raise ConcurrentUpdate()
        if replaces is None and track.record_uri:
            holder = next((t for t in self.tracks.values() if t.record_uri == track.record_uri), None)
            if holder is not None:
                raise RecordHeld(holder)
        self._write("save_track")
        if replaces is not None and replaces.id != track.id:
            self.tracks.pop(replaces.id, None)
        self.tracks[track.id] = track

    def remove_track(self, track: Track) -> None:
        self._write("remove_track")
        self.tracks.pop(track.id, None)

    def detach_tracks(self, tracks: list[Track]) -> list[Track]:
        # As the adapter: with the counters the tracks have when they move (a play since the read kept).
        moved = [
            replace(
                t, album_id=None, play_count=now.play_count, like_count=now.like_count, comment_count=now.comment_count
            )
            if (now := self.tracks.get(t.id)) is not None
            else replace(t, album_id=None)
            for t in tracks
        ]
        if moved:
            self._write("detach_tracks")
        for track in moved:
            self.tracks[track.id] = track
        return moved

    def image_in_use(self, image_id: str) -> bool:
        return any(a.image_id == image_id for a in self.albums.values())

    def by_uri(self, uri: str) -> Track | None:
        return next((t for t in self.tracks.values() if t.record_uri == uri), None)


class FakeReader:
    """Public listings of repositories: per (did, collection) records newest key first, as a
    PDS lists them; a call reads at most `page` records (a PDS's page) and `max_records`, and
    takes one call of the caller's budget first (none left: stopped on it, nothing read)."""

    def __init__(self, page: int = 100) -> None:
        self.page = page
        self.repos: dict[tuple[str, str], dict[str, Record]] = {}
        self.calls: list[tuple[str, str | None]] = []

    def put(self, did: str, collection: str, rkey: str, value: dict[str, Any]) -> str:
        uri = f"at://{did}/{collection}/{rkey}"
        self.repos.setdefault((did, collection), {})[rkey] = Record(uri, cid_of(value), value)
        return uri

    def delete(self, uri: str) -> None:
        did, collection, rkey = uri.removeprefix("at://").split("/")
        del self.repos[(did, collection)][rkey]

    def list_records(
        self,
        pds_url: str,
        did: str,
        collection: str,
        *,
        cursor: str | None,
        budget: ReadBudget,
        max_records: int,
        max_bytes: int,
    ) -> Listing:
        self.calls.append((collection, cursor))
        if not budget.take_call():
            return Listing(cursor=cursor, stopped=budget.spent or "deadline")
        found = self.repos.get((did, collection), {})
        keys = sorted((k for k in found if cursor is None or k < cursor), reverse=True)
        taken = keys[: min(self.page, max_records)]
        out = Listing(records=[found[k] for k in taken], pages=1, size=200 * len(taken))
        if len(taken) == len(keys):
            out.complete = True
        else:
            out.cursor, out.stopped = taken[-1], "records"
        return out

    def profile(self, pds_url: str, did: str) -> Record | None:
        return None

    def blob_url(self, pds_url: str, did: str, cid: str) -> str:
        return f"{pds_url}/xrpc/com.atproto.sync.getBlob?did={did}&cid={cid}"

    def list_order(self, pds_url: str | None, list_uri: str | None) -> list[str] | None:
        return None

    @contextmanager
    def answering(self, pds_url: str, did: str) -> Iterator[None]:
        yield

"""What this container holds of the catalogue, per artist: their tracks (by record URI), albums
and orphan likes as last read (and since written), kept for a minute, and the album pages the
batch changed, dropped once each when it ends. Writes made from a held copy are conditional on
the items being as read, so a stale copy costs a refused write and a fresh read, never a wrong
one."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from albums_core.domain.models import Album, Artist, Track
from albums_core.ports.firehose import AlbumPages, FirehoseCatalogue

# What is kept of an artist's catalogue between batches, and for how many artists.
HELD_SECONDS = 60.0
HELD_ARTISTS = 64


def artist_of(uri: str) -> str:
    return uri.removeprefix("at://").split("/", 1)[0]


@dataclass
class Held:
    """What the catalogue holds of one artist, as this container last read (and since wrote) it."""

    artist: Artist | None
    tracks: dict[str, Track]  # by record URI
    albums: dict[str, Album] | None  # by id; read when first needed
    at: float
    # Orphan likes of the artist's tracks (pointers by track URI); read when a track is created.
    orphans: dict[str, list[dict[str, Any]]] | None = None
    batch: int = 0  # the batch it was read in


class HeldCatalogue:
    def __init__(self, catalogue: FirehoseCatalogue, pages: AlbumPages) -> None:
        self.catalogue = catalogue
        self.pages = pages
        self._artists: OrderedDict[str, Held] = OrderedDict()
        self._lock = threading.Lock()
        self._page_ids: dict[str, str] = {}  # album ids whose page changed -> their artist
        self._pages: set[tuple[str, str]] = set()  # (handle, slug) of albums just written
        self._batch = 0

    def begin_batch(self) -> None:
        """A batch starts: artists beyond HELD_ARTISTS are let go now, never during a batch (a
        thread applying one artist's repository must not see its copy evicted by the others)."""
        self._batch += 1
        with self._lock:
            self._trim()

    def _trim(self) -> None:
        while len(self._artists) > HELD_ARTISTS:
            self._artists.popitem(last=False)

    def predates_batch(self, did: str) -> bool:
        """Whether what is held of the artist was read before this batch began (our own API may
        have written since: its commits are coming back)."""
        held = self.peek(did)
        return held is not None and held.batch < self._batch

    def held(self, did: str, albums: bool = False) -> Held:
        # Repositories are applied in threads (together.py), each a different artist: the reads
        # are made outside the lock, the map changed under it.
        with self._lock:
            held = self._artists.get(did)
        if held is None or time.monotonic() - held.at > HELD_SECONDS:
            artist = self.catalogue.get_artist(did)
            tracks = {t.record_uri: t for t in self.catalogue.artist_tracks(did) if t.record_uri} if artist else {}
            held = Held(artist, tracks, None, time.monotonic(), batch=self._batch)
            with self._lock:
                self._artists[did] = held
                if not self._batch:  # not used batch by batch (a like re-read job): bounded as it reads
                    self._trim()
        with self._lock:
            if did in self._artists:
                self._artists.move_to_end(did)
        if albums and held.albums is None:
            held.albums = {a.id: a for a in self.catalogue.artist_albums(did)} if held.artist else {}
        return held

    def peek(self, did: str) -> Held | None:
        """What is held of the artist, without reading anything."""
        with self._lock:
            return self._artists.get(did)

    def forget(self, did: str) -> None:
        with self._lock:
            self._artists.pop(did, None)

    def track(self, uri: str, track_id: int | None = None) -> Track | None:
        """The held track of a record URI (its artist's tracks read once); with `track_id`, only
        if it is that track."""
        track = self.held(artist_of(uri)).tracks.get(uri)
        if track is not None and track_id is not None and track.id != track_id:
            return None
        return track

    def changed_page(self, track: Track) -> None:
        # By id, not by a held album's slug: an album renamed through the API within the minute
        # it is held would have its old slug's page dropped and its current one left stale.
        if track.album_id:
            self._page_ids[track.album_id] = track.artist_did

    def changed_album_page(self, handle: str, slug: str) -> None:
        """The page of an album just written under this slug (its write was conditional on the
        album being as held): dropped with the batch's others, without looking the album up
        (after the write, as every drop: a page cached meanwhile goes with it)."""
        self._pages.add((handle, slug))

    def flush_pages(self) -> None:
        """Pages that changed: each once per batch, however many of its tracks or likes changed,
        under the album's slug as it is now (the albums read together; the handle held of their
        artist, else the album's artist read too), all dropped in one request."""
        handles: dict[str, str] = {}
        for album_id, did in sorted(self._page_ids.items()):
            held = self._artists.get(did)
            if held is not None and held.artist is not None:
                handles[album_id] = held.artist.handle
            else:
                self.pages.drop_by_id(album_id)
        if handles or self._pages:
            self.pages.drop_many(set(self._pages), handles)
        self._page_ids.clear()
        self._pages.clear()

"""The (Open)Subsonic API's methods over the catalogue: albums and artists to browse, songs in
their album's list-record order, cover art, audio and scrobbles. Each method takes the caller
(a developer token's account) and the request's parameters and returns the envelope's payload,
or a redirect for media; a `SubsonicError` is the envelope's error."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict
from typing import Any, cast

from albums_core.domain import subsonic, views
from albums_core.domain.errors import NotFound
from albums_core.domain.models import Album, Artist, Track
from albums_core.domain.public_urls import public_url
from albums_core.domain.subsonic import SubsonicError
from albums_core.ports import ListingCatalogue, SubsonicStore
from albums_core.services.album_pages import AlbumPages

Params = Mapping[str, list[str]]

MAX_SIZE = 500
DEFAULT_SIZE = 10
KEEP_SECONDS = 60
MEMO_ENTRIES = 4096
THUMBNAIL_MAX_SIZE = 300
BY_NAME = "alphabeticalByName"
ORDERED_TYPES = ("alphabeticalByArtist", "newest", "recent", "frequent", "random")
_INDEX_OTHER = "#"
_SCROBBLE_AHEAD_SECONDS = 86_400


def one(params: Params, name: str, required: bool = True) -> str | None:
    values = params.get(name)
    if not values or values[0] == "":
        if required:
            raise subsonic.missing(name)
        return None
    return values[0]


def number(params: Params, name: str, default: int, low: int, high: int) -> int:
    raw = one(params, name, required=False)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SubsonicError(subsonic.GENERIC, f"parameter {name} must be a number") from None
    if value < low:
        raise SubsonicError(subsonic.GENERIC, f"parameter {name} must be at least {low}")
    return min(value, high)


# ---- system -----------------------------------------------------------------------------------


def ping(_: Any, __: Params) -> dict[str, Any]:
    return {}


def get_license(_: Any, __: Params) -> dict[str, Any]:
    return {"license": {"valid": True}}


def get_music_folders(_: Any, __: Params) -> dict[str, Any]:
    return {"musicFolders": {"musicFolder": [{"id": subsonic.FOLDER_ID, "name": subsonic.FOLDER_NAME}]}}


def get_open_subsonic_extensions(_: Any, __: Params) -> dict[str, Any]:
    return {"openSubsonicExtensions": subsonic.EXTENSIONS}


# ---- the catalogue ------------------------------------------------------------------------------


class SubsonicCatalogue:
    """Browse and media methods. What the container learns (artists, where an album's page is)
    is kept for a minute: a warm container answers a page with fewer calls."""

    def __init__(
        self,
        repo: ListingCatalogue,
        store: SubsonicStore,
        pages: AlbumPages,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.repo, self.store, self.pages = repo, store, pages
        self.clock, self.wall = clock, wall
        self._artists: dict[str, tuple[float, Artist]] = {}
        self._where: dict[str, tuple[float, tuple[str, str]]] = {}
        self._cursors: dict[str, tuple[float, dict[str, str]]] = {}
        self._orders: dict[str, tuple[float, list[str]]] = {}

    # ---- what the container keeps

    def artists(self, dids: set[str]) -> dict[str, Artist]:
        now = self.clock()
        known = {d: hit[1] for d in dids if (hit := self._artists.get(d)) and now - hit[0] < KEEP_SECONDS}
        missing = dids - set(known)
        if missing:
            for did, artist in self.repo.get_artists(missing).items():
                self._remember(self._artists, did, artist)
                known[did] = artist
        return known

    def artist(self, did: str) -> Artist:
        found = self.artists({did}).get(did)
        if found is None:
            raise subsonic.not_found("Artist")
        return found

    # ---- album lists

    def _entries(self, albums: list[Album]) -> list[dict[str, Any]]:
        artists = self.artists({a.artist_did for a in albums}) if albums else {}
        out = []
        for album in albums:
            artist = artists.get(album.artist_did)
            out.append(subsonic.album_entry(asdict(album), artist.display_name if artist else None, album.artist_did))
        return out

    def _by_name(self, offset: int, size: int) -> list[Album]:
        """A page by title from the listing's cursor where the page before it ended: known to the
        container, else in the cache table (written once per container and offset), else - a
        jump to an offset no page ended at - found by walking the listing's keys."""
        after: dict[str, str] | None = None
        kept: dict[int, dict[str, str]] = {}
        if offset > 0:
            after = self._known(self._cursors, str(offset))
            if after is None:
                # this page's start and end at once: a cursor kept already is not written again
                kept = self.store.offset_cursors(BY_NAME, [offset, offset + size])
                after = kept.get(offset) or self.store.cursor_at(offset)
            if after is None:
                return []
        albums, next_key = self.repo.listed_albums_page(size, after)
        if next_key:
            ends = offset + len(albums)
            if next_key not in (self._known(self._cursors, str(ends)), kept.get(ends)):
                self.store.keep_cursor(BY_NAME, ends, next_key)
            self._remember(self._cursors, str(ends), next_key)
        return list(albums)

    def _ordered_ids(self, list_type: str) -> list[str]:
        ids = self._known(self._orders, list_type)
        if ids is None:
            ids = self.store.order(list_type)
            if ids is not None:
                self._remember(self._orders, list_type, ids)
        if ids is not None:
            return list(ids)
        albums = self.store.listed_snapshot()
        if list_type == "alphabeticalByArtist":
            artists = self.artists({a.artist_did for a in albums})

            def name(a: Album) -> str:
                artist = artists.get(a.artist_did)
                return (artist.display_name if artist else "").lower()

            albums.sort(key=lambda a: (name(a), a.title.lower(), a.id))
        elif list_type in ("newest", "recent"):
            full = {a.id: a for a in self._albums([a.id for a in albums])}
            field = "created_at" if list_type == "newest" else "updated_at"

            def stamp(a: Album) -> str:
                album = full.get(a.id, a)
                return str(getattr(album, field) or album.created_at or "")

            albums.sort(key=lambda a: (stamp(a), a.id), reverse=True)
        elif list_type == "frequent":
            albums.sort(key=lambda a: (-a.total_plays, a.title.lower(), a.id))
        ids = [a.id for a in albums]
        self.store.keep_order(list_type, ids)
        self._remember(self._orders, list_type, ids)
        return list(ids)

    def _albums(self, ids: list[str]) -> list[Album]:
        items = self.store.albums(ids) if ids else {}
        return [items[i] for i in ids if i in items and items[i].track_count > 0]

    def album_list(self, params: Params) -> list[dict[str, Any]]:
        list_type = one(params, "type")
        size = number(params, "size", DEFAULT_SIZE, 0, MAX_SIZE)
        offset = number(params, "offset", 0, 0, 10**9)
        if list_type == BY_NAME:
            return self._entries(self._by_name(offset, size))
        if list_type == "byYear":
            return []  # records carry no year
        if list_type not in ORDERED_TYPES:
            raise SubsonicError(subsonic.GENERIC, "unsupported list type")
        ids = self._ordered_ids(str(list_type))
        page = random.sample(ids, min(size, len(ids))) if list_type == "random" else ids[offset : offset + size]
        return self._entries(self._albums(page))

    def get_album_list2(self, _: Any, params: Params) -> dict[str, Any]:
        return {"albumList2": {"album": self.album_list(params)}}

    def get_album_list(self, _: Any, params: Params) -> dict[str, Any]:
        return {"albumList": {"album": self.album_list(params)}}

    # ---- one album, artists, songs

    def _page(self, album_id: str) -> dict[str, Any]:
        """The album's page as the web app gets it (the same cache), by the album's id: where it
        is cached is known to the container, else kept in the cache table (a hit is two calls),
        else read from the album and its artist. A page of another album there (a rename, a
        handle change) sends it back to the album."""
        for attempt in range(2):
            where = self._known(self._where, album_id) if not attempt else None
            if where is None and not attempt:
                where = self.store.album_where(album_id)
            if where is None:
                album = self.repo.get_album(album_id)
                if album is None or album.track_count <= 0:
                    raise subsonic.not_found("Album")
                where = (self.artist(album.artist_did).handle, album.slug)
                self.store.keep_album_where(album_id, *where)
            self._remember(self._where, album_id, where)
            try:
                page: dict[str, Any] = json.loads(cast(str, self.pages.render(where[0], where[1], None)))
            except NotFound:
                page = {}
            if page.get("metadata", {}).get("id") == album_id:
                return page
            self._where.pop(album_id, None)
        raise subsonic.not_found("Album")

    def _remember(self, memo: dict[str, Any], key: str, value: Any) -> None:
        memo.pop(key, None)
        memo[key] = (self.clock(), value)
        while len(memo) > MEMO_ENTRIES:  # a container's memory is bounded: the oldest go first
            del memo[next(iter(memo))]

    def _known(self, memo: dict[str, tuple[float, Any]], key: str) -> Any:
        hit = memo.get(key)
        return hit[1] if hit is not None and self.clock() - hit[0] < KEEP_SECONDS else None

    def get_album(self, _: Any, params: Params) -> dict[str, Any]:
        _, album_id = subsonic.parse_id(one(params, "id"), ("al",))
        page = self._page(album_id)
        meta = page["metadata"]
        songs = [subsonic.song(t, n, meta) for n, t in enumerate(page["tracks"], start=1)]
        entry = subsonic.album_entry(meta, meta.get("artist"), str(meta["artist_did"]), songs)
        return {"album": entry}

    def get_artists(self, _: Any, __: Params) -> dict[str, Any]:
        albums = self.store.listed_snapshot()
        counts: dict[str, int] = {}
        for album in albums:
            counts[album.artist_did] = counts.get(album.artist_did, 0) + 1
        artists = self.artists(set(counts))
        index: dict[str, list[dict[str, Any]]] = {}
        for artist in sorted(artists.values(), key=lambda a: (a.display_name.lower(), a.did)):
            first = artist.display_name[:1].upper()
            letter = first if first.isalpha() else _INDEX_OTHER
            index.setdefault(letter, []).append(self._artist_entry(artist, counts[artist.did]))
        return {
            "artists": {"ignoredArticles": "", "index": [{"name": k, "artist": v} for k, v in sorted(index.items())]}
        }

    def _artist_entry(self, artist: Artist, album_count: int) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "id": subsonic.artist_id(artist.did),
            "name": artist.display_name,
            "albumCount": album_count,
            "coverArt": subsonic.artist_id(artist.did),
            "artistImageUrl": public_url(artist.avatar_url),
        }
        return {k: v for k, v in entry.items() if v is not None}

    def get_artist(self, _: Any, params: Params) -> dict[str, Any]:
        _, did = subsonic.parse_id(one(params, "id"), ("ar",))
        artist = self.artist(did)
        albums = sorted(
            (a for a in self.repo.artist_albums(did) if a.track_count > 0), key=lambda a: (a.title.lower(), a.id)
        )
        entry = self._artist_entry(artist, len(albums))
        entry["album"] = [subsonic.album_entry(asdict(a), artist.display_name, did) for a in albums]
        return {"artist": entry}

    def _track(self, raw_id: str | None) -> tuple[Track, Album, Artist]:
        _, value = subsonic.parse_id(raw_id, ("tr",))
        track = self.store.track(int(value))
        album = self.repo.get_album(track.album_id) if track is not None and track.album_id else None
        if track is None or album is None:
            raise subsonic.not_found("Song")  # only the tracks of albums are served
        return track, album, self.artist(track.artist_did)

    def get_song(self, _: Any, params: Params) -> dict[str, Any]:
        track, album, artist = self._track(one(params, "id"))
        body = views.track_response(track, album, artist)
        meta = {"id": album.id, "title": album.title, "image_url": body["album"]["image_url"]}
        return {"song": subsonic.song(body, None, meta)}

    # ---- media

    def get_cover_art(self, _: Any, params: Params) -> subsonic.Redirect:
        kind, value = subsonic.parse_id(one(params, "id"), ("al", "tr", "ar"))
        size = number(params, "size", 0, 0, 10_000)
        if kind == "al":
            album = self.repo.get_album(value)
            if album is None:
                raise subsonic.not_found("Cover art")
            image, thumb = views.album_images(album, self.artists({album.artist_did}).get(album.artist_did))
        elif kind == "tr":
            track, album, artist = self._track(value and f"tr-{value}")
            body = views.track_response(track, album, artist)
            image, thumb = body["image_url"], body["thumbnail_url"]
        else:
            avatar = public_url(self.artist(value).avatar_url)
            image, thumb = avatar, avatar
        url = thumb if size and size <= THUMBNAIL_MAX_SIZE and thumb else image
        if not url:
            raise subsonic.not_found("Cover art")
        return subsonic.Redirect(url)

    def stream(self, user: Any, params: Params) -> subsonic.Redirect:
        track, _, artist = self._track(one(params, "id"))
        if track.support_gate is not None and getattr(user, "did", None) != track.artist_did:
            raise SubsonicError(subsonic.NOT_AUTHORIZED, "this track is for the artist's supporters")
        url = subsonic.stream_url(asdict(track), artist.pds_url)
        if url is None:
            raise subsonic.not_found("Audio")
        return subsonic.Redirect(url)

    def scrobble(self, user: Any, params: Params) -> dict[str, Any]:
        ids = [v for v in params.get("id", []) if v]
        if not ids:
            raise subsonic.missing("id")
        submission = (one(params, "submission", required=False) or "true").lower()
        if submission not in ("true", "false"):
            raise SubsonicError(subsonic.GENERIC, "parameter submission must be true or false")
        if submission == "false":
            return {}  # "now playing": nothing is counted
        # Every id and time checked before any play is counted: a bad one counts none.
        now = int(self.wall())
        seconds = [self._scrobble_second(raw, now) for raw in params.get("time", [])[: len(ids)]]
        tracks = [self._track(raw_id)[0] for raw_id in ids]
        for n, track in enumerate(tracks):
            self.store.count_play(user.did, track, seconds[n] if n < len(seconds) else now)
        return {}

    @staticmethod
    def _scrobble_second(raw: str, now: int) -> int:
        """A play's time: milliseconds since the epoch, not before it nor more than a day ahead
        (a client's clock may be off; a play from the far future is not one)."""
        try:
            millis = int(raw)
        except ValueError:
            raise SubsonicError(subsonic.GENERIC, "parameter time must be a number") from None
        if millis < 0 or millis // 1000 > now + _SCROBBLE_AHEAD_SECONDS:
            raise SubsonicError(subsonic.GENERIC, "parameter time must be milliseconds since the epoch, not ahead")
        return millis // 1000

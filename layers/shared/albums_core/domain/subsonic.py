"""The (Open)Subsonic API's envelope, errors and shapes (pure).

Every answer, errors included, is a `subsonic-response` envelope with HTTP 200, in JSON
(`f=json`) or XML (the default): the one exception to the API's "JSON everywhere" rule.
Ids carry their kind (`al-` album, `tr-` track, `ar-` artist) so that getCoverArt can take
either an album's or a track's."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from xml.etree import ElementTree

from albums_core.domain.public_urls import public_url

VERSION = "1.16.1"
SERVER_TYPE = "plyr-albums"
SERVER_VERSION = "1.0.0"
NAMESPACE = "http://subsonic.org/restapi"
FOLDER_ID = 1
FOLDER_NAME = "Albums"
EXTENSIONS = [{"name": "apiKeyAuthentication", "versions": [1]}, {"name": "formPost", "versions": [1]}]

GENERIC = 0
MISSING_PARAMETER = 10
WRONG_CREDENTIALS = 40
MECHANISM_UNSUPPORTED = 42
CONFLICTING_MECHANISMS = 43
INVALID_API_KEY = 44
NOT_AUTHORIZED = 50
NOT_FOUND = 70


@dataclass(frozen=True)
class Redirect:
    """A 302 to media (stream, download, cover art)."""

    location: str


class SubsonicError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def missing(name: str) -> SubsonicError:
    return SubsonicError(MISSING_PARAMETER, f"Required parameter is missing: {name}")


def not_found(what: str) -> SubsonicError:
    return SubsonicError(NOT_FOUND, f"{what} not found")


def envelope(payload: dict[str, Any] | None = None, error: SubsonicError | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "status": "failed" if error else "ok",
        "version": VERSION,
        "type": SERVER_TYPE,
        "serverVersion": SERVER_VERSION,
        "openSubsonic": True,
    }
    if error:
        body["error"] = {"code": error.code, "message": error.message}
    body.update(payload or {})
    return {"subsonic-response": body}


def to_json(document: dict[str, Any]) -> str:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _fill(element: ElementTree.Element, data: dict[str, Any]) -> None:
    """Scalars become attributes, a dict a child, a list repeated children (of scalars: their text)."""
    for key, value in data.items():
        if value is None:
            continue
        if isinstance(value, dict):
            _fill(ElementTree.SubElement(element, key), value)
        elif isinstance(value, list):
            for entry in value:
                child = ElementTree.SubElement(element, key)
                if isinstance(entry, dict):
                    _fill(child, entry)
                else:
                    child.text = _text(entry)
        else:
            element.set(key, _text(value))


def to_xml(document: dict[str, Any]) -> str:
    root = ElementTree.Element("subsonic-response", {"xmlns": NAMESPACE})
    _fill(root, document["subsonic-response"])
    return '<?xml version="1.0" encoding="UTF-8"?>' + ElementTree.tostring(root, encoding="unicode")


# ---- ids ---------------------------------------------------------------------------------


def album_id(album_id: str) -> str:
    return f"al-{album_id}"


def track_id(track_id: int) -> str:
    return f"tr-{track_id}"


def artist_id(did: str) -> str:
    return f"ar-{did}"


def parse_id(raw: str | None, kinds: tuple[str, ...] = ("al", "tr", "ar")) -> tuple[str, str]:
    """(kind, value) of an id of one of `kinds`; not found (70) for anything else."""
    kind, _, value = (raw or "").partition("-")
    if kind not in kinds or not value or len(value) > 2048:
        raise not_found({"al": "Album", "tr": "Song", "ar": "Artist"}.get(kinds[0], "Item"))
    if kind == "tr" and not (value.isascii() and value.isdigit() and len(value) <= 15):
        raise not_found("Song")
    return kind, value


# ---- shapes, from the read side's own response bodies -------------------------------------

_MIME = {"mp3": "audio/mpeg", "m4a": "audio/mp4", "aac": "audio/aac", "wav": "audio/wav", "flac": "audio/flac"}
_MIME.update({"ogg": "audio/ogg", "opus": "audio/ogg", "webm": "audio/webm", "aiff": "audio/aiff"})


def song(track: dict[str, Any], number: int | None, album: dict[str, Any]) -> dict[str, Any]:
    """A Subsonic song (Child) from a track of an album page (views.track_response)."""
    suffix = str(track.get("file_type") or "mp3").lower()
    own_image = bool(track.get("image_url")) and track.get("image_url") != album.get("image_url")
    entry: dict[str, Any] = {
        "id": track_id(int(track["id"])),
        "parent": album_id(str(album["id"])),
        "isDir": False,
        "title": track["title"],
        "album": album["title"],
        "artist": track.get("artist"),
        "track": number,
        "coverArt": track_id(int(track["id"])) if own_image else album_id(str(album["id"])),
        "suffix": suffix,
        "contentType": _MIME.get(suffix, "audio/mpeg"),
        "duration": track.get("duration"),
        "playCount": int(track.get("play_count") or 0),
        "created": track.get("created_at") or None,
        "albumId": album_id(str(album["id"])),
        "artistId": artist_id(str(track["artist_did"])),
        "type": "music",
        "mediaType": "song",
        "isVideo": False,
    }
    return {k: v for k, v in entry.items() if v is not None}


def album_entry(
    album: dict[str, Any], artist_name: str | None, artist_did: str, songs: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """An AlbumID3 from an album's fields (id, title, track_count, total_plays, created_at)."""
    entry: dict[str, Any] = {
        "id": album_id(str(album["id"])),
        "name": album["title"],
        "title": album["title"],
        "album": album["title"],
        "artist": artist_name,
        "artistId": artist_id(artist_did),
        "coverArt": album_id(str(album["id"])),
        "songCount": int(album.get("track_count") or 0),
        "duration": sum(int(s.get("duration") or 0) for s in songs) if songs is not None else 0,
        "playCount": int(album.get("total_plays") or 0),
        "created": album.get("created_at") or None,
        "isDir": True,
        "parent": artist_id(artist_did),
    }
    if songs is not None:
        entry["songCount"] = len(songs)
        entry["song"] = songs
    return {k: v for k, v in entry.items() if v is not None}


def stream_url(track: dict[str, Any], pds_url: str | None) -> str | None:
    """Where a track's audio is: its recorded audio URL, else its blob on the artist's PDS; only
    a URL the public-URL rules allow."""
    from urllib.parse import urlencode

    url = public_url(track.get("r2_url"))
    if url:
        return url
    cid, did = track.get("pds_blob_cid"), track.get("artist_did")
    if isinstance(cid, str) and isinstance(did, str) and pds_url:
        return public_url(f"{pds_url.rstrip('/')}/xrpc/com.atproto.sync.getBlob?{urlencode({'did': did, 'cid': cid})}")
    return None

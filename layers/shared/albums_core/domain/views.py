"""Response bodies of the read endpoints, built from domain models.

Every URL passes public_url on the way out, whatever was stored: records indexed before URLs
were checked at indexing time, and URLs built from a DID document's PDS endpoint."""

from __future__ import annotations

from typing import Any

from albums_core.domain.at_uri import record_url
from albums_core.domain.handles import normalize_artist_ref, normalize_handle
from albums_core.domain.models import Album, Artist, Track, pick_images
from albums_core.domain.public_urls import public_url
from albums_core.domain.records import support_gate


def _avatar(artist: Artist | None) -> str | None:
    return public_url(artist.avatar_url) if artist else None


def _album_images(album: Album, artist: Artist | None) -> tuple[str | None, str | None]:
    return pick_images(public_url(album.image_url), public_url(album.thumbnail_url), _avatar(artist))


def album_images(album: Album, artist: Artist | None) -> tuple[str | None, str | None]:
    """An album's (image, thumbnail) as every response shows them."""
    return _album_images(album, artist)


def album_list_item(album: Album, artist: Artist | None) -> dict[str, Any]:
    image, thumb = _album_images(album, artist)
    return {
        "id": album.id,
        "title": album.title,
        "slug": album.slug,
        "artist": artist.display_name if artist else None,
        "artist_handle": artist.handle if artist else None,
        "track_count": album.track_count,
        "total_plays": album.total_plays,
        "image_url": image,
        "thumbnail_url": thumb,
    }


def artist_album_item(album: Album, artist: Artist) -> dict[str, Any]:
    image, thumb = _album_images(album, artist)
    return {
        "id": album.id,
        "title": album.title,
        "slug": album.slug,
        "track_count": album.track_count,
        "total_plays": album.total_plays,
        "image_url": image,
        "thumbnail_url": thumb,
    }


MAX_FEATURES = 10  # the track lexicon's maxLength for `features`


def featured_artists(features: list[Any]) -> list[dict[str, Any]]:
    """A track record's featured artists as the web app reads them: `{did, handle,
    display_name, avatar_url}` (the record holds `{did, handle?, displayName?}`, the last two
    optional snapshots). An entry without a valid DID is dropped (the lexicon requires one);
    a missing or invalid handle becomes the DID (the app links `/u/<handle>`, which takes
    either), a missing name the handle. Records are anyone's writing: nothing unchecked
    passes into a link."""
    out: list[dict[str, Any]] = []
    for item in features:
        if len(out) == MAX_FEATURES:
            break
        entry: dict[str, Any] = item if isinstance(item, dict) else {"did": item}
        raw_did, raw_handle, raw_name = entry.get("did"), entry.get("handle"), entry.get("displayName")
        did = normalize_artist_ref(raw_did) if isinstance(raw_did, str) else None
        if did is None or not did.startswith("did:"):
            continue
        handle = (normalize_handle(raw_handle) if isinstance(raw_handle, str) else None) or did
        name = raw_name.strip()[:256] if isinstance(raw_name, str) else ""
        out.append({"did": did, "handle": handle, "display_name": name or handle, "avatar_url": None})
    return out


def track_response(track: Track, album: Album, artist: Artist) -> dict[str, Any]:
    """A track as an anonymous viewer sees it (is_liked false, gated when it has a gate)."""
    album_image, album_thumb = _album_images(album, artist)
    track_image = public_url(track.image_url)
    gate = support_gate(track.support_gate)  # an item stored before gates were shaped too
    image, thumb = (
        (track_image, public_url(track.thumbnail_url) or track_image) if track_image else (album_image, album_thumb)
    )
    return {
        "id": track.id,
        "title": track.title,
        "artist": artist.display_name,
        "artist_handle": artist.handle,
        "artist_did": artist.did,
        "artist_avatar_url": _avatar(artist),
        "file_id": track.file_id,
        "file_type": track.file_type,
        "duration": track.duration,
        "features": featured_artists(track.features),
        "r2_url": public_url(track.r2_url),
        "atproto_record_uri": track.record_uri,
        "atproto_record_cid": track.record_cid,
        "atproto_record_url": public_url(record_url(artist.pds_url, track.record_uri)),
        "play_count": track.play_count,
        "created_at": track.created_at,
        "image_url": image,
        "thumbnail_url": thumb,
        "is_liked": False,
        "like_count": track.like_count,
        "comment_count": track.comment_count,
        "album": {
            "id": album.id,
            "slug": album.slug,
            "title": album.title,
            "image_url": album_image,
            "thumbnail_url": album_thumb,
        },
        "tags": track.tags,
        "support_gate": gate,
        "gated": gate is not None,
        "original_file_id": track.original_file_id,
        "original_file_type": track.original_file_type,
        "description": track.description,
        "audio_storage": track.audio_storage,
        "pds_blob_cid": track.pds_blob_cid,
    }


def album_metadata(album: Album, artist: Artist, tracks: list[Track]) -> dict[str, Any]:
    """An album page's `metadata`: a mutation's answer, without the page's track entries."""
    image, _ = _album_images(album, artist)
    return {
        "id": album.id,
        "title": album.title,
        "slug": album.slug,
        "description": album.description,
        "artist": artist.display_name,
        "artist_handle": artist.handle,
        "artist_did": artist.did,
        "track_count": len(tracks),
        "total_plays": sum(t.play_count for t in tracks),
        "image_url": image,
        "list_uri": album.list_uri,
        "version": album.version,
    }


def album_page(album: Album, artist: Artist, tracks: list[Track]) -> dict[str, Any]:
    return {
        "metadata": album_metadata(album, artist, tracks),
        "tracks": [track_response(t, album, artist) for t in tracks],
    }


def personalise(page: dict[str, Any], viewer_did: str, liked: set[int]) -> dict[str, Any]:
    """The viewer's own likes, and no gate on the viewer's own tracks."""
    for track in page["tracks"]:
        track["is_liked"] = track["id"] in liked
        if track["artist_did"] == viewer_did:
            track["gated"] = False
    return page


def artist_profile(artist: Artist) -> dict[str, Any]:
    """An artist's profile as the web app's artist page reads it (plyr.fm's ArtistResponse).
    The two preferences are plyr.fm's own (a liked list, a support link): never set here."""
    created = artist.created_at or ""
    return {
        "did": artist.did,
        "handle": artist.handle,
        "display_name": artist.display_name or artist.handle,
        "bio": artist.bio or None,
        "avatar_url": _avatar(artist),
        "created_at": created,
        "updated_at": artist.updated_at or created,
        "show_liked_on_profile": False,
        "support_url": None,
    }

"""Response shapes of the API, for the OpenAPI document (the handlers build plain dicts;
these models describe them, and the schema fuzzing checks that they agree)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel as _PydanticModel
from pydantic import ConfigDict, Field


class BaseModel(_PydanticModel):
    # These models only describe answers (the OpenAPI document, the schema fuzzing): their
    # validators are built when first asked for, not at every handler's import (cold start).
    model_config = ConfigDict(defer_build=True)


class ErrorResponse(BaseModel):
    detail: str = Field(description="what was wrong")


class AlbumListItem(BaseModel):
    id: str
    title: str
    slug: str
    artist: str | None
    artist_handle: str | None
    track_count: int
    total_plays: int
    image_url: str | None
    thumbnail_url: str | None


class AlbumListResponse(BaseModel):
    albums: list[AlbumListItem]
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page; null on the last page")


class ArtistAlbumListItem(BaseModel):
    id: str
    title: str
    slug: str
    track_count: int
    total_plays: int
    image_url: str | None
    thumbnail_url: str | None


class ArtistAlbumsResponse(BaseModel):
    albums: list[ArtistAlbumListItem]


class AlbumMetadata(BaseModel):
    id: str
    title: str
    slug: str
    description: str | None
    artist: str
    artist_handle: str
    artist_did: str
    track_count: int
    total_plays: int
    image_url: str | None
    list_uri: str | None
    version: int = Field(
        description='the album\'s version: every change adds one; send it as `If-Match: "<version>"` '
        "to change the album only if nobody changed it since"
    )


class TrackAlbum(BaseModel):
    id: str
    slug: str
    title: str
    image_url: str | None
    thumbnail_url: str | None


class FeaturedArtist(BaseModel):
    did: str
    handle: str = Field(description="the handle the track record gives, else the DID")
    display_name: str = Field(description="the name the track record gives, else the handle")
    avatar_url: str | None


class SupportGate(BaseModel):
    type: str = Field(max_length=64, description="the gate's kind, as the track record names it")


class TrackResponse(BaseModel):
    id: int
    title: str
    artist: str
    artist_handle: str
    artist_did: str
    artist_avatar_url: str | None
    file_id: str
    file_type: str
    duration: int | None = Field(default=None, description="seconds, when the track record gives it")
    features: list[FeaturedArtist]
    r2_url: str | None
    atproto_record_uri: str | None
    atproto_record_cid: str | None
    atproto_record_url: str | None
    play_count: int
    created_at: str
    image_url: str | None
    thumbnail_url: str | None
    is_liked: bool
    like_count: int
    comment_count: int
    album: TrackAlbum
    tags: list[str]
    support_gate: SupportGate | None = Field(description="the record's supportGate in the lexicon's shape only")
    gated: bool
    original_file_id: str | None
    original_file_type: str | None
    description: str | None
    audio_storage: str | None
    pds_blob_cid: str | None


class AlbumResponse(BaseModel):
    metadata: AlbumMetadata
    tracks: list[TrackResponse]


class LoginResponse(BaseModel):
    session_id: str
    did: str
    handle: str


class LinkedAccount(BaseModel):
    did: str
    handle: str
    avatar_url: str | None


class MeResponse(BaseModel):
    did: str
    handle: str
    display_name: str | None
    avatar_url: str | None
    is_artist: bool
    linked_accounts: list[LinkedAccount] = Field(
        description="the accounts this browser is signed in to: here always the session's own (the web app's "
        "account menu reads it)"
    )
    enabled_flags: list[str] = Field(description="feature flags of the web app turned on for the account (none)")


class LogoutResponse(BaseModel):
    logged_out: bool


class PdsOption(BaseModel):
    name: str
    url: str
    recommended: bool
    description: str
    info_url: str | None


class PdsOptionsResponse(BaseModel):
    enabled: bool
    options: list[PdsOption]


class ExchangeResponse(BaseModel):
    session_id: str | None = Field(description="null for a browser, which gets the HttpOnly cookie instead")


class JsonDocument(BaseModel):
    """A JSON document defined elsewhere (OAuth client metadata, a JWKS)."""

    model_config = {"extra": "allow"}


class SyncResponse(BaseModel):
    synced: bool
    albums_created: int
    albums_updated: int
    albums_removed: int
    tracks_created: int
    tracks_updated: int
    tracks_removed: int
    complete: bool = Field(
        True, description="false when the PDS was not read whole within the request's budget: a background job goes on"
    )
    skipped_invalid: int = Field(
        description="records skipped because we cannot or will not store them (too large, too deeply nested, "
        "not of the lexicon's shape); the others are indexed"
    )


class ArtistProfileResponse(BaseModel):
    did: str
    handle: str = Field(description="the verified handle, or the DID while there is none")
    display_name: str
    bio: str | None = Field(description="the description of the artist's app.bsky.actor.profile record")
    avatar_url: str | None
    created_at: str = Field(description="when the artist was first indexed (ISO 8601 UTC)")
    updated_at: str = Field(description="the last change of the artist's profile here (ISO 8601 UTC)")
    show_liked_on_profile: bool = Field(description="always false (a plyr.fm preference)")
    support_url: str | None = Field(description="always null (a plyr.fm preference)")


class ListRefResponse(BaseModel):
    uri: str = Field(description="the list record's AT-URI")
    cid: str = Field(description="the list record's CID after the change")


class RemoveTrackResponse(BaseModel):
    removed: bool
    track_id: int


class DeleteAlbumResponse(BaseModel):
    deleted: bool
    cascade: bool


_ERRORS = {
    400: "bad request (e.g. an invalid cursor, a track that is not in the album, a malformed If-Match)",
    401: "not authenticated - login required / invalid or expired session",
    403: "not yours (the message names the action); or the artist's PDS refuses the account (deactivated, "
    "taken down, suspended) or its session's tokens: the message says which, the session ends",
    404: "not found",
    409: "conflict (a slug already used, a change already under way)",
    413: "image too large (max 4MB)",
    415: "a body of a media type the operation does not take",
    412: "If-Match names a version of the album that is not its current one: reload it and try again",
    422: "invalid input; the message names the field",
    502: "the artist's PDS failed transiently; repeat the request to finish the job",
}


class DeveloperTokenCreated(BaseModel):
    token: str = Field(description="the token itself: shown this once, never again")
    prefix: str = Field(description="names the token in the list and in DELETE")
    name: str
    created_at: str


class DeveloperTokenItem(BaseModel):
    prefix: str
    name: str
    created_at: str
    last_used_at: str | None


class DeveloperTokenList(BaseModel):
    tokens: list[DeveloperTokenItem]


class DeveloperTokenRevoked(BaseModel):
    revoked: bool


def responses(model: type[BaseModel], *errors: int, status: int = 200, also: dict[int, str] | None = None) -> Any:
    """The `responses` of a route: its success model and its error statuses."""
    out: dict[int, dict[str, Any]] = {
        status: {"description": "success", "content": {"application/json": {"model": model}}}
    }
    for code, text in (also or {}).items():
        out[code] = {"description": text, "content": {"application/json": {"model": model}}}
    for code in errors:
        out[code] = {"description": _ERRORS[code], "content": {"application/json": {"model": ErrorResponse}}}
    return out


class RedirectResponse(BaseModel):
    location: str = Field(description="where the browser is sent (also the Location header)")


def redirect_responses(status: int, where: str, *errors: int) -> Any:
    """The `responses` of a route that answers with a redirect: the Location header, and the
    same URL as a JSON body (every answer of the API is JSON)."""
    out: dict[int, dict[str, Any]] = {
        status: {
            "description": f"redirect {where}",
            "headers": {"Location": {"schema": {"type": "string"}}},
            "content": {"application/json": {"model": RedirectResponse}},
        }
    }
    for code in errors:
        out[code] = {"description": _ERRORS[code], "content": {"application/json": {"model": ErrorResponse}}}
    return out


# Artist-only routes accept the session cookie or a bearer token.
SESSION: list[dict[str, list[str]]] = [{"session_cookie": []}, {"bearer_session": []}]


class CoverResponse(BaseModel):
    image_url: str | None
    image_id: str
    thumbnail_url: str | None


class UploadFormResponse(BaseModel):
    url: str = Field(description="POST the form here (multipart/form-data, the file last, as `file`)")
    fields: dict[str, str] = Field(description="form fields to send as they are, plus `Content-Type`")
    key: str
    max_bytes: int
    expires_in: int


COVER_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["image"],
                    "properties": {
                        "image": {
                            "type": "string",
                            "format": "binary",
                            "description": "JPEG, PNG or WebP, at most 4 MB and 40 megapixels",
                        }
                    },
                }
            }
        },
    }
}


# ---- conditional requests (http.conditional) -------------------------------------------------

IF_MATCH_DOC = (
    'change the album only if its version is still this one: `"<version>"` (the ETag of the album\'s '
    "last answer, or `metadata.version` quoted), a list of such tags, or `*`. A stale one is 412, and "
    "so is an empty one (a list naming no version); a malformed one is 400; without it the change is "
    "made whatever the version"
)
IF_NONE_MATCH_DOC = (
    "the ETag of a copy the client holds (a list, `*`, and W/ tags compare weakly): 304 without a body "
    "when it is still current. Ignored with a session"
)
_ETAG_HEADER = {"description": "the album's version as a strong tag: the If-Match of the next change"}
_PAGE_HEADERS = {
    "ETag": {"description": "anonymous requests only: a strong tag of the page", "schema": {"type": "string"}},
    "Cache-Control": {
        "description": "`public, max-age=60` anonymously; `private, no-store` with a session",
        "schema": {"type": "string"},
    },
    "Vary": {"description": "Cookie, Authorization (anonymous answers)", "schema": {"type": "string"}},
}


def page_responses(base: dict[int, dict[str, Any]]) -> Any:
    """A public page's responses: the caching headers on 200, and 304 (If-None-Match)."""
    out = {code: dict(spec) for code, spec in base.items()}
    out[200] = {**out[200], "headers": _PAGE_HEADERS}
    out[304] = {
        "description": "not modified: If-None-Match names the current ETag (no body)",
        "headers": {k: _PAGE_HEADERS[k] for k in ("ETag", "Cache-Control")},
    }
    return out


def etag_responses(base: dict[int, dict[str, Any]], *success: int) -> Any:
    """The album version's ETag on the `success` responses."""
    out = {code: dict(spec) for code, spec in base.items()}
    for code in success:
        out[code] = {**out[code], "headers": {"ETag": {**_ETAG_HEADER, "schema": {"type": "string"}}}}
    return out


def versioned_responses(base: dict[int, dict[str, Any]], *success: int) -> Any:
    """An album mutation's responses: the version's ETag on success, 400/412 for If-Match."""
    out: dict[int, dict[str, Any]] = etag_responses(base, *success)
    for code in (400, 412):
        out.setdefault(code, {"description": _ERRORS[code], "content": {"application/json": {"model": ErrorResponse}}})
    return out

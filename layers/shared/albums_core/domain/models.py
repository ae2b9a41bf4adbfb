"""Domain models. Plain dataclasses: no boto3, no atproto, no HTTP."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, TypeVar

T = TypeVar("T")


def _known(cls: type[T], data: dict[str, Any]) -> dict[str, Any]:
    names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    return {k: v for k, v in data.items() if k in names}


@dataclass(frozen=True)
class Artist:
    did: str
    handle: str
    display_name: str
    avatar_url: str | None = None
    pds_url: str | None = None
    # The description of the account's app.bsky.actor.profile record, read at login.
    bio: str | None = None
    # ISO 8601 UTC: first indexed, and the artist item's last change (the catalogue sets both).
    created_at: str | None = None
    updated_at: str | None = None

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Artist:
        return cls(**_known(cls, data))


@dataclass(frozen=True)
class Album:
    id: str
    artist_did: str
    slug: str
    title: str
    description: str | None = None
    image_id: str | None = None
    image_url: str | None = None
    thumbnail_url: str | None = None
    list_uri: str | None = None
    list_cid: str | None = None
    created_at: str = ""
    updated_at: str = ""
    track_count: int = 0
    total_plays: int = 0
    # Record URIs in the order last seen in the album's list record.
    track_order: list[str] = field(default_factory=list)
    # Mutations of the album so far (its If-Match version); 0 on an item from before versions.
    version: int = 0

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Album:
        return cls(**_known(cls, data))


@dataclass(frozen=True)
class Track:
    id: int
    title: str
    artist_did: str
    file_id: str
    file_type: str
    created_at: str
    r2_url: str | None = None
    duration: int | None = None
    features: list[Any] = field(default_factory=list)
    album_id: str | None = None
    record_uri: str | None = None
    record_cid: str | None = None
    play_count: int = 0
    like_count: int = 0
    comment_count: int = 0
    tags: list[str] = field(default_factory=list)
    image_id: str | None = None
    image_url: str | None = None
    thumbnail_url: str | None = None
    description: str | None = None
    support_gate: dict[str, Any] | None = None
    audio_storage: str | None = None
    pds_blob_cid: str | None = None
    original_file_id: str | None = None
    original_file_type: str | None = None

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Track:
        return cls(**_known(cls, data))


def pick_images(
    image_url: str | None, thumbnail_url: str | None, fallback: str | None
) -> tuple[str | None, str | None]:
    """Image fallback everywhere: own image, else the artist's avatar, else nothing."""
    if image_url:
        return image_url, thumbnail_url or image_url
    return fallback, fallback


@dataclass
class TokenAccount:
    """An account's developer tokens: each one's `prefix`, `name`, `created_at` and `hash` (the
    SHA-256 of its text); the texts sealed together (a JSON object by prefix); last uses."""

    did: str
    version: int = 0
    tokens: list[dict[str, Any]] = field(default_factory=list)
    sealed: dict[str, bytes] | None = None
    last_used: dict[str, int] = field(default_factory=dict)

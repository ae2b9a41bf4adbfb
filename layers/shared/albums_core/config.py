"""Settings read from the function's environment once per container."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def _same_site(value: str) -> str:
    """Lax, Strict or None whatever the case; anything else is a deployment error, told at once."""
    for known in ("Lax", "Strict", "None"):
        if value.strip().lower() == known.lower():
            return known
    raise ValueError(f"SESSION_COOKIE_SAMESITE must be Lax, Strict or None, not {value!r}")


@dataclass(frozen=True)
class Settings:
    catalogue_table: str
    cache_table: str
    sessions_table: str
    cache_ttl_seconds: int
    covers_base_url: str
    cursor_key_parameter: str
    # Local runtime and tests only: lets the PDS client reach http:// on loopback addresses.
    allow_loopback_pds: bool
    pds_timeout_seconds: float
    pds_write_timeout_seconds: float
    plc_url: str
    handle_resolver_url: str
    kms_key_id: str
    session_ttl_seconds: int
    local_mode: bool
    # The session cookie's SameSite (Lax, Strict or None) and Domain ("" for the API's host).
    session_cookie_samesite: str
    session_cookie_domain: str
    covers_bucket: str
    dead_letter_queue_url: str
    resync_after_seconds: int


@lru_cache(maxsize=1)
def settings() -> Settings:
    env = os.environ
    return Settings(
        catalogue_table=env.get("CATALOGUE_TABLE", "catalogue"),
        cache_table=env.get("CACHE_TABLE", "cache"),
        sessions_table=env.get("SESSIONS_TABLE", "sessions"),
        cache_ttl_seconds=int(env.get("CACHE_TTL_SECONDS", "300")),
        covers_base_url=env.get("COVERS_BASE_URL", "").rstrip("/"),
        cursor_key_parameter=env.get("CURSOR_KEY_PARAMETER", "/albums/cursor-signing-key"),
        allow_loopback_pds=_flag("ALBUMS_ALLOW_LOOPBACK_PDS"),
        pds_timeout_seconds=float(env.get("PDS_TIMEOUT_SECONDS", "1.5")),
        pds_write_timeout_seconds=float(env.get("PDS_WRITE_TIMEOUT_SECONDS", "8")),
        plc_url=env.get("PLC_URL", "https://plc.directory").rstrip("/"),
        handle_resolver_url=env.get("HANDLE_RESOLVER_URL", "https://public.api.bsky.app").rstrip("/"),
        kms_key_id=env.get("SESSIONS_KMS_KEY_ID", ""),
        session_ttl_seconds=int(env.get("SESSION_TTL_SECONDS", str(14 * 24 * 3600))),
        local_mode=_flag("ALBUMS_LOCAL_MODE"),
        session_cookie_samesite=_same_site(env.get("SESSION_COOKIE_SAMESITE", "Lax")),
        session_cookie_domain=env.get("SESSION_COOKIE_DOMAIN", "").strip(),
        covers_bucket=env.get("COVERS_BUCKET", ""),
        dead_letter_queue_url=env.get("DEAD_LETTER_QUEUE_URL", ""),
        resync_after_seconds=int(env.get("RESYNC_AFTER_SECONDS", str(24 * 3600))),
    )

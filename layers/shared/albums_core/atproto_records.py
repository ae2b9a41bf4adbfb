"""Reading public ATProto records (no SDK on the read path: stdlib HTTP, light parsing)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from albums_core.config import settings
from albums_core.observability import logger
from albums_core.safe_http import FetchError, get_json

LIST_COLLECTION = "fm.plyr.list"
TRACK_COLLECTION = "fm.plyr.track"
_MAX_RECORD_BYTES = 1_000_000
_DID = re.compile(r"^did:[a-z]+:[a-zA-Z0-9._:%-]{1,2000}$")
_NSID = re.compile(r"^[a-zA-Z][a-zA-Z0-9-]*(\.[a-zA-Z0-9-]+){2,}$")
_RKEY = re.compile(r"^[a-zA-Z0-9._:~-]{1,512}$")


@dataclass(frozen=True)
class AtUri:
    repo: str
    collection: str
    rkey: str

    @classmethod
    def parse(cls, uri: str) -> AtUri | None:
        if not isinstance(uri, str) or not uri.startswith("at://"):
            return None
        parts = uri[5:].split("/")
        if len(parts) != 3:
            return None
        repo, collection, rkey = parts
        if not _DID.match(repo) or not _NSID.match(collection) or not _RKEY.match(rkey) or rkey in {".", ".."}:
            return None
        return cls(repo, collection, rkey)


def get_record_url(pds_url: str, uri: AtUri) -> str:
    query = urlencode({"repo": uri.repo, "collection": uri.collection, "rkey": uri.rkey})
    return f"{pds_url.rstrip('/')}/xrpc/com.atproto.repo.getRecord?{query}"


def record_url(pds_url: str | None, record_uri: str | None) -> str | None:
    """The public getRecord URL of a record, for `atproto_record_url`."""
    uri = AtUri.parse(record_uri or "")
    if not pds_url or uri is None:
        return None
    return get_record_url(pds_url, uri)


def list_item_uris(record: Any) -> list[str]:
    """Subject URIs of a list record's items, in order, each once; malformed items skipped."""
    value = record.get("value") if isinstance(record, dict) else None
    items = value.get("items") if isinstance(value, dict) else None
    if not isinstance(items, list):
        return []
    seen: set[str] = set()
    uris: list[str] = []
    for item in items:
        subject = item.get("subject") if isinstance(item, dict) else None
        uri = subject.get("uri") if isinstance(subject, dict) else None
        if isinstance(uri, str) and uri not in seen:
            seen.add(uri)
            uris.append(uri)
    return uris


def fetch_list_order(pds_url: str | None, list_uri: str | None) -> list[str] | None:
    """Track URIs in the order of the album's list record, or None when it cannot be had
    (no PDS, refused URL, slow or failing server, not a list record)."""
    uri = AtUri.parse(list_uri or "")
    if not pds_url or uri is None or uri.collection != LIST_COLLECTION:
        return None
    cfg = settings()
    try:
        record = get_json(
            get_record_url(pds_url, uri),
            timeout=cfg.pds_timeout_seconds,
            max_bytes=_MAX_RECORD_BYTES,
            allow_loopback=cfg.allow_loopback_pds,
        )
    except FetchError as exc:
        logger.info("list record unavailable, using the last known order", extra={"reason": str(exc)})
        return None
    if not isinstance(record, dict) or not isinstance(record.get("value"), dict):
        return None
    return list_item_uris(record)

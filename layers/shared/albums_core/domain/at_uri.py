"""AT-URIs of records and the public URL of a record (pure)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

LIST_COLLECTION = "fm.plyr.list"
TRACK_COLLECTION = "fm.plyr.track"
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

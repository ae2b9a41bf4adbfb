"""Reading public ATProto records (no SDK on the read path: stdlib HTTP, light parsing)."""

from __future__ import annotations

from albums_core.adapters.atproto.safe_http import FetchError, get_json
from albums_core.config import settings
from albums_core.domain.at_uri import LIST_COLLECTION, AtUri, get_record_url, list_item_uris
from albums_core.observability import logger

_MAX_RECORD_BYTES = 1_000_000


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

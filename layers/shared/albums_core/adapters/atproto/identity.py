"""Who an identifier is and where their repository lives: handle -> DID -> DID document ->
PDS endpoint. Every URL comes from data others control, so every call goes through the
network guard."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from albums_core.adapters.atproto.safe_http import FetchError, RefusedUrl, get_json
from albums_core.adapters.atproto.xrpc import PdsUnavailable, XrpcError, call
from albums_core.config import settings
from albums_core.domain.handles import normalize_handle

_DID_PLC = re.compile(r"^did:plc:[a-z2-7]{24}$")
_DID_WEB = re.compile(r"^did:web:[a-zA-Z0-9.-]{1,253}$")
_MAX_DOC = 100_000


class UnknownIdentity(Exception):
    """The identifier names no account we can find."""


@dataclass(frozen=True)
class Identity:
    did: str
    handle: str  # verified both ways, or the DID itself when there is no such handle
    pds_url: str


def is_did(value: str) -> bool:
    return bool(_DID_PLC.match(value) or _DID_WEB.match(value))


def resolve_handle(handle: str) -> str:
    try:
        out = call(
            settings().handle_resolver_url,
            "GET",
            "com.atproto.identity.resolveHandle",
            params={"handle": handle},
            timeout=settings().pds_timeout_seconds * 2,
        )
    except XrpcError as exc:
        raise UnknownIdentity(handle) from exc
    did = out.get("did") if isinstance(out, dict) else None
    if not isinstance(did, str) or not is_did(did):
        raise UnknownIdentity(handle)
    return did


def did_document(did: str) -> dict[str, Any]:
    cfg = settings()
    if _DID_PLC.match(did):
        url = f"{cfg.plc_url}/{quote(did)}"
    elif _DID_WEB.match(did):
        url = f"https://{did.removeprefix('did:web:')}/.well-known/did.json"
    else:
        raise UnknownIdentity(did)
    try:
        doc = get_json(
            url, timeout=cfg.pds_timeout_seconds * 2, max_bytes=_MAX_DOC, allow_loopback=cfg.allow_loopback_pds
        )
    except FetchError as exc:
        if isinstance(exc, RefusedUrl) and did.startswith("did:web:"):  # no such host, or one we may not fetch
            raise UnknownIdentity(did) from exc
        if "status 404" in str(exc) or "status 410" in str(exc):
            raise UnknownIdentity(did) from exc
        raise PdsUnavailable(f"DID document: {exc}") from exc
    if not isinstance(doc, dict) or doc.get("id") != did:
        raise UnknownIdentity(did)
    return doc


def pds_endpoint(doc: dict[str, Any]) -> str | None:
    for service in doc.get("service") or []:
        if (
            isinstance(service, dict)
            and str(service.get("id", "")).endswith("#atproto_pds")
            and service.get("type") == "AtprotoPersonalDataServer"
        ):
            endpoint = service.get("serviceEndpoint")
            if isinstance(endpoint, str) and endpoint.startswith(("https://", "http://")):
                return endpoint.rstrip("/")
    return None


def declared_handle(doc: dict[str, Any]) -> str | None:
    for aka in doc.get("alsoKnownAs") or []:
        if isinstance(aka, str) and aka.startswith("at://"):
            return normalize_handle(aka[5:])
    return None


def verified_handle(did: str, doc: dict[str, Any]) -> str | None:
    """The handle the DID document claims, when it also resolves back to this DID; else None.
    A document is written by whoever controls the DID, so its claim alone proves nothing: only
    handle resolution (DNS or the handle's well-known, here via the configured resolver) says
    who owns the name. Resolver outages propagate as PdsUnavailable rather than dropping a
    legitimate owner's handle."""
    claimed = declared_handle(doc)
    if claimed is None:
        return None
    try:
        owner = resolve_handle(claimed)
    except UnknownIdentity:
        return None
    return claimed if owner == did else None


def resolve(identifier: str) -> Identity:
    """A handle or a DID to its identity. The handle is trusted only when it resolves to the
    DID and the DID document claims it back (bidirectional check), whichever was given;
    otherwise the identity carries its DID in place of a handle."""
    raw = identifier.strip()
    if raw.startswith("did:"):
        did = raw
        doc = did_document(did)
        handle = verified_handle(did, doc)
    else:
        handle = normalize_handle(raw)
        if handle is None:
            raise UnknownIdentity(raw)
        did = resolve_handle(handle)
        doc = did_document(did)
        if declared_handle(doc) != handle:
            raise UnknownIdentity(raw)
    pds_url = pds_endpoint(doc)
    if pds_url is None:
        raise UnknownIdentity(did)
    return Identity(did=did, handle=handle or did, pds_url=pds_url)

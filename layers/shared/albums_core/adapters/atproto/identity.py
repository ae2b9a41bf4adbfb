"""Who an identifier is and where their repository lives, as the ATProto specs define it:
handle -> DID (DNS TXT `_atproto.<handle>`, then HTTPS `https://<handle>/.well-known/atproto-did`)
-> DID document (did:plc from the PLC directory, did:web from its host) -> PDS endpoint, and
the handle trusted only when it resolves back to the DID claiming it.

No central resolver: in production no third party is asked who a handle is. A development
network's `.test` handles have no DNS; in local mode only, they are asked of the local PDS
(HANDLE_RESOLVER_URL). Every URL built from data others control (a handle, a did:web host, a
document's PDS endpoint) is fetched through the network guard (safe_http); the SDK's resolvers
fetch with their own unguarded HTTP client, so its syntax and document model are used and the
fetching is ours. Answers are kept per container for IDENTITY_CACHE_SECONDS; `resolve(...,
fresh=True)` asks again (a login, an #identity event)."""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar, cast
from urllib.parse import quote

from albums_core.adapters.atproto import syntax
from albums_core.adapters.atproto.errors import IdentityUnavailable, PdsUnavailable, UnknownIdentity, XrpcError
from albums_core.adapters.atproto.safe_http import FetchError, RefusedUrl, get_json, request
from albums_core.adapters.atproto.xrpc import call
from albums_core.config import settings
from albums_core.domain.handles import normalize_handle
from albums_core.domain.upstream import Identity

_MAX_DOC = 100_000
_MAX_WELL_KNOWN = 2_048
# Reserved names that never resolve (the handle spec's disallowed TLDs); `.test` only in local mode.
_NEVER = (".alt", ".arpa", ".example", ".internal", ".invalid", ".local", ".localhost", ".onion")


# ---- the container's cache -------------------------------------------------------------------

T = TypeVar("T")
_cache: dict[str, tuple[float, Any]] = {}
_cache_lock = threading.Lock()
_fresh: contextvars.ContextVar[bool] = contextvars.ContextVar("identity_fresh", default=False)
_CACHE_MAX = 10_000


def _cached(key: str, compute: Callable[[], T]) -> T:
    """`compute()`, kept for the configured time. Failures are not kept: an outage is not a
    verdict, and a name that resolves to no one may be registered a second later."""
    now = time.monotonic()
    if not _fresh.get():
        with _cache_lock:
            hit = _cache.get(key)
        if hit is not None and hit[0] > now:
            return cast(T, hit[1])
    value = compute()
    ttl = settings().identity_cache_seconds
    if ttl > 0:
        with _cache_lock:
            if len(_cache) >= _CACHE_MAX:
                _cache.clear()
            _cache[key] = (now + ttl, value)
    return value


def forget(*identifiers: str) -> None:
    """Drop what the container knows about these handles or DIDs (an #identity event)."""
    with _cache_lock:
        for ident in identifiers:
            _cache.pop(f"handle:{ident.lower()}", None)
            _cache.pop(f"doc:{ident}", None)


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()


@contextmanager
def _asking_again(fresh: bool) -> Iterator[None]:
    token = _fresh.set(fresh or _fresh.get())
    try:
        yield
    finally:
        _fresh.reset(token)


# ---- handle -> DID ---------------------------------------------------------------------------


def is_did(value: str) -> bool:
    """A DID of a method we resolve (plc, web), valid by the SDK's syntax."""
    return syntax.is_supported_did(value)


def _dns_did(handle: str) -> str | None:
    """The DID of `_atproto.<handle>`'s TXT records (`did=<did>`); None when there is none.
    Several different DIDs are no answer (the spec's rule). DNS failures raise PdsUnavailable."""
    import dns.exception
    import dns.resolver

    cfg = settings()
    servers = [s.strip() for s in cfg.handle_dns_nameservers.split(",") if s.strip()]
    # The system's resolver; HANDLE_DNS_NAMESERVERS ("host:port,...") for tests.
    resolver = dns.resolver.Resolver(configure=not servers)
    if servers:
        resolver.nameservers = [s.rpartition(":")[0] or s for s in servers]
        resolver.port = int(servers[0].rpartition(":")[2]) if ":" in servers[0] else 53
    resolver.lifetime = cfg.pds_timeout_seconds * 2
    try:
        answer = resolver.resolve(f"_atproto.{handle}", "TXT", search=False)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return None
    except (dns.exception.DNSException, OSError) as exc:  # timeout, no nameserver answered
        raise IdentityUnavailable(f"DNS: {type(exc).__name__}") from exc
    found = set()
    for rdata in answer:
        text = b"".join(rdata.strings).decode("utf-8", "replace")
        if text.startswith("did="):
            found.add(text[4:].strip())
    if len(found) != 1:
        return None
    return found.pop()


def well_known_url(handle: str) -> str:
    return f"https://{handle}/.well-known/atproto-did"


def _https_did(handle: str) -> str | None:
    """The first line of the handle's `/.well-known/atproto-did`, fetched through the guard."""
    cfg = settings()
    try:
        reply = request(
            "GET",
            well_known_url(handle),
            timeout=cfg.pds_timeout_seconds * 2,
            max_bytes=_MAX_WELL_KNOWN,
            allow_loopback=cfg.allow_loopback_pds,
            headers={"Accept": "text/plain"},
        )
    except FetchError:
        return None  # no such host, a refused address, no answer in time: not this handle's DID
    if reply.status != 200:
        return None
    lines = reply.raw.decode("utf-8", "replace").strip().splitlines()
    return lines[0].strip() if lines else None


def _local_did(handle: str) -> str | None:
    """A development network's handle, asked of its PDS (local mode only)."""
    try:
        out = call(
            settings().handle_resolver_url,
            "GET",
            "com.atproto.identity.resolveHandle",
            params={"handle": handle},
            timeout=settings().pds_timeout_seconds * 2,
        )
    except XrpcError:
        return None
    did = out.get("did") if isinstance(out, dict) else None
    return did if isinstance(did, str) else None


def _resolve_handle(handle: str) -> str:
    cfg = settings()
    if handle.endswith(_NEVER):
        raise UnknownIdentity(handle)
    if handle.endswith(".test"):
        if not (cfg.local_mode and cfg.handle_resolver_url):
            raise UnknownIdentity(handle)
        did = _local_did(handle)
    else:
        try:
            did = _dns_did(handle)
        except PdsUnavailable:
            # DNS did not answer: the well-known may; if it does not either, no verdict.
            did = _https_did(handle)
            if did is None:
                raise
        else:
            did = did or _https_did(handle)
    if did is None or not is_did(did):
        raise UnknownIdentity(handle)
    return did


def resolve_handle(handle: str) -> str:
    """The DID a (normalised) handle names. UnknownIdentity when it names none; PdsUnavailable
    when it could not be found out (DNS or the local resolver down)."""
    return _cached(f"handle:{handle}", lambda: _resolve_handle(handle))


# ---- DID -> document -------------------------------------------------------------------------


def _did_document(did: str) -> dict[str, Any]:
    cfg = settings()
    if did.startswith("did:plc:"):
        url = f"{cfg.plc_url}/{quote(did)}"
    elif did.startswith("did:web:"):
        # did:web of a host (no path, no port): its document at the host's well-known path.
        url = f"https://{did.removeprefix('did:web:')}/.well-known/did.json"
    else:
        raise UnknownIdentity(did)
    try:
        doc = get_json(
            url, timeout=cfg.pds_timeout_seconds * 2, max_bytes=_MAX_DOC, allow_loopback=cfg.allow_loopback_pds
        )
    except FetchError as exc:
        # A refused URL (a did:web host on a private address) is a verdict, not an outage.
        if isinstance(exc, RefusedUrl) or "status 404" in str(exc) or "status 410" in str(exc):
            raise UnknownIdentity(did) from exc
        raise IdentityUnavailable(f"DID document: {exc}") from exc
    if not syntax.is_did_document(doc, did):
        raise UnknownIdentity(did)
    return dict(doc)


def did_document(did: str) -> dict[str, Any]:
    if not is_did(did):
        raise UnknownIdentity(did)
    return _cached(f"doc:{did}", lambda: _did_document(did))


def pds_endpoint(doc: dict[str, Any]) -> str | None:
    endpoint = syntax.pds_endpoint(doc)
    if endpoint and endpoint.startswith(("https://", "http://")):
        return endpoint.rstrip("/")
    return None


def declared_handle(doc: dict[str, Any]) -> str | None:
    claimed = syntax.document_handle(doc)
    return normalize_handle(claimed) if claimed else None


def verified_handle(did: str, doc: dict[str, Any]) -> str | None:
    """The handle the DID document claims, when it also resolves back to this DID; else None.
    A document is written by whoever controls the DID, so its claim alone proves nothing: only
    handle resolution (DNS or the handle's well-known) says who owns the name. Resolution
    outages propagate as PdsUnavailable rather than dropping a legitimate owner's handle."""
    claimed = declared_handle(doc)
    if claimed is None:
        return None
    try:
        owner = resolve_handle(claimed)
    except UnknownIdentity:
        return None
    return claimed if owner == did else None


def signing_key(did: str, *, fresh: bool = False) -> str | None:
    """The DID's current repository signing key (a `did:key`), from its document as the
    container holds it; `fresh` reads the document again (after a key rotation). None when the
    document names no key. UnknownIdentity, IdentityUnavailable as `did_document`."""
    with _asking_again(fresh):
        doc = did_document(did)
    return syntax.signing_key(doc)


def resolve(identifier: str, *, fresh: bool = False) -> Identity:
    """A handle or a DID to its identity. The handle is trusted only when it resolves to the
    DID and the DID document claims it back (bidirectional check), whichever was given;
    otherwise the identity carries its DID in place of a handle. `fresh` asks everything again
    instead of using what the container knows."""
    raw = identifier.strip()
    with _asking_again(fresh):
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

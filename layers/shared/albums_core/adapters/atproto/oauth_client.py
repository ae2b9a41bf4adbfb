"""The ATProto OAuth client: PAR with PKCE (S256) and DPoP, the code exchange, refresh and
revocation, through the PyPI `atproto-oauth` library (pinned: this module uses a few of its
internals, named where used).

Production is a confidential client (`private_key_jwt`, ES256) whose metadata document and
JWKS the API serves; its keys are in an SSM SecureString (`OAUTH_KEY_PARAMETER`, JSON
`{"keys": [private JWK, ...]}`: the first signs, all are published, so a key is rotated by
publishing a new one, making it the signing one once every container has read it, and
dropping the old one later: tools/oauth_key.py). In local mode the client is the
loopback development client (no key), and only there are the library's https/loopback/issuer
checks relaxed: the local PDS is `http://localhost:<port>`.

Identity lookups the library makes (DID -> PDS, also its re-verification after the token
exchange) go through `albums_core.adapters.atproto.identity`: the network guard and the configured PLC.
The library's stores are adapters here: the state is sealed in DynamoDB (oauth_store), and the
session it hands back is persisted by the caller under our own session id.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import secrets
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlencode, urlsplit

from albums_core.adapters.atproto import identity
from albums_core.config import require, settings
from albums_core.domain.sessions import Grant
from albums_core.domain.upstream import (
    AuthServerUnavailable,
    GrantRevoked,
    NoAuthServer,
    OAuthFailure,
    UntrustedEndpoint,
)

if TYPE_CHECKING:
    from atproto_oauth import OAuthClient, OAuthSession
    from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePrivateKey

T = TypeVar("T")
_LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")


class _EndpointRefused(ValueError):
    """Raised inside the library's metadata validation (which wraps it as its own error)."""


def _pem(key: EllipticCurvePrivateKey) -> str:
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")


def _load_pem(pem: str) -> EllipticCurvePrivateKey:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = serialization.load_pem_private_key(pem.encode("ascii"), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError("not an EC key")
    return key


# --- client identity -------------------------------------------------------------------


@dataclass(frozen=True)
class ClientIdentity:
    client_id: str
    redirect_uri: str


def public_base(request_base: str = "") -> str:
    """The API's public base URL (stage included): PUBLIC_API_URL when the template sets one
    (a custom domain), else the one the request came in on."""
    base = settings().public_api_url or request_base.rstrip("/")
    if not base:
        raise RuntimeError("the API's public URL is unknown: set PUBLIC_API_URL")
    return base


def client_identity(request_base: str = "") -> ClientIdentity:
    cfg = settings()
    base = public_base(request_base)
    redirect = f"{base}/auth/callback"
    if cfg.local_mode:
        loopback = "http://localhost?" + urlencode({"redirect_uri": redirect, "scope": cfg.oauth_scope})
        return ClientIdentity(loopback, redirect)
    return ClientIdentity(f"{base}/oauth-client-metadata.json", redirect)


def _b64url_int(raw: str) -> int:
    return int.from_bytes(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)), "big")


# Keys are read again after this long: a rotation reaches warm containers without a deploy.
KEYS_TTL_SECONDS = 300
_KEYS: dict[str, Any] = {}


def client_keys() -> tuple[tuple[str, Any, dict[str, str]], ...]:
    """(kid, private key, public JWK) of every configured client key, the signing one first."""
    if _KEYS and time.monotonic() - _KEYS["at"] < KEYS_TTL_SECONDS:
        return tuple(_KEYS["keys"])
    keys = _read_client_keys()
    _KEYS.update(at=time.monotonic(), keys=keys)
    return keys


def clear_client_keys() -> None:
    _KEYS.clear()


def _read_client_keys() -> tuple[tuple[str, Any, dict[str, str]], ...]:
    from cryptography.hazmat.primitives.asymmetric import ec

    from albums_core.adapters.aws_clients import client as aws_client

    (name,) = require("OAUTH_KEY_PARAMETER")
    raw = aws_client("ssm").get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
    keys = []
    for jwk in json.loads(raw)["keys"]:
        if jwk.get("kty") != "EC" or jwk.get("crv") != "P-256" or not jwk.get("kid") or not jwk.get("d"):
            raise ValueError("OAuth client keys must be P-256 EC private JWKs with a kid")
        private = ec.derive_private_key(_b64url_int(jwk["d"]), ec.SECP256R1())
        public = {k: jwk[k] for k in ("kty", "crv", "x", "y", "kid")}
        keys.append((str(jwk["kid"]), private, {**public, "use": "sig", "alg": "ES256"}))
    if not keys:
        raise ValueError("no OAuth client key configured")
    return tuple(keys)


def jwks() -> dict[str, Any]:
    if settings().local_mode and not _has_key_parameter():
        return {"keys": []}
    return {"keys": [public for _, _, public in client_keys()]}


def _has_key_parameter() -> bool:
    import os

    return bool(os.environ.get("OAUTH_KEY_PARAMETER", "").strip())


def client_metadata(request_base: str = "") -> dict[str, Any]:
    """The client metadata document of the production (confidential) client."""
    cfg = settings()
    base = public_base(request_base)
    return {
        "client_id": f"{base}/oauth-client-metadata.json",
        "client_name": "albums",
        "client_uri": cfg.frontend_url or base,
        "redirect_uris": [f"{base}/auth/callback"],
        "scope": cfg.oauth_scope,
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "application_type": "web",
        "token_endpoint_auth_method": "private_key_jwt",
        "token_endpoint_auth_signing_alg": "ES256",
        "jwks_uri": f"{base}/.well-known/jwks.json",
        "dpop_bound_access_tokens": True,
    }


# --- the library, configured ---------------------------------------------------------------

# Every URL of the metadata we send a request or a browser to.
_ENDPOINTS = (
    "authorization_endpoint",
    "pushed_authorization_request_endpoint",
    "token_endpoint",
    "revocation_endpoint",
)


def _origin(url: str, local: bool) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an https URL (http on loopback in local mode) without
    credentials or fragment, or None."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    loopback = local and parts.scheme == "http" and host in _LOOPBACK_HOSTS
    if not host or (parts.scheme != "https" and not loopback) or parts.username or parts.password or parts.fragment:
        return None
    return parts.scheme, host, port or (443 if parts.scheme == "https" else 80)


def check_endpoints(metadata: dict[str, Any], local: bool) -> None:
    """The metadata's endpoints are the issuer's own: a server anyone can run (any PDS may name
    itself its authorization server) must not send the browser to a phishing page or a
    `javascript:` URL, nor have us post codes and tokens elsewhere. Raises _EndpointRefused
    naming the field (never the URL: it is the server's text)."""
    issuer = _origin(str(metadata.get("issuer", "")), local)
    for name in _ENDPOINTS:
        value = metadata.get(name)
        if value is None and name == "revocation_endpoint":
            continue  # optional: the library skips revocation without it
        if not isinstance(value, str) or issuer is None or _origin(value, local) != issuer:
            raise _EndpointRefused(f"the authorization server's {name} is not an https URL on its own origin")


def _endpoint_checked(validate: Any, local: bool) -> Any:
    def checked(metadata: dict[str, Any], fetch_url: str) -> None:
        validate(metadata, fetch_url)
        check_endpoints(metadata, local)

    return checked


_ORIGINALS: dict[str, Any] = {}


def _library_mode(local: bool) -> None:
    """The library's URL and issuer checks as they are (production), or relaxed for loopback
    http (local mode only): http://localhost issuers with a port, loopback PDS URLs."""
    from atproto_oauth import client as lib_client
    from atproto_oauth import metadata as lib_metadata
    from atproto_oauth import security

    if not _ORIGINALS:
        _ORIGINALS.update(
            is_safe_url=security.is_safe_url,
            hardened=security.get_hardened_async_client,
            validate=security.validate_authserver_metadata,
        )
    is_safe, validate = _ORIGINALS["is_safe_url"], _ORIGINALS["validate"]
    hardened = _address_checked_client
    if local:

        def relaxed_is_safe(url: str, allow_localhost: bool = False) -> bool:
            return bool(is_safe(url, allow_localhost=True))

        def relaxed_hardened(*args: Any, **kwargs: Any) -> Any:
            return hardened(*args, **{**kwargs, "allow_localhost": True})

        def relaxed_validate(metadata: dict[str, Any], fetch_url: str) -> None:
            issuer = urlsplit(str(metadata.get("issuer", "")))
            if issuer.scheme == "http" and issuer.hostname in _LOOPBACK_HOSTS:
                # judged as the same server on https without its port: every other rule applies
                metadata = {**metadata, "issuer": f"https://{issuer.hostname}"}
                fetched = urlsplit(fetch_url)
                fetch_url = f"https://{fetched.hostname}{fetched.path}"
            validate(metadata, fetch_url)

        patched: dict[str, Any] = {"is_safe_url": relaxed_is_safe, "get_hardened_async_client": relaxed_hardened}
        lib_metadata.validate_authserver_metadata = _endpoint_checked(relaxed_validate, local=True)
    else:
        patched = {"is_safe_url": is_safe, "get_hardened_async_client": hardened}
        lib_metadata.validate_authserver_metadata = _endpoint_checked(validate, local=False)
    for module in (lib_client, lib_metadata):
        for name, value in patched.items():
            setattr(module, name, value)


def _address_checked_client(
    timeout: float | None = None, max_redirects: int | None = None, allow_localhost: bool = False
) -> Any:
    """The library's hardened client, whose check reads the URL only (a host name that resolves
    to a private or loopback address passes it), with each new connection's host resolved once,
    every address checked as the project's own fetches are (safe_http), and the connection made
    to the checked address: httpx never resolves the name again (no DNS-rebinding window
    between the check and the connect). TLS still verifies the certificate for the name."""
    import httpcore
    import httpx
    from atproto_oauth import security

    from albums_core.adapters.atproto.safe_http import FetchError, RefusedUrl, resolve_checked

    class PinnedBackend(httpcore.AsyncNetworkBackend):
        def __init__(self) -> None:
            self._inner = httpcore.AnyIOBackend()

        async def connect_tcp(
            self,
            host: str,
            port: int,
            timeout: float | None = None,
            local_address: str | None = None,
            socket_options: Any = None,
        ) -> httpcore.AsyncNetworkStream:
            try:
                address = await asyncio.to_thread(resolve_checked, host, port, allow_localhost)
            except RefusedUrl as exc:
                raise security.UnsafeUrlError(f"refusing to connect to {host}: {exc}") from exc
            except FetchError as exc:  # the name could not be looked up now: a network failure
                raise httpcore.ConnectError(str(exc)) from exc
            return await self._inner.connect_tcp(address, port, timeout, local_address, socket_options)

        async def connect_unix_socket(
            self, path: str, timeout: float | None = None, socket_options: Any = None
        ) -> httpcore.AsyncNetworkStream:
            raise security.UnsafeUrlError("no unix sockets")

        async def sleep(self, seconds: float) -> None:
            await self._inner.sleep(seconds)

    class Pinned(httpx.AsyncHTTPTransport):
        def __init__(self) -> None:
            limits = httpx.Limits(max_connections=10, max_keepalive_connections=5)
            super().__init__(limits=limits)
            # httpx (pinned) builds its httpcore pool without a way to pass a network backend:
            # the same pool, with ours.
            self._pool = httpcore.AsyncConnectionPool(
                ssl_context=httpx.create_ssl_context(),
                max_connections=limits.max_connections,
                max_keepalive_connections=limits.max_keepalive_connections,
                keepalive_expiry=limits.keepalive_expiry,
                network_backend=PinnedBackend(),
            )

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            # Every hop, redirects included: the URL's own rules (scheme, literal addresses).
            if not security.is_safe_url(str(request.url), allow_localhost):
                raise security.UnsafeUrlError(f"refusing request to {request.url}")
            return await super().handle_async_request(request)

    return httpx.AsyncClient(
        timeout=security.DEFAULT_TIMEOUT if timeout is None else timeout,
        follow_redirects=True,
        max_redirects=security.MAX_REDIRECTS if max_redirects is None else max_redirects,
        transport=Pinned(),
    )


class _Resolver:
    """What OAuthClient asks of its identity resolver, answered by albums_core.adapters.atproto.identity."""

    def __init__(self) -> None:
        self.did = self
        self.handle = self

    async def resolve(self, handle: str) -> str | None:
        try:
            return identity.resolve_handle(handle)
        except identity.UnknownIdentity:
            return None

    async def resolve_atproto_data(self, did: str, force_refresh: bool = False) -> SimpleNamespace:
        doc = identity.did_document(did)
        return SimpleNamespace(pds=identity.pds_endpoint(doc), handle=identity.declared_handle(doc))


def _sessions_sink() -> Any:
    from atproto_oauth.stores.base import SessionStore

    class Sink(SessionStore):
        """The library saves its session here; the caller persists it under our session id."""

        async def save_session(self, session: OAuthSession) -> None:
            return None

        async def get_session(self, did: str) -> OAuthSession | None:
            return None

        async def delete_session(self, did: str) -> None:
            return None

    return Sink()


def make_client(identity_: ClientIdentity, scope: str | None = None) -> OAuthClient:
    """The library's client as this deployment is: the loopback client in local mode, else the
    confidential one (the signing key from SSM)."""
    from atproto_oauth import OAuthClient

    from albums_core.adapters.dynamodb.oauth_store import StateStore

    cfg = settings()
    _library_mode(cfg.local_mode)
    key = kid = None
    if not identity_.client_id.startswith("http://localhost"):
        kid, key, _ = client_keys()[0]
    client = OAuthClient(
        client_id=identity_.client_id,
        redirect_uri=identity_.redirect_uri,
        scope=scope or cfg.oauth_scope,
        state_store=StateStore(),
        session_store=_sessions_sink(),
        client_secret_key=key,
        client_secret_kid=kid,
    )
    client._id_resolver = _Resolver()  # library internal: its default resolver is public PLC only
    return client


def _run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def _refused(exc: BaseException) -> NoAuthServer:
    """A start the authorization server cannot serve; UntrustedEndpoint when our endpoint check
    refused its metadata (the library re-raises it as its own error)."""
    cause = exc if isinstance(exc, _EndpointRefused) else exc.__cause__
    if isinstance(cause, _EndpointRefused):
        return UntrustedEndpoint(str(cause))
    return NoAuthServer(str(exc))


def _start_failure(exc: BaseException) -> Exception:
    """What a failed start is: no usable authorization server (refused, absent, not what ATProto
    requires: a 4xx on discovery), or one that could not be reached or failed."""
    import httpx

    if isinstance(exc, httpx.HTTPStatusError) and exc.response.status_code < 500:
        return NoAuthServer(f"status {exc.response.status_code} from {exc.request.url}")
    return AuthServerUnavailable(str(exc))


def _network_errors(*more: type[BaseException]) -> tuple[type[BaseException], ...]:
    """The library's network failures and ours (identity lookups), with `more`."""
    import httpx

    from albums_core.adapters.atproto.xrpc import PdsUnavailable

    return (httpx.HTTPError, PdsUnavailable, *more)


# --- the flow -------------------------------------------------------------------------------


def begin(did: str, request_base: str = "") -> tuple[str, str]:
    """PAR for a known account: its PDS's authorization server, from its DID document.
    (the authorize URL, the state)."""
    from atproto_oauth import OAuthError

    client = make_client(client_identity(request_base))
    try:
        url, state = _run(client.start_authorization(did))
    except (ValueError, OAuthError) as exc:
        raise _refused(exc) from exc
    except _network_errors() as exc:
        raise _start_failure(exc) from exc
    return url, state


def begin_at_pds(pds_url: str, request_base: str = "") -> tuple[str, str]:
    """PAR without an account: the user picks it at the PDS's authorization server. The
    library's start needs a handle, so this uses its PKCE, DPoP and token-request internals.
    (the authorize URL, the state)."""
    from atproto_oauth import OAuthError, OAuthState
    from atproto_oauth import metadata as lib_metadata

    client = make_client(client_identity(request_base))

    async def start() -> tuple[str, str]:
        issuer = (await lib_metadata.discover_authserver_from_pds_async(pds_url)).rstrip("/")
        meta = await lib_metadata.fetch_authserver_metadata_async(issuer)
        verifier, challenge = client._pkce.generate_pair()
        dpop_key = client._dpop.generate_keypair()
        state = secrets.token_urlsafe(32)
        params = {
            "response_type": "code",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "state": state,
            "redirect_uri": client.redirect_uri,
            "scope": client.scope,
        }
        nonce, response = await client._make_token_request(
            token_url=meta.pushed_authorization_request_endpoint,
            params=params,
            dpop_key=dpop_key,
            dpop_nonce="",
            issuer=meta.issuer,
        )
        if response.status_code not in (200, 201):
            raise NoAuthServer(f"PAR refused: {response.status_code}")
        await client.state_store.save_state(
            OAuthState(
                state=state,
                pkce_verifier=verifier,
                redirect_uri=client.redirect_uri,
                scope=client.scope,
                authserver_iss=meta.issuer,
                dpop_private_key=dpop_key,
                dpop_authserver_nonce=nonce,
                pds_url=pds_url,
            )
        )
        query = {"client_id": client.client_id, "request_uri": response.json()["request_uri"]}
        return f"{meta.authorization_endpoint}?{urlencode(query)}", state

    try:
        return _run(start())
    except (ValueError, KeyError, OAuthError) as exc:
        raise _refused(exc) from exc
    except _network_errors() as exc:
        raise _start_failure(exc) from exc


@dataclass(frozen=True)
class Finished:
    did: str
    grant: Grant


def finish(code: str, state: str, iss: str, request_base: str = "") -> Finished:
    """The code exchanged for tokens, with the library's checks: the state (one use), the
    issuer, the DID the flow started for, the granted scope, and the DID -> PDS -> issuer chain."""
    from atproto_oauth import OAuthError, OAuthStateError

    from albums_core.adapters.dynamodb.oauth_store import StateStore

    client = make_client(client_identity(request_base))
    store = client.state_store
    assert isinstance(store, StateStore)
    try:
        session = _run(client.handle_callback(code, state, iss))
    except OAuthStateError as exc:
        # A state expired, used or never issued: the browser is told to start again. A live
        # state that fails a check (the issuer) is a failure.
        raise OAuthFailure("failed" if store.outcome == "ok" else "expired", str(exc)) from exc
    except OAuthError as exc:
        reason = "scope_mismatch" if str(exc).startswith("Scope mismatch") else "failed"
        raise OAuthFailure(reason, str(exc)) from exc
    except _network_errors(ValueError) as exc:
        raise OAuthFailure("failed", str(exc)) from exc
    return Finished(session.did, _grant(session, client.client_id))


def _grant(session: OAuthSession, client_id: str) -> Grant:
    expires = session.expires_at.timestamp() if session.expires_at else None
    return Grant(
        client_id=client_id,
        issuer=session.authserver_iss,
        access_token=session.access_token,
        refresh_token=session.refresh_token,
        dpop_key_pem=_pem(session.dpop_private_key),
        scope=session.scope,
        expires_at=expires,
        as_nonce=session.dpop_authserver_nonce or "",
        pds_nonce=session.dpop_pds_nonce,
    )


def _session(did: str, pds_url: str, grant: Grant) -> OAuthSession:
    from atproto_oauth import OAuthSession

    return OAuthSession(
        did=did,
        handle="",
        pds_url=pds_url,
        authserver_iss=grant.issuer,
        access_token=grant.access_token,
        refresh_token=grant.refresh_token,
        dpop_private_key=_load_pem(grant.dpop_key_pem),
        dpop_authserver_nonce=grant.as_nonce,
        scope=grant.scope,
        dpop_pds_nonce=grant.pds_nonce,
        expires_at=datetime.fromtimestamp(grant.expires_at, UTC) if grant.expires_at else None,
    )


def refresh(did: str, pds_url: str, grant: Grant) -> Grant:
    """New tokens for the grant (the refresh token rotates: the old one is spent)."""
    from atproto_oauth import OAuthError

    client = make_client(ClientIdentity(grant.client_id, ""), scope=grant.scope)
    try:
        session = _run(client.refresh_session(_session(did, pds_url, grant)))
    except OAuthError as exc:
        message = str(exc)
        status = re.match(r"Token refresh failed: (\d{3})", message)
        if status and int(status.group(1)) >= 500:
            raise AuthServerUnavailable(message) from exc
        raise GrantRevoked(message) from exc  # refused (invalid_grant), or the scope shrank
    except _network_errors(ValueError) as exc:
        raise AuthServerUnavailable(str(exc)) from exc
    out = _grant(session, grant.client_id)
    out.pds_nonce = grant.pds_nonce
    return out


def revoke(did: str, pds_url: str, grant: Grant) -> None:
    """Revoke the grant's tokens at the authorization server (best effort, as the library does)."""
    from atproto_oauth import OAuthError

    client = make_client(ClientIdentity(grant.client_id, ""), scope=grant.scope)
    try:
        _run(client.revoke_session(_session(did, pds_url, grant)))
    except _network_errors(OAuthError, ValueError):
        pass


def dpop_proof(method: str, url: str, grant: Grant) -> str:
    from atproto_oauth.dpop import DPoPManager

    return DPoPManager.create_proof(
        method=method.upper(),
        url=url,
        private_key=_load_pem(grant.dpop_key_pem),
        nonce=grant.pds_nonce,
        access_token=grant.access_token,
    )


def token_expiring(grant: Grant, margin: float = 30.0) -> bool:
    return grant.expires_at is not None and grant.expires_at - time.time() < margin

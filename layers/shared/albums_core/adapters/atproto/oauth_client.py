"""The ATProto OAuth client: PAR with PKCE (S256) and DPoP, the code exchange, refresh and
revocation. The flow is ours, built from the public parts of the PyPI `atproto-oauth` library
(its PKCE and DPoP helpers, its models and its metadata requirements): its `OAuthClient` has no
way to take our identity resolver, our address-checked HTTP client or a start without a handle.

Who we are: oauth_keys. The HTTP and the endpoint checks: oauth_http. The authorization
server's endpoints: oauth_server. Identity lookups (DID -> PDS, also the re-verification after
the token exchange) go through `identity` (the network guard and the configured PLC). The state
is sealed in DynamoDB (oauth_store); the grant is persisted by the caller under our session id.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlencode

from albums_core.adapters.atproto import identity
from albums_core.adapters.atproto.errors import (
    AuthServerUnavailable,
    GrantRevoked,
    NoAuthServer,
    OAuthFailure,
    PdsUnavailable,
    UntrustedEndpoint,
)
from albums_core.adapters.atproto.oauth_grant import Grant, dpop_key, dpop_proof, new_dpop_key, pem, token_expiring
from albums_core.adapters.atproto.oauth_keys import (
    ClientIdentity,
    client_identity,
    client_keys,
    client_metadata,
    jwks,
    public_base,
)
from albums_core.config import settings

if TYPE_CHECKING:
    from atproto_oauth import OAuthState

    from albums_core.adapters.atproto.oauth_server import Client

__all__ = [
    "AuthServerUnavailable",
    "ClientIdentity",
    "Finished",
    "Grant",
    "GrantRevoked",
    "NoAuthServer",
    "OAuthFailure",
    "UntrustedEndpoint",
    "begin",
    "begin_at_pds",
    "client_identity",
    "client_metadata",
    "dpop_proof",
    "finish",
    "jwks",
    "make_client",
    "public_base",
    "refresh",
    "revoke",
    "token_expiring",
]

T = TypeVar("T")
_OK = (200, 201)


def make_client(identity_: ClientIdentity, scope: str | None = None) -> Client:
    """This deployment's client: the loopback client in local mode, else the confidential one
    (the signing key from SSM)."""
    from albums_core.adapters.atproto.oauth_server import Client

    cfg = settings()
    kid, key = (None, None) if identity_.loopback else client_keys()[0][:2]
    return Client(identity_.client_id, identity_.redirect_uri, scope or cfg.oauth_scope, cfg.local_mode, kid, key)


def _run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def _network_errors(*more: type[BaseException]) -> tuple[type[BaseException], ...]:
    """The HTTP client's failures and ours (identity lookups), with `more`."""
    import httpx

    return (httpx.HTTPError, PdsUnavailable, *more)


def _start_failure(exc: BaseException) -> Exception:
    """What a failed start is: no usable authorization server (refused, absent, not what ATProto
    requires: a 4xx on discovery), or one that could not be reached or failed."""
    import httpx

    if isinstance(exc, NoAuthServer):
        return exc
    if isinstance(exc, ValueError | KeyError | TypeError):
        return NoAuthServer(str(exc))
    if isinstance(exc, httpx.HTTPStatusError) and exc.response.status_code < 500:
        return NoAuthServer(f"status {exc.response.status_code} from {exc.request.url}")
    return AuthServerUnavailable(str(exc))


# --- the flow -------------------------------------------------------------------------------


def begin(did: str, request_base: str = "") -> tuple[str, str]:
    """PAR for a known account: its PDS's authorization server, from its DID document.
    (the authorize URL, the state)."""
    doc = identity.did_document(did)
    pds_url = identity.pds_endpoint(doc)
    if not pds_url:
        raise NoAuthServer(f"no PDS endpoint in the DID document of {did}")
    handle = identity.declared_handle(doc) or did
    return _start(pds_url, request_base, did=did, handle=handle)


def begin_at_pds(pds_url: str, request_base: str = "") -> tuple[str, str]:
    """PAR without an account: the user picks it at the PDS's authorization server.
    (the authorize URL, the state)."""
    return _start(pds_url, request_base)


def _start(pds_url: str, request_base: str, did: str | None = None, handle: str | None = None) -> tuple[str, str]:
    client = make_client(client_identity(request_base))  # a misconfigured key set is ours: a 500
    try:
        return _run(_par(client, pds_url, did, handle))
    except _network_errors(NoAuthServer, ValueError, KeyError, TypeError) as exc:
        raise _start_failure(exc) from exc


async def _par(client: Client, pds_url: str, did: str | None, handle: str | None) -> tuple[str, str]:
    from atproto_oauth import OAuthState
    from atproto_oauth.pkce import PKCEManager

    from albums_core.adapters.atproto import oauth_http, oauth_server
    from albums_core.adapters.dynamodb.oauth_store import StateStore

    async with oauth_http.address_checked_client(allow_localhost=client.local) as http:
        server = await oauth_server.fetch_metadata(
            http, await oauth_server.discover_issuer(http, pds_url, client.local), client.local
        )
        verifier, challenge = PKCEManager.generate_pair()
        dpop_key, state = new_dpop_key(), secrets.token_urlsafe(32)
        params = {
            "response_type": "code",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "state": state,
            "redirect_uri": client.redirect_uri,
            "scope": client.scope,
            **({"login_hint": did} if did else {}),
        }
        nonce, response = await oauth_server.token_request(
            http, client, server, server.par_endpoint, params, dpop_key, ""
        )
        if response.status_code not in _OK:
            raise NoAuthServer(f"PAR refused: {response.status_code}")
        request_uri = str(response.json()["request_uri"])
    saved = OAuthState(
        state=state,
        pkce_verifier=verifier,
        redirect_uri=client.redirect_uri,
        scope=client.scope,
        authserver_iss=server.issuer,
        dpop_private_key=dpop_key,
        dpop_authserver_nonce=nonce,
        did=did,
        handle=handle,
        pds_url=pds_url,
    )
    await StateStore().save_state(saved)
    url = f"{server.authorization_endpoint}?{urlencode({'client_id': client.client_id, 'request_uri': request_uri})}"
    if not oauth_http.safe_url(url, client.local):
        raise NoAuthServer("unsafe authorization URL")
    return url, state


@dataclass(frozen=True)
class Finished:
    did: str
    grant: Grant


def finish(code: str, state: str, iss: str, request_base: str = "") -> Finished:
    """The code exchanged for tokens, with the checks ATProto asks for: the state (one use), the
    issuer, the DID the flow started for, the granted scope, and the DID -> PDS -> issuer chain
    asked again."""
    from albums_core.adapters.dynamodb.oauth_store import StateStore

    client = make_client(client_identity(request_base))
    store = StateStore()
    saved = _run(store.get_state(state))
    if saved is None:  # expired, used or never issued: the browser is told to start again
        raise OAuthFailure("expired", "invalid or expired state")
    if saved.authserver_iss != iss:
        raise OAuthFailure("failed", f"issuer mismatch: expected {saved.authserver_iss}")
    try:
        return _run(_exchange(client, saved, code))
    except _network_errors(ValueError, KeyError, TypeError, NoAuthServer) as exc:
        raise OAuthFailure("failed", str(exc)) from exc


async def _exchange(client: Client, saved: OAuthState, code: str) -> Finished:
    from albums_core.adapters.atproto import oauth_http, oauth_server

    async with oauth_http.address_checked_client(allow_localhost=client.local) as http:
        server = await oauth_server.fetch_metadata(http, saved.authserver_iss, client.local)
        params = {
            "grant_type": "authorization_code",
            "code": code,
            "code_verifier": saved.pkce_verifier,
            "redirect_uri": client.redirect_uri,
        }
        nonce, response = await oauth_server.token_request(
            http, client, server, server.token_endpoint, params, saved.dpop_private_key, saved.dpop_authserver_nonce
        )
        if response.status_code not in _OK:
            raise OAuthFailure("failed", f"token exchange failed: {response.status_code}")
        tokens = oauth_server.token_fields(response)
        if saved.did is not None and tokens["sub"] != saved.did:
            raise OAuthFailure("failed", "the token names another DID than the flow started for")
        if not oauth_server.scope_covers(client.scope, tokens["scope"]):
            raise OAuthFailure("scope_mismatch", f"Scope mismatch: expected {client.scope}, got {tokens['scope']}")
        did = saved.did or tokens["sub"]
        # The chain as the container knows it (IDENTITY_CACHE_SECONDS), as before this flow was ours.
        pds_url = identity.pds_endpoint(identity.did_document(did))
        if not pds_url or await oauth_server.discover_issuer(http, pds_url, client.local) != saved.authserver_iss:
            raise OAuthFailure("failed", "the DID's PDS does not name the issuer the flow used")
    return Finished(did, _grant(client.client_id, server.issuer, tokens, pem(saved.dpop_private_key), nonce))


def _grant(client_id: str, issuer: str, tokens: dict[str, Any], key_pem: str, nonce: str) -> Grant:
    expires_in = tokens.get("expires_in")
    return Grant(
        client_id=client_id,
        issuer=issuer,
        access_token=tokens["access_token"],
        refresh_token=tokens.get("refresh_token") or "",
        dpop_key_pem=key_pem,
        scope=tokens["scope"],
        expires_at=time.time() + expires_in if expires_in is not None else None,
        as_nonce=nonce or "",
    )


def refresh(did: str, pds_url: str, grant: Grant) -> Grant:
    """New tokens for the grant (the refresh token rotates: the old one is spent)."""
    client = make_client(ClientIdentity(grant.client_id, ""), scope=grant.scope)
    try:
        return _run(_refresh(client, grant))
    except NoAuthServer as exc:  # its metadata is no longer usable: the grant cannot be refreshed
        raise GrantRevoked(str(exc)) from exc
    except _network_errors(ValueError, KeyError, TypeError) as exc:
        raise AuthServerUnavailable(str(exc)) from exc


async def _refresh(client: Client, grant: Grant) -> Grant:
    from albums_core.adapters.atproto import oauth_http, oauth_server

    async with oauth_http.address_checked_client(allow_localhost=client.local) as http:
        server = await oauth_server.fetch_metadata(http, grant.issuer, client.local)
        params = {"grant_type": "refresh_token", "refresh_token": grant.refresh_token}
        nonce, response = await oauth_server.token_request(
            http, client, server, server.token_endpoint, params, dpop_key(grant), grant.as_nonce
        )
    if response.status_code >= 500:
        raise AuthServerUnavailable(f"token refresh failed: {response.status_code}")
    if response.status_code not in _OK:
        raise GrantRevoked(f"token refresh failed: {response.status_code}")  # invalid_grant
    tokens = oauth_server.token_fields(response)
    if not oauth_server.scope_covers(client.scope, tokens["scope"]):
        raise GrantRevoked(f"scope reduced after refresh: {tokens['scope']}")
    out = _grant(
        grant.client_id, grant.issuer, {"refresh_token": grant.refresh_token, **tokens}, grant.dpop_key_pem, nonce
    )
    out.pds_nonce = grant.pds_nonce
    return out


def revoke(did: str, pds_url: str, grant: Grant) -> None:
    """Revoke the grant's tokens at the authorization server (best effort)."""
    client = make_client(ClientIdentity(grant.client_id, ""), scope=grant.scope)
    try:
        _run(_revoke(client, grant))
    except _network_errors(ValueError, KeyError, TypeError, NoAuthServer):
        pass


async def _revoke(client: Client, grant: Grant) -> None:
    from albums_core.adapters.atproto import oauth_http, oauth_server

    async with oauth_http.address_checked_client(allow_localhost=client.local) as http:
        server = await oauth_server.fetch_metadata(http, grant.issuer, client.local)
        if not server.revocation_endpoint:
            return
        for hint, token in (("access_token", grant.access_token), ("refresh_token", grant.refresh_token)):
            if token:
                params = {"token": token, "token_type_hint": hint}
                await oauth_server.token_request(
                    http, client, server, server.revocation_endpoint, params, dpop_key(grant), grant.as_nonce
                )

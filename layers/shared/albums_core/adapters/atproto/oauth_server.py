"""What the OAuth client asks of an authorization server, over an address-checked client
(oauth_http): discovery from a PDS, the metadata (the library's ATProto requirements and our
endpoint checks), and token-endpoint requests (PAR, code, refresh, revocation) with client
authentication and a DPoP proof, sent once more when the server asks for a new nonce."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from atproto_oauth.dpop import DPoPManager
from atproto_oauth.scopes import RepoPermission

from albums_core.adapters.atproto import oauth_http
from albums_core.adapters.atproto.oauth_grant import proof
from albums_core.adapters.atproto.oauth_keys import client_assertion


@dataclass(frozen=True)
class Client:
    """The client as one request makes it: its id, redirect URI and scope; its signing key
    (kid, key) when it is the confidential client; `local` relaxes the URL rules to loopback
    http (local mode only)."""

    client_id: str
    redirect_uri: str
    scope: str
    local: bool
    kid: str | None = None
    key: Any = None


@dataclass(frozen=True)
class AuthServer:
    issuer: str
    authorization_endpoint: str
    par_endpoint: str
    token_endpoint: str
    revocation_endpoint: str | None


async def _get_json(http: httpx.AsyncClient, url: str, local: bool) -> Any:
    if not oauth_http.safe_url(url, local):
        raise ValueError(f"unsafe URL: {url}")
    response = await http.get(url)
    response.raise_for_status()
    return response.json()


async def discover_issuer(http: httpx.AsyncClient, pds_url: str, local: bool) -> str:
    """The authorization server a PDS names (its protected-resource metadata)."""
    data = await _get_json(http, f"{pds_url}/.well-known/oauth-protected-resource", local)
    servers = data.get("authorization_servers") if isinstance(data, dict) else None
    if not servers or not isinstance(servers, list) or not isinstance(servers[0], str):
        raise ValueError("no authorization server named")
    return servers[0].rstrip("/")


async def fetch_metadata(http: httpx.AsyncClient, issuer: str, local: bool) -> AuthServer:
    fetch_url = f"{issuer}/.well-known/oauth-authorization-server"
    meta = await _get_json(http, fetch_url, local)
    if not isinstance(meta, dict):
        raise ValueError("authorization server metadata is not an object")
    oauth_http.validate_metadata(meta, fetch_url, local)
    return AuthServer(
        issuer=str(meta["issuer"]),
        authorization_endpoint=str(meta["authorization_endpoint"]),
        par_endpoint=str(meta["pushed_authorization_request_endpoint"]),
        token_endpoint=str(meta["token_endpoint"]),
        revocation_endpoint=meta.get("revocation_endpoint"),
    )


async def token_request(
    http: httpx.AsyncClient,
    client: Client,
    server: AuthServer,
    url: str,
    params: dict[str, str],
    dpop_key: Any,
    nonce: str,
) -> tuple[str, httpx.Response]:
    """(the server's latest DPoP nonce, its response) of one form POST to one of its endpoints."""
    if not oauth_http.safe_url(url, client.local):
        raise ValueError(f"unsafe URL: {url}")
    form = {**params, "client_id": client.client_id}
    if client.key is not None and client.kid:
        # The assertion's audience is the issuer (ATProto OAuth), not the endpoint.
        form["client_assertion_type"] = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
        form["client_assertion"] = client_assertion(client.client_id, client.kid, client.key, server.issuer)
    response = None
    for attempt in range(2):
        headers = {"DPoP": proof("POST", url, dpop_key, nonce, None)}
        response = await http.post(url, data=form, headers=headers)
        fresh = DPoPManager.extract_nonce_from_response(response)
        if attempt == 0 and fresh and DPoPManager.is_dpop_nonce_error(response):
            nonce = fresh
            continue
        nonce = fresh or nonce
        break
    assert response is not None
    return nonce, response


def token_fields(response: httpx.Response) -> dict[str, Any]:
    """A token response's fields, the ones we rely on checked; ValueError otherwise."""
    data = response.json()
    if not isinstance(data, dict):
        raise ValueError("token response is not an object")
    for name in ("access_token", "scope", "sub"):
        if not isinstance(data.get(name), str) or not data[name]:
            raise ValueError(f"token response without {name}")
    if not isinstance(data.get("refresh_token", ""), str):
        raise ValueError("token response with an odd refresh_token")
    expires = data.get("expires_in")
    if expires is not None and (not isinstance(expires, int | float) or isinstance(expires, bool)):
        raise ValueError("token response with an odd expires_in")
    return data


def scope_covers(requested: str, granted: str) -> bool:
    """The granted scope covers every requested permission: `repo:` permissions by collection
    and action (a server may grant them in another spelling or wider), others as written."""
    have = set(granted.split())
    repos = [p for p in (RepoPermission.from_string(s) for s in have) if p is not None]
    for want in set(requested.split()) - have:
        asked = RepoPermission.from_string(want)
        if asked is None:
            return False
        for collection in asked.collection:
            for action in asked.action:
                if not any(p.matches(collection, action) for p in repos):
                    return False
    return True

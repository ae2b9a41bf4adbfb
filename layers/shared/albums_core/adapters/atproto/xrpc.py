"""A small XRPC client for the write path: the calls the service makes on an artist's PDS,
under the same network guard as every other outbound request."""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from albums_core.adapters.atproto.safe_http import FetchError, HttpReply, request
from albums_core.config import settings

if TYPE_CHECKING:
    from albums_core.adapters.atproto.oauth_client import Grant

_MAX_REPLY = 5_000_000


class PdsUnavailable(Exception):
    """The PDS could not be reached, timed out, or failed (5xx)."""


class XrpcError(Exception):
    """The PDS answered with a client error (4xx)."""

    def __init__(self, status: int, error: str, message: str = "") -> None:
        super().__init__(f"{status} {error}: {message}")
        self.status = status
        self.error = error
        self.message = message


@dataclass
class Tokens:
    access_jwt: str
    refresh_jwt: str


@dataclass(frozen=True)
class Record:
    uri: str
    cid: str
    value: dict[str, Any]


def jwt_expiry(token: str) -> float | None:
    """The `exp` claim of a JWT, read without verifying it (the PDS verifies it)."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return float(claims["exp"])
    except (IndexError, ValueError, KeyError, TypeError):
        return None


def xrpc_url(pds_url: str, nsid: str, params: dict[str, Any] | None = None) -> str:
    url = f"{pds_url.rstrip('/')}/xrpc/{nsid}"
    if params:
        url += "?" + urlencode({k: v for k, v in params.items() if v is not None}, doseq=True)
    return url


def send(
    url: str, method: str, *, body: Any = None, headers: dict[str, str] | None = None, timeout: float | None = None
) -> HttpReply:
    """One XRPC exchange under the network guard, whatever its status; PdsUnavailable when
    there is no usable answer."""
    cfg = settings()
    sent = dict(headers or {})
    data = None
    if body is not None:
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        sent["Content-Type"] = "application/json"
    try:
        return request(
            method,
            url,
            timeout=timeout or cfg.pds_write_timeout_seconds,
            max_bytes=_MAX_REPLY,
            allow_loopback=cfg.allow_loopback_pds,
            body=data,
            headers=sent,
        )
    except FetchError as exc:
        raise PdsUnavailable(str(exc)) from exc


def judge(reply: HttpReply) -> Any:
    """The answer's body, or the error it is."""
    if reply.status >= 500 or reply.status in (408, 429):
        raise PdsUnavailable(f"status {reply.status}")
    if reply.status >= 400:
        payload = reply.body if isinstance(reply.body, dict) else {}
        raise XrpcError(reply.status, str(payload.get("error", "Error")), str(payload.get("message", "")))
    return reply.body


def call(
    pds_url: str,
    method: str,
    nsid: str,
    *,
    params: dict[str, Any] | None = None,
    body: Any = None,
    token: str | None = None,
    timeout: float | None = None,
) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return judge(send(xrpc_url(pds_url, nsid, params), method, body=body, headers=headers, timeout=timeout))


def create_session(pds_url: str, identifier: str, password: str) -> dict[str, Any]:
    out = call(
        pds_url, "POST", "com.atproto.server.createSession", body={"identifier": identifier, "password": password}
    )
    if not isinstance(out, dict) or not out.get("accessJwt") or not out.get("refreshJwt") or not out.get("did"):
        raise PdsUnavailable("createSession answered without tokens")
    return out


def get_record(pds_url: str, repo: str, collection: str, rkey: str) -> Record | None:
    try:
        out = call(
            pds_url, "GET", "com.atproto.repo.getRecord", params={"repo": repo, "collection": collection, "rkey": rkey}
        )
    except XrpcError as exc:
        if exc.error == "RecordNotFound" or exc.status == 404:
            return None
        raise
    if not isinstance(out, dict) or not isinstance(out.get("value"), dict) or not out.get("cid"):
        raise PdsUnavailable("getRecord answered without a record")
    return Record(str(out["uri"]), str(out["cid"]), out["value"])


def list_records(pds_url: str, repo: str, collection: str) -> Iterator[Record]:
    cursor = None
    while True:
        out = call(
            pds_url,
            "GET",
            "com.atproto.repo.listRecords",
            params={"repo": repo, "collection": collection, "limit": 100, "cursor": cursor},
        )
        records = out.get("records", []) if isinstance(out, dict) else []
        for r in records:
            if isinstance(r, dict) and isinstance(r.get("value"), dict) and r.get("uri") and r.get("cid"):
                yield Record(str(r["uri"]), str(r["cid"]), r["value"])
        cursor = out.get("cursor") if isinstance(out, dict) else None
        if not cursor or not records:
            return


def latest_commit(pds_url: str, did: str) -> str:
    out = call(pds_url, "GET", "com.atproto.sync.getLatestCommit", params={"did": did})
    if not isinstance(out, dict) or not out.get("cid"):
        raise PdsUnavailable("getLatestCommit answered without a cid")
    return str(out["cid"])


class PdsSession:
    """Authenticated calls for one artist; refreshes an expired access token once per call
    and hands the new tokens to `on_refresh` so they are stored back."""

    def __init__(
        self, pds_url: str, did: str, tokens: Tokens, on_refresh: Callable[[Tokens], None] | None = None
    ) -> None:
        self.pds_url = pds_url
        self.did = did
        self.tokens = tokens
        self.session_key = ""  # an app-password session's tokens travel with a cleanup job
        self._on_refresh = on_refresh

    def refresh(self) -> None:
        try:
            out = call(self.pds_url, "POST", "com.atproto.server.refreshSession", token=self.tokens.refresh_jwt)
        except XrpcError as exc:
            raise SessionRevoked(exc.message or exc.error) from exc
        if not isinstance(out, dict) or not out.get("accessJwt") or not out.get("refreshJwt"):
            raise PdsUnavailable("refreshSession answered without tokens")
        self.tokens = Tokens(str(out["accessJwt"]), str(out["refreshJwt"]))
        if self._on_refresh:
            self._on_refresh(self.tokens)

    def authed(self, method: str, nsid: str, **kw: Any) -> Any:
        expiry = jwt_expiry(self.tokens.access_jwt)
        if expiry is not None and expiry - time.time() < 30:
            self.refresh()
        try:
            return call(self.pds_url, method, nsid, token=self.tokens.access_jwt, **kw)
        except XrpcError as exc:
            if exc.error not in ("ExpiredToken", "InvalidToken") and exc.status != 401:
                raise
        self.refresh()
        return call(self.pds_url, method, nsid, token=self.tokens.access_jwt, **kw)

    def get_record(self, collection: str, rkey: str) -> Record | None:
        return get_record(self.pds_url, self.did, collection, rkey)

    def create_record(self, collection: str, record: dict[str, Any], rkey: str | None = None) -> tuple[str, str]:
        body: dict[str, Any] = {"repo": self.did, "collection": collection, "record": record}
        if rkey is not None:
            body["rkey"] = rkey
        out = self.authed("POST", "com.atproto.repo.createRecord", body=body)
        return str(out["uri"]), str(out["cid"])

    def put_record(self, collection: str, rkey: str, record: dict[str, Any], swap_record: str | None) -> str:
        body = {"repo": self.did, "collection": collection, "rkey": rkey, "record": record}
        if swap_record is not None:
            body["swapRecord"] = swap_record
        out = self.authed("POST", "com.atproto.repo.putRecord", body=body)
        return str(out["cid"])

    def delete_record(self, collection: str, rkey: str, swap_record: str | None = None) -> None:
        body = {"repo": self.did, "collection": collection, "rkey": rkey}
        if swap_record is not None:
            body["swapRecord"] = swap_record
        self.authed("POST", "com.atproto.repo.deleteRecord", body=body)

    def apply_writes(self, writes: list[dict[str, Any]], swap_commit: str | None) -> dict[str, Any]:
        body: dict[str, Any] = {"repo": self.did, "writes": writes}
        if swap_commit is not None:
            body["swapCommit"] = swap_commit
        out = self.authed("POST", "com.atproto.repo.applyWrites", body=body)
        return out if isinstance(out, dict) else {}

    def latest_commit(self) -> str:
        return latest_commit(self.pds_url, self.did)


class SessionRevoked(Exception):
    """The PDS refused the session's refresh token: the artist must log in again."""


class ScopeMissing(XrpcError):
    """The PDS refused a call the OAuth grant does not cover; `scope` is the permission it names."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(status, "ScopeMissingError", message)
        found = re.search(r'"([^"]+)"', message)
        self.scope = found.group(1) if found else message


def _asks_for_nonce(reply: HttpReply) -> bool:
    if reply.status not in (400, 401):
        return False
    if "use_dpop_nonce" in reply.headers.get("www-authenticate", "").lower():
        return True
    return isinstance(reply.body, dict) and reply.body.get("error") == "use_dpop_nonce"


class DpopPdsSession(PdsSession):
    """The same calls for an OAuth session: the access token is DPoP-bound (a proof signed with
    the session's key on every request, carrying the PDS's nonce; a request the PDS answers with
    a new nonce is sent once more). Refreshes go through `refresher`, which serialises them
    across functions (session_store); `session_key` names the session for cleanup jobs."""

    def __init__(
        self,
        pds_url: str,
        did: str,
        grant: Grant,
        refresher: Callable[[Grant], Grant],
        on_nonce: Callable[[str], None] | None = None,
        session_key: str = "",
    ) -> None:
        super().__init__(pds_url, did, Tokens(grant.access_token, grant.refresh_token))
        self.grant = grant
        self.session_key = session_key
        self._refresher = refresher
        self._on_nonce = on_nonce

    def refresh(self) -> None:
        self.grant = self._refresher(self.grant)
        self.tokens = Tokens(self.grant.access_token, self.grant.refresh_token)

    def authed(self, method: str, nsid: str, **kw: Any) -> Any:
        from albums_core.adapters.atproto.oauth_client import token_expiring

        if token_expiring(self.grant):
            self.refresh()
        try:
            return self._dpop_call(method, nsid, **kw)
        except XrpcError as exc:
            if exc.status != 401:
                raise
        self.refresh()
        return self._dpop_call(method, nsid, **kw)

    def _dpop_call(
        self,
        method: str,
        nsid: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
        timeout: float | None = None,
    ) -> Any:
        from albums_core.adapters.atproto.oauth_client import dpop_proof

        url = xrpc_url(self.pds_url, nsid, params)
        reply = None
        for attempt in range(2):
            headers = {
                "Authorization": f"DPoP {self.grant.access_token}",
                "DPoP": dpop_proof(method, url, self.grant),
            }
            reply = send(url, method, body=body, headers=headers, timeout=timeout)
            nonce = reply.headers.get("dpop-nonce")
            if nonce and nonce != self.grant.pds_nonce:
                self.grant.pds_nonce = nonce
                if self._on_nonce:
                    self._on_nonce(nonce)
            if attempt == 0 and nonce and _asks_for_nonce(reply):
                continue
            break
        assert reply is not None
        if reply.status == 403 and isinstance(reply.body, dict) and reply.body.get("error") == "ScopeMissingError":
            raise ScopeMissing(reply.status, str(reply.body.get("message", "")))
        return judge(reply)

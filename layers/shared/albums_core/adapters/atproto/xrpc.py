"""A small XRPC client for the write path: the calls the service makes on an artist's PDS,
under the same network guard as every other outbound request."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from albums_core.adapters.atproto.safe_http import FetchError, request
from albums_core.config import settings

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
    cfg = settings()
    url = f"{pds_url.rstrip('/')}/xrpc/{nsid}"
    if params:
        url += "?" + urlencode({k: v for k, v in params.items() if v is not None}, doseq=True)
    headers: dict[str, str] = {}
    data = None
    if body is not None:
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        reply = request(
            method,
            url,
            timeout=timeout or cfg.pds_write_timeout_seconds,
            max_bytes=_MAX_REPLY,
            allow_loopback=cfg.allow_loopback_pds,
            body=data,
            headers=headers,
        )
    except FetchError as exc:
        raise PdsUnavailable(str(exc)) from exc
    if reply.status >= 500 or reply.status in (408, 429):
        raise PdsUnavailable(f"status {reply.status}")
    if reply.status >= 400:
        payload = reply.body if isinstance(reply.body, dict) else {}
        raise XrpcError(reply.status, str(payload.get("error", "Error")), str(payload.get("message", "")))
    return reply.body


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

"""A small XRPC client for the write path: the calls the service makes on an artist's PDS,
under the same network guard as every other outbound request."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from aws_lambda_powertools.metrics import MetricUnit

from albums_core.adapters.atproto.errors import (
    AccountUnavailable,
    PdsUnavailable,
    ScopeMissing,
    SessionRevoked,
    TokenRefused,
    XrpcError,
)
from albums_core.adapters.atproto.safe_http import FetchError, HttpReply, request
from albums_core.config import settings
from albums_core.domain.at_uri import AtUri
from albums_core.domain.read_budget import ReadBudget
from albums_core.domain.record_edits import PAGE_SIZE  # per listRecords page; a page with more is cut to it
from albums_core.domain.records import is_cid
from albums_core.domain.sessions import Listing, Record, Tokens
from albums_core.observability import logger, metrics

# Refusals of the account itself (deactivated, taken down, suspended on its PDS): repeating the
# request changes nothing until the account's state does.
ACCOUNT_REFUSALS = frozenset(
    {"RepoDeactivated", "RepoTakendown", "RepoSuspended", "AccountDeactivated", "AccountTakedown"}
)
_TOKEN_ERRORS = ("ExpiredToken", "InvalidToken")


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
            max_bytes=cfg.pds_response_max_bytes,
            allow_loopback=cfg.allow_loopback_pds,
            body=data,
            headers=sent,
        )
    except FetchError as exc:
        raise PdsUnavailable(str(exc)) from exc


def judge(reply: HttpReply) -> Any:
    """The answer's body, or the error it is."""
    if reply.status >= 500 or reply.status in (408, 429):
        raise PdsUnavailable(f"status {reply.status}", answered=True)
    if reply.status >= 400:
        payload = reply.body if isinstance(reply.body, dict) else {}
        error, message = str(payload.get("error", "Error"))[:100], str(payload.get("message", ""))[:500]
        raise (AccountUnavailable if error in ACCOUNT_REFUSALS else XrpcError)(reply.status, error, message)
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


# A cursor longer than this is no way on (it would travel in URLs and job items).
_MAX_CURSOR = 1024


def _listed_here(record: Any, repo: str, collection: str) -> bool:
    """A listed record is the asked repository's record of the asked collection, with a CID
    and a value: a PDS may name another account's records in its listing (stored under the
    lister, they would put words in that account's mouth)."""
    if not isinstance(record, dict):
        return False
    at = AtUri.parse(str(record.get("uri")))
    return (
        at is not None
        and at.repo == repo
        and at.collection == collection
        and is_cid(record.get("cid"))
        and isinstance(record.get("value"), dict)
    )


@dataclass(frozen=True)
class _Caps:
    pages: int
    records: int
    bytes: int


def _reached(out: Listing, caps: _Caps) -> str | None:
    """The per-call cap the listing has reached, if any."""
    if out.pages >= caps.pages:
        return "pages"
    if len(out.records) >= caps.records:
        return "records"
    if out.size >= caps.bytes:
        return "bytes"
    return None


def _page_timeout(budget: ReadBudget | None, timeout: float) -> float | None:
    """The next page's timeout under the caller's budget (which it takes a call from); None
    when the budget has no call or no time left."""
    if budget is None:
        return timeout
    remaining = budget.remaining()
    if not budget.take_call() or (remaining is not None and remaining <= 0):
        return None
    return timeout if remaining is None else min(timeout, remaining)


def _keep_page(out: Listing, page: list[Any], repo: str, collection: str, records_cap: int) -> None:
    dropped = 0
    for r in page[: max(0, records_cap - len(out.records))]:
        if _listed_here(r, repo, collection):
            out.records.append(Record(str(r["uri"]), str(r["cid"]), r["value"]))
        else:
            dropped += 1
    if dropped:
        metrics.add_metric(name="ListedRecordsDropped", unit=MetricUnit.Count, value=dropped)
        logger.warning(
            "listed records dropped (another repository or collection, or no CID or value)",
            extra={"repo": repo, "collection": collection, "dropped": dropped},
        )


def list_records(
    pds_url: str,
    repo: str,
    collection: str,
    *,
    cursor: str | None = None,
    budget: ReadBudget | None = None,
    max_pages: int | None = None,
    max_records: int | None = None,
    max_bytes: int | None = None,
) -> Listing:
    """One bounded listing from `cursor`: at most `max_pages` pages, `max_records` records and
    `max_bytes` bytes of responses (the settings' per-call caps by default), each page only
    while the caller's budget has a call and time left (its deadline also shortens a page's
    timeout). A PDS that pages forever costs its caller no more than that."""
    cfg = settings()
    caps = _Caps(
        pages=max_pages if max_pages is not None else cfg.pds_list_pages_per_call,
        records=max_records if max_records is not None else cfg.pds_list_records_per_call,
        bytes=max_bytes if max_bytes is not None else cfg.pds_list_pages_per_call * cfg.pds_response_max_bytes,
    )
    out = Listing(cursor=cursor)
    seen = {cursor} if cursor else set()
    while True:
        cap = _reached(out, caps)
        timeout = None if cap else _page_timeout(budget, cfg.pds_write_timeout_seconds)
        if cap or timeout is None:
            out.stopped = cap or (budget.spent if budget is not None else None) or "deadline"
            return out
        params = {"repo": repo, "collection": collection, "limit": PAGE_SIZE, "cursor": out.cursor}
        try:
            reply = send(xrpc_url(pds_url, "com.atproto.repo.listRecords", params), "GET", timeout=timeout)
        except PdsUnavailable:
            # A page whose timeout was what was left of the budget: the budget ran out, not the PDS.
            if budget is not None and not budget.in_time():
                out.stopped = "deadline"
                return out
            raise
        body = judge(reply)
        out.pages += 1
        out.size += len(reply.raw)
        page = body.get("records", []) if isinstance(body, dict) else []
        page = page[:PAGE_SIZE] if isinstance(page, list) else []
        _keep_page(out, page, repo, collection, caps.records)
        following = body.get("cursor") if isinstance(body, dict) else None
        if not following or not page or not isinstance(following, str):
            out.cursor, out.complete, out.stopped = None, True, "end"
            return out
        if following in seen or len(following) > _MAX_CURSOR:
            out.cursor, out.stopped = None, "loop"
            return out
        seen.add(following)
        out.cursor = following


def latest_commit(pds_url: str, did: str) -> str:
    out = call(pds_url, "GET", "com.atproto.sync.getLatestCommit", params={"did": did})
    if not isinstance(out, dict) or not out.get("cid"):
        raise PdsUnavailable("getLatestCommit answered without a cid")
    return str(out["cid"])


def why_refused(exc: XrpcError | PdsUnavailable, head: Callable[[], Any]) -> Exception:
    """The account's own refusal behind `exc` when there is one, else `exc`; `head` reads the
    repository's latest commit (getLatestCommit). A PDS says why it refuses a deactivated
    (taken down, suspended) repository there, not always elsewhere: a listing fails with a
    bare InvalidRequest ("Could not find repo"), a getRecord is proxied on and fails with 502.
    Asked only when the PDS answered (one call more on a failure, never a second timeout)."""
    if isinstance(exc, AccountUnavailable) or (isinstance(exc, PdsUnavailable) and not exc.answered):
        return exc
    try:
        head()
    except AccountUnavailable as gone:
        return gone
    except (XrpcError, PdsUnavailable):
        pass
    return exc


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
        except AccountUnavailable:
            raise
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
            if not _token_refusal(exc):
                raise
        self.refresh()
        return after_refresh(lambda: call(self.pds_url, method, nsid, token=self.tokens.access_jwt, **kw))

    def get_record(self, collection: str, rkey: str) -> Record | None:
        return get_record(self.pds_url, self.did, collection, rkey)

    def list_records(self, collection: str, *, max_pages: int, cursor: str | None = None) -> Listing:
        """The collection's records from `cursor`, at most `max_pages` pages (and their bytes)."""
        cap = settings().pds_response_max_bytes * max_pages
        return list_records(
            self.pds_url,
            self.did,
            collection,
            cursor=cursor,
            max_pages=max_pages,
            max_records=max_pages * PAGE_SIZE,
            max_bytes=cap,
        )

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


def _token_refusal(exc: XrpcError) -> bool:
    """A refusal a token refresh may fix (a deactivated account answers 401 too: not that)."""
    return not isinstance(exc, AccountUnavailable) and (exc.error in _TOKEN_ERRORS or exc.status == 401)


def after_refresh(again: Callable[[], Any]) -> Any:
    """The call once more with fresh tokens; the token refused even now is TokenRefused."""
    try:
        return again()
    except XrpcError as exc:
        if _token_refusal(exc) and not isinstance(exc, ScopeMissing):
            raise TokenRefused(exc.status, exc.error, exc.message) from exc
        raise

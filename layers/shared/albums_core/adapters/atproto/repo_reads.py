"""Reads of any account's repository without a session, and its identity: the `PdsReader` and
`IdentityResolver` ports of albums_core.ports.firehose. The XRPC methods are named here, so
the services that read what the firehose could not carry speak records, not NSIDs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from albums_core.adapters.atproto import identity, xrpc
from albums_core.domain.firehose_events import RepoStatus
from albums_core.domain.read_budget import ReadBudget

_STATUS_TIMEOUT = 5.0


class RepoReads:
    """`list_records` and `get_record` may be replaced (a test's canned listing)."""

    def __init__(
        self,
        list_records: Callable[..., xrpc.Listing] = xrpc.list_records,
        get_record: Callable[[str, str, str, str], xrpc.Record | None] = xrpc.get_record,
        call: Callable[..., Any] = xrpc.call,
    ) -> None:
        self._list = list_records
        self._get = get_record
        self._call = call

    def list_records(self, pds_url: str, did: str, collection: str, budget: ReadBudget | None = None) -> xrpc.Listing:
        """A bounded listing (xrpc.list_records' caps, and the budget when there is one)."""
        if budget is None:
            return self._list(pds_url, did, collection)
        return self._list(pds_url, did, collection, budget=budget)

    def get_record(self, pds_url: str, did: str, collection: str, rkey: str) -> xrpc.Record | None:
        """None when the record is not there."""
        return self._get(pds_url, did, collection, rkey)

    def repo_status(self, pds_url: str, did: str) -> RepoStatus:
        """Whether the repository is active on its own PDS; a repository it does not know (400,
        404: RepoNotFound) is a deleted one. Other refusals raise `XrpcError`."""
        try:
            out = self._call(
                pds_url, "GET", "com.atproto.sync.getRepoStatus", params={"did": did}, timeout=_STATUS_TIMEOUT
            )
        except xrpc.XrpcError as exc:
            if exc.status in (400, 404):
                return RepoStatus(False, "deleted")
            raise
        if not isinstance(out, dict):
            return RepoStatus(True, None)
        reason = out.get("status")
        return RepoStatus(bool(out.get("active")), str(reason) if reason else None)


class IdentityResolver:
    """DIDs to their verified handle and PDS, through the container's identity cache."""

    def __init__(self, resolve: Callable[[str], identity.Identity] = identity.resolve) -> None:
        self._resolve = resolve

    def resolve(self, did: str) -> identity.Identity:
        return self._resolve(did)

    def forget(self, *identifiers: str) -> None:
        """What the container's cache holds of these DIDs and handles goes."""
        identity.forget(*identifiers)

"""The artist's records as the write side changes them: read-modify-write batches on a PDS
session (record_writes), with what the PDS does wrong turned into domain errors here, in one
place, so services never see the XRPC client's exceptions."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from albums_core.adapters.atproto.record_writes import (
    Edit,
    Sizes,
    Snapshot,
    apply_edits,
    read_snapshot,
    write_records,
)
from albums_core.adapters.atproto.xrpc import (
    AccountUnavailable,
    PdsUnavailable,
    Record,
    ScopeMissing,
    SessionRevoked,
    TokenRefused,
    XrpcError,
    why_refused,
)
from albums_core.domain.at_uri import AtUri
from albums_core.domain.errors import AccountRefused, Forbidden, InvalidSession, UpstreamFailure
from albums_core.observability import logger, metrics
from albums_core.ports import Pds

_ACCOUNT_STATES = {
    "AccountDeactivated": "deactivated",
    "RepoDeactivated": "deactivated",
    "AccountTakedown": "taken down",
    "RepoTakendown": "taken down",
    "RepoSuspended": "suspended",
}


def account_refused(exc: AccountUnavailable | TokenRefused) -> AccountRefused:
    """The 403 of a refusal no retry changes, saying what happened."""
    if isinstance(exc, TokenRefused):
        return AccountRefused(
            f"your PDS refused this session's tokens even after a refresh ({exc.error}); log in again"
        )
    state = _ACCOUNT_STATES.get(exc.error, "unavailable")
    return AccountRefused(
        f"your account is {state} on its PDS ({exc.error}), which refuses every change; "
        "the session has ended: log in again once the account is active"
    )


@contextmanager
def pds_failures(head: Callable[[], Any] | None = None) -> Iterator[None]:
    """`_failures`; with `head` (reads the repository's latest commit), a failure is first
    checked against the account's state (`why_refused`): a deactivated account is a 403 saying
    so, not a 502 asking to repeat the request."""
    try:
        with _failures():
            yield
    except UpstreamFailure as failure:
        cause = failure.__cause__
        if head is None or not isinstance(cause, XrpcError | PdsUnavailable):
            raise
        refusal = why_refused(cause, head)
        if refusal is cause:
            raise
        with _failures():
            raise refusal from cause


@contextmanager
def _failures() -> Iterator[None]:
    """What the artist's PDS does wrong, as the API reports it: a refused session is 401, a
    write the OAuth grant does not cover 403 naming the permission, an account the PDS refuses
    (deactivated, taken down, suspended; tokens refused after a refresh) 403 saying so, and the
    session ends; any other failure 502 with a message that says repeating the request
    finishes the job."""
    try:
        yield
    except SessionRevoked as exc:
        raise InvalidSession() from exc
    except (AccountUnavailable, TokenRefused) as exc:
        metrics.add_metric(name="PdsAccountRefused", unit=MetricUnit.Count, value=1)
        logger.info("PDS refuses the account", extra={"status": exc.status, "error": exc.error})
        raise account_refused(exc) from exc
    except ScopeMissing as exc:  # an OAuth grant that does not cover the write
        raise Forbidden(f"the sign-in did not grant the permission this change needs: {exc.scope}") from exc
    except PdsUnavailable as exc:
        metrics.add_metric(name="PdsCallFailed", unit=MetricUnit.Count, value=1)
        logger.warning("PDS call failed", extra={"reason": str(exc)})
        raise UpstreamFailure("your PDS did not complete the change; repeat the request to finish it") from exc
    except XrpcError as exc:
        metrics.add_metric(name="PdsCallFailed", unit=MetricUnit.Count, value=1)
        logger.warning("PDS refused a call", extra={"status": exc.status, "error": exc.error})
        raise UpstreamFailure(f"your PDS refused the change ({exc.error}); repeat the request to finish it") from exc


class RecordEditor:
    """Record reads and swap-guarded batch writes on one PDS session; every failure of the
    PDS is `InvalidSession`, `AccountRefused`, `Forbidden` or `UpstreamFailure`."""

    def __init__(self, pds: Pds) -> None:
        self.pds = pds

    def _failures(self) -> Any:
        return pds_failures(self.pds.latest_commit)

    def read(self, uris: list[str], sizes: Sizes | None = None) -> Snapshot:
        """The records (None when missing), read after the repository's commit: a `write`
        with this snapshot swaps against that commit without reading them again. `sizes`
        (records per collection, as the catalogue counts them) lets listRecords pages read
        them when that takes fewer calls than one getRecord each."""
        with self._failures():
            return read_snapshot(self.pds, uris, sizes)

    def write(
        self, edits: list[Edit], snapshot: Snapshot | None = None, sizes: Sizes | None = None
    ) -> dict[str, Record | None]:
        """Apply the edits; each record as it now stands (None when deleted or missing)."""
        with self._failures():
            return write_records(self.pds, edits, snapshot, sizes=sizes)

    def apply(self, edits: list[Edit], sizes: Sizes | None = None) -> dict[str, str | None]:
        """Apply the edits; each record's CID afterwards (None when deleted or missing)."""
        with self._failures():
            return apply_edits(self.pds, edits, sizes=sizes)

    def ensure(self, uri: str, value: dict[str, Any]) -> str:
        """The record at `uri` exists (created with `value` when it does not); its CID."""
        at = AtUri.parse(uri)
        assert at is not None, uri
        with self._failures():
            record = self.pds.get_record(at.collection, at.rkey)
            if record is not None:
                return record.cid
            _, cid = self.pds.create_record(at.collection, value, rkey=at.rkey)
            return cid

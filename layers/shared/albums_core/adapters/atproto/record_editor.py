"""The artist's records as the write side changes them: read-modify-write batches on a PDS
session (record_writes), with what the PDS does wrong turned into domain errors here, in one
place, so services never see the XRPC client's exceptions."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from albums_core.adapters.atproto.record_writes import Edit, Snapshot, apply_edits, read_snapshot, write_records
from albums_core.adapters.atproto.xrpc import PdsUnavailable, Record, ScopeMissing, SessionRevoked, XrpcError
from albums_core.domain.at_uri import AtUri
from albums_core.domain.errors import Forbidden, InvalidSession, UpstreamFailure
from albums_core.observability import logger, metrics
from albums_core.ports import Pds


@contextmanager
def pds_failures() -> Iterator[None]:
    """What the artist's PDS does wrong, as the API reports it: a refused session is 401, a
    write the OAuth grant does not cover 403 naming the permission, any other failure 502 with
    a message that says repeating the request finishes the job."""
    try:
        yield
    except SessionRevoked as exc:
        raise InvalidSession() from exc
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
    PDS is `InvalidSession` or `UpstreamFailure`."""

    def __init__(self, pds: Pds) -> None:
        self.pds = pds

    def read(self, uris: list[str]) -> Snapshot:
        """The records (None when missing), read after the repository's commit: a `write`
        with this snapshot swaps against that commit without reading them again."""
        with pds_failures():
            return read_snapshot(self.pds, uris)

    def write(self, edits: list[Edit], snapshot: Snapshot | None = None) -> dict[str, Record | None]:
        """Apply the edits; each record as it now stands (None when deleted or missing)."""
        with pds_failures():
            return write_records(self.pds, edits, snapshot)

    def apply(self, edits: list[Edit]) -> dict[str, str | None]:
        """Apply the edits; each record's CID afterwards (None when deleted or missing)."""
        with pds_failures():
            return apply_edits(self.pds, edits)

    def ensure(self, uri: str, value: dict[str, Any]) -> str:
        """The record at `uri` exists (created with `value` when it does not); its CID."""
        at = AtUri.parse(uri)
        assert at is not None, uri
        with pds_failures():
            record = self.pds.get_record(at.collection, at.rkey)
            if record is not None:
                return record.cid
            _, cid = self.pds.create_record(at.collection, value, rkey=at.rkey)
            return cid

"""Likes read from the liker's repository rather than from the stream: those whose commits came
without their blocks, and (after a gap in the stream) a liker's whole collection reconciled with
what we hold. Both go through the likes' own logic (services/firehose/likes.py)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from albums_core.domain.firehose_events import LIKE, RecordOp, record_problem
from albums_core.domain.read_budget import ReadBudget
from albums_core.domain.upstream import PdsUnavailable, UnknownIdentity, XrpcError
from albums_core.observability import logger
from albums_core.ports.firehose import IdentityResolver, LikeStore, PdsReader
from albums_core.services.firehose.likes import LikeIngest
from albums_core.services.firehose.planning import BatchReport, RepoWork


class LikeReads:
    def __init__(
        self,
        likes: LikeIngest,
        store: LikeStore,
        pds: PdsReader,
        identities: IdentityResolver,
        budget: Callable[[], ReadBudget],
    ) -> None:
        self.likes = likes
        self.store = store
        self.pds = pds
        self.identities = identities
        self.budget = budget

    def read_unread(self, entry: RepoWork, report: BatchReport) -> None:
        """Likes whose commits came without their blocks: read from the liker's PDS (the record
        as it is now; gone means deleted since, and its delete is on the stream). A PDS that
        cannot answer leaves the repository's rev unrecorded. The reads share the repository's
        budget per batch, so a liker's slow PDS delays no one else by more than that: the likes
        left unread wait, like those of a PDS that cannot answer."""
        budget = self.budget()
        try:
            pds_url = self.identities.resolve(entry.did).pds_url
        except UnknownIdentity:
            report.counts["skipped_unknown_identity"] += len(entry.likes_unread)
            return
        except (PdsUnavailable, XrpcError):
            entry.failed = True
            report.counts["failed_like_read"] += len(entry.likes_unread)
            return
        for n, op in enumerate(entry.likes_unread):
            if not budget.take_call():
                entry.failed = True
                report.counts["like_reads_over_budget"] += len(entry.likes_unread) - n
                logger.warning(
                    "firehose like reads over the repository's budget",
                    extra={"did": entry.did, "left": len(entry.likes_unread) - n, "budget": budget.spent},
                )
                break
            self._read_one(pds_url, entry, op, report)

    def _read_one(self, pds_url: str, entry: RepoWork, op: RecordOp, report: BatchReport) -> None:
        try:
            record = self.pds.get_record(pds_url, entry.did, LIKE, op.rkey)
        except (PdsUnavailable, XrpcError):
            entry.failed = True
            report.counts["failed_like_read"] += 1
            return
        if record is None:
            report.counts["skipped_like_gone"] += 1
        elif (problem := record_problem(LIKE, record.value)) is not None:
            report.counts["skipped_invalid"] += 1
            logger.info("firehose record skipped", extra={"uri": record.uri, "problem": problem})
        else:
            entry.likes.append(RecordOp("create", LIKE, op.rkey, record.cid, record.value))
            report.counts["likes_read"] += 1

    def reread(self, liker: str) -> Counter[str]:
        """Reconcile what we hold of a liker's likes with the like records their PDS lists now
        (after a gap in the stream): a record we never saw is applied as a create, one we count
        that is gone as a delete. What we hold is read first, so a like the live consumer
        applies meanwhile is never taken for one that went."""
        report = BatchReport()
        held = self.store.like_records_of(liker)
        try:
            pds_url = self.identities.resolve(liker).pds_url
        except UnknownIdentity:
            report.counts["skipped_unknown_identity"] += 1
            return report.counts
        listing = self.pds.list_records(pds_url, liker, LIKE)
        listed = {record.uri.rsplit("/", 1)[1]: record for record in listing}
        ops: list[tuple[str, RecordOp]] = []
        for rkey, record in listed.items():
            if rkey in held:
                continue
            if record_problem(LIKE, record.value) is None:
                ops.append((liker, RecordOp("create", LIKE, rkey, record.cid, record.value)))
            else:
                report.counts["skipped_invalid"] += 1
        for rkey, item in held.items():
            # A listing cut at its caps does not say what is gone.
            if listing.complete and rkey not in listed and item.get("state") != "deleted":
                ops.append((liker, RecordOp("delete", LIKE, rkey)))
        self.likes.apply(ops, report, lambda: None)
        self.likes.held.flush_pages()
        report.counts["listed"] += len(listed)
        return report.counts

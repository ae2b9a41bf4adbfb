"""A batch planned per repository: which commits are new (their rev after the one applied) and
prove themselves, and what each repository's ops ask for (its tracks and lists applied or
indexed, its likes, its likes whose blocks are missing), before anything is written."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from albums_core.domain.firehose_events import (
    LIKE,
    LIST,
    MISSING_BLOCK,
    TRACK,
    Commit,
    Event,
    Info,
    RecordOp,
    RepoResync,
    Skipped,
    newer,
    seconds_since,
)
from albums_core.observability import logger
from albums_core.ports.firehose import CommitCheck, RepoStates


@dataclass
class BatchReport:
    counts: Counter[str] = field(default_factory=Counter)
    lags: list[float] = field(default_factory=list)


@dataclass
class RepoWork:
    did: str
    rev: str | None = None
    time: str = ""
    index: bool = False  # tracks or lists changed
    resync: bool = False  # its state is not on the stream: read it whatever the CIDs say
    failed: bool = False  # reading the repository failed: its rev is not recorded
    ops: list[RecordOp] = field(default_factory=list)
    likes: list[RecordOp] = field(default_factory=list)
    likes_unread: list[RecordOp] = field(default_factory=list)  # created, their blocks missing


class Planner:
    """Sorts a batch's events; remembers each repository's applied rev for the container's life.
    With `defer_revs` (the consumer, the single writer of revs while it holds the lease) the revs
    applied are written only by `flush_revs`, which the consumer calls before each checkpoint:
    a crash before it replays those commits, which change nothing (as a crash between the
    writes and the revs always did)."""

    def __init__(self, repos: RepoStates, verifier: CommitCheck, defer_revs: bool = False) -> None:
        self.repos = repos
        self.verifier = verifier
        self.defer_revs = defer_revs
        self._revs: dict[str, str | None] = {}
        self._dirty: dict[str, str] = {}  # applied, not written yet

    def plan(self, events: list[Event], report: BatchReport) -> tuple[dict[str, RepoWork], list[Event]]:
        """The work per repository, and the events that are no repository's records (identity
        and account events), in stream order."""
        work: dict[str, RepoWork] = {}
        others: list[Event] = []
        for event in events:
            report.counts["seen"] += 1
            if isinstance(event, Skipped):
                report.counts[f"skipped_{event.reason}"] += 1
            elif isinstance(event, Info):
                report.counts[f"info_{event.name}"] += 1
                logger.warning("firehose info", extra={"info_name": event.name, "info": event.message[:200]})
            elif isinstance(event, Commit):
                self._plan_commit(event, work, report)
            elif isinstance(event, RepoResync):
                entry = work.setdefault(event.did, RepoWork(event.did))
                entry.resync = entry.index = True
                entry.time = event.time
                report.counts["resyncs"] += 1
            else:
                others.append(event)
        return work, others

    def record_revs(self, work: dict[str, RepoWork]) -> None:
        """The revs of the repositories applied whole (a failed read leaves its rev for a replay)."""
        for entry in work.values():
            if entry.rev is not None and not entry.failed:
                self._revs[entry.did] = entry.rev
                self._dirty[entry.did] = entry.rev
        if not self.defer_revs:
            self.flush_revs()

    def flush_revs(self) -> int:
        """Write the revs applied since the last flush; how many."""
        written = 0
        for did, rev in list(self._dirty.items()):
            self.repos.set_repo_rev(did, rev)
            if self._dirty.get(did) == rev:
                del self._dirty[did]
            written += 1
        return written

    @staticmethod
    def lags(work: dict[str, RepoWork], moment: datetime, report: BatchReport) -> None:
        for entry in work.values():
            if entry.time and (entry.index or entry.likes):
                lag = seconds_since(entry.time, moment)
                if lag is not None:
                    report.lags.append(max(0.0, lag))

    def _held_rev(self, did: str) -> str | None:
        if did not in self._revs:
            self._revs[did] = self.repos.repo_state(did).get("rev")
        return self._revs[did]

    def _plan_commit(self, commit: Commit, work: dict[str, RepoWork], report: BatchReport) -> None:
        if not commit.ops:
            report.counts["skipped_filtered"] += 1
            return
        entry = work.get(commit.repo)
        held = entry.rev if entry and entry.rev else self._held_rev(commit.repo)
        if not newer(commit.rev, held):
            report.counts["skipped_replayed"] += 1
            return
        # Only a commit that would be applied is checked (filtered and replayed ones never are).
        refusal = self.verifier.check(commit)
        if refusal is not None:
            report.counts["unverified_commits"] += 1
            report.counts[f"unverified_{refusal.reason}"] += 1
            logger.warning(
                "firehose commit not verified: not applied",
                extra={"did": commit.repo, "seq": commit.seq, "reason": refusal.reason, "detail": refusal.detail[:300]},
            )
            return
        report.counts["verified_commits"] += 1
        entry = work.setdefault(commit.repo, RepoWork(commit.repo))
        entry.rev = commit.rev
        entry.time = commit.time
        for op in commit.ops:
            _sort_op(commit, op, entry, report)


def _sort_op(commit: Commit, op: RecordOp, entry: RepoWork, report: BatchReport) -> None:
    if op.action != "delete" and op.problem is not None:
        report.counts["skipped_invalid"] += 1
        logger.info(
            "firehose record skipped",
            extra={"uri": op.uri(commit.repo), "problem": op.problem, "seq": commit.seq},
        )
        # A record we may hold became invalid (it counts nowhere now), or its block is
        # missing: the repository says what stands (for a like, the record itself).
        missing = op.problem == MISSING_BLOCK
        if missing and op.collection == LIKE:
            entry.likes_unread.append(op)
        elif missing or (op.action == "update" and op.collection in (TRACK, LIST)):
            entry.resync = entry.index = True
        return
    if op.collection == LIKE:
        entry.likes.append(op)
    elif op.collection in (TRACK, LIST):
        entry.ops.append(op)
        entry.index = True

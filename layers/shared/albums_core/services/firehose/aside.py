"""Repositories over their budget. Each repository has a budget per batch (FIREHOSE_REPO_SECONDS
on an injected clock and FIREHOSE_REPO_CALLS PDS calls) for its tracks and lists: one whose
indexing does not fit is set aside, a re-index job (the indexer's background job, from where it
stopped) replacing its events, and its tracks and lists are not worked on again for a while
(doubling from a minute to an hour while it keeps not fitting), so a hostile or slow PDS never
holds up the other repositories."""

from __future__ import annotations

from dataclasses import dataclass

from aws_lambda_powertools.metrics import MetricUnit

from albums_core.config import settings
from albums_core.domain.read_budget import Clock, ReadBudget
from albums_core.observability import logger, metrics
from albums_core.ports.firehose import FirehoseCatalogue, RepoIndexer
from albums_core.services.firehose.planning import BatchReport, RepoWork

# How long a repository over its budget is set aside: doubling from the first to the last.
ASIDE_FIRST_SECONDS = 60.0
ASIDE_LAST_SECONDS = 3600.0


def repo_budget(clock: Clock) -> ReadBudget:
    """One repository's budget for one batch."""
    cfg = settings()
    return ReadBudget(cfg.firehose_repo_seconds, cfg.firehose_repo_calls, clock)


@dataclass
class _Aside:
    """Until `until` its tracks and lists are left to the re-index job; `pending` when events
    came meanwhile (another job then)."""

    until: float
    strikes: int
    pending: bool = False


class SetAside:
    def __init__(self, catalogue: FirehoseCatalogue, indexer: RepoIndexer, clock: Clock) -> None:
        self.catalogue = catalogue
        self.indexer = indexer
        self.clock = clock
        self._aside: dict[str, _Aside] = {}

    def budget(self) -> ReadBudget:
        return repo_budget(self.clock)

    def now(self, entry: RepoWork, report: BatchReport) -> bool:
        """Whether the repository is set aside now: its tracks and lists wait for its job."""
        aside = self._aside.get(entry.did)
        if aside is None or self.clock() >= aside.until:
            return False
        aside.pending = True
        report.counts["set_aside_events"] += max(1, len(entry.ops))
        return True

    def requeue(self, report: BatchReport) -> None:
        """A repository whose time aside is over gets a re-index job for the events that came
        meanwhile (its next events are tried in the batch again)."""
        now = self.clock()
        for did, aside in list(self._aside.items()):
            if now < aside.until or not aside.pending:
                continue
            aside.pending = False
            artist = self.catalogue.get_artist(did)
            if artist is not None and artist.pds_url and self.indexer.request_backfill(artist):
                report.counts["reindex_jobs"] += 1

    def put(self, entry: RepoWork, budget: ReadBudget, job: str | None, report: BatchReport) -> None:
        before = self._aside.get(entry.did)
        strikes = (before.strikes if before else 0) + 1
        wait = min(ASIDE_FIRST_SECONDS * 2 ** (strikes - 1), ASIDE_LAST_SECONDS)
        self._aside[entry.did] = _Aside(self.clock() + wait, strikes)
        report.counts["repos_set_aside"] += 1
        if job:
            report.counts["reindex_jobs"] += 1
        metrics.add_metric(name="FirehoseReposSetAside", unit=MetricUnit.Count, value=1)
        logger.warning(
            "firehose repository over its budget: set aside, a job re-indexes it",
            extra={"did": entry.did, "budget": budget.spent, "calls": budget.calls_made, "job_id": job, "for": wait},
        )

    def fits(self, did: str) -> None:
        """Its indexing fit the budget: no longer set aside."""
        self._aside.pop(did, None)

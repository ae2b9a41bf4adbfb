"""Indexing an artist's repository: their fm.plyr.track and fm.plyr.list (album) records, read
with listRecords, upserted into the catalogue (one run: services/index_run.py; what it reads:
services/index_reading.py).

Every run is bounded, whoever runs the PDS: its listings by pages, records and bytes (the
settings' caps) and by the run's budget (a deadline on an injected clock and, for the firehose
consumer, a number of calls), checked before each page and between writes; half the time goes
to listing, so what was read is written. What a run leaves (a login's LOGIN_INDEX_SECONDS, a
sync's SYNC_INDEX_SECONDS, a job's INDEX_JOB_SECONDS) is a background job: a job item in the
catalogue, which its stream hands to ProcessCatalogueStreamFunction, which continues from the
listing's cursor."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from albums_core.config import settings
from albums_core.domain.models import Artist
from albums_core.domain.read_budget import ReadBudget
from albums_core.domain.records import now_iso
from albums_core.observability import logger
from albums_core.ports import IndexCatalogue, JobQueue, PageCache, PdsReader
from albums_core.services.cleanup import PENDING, albums_in_cleanup
from albums_core.services.index_run import UNTITLED, Indexer

# The kind of the job item that finishes an indexing a login left unfinished.
INDEX_JOB = "index_artist"

__all__ = ["INDEX_JOB", "UNTITLED", "IndexOutcome", "Indexer", "Indexing"]


@dataclass(frozen=True)
class IndexOutcome:
    """A bounded indexing: what it changed, whether it did all, and the job that goes on."""

    counts: dict[str, int]
    complete: bool
    job: str | None


class Indexing:
    def __init__(self, repo: IndexCatalogue, reader: PdsReader, cache: PageCache, jobs: JobQueue) -> None:
        self.repo = repo
        self.reader = reader
        self.cache = cache
        self.jobs = jobs

    def index(
        self,
        artist: Artist,
        budget: ReadBudget | None = None,
        resume: dict[str, Any] | None = None,
        job_id: str | None = None,
    ) -> IndexOutcome:
        """One bounded run (None: a background job's INDEX_JOB_SECONDS); what it leaves is a
        background job (`job_id`: at most once)."""
        spend = budget or ReadBudget(settings().index_job_seconds)
        run = Indexer(artist, self.repo, self.reader, self.cache, spend, set(), resume)
        counts = run.run(lambda: albums_in_cleanup(self.jobs, artist.did))
        following = run.continuation()
        job = self.request_backfill(artist, job_id, resume=following) if following is not None else None
        if job:
            logger.info(
                "indexing cut short by its budget; a job goes on",
                extra={"did": artist.did, "job_id": job, "budget": run.budget.spent, "links": following.get("links")}
                if following
                else {"did": artist.did, "job_id": job},
            )
        return IndexOutcome(counts, following is None, job)

    def sync_artist(self, artist: Artist, budget: ReadBudget | None = None) -> dict[str, int]:
        return self.index(artist, budget).counts

    def sync_for_caller(self, artist: Artist) -> dict[str, Any]:
        """POST /artists/me/sync: SYNC_INDEX_SECONDS of indexing, the rest a background job (so
        it answers in time whatever the PDS does); a PDS failure raised as the domain error the
        HTTP layer answers (502; 403 when the PDS refuses the account), as the album mutations do."""
        pds_url = artist.pds_url
        assert pds_url
        with self.reader.answering(pds_url, artist.did):
            out = self.index(artist, budget=ReadBudget(settings().sync_index_seconds))
        return {**out.counts, "complete": out.complete}

    def request_backfill(
        self, artist: Artist, job_id: str | None = None, resume: dict[str, Any] | None = None
    ) -> str | None:
        """A job item that has the catalogue stream index the artist's repository (from where
        `resume` says an earlier run stopped). With a `job_id` chosen by the caller it is
        requested at most once: None when it was already."""
        job_id = job_id or uuid.uuid4().hex
        job: dict[str, Any] = {
            "job_id": job_id,
            "kind": INDEX_JOB,
            "status": PENDING,
            "artist_did": artist.did,
            "created_at": now_iso(),
        }
        if resume:
            job["resume"] = resume
        return job_id if self.jobs.create(job, only_new=True) else None

    def run_backfill(self, job_id: str, budget: ReadBudget | None = None) -> str:
        """The job of `request_backfill` (from the catalogue stream): INDEX_JOB_SECONDS of the
        indexing from where it stopped, another job for what is left, then this job goes.
        Idempotent: "gone" when it already ran (a stream record delivered again)."""
        job = self.jobs.get(job_id)
        if job is None:
            return "gone"
        artist = self.repo.get_artist(str(job.get("artist_did")))
        if artist is not None and artist.pds_url:
            resume = job.get("resume") if isinstance(job.get("resume"), dict) else None
            link = int((resume or {}).get("links", 0)) + 1
            out = self.index(artist, budget, resume=resume, job_id=f"{job_id[:40]}-{link}")
            logger.info("background indexing ran", extra={"job_id": job_id, "next_job": out.job, **out.counts})
        self.jobs.finish(job_id)
        return "done"

    def index_at_login(self, artist: Artist) -> dict[str, Any]:
        """What a login indexes before it answers: LOGIN_INDEX_SECONDS of it, and a background
        job for the rest when that is not all."""
        out = self.index(artist, ReadBudget(settings().login_index_seconds))
        return {**out.counts, "complete": out.complete, "backfill_job": out.job}

"""Reading a liker's likes again from their repository (a job the catalogue stream runs): after a
gap in the firehose (`#info OutdatedCursor`), the likes given or withdrawn in it never reached
us. Each liker we hold like records of gets one job; it reconciles what we hold with the
`fm.plyr.like` records the liker's PDS lists, through the consumer's own like logic (counted
once per (liker, track), tombstones respected: like_reads.py), so it is idempotent and safe
beside the live consumer."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable

from albums_core.domain.records import now_iso
from albums_core.observability import logger
from albums_core.ports import JobQueue
from albums_core.services import cleanup

LIKES_JOB = "reread_likes"


def request_like_reread(liker_did: str, jobs: JobQueue, job_id: str | None = None) -> str | None:
    """A job item that has the catalogue stream read the liker's likes again. With a `job_id`
    chosen by the caller it is requested at most once: None when it was already."""
    job_id = job_id or uuid.uuid4().hex
    job = {
        "job_id": job_id,
        "kind": LIKES_JOB,
        "status": cleanup.PENDING,
        "artist_did": liker_did,  # the repository the job reads (jobs are listed by it)
        "created_at": now_iso(),
    }
    return job_id if jobs.create(job, only_new=True) else None


class LikeReread:
    def __init__(self, jobs: JobQueue, reread: Callable[[str], Counter[str]]) -> None:
        """`reread(liker)` reconciles one liker's likes (like_reads.LikeReads.reread)."""
        self.jobs = jobs
        self.reread = reread

    def run(self, job_id: str) -> str:
        """The job of `request_like_reread`, then the job goes. "gone" when it already ran (a
        stream record delivered again). A PDS that cannot answer raises: the stream delivers it
        again."""
        job = self.jobs.get(job_id)
        if job is None:
            return "gone"
        counts = self.reread(str(job["artist_did"]))
        logger.info("likes read again", extra={"job_id": job_id, **counts})
        self.jobs.finish(job_id)
        return "done"

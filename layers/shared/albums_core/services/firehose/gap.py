"""A gap in the firehose: the relay answered our cursor with `#info OutdatedCursor` (it no longer
keeps the events after it), so whatever happened in between is lost to the stream. Every artist
the catalogue holds is re-read from their PDS: one `index_artist` job each (the whole,
idempotent indexing the catalogue stream runs), requested a page of artists at a time between
the consumer's batches, so the stream is never held up for long.

The gap and the progress of its re-read live on the consumer's lease item: a run that ends in the
middle of it leaves it pending and the next run finishes it; each job's id is derived from the
gap and the artist, so no artist is requested twice for one gap. A second OutdatedCursor in the
same run opens nothing new (the re-read under way reads everything it would)."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable

from aws_lambda_powertools.metrics import MetricUnit

from albums_core.domain.firehose_events import GAP_PENDING as PENDING
from albums_core.domain.firehose_events import Gap
from albums_core.domain.models import Artist
from albums_core.domain.records import now_iso
from albums_core.observability import logger, metrics
from albums_core.ports.stores import FirehoseGaps

# A job requested once per id: (what it reads, its id) -> the id, None when it was already.
IndexRequest = Callable[[Artist, str], str | None]
LikesRequest = Callable[[str, str], str | None]

OUTDATED_CURSOR = "OutdatedCursor"


def job_id(gap_id: str, did: str) -> str:
    """The index job of one artist for one gap: the same id however often it is requested."""
    return "gap-" + uuid.uuid5(uuid.NAMESPACE_URL, f"{gap_id}/{did}").hex


class GapBackfill:
    """The re-read of every artist after a gap, for the run holding the lease `holder`."""

    def __init__(
        self,
        source: str,
        holder: str,
        gaps: FirehoseGaps,
        request_index: IndexRequest,
        request_likes: LikesRequest,
        page_size: int = 100,
    ) -> None:
        """`request_index` asks for an artist's index job, `request_likes` for a liker's likes
        read again (services/firehose/like_reread.py), each under the id given."""
        self.source = source
        self.holder = holder
        self.gaps = gaps
        self.request_index = request_index
        self.request_likes = request_likes
        self.page_size = page_size
        self.run_id = uuid.uuid4().hex  # the id of a gap this run opens
        self.gap: Gap | None = None  # the re-read under way (this run's, or one a run left pending)
        self.counts: Counter[str] = Counter()

    @property
    def pending(self) -> bool:
        return self.gap is not None

    def resume(self) -> None:
        """At the start of a run: take over a re-read an earlier run left unfinished."""
        gap = self.gaps.current(self.source)
        if gap is not None and gap.status == PENDING:
            self.gap = gap
            logger.warning(
                "firehose gap: resuming the re-read of every artist",
                extra={"gap_id": gap.gap_id, "gap_at": gap.at, "jobs_so_far": gap.enqueued},
            )

    def outdated(self, cursor: int | None) -> bool:
        """The relay said `cursor` is older than it keeps. Opens the gap (the re-read starts at the
        next `step`); False when this run opened one already or the lease is lost meanwhile."""
        if not self.gaps.open(self.source, self.holder, self.run_id, cursor, now_iso()):
            self.counts["gap_repeated"] += 1
            logger.warning("firehose gap: OutdatedCursor again in this run; the re-read under way covers it")
            return False
        self.gap = Gap(self.run_id, now_iso(), cursor, PENDING, None, 0)
        self.counts["gap_opened"] += 1
        logger.warning(
            "firehose gap: the relay no longer has the events after our cursor; every artist is re-read",
            extra={"cursor": cursor, "gap_id": self.run_id},
        )
        metrics.add_metric(name="FirehoseGaps", unit=MetricUnit.Count, value=1)
        return True

    def step(self) -> int:
        """Request the index jobs of one page of artists; how many were new. When the last page
        is through, the gap is marked done."""
        gap = self.gap
        if gap is None:
            return 0
        artists, likers, after = self.gaps.artists_page(self.page_size, gap.after)
        created = 0
        for artist in artists:
            if self.request_index(artist, job_id(gap.gap_id, artist.did)) is not None:
                created += 1
        # Likes live in the likers' repositories: each liker we know is read again too.
        for liker in likers:
            if self.request_likes(liker, job_id(gap.gap_id, f"likes/{liker}")) is not None:
                created += 1
        self.counts["gap_artists"] += len(artists)
        self.counts["gap_likers"] += len(likers)
        self.counts["gap_jobs"] += created
        enqueued = gap.enqueued + created
        if not self.gaps.advance(self.source, self.holder, gap.gap_id, after, enqueued, now_iso()):
            # The lease went to another run (it finishes the re-read), or a newer gap replaced it.
            logger.warning("firehose gap: re-read handed over", extra={"gap_id": gap.gap_id})
            self.gap = None
            return created
        if created:
            metrics.add_metric(name="FirehoseGapJobs", unit=MetricUnit.Count, value=created)
        if after is None:
            logger.warning(
                "firehose gap: every artist's re-read requested",
                extra={"gap_id": gap.gap_id, "gap_at": gap.at, "cursor": gap.cursor, "jobs": enqueued},
            )
            self.counts["gap_done"] += 1
            self.gap = None
        else:
            self.gap = Gap(gap.gap_id, gap.at, gap.cursor, PENDING, after, enqueued)
        return created

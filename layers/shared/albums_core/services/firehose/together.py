"""A batch's repositories applied several at once: each repository's tracks and lists (tracks.py,
lists.py) in a thread of its own, up to REPO_WORKERS at once. Each waits mostly on DynamoDB, and
on the whole network's stream a burst of album lists of different artists, applied one after
another, held up every like behind it (bench section 9). A repository's ops stay in one thread,
in stream order; repositories touch only their own artist's items (a list naming another
artist's track goes to the indexer), and the likes, which cross repositories, are applied after
all of them (ingest.py)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from functools import partial
from typing import TypeVar

from albums_core.observability import logger
from albums_core.services.firehose.planning import BatchReport, RepoWork

# Repositories applied at once within a batch.
REPO_WORKERS = 4
# How often the calling thread wakes to beat while repositories are applied or indexed (the
# heartbeat itself checkpoints only once a third of the lease has gone by).
BEAT_SECONDS = 1.0

Apply = Callable[[RepoWork, BatchReport], None]
T = TypeVar("T")


def apply_each(entries: list[RepoWork], apply: Apply, beat: Callable[[], None]) -> list[BatchReport]:
    """`apply(entry, report)` for each entry, with a report of its own (returned in the entries'
    order: the caller adds them up once what they queued is settled). One entry is applied in
    the calling thread; several, up to REPO_WORKERS at once, while the calling thread renews the
    lease (`beat`). A failure is raised once every entry has ended, the first in order (each
    logged with its repository)."""
    reports = [BatchReport() for _ in entries]
    if len(entries) <= 1:
        for entry, report in zip(entries, reports, strict=True):
            apply(entry, report)
            beat()
        return reports
    calls = [partial(apply, entry, report) for entry, report in zip(entries, reports, strict=True)]
    futures = beating(calls, REPO_WORKERS, beat, "repo")
    failed = [(entry, f.exception()) for entry, f in zip(entries, futures, strict=True) if f.exception()]
    for entry, exc in failed:  # each with its repository; the first is raised below
        logger.error("firehose repository not applied", extra={"did": entry.did}, exc_info=exc)
    if failed:
        first = failed[0][1]
        assert first is not None
        raise first
    beat()
    return reports


def beating(calls: Sequence[Callable[[], T]], workers: int, beat: Callable[[], None], prefix: str) -> list[Future[T]]:
    """The calls in up to `workers` threads, while the calling thread renews the lease (`beat`)
    every BEAT_SECONDS; their futures once every one has ended. A `beat` that raises (the lease
    lost) cancels the calls not started, waits for the running ones, and is raised."""
    with ThreadPoolExecutor(min(workers, len(calls)), thread_name_prefix=prefix) as pool:
        futures = [pool.submit(call) for call in calls]
        try:
            pending = set(futures)
            while pending:
                pending = wait(pending, timeout=BEAT_SECONDS).not_done
                if pending:
                    beat()
        except BaseException:
            for future in futures:
                future.cancel()  # the lease lost: start no more
            raise
    return futures


def add_up(report: BatchReport, parts: list[BatchReport]) -> None:
    for part in parts:
        report.counts.update(part.counts)
        report.lags.extend(part.lags)

"""The firehose consumer's run (an application service): one holder at a time (a lease item),
events applied in batches, the cursor checkpointed only after the events before it are applied,
the stream held until shortly before the invocation must end. The checkpoint (which renews the
lease) is written by time, not per batch: at most every `checkpoint_seconds`, and at once at the
end of a run and with a gap; the repositories' revs applied are written just before it. The
next invocation resumes from the checkpoint: a crash, a timeout or a redeploy replays at most the
batches of the last `checkpoint_seconds`, which are skipped by their revs or change nothing
(Ingest is idempotent)."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

from aws_lambda_powertools.metrics import MetricUnit

from albums_core.domain.firehose_events import Event, Info
from albums_core.observability import logger, metrics
from albums_core.ports.firehose import FirehoseLeases
from albums_core.services.firehose.gap import OUTDATED_CURSOR
from albums_core.services.firehose.planning import BatchReport

# More events that fail alone than this in one run are not the events' fault.
_MAX_FAILURES = 20


class LeaseLost(Exception):
    """Another consumer holds the lease now: stop at once, checkpoint nothing."""


class Source(Protocol):
    counts: Counter[str]

    def wait_connected(self, timeout: float) -> bool: ...
    def start(self) -> Any: ...
    def take(self, limit: int, wait: float) -> list[Event]: ...
    def stop(self, timeout: float = 3.0) -> None: ...


class Applier(Protocol):
    def apply(
        self, events: list[Event], now: Any = None, heartbeat: Callable[[], None] | None = None
    ) -> BatchReport: ...
    def flush_revs(self) -> None:
        """Write the revs applied since the last call (before the checkpoint moves past them)."""
        ...


class GapRereads(Protocol):
    """services/firehose/gap.GapBackfill, as the consumer drives it."""

    counts: Counter[str]

    @property
    def pending(self) -> bool: ...
    def resume(self) -> None: ...
    def outdated(self, cursor: int | None) -> bool: ...
    def step(self) -> int: ...


@dataclass(frozen=True)
class ConsumerConfig:
    relay_url: str
    start_cursor: int | None = None  # with no checkpoint for this relay: None is live
    lease_seconds: float = 30.0
    hold_seconds: float = 0.0  # 0: until `stop_margin_seconds` before the invocation's end
    stop_margin_seconds: float = 20.0
    # A relay not reached in this time ends the run (the next scheduled one tries again) instead
    # of holding a function that can do nothing.
    connect_seconds: float = 10.0
    batch_size: int = 500
    batch_wait_seconds: float = 0.25
    # The cursor moved on is written at most this often (each write also renews the lease): with
    # sparse events nearly every batch is one event, and a write per batch was most of the cost.
    checkpoint_seconds: float = 1.0
    metrics_every_seconds: float = 60.0
    # After an OutdatedCursor, the artists whose re-read is requested between two batches
    # (at most this many catalogue items scanned).
    gap_page_size: int = 100

    @property
    def source_id(self) -> str:
        """Which relay a cursor belongs to (sequence numbers are the relay's own)."""
        parts = urlsplit(self.relay_url)
        return parts.netloc or self.relay_url


@dataclass
class RunReport:
    status: str = "ok"
    cursor: int | None = None
    batches: int = 0
    busy_seconds: float = 0.0  # spent applying batches
    counts: Counter[str] = field(default_factory=Counter)
    lags: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        lags = sorted(self.lags)
        return {
            "status": self.status,
            "cursor": self.cursor,
            "batches": self.batches,
            "busy_seconds": round(self.busy_seconds, 3),
            "lag_p50": _quantile(lags, 0.5),
            "lag_p95": _quantile(lags, 0.95),
            **dict(sorted(self.counts.items())),
        }


def _quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    return round(values[min(len(values) - 1, int(q * len(values)))], 3)


@dataclass
class _Run:
    """One run's stream and where it stands."""

    source: Source
    gap: GapRereads
    cursor: int | None
    began: float
    last_checkpoint: float
    last_metrics: float
    checkpointed: int | None = None  # the cursor last written
    published: Counter[str] = field(default_factory=Counter)


class Consumer:
    def __init__(
        self,
        config: ConsumerConfig,
        ingest: Applier,
        leases: FirehoseLeases,
        gaps: Callable[[str, str, int], GapRereads],
        source_factory: Callable[[str, int | None], Source],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`gaps(source_id, holder, page_size)` makes the run's re-read after a gap; `clock`
        times the run, its checkpoints and metrics (injected by tests)."""
        self.config = config
        self.ingest = ingest
        self.leases = leases
        self.gaps = gaps
        self.source_factory = source_factory
        self.clock = clock
        self.holder = uuid.uuid4().hex
        self._failures = 0

    def run(self, remaining_ms: Callable[[], int], should_stop: Callable[[], bool] = lambda: False) -> RunReport:
        report = RunReport()
        run = self._start(report)
        if run is None:
            return report
        try:
            while not should_stop() and not self._over(run, remaining_ms):
                if not self._step(run, report):
                    return report
        finally:
            self._finish(run, report)
        return report

    def _start(self, report: RunReport) -> _Run | None:
        """The lease, the gap left pending, the relay connected; None (and why, in the report)
        when the run cannot go on."""
        cfg = self.config
        lease = self.leases.acquire(cfg.source_id, self.holder, cfg.lease_seconds)
        if lease is None:
            report.status = "lease held by another consumer"
            return None
        began = self.clock()
        cursor = lease.cursor if lease.cursor is not None else cfg.start_cursor
        gap = self.gaps(cfg.source_id, self.holder, cfg.gap_page_size)
        gap.resume()
        report.cursor = cursor
        source = self.source_factory(cfg.relay_url, cursor)
        source.start()
        if not source.wait_connected(cfg.connect_seconds):
            source.stop()
            self.leases.release(cfg.source_id, self.holder)
            report.status = "relay unreachable"
            logger.warning("firehose relay unreachable", extra={"relay": cfg.source_id})
            metrics.add_metric(name="FirehoseRelayUnreachable", unit=MetricUnit.Count, value=1)
            return None
        return _Run(source, gap, cursor, began, self.clock(), self.clock(), checkpointed=cursor)

    def _over(self, run: _Run, remaining_ms: Callable[[], int]) -> bool:
        cfg = self.config
        if remaining_ms() < cfg.stop_margin_seconds * 1000:
            return True
        return bool(cfg.hold_seconds and self.clock() - run.began > cfg.hold_seconds)

    def _step(self, run: _Run, report: RunReport) -> bool:
        """One batch (or a wait for one), the checkpoint, the gap's next page, the metrics;
        False when the lease was lost (the run stops at once)."""
        cfg = self.config
        events = run.source.take(cfg.batch_size, cfg.batch_wait_seconds)
        if events and not self._batch(run, events, report):
            return False
        since = self.clock() - run.last_checkpoint
        moved = run.cursor != run.checkpointed and since >= cfg.checkpoint_seconds
        if (moved or since > cfg.lease_seconds / 3) and not self._checkpoint(run, run.cursor, report):
            return False
        if run.gap.pending:
            run.gap.step()
        if self.clock() - run.last_metrics > cfg.metrics_every_seconds:
            self._publish(report, run.source, run.published, holding=True)
            run.last_metrics = self.clock()
        return True

    def _batch(self, run: _Run, events: list[Event], report: RunReport) -> bool:
        cfg = self.config
        began_batch = time.perf_counter()
        committed = run.cursor
        last_beat = [self.clock()]

        def heartbeat() -> None:
            if self.clock() - max(last_beat[0], run.last_checkpoint) < cfg.lease_seconds / 3:
                return
            if not self._checkpoint(run, committed, report):
                raise LeaseLost()
            last_beat[0] = self.clock()

        try:
            batch = self._apply(events, heartbeat)
        except LeaseLost:
            return False
        report.busy_seconds += time.perf_counter() - began_batch
        report.batches += 1
        report.counts.update(batch.counts)
        report.lags.extend(batch.lags)
        outdated = any(isinstance(event, Info) and event.name == OUTDATED_CURSOR for event in events)
        if outdated:
            # What was applied before it checkpointed first, then the gap recorded before the
            # checkpoint moves past it: a run that ends now leaves the gap recorded, and the
            # next one re-reads every artist.
            if not self._checkpoint(run, run.cursor, report):
                return False
            run.gap.outdated(run.cursor)
        run.cursor = _advance(run.cursor, events)
        report.cursor = run.cursor
        if outdated or any(isinstance(event, Info) and event.name == "FutureCursor" for event in events):
            run.last_checkpoint = float("-inf")  # the cursor after a gap or a restart is written at once
        return True

    def _checkpoint(self, run: _Run, cursor: int | None, report: RunReport) -> bool:
        """The revs applied, then the cursor and the lease renewed; False (the run stops at
        once) when another consumer holds the lease now. The revs go first, unconditionally:
        they must be durable before the cursor moves past their commits. So a consumer that
        lost its lease still writes, here, the revs of commits it applied itself before it
        noticed: harmless, since those commits' writes are already made and a rev never moves
        back (a newer holder's stands). After the refused checkpoint it writes nothing."""
        cfg = self.config
        self.ingest.flush_revs()
        if not self.leases.checkpoint(cfg.source_id, self.holder, cursor, cfg.lease_seconds):
            report.status = "lease lost"
            logger.warning("firehose lease lost", extra={"cursor": cursor})
            return False
        run.last_checkpoint = self.clock()
        run.checkpointed = cursor
        return True

    def _finish(self, run: _Run, report: RunReport) -> None:
        cfg = self.config
        run.source.stop()
        report.counts.update(run.gap.counts)
        if report.status == "ok" and self._checkpoint(run, run.cursor, report):
            self.leases.release(cfg.source_id, self.holder)
        # adds the source's counts itself
        self._publish(report, run.source, run.published, holding=report.status == "ok")
        report.counts.update({f"source_{k}": v for k, v in run.source.counts.items()})

    def _apply(self, events: list[Event], heartbeat: Callable[[], None]) -> BatchReport:
        """The batch at once; when that fails, event by event, so one event that cannot be
        applied is logged, counted and passed over instead of stopping the consumer for good
        (an exception that is not the event's fault fails the invocation: the next resumes)."""
        try:
            return self.ingest.apply(events, heartbeat=heartbeat)
        except LeaseLost:
            raise
        except Exception:  # noqa: BLE001 - retried one by one below
            logger.warning("firehose batch failed; applying its events one by one", exc_info=True)
        total = BatchReport()
        for event in events:
            try:
                one = self.ingest.apply([event], heartbeat=heartbeat)
            except LeaseLost:
                raise
            except Exception:
                self._failures += 1
                if self._failures > _MAX_FAILURES:
                    raise  # not one event's fault: let the invocation fail and resume later
                logger.exception("firehose event failed and was passed over", extra={"seq": event.seq})
                total.counts["failed_event"] += 1
                continue
            total.counts.update(one.counts)
            total.lags.extend(one.lags)
        return total

    def _publish(self, report: RunReport, source: Source, published: Counter[str], holding: bool) -> None:
        """Powertools metrics (EMF): what changed since the last publication, and the heartbeat
        while the lease is held (renewed within the last lease_seconds / 3 to get here): its
        alarm treats a missing heartbeat as breaching, so a consumer that stopped, lost its
        lease or cannot reach the relay alarms though it publishes nothing."""
        if holding:
            metrics.add_metric(name="FirehoseHeartbeat", unit=MetricUnit.Count, value=1)
        counts = report.counts + Counter({f"source_{k}": v for k, v in source.counts.items()})
        seen = counts["seen"] - published["seen"]
        applied = counts["applied"] - published["applied"]
        skipped = sum(v for k, v in counts.items() if k.startswith("skipped_")) - published["skipped"]
        reconnects = max(0, counts["source_connects"] - 1) - published["reconnects"]
        unverified = counts["unverified_commits"] - published["unverified"]
        metrics.add_metric(name="FirehoseEventsSeen", unit=MetricUnit.Count, value=seen)
        metrics.add_metric(name="FirehoseEventsApplied", unit=MetricUnit.Count, value=applied)
        metrics.add_metric(name="FirehoseEventsSkipped", unit=MetricUnit.Count, value=skipped)
        metrics.add_metric(name="FirehoseReconnects", unit=MetricUnit.Count, value=reconnects)
        metrics.add_metric(name="FirehoseCommitsUnverified", unit=MetricUnit.Count, value=unverified)
        fresh = report.lags[published["lags"] :]
        if fresh:
            metrics.add_metric(name="FirehoseLagSeconds", unit=MetricUnit.Seconds, value=max(fresh))
        published.update(
            {
                "seen": seen,
                "applied": applied,
                "skipped": skipped,
                "reconnects": reconnects,
                "unverified": unverified,
                "lags": len(fresh),
            }
        )
        metrics.flush_metrics()


def _advance(cursor: int | None, events: list[Event]) -> int | None:
    """The checkpoint after a batch: the last sequence applied. After a FutureCursor error the
    stream restarts from now, so the old (future) cursor is dropped."""
    for event in events:
        if isinstance(event, Info) and event.name == "FutureCursor":
            cursor = None
        elif event.seq is not None:
            cursor = event.seq
    return cursor

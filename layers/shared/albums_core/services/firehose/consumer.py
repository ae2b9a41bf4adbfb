"""The firehose consumer's run (an application service): one holder at a time (a lease item),
events applied in batches, the cursor checkpointed only after the events before it are applied,
the stream held until shortly before the invocation must end. The next invocation resumes from
the checkpoint: a crash, a timeout or a redeploy replays at most one batch, which changes
nothing (Ingest is idempotent)."""

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
    published: Counter[str] = field(default_factory=Counter)


class Consumer:
    def __init__(
        self,
        config: ConsumerConfig,
        ingest: Applier,
        leases: FirehoseLeases,
        gaps: Callable[[str, str, int], GapRereads],
        source_factory: Callable[[str, int | None], Source],
    ) -> None:
        """`gaps(source_id, holder, page_size)` makes the run's re-read after a gap."""
        self.config = config
        self.ingest = ingest
        self.leases = leases
        self.gaps = gaps
        self.source_factory = source_factory
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
        began = time.monotonic()
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
        return _Run(source, gap, cursor, began, time.monotonic(), time.monotonic())

    def _over(self, run: _Run, remaining_ms: Callable[[], int]) -> bool:
        cfg = self.config
        if remaining_ms() < cfg.stop_margin_seconds * 1000:
            return True
        return bool(cfg.hold_seconds and time.monotonic() - run.began > cfg.hold_seconds)

    def _step(self, run: _Run, report: RunReport) -> bool:
        """One batch (or a wait for one), the checkpoint, the gap's next page, the metrics;
        False when the lease was lost (the run stops at once)."""
        cfg = self.config
        events = run.source.take(cfg.batch_size, cfg.batch_wait_seconds)
        if events and not self._batch(run, events, report):
            return False
        if events or time.monotonic() - run.last_checkpoint > cfg.lease_seconds / 3:
            if not self.leases.checkpoint(cfg.source_id, self.holder, run.cursor, cfg.lease_seconds):
                report.status = "lease lost"
                logger.warning("firehose lease lost", extra={"cursor": run.cursor})
                return False
            run.last_checkpoint = time.monotonic()
        if run.gap.pending:
            run.gap.step()
        if time.monotonic() - run.last_metrics > cfg.metrics_every_seconds:
            self._publish(report, run.source, run.published, holding=True)
            run.last_metrics = time.monotonic()
        return True

    def _batch(self, run: _Run, events: list[Event], report: RunReport) -> bool:
        cfg = self.config
        began_batch = time.perf_counter()
        committed = run.cursor
        last_beat = [time.monotonic()]

        def heartbeat() -> None:
            if time.monotonic() - last_beat[0] < cfg.lease_seconds / 3:
                return
            if not self.leases.checkpoint(cfg.source_id, self.holder, committed, cfg.lease_seconds):
                raise LeaseLost()
            last_beat[0] = time.monotonic()

        try:
            batch = self._apply(events, heartbeat)
        except LeaseLost:
            report.status = "lease lost"
            logger.warning("firehose lease lost", extra={"cursor": run.cursor})
            return False
        report.busy_seconds += time.perf_counter() - began_batch
        report.batches += 1
        report.counts.update(batch.counts)
        report.lags.extend(batch.lags)
        for event in events:
            if isinstance(event, Info) and event.name == OUTDATED_CURSOR:
                # Before the checkpoint moves past it: a run that ends now leaves the gap
                # recorded, and the next one re-reads every artist.
                run.gap.outdated(run.cursor)
        run.cursor = _advance(run.cursor, events)
        report.cursor = run.cursor
        return True

    def _finish(self, run: _Run, report: RunReport) -> None:
        cfg = self.config
        run.source.stop()
        report.counts.update(run.gap.counts)
        if report.status == "ok":
            self.leases.checkpoint(cfg.source_id, self.holder, run.cursor, cfg.lease_seconds)
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

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

from albums_core.adapters.dynamodb.firehose_state import FirehoseState
from albums_core.domain.firehose_events import Event, Info
from albums_core.observability import logger, metrics
from albums_core.services.firehose_gap import OUTDATED_CURSOR, GapBackfill
from albums_core.services.firehose_ingest import BatchReport, Ingest


class LeaseLost(Exception):
    """Another consumer holds the lease now: stop at once, checkpoint nothing."""


class Source(Protocol):
    counts: Counter[str]

    def wait_connected(self, timeout: float) -> bool: ...
    def start(self) -> Any: ...
    def take(self, limit: int, wait: float) -> list[Event]: ...
    def stop(self, timeout: float = 3.0) -> None: ...


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


def _default_source(relay_url: str, cursor: int | None) -> Source:
    from albums_core.adapters.atproto.firehose import FirehoseSource  # the SDK: only when consuming

    return FirehoseSource(relay_url, cursor)


class Consumer:
    def __init__(
        self,
        config: ConsumerConfig,
        ingest: Ingest | None = None,
        state: FirehoseState | None = None,
        source_factory: Callable[[str, int | None], Source] = _default_source,
    ) -> None:
        self.config = config
        self.ingest = ingest or Ingest(state)
        self.state = state or self.ingest.state
        self.source_factory = source_factory
        self.holder = uuid.uuid4().hex
        self._failures = 0

    def run(self, remaining_ms: Callable[[], int], should_stop: Callable[[], bool] = lambda: False) -> RunReport:
        cfg = self.config
        report = RunReport()
        lease = self.state.acquire(cfg.source_id, self.holder, cfg.lease_seconds)
        if lease is None:
            report.status = "lease held by another consumer"
            return report
        began = time.monotonic()
        cursor = lease.cursor if lease.cursor is not None else cfg.start_cursor
        # Until the firehose services are wired by albums_core.bootstrap (issue #21).
        from albums_core import bootstrap

        gaps, backfills, likes = bootstrap.gap_ports(self.state.repo)
        gap = GapBackfill(cfg.source_id, self.holder, gaps, backfills, likes, page_size=cfg.gap_page_size)
        gap.resume()
        report.cursor = cursor
        source = self.source_factory(cfg.relay_url, cursor)
        source.start()
        if not source.wait_connected(cfg.connect_seconds):
            source.stop()
            self.state.release(cfg.source_id, self.holder)
            report.status = "relay unreachable"
            logger.warning("firehose relay unreachable", extra={"relay": cfg.source_id})
            metrics.add_metric(name="FirehoseRelayUnreachable", unit=MetricUnit.Count, value=1)
            return report
        last_checkpoint = time.monotonic()
        last_metrics = time.monotonic()
        published: Counter[str] = Counter()
        try:
            while not should_stop():
                if remaining_ms() < cfg.stop_margin_seconds * 1000:
                    break
                if cfg.hold_seconds and time.monotonic() - began > cfg.hold_seconds:
                    break
                events = source.take(cfg.batch_size, cfg.batch_wait_seconds)
                if events:
                    began_batch = time.perf_counter()
                    committed = cursor
                    last_beat = [time.monotonic()]

                    def heartbeat(committed: int | None = committed, last_beat: list[float] = last_beat) -> None:
                        if time.monotonic() - last_beat[0] < cfg.lease_seconds / 3:
                            return
                        if not self.state.checkpoint(cfg.source_id, self.holder, committed, cfg.lease_seconds):
                            raise LeaseLost()
                        last_beat[0] = time.monotonic()

                    try:
                        batch = self._apply(events, heartbeat)
                    except LeaseLost:
                        report.status = "lease lost"
                        logger.warning("firehose lease lost", extra={"cursor": cursor})
                        return report
                    report.busy_seconds += time.perf_counter() - began_batch
                    report.batches += 1
                    report.counts.update(batch.counts)
                    report.lags.extend(batch.lags)
                    for event in events:
                        if isinstance(event, Info) and event.name == OUTDATED_CURSOR:
                            # Before the checkpoint moves past it: a run that ends now leaves
                            # the gap recorded, and the next one re-reads every artist.
                            gap.outdated(cursor)
                    cursor = _advance(cursor, events)
                    report.cursor = cursor
                if events or time.monotonic() - last_checkpoint > cfg.lease_seconds / 3:
                    if not self.state.checkpoint(cfg.source_id, self.holder, cursor, cfg.lease_seconds):
                        report.status = "lease lost"
                        logger.warning("firehose lease lost", extra={"cursor": cursor})
                        return report
                    last_checkpoint = time.monotonic()
                if gap.pending:
                    gap.step()
                if time.monotonic() - last_metrics > cfg.metrics_every_seconds:
                    self._publish(report, source, published, holding=True)
                    last_metrics = time.monotonic()
        finally:
            source.stop()
            report.counts.update(gap.counts)
            if report.status == "ok":
                self.state.checkpoint(cfg.source_id, self.holder, cursor, cfg.lease_seconds)
                self.state.release(cfg.source_id, self.holder)
            # adds the source's counts itself
            self._publish(report, source, published, holding=report.status == "ok")
            report.counts.update({f"source_{k}": v for k, v in source.counts.items()})
        return report

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
                if self._failures > 20:
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

"""When the consumer checkpoints (issue 22 §3): by time, not per batch (at most every
`checkpoint_seconds` of its clock, each write also renewing the lease), always before the lease
could lapse, at the end of a run and when a gap is recorded; the revs applied are written just
before each checkpoint; a lost lease stops the run at once with nothing written after it."""

from __future__ import annotations

from collections import Counter
from typing import Any

from albums_core.domain.firehose_events import Event, Info, Lease, Skipped
from albums_core.services.firehose.consumer import Consumer, ConsumerConfig
from albums_core.services.firehose.gap import OUTDATED_CURSOR
from albums_core.services.firehose.planning import BatchReport


class Clock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


class Log:
    """What the consumer wrote, in order."""

    def __init__(self) -> None:
        self.writes: list[tuple[str, Any]] = []

    def of(self, kind: str) -> list[Any]:
        return [what for k, what in self.writes if k == kind]


class Leases:
    def __init__(self, log: Log, renew_until: int = 10**9) -> None:
        self.log = log
        self.renew_until = renew_until  # checkpoints that succeed

    def acquire(self, source: str, holder: str, seconds: float) -> Lease:
        return Lease(holder=holder, cursor=None, until=0.0)

    def checkpoint(self, source: str, holder: str, cursor: int | None, seconds: float) -> bool:
        self.log.writes.append(("checkpoint", cursor))
        return len(self.log.of("checkpoint")) <= self.renew_until

    def release(self, source: str, holder: str) -> None:
        self.log.writes.append(("release", None))


class Source:
    """Its batches one a take; each take moves the clock by `step`."""

    def __init__(self, batches: list[list[Event]], clock: Clock, step: float) -> None:
        self.batches = list(batches)
        self.clock, self.step = clock, step
        self.counts: Counter[str] = Counter({"connects": 1})

    def wait_connected(self, timeout: float) -> bool:
        return True

    def start(self) -> None:
        pass

    def take(self, limit: int, wait: float) -> list[Event]:
        self.clock.now += self.step
        return self.batches.pop(0) if self.batches else []

    def stop(self, timeout: float = 3.0) -> None:
        pass


class Ingest:
    def __init__(self, log: Log) -> None:
        self.log = log
        self.batches = 0

    def apply(self, events: list[Event], now: Any = None, heartbeat: Any = None) -> BatchReport:
        self.batches += 1
        return BatchReport()

    def flush_revs(self) -> None:
        self.log.writes.append(("revs", self.batches))


class Gap:
    pending = False

    def __init__(self, log: Log) -> None:
        self.log = log
        self.counts: Counter[str] = Counter()

    def resume(self) -> None:
        pass

    def outdated(self, cursor: int | None) -> bool:
        self.log.writes.append(("gap", cursor))
        return True


def _run(batches: list[list[Event]], step: float, loops: int, renew_until: int = 10**9, **config: Any) -> Log:
    log, clock = Log(), Clock()
    source = Source(batches, clock, step)
    consumer = Consumer(
        ConsumerConfig(relay_url="ws://relay.test", metrics_every_seconds=1e9, **config),
        Ingest(log),
        Leases(log, renew_until),  # type: ignore[arg-type]
        gaps=lambda *_: Gap(log),  # type: ignore[arg-type,return-value]
        source_factory=lambda url, cursor: source,
        clock=clock,
    )
    calls = iter(range(loops + 1))
    consumer.run(remaining_ms=lambda: 900_000, should_stop=lambda: next(calls) >= loops)
    return log


def _batches(n: int) -> list[list[Event]]:
    return [[Skipped("filtered", 10 * i + k) for k in range(1, 11)] for i in range(n)]


def test_checkpoints_are_by_time_not_per_batch_and_revs_come_first() -> None:
    # 30 batches 0.1 s apart (3 s): a checkpoint a second, and the last at the end of the run.
    log = _run(_batches(30), step=0.1, loops=30)
    checkpoints = log.of("checkpoint")
    assert 3 <= len(checkpoints) <= 4, checkpoints
    assert checkpoints[-1] == 300 and checkpoints == sorted(checkpoints)
    # Every checkpoint is preceded by the revs (nothing between them), the release comes last.
    kinds = [k for k, _ in log.writes]
    assert kinds[-1] == "release"
    assert all(kinds[i - 1] == "revs" for i, k in enumerate(kinds) if k == "checkpoint")


def test_zero_seconds_checkpoints_after_every_batch() -> None:
    log = _run(_batches(5), step=0.1, loops=5, checkpoint_seconds=0)
    assert log.of("checkpoint") == [10, 20, 30, 40, 50, 50]


def test_an_idle_stream_still_renews_the_lease_before_it_could_lapse() -> None:
    # No events for 40 s of takes 1 s apart: renewed every lease_seconds / 3 (10 s).
    log = _run([], step=1.0, loops=40)
    assert 3 <= len(log.of("checkpoint")) <= 5


def test_a_gap_is_recorded_after_a_checkpoint_and_checkpointed_at_once() -> None:
    outdated: list[Event] = [Info(OUTDATED_CURSOR, "gone", None), Skipped("filtered", 21)]
    log = _run([*_batches(2), outdated], step=0.01, loops=4)
    kinds = [k for k, _ in log.writes]
    gap = kinds.index("gap")
    assert kinds[gap - 2 : gap] == ["revs", "checkpoint"] and log.writes[gap] == ("gap", 20)
    assert log.writes[gap - 1] == ("checkpoint", 20)  # what came before the gap, written first
    assert log.writes[gap + 1 : gap + 3] == [("revs", 3), ("checkpoint", 21)]  # at once, not in a second


def test_a_lost_lease_stops_the_run_at_once_and_writes_nothing_more() -> None:
    log = _run(_batches(30), step=0.1, loops=30, renew_until=1)
    assert log.of("checkpoint") == [100, 200]  # the second is refused: the run ends there
    assert [k for k, _ in log.writes][-1] == "checkpoint"  # no revs, checkpoint or release after

"""The firehose consumer's heartbeat metric: published while the run holds the lease, never
once the lease is lost or when the relay cannot be reached (its alarm treats a missing
heartbeat as breaching: FirehoseHeartbeatAlarm in template.yaml)."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from albums_core.domain.firehose_events import Event, Lease
from albums_core.services.firehose.consumer import Consumer, ConsumerConfig
from albums_core.services.firehose.planning import BatchReport


class _State:
    def __init__(self, renew: bool = True) -> None:
        self.renew = renew
        self.repo = None
        self.checkpoints = 0

    def acquire(self, source: str, holder: str, seconds: float) -> Lease:
        return Lease(holder=holder, cursor=None, until=0.0)

    def checkpoint(self, source: str, holder: str, cursor: int | None, seconds: float) -> bool:
        self.checkpoints += 1
        return self.renew

    def release(self, source: str, holder: str) -> None:
        pass


class _Source:
    def __init__(self, connects: bool = True) -> None:
        self.connects = connects
        self.counts: Counter[str] = Counter({"connects": 1})

    def wait_connected(self, timeout: float) -> bool:
        return self.connects

    def start(self) -> None:
        pass

    def take(self, limit: int, wait: float) -> list[Event]:
        return []

    def stop(self, timeout: float = 3.0) -> None:
        pass


class _Ingest:
    def apply(self, events: list[Event], heartbeat: Any = None) -> BatchReport:
        return BatchReport()

    def flush_revs(self) -> None:
        pass


class _Gap:
    pending = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.counts: Counter[str] = Counter()

    def resume(self) -> None:
        pass


def _run(monkeypatch: pytest.MonkeyPatch, state: _State, source: _Source, loops: int = 3) -> str:
    # Every loop renews the lease (lease_seconds / 3 is below any elapsed time) and publishes.
    config = ConsumerConfig(relay_url="ws://relay.test", lease_seconds=1e-9, metrics_every_seconds=0.0)
    consumer = Consumer(config, _Ingest(), state, gaps=_Gap, source_factory=lambda url, cursor: source)
    calls = iter(range(loops + 1))
    report = consumer.run(remaining_ms=lambda: 900_000, should_stop=lambda: next(calls) >= loops)
    return report.status


def _heartbeats(out: str) -> list[Any]:
    beats = []
    for line in out.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            blob = json.loads(line)
            names = {m["Name"] for d in blob["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]}
            if "FirehoseHeartbeat" in names:
                assert blob["service"] == "albums"
                beats.append(blob["FirehoseHeartbeat"])
    return beats


def test_a_consumer_holding_the_lease_beats_every_publication(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    state = _State(renew=True)
    assert _run(monkeypatch, state, _Source()) == "ok"
    beats = _heartbeats(capsys.readouterr().out)
    # One per loop's publication and one at the clean end.
    assert beats == [[1.0]] * 4
    assert state.checkpoints >= 3


def test_a_consumer_that_lost_its_lease_stops_beating(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(monkeypatch, _State(renew=False), _Source()) == "lease lost"
    assert _heartbeats(capsys.readouterr().out) == []


def test_a_relay_out_of_reach_gives_no_heartbeat(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(monkeypatch, _State(), _Source(connects=False)) == "relay unreachable"
    out = capsys.readouterr().out
    assert _heartbeats(out) == []

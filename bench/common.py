"""What every section shares: paths, events, a botocore call recorder, report formatting."""

from __future__ import annotations

import copy
import json
import os
import statistics
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
LAYER = ROOT / "layers" / "shared"
EVENTS = ROOT / "events"
# Function logs go here, not into the report (bench/results/ is git-ignored).
RESULTS = ROOT / "bench" / "results"
LOG_FILE = RESULTS / "functions.log"


def event(name: str) -> dict[str, Any]:
    return dict(json.loads((EVENTS / name).read_text()))


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def verdict(met: bool) -> str:
    return "yes" if met else "NO"


@contextmanager
def function_logs() -> Iterator[None]:
    """Send fd 1 to the log file while functions run in this process: Powertools writes JSON
    logs and EMF metrics to stdout, which would otherwise land in the middle of the report."""
    RESULTS.mkdir(exist_ok=True)
    sys.stdout.flush()
    saved = os.dup(1)
    with LOG_FILE.open("ab") as fh:
        os.dup2(fh.fileno(), 1)
        try:
            yield
        finally:
            sys.stdout.flush()
            os.dup2(saved, 1)
            os.close(saved)


@dataclass
class Call:
    operation: str
    seconds: float = 0.0
    items_read: int = 0
    # perf_counter() at its start and end: calls made in parallel overlap.
    started: float = 0.0
    ended: float = 0.0
    # CPU time of the calling thread inside the call (serialisation, parsing), time.thread_time().
    cpu: float = 0.0


def _items_read(operation: str, parsed: dict[str, Any]) -> int:
    """Items DynamoDB read for the call: ScannedCount for Query/Scan (what is billed, before
    any filter), items returned for the gets."""
    if operation in {"Query", "Scan"}:
        return int(parsed.get("ScannedCount", parsed.get("Count", 0)))
    if operation == "BatchGetItem":
        return sum(len(v) for v in parsed.get("Responses", {}).values())
    if operation == "GetItem":
        return 1 if "Item" in parsed else 0
    return 0


@dataclass
class CallRecorder:
    """Counts and times the calls one botocore client makes while the recorder is entered.

    Counted on `before-call.<service>` (one per API call, after parameter validation, not per
    HTTP retry). Timed from `provide-client-params` (the first event of a call, before
    serialisation) to `after-call` (response parsed), so the time is everything botocore and
    the endpoint spend on the call."""

    client: Any
    calls: list[Call] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._service = self.client.meta.service_model.service_id.hyphenize()
        self._handlers = (
            (f"provide-client-params.{self._service}", self._start),
            (f"before-call.{self._service}", self._count),
            (f"after-call.{self._service}", self._finish),
        )

    def __enter__(self) -> CallRecorder:
        for name, handler in self._handlers:
            self.client.meta.events.register(name, handler, unique_id=f"bench-{id(self)}-{name}")
        return self

    def __exit__(self, *_: object) -> None:
        for name, handler in self._handlers:
            self.client.meta.events.unregister(name, handler, unique_id=f"bench-{id(self)}-{name}")

    def reset(self) -> None:
        self.calls = []

    def _start(self, context: dict[str, Any], **_: Any) -> None:
        context["bench_started"] = time.perf_counter()
        context["bench_cpu"] = time.thread_time()

    def _count(self, model: Any, context: dict[str, Any], **_: Any) -> None:
        call = Call(model.name)
        self.calls.append(call)
        context["bench_call"] = call

    def _finish(self, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        call = context.get("bench_call")
        if call is not None:
            call.ended = time.perf_counter()
            call.started = context["bench_started"]
            call.seconds = call.ended - call.started
            call.cpu = time.thread_time() - context.get("bench_cpu", time.thread_time())
            call.items_read = _items_read(call.operation, parsed)

    @property
    def operations(self) -> list[str]:
        return [c.operation for c in self.calls]

    def per_operation(self) -> str:
        return " ".join(f"{op}:{n}" for op, n in sorted(Counter(self.operations).items()))

    @property
    def seconds(self) -> float:
        return sum(c.seconds for c in self.calls)

    @property
    def items_read(self) -> int:
        return sum(c.items_read for c in self.calls)


def with_cookie(base: dict[str, Any], cookie: str) -> dict[str, Any]:
    out = copy.deepcopy(base)
    out["cookies"] = [*out.get("cookies", []), cookie]
    return out


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], align: str = "") -> str:
    """A plain-text table; `align` holds one 'l' or 'r' per column (default left)."""
    align = align.ljust(len(headers), "l")
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        parts = [str(c).rjust(w) if a == "r" else str(c).ljust(w) for c, w, a in zip(cells, widths, align, strict=True)]
        return "  " + "  ".join(parts).rstrip()

    rule = "  " + "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule, *(line(r) for r in rows)])


def heading(title: str) -> None:
    print()
    print(title)
    print("=" * len(title))


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"

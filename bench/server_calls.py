"""AWS calls counted where they arrive: moto's own request log.

Functions run in worker processes with their own clients, so nothing in the bench's process can
instrument their calls. The moto launcher already records every call made with a function's IAM
keys (`local_runtime/moto_main.py`, for the IAM report) when ALBUMS_LOCAL_IAM_CALLS names a file:
one line per (request, IAM action, resource), with the request's number, its API operation and
the items a batch names on that table. The stack maps keys to functions. Calls made with the
local root key (the bench's own process, the pumps) are not in the log: the bench counts those on
its own clients, so the two never count one call twice."""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from bench.common import RESULTS

CALLS_FILE = RESULTS / "aws-calls.jsonl"


def enable() -> None:
    """Before the stack starts: the moto server it launches inherits the environment."""
    RESULTS.mkdir(exist_ok=True)
    os.environ.setdefault("ALBUMS_LOCAL_IAM_CALLS", str(CALLS_FILE))


@dataclass(frozen=True)
class ServerCall:
    function: str
    operation: str  # the API operation (TransactWriteItems, not its items' actions)
    request: int
    action: str  # as IAM names it: dynamodb:PutItem for a Put inside a transaction
    resource: str
    items: int


class ServerLog:
    """The calls moto recorded between `mark()` and `since()`, by function."""

    def __init__(self, function_keys: dict[str, str]) -> None:
        self.function_keys = function_keys
        path = os.environ.get("ALBUMS_LOCAL_IAM_CALLS")
        self.path = Path(f"{path}.keys") if path else None

    @property
    def enabled(self) -> bool:
        return self.path is not None

    def mark(self) -> int:
        return self.path.stat().st_size if self.path and self.path.exists() else 0

    def since(self, offset: int) -> list[ServerCall]:
        if not self.path or not self.path.exists():
            return []
        with self.path.open("rb") as fh:
            fh.seek(offset)
            data = fh.read()
        out = []
        # A line still being written has no newline yet: left for the next read.
        for line in data.decode().splitlines(keepends=True):
            if not line.endswith("\n"):
                break
            row = json.loads(line)
            if len(row) < 6:
                continue
            key, action, resource, request, operation, items = row[:6]
            out.append(
                ServerCall(self.function_keys.get(key, f"key {key}"), operation, request, action, resource, items)
            )
        return out


def requests(calls: list[ServerCall], service: str = "dynamodb") -> dict[int, ServerCall]:
    """One entry per API request (a transaction or batch is one call, whatever it names)."""
    return {c.request: c for c in calls if c.action.startswith(f"{service}:")}


def per_function(calls: list[ServerCall], service: str = "dynamodb") -> Counter[str]:
    return Counter(c.function for c in requests(calls, service).values())


def operations(calls: list[ServerCall], service: str = "dynamodb") -> list[str]:
    return [c.operation for c in requests(calls, service).values()]

"""The catalogue stream and the schedules into their functions, as AWS runs them: moto keeps
a real DynamoDB stream but runs no Lambda code, so this pump reads the shards, applies the
template's filter criteria, hands batches (BatchSize) to the function with the real payload,
and retries the records a batch reports as failed, up to MaximumRetryAttempts."""

from __future__ import annotations

import base64
import contextlib
import json
import threading
import time
import traceback
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from local_runtime.async_invoke import AsyncInvoker
from local_runtime.lambda_host import LambdaHost
from local_runtime.template import Stack

SHARDS_SECONDS = 30.0


def matches(pattern: Any, value: Any) -> bool:
    """An EventBridge / Lambda event filter pattern against a value (the subset AWS supports
    for DynamoDB stream filters: exact values, prefix, exists, anything-but)."""
    if isinstance(pattern, dict):
        if not isinstance(value, dict):
            return False
        return all(matches(sub, value.get(key, _MISSING)) for key, sub in pattern.items())
    if isinstance(pattern, list):
        return any(_matches_one(option, value) for option in pattern)
    return False


_MISSING = object()


def _matches_one(option: Any, value: Any) -> bool:
    if isinstance(option, dict):
        if "prefix" in option:
            return isinstance(value, str) and value.startswith(option["prefix"])
        if "exists" in option:
            return (value is not _MISSING) == bool(option["exists"])
        if "anything-but" in option:
            banned = option["anything-but"]
            return value is not _MISSING and value not in (banned if isinstance(banned, list) else [banned])
        return False
    return value is not _MISSING and value == option


def _json_value(value: Any) -> Any:
    """An attribute value as it travels in JSON: binary as base64 text."""
    if isinstance(value, dict):
        return {
            k: (
                base64.b64encode(v).decode()
                if k == "B" and isinstance(v, bytes)
                else [base64.b64encode(b).decode() for b in v]
                if k == "BS"
                else _json_value(v)
            )
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_json_value(v) for v in value]
    return value


def _as_lambda_sees_it(record: dict[str, Any], arn: str) -> dict[str, Any]:
    """boto3 parsed the record; Lambda delivers it as JSON (times as epoch seconds, binary
    attributes as base64 text)."""
    body = {k: (_json_value(v) if k in ("Keys", "NewImage", "OldImage") else v) for k, v in record["dynamodb"].items()}
    created = body.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        body["ApproximateCreationDateTime"] = int(created.timestamp())
    return {**record, "dynamodb": body, "eventSourceARN": arn}


class StreamPump:
    def __init__(self, stack: Stack, host: LambdaHost, session: Any, endpoint: str) -> None:
        self.stack = stack
        self.host = host
        self.dynamodb = session.client("dynamodb", endpoint_url=endpoint)
        self.streams = session.client("dynamodbstreams", endpoint_url=endpoint)
        self.triggers = stack.stream_triggers()
        self._iterators: dict[tuple[str, str], str] = {}
        self._described: dict[str, tuple[float, list[tuple[str, str]]]] = {}
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.delivered = 0
        self.dropped = 0

    def start(self) -> StreamPump:
        if self.triggers:
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if not self.poll_once():
                    self._stop.wait(0.3)
            except Exception:  # noqa: BLE001 - moto going away at shutdown
                self._described.clear()
                if self._stop.wait(1):
                    return

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """No poll while inside (a benchmark's timed part: the pump's thread shares the process)."""
        with self._lock:
            yield

    def drain(self, timeout: float = 120.0) -> None:
        """Deliver until the stream stays empty (tests: 'after the pump drains')."""
        deadline = time.monotonic() + timeout
        quiet = 0
        while quiet < 2:
            if time.monotonic() > deadline:
                raise TimeoutError("the stream did not drain")
            quiet = 0 if self.poll_once() else quiet + 1

    def _shards(self, table: str) -> list[tuple[str, str]]:
        # Described again every SHARDS_SECONDS (or after a failed poll), not on every poll: two
        # calls per poll were as much of the server's work as the records' reads.
        now = time.monotonic()
        known = self._described.get(table)
        if known is None or now - known[0] > SHARDS_SECONDS:
            arn = self.dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
            shards = self.streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
            known = self._described[table] = (now, [(arn, s["ShardId"]) for s in shards])
        return known[1]

    def poll_once(self) -> int:
        """One read of every shard; returns how many records were read."""
        with self._lock:
            read = 0
            for function, table_logical, props in self.triggers:
                table = self.stack.physical[table_logical]
                for arn, shard in self._shards(table):
                    key = (function, shard)
                    if key not in self._iterators:
                        self._iterators[key] = self.streams.get_shard_iterator(
                            StreamArn=arn,
                            ShardId=shard,
                            ShardIteratorType=props.get("StartingPosition", "LATEST"),
                        )["ShardIterator"]
                    out = self.streams.get_records(ShardIterator=self._iterators[key], Limit=1000)
                    self._iterators[key] = out.get("NextShardIterator") or self._iterators[key]
                    records = out.get("Records", [])
                    read += len(records)
                    self._deliver(function, arn, props, records)
            return read

    def _deliver(self, function: str, arn: str, props: dict[str, Any], records: list[dict[str, Any]]) -> None:
        patterns = [json.loads(f["Pattern"]) for f in props.get("FilterCriteria", {}).get("Filters", [])]
        wanted = [_as_lambda_sees_it(r, arn) for r in records if not patterns or any(matches(p, r) for p in patterns)]
        size = int(props.get("BatchSize", 100))
        retries = int(props.get("MaximumRetryAttempts", 3))
        for start in range(0, len(wanted), size):
            pending = wanted[start : start + size]
            for _attempt in range(retries + 1):
                if not pending:
                    break
                pending = self._invoke(function, pending)
            self.dropped += len(pending)
            self.delivered += len(wanted[start : start + size]) - len(pending)

    def _invoke(self, function: str, batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """One invocation; returns the records to deliver again (from the first failure on,
        as Lambda does with ReportBatchItemFailures)."""
        try:
            result = self.host.invoke(function, {"Records": batch})
        except Exception:  # noqa: BLE001 - a crashed invocation retries the whole batch
            traceback.print_exc()
            return batch
        failures = [f["itemIdentifier"] for f in (result or {}).get("batchItemFailures", [])]
        if not failures:
            return []
        first = min(i for i, r in enumerate(batch) if r["dynamodb"]["SequenceNumber"] in failures)
        return batch[first:]


class SchedulePump:
    """Scheduled events into their functions, every `every` seconds (rate expressions are not
    waited out locally: an hourly sweep would never be seen)."""

    def __init__(
        self,
        stack: Stack,
        host: LambdaHost,
        every: float,
        invoker: AsyncInvoker | None = None,
        exclude: frozenset[str] = frozenset(),
    ) -> None:
        self.stack = stack
        # Functions another pump runs (the firehose consumer: its own pump re-invokes it at once).
        self.exclude = exclude
        self.host = host
        self.every = every
        # EventBridge invokes asynchronously: with an invoker, retries and on-failure destination apply.
        self.invoker = invoker
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> SchedulePump:
        if self.stack.schedules() and self.every > 0:
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def fire(self, when: datetime | None = None) -> dict[str, Any]:
        results = {}
        for function, expression in self.stack.schedules():
            if function in self.exclude:
                continue
            event = scheduled_event(self.stack, function, expression, when)
            if self.invoker is not None:
                results[function] = self.invoker.invoke(function, event)
            else:
                results[function] = self.host.invoke(function, event)
        return results

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                self.fire()
            except Exception:  # noqa: BLE001 - logged; the next tick tries again
                traceback.print_exc()


def scheduled_event(stack: Stack, function: str, expression: str, when: datetime | None = None) -> dict[str, Any]:
    moment = (when or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": moment,
        "region": stack.region,
        "resources": [f"arn:aws:events:{stack.region}:123456789012:rule/{stack.name}-{function}"],
        "detail": {},
    }

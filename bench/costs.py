"""Section 10: a cost model, measured. What a cached album-page read, a cache miss, a rename of
10 tracks and a month of the firehose consumer cost at AWS list prices (bench/prices.py), each
part from what this run measured: the function's CPU time, its DynamoDB calls and the bytes of
the items they read and wrote, the bytes it logged, and the template's settings (memory,
architecture, tracing, system log level)."""

from __future__ import annotations

import json
import math
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from albums_core.adapters.aws_clients import dynamodb
from albums_core.adapters.dynamodb.page_cache import invalidate_album_cache
from bench.common import LOG_FILE, event, function_logs, heading, median, table
from bench.network import NETWORK
from bench.prices import (
    FULL_VCPU_MB,
    LOG_EVENT_OVERHEAD_BYTES,
    PRICES,
    PRICES_DATE,
    REGION,
    REQUESTS_PER_MONTH,
    REQUESTS_PER_SECOND,
    SECONDS_PER_MONTH,
    price,
    xray_sampled_share,
)
from local_runtime.lambda_host import InProcessHost
from local_runtime.stack import LocalStack
from local_runtime.template import Stack

TARGET_PER_MILLION = 1.40
RENAME_HANDLE = "bench-costs.test"
READ_FUNCTION = "GetAlbumFunction"
HITS = 40
MISSES = 8
# Assumptions, not measured here: the in-region latency of one DynamoDB call, and of one call to
# an artist's PDS (another provider, same continent). Billed duration = the function's CPU time
# at its memory's share of a vCPU + these waits.
DYNAMODB_CALL_MS = 4.0
PDS_CALL_MS = 80.0
# What Lambda writes per invocation in the JSON log format (START, END, REPORT), as AWS
# documents them; with tracing on, start and report carry the trace header too.
_REQUEST_ID = "3c5b7e1f-9a2d-4c8e-b6f0-1d2e3f4a5b6c"
_TRACE = (
    ',"tracing":{"spanId":"54565fb41ac79632","type":"X-Amzn-Trace-Id",'
    '"value":"Root=1-6753b2c4-0a1b2c3d4e5f60718293a4b5;Parent=0efbd19962d95b05;Sampled=1"}'
)
_PLATFORM = (
    '{"time":"2026-12-07T06:56:23.123Z","type":"platform.start","record":{"requestId":"%s","version":"$LATEST"%s}}',
    '{"time":"2026-12-07T06:56:23.140Z","type":"platform.runtimeDone","record":{"requestId":"%s","status":"success"'
    ',"metrics":{"durationMs":16.2,"producedBytes":1234}%s}}',
    '{"time":"2026-12-07T06:56:23.141Z","type":"platform.report","record":{"requestId":"%s","metrics":{"durationMs"'
    ':16.2,"billedDurationMs":17,"memorySizeMB":512,"maxMemoryUsedMB":98},"status":"success"%s}}',
)


def platform_bytes(traced: bool) -> int:
    lines = [p % (_REQUEST_ID, _TRACE if traced else "") for p in _PLATFORM]
    return sum(len(line.encode()) + LOG_EVENT_OVERHEAD_BYTES for line in lines)


# ---- DynamoDB request units from the calls' items -------------------------------------------


def _value_bytes(value: dict[str, Any]) -> int:
    (kind, v), *_ = value.items()
    if kind == "S":
        return len(str(v).encode())
    if kind == "N":
        return (len(str(v).lstrip("-").replace(".", "")) + 1) // 2 + 1
    if kind == "B":
        return len(v) if isinstance(v, bytes | bytearray) else len(str(v))
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "L":
        return 3 + sum(1 + _value_bytes(x) for x in v)
    if kind == "M":
        return 3 + sum(len(k.encode()) + 1 + _value_bytes(x) for k, x in v.items())
    if kind in ("SS", "NS", "BS"):
        return sum(_value_bytes({kind[0]: x}) for x in v)
    return 0


def item_bytes(item: dict[str, Any]) -> int:
    """An item's size as DynamoDB bills it: attribute names and values in bytes."""
    return sum(len(name.encode()) + _value_bytes(value) for name, value in item.items())


def _reads(total_bytes: int, consistent: bool) -> float:
    return max(1, math.ceil(total_bytes / 4096)) * (1.0 if consistent else 0.5)


def _writes(total_bytes: int) -> float:
    return float(max(1, math.ceil(total_bytes / 1024)))


def units(operation: str, params: dict[str, Any], parsed: dict[str, Any]) -> tuple[float, float]:
    """(read units, write units) of one call. Updates and deletes count 1 unit each (their item's
    size is not in the call; the cache and counter items they touch are under 1 KB)."""
    consistent = bool(params.get("ConsistentRead"))
    if operation == "GetItem":
        return _reads(item_bytes(parsed.get("Item") or {}), consistent), 0.0
    if operation in ("Query", "Scan"):
        return _reads(sum(item_bytes(i) for i in parsed.get("Items", [])), consistent), 0.0
    if operation == "BatchGetItem":
        items = [i for rows in parsed.get("Responses", {}).values() for i in rows]
        return sum(_reads(item_bytes(i), False) for i in items) or 0.5, 0.0
    if operation == "PutItem":
        return 0.0, _writes(item_bytes(params.get("Item", {})))
    if operation in ("UpdateItem", "DeleteItem"):
        return 0.0, 1.0
    if operation == "BatchWriteItem":
        requests = [r for rows in params.get("RequestItems", {}).values() for r in rows]
        return 0.0, sum(_writes(item_bytes(r["PutRequest"]["Item"])) if "PutRequest" in r else 1.0 for r in requests)
    if operation == "TransactWriteItems":
        total = 0.0
        for action in params.get("TransactItems", []):
            ((kind, spec),) = action.items()
            total += 2 * (_writes(item_bytes(spec.get("Item", {}))) if kind == "Put" else 1.0)
        return 0.0, total
    if operation == "TransactGetItems":
        items = [r.get("Item") or {} for r in parsed.get("Responses", [])]
        return sum(2 * _reads(item_bytes(i), True) for i in items), 0.0
    return 0.0, 0.0


@dataclass
class UnitRecorder:
    """DynamoDB calls of one client with their request units (params seen before the call,
    items in the parsed response)."""

    client: Any
    calls: list[tuple[str, float, float]] = field(default_factory=list)

    def _params(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["bench_params"] = params

    def _after(self, parsed: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        rru, wru = units(model.name, context.get("bench_params") or {}, parsed)
        self.calls.append((model.name, rru, wru))

    def __enter__(self) -> UnitRecorder:
        events = self.client.meta.events
        events.register("provide-client-params.dynamodb", self._params, unique_id=f"units-p-{id(self)}")
        events.register("after-call.dynamodb", self._after, unique_id=f"units-a-{id(self)}")
        return self

    def __exit__(self, *_: object) -> None:
        events = self.client.meta.events
        events.unregister("provide-client-params.dynamodb", self._params, unique_id=f"units-p-{id(self)}")
        events.unregister("after-call.dynamodb", self._after, unique_id=f"units-a-{id(self)}")

    @property
    def rru(self) -> float:
        return sum(c[1] for c in self.calls)

    @property
    def wru(self) -> float:
        return sum(c[2] for c in self.calls)


# ---- one request, measured ------------------------------------------------------------------


@dataclass
class Sample:
    cpu_ms: float
    wall_ms: float
    calls: list[tuple[str, float, float]]
    log_lines: list[str]
    status: int | None

    @property
    def app_log_bytes(self) -> int:
        return sum(len(line.encode()) + LOG_EVENT_OVERHEAD_BYTES for line in self.log_lines)

    @property
    def emf_lines(self) -> list[dict[str, Any]]:
        out = []
        for line in self.log_lines:
            try:
                doc = json.loads(line)
            except ValueError:
                continue
            if isinstance(doc, dict) and "_aws" in doc:
                out.append(doc)
        return out


def invoke_measured(host: InProcessHost, function: str, ev: dict[str, Any]) -> Sample:
    start = LOG_FILE.stat().st_size if LOG_FILE.exists() else 0
    with function_logs(), UnitRecorder(dynamodb()) as recorder:
        wall, cpu = time.perf_counter(), time.thread_time()
        result = host.invoke(function, ev)
        cpu, wall = time.thread_time() - cpu, time.perf_counter() - wall
    with LOG_FILE.open("rb") as fh:
        fh.seek(start)
        logged = fh.read().decode("utf-8", "replace").splitlines()
    status = result.get("statusCode") if isinstance(result, dict) else None
    return Sample(cpu * 1000, wall * 1000, list(recorder.calls), [line for line in logged if line.strip()], status)


# ---- the template's settings ----------------------------------------------------------------


@dataclass
class Settings:
    memory_mb: int
    architecture: str
    tracing: str
    system_log_level: str
    application_log_level: str


def function_settings(stack: Stack, logical: str) -> Settings:
    globals_ = stack.raw.get("Globals", {}).get("Function", {})
    props = stack.raw["Resources"][logical]["Properties"]

    def setting(name: str, default: Any) -> Any:
        return stack.resolve(props.get(name, globals_.get(name, default)))

    logging = {**globals_.get("LoggingConfig", {}), **props.get("LoggingConfig", {})}
    return Settings(
        int(setting("MemorySize", 128)),
        str((setting("Architectures", ["x86_64"]) or ["x86_64"])[0]),
        str(setting("Tracing", "PassThrough")),
        str(stack.resolve(logging.get("SystemLogLevel", "INFO"))),
        str(stack.resolve(logging.get("ApplicationLogLevel", "INFO"))),
    )


def billed_ms(cpu_ms: float, memory_mb: int, waits_ms: float) -> int:
    """CPU at the memory's share of a vCPU, plus the waits; Lambda bills whole milliseconds."""
    return math.ceil(cpu_ms * FULL_VCPU_MB / min(memory_mb, FULL_VCPU_MB) + waits_ms)


@dataclass
class Priced:
    name: str
    parts: list[tuple[str, str, float]]  # (part, what was measured, USD per request)

    @property
    def total(self) -> float:
        return sum(p[2] for p in self.parts)


def price_request(name: str, samples: list[Sample], settings: Settings, pds_calls: int = 0) -> Priced:
    cpu = median([s.cpu_ms for s in samples])
    ddb_calls = median([len(s.calls) for s in samples])
    rru = median([sum(c[1] for c in s.calls) for s in samples])
    wru = median([sum(c[2] for c in s.calls) for s in samples])
    app_bytes = median([s.app_log_bytes for s in samples])
    traced = settings.tracing == "Active"
    system_bytes = platform_bytes(traced) if settings.system_log_level in ("INFO", "DEBUG") else 0
    billed = billed_ms(cpu, settings.memory_mb, ddb_calls * DYNAMODB_CALL_MS + pds_calls * PDS_CALL_MS)
    gb_s = billed / 1000 * settings.memory_mb / 1024
    emf = Counter(
        (doc["_aws"]["CloudWatchMetrics"][0]["Namespace"], m["Name"])
        for s in samples
        for doc in s.emf_lines
        for m in doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]
    )
    xray = xray_sampled_share() if traced else 0.0
    parts = [
        ("HTTP API request", "1", price("http_api_request")),
        ("Lambda request", "1", price("lambda_request")),
        (
            "Lambda duration",
            f"{billed} ms billed at {settings.memory_mb} MB {settings.architecture} (CPU {cpu:.1f} ms x"
            f" {FULL_VCPU_MB}/{settings.memory_mb}, + {ddb_calls:g} DynamoDB x {DYNAMODB_CALL_MS:g} ms"
            + (f" + {pds_calls} PDS x {PDS_CALL_MS:g} ms" if pds_calls else "")
            + ")",
            gb_s * price("lambda_arm64_gb_s"),
        ),
        (
            "DynamoDB",
            f"{ddb_calls:g} calls: {rru:g} RRU, {wru:g} WRU",
            rru * price("dynamodb_rru") + wru * price("dynamodb_wru"),
        ),
        (
            "CloudWatch Logs, application",
            f"{app_bytes:.0f} B ({median([len(s.log_lines) for s in samples]):g} lines, EMF"
            f" {median([len(s.emf_lines) for s in samples]):g}; log level {settings.application_log_level})",
            app_bytes / 1e9 * price("logs_ingested_gb"),
        ),
        (
            "CloudWatch Logs, Lambda's START/END/REPORT",
            f"{system_bytes} B (system log level {settings.system_log_level})",
            system_bytes / 1e9 * price("logs_ingested_gb"),
        ),
        ("X-Ray", f"tracing {settings.tracing}: {xray:.2%} sampled", xray * price("xray_trace")),
        (
            "CloudWatch metrics",
            f"{len(emf)} metric(s) ({', '.join(n for _, n in sorted(emf)) or 'none'}), a month each",
            len(emf) * price("metric_month") / REQUESTS_PER_MONTH,
        ),
    ]
    return Priced(name, parts)


def _say(*lines: str) -> None:
    for line in lines:
        print(f"  {line}")


def print_priced(priced: Priced, per: str = "per million", scale: float = 1e6) -> None:
    rows = [[part, measured, f"{usd * scale:.4f}"] for part, measured, usd in priced.parts]
    rows.append(["total", "", f"{priced.total * scale:.4f}"])
    print(table(["part", "measured", f"USD {per}"], rows, "llr"))


# ---- the section ----------------------------------------------------------------------------


def measure_reads(stack: LocalStack) -> tuple[list[Sample], list[Sample]]:
    assert stack.stack and stack.moto
    host = InProcessHost(stack.stack, stack.moto.url)
    ev = event("get_album_200.json")
    handle, slug = ev["pathParameters"]["ref"], ev["pathParameters"]["slug"]
    # Per-container work (clients, the first use of each code path) is not a request's.
    with function_logs():
        invalidate_album_cache(handle, slug)
        host.invoke(READ_FUNCTION, ev)
        host.invoke(READ_FUNCTION, ev)
    hits = [invoke_measured(host, READ_FUNCTION, ev) for _ in range(HITS)]
    misses = []
    for _ in range(MISSES):
        with function_logs():
            invalidate_album_cache(handle, slug)
        misses.append(invoke_measured(host, READ_FUNCTION, ev))
    return hits, misses


def measure_rename(stack: LocalStack) -> tuple[Sample, list[str], Settings]:
    """A rename of a 10-track album (section 4's code: its own account, album and tracks), once
    warm: CPU is the process's (the records are read in parallel threads), DynamoDB on both
    clients the mutation uses, PDS calls on the XRPC client."""
    import secrets

    from albums_core import bootstrap
    from albums_core.services import auth
    from bench import writes

    assert stack.pds and stack.stack
    writes._PUMP = stack.stream_pump
    password = secrets.token_urlsafe(12)
    with function_logs():
        stack.pds.create_account(RENAME_HANDLE, password)
        session, artist = bootstrap.auth().login(RENAME_HANDLE, password)
        bench = writes.Bench(auth.Caller(session, artist), writes.patient_writer())
        album = writes.build(bench, 10, [])
        writes.rename(bench, album)  # the first use of each code path
    with UnitRecorder(bench.writer.client) as own, UnitRecorder(dynamodb()) as shared:
        start = LOG_FILE.stat().st_size if LOG_FILE.exists() else 0
        cpu, wall = time.process_time(), time.perf_counter()
        measured = writes.rename(bench, album)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    with LOG_FILE.open("rb") as fh:
        fh.seek(start)
        logged = [line for line in fh.read().decode("utf-8", "replace").splitlines() if line.strip()]
    sample = Sample(cpu * 1000, wall * 1000, own.calls + shared.calls, logged, 200)
    return sample, measured.pds, function_settings(stack.stack, "UpdateAlbumFunction")


def price_rename(sample: Sample, pds: list[str], settings: Settings) -> Priced:
    """The request, plus its stream records (11 at 10 tracks: 2 batches of the template's 10)
    handled by ProcessCatalogueStreamFunction: section 4 counts 3 DynamoDB calls per batch (the
    album and its artist read, one tombstone), priced at 20 ms billed each."""
    reads = sum(1 for nsid in pds if nsid.endswith("getRecord"))
    rounds = (len(pds) - reads) + math.ceil(reads / 8)  # 8 records read in parallel
    priced = price_request("rename of 10 tracks", [sample], settings, pds_calls=rounds)
    batches, batch_ms = 2, 20
    stream = batches * (
        price("lambda_request")
        + batch_ms / 1000 * settings.memory_mb / 1024 * price("lambda_arm64_gb_s")
        + 2 * 0.5 * price("dynamodb_rru")
        + price("dynamodb_wru")
    )
    priced.parts.append(("stream: 2 batches", "2 x (request, 20 ms, 2 reads, 1 write)", stream))
    priced.parts[2] = (priced.parts[2][0], priced.parts[2][1] + f" ({len(pds)} PDS calls)", priced.parts[2][2])
    return priced


def price_firehose_month(network: dict[str, float]) -> Priced:
    """A month of ConsumeFirehoseFunction at the network rate: it holds the stream all the time
    (billed wall time, not CPU), invoked every 15 minutes; DynamoDB and logs at section 9's
    measured rates per second of stream."""
    memory = 1024
    seconds = SECONDS_PER_MONTH
    wall = max(network.get("wall", 1.0), 1e-9)
    writes = network.get("write_items", 0.0) / wall * seconds
    reads = network.get("read_calls", 0.0) / wall * seconds
    log_gb = network.get("log_bytes", 0.0) / wall * seconds / 1e9
    invocations = seconds / 900
    parts = [
        (
            "Lambda requests",
            f"{seconds / 900:.0f} invocations (one per 15 min)",
            invocations * price("lambda_request"),
        ),
        (
            "Lambda duration",
            f"{seconds:,} s at {memory} MB arm64 (the stream held all month)",
            seconds * memory / 1024 * price("lambda_arm64_gb_s"),
        ),
        ("DynamoDB writes", f"{writes / 1e6:.1f} M write units", writes * price("dynamodb_wru")),
        ("DynamoDB reads", f"{reads / 1e6:.1f} M calls x 0.5 read unit", reads * 0.5 * price("dynamodb_rru")),
        ("CloudWatch Logs", f"{log_gb:.2f} GB", log_gb * price("logs_ingested_gb")),
        ("data in", f"{network.get('rate', 0):,.0f} frames/s into Lambda: no charge (no NAT gateway)", 0.0),
    ]
    return Priced("a month of the firehose consumer", parts)


def memory_options(hits: list[Sample]) -> list[list[str]]:
    cpu = median([s.cpu_ms for s in hits])
    rows = []
    for memory in (128, 256, 512, 1024):
        billed = billed_ms(cpu, memory, DYNAMODB_CALL_MS)
        usd = billed / 1000 * memory / 1024 * price("lambda_arm64_gb_s")
        rows.append([f"{memory} MB", f"{billed} ms", f"{usd * 1e6:.4f}"])
    return rows


def run(stack: LocalStack) -> list[tuple[str, bool]]:
    firehose = NETWORK
    assert stack.stack
    heading(f"10. Cost model: AWS list prices ({REGION}, {PRICES_DATE}, no free tier) on what this run measured")
    settings = function_settings(stack.stack, READ_FUNCTION)
    hits, misses = measure_reads(stack)
    hit = price_request("cached album-page read", hits, settings)
    miss = price_request("album-page cache miss", misses, settings, pds_calls=1)
    _say(
        f"{READ_FUNCTION} in this process, warm: {HITS} cache hits, {MISSES} misses (a tombstone first). CPU: the",
        "handler thread's CPU time (time.thread_time); DynamoDB units from the items each call read or wrote;",
        "log bytes: what the function printed (Powertools JSON logs, EMF), +26 B per event as CloudWatch bills.",
        f"Assumed: {DYNAMODB_CALL_MS:g} ms per DynamoDB call and {PDS_CALL_MS:g} ms per PDS call in AWS;"
        f" {REQUESTS_PER_SECOND} requests/s sustained",
        f"({REQUESTS_PER_MONTH / 1e6:.1f} M a month) for the X-Ray reservoir and the metrics' monthly price.",
        f"Template: {settings.memory_mb} MB {settings.architecture}, Tracing {settings.tracing}, SystemLogLevel"
        f" {settings.system_log_level}, ApplicationLogLevel {settings.application_log_level}.",
        f"Local wall time (not billed here): hit median {median([s.wall_ms for s in hits]):.1f} ms, miss"
        f" {median([s.wall_ms for s in misses]):.1f} ms; statuses {sorted({str(s.status) for s in hits + misses})}",
    )
    for priced in (hit, miss):
        print()
        _say(f"{priced.name}:")
        print_priced(priced)
    print()
    _say("the read function's memory: Lambda duration per million cached reads (same CPU, same waits):")
    print(table(["memory", "billed", "USD per million"], memory_options(hits), "lrr"))
    _say(
        "512 MB stays: 256 MB would save about 0.01 USD per million but halve the CPU of every cold start",
        "(the init's imports run at the memory's share of a vCPU too, and are billed since August 2025).",
    )
    sample, pds, rename_settings = measure_rename(stack)
    rename = price_rename(sample, pds, rename_settings)
    print()
    _say(f"{rename.name} (UpdateAlbumFunction, {rename_settings.memory_mb} MB; local wall {sample.wall_ms:.0f} ms):")
    print_priced(rename, "per million renames")
    print()
    if firehose:
        month = price_firehose_month(firehose)
        _say(
            f"{month.name} at {firehose['rate']:,.0f} frames/s (section 9's measured rates; CPU needed"
            f" {firehose['per_filtered'] * firehose['rate']:.2f} of a core for the frames):"
        )
        print_priced(month, "per month", 1.0)
    else:
        _say("a month of the firehose consumer: run section 9 in the same run (python -m bench 9 10) to price it")
    print()
    _say("prices (bench/prices.py):")
    print(table(["price", "USD", "per", "what"], [[k, f"{v[0]:g}", v[1], v[2]] for k, v in PRICES.items()], "lrll"))
    met = hit.total * 1e6 <= TARGET_PER_MILLION
    summary = [(f"cached album-page read <= ${TARGET_PER_MILLION:.2f} per million (${hit.total * 1e6:.3f})", met)]
    emf_ok = all(s.emf_lines for s in misses)
    summary.append(("cache misses publish their metric (EMF line printed)", emf_ok))
    return summary

"""Section 1: cold start of each read function beside a baseline handler, each in a new local
Lambda worker (the interpreter and packages the functions run on, see local_runtime/lambda_host.py)."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from albums_core.adapters.dynamodb.catalogue import CatalogueRepository, CatalogueWriter
from albums_core.adapters.dynamodb.page_cache import AlbumPageCache, album_cache_key, invalidate_album_cache
from albums_core.domain.records import LIST, rkey_of
from bench.common import EVENTS, function_logs, heading, median, ms, table, verdict
from bench.pds_proxy import CountingProxy, Seen
from local_runtime.lambda_host import LambdaHost
from local_runtime.stack import LocalStack
from local_runtime.template import Stack

ROUNDS = 9
TARGET_RATIO = 1.15  # issue 22 (was 1.5)
BASELINE = "Baseline"


@dataclass
class Subject:
    name: str  # the function's logical id in the bench's copy of the template
    event: str
    # Runs in this process before each cold start (get_album: force a cache miss).
    prepare: Callable[[], None] | None = None
    # Runs after it; None when the run did what it was meant to (get_album: it missed and
    # fetched the list record once), else what it did instead.
    check: Callable[[], str | None] | None = None
    runs: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str | None] = field(default_factory=list)


def bench_stack(stack: LocalStack) -> Stack:
    """The local stack's template plus the baseline as one more function: it gets what every
    function shares (Globals), and runs in a worker like the others."""
    assert stack.stack
    raw = copy.deepcopy(stack.stack.raw)
    raw["Resources"][BASELINE] = {
        "Type": "AWS::Serverless::Function",
        "Properties": {"CodeUri": "bench/baseline", "Handler": "app.lambda_handler"},
    }
    return replace(stack.stack, raw=raw)


def _miss_checks(proxy: CountingProxy, handle: str, slug: str) -> tuple[Callable[[], None], Callable[[], str | None]]:
    """Before: a tombstone, so the child's first invocation misses. After: the child replaced
    the tombstone with a page, and the only PDS request it made (seen by the proxy the artist's
    `pds_url` points at) was one getRecord of the album's list record, answered 200."""
    loaded = CatalogueRepository().load_album_by_slug(handle, slug)
    assert loaded and loaded[1].list_uri, f"demo album {handle}/{slug} is not indexed"
    list_rkey = rkey_of(loaded[1].list_uri)
    wanted = Seen(
        "GET", "com.atproto.repo.getRecord", {"repo": loaded[0].did, "collection": LIST, "rkey": list_rkey}, 200
    )

    def prepare() -> None:
        invalidate_album_cache(handle, slug)
        proxy.reset()

    def check() -> str | None:
        cache = AlbumPageCache()
        item = cache.client.get_item(TableName=cache.table, Key={"cache_key": {"S": album_cache_key(handle, slug)}})
        found = item.get("Item", {})
        if not ("body" in found or "body_z" in found) or "invalidated_at" in found:
            return "no page was cached"
        if proxy.seen != [wanted]:
            return "PDS requests: " + (
                ", ".join(f"{s.method} {s.nsid} {s.params} -> {s.status}" for s in proxy.seen) or "none"
            )
        return None

    return prepare, check


@contextmanager
def pds_behind(proxy: CountingProxy, handle: str, slug: str) -> Iterator[None]:
    """The artist's `pds_url` (where get_album fetches the list record) points at the proxy
    while the children run. Afterwards the artist item is put back as it was, and the page
    cached meanwhile (its record URLs name the proxy) is dropped."""
    writer = CatalogueWriter()
    original = writer.get_artist_by_handle(handle)
    assert original is not None, handle
    writer.put_artist(replace(original, pds_url=proxy.url))
    try:
        yield
    finally:
        writer.put_artist(original)
        invalidate_album_cache(handle, slug)


def _get_album_ref() -> tuple[str, str]:
    path = json.loads((EVENTS / "get_album_200.json").read_text())["pathParameters"]
    return path["ref"], path["slug"]


def subjects(proxy: CountingProxy) -> list[Subject]:
    out = [Subject(BASELINE, "list_albums_200.json")]
    handle, slug = _get_album_ref()
    for logical, event_file in (
        ("ListAlbumsFunction", "list_albums_200.json"),
        ("ListArtistAlbumsFunction", "list_artist_albums_200.json"),
        ("GetAlbumFunction", "get_album_200.json"),
    ):
        subject = Subject(logical, event_file)
        if logical == "GetAlbumFunction":
            subject.prepare, subject.check = _miss_checks(proxy, handle, slug)
        out.append(subject)
    return out


def cold_start(stack: LocalStack, functions: Stack, subject: Subject) -> dict[str, Any]:
    """A new worker (a new host has none), as a cold Lambda: the interpreter starts, the handler
    module is imported, the first event handled; timed from the caller's side."""
    assert stack.moto
    if subject.prepare:
        subject.prepare()
    event = json.loads((EVENTS / subject.event).read_text())
    with function_logs(), LambdaHost(functions, stack.moto.url, export_environment=False) as host:
        started = time.perf_counter()
        run = host.invoke_measured(subject.name, event, report_modules="atproto")
        total = time.perf_counter() - started
    assert run.import_ms is not None, "the first invocation of a new host is a cold start"
    result = {
        "total_s": total,
        "import_s": run.import_ms / 1000,
        "invoke_s": run.duration_ms / 1000,
        "status": run.result.get("statusCode") if isinstance(run.result, dict) else None,
        "atproto_modules": run.modules,
    }
    if subject.check:
        subject.problems.append(subject.check())
    return result


def _rounds(stack: LocalStack, all_subjects: list[Subject]) -> None:
    functions = bench_stack(stack)
    # One discarded round: writes the .pyc files and warms the OS file cache for every subject.
    for subject in all_subjects:
        cold_start(stack, functions, subject)
        subject.problems.clear()
    for n in range(ROUNDS):
        # Interleaved, and rotated each round, so drift in the machine's load hits all alike.
        shift = n % len(all_subjects)
        for subject in all_subjects[shift:] + all_subjects[:shift]:
            subject.runs.append(cold_start(stack, functions, subject))


def run(stack: LocalStack) -> list[tuple[str, bool]]:
    heading("1. Cold start through the local Lambda workers: a new worker, its init + first invocation")
    assert stack.pds
    handle, slug = _get_album_ref()
    proxy = CountingProxy(stack.pds.pds_url).start()
    try:
        with pds_behind(proxy, handle, slug):
            all_subjects = subjects(proxy)
            _rounds(stack, all_subjects)
    finally:
        proxy.stop()

    base = median([r["total_s"] for r in all_subjects[0].runs])
    rows = []
    summary: list[tuple[str, bool]] = []
    for s in all_subjects:
        totals = [r["total_s"] for r in s.runs]
        ratio = median(totals) / base
        statuses = sorted({str(r["status"]) for r in s.runs})
        atproto = sorted({m for r in s.runs for m in r["atproto_modules"]})
        is_base = s.name == BASELINE
        rows.append(
            [
                "Baseline (bench/baseline/app.py)" if is_base else s.name,
                s.event,
                "/".join(statuses),
                ms(median(totals)),
                ms(median([r["import_s"] for r in s.runs])),
                ms(median([r["invoke_s"] for r in s.runs])),
                f"{ms(min(totals))}-{ms(max(totals))}",
                f"{ratio:.2f}x",
                "-" if is_base else verdict(ratio <= TARGET_RATIO),
                ", ".join(atproto) or "none",
            ]
        )
        if not is_base:
            # A fast cold start that answered an error would measure the wrong thing.
            answered = statuses == ["200"]
            summary.append(
                (
                    f"cold start {s.name} <= {TARGET_RATIO}x baseline ({ratio:.2f}x, status {'/'.join(statuses)})",
                    ratio <= TARGET_RATIO and answered,
                )
            )
            summary.append((f"no atproto module imported by {s.name}", not atproto))
    print(f"  median of {ROUNDS} runs each, interleaved; times in ms; target: <= {TARGET_RATIO}x the baseline")
    print()
    print(
        table(
            [
                "handler",
                "first event",
                "status",
                "median",
                "import",
                "1st call",
                "min-max",
                "ratio",
                f"<= {TARGET_RATIO}x",
                "atproto* in sys.modules",
            ],
            rows,
            "lllrrrrrll",
        )
    )
    for s in all_subjects:
        if s.check:
            ok = sum(p is None for p in s.problems)
            print(
                f"  {s.name}: first invocation was a cache miss (page written over the tombstone) that made exactly"
                f" one PDS request, getRecord of the list record -> 200, in {ok}/{len(s.problems)} runs"
            )
            for problem in sorted({p for p in s.problems if p}):
                print(f"    instead: {problem}")
            summary.append(
                (
                    f"{s.name} cold start missed and fetched the list record once ({ok}/{len(s.problems)})",
                    ok == len(s.problems),
                )
            )
    print("  target: the full atproto client is not imported on the read path -> 'none' in every run")
    return summary

"""Section 1: cold start of each read function beside a baseline handler, in fresh processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from albums_core.cache import AlbumPageCache, album_cache_key, invalidate_album_cache
from albums_core.records import LIST, rkey_of
from albums_core.repository import CatalogueRepository, CatalogueWriter
from bench.common import EVENTS, LAYER, LOG_FILE, ROOT, heading, median, ms, table, verdict
from bench.pds_proxy import CountingProxy, Seen
from local_runtime.lambda_host import local_environment
from local_runtime.stack import LocalStack

ROUNDS = 9
TARGET_RATIO = 1.5
BASELINE = "Baseline"
# Only what a process needs to start; the rest comes from the stack, as the local runtime gives it.
_KEEP_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")


@dataclass
class Subject:
    name: str
    code_uri: Path
    handler: str
    event: str
    env: dict[str, str]
    memory: int
    timeout: int
    # Runs in this process before each cold start (get_album: force a cache miss).
    prepare: Callable[[], None] | None = None
    # Runs after it; None when the run did what it was meant to (get_album: it missed and
    # fetched the list record once), else what it did instead.
    check: Callable[[], str | None] | None = None
    runs: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str | None] = field(default_factory=list)


def _child_env(stack: LocalStack, function_env: dict[str, str]) -> dict[str, str]:
    assert stack.stack and stack.moto
    return {
        **{k: v for k, v in os.environ.items() if k in _KEEP_ENV},
        **local_environment(stack.stack, stack.moto.url),
        **function_env,
        "PYTHONPATH": os.pathsep.join([str(LAYER), str(ROOT)]),
    }


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


def subjects(stack: LocalStack, proxy: CountingProxy) -> list[Subject]:
    assert stack.stack
    functions = stack.stack.functions()
    # The baseline is in no template: it gets the environment every function shares.
    shared_env = stack.stack.raw["Globals"]["Function"]["Environment"]["Variables"]
    baseline_env = {k: str(stack.stack.resolve(v)) for k, v in shared_env.items()}
    out = [
        Subject(
            BASELINE, ROOT / "bench" / "baseline", "app.lambda_handler", "list_albums_200.json", baseline_env, 512, 10
        )
    ]
    handle, slug = _get_album_ref()
    for logical, event_file in (
        ("ListAlbumsFunction", "list_albums_200.json"),
        ("ListArtistAlbumsFunction", "list_artist_albums_200.json"),
        ("GetAlbumFunction", "get_album_200.json"),
    ):
        fn = functions[logical]
        subject = Subject(logical, fn.code_uri, fn.handler, event_file, fn.environment, fn.memory, fn.timeout)
        if logical == "GetAlbumFunction":
            subject.prepare, subject.check = _miss_checks(proxy, handle, slug)
        out.append(subject)
    for subject in out:
        subject.env = _child_env(stack, subject.env)
    return out


def cold_start(stack: LocalStack, subject: Subject, workdir: Path) -> dict[str, Any]:
    assert stack.stack
    if subject.prepare:
        subject.prepare()
    out = workdir / f"{subject.name}.json"
    out.unlink(missing_ok=True)
    job = {
        "logical_id": subject.name,
        "code_uri": str(subject.code_uri),
        "handler": subject.handler,
        "event": str(EVENTS / subject.event),
        "function_name": f"{stack.stack.name}-{subject.name}",
        "memory": subject.memory,
        "timeout_ms": subject.timeout * 1000,
        "out": str(out),
    }
    with LOG_FILE.open("ab") as log:
        proc = subprocess.run(
            [sys.executable, "-m", "bench.coldstart_child", json.dumps(job)],
            cwd=ROOT,
            env=subject.env,
            stdout=log,
            stderr=subprocess.PIPE,
            timeout=120,
            check=False,
        )
    if proc.returncode != 0 or not out.exists():
        raise RuntimeError(f"cold start of {subject.name} failed:\n{proc.stderr.decode(errors='replace')[-3000:]}")
    result: dict[str, Any] = json.loads(out.read_text())
    if subject.check:
        subject.problems.append(subject.check())
    return result


def _rounds(stack: LocalStack, all_subjects: list[Subject]) -> None:
    with tempfile.TemporaryDirectory(prefix="albums-bench-") as tmp:
        # One discarded round: writes the .pyc files and warms the OS file cache for every subject.
        for subject in all_subjects:
            cold_start(stack, subject, Path(tmp))
            subject.problems.clear()
        for n in range(ROUNDS):
            # Interleaved, and rotated each round, so drift in the machine's load hits all alike.
            shift = n % len(all_subjects)
            for subject in all_subjects[shift:] + all_subjects[:shift]:
                subject.runs.append(cold_start(stack, subject, Path(tmp)))


def run(stack: LocalStack) -> list[tuple[str, bool]]:
    heading("1. Cold start: fresh process, import of the handler module + first invocation")
    assert stack.pds
    handle, slug = _get_album_ref()
    proxy = CountingProxy(stack.pds.pds_url).start()
    try:
        with pds_behind(proxy, handle, slug):
            all_subjects = subjects(stack, proxy)
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

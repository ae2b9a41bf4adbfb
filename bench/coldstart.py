"""Section 1: cold start of each read function beside a baseline handler, in fresh processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from albums_core.cache import AlbumPageCache, album_cache_key, invalidate_album_cache
from bench.common import EVENTS, LAYER, LOG_FILE, ROOT, heading, median, ms, table, verdict
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
    # Runs after it; True when the run did what it was meant to (get_album: it missed).
    check: Callable[[], bool] | None = None
    runs: list[dict[str, Any]] = field(default_factory=list)
    checked: list[bool] = field(default_factory=list)


def _child_env(stack: LocalStack, function_env: dict[str, str]) -> dict[str, str]:
    assert stack.stack and stack.moto
    return {
        **{k: v for k, v in os.environ.items() if k in _KEEP_ENV},
        **local_environment(stack.stack, stack.moto.url),
        **function_env,
        "PYTHONPATH": os.pathsep.join([str(LAYER), str(ROOT)]),
    }


def _miss_checks(stack: LocalStack, handle: str, slug: str) -> tuple[Callable[[], None], Callable[[], bool]]:
    """Before: a tombstone, so the child's first invocation misses. After: the child replaced
    the tombstone with a page and fetched the list record from the record server once."""
    assert stack.records
    store = stack.records.store
    hits_before = [0]

    def prepare() -> None:
        invalidate_album_cache(handle, slug)
        hits_before[0] = store.hits

    def check() -> bool:
        cache = AlbumPageCache()
        item = cache.client.get_item(TableName=cache.table, Key={"cache_key": {"S": album_cache_key(handle, slug)}})
        found = item.get("Item", {})
        return "body" in found and "invalidated_at" not in found and store.hits == hits_before[0] + 1

    return prepare, check


def subjects(stack: LocalStack) -> list[Subject]:
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
    get_album = json.loads((EVENTS / "get_album_200.json").read_text())["pathParameters"]
    handle, slug = get_album["ref"], get_album["slug"]
    for logical, event_file in (
        ("ListAlbumsFunction", "list_albums_200.json"),
        ("ListArtistAlbumsFunction", "list_artist_albums_200.json"),
        ("GetAlbumFunction", "get_album_200.json"),
    ):
        fn = functions[logical]
        subject = Subject(logical, fn.code_uri, fn.handler, event_file, fn.environment, fn.memory, fn.timeout)
        if logical == "GetAlbumFunction":
            subject.prepare, subject.check = _miss_checks(stack, handle, slug)
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
        subject.checked.append(subject.check())
    return result


def run(stack: LocalStack) -> list[tuple[str, bool]]:
    heading("1. Cold start: fresh process, import of the handler module + first invocation")
    all_subjects = subjects(stack)
    with tempfile.TemporaryDirectory(prefix="albums-bench-") as tmp:
        # One discarded round: writes the .pyc files and warms the OS file cache for every subject.
        for subject in all_subjects:
            cold_start(stack, subject, Path(tmp))
            subject.checked.clear()
        for n in range(ROUNDS):
            # Interleaved, and rotated each round, so drift in the machine's load hits all alike.
            shift = n % len(all_subjects)
            for subject in all_subjects[shift:] + all_subjects[:shift]:
                subject.runs.append(cold_start(stack, subject, Path(tmp)))

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
            ok = f"{sum(s.checked)}/{len(s.checked)}"
            print(f"  {s.name}: first invocation was a cache miss with one PDS fetch in {ok} runs")
    print("  target: the full atproto client is not imported on the read path -> 'none' in every run")
    return summary

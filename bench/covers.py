"""Section 5: covers. Wall time and peak memory of `albums_core.domain.cover_images.process` on camera-like
JPEGs of 1, 12 and 40 megapixels, while it refuses a PNG decompression bomb and inputs whose
decode cost is out of proportion (a 40,000-scan progressive JPEG, many-frame animations, a chunk
flood), and on the costliest inputs the decode-cost limits accept; every case in a fresh process
(`bench/covers_child.py`), so each peak RSS is that case's alone. The worst accepted input's
decode time is checked against DECODE_TARGET_S."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from albums_core.domain.cover_images import MAX_DIRECT_BYTES, MAX_PIXELS, MAX_UPLOAD_BYTES
from bench.common import LAYER, ROOT, heading, median, ms, table, verdict

MEMORY_TARGET_MB = 512.0
BOMB_TARGET_S = 0.100
DECODE_TARGET_S = 2.0
# 3 repetitions of a JPEG from 30 MP up (about a second each), else 5.
BIG = 30_000_000
HANDLER = ROOT / "functions" / "process_cover_upload" / "app.py"
_KEEP_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")


@dataclass
class Case:
    name: str
    path: Path
    width: int
    height: int
    orientation: int
    size: int
    # A function's handler module (app.py) the child imports before its baseline, for information.
    preload: Path | None = None
    # Built to be costly to decode: a label of its own, and whether the limits refuse it.
    hostile: str | None = None
    refused: bool = False

    @property
    def pixels(self) -> int:
        return self.width * self.height

    @property
    def is_bomb(self) -> bool:
        """Expected to be refused (status 400), quickly."""
        return self.refused

    @property
    def is_photo(self) -> bool:
        return self.hostile is None and not self.refused

    @property
    def direct(self) -> bool:
        """Small enough for the direct upload (UploadAlbumCoverFunction, default max_bytes); larger
        covers go through the presigned POST and ProcessCoverUploadFunction (max_bytes=20 MB)."""
        return self.size <= MAX_DIRECT_BYTES

    @property
    def max_bytes(self) -> int:
        return MAX_DIRECT_BYTES if self.direct else MAX_UPLOAD_BYTES

    @property
    def repetitions(self) -> int:
        return 3 if self.pixels >= BIG and not self.is_bomb else 5

    @property
    def label(self) -> str:
        if self.hostile:
            return self.hostile
        if self.is_bomb:
            return "bomb (PNG, 8-bit gray zeros)"
        label = f"{self.pixels / 1e6:.0f} MP JPEG"
        if self.orientation != 1:
            label += f", EXIF orientation {self.orientation}"
        if self.preload:
            label += f" + {self.preload.parent.name} imports (info)"
        return label


def _env() -> dict[str, str]:
    from local_runtime.template import local_stack

    # The preloaded handler validates its configuration at import: it gets its template
    # environment (resource names only; nothing is called).
    function = next(fn for fn in local_stack().functions().values() if fn.code_uri == HANDLER.parent)
    return {
        **{k: v for k, v in os.environ.items() if k in _KEEP_ENV},
        **function.environment,
        "PYTHONPATH": os.pathsep.join([str(LAYER), str(ROOT)]),
    }


def _child(*args: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "bench.covers_child", *args],
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        timeout=300,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"bench.covers_child {args[0]} failed:\n{proc.stderr.decode(errors='replace')[-3000:]}")
    return proc.stdout.decode()


def generate(directory: Path) -> list[Case]:
    written: list[dict[str, Any]] = json.loads(_child("generate", str(directory)))
    return [
        Case(
            Path(w["path"]).stem.removeprefix("cover-"),
            Path(w["path"]),
            w["width"],
            w["height"],
            w["orientation"],
            Path(w["path"]).stat().st_size,
            hostile=w["label"],
            refused=w["refused"],
        )
        for w in written
    ]


def measure(case: Case, directory: Path) -> dict[str, Any]:
    out = directory / f"{case.name}.json"
    job = {
        "path": str(case.path),
        "max_bytes": case.max_bytes,
        "repetitions": case.repetitions,
        "preload": str(case.preload) if case.preload else None,
        "out": str(out),
    }
    _child("fresh", "measure", json.dumps(job))
    result: dict[str, Any] = json.loads(out.read_text())
    return result


def _ms(seconds: float) -> str:
    """Milliseconds, with microseconds below 10 ms (the bomb's refusal)."""
    return f"{seconds * 1000:.3f}" if seconds < 0.01 else ms(seconds)


def _mb(n_bytes: int) -> str:
    return f"{n_bytes / 2**20:.2f} MB" if n_bytes >= 2**20 else f"{n_bytes / 2**10:.0f} KB"


def run() -> list[tuple[str, bool]]:
    heading("5. Covers: albums_core.domain.cover_images.process, each case in a fresh process")
    with tempfile.TemporaryDirectory(prefix="albums-bench-covers-") as tmp:
        started = time.perf_counter()
        cases = generate(Path(tmp))
        # For information: the largest, rotated cover again, with the presigned path's handler module
        # (boto3, Powertools, the layer) imported first, as in its Lambda function.
        worst = max((c for c in cases if c.is_photo), key=lambda c: (c.pixels, c.orientation != 1))
        cases.insert(cases.index(worst) + 1, replace(worst, name=f"{worst.name}-function", preload=HANDLER))
        generated = time.perf_counter() - started
        results = {case.name: measure(case, Path(tmp)) for case in cases}

    rows = []
    summary: list[tuple[str, bool]] = []
    for case in cases:
        r = results[case.name]
        times = r["times_s"]
        peak, delta = r["peak_mb"], max(0.0, r["peak_mb"] - r["baseline_mb"])
        if r["accepted"]:
            outcome = f"accepted -> {_mb(r['original_bytes'])} + {r['thumbnail_bytes']} B thumb"
        else:
            outcome = f"refused {r['status']}"
        path = (
            f"direct (<= {MAX_DIRECT_BYTES // 2**20} MB)"
            if case.direct
            else f"presigned (<= {MAX_UPLOAD_BYTES // 2**20} MB)"
        )
        memory_met = r["accepted"] and peak < MEMORY_TARGET_MB
        info = case.preload is not None
        rows.append(
            [
                case.label,
                f"{case.width}x{case.height}",
                _mb(case.size),
                path,
                outcome,
                str(len(times)),
                _ms(median(times)),
                f"{_ms(min(times))}-{_ms(max(times))}",
                f"{r['baseline_mb']:.0f}",
                f"+{delta:.0f}",
                f"{peak:.0f}",
                "-" if case.is_bomb else f"({verdict(memory_met)})" if info else verdict(memory_met),
            ]
        )
        if case.is_bomb:
            refused = not r["accepted"] and r["status"] == 400
            fast = median(times) < BOMB_TARGET_S
            what = case.hostile or f"decompression bomb ({case.width}x{case.height} PNG)"
            summary.append(
                (
                    f"{what} ({_mb(case.size)}) refused in < {BOMB_TARGET_S * 1000:.0f} ms"
                    f" ({_ms(median(times))} ms, peak RSS +{delta:.0f} MB)",
                    refused and fast,
                )
            )
        elif not info:
            summary.append(
                (
                    f"cover {case.label} accepted, peak RSS < {MEMORY_TARGET_MB:.0f} MB ({peak:.0f} MB)",
                    memory_met,
                )
            )

    print(
        "  camera-like JPEGs (gradients, blotches, grain; quality 90), a PNG bomb, inputs built to be costly to"
        " decode (the cover unit tests' builders) and the costliest ones the limits accept; generated in"
        f" {generated:.1f} s; limit {MAX_PIXELS / 1e6:.0f} MP from the header"
    )
    print("  median wall time of the call (3 runs of a JPEG from 30 MP up, else 5), in ms")
    print(
        "  RSS in MB: baseline = the child's RSS just before the first call (imports done, file read),"
        " peak = its ru_maxrss over all runs, +peak = peak - baseline"
    )
    print(
        f"  path: covers up to {MAX_DIRECT_BYTES // 2**20} MB go direct (process(data), UploadAlbumCoverFunction),"
        f" larger ones through the presigned POST (process(data, max_bytes={MAX_UPLOAD_BYTES // 2**20} MB),"
        " ProcessCoverUploadFunction)"
    )
    print()
    print(
        table(
            [
                "case",
                "size",
                "file",
                "path",
                "result",
                "runs",
                "median ms",
                "min-max ms",
                "baseline",
                "+peak",
                "peak",
                f"< {MEMORY_TARGET_MB:.0f} MB",
            ],
            rows,
            "lrrllrrrrrrl",
        )
    )
    for case in (c for c in cases if c.is_bomb and not c.hostile):
        r = results[case.name]
        took = median(r["times_s"])
        print(
            f"  bomb: {case.pixels / 1e6:.0f} MP (one byte each once decoded) in {_mb(case.size)};"
            f" refused {r.get('status')} {r.get('detail')!r} in {_ms(took)} ms;"
            f" target < {BOMB_TARGET_S * 1000:.0f} ms: {verdict(not r['accepted'] and took < BOMB_TARGET_S)}"
        )
    for case in (c for c in cases if c.is_bomb and c.hostile):
        r = results[case.name]
        print(f"  {case.label}: refused {r.get('status')} {r.get('detail')!r}")
    accepted = [c for c in cases if results[c.name]["accepted"] and results[c.name]["decode_s"]]
    if accepted:
        print("  decode alone (cover_images.decode: structure checks, open, load within the CPU budget), median:")
        for case in accepted:
            r = results[case.name]
            print(
                f"    {case.label:<44} {_mb(case.size):>9}  wall {ms(median(r['decode_s'])):>6} ms"
                f"  CPU {ms(median(r['decode_cpu_s'])):>6} ms"
            )
        worst = max(accepted, key=lambda c: median(results[c.name]["decode_cpu_s"]))
        cpu, wall = median(results[worst.name]["decode_cpu_s"]), median(results[worst.name]["decode_s"])
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        print(
            f"  worst accepted input's decode: {worst.label} ({_mb(worst.size)}): {cpu:.2f} s CPU, {wall:.2f} s wall"
            f" (load average {load:.1f} on {os.cpu_count()} cores: wall time includes waiting for a core);"
            f" target < {DECODE_TARGET_S:.0f} s CPU: {verdict(cpu < DECODE_TARGET_S)}"
        )
        summary.append(
            (
                f"worst accepted input's decode < {DECODE_TARGET_S:.0f} s ({worst.label}: {cpu:.2f} s CPU,"
                f" {wall:.2f} s wall)",
                cpu < DECODE_TARGET_S,
            )
        )
    jpegs = [c for c in cases if c.is_photo and c.orientation == 1]
    small, large = min(jpegs, key=lambda c: c.pixels), max(jpegs, key=lambda c: c.pixels)
    ratio = median(results[large.name]["times_s"]) / median(results[small.name]["times_s"])
    print(
        f"  time {large.pixels / 1e6:.0f} MP / {small.pixels / 1e6:.0f} MP: {ratio:.1f}x"
        f" (pixels {large.pixels / small.pixels:.1f}x); for information"
    )
    for case, preload in ((c, c.preload) for c in cases if c.preload):
        r = results[case.name]
        print(
            f"  (info) {case.label.removesuffix(' (info)')}: the child first imports"
            f" {preload.relative_to(ROOT)} (boto3, Powertools), as the Lambda function does: peak"
            f" {r['peak_mb']:.0f} MB, {'under' if r['peak_mb'] < MEMORY_TARGET_MB else 'OVER'}"
            f" {MEMORY_TARGET_MB:.0f} MB, before the function's boto3 clients and S3 response"
        )
    gaps = [abs(r["peak_mb"] - r["hwm_mb"]) for r in results.values() if r.get("hwm_mb") is not None]
    if gaps:
        print(
            f"  cross-check: ru_maxrss and VmHWM (the child's own high-water mark since exec) differ by at most"
            f" {max(gaps):.1f} MB (each child is spawned by a fresh launcher: ru_maxrss keeps the RSS of the process"
            " that forked it)"
        )
    print(f"  target: peak RSS of the child < {MEMORY_TARGET_MB:.0f} MB for every accepted cover up to 40 MP")
    return summary


if __name__ == "__main__":
    # Standalone, without the stack: PYTHONPATH=layers/shared .venv/bin/python -m bench.covers
    for name, met in run():
        print(f"  {verdict(met):>3}  {name}")

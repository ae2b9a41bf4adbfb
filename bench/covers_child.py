"""Section 5's helper, run in fresh interpreters.

`generate DIR`: writes the test covers (camera-like JPEGs, a PNG decompression bomb, inputs that
are cheap to send and costly to decode: a many-scan progressive JPEG, many-frame animations, a
chunk flood, and the costliest inputs the decode-cost limits still accept) and prints what it
wrote as JSON. It runs in a process of its own so that neither the bench's process nor a
measuring child carries the peak memory of making a 40 MP image.

`fresh measure JOB`: times `albums_core.domain.cover_images.process` on one file, the given number of times, and
writes the timings and memory to JOB's `out` file; for an accepted file, the decode alone
(`albums_core.domain.cover_images.decode`) too, in wall and CPU time. Everything is imported and the file read
before the baseline RSS is taken, so peak RSS minus the baseline is the calls' own memory.

`fresh ...` runs `...` in a child of this (small) process. Linux carries the RSS high-water mark
of a process's memory over `fork` and `exec` into `ru_maxrss`: a child spawned straight from the
bench (hundreds of MB by section 5) would report at least the bench's RSS. A child of a process
that has just started reports its own.
"""

from __future__ import annotations

import io
import json
import resource
import struct
import sys
import time
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from PIL import Image

# (name, width, height). 7744x5164 = 39,990,016 pixels: the 40 MP limit is inclusive, and the
# common 7746x5164 (40,000,344) is just over it.
JPEGS = (("1mp", 1224, 816), ("12mp", 4240, 2832), ("40mp", 7744, 5164))
BOMB_SIDE = 20_000
ORIENTATION_TAG = 0x0112
# Grain strength: puts a 12 MP JPEG above the 4 MB direct limit, a 40 MP one under 20 MB.
GRAIN = 36.0


def _grain(width: int, height: int, sigma: float, seed: int) -> Image.Image:
    """Per-pixel noise, tiled from a 1021x1021 patch (effect_noise costs ~35 ns a pixel; JPEG
    codes 8x8 blocks and finds no repetition across tiles, so it compresses like full noise).
    `seed` shifts the tiling so the channels differ."""
    from PIL import Image

    tile = Image.effect_noise((1021, 1021), sigma)
    out = Image.new("L", (width, height))
    shift = (seed * 337) % 1021
    for top in range(-shift, height, 1021):
        for left in range(-shift, width, 1021):
            out.paste(tile, (left, top))
    return out


def _photo(width: int, height: int) -> Image.Image:
    """Gradients, blotches at three scales and per-pixel grain: no two blocks alike, so it
    compresses like a photo (about 3-4 bits per pixel at quality 90), not like a flat fill."""
    from PIL import Image

    def blotches(scale: int, sigma: float) -> Image.Image:
        small = Image.effect_noise((max(2, width // scale), max(2, height // scale)), sigma)
        return small.resize((width, height), Image.Resampling.BICUBIC)

    channels = []
    for n, gradient in enumerate((Image.linear_gradient("L"), Image.radial_gradient("L"), Image.linear_gradient("L"))):
        base = gradient.rotate(90 * n).resize((width, height), Image.Resampling.BILINEAR)
        texture = Image.blend(Image.blend(blotches(256, 60), blotches(32, 50), 0.5), blotches(4, 40), 0.4)
        channels.append(Image.blend(Image.blend(base, texture, 0.5), _grain(width, height, GRAIN, n), 0.35))
        del base, texture
    return Image.merge("RGB", channels)


def _jpeg(image: Image.Image, orientation: int) -> bytes:
    from PIL import Image

    exif = Image.Exif()
    exif[ORIENTATION_TAG] = orientation
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90, exif=exif.tobytes())
    return out.getvalue()


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _bomb(side: int) -> bytes:
    """A side x side 8-bit grayscale PNG of zeros (400 MB of pixels at 20000), deflated as a
    stream, a row at a time: a few hundred KB on disk."""
    row = bytes(1 + side)  # filter byte 0 (None), then the row
    deflate = zlib.compressobj(9)
    parts = [deflate.compress(row) for _ in range(side)]
    parts.append(deflate.flush())
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", b"".join(parts)) + _chunk(b"IEND", b"")


def _hostile(write: Any, photo: Image.Image) -> None:
    """Inputs built by the cover unit tests' own builders (tests/unit/test_covers.py): refused
    ones (label, then `refused`) and the costliest accepted ones."""
    from tests.unit.test_covers import animation, noise, png_chunk, png_with_chunks, scan_bomb

    from albums_core.domain.cover_images import MAX_FRAMES, MAX_JPEG_SCAN_BLOCKS, MAX_JPEG_SCANS

    write(
        "scan-bomb.jpg", scan_bomb(4000, 4000, 40_000), 4000, 4000, label="40,000-scan progressive JPEG", refused=True
    )
    frames = 5000
    write("apng-frames.png", animation(frames, "PNG"), 16, 16, label=f"APNG, {frames:,} frames", refused=True)
    write(
        "webp-frames.webp", animation(frames, "WEBP"), 16, 16, label=f"animated WebP, {frames:,} frames", refused=True
    )
    flood = png_with_chunks(noise((64, 48)), png_chunk(b"IDAT", b"") * 1_600_000)
    write("chunks.png", flood, 64, 48, label="PNG, 1.6 M empty IDAT chunks", refused=True)
    # Accepted at the limits: the most empty scans (each a walk over every block) a 40 MP
    # JPEG may have, the photo as a progressive JPEG (real coefficients in every scan),
    # and animations of the most frames allowed.
    width, height = photo.size
    blocks = -(-width // 8) * -(-height // 8)
    scans = min(MAX_JPEG_SCANS, MAX_JPEG_SCAN_BLOCKS // blocks) - 1  # besides the DC scan
    write("scan-limit.jpg", scan_bomb(width, height, scans), width, height, label=f"{scans + 1} empty scans, JPEG")
    out = io.BytesIO()
    # 4:2:0, as cameras and editors save: the same photo at 4:4:4 (18 MB) needs 2.3 s and is
    # refused by the CPU budget (covers.DECODE_CPU_SECONDS).
    photo.save(out, "JPEG", quality=85, progressive=True, subsampling=2)
    write("progressive.jpg", out.getvalue(), width, height, label="progressive 4:2:0 JPEG")
    write("webp-frames-limit.webp", animation(MAX_FRAMES, "WEBP"), 16, 16, label=f"animated WebP, {MAX_FRAMES} frames")


def generate(directory: Path) -> list[dict[str, Any]]:
    written = []

    def write(
        name: str,
        content: bytes,
        width: int,
        height: int,
        orientation: int = 1,
        label: str | None = None,
        refused: bool = False,
    ) -> None:
        path = directory / name
        path.write_bytes(content)
        written.append(
            {
                "path": str(path),
                "width": width,
                "height": height,
                "orientation": orientation,
                "label": label,
                "refused": refused,
            }
        )

    for name, width, height in JPEGS:
        image = _photo(width, height)
        write(f"cover-{name}.jpg", _jpeg(image, 1), width, height)
        if name == JPEGS[-1][0]:
            # The same pixels, stored rotated: EXIF Orientation 6, as every portrait phone photo.
            write(f"cover-{name}-rotated.jpg", _jpeg(image, 6), width, height, 6)
            _hostile(write, image)
        del image
    write("bomb.png", _bomb(BOMB_SIDE), BOMB_SIDE, BOMB_SIDE, refused=True)
    return written


def _rss_mb() -> float:
    """Resident set size now (Linux: /proc/self/statm), else the peak so far."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except OSError:
        return _peak_mb()
    return pages * resource.getpagesize() / 2**20


def _peak_mb() -> float:
    # ru_maxrss is in KiB on Linux, bytes on macOS.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def _hwm_mb() -> float | None:
    """VmHWM: the peak RSS of this process's memory since its exec (a cross-check of ru_maxrss)."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return None
    kb = next((line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")), None)
    return int(kb) / 2**10 if kb else None


def measure(job: dict[str, Any]) -> dict[str, Any]:
    from PIL import Image, ImageOps  # noqa: F401  (process() imports both on its first call)

    from albums_core.domain.cover_images import check_structure, decode, process, sniff
    from albums_core.domain.errors import ServiceError

    if job.get("preload"):
        # The function's handler module, loaded the way the local runtime loads it.
        import importlib.util

        spec = importlib.util.spec_from_file_location("fn_preloaded", job["preload"])
        assert spec and spec.loader
        spec.loader.exec_module(importlib.util.module_from_spec(spec))
    Image.init()  # the format plugins Image.open would load on the first call
    data = Path(job["path"]).read_bytes()
    baseline = _rss_mb()
    times: list[float] = []
    outcome: dict[str, Any] = {}
    for _ in range(job["repetitions"]):
        outcome = {}
        started = time.perf_counter()
        try:
            cover = process(data, max_bytes=job["max_bytes"])
        except ServiceError as exc:
            elapsed = time.perf_counter() - started
            outcome = {"accepted": False, "status": exc.status, "detail": exc.detail}
        else:
            elapsed = time.perf_counter() - started
            outcome = {"accepted": True, "original_bytes": len(cover.original), "thumbnail_bytes": len(cover.thumbnail)}
            del cover
        times.append(elapsed)
    decode_s: list[float] = []
    decode_cpu_s: list[float] = []
    kind = sniff(data)
    if outcome["accepted"] and kind is not None:
        # The decode alone, as process() runs it (structure checked, within the CPU budget).
        for _ in range(job["repetitions"]):
            started, cpu = time.perf_counter(), time.process_time()
            check_structure(data, kind)
            decode(data, kind).close()
            decode_s.append(time.perf_counter() - started)
            decode_cpu_s.append(time.process_time() - cpu)
    return {
        "times_s": times,
        "decode_s": decode_s,
        "decode_cpu_s": decode_cpu_s,
        "baseline_mb": baseline,
        "peak_mb": _peak_mb(),
        "hwm_mb": _hwm_mb(),
        **outcome,
    }


def main() -> None:
    command, argument = sys.argv[1], sys.argv[2]
    if command == "fresh":
        import subprocess

        raise SystemExit(
            subprocess.run([sys.executable, "-m", "bench.covers_child", *sys.argv[2:]], check=False).returncode
        )
    if command == "generate":
        print(json.dumps(generate(Path(argument))))
    elif command == "measure":
        job: dict[str, Any] = json.loads(argument)
        Path(job["out"]).write_text(json.dumps(measure(job)))
    else:
        raise SystemExit(f"unknown command {command!r}")


if __name__ == "__main__":
    main()

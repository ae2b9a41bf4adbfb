"""Cover images, judged from their bytes: JPEG, PNG or WebP only, at most 40 megapixels
(checked from the header, before any pixel is decoded), fully decoded once to prove they are
what they claim. What we store and serve is re-encoded: EXIF orientation applied, metadata
(GPS and the rest) dropped. The thumbnail is a 96x96 centre crop in WebP.

Decode cost is bounded twice. Before decoding, the file's structure is walked without decoding
(`check_structure`): a JPEG's scans (each one a pass over the image's blocks: 40,000 scans of a
16 MP image take half a minute), a PNG's chunks and frames, a WebP's chunks and frames. Then the
decode itself runs against a CPU-time budget (`DECODE_CPU_SECONDS`), checked each time the
decoder asks for more bytes."""

from __future__ import annotations

import hashlib
import io
import re
import struct
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from albums_core.domain.errors import BadRequest, ServiceError

# Where covers are stored (the image and its thumbnail, under the cover's content hash).
IMAGE_PREFIX = "images/"

if TYPE_CHECKING:
    from PIL import Image

MAX_DIRECT_BYTES = 4 * 1024 * 1024
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MAX_PIXELS = 40_000_000
THUMB = 96
UNSUPPORTED = "unsupported image type for album. supported: jpeg, jpg, png, webp"

# JPEG. A photo has one scan (baseline) or up to 18 (progressive CMYK, libjpeg's own script;
# 10 for colour). Every scan walks all the blocks of its components, whatever its byte count,
# so the cost is bounded in blocks too: 15 M blocks is 24 passes over a 40 MP image's luma, and
# a 40 MP progressive CMYK photo needs 15 M. (Huffman-coded sequential and lossless scans spend
# at least a bit a block or sample, so the upload size bounds them too; end-of-band runs and
# arithmetic coding cover many blocks a byte, which is what these two caps are for.)
MAX_JPEG_SCANS = 64
MAX_JPEG_SCAN_BLOCKS = 15_000_000
# Marker segments (Pillow reads each one in Python before decoding): a photo has a few dozen;
# a large ICC profile or extended XMP a few hundred.
MAX_JPEG_SEGMENTS = 1024
# Stray bytes between the header's markers, which Pillow steps through one at a time.
MAX_JPEG_HEADER_SLACK = 4096
# PNG: encoders write image data in chunks of 8 KB and more (2,560 for 20 MB); other chunks
# (text, colour profile, ...) are a handful. Pillow handles each chunk in Python.
MAX_PNG_CHUNKS = 8192
MAX_PNG_OTHER_CHUNKS = 256
# Animated PNG and WebP: only the first frame is kept, but every frame is parsed.
MAX_FRAMES = 100
MAX_WEBP_CHUNKS = MAX_FRAMES + 16
# The decode's budget in CPU time of the decoding thread, not wall time: the same file gets the
# same answer however busy the machine is. Checked on every read and once more after the decode
# (a progressive JPEG's output pass runs after its last read), so no accepted image ever costs
# more (the benchmark's target). Measured here: a 40 MP baseline JPEG 0.85 s, a 40 MP 4:2:0
# progressive one (10 MB) 1.4 s; the same photo 4:4:4 at quality 85 (18 MB) takes 2.3 s and is
# refused: out of proportion for a cover shown at most a few hundred pixels wide.
DECODE_CPU_SECONDS = 2.0
# Bytes handed to the decoder at a time, so that the budget is checked often (a progressive JPEG's
# empty scan is about 30 bytes and may cost tens of ms).
DECODE_BLOCK = 1024


class TooLarge(ServiceError):
    status = 413
    detail = "image too large (max 4MB)"


@dataclass(frozen=True)
class Kind:
    name: str
    pil_format: str
    extension: str
    content_type: str


JPEG = Kind("jpeg", "JPEG", "jpg", "image/jpeg")
PNG = Kind("png", "PNG", "png", "image/png")
WEBP = Kind("webp", "WEBP", "webp", "image/webp")


@dataclass(frozen=True)
class Cover:
    image_id: str
    kind: Kind
    original: bytes
    thumbnail: bytes

    @property
    def key(self) -> str:
        return f"{IMAGE_PREFIX}{self.image_id}.{self.kind.extension}"

    @property
    def thumbnail_key(self) -> str:
        return f"{IMAGE_PREFIX}{self.image_id}-{THUMB}.webp"


def sniff(data: bytes) -> Kind | None:
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return WEBP
    return None


class _TooSlow(Exception):
    """Raised from inside Pillow's read loop; not an OSError, so Pillow passes it through."""


class _ClockedReader(io.BytesIO):
    """The file Pillow decodes from: every read checks the decode's CPU budget first (the
    decoder runs in this thread)."""

    def __init__(self, data: bytes, cpu_seconds: float) -> None:
        super().__init__(data)
        self._deadline = time.thread_time() + cpu_seconds

    def read(self, size: int | None = -1, /) -> bytes:
        self.check()
        return super().read(size)

    def check(self) -> None:
        if time.thread_time() > self._deadline:
            raise _TooSlow


# A JPEG marker as libjpeg finds it: 0xFF, any 0xFF fill bytes, then a code that is neither a
# stuffed zero nor a parameterless RSTn/TEM (libjpeg skips those outside their scan).
_JPEG_MARKER = re.compile(rb"\xff+([^\x00\x01\xd0-\xd7\xff])")
_JPEG_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})


def _check_pixels(width: int, height: int) -> None:
    if width * height > MAX_PIXELS:
        raise BadRequest(f"image too large ({width}x{height}): at most 40 megapixels")


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _check_jpeg(data: bytes) -> None:
    """Walks the marker segments the way libjpeg reads them (lengths skipped, entropy-coded data
    and stray bytes searched through for the next marker) up to EOI, counting scans and the
    8x8 blocks each one decodes. Where the structure is broken, the walk stops and the decoder
    gives its own refusal."""
    pos, segments, scans, blocks, slack = 2, 0, 0, 0, 0
    width = height = 0
    components: dict[int, tuple[int, int]] = {}  # id -> (h, v) sampling factors
    while (found := _JPEG_MARKER.search(data, pos)) is not None:
        marker = found.group(1)[0]
        if scans == 0:
            slack += found.end() - 2 - pos
            if slack > MAX_JPEG_HEADER_SLACK:
                raise BadRequest(f"JPEG has more than {MAX_JPEG_HEADER_SLACK} stray bytes between its header markers")
        if marker in (0xD8, 0xD9):  # EOI ends it; a second SOI is refused by the decoder
            return
        start = found.end()
        if start + 2 > len(data):
            return
        (length,) = struct.unpack_from(">H", data, start)
        body = data[start + 2 : start + length]
        if length < 2 or start + length > len(data):
            return
        segments += 1
        if segments > MAX_JPEG_SEGMENTS:
            raise BadRequest(f"JPEG has more than {MAX_JPEG_SEGMENTS} marker segments")
        if marker in _JPEG_SOF and len(body) >= 6:
            height, width, count = struct.unpack_from(">HHB", body, 1)
            _check_pixels(width, height)
            for n in range(min(count, (len(body) - 6) // 3)):
                ident, sampling = body[6 + 3 * n], body[7 + 3 * n]
                components[ident] = (max(1, sampling >> 4), max(1, sampling & 0x0F))
        elif marker == 0xDA:
            scans += 1
            if scans > MAX_JPEG_SCANS:
                raise BadRequest(
                    f"JPEG has more than {MAX_JPEG_SCANS} scans (a photo has at most about 20): too costly to decode"
                )
            blocks += _scan_blocks(body, width, height, components)
            if blocks > MAX_JPEG_SCAN_BLOCKS:
                raise BadRequest(
                    f"JPEG too costly to decode: its scans decode more than {MAX_JPEG_SCAN_BLOCKS:,} 8x8 blocks"
                    f" ({scans} scans seen, {width}x{height})"
                )
        pos = start + length


def _scan_blocks(sos: bytes, width: int, height: int, components: dict[int, tuple[int, int]]) -> int:
    """The blocks one scan decodes: a single component's own blocks, or every block of the MCUs
    of an interleaved scan (as libjpeg counts them, padding included)."""
    in_scan = [components[i] for i in sos[1 : 1 + 2 * sos[0] : 2] if i in components] if sos else []
    if not in_scan or not width or not height:
        return 0
    h_max = max(h for h, _ in components.values())
    v_max = max(v for _, v in components.values())
    if len(in_scan) == 1:
        h, v = in_scan[0]
        return _ceil_div(_ceil_div(width * h, h_max), 8) * _ceil_div(_ceil_div(height * v, v_max), 8)
    mcus = _ceil_div(width, 8 * h_max) * _ceil_div(height, 8 * v_max)
    return mcus * sum(h * v for h, v in in_scan)


def _check_png(data: bytes) -> None:
    """Counts chunks (image data and others) and animation frames, up to IEND."""
    pos, chunks, others, frames = 8, 0, 0, 0
    while pos + 8 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, pos)
        if kind == b"IEND":
            return
        chunks += 1
        if chunks > MAX_PNG_CHUNKS:
            raise BadRequest(f"PNG has more than {MAX_PNG_CHUNKS} chunks: too costly to decode")
        if kind not in (b"IDAT", b"fdAT"):
            others += 1
            if others > MAX_PNG_OTHER_CHUNKS:
                raise BadRequest(f"PNG has more than {MAX_PNG_OTHER_CHUNKS} chunks besides image data")
        if kind == b"acTL" and length >= 8:
            (claimed,) = struct.unpack_from(">I", data, pos + 8)
            if claimed > MAX_FRAMES:
                raise BadRequest(f"animated PNG with {claimed} frames (at most {MAX_FRAMES})")
        elif kind == b"fcTL":
            frames += 1
            if frames > MAX_FRAMES:
                raise BadRequest(f"animated PNG with more than {MAX_FRAMES} frames")
        pos += 12 + length


def _check_webp(data: bytes) -> None:
    """Counts the RIFF chunks and the animation frames (ANMF) in them; bytes after the RIFF
    container's declared size are not read by libwebp, nor here."""
    (riff_size,) = struct.unpack_from("<I", data, 4)
    end = min(len(data), 8 + riff_size)
    pos, chunks, frames = 12, 0, 0
    while pos + 8 <= end:
        kind, size = struct.unpack_from("<4sI", data, pos)
        chunks += 1
        if chunks > MAX_WEBP_CHUNKS:
            raise BadRequest(f"WebP has more than {MAX_WEBP_CHUNKS} chunks: too costly to decode")
        if kind == b"ANMF":
            frames += 1
            if frames > MAX_FRAMES:
                raise BadRequest(f"animated WebP with more than {MAX_FRAMES} frames")
        pos += 8 + size + (size & 1)


def check_structure(data: bytes, kind: Kind) -> None:
    """Refuses, before any decoding, a file whose structure makes decoding out of proportion to
    the image it holds."""
    if kind is JPEG:
        _check_jpeg(data)
    elif kind is PNG:
        _check_png(data)
    else:
        _check_webp(data)


def decode(data: bytes, kind: Kind) -> Image.Image:
    """`data` opened and its pixels decoded within the CPU budget, once its structure has passed
    `check_structure`: the pixel cap is checked from the header before any pixel is decoded.
    Raises `_TooSlow` past the budget, Pillow's errors for a broken file."""
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = None  # our own limit, checked from the header below
    clock = _ClockedReader(data, DECODE_CPU_SECONDS)
    img = Image.open(clock, formats=[kind.pil_format])
    try:
        _check_pixels(*img.size)
        # WebP has no such loop: libwebp decodes in one call, bounded by the checks above.
        img.decodermaxblock = DECODE_BLOCK
        img.load()
        # A progressive JPEG's last pass (and libwebp's one call) runs after the last read: what
        # went over the budget there is refused too, so no accepted image costs more.
        clock.check()
    except BaseException:
        img.close()
        raise
    return img


def image_id_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:32]


def process(data: bytes, max_bytes: int = MAX_DIRECT_BYTES) -> Cover:
    if not data:
        raise BadRequest("image file is empty")
    if len(data) > max_bytes:
        raise (
            TooLarge()
            if max_bytes == MAX_DIRECT_BYTES
            else BadRequest(f"image too large (max {max_bytes // (1024 * 1024)}MB)")
        )
    kind = sniff(data)
    if kind is None:
        raise BadRequest(UNSUPPORTED)
    check_structure(data, kind)

    from PIL import Image, ImageOps  # only the cover functions pay for Pillow

    try:
        with decode(data, kind) as img:
            ImageOps.exif_transpose(img, in_place=True)
            has_alpha = img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info)
            target = "RGBA" if has_alpha else "RGB"
            # One full-size copy at most: a 40 MP cover is 120 MB of RGB.
            pixels = img if img.mode == target else img.convert(target)
            original = io.BytesIO()
            if kind is JPEG:
                # No second full-size copy (convert() copies even when the mode is already
                # RGB), and no optimize pass (it keeps every coefficient of a 40 MP image).
                (pixels if pixels.mode == "RGB" else pixels.convert("RGB")).save(original, "JPEG", quality=92)
            elif kind is PNG:
                pixels.save(original, "PNG", compress_level=6)
            else:
                pixels.save(original, "WEBP", quality=90, method=4)
            thumb = ImageOps.fit(pixels, (THUMB, THUMB), Image.Resampling.LANCZOS, centering=(0.5, 0.5))
            small = io.BytesIO()
            thumb.save(small, "WEBP", quality=85, method=4)
    except BadRequest:
        raise
    except _TooSlow as exc:
        raise BadRequest(f"image too costly to decode (over {DECODE_CPU_SECONDS:g} s of CPU)") from exc
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as exc:
        # Truncated files, polyglots with a forged signature, corrupt data.
        raise BadRequest("image could not be decoded") from exc
    return Cover(image_id_of(data), kind, original.getvalue(), small.getvalue())

"""Cover images, judged from their bytes: JPEG, PNG or WebP only, at most 40 megapixels
(checked from the header, before any pixel is decoded), fully decoded once to prove they are
what they claim. What we store and serve is re-encoded: EXIF orientation applied, metadata
(GPS and the rest) dropped. The thumbnail is a 96x96 centre crop in WebP."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

from albums_core.errors import BadRequest, ServiceError

MAX_DIRECT_BYTES = 4 * 1024 * 1024
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MAX_PIXELS = 40_000_000
THUMB = 96
UNSUPPORTED = "unsupported image type for album. supported: jpeg, jpg, png, webp"


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
        return f"images/{self.image_id}.{self.kind.extension}"

    @property
    def thumbnail_key(self) -> str:
        return f"images/{self.image_id}-{THUMB}.webp"


def sniff(data: bytes) -> Kind | None:
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return WEBP
    return None


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

    from PIL import Image, ImageOps  # only the cover functions pay for Pillow

    Image.MAX_IMAGE_PIXELS = None  # our own limit, checked from the header below
    try:
        with Image.open(io.BytesIO(data), formats=[kind.pil_format]) as img:
            width, height = img.size
            if width * height > MAX_PIXELS:
                raise BadRequest(f"image too large ({width}x{height}): at most 40 megapixels")
            img.load()
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
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as exc:
        # Truncated files, polyglots with a forged signature, corrupt data.
        raise BadRequest("image could not be decoded") from exc
    return Cover(image_id_of(data), kind, original.getvalue(), small.getvalue())

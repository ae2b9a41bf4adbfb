"""Cover images judged from their bytes (albums_core.domain.cover_images) and the strict multipart reader
(albums_core.http.multipart), with crafted inputs. The image and form builders below are shared by
the integration and e2e cover tests."""

from __future__ import annotations

import io
import os
import struct
import time
import zlib
from typing import Any

import pytest
from PIL import ExifTags, Image, ImageFile

from albums_core.domain import cover_images as covers
from albums_core.domain.cover_images import (
    JPEG,
    MAX_DIRECT_BYTES,
    MAX_UPLOAD_BYTES,
    PNG,
    THUMB,
    UNSUPPORTED,
    WEBP,
    Cover,
    TooLarge,
    process,
    sniff,
)
from albums_core.domain.errors import BadRequest, Unprocessable
from albums_core.http.multipart import Part, boundary_of, parse, single_file

MB = 1024 * 1024

# ---- image builders ----------------------------------------------------------------------------


def encode(img: Image.Image, fmt: str, **params: Any) -> bytes:
    out = io.BytesIO()
    img.save(out, fmt, **params)
    return out.getvalue()


def solid(size: tuple[int, int] = (1, 1), color: Any = (200, 30, 40), mode: str = "RGB", fmt: str = "PNG") -> bytes:
    return encode(Image.new(mode, size, color), fmt)


def noise(size: tuple[int, int] = (64, 48), fmt: str = "PNG", **params: Any) -> bytes:
    """Random pixels: bytes (and so an image_id) no other test shares."""
    return encode(Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3)), fmt, **params)


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def padded_png(total: int, base: bytes | None = None) -> bytes:
    """A valid PNG of exactly `total` bytes: a small image with a tEXt chunk of random text
    before its IEND (an ancillary chunk every decoder skips or keeps as metadata)."""
    base = base or noise((8, 8))
    end = base.rindex(b"IEND") - 4
    keyword = b"Comment\x00"
    fill = total - len(base) - 12 - len(keyword)
    assert fill >= 0
    text = os.urandom(fill // 2 + 1).hex()[:fill].encode()
    data = base[:end] + png_chunk(b"tEXt", keyword + text) + base[end:]
    assert len(data) == total
    return data


def png_bomb(width: int = 20000, height: int = 20000, palette: bool = False) -> bytes:
    """A 1-bit PNG of width x height, all zeros, deflated row block by row block (never held
    uncompressed): 400 megapixels in about 50 KB."""
    header = struct.pack(">IIBBBBB", width, height, 1, 3 if palette else 0, 0, 0, 0)
    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte + packed pixels
    deflate = zlib.compressobj(9)
    idat = bytearray()
    done = 0
    while done < height:
        n = min(1000, height - done)
        idat += deflate.compress(row * n)
        done += n
    idat += deflate.flush()
    chunks = png_chunk(b"IHDR", header)
    if palette:
        chunks += png_chunk(b"PLTE", b"\x00\x00\x00\xff\xff\xff")
    return b"\x89PNG\r\n\x1a\n" + chunks + png_chunk(b"IDAT", bytes(idat)) + png_chunk(b"IEND", b"")


def jpeg_with_size_in_header(width: int, height: int) -> bytes:
    """A small baseline JPEG whose SOF0 header claims width x height."""
    data = bytearray(noise((16, 16), "JPEG"))
    sof = data.index(b"\xff\xc0")
    # FFC0, length (2), precision (1), height (2), width (2)
    struct.pack_into(">HH", data, sof + 5, height, width)
    return bytes(data)


def gif() -> bytes:
    return solid((4, 4), 1, mode="P", fmt="GIF")


def heic() -> bytes:
    """The start of an ISO-BMFF HEIC file: an `ftyp` box with the `heic` brand, then a `meta` box."""
    ftyp = b"ftypheic" + b"\x00\x00\x00\x00" + b"mif1heic"
    meta = b"meta" + b"\x00" * 28
    return struct.pack(">I", 4 + len(ftyp)) + ftyp + struct.pack(">I", 4 + len(meta)) + meta


SVG = b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect/></svg>\n'
TEXT = b"this is a plain text file that calls itself cover.png\n"
POLYGLOT = b"\xff\xd8\xff\xe0<html><body><script>alert(document.cookie)</script></body></html>\n"


def truncated_jpeg() -> bytes:
    data = noise((128, 96), "JPEG", quality=90)
    return data[: len(data) // 2]


def cmyk_jpeg() -> bytes:
    return solid((64, 48), (0, 255, 255, 0), mode="CMYK", fmt="JPEG")  # red in CMYK


def alpha_png() -> bytes:
    return solid((64, 48), (255, 0, 0, 128), mode="RGBA")


def rotated_jpeg() -> bytes:
    """200x100, left half red, right half blue, EXIF orientation 6 (display rotated 90° clockwise:
    red on top, blue below, 100x200)."""
    img = Image.new("RGB", (200, 100), (255, 0, 0))
    img.paste((0, 0, 255), (100, 0, 200, 100))
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    return encode(img, "JPEG", quality=95, exif=exif.tobytes())


GPS = {1: "N", 2: (35.0, 40.0, 12.0), 3: "E", 4: (139.0, 45.0, 3.0)}
XMP_GPS = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="35,40.2N" '
    b'exif:GPSLongitude="139,45.05E"/></rdf:RDF></x:xmpmeta>'
)


def gps_image(fmt: str = "JPEG") -> bytes:
    """A photo with EXIF GPS coordinates and a camera make (plus XMP GPS for JPEG)."""
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "SpyCam"
    exif[ExifTags.Base.GPSInfo] = GPS
    img = Image.frombytes("RGB", (64, 48), os.urandom(64 * 48 * 3))
    extra: dict[str, Any] = {"xmp": XMP_GPS} if fmt == "JPEG" else {}
    data = encode(img, fmt, exif=exif.tobytes(), **extra)
    with Image.open(io.BytesIO(data)) as check:  # the input really carries them
        assert check.getexif().get_ifd(ExifTags.IFD.GPSInfo)
    return data


def opened(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


def assert_no_metadata(data: bytes) -> None:
    img = opened(data)
    assert not img.getexif(), dict(img.getexif())
    assert "exif" not in img.info and "xmp" not in img.info
    assert b"GPS" not in data and b"SpyCam" not in data


# ---- hostile structure: cheap to send, costly to decode ----------------------------------------


def _segment(marker: int, body: bytes) -> bytes:
    return struct.pack(">BBH", 0xFF, marker, len(body) + 2) + body


class _Bits:
    """Writes a JPEG entropy-coded segment: MSB first, 0xFF stuffed with 0x00, 1-padded."""

    def __init__(self) -> None:
        self.out = bytearray()
        self.value = self.count = 0

    def put(self, value: int, length: int) -> None:
        for shift in range(length - 1, -1, -1):
            self.value = (self.value << 1) | ((value >> shift) & 1)
            self.count += 1
            if self.count == 8:
                self.out += b"\xff\x00" if self.value == 0xFF else bytes([self.value])
                self.value = self.count = 0

    def done(self) -> bytes:
        if self.count:
            self.put((1 << (8 - self.count)) - 1, 8 - self.count)
        return bytes(self.out)


def scan_bomb(width: int, height: int, scans: int) -> bytes:
    """A grayscale progressive JPEG written marker by marker: a DC scan (every block's DC
    difference 0, one bit each), then `scans` AC scans for coefficients 1-63 that hold nothing but
    end-of-band runs (EOBr: 2**r blocks plus r extra bits, at most 32767 blocks a symbol). Each such
    scan is about 30 bytes, yet the decoder walks every block of the image for it."""
    blocks = ((width + 7) // 8) * ((height + 7) // 8)
    dqt = _segment(0xDB, b"\x00" + bytes([1] * 64))
    sof2 = _segment(0xC2, struct.pack(">BHHB", 8, height, width, 1) + b"\x01\x11\x00")
    one_code = bytes([1] + [0] * 15)  # one symbol with a 1-bit code
    eob_runs = bytes(r << 4 for r in range(15))  # EOB0 .. EOB14, 4-bit codes
    dht = _segment(0xC4, b"\x00" + one_code + b"\x00" + b"\x10" + bytes([0, 0, 0, 15] + [0] * 12) + eob_runs)
    whole, rest = divmod(blocks, 8)  # one 0 bit a block, then 1s to the byte's end
    dc = bytes(whole) + (bytes([(1 << (8 - rest)) - 1]) if rest else b"")
    ac = _Bits()
    left = blocks
    while left:
        run = min(left, 32767)
        r = run.bit_length() - 1
        ac.put(r, 4)
        ac.put(run - (1 << r), r)
        left -= run
    dc_scan = _segment(0xDA, b"\x01\x01\x00\x00\x00\x00") + dc
    ac_scan = _segment(0xDA, b"\x01\x01\x00\x01\x3f\x00") + ac.done()
    return b"\xff\xd8" + dqt + sof2 + dht + dc_scan + ac_scan * scans + b"\xff\xd9"


def jpeg_with_segments(data: bytes, segments: bytes) -> bytes:
    """`data` with `segments` inserted right after its SOI."""
    return data[:2] + segments + data[2:]


def png_with_chunks(base: bytes, chunks: bytes) -> bytes:
    """`base` with `chunks` inserted right before its IEND."""
    end = base.rindex(b"IEND") - 4
    return base[:end] + chunks + base[end:]


def png_split_idat(base: bytes, size: int) -> bytes:
    """`base` with all its image data rewritten as IDAT chunks of `size` bytes."""
    pos, before, stream, after = 8, b"", b"", b""
    while pos < len(base):
        (length,) = struct.unpack_from(">I", base, pos)
        chunk = base[pos : pos + 12 + length]
        if chunk[4:8] == b"IDAT":
            stream += chunk[8:-4]
        elif stream:
            after += chunk
        else:
            before += chunk
        pos += 12 + length
    pieces = b"".join(png_chunk(b"IDAT", stream[i : i + size]) for i in range(0, len(stream), size))
    return base[:8] + before + pieces + after


def animation(frames: int, fmt: str, size: tuple[int, int] = (16, 16)) -> bytes:
    """An animated PNG or WebP of `frames` frames, alternating colours (identical frames would be
    merged by the encoder)."""
    images = [Image.new("RGB", size, (255, 0, 0) if n % 2 else (0, 0, 255)) for n in range(frames)]
    return encode(images[0], fmt, save_all=True, append_images=images[1:], duration=40, lossless=True)


def webp_with_chunks(base: bytes, chunks: bytes) -> bytes:
    """An extended-format (VP8X) WebP `base` with `chunks` appended, its RIFF size fixed."""
    assert base[12:16] == b"VP8X"
    body = base[8:] + chunks
    return b"RIFF" + struct.pack("<I", len(body)) + body


# ---- multipart builders --------------------------------------------------------------------------

BOUNDARY = "----cover-boundary-7MA4YWxkTrZu0gW"


def file_part(
    data: bytes,
    name: str = "image",
    filename: str | None = "cover.png",
    content_type: str | None = "image/png",
) -> bytes:
    disposition = f'Content-Disposition: form-data; name="{name}"'
    if filename is not None:
        disposition += f'; filename="{filename}"'
    head = disposition + (f"\r\nContent-Type: {content_type}" if content_type else "")
    return head.encode() + b"\r\n\r\n" + data


def form(*parts: bytes, boundary: str = BOUNDARY) -> bytes:
    delimiter = b"--" + boundary.encode()
    return b"".join(delimiter + b"\r\n" + p + b"\r\n" for p in parts) + delimiter + b"--\r\n"


def form_type(boundary: str = BOUNDARY) -> str:
    return f"multipart/form-data; boundary={boundary}"


# ---- sniff -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (solid(fmt="JPEG"), JPEG),
        (solid(fmt="PNG"), PNG),
        (solid(fmt="WEBP"), WEBP),
        (cmyk_jpeg(), JPEG),
        (POLYGLOT, JPEG),  # the signature alone says JPEG: the decode is what refuses it
        (TEXT, None),
        (gif(), None),
        (SVG, None),
        (heic(), None),
        (b"RIFF\x00\x00\x00\x00WAVEfmt ", None),
        (b"RIFF\x00\x00\x00\x00WEB", None),  # too short to be WebP
        (b"\x89PNG\r\n", None),
        (b"\xff\xd8", None),
        (b"BM" + b"\x00" * 60, None),
        (b"", None),
    ],
)
def test_sniff_judges_the_signature_only(data: bytes, kind: object) -> None:
    assert sniff(data) is kind


# ---- process: refusals -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [TEXT, gif(), SVG, heic(), b"BM" + b"\x00" * 100, b"\x00\x00\x00\x0cjP  \r\n\x87\n"],
    ids=["text-named-png", "gif", "svg", "heic", "bmp", "jpeg2000"],
)
def test_unsupported_types_get_the_contract_message(data: bytes) -> None:
    with pytest.raises(BadRequest) as err:
        process(data)
    assert err.value.status == 400
    assert err.value.detail == UNSUPPORTED == "unsupported image type for album. supported: jpeg, jpg, png, webp"


@pytest.mark.parametrize(
    "data",
    [
        POLYGLOT,
        truncated_jpeg(),
        b"\x89PNG\r\n\x1a\n" + b"\x00" * 40,
        b"RIFF\x20\x00\x00\x00WEBPVP8 " + b"\x00" * 20,
        solid((32, 32), fmt="PNG")[:-30],
    ],
    ids=["html-js-polyglot", "truncated-jpeg", "png-signature-garbage", "webp-signature-garbage", "truncated-png"],
)
def test_forged_or_broken_images_are_400(data: bytes) -> None:
    with pytest.raises(BadRequest) as err:
        process(data)
    assert err.value.status == 400 and err.value.detail


def test_empty_file_is_400() -> None:
    with pytest.raises(BadRequest) as err:
        process(b"")
    assert err.value.status == 400 and err.value.detail == "image file is empty"


def test_one_byte_over_4mb_is_413_and_exactly_4mb_is_accepted() -> None:
    exact = padded_png(MAX_DIRECT_BYTES)
    assert len(exact) == 4 * MB
    cover = process(exact)
    assert cover.kind is PNG and opened(cover.original).size == (8, 8)
    over = padded_png(MAX_DIRECT_BYTES + 1)
    with pytest.raises(TooLarge) as err:
        process(over)
    assert err.value.status == 413 and err.value.detail == "image too large (max 4MB)"


def test_the_upload_limit_of_20mb_applies_to_presigned_uploads() -> None:
    big = padded_png(6 * MB)
    assert process(big, max_bytes=MAX_UPLOAD_BYTES).kind is PNG
    with pytest.raises(TooLarge):
        process(big)
    with pytest.raises(BadRequest) as err:
        process(b"\x00" * (MAX_UPLOAD_BYTES + 1), max_bytes=MAX_UPLOAD_BYTES)
    assert err.value.status == 400 and "20MB" in err.value.detail


@pytest.fixture
def decode_spy(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """Records every pixel decode (ImageFile.load) that happens."""
    calls: list[tuple[int, int]] = []
    original = ImageFile.ImageFile.load

    def load(self: ImageFile.ImageFile) -> Any:
        calls.append(self.size)
        return original(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)
    return calls


@pytest.mark.parametrize(
    "data",
    [
        png_bomb(),
        png_bomb(palette=True),
        png_bomb(8000, 5001),  # just over 40 megapixels
        jpeg_with_size_in_header(65000, 65000),
    ],
    ids=["png-20000x20000-gray1", "png-20000x20000-palette1", "png-just-over-40mp", "jpeg-header-65000x65000"],
)
def test_decompression_bombs_are_refused_from_the_header(data: bytes, decode_spy: list[tuple[int, int]]) -> None:
    assert len(data) < 500_000
    # CPU time of this thread (the one that decodes): cheap to refuse, on a busy machine too.
    started = time.thread_time()
    with pytest.raises(BadRequest) as err:
        process(data)
    used = time.thread_time() - started
    assert err.value.status == 400 and "40 megapixels" in err.value.detail
    assert decode_spy == [], "pixels were decoded before the pixel cap was checked"
    assert used < 1.0


def test_the_decode_spy_sees_an_ordinary_decode(decode_spy: list[tuple[int, int]]) -> None:
    process(solid((3, 2)))
    assert (3, 2) in decode_spy


# ---- process: decode cost (structure checked before decoding, decode within a CPU budget) --------


def assert_refused_before_decoding(data: bytes, words: str, decode_spy: list[tuple[int, int]]) -> None:
    decode_spy.clear()  # whatever an accepted input before it decoded
    started = time.thread_time()  # CPU time of the decoding thread: holds on a busy machine
    with pytest.raises(BadRequest) as err:
        process(data, max_bytes=MAX_UPLOAD_BYTES)
    used = time.thread_time() - started
    assert err.value.status == 400 and words in err.value.detail, err.value.detail
    assert decode_spy == [], "pixels were decoded before the structure was checked"
    assert used < 1.0


def test_a_progressive_jpeg_with_40000_scans_is_refused_before_decoding(decode_spy: list[tuple[int, int]]) -> None:
    """The reported bomb: 4000x4000, 1.27 MB, half a minute of decoding."""
    data = scan_bomb(4000, 4000, 40_000)
    assert len(data) < MAX_DIRECT_BYTES
    assert_refused_before_decoding(data, "too costly to decode", decode_spy)


def test_scans_that_decode_too_many_blocks_are_refused(decode_spy: list[tuple[int, int]]) -> None:
    """41 scans (under the scan cap) of a 40 MP image: 25.6 M blocks to decode."""
    data = scan_bomb(7744, 5164, 40)
    assert_refused_before_decoding(data, f"more than {covers.MAX_JPEG_SCAN_BLOCKS:,} 8x8 blocks", decode_spy)


def test_the_scan_cap_is_64() -> None:
    assert process(scan_bomb(256, 256, 63)).kind is JPEG  # 64 scans
    with pytest.raises(BadRequest) as err:
        process(scan_bomb(256, 256, 64))
    assert "more than 64 scans" in err.value.detail


@pytest.mark.parametrize("mode", ["L", "RGB", "CMYK"])
@pytest.mark.parametrize("subsampling", [0, 2])
def test_real_progressive_jpegs_are_accepted(mode: str, subsampling: int) -> None:
    """libjpeg's own progressions (6 scans for gray, 10 for colour, 18 for CMYK) pass."""
    data = encode(Image.new(mode, (640, 480)).convert(mode), "JPEG", progressive=True, subsampling=subsampling)
    small = noise((640, 480), "JPEG", progressive=True, subsampling=subsampling)
    for image in (data, small):
        assert process(image).kind is JPEG


def test_a_jpeg_with_too_many_marker_segments_is_refused(decode_spy: list[tuple[int, int]]) -> None:
    base = noise((64, 48), "JPEG")
    comment = b"\xff\xfe\x00\x02"  # an empty COM segment
    assert process(jpeg_with_segments(base, comment * 1000)).kind is JPEG
    assert_refused_before_decoding(jpeg_with_segments(base, comment * 500_000), "marker segments", decode_spy)


def test_stray_bytes_between_jpeg_header_markers_are_limited(decode_spy: list[tuple[int, int]]) -> None:
    """Pillow steps through them a byte at a time; libjpeg only warns."""
    base = noise((64, 48), "JPEG")
    comment = b"\xff\xfe\x00\x02"  # the signature check wants a marker right after SOI
    assert process(jpeg_with_segments(base, comment + b"\x00" * 4096)).kind is JPEG
    assert_refused_before_decoding(jpeg_with_segments(base, comment + b"\x00" * 4097), "stray bytes", decode_spy)


def test_a_png_flooded_with_empty_chunks_is_refused(decode_spy: list[tuple[int, int]]) -> None:
    """1.6 M empty IDAT chunks after the image: 19 MB that Pillow would walk in Python."""
    data = png_with_chunks(noise((64, 48)), png_chunk(b"IDAT", b"") * 1_600_000)
    assert len(data) <= MAX_UPLOAD_BYTES
    assert_refused_before_decoding(data, "more than 8192 chunks", decode_spy)


def test_png_image_data_in_8kb_chunks_is_accepted() -> None:
    data = png_split_idat(noise((512, 512)), 8192)
    assert data.count(b"IDAT") > 90
    assert process(data).kind is PNG


def test_a_png_with_too_many_other_chunks_is_refused(decode_spy: list[tuple[int, int]]) -> None:
    base = noise((64, 48))
    assert process(png_with_chunks(base, png_chunk(b"tEXt", b"k\x00v") * 250)).kind is PNG
    assert_refused_before_decoding(
        png_with_chunks(base, png_chunk(b"tEXt", b"k\x00v") * 257),
        "more than 256 chunks besides image data",
        decode_spy,
    )


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_animations_of_up_to_100_frames_are_accepted_as_their_first_frame(fmt: str) -> None:
    data = animation(100, fmt)
    with Image.open(io.BytesIO(data)) as check:
        assert check.n_frames == 100
    cover = process(data)
    assert opened(cover.original).getpixel((8, 8))[:3] == (0, 0, 255)


@pytest.mark.parametrize(("fmt", "words"), [("PNG", "animated PNG with 500 frames"), ("WEBP", "animated WebP")])
def test_a_many_frame_animation_is_refused(fmt: str, words: str, decode_spy: list[tuple[int, int]]) -> None:
    assert_refused_before_decoding(animation(500, fmt), words, decode_spy)


def test_an_apng_claiming_more_frames_than_allowed_is_refused(decode_spy: list[tuple[int, int]]) -> None:
    data = animation(2, "PNG")
    at = data.index(b"acTL") + 4
    forged = data[: at - 8] + png_chunk(b"acTL", struct.pack(">II", 2**31, 0)) + data[at + 12 :]
    assert_refused_before_decoding(forged, f"animated PNG with {2**31} frames", decode_spy)


def test_a_webp_with_too_many_chunks_is_refused(decode_spy: list[tuple[int, int]]) -> None:
    base = gps_image("WEBP")  # EXIF makes it an extended (VP8X) WebP, which may carry unknown chunks
    unknown = b"ZZZZ\x00\x00\x00\x00"
    assert process(webp_with_chunks(base, unknown * 100)).kind is WEBP
    assert_refused_before_decoding(webp_with_chunks(base, unknown * 1_000_000), "more than 116 chunks", decode_spy)


def test_bytes_after_the_webp_container_are_not_counted_as_chunks() -> None:
    """libwebp reads only the RIFF container's declared size; so does the chunk count."""
    data = gps_image("WEBP") + b"ZZZZ\x00\x00\x00\x00" * 1000
    assert process(data).kind is WEBP


def test_the_decode_is_cut_off_by_its_cpu_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    """With the structure checks out of the way, a 4000-scan bomb (several seconds of decoding)
    stops at the budget: the decoding thread's CPU time is read each time the decoder asks for
    bytes. CPU time, so that the test holds on a busy machine too."""
    monkeypatch.setattr(covers, "MAX_JPEG_SCANS", 10**9)
    monkeypatch.setattr(covers, "MAX_JPEG_SCAN_BLOCKS", 10**12)
    monkeypatch.setattr(covers, "MAX_JPEG_SEGMENTS", 10**9)
    monkeypatch.setattr(covers, "DECODE_CPU_SECONDS", 0.3)
    data = scan_bomb(4000, 4000, 4000)
    started = time.thread_time()
    with pytest.raises(BadRequest) as err:
        process(data)
    used = time.thread_time() - started
    assert err.value.status == 400 and err.value.detail == "image too costly to decode (over 0.3 s of CPU)"
    assert used < 1.5


def test_cpu_spent_after_the_last_read_counts_too(monkeypatch: pytest.MonkeyPatch) -> None:
    """A progressive JPEG's output pass (and libwebp's single call) runs after the decoder's last
    read: the budget is checked once more when the decode ends, so an image whose cost lies
    there is refused as well."""
    data = noise((640, 480), "JPEG", progressive=True)
    reads: list[int] = []

    def uncounted_read(self: io.BytesIO, size: int | None = -1, /) -> bytes:
        reads.append(1)
        return io.BytesIO.read(self, size)

    monkeypatch.setattr(covers._ClockedReader, "read", uncounted_read)  # no check while reading
    monkeypatch.setattr(covers, "DECODE_CPU_SECONDS", 0.0)
    with pytest.raises(BadRequest) as err:
        process(data)
    assert reads and err.value.detail == "image too costly to decode (over 0 s of CPU)"


# ---- process: accepted covers --------------------------------------------------------------------


def assert_thumbnail(cover: Cover, mode: str = "RGB") -> Image.Image:
    thumb = opened(cover.thumbnail)
    assert thumb.format == "WEBP" and thumb.size == (THUMB, THUMB) == (96, 96) and thumb.mode == mode
    return thumb


def test_a_1x1_png_is_accepted() -> None:
    data = solid((1, 1))
    cover = process(data)
    assert cover.kind is PNG and cover.key == f"images/{cover.image_id}.png"
    assert cover.thumbnail_key == f"images/{cover.image_id}-96.webp"
    original = opened(cover.original)
    assert original.format == "PNG" and original.size == (1, 1)
    assert assert_thumbnail(cover).getpixel((50, 50))[:3] == pytest.approx((200, 30, 40), abs=8)


@pytest.mark.parametrize(("fmt", "kind"), [("JPEG", JPEG), ("PNG", PNG), ("WEBP", WEBP)])
def test_each_accepted_format_is_stored_in_its_own_format(fmt: str, kind: object) -> None:
    cover = process(noise((300, 200), fmt))
    assert cover.kind is kind and cover.key.endswith("." + cover.kind.extension)
    original = opened(cover.original)
    assert original.format == fmt and original.size == (300, 200)
    assert_thumbnail(cover)


def test_image_id_is_a_content_hash() -> None:
    data = noise()
    first, again = process(data), process(bytes(data))
    assert first.image_id == again.image_id and first.key == again.key
    assert len(first.image_id) >= 32 and int(first.image_id, 16) >= 0
    assert process(noise()).image_id != first.image_id


def test_thumbnail_is_a_centre_crop() -> None:
    """A 300x100 image: red, green, blue thirds. The centred square is green only."""
    img = Image.new("RGB", (300, 100), (255, 0, 0))
    img.paste((0, 255, 0), (100, 0, 200, 100))
    img.paste((0, 0, 255), (200, 0, 300, 100))
    thumb = assert_thumbnail(process(encode(img, "PNG")))
    for x in (3, 48, 92):
        r, g, b = thumb.getpixel((x, 48))[:3]
        assert g > 200 and r < 40 and b < 40, (x, (r, g, b))


def test_cmyk_jpeg_is_stored_as_rgb_jpeg() -> None:
    cover = process(cmyk_jpeg())
    original = opened(cover.original)
    assert cover.kind is JPEG and original.format == "JPEG" and original.mode == "RGB"
    r, g, b = original.getpixel((10, 10))
    assert r > 200 and g < 40 and b < 40
    assert_thumbnail(cover)


@pytest.mark.parametrize(
    "data",
    [
        alpha_png(),
        solid((64, 48), (100, 50), mode="LA"),
        encode(Image.new("P", (64, 48), 0), "PNG", transparency=0),
        solid((64, 48), (255, 0, 0, 128), mode="RGBA", fmt="WEBP"),
    ],
    ids=["rgba-png", "la-png", "palette-png-with-transparency", "rgba-webp"],
)
def test_alpha_is_kept_in_the_thumbnail(data: bytes) -> None:
    cover = process(data)
    thumb = assert_thumbnail(cover, mode="RGBA")
    assert thumb.getpixel((48, 48))[3] < 255
    assert opened(cover.original).mode in ("RGBA", "LA", "PA")


def test_exif_orientation_is_applied_to_original_and_thumbnail() -> None:
    data = rotated_jpeg()
    assert opened(data).size == (200, 100)
    cover = process(data)
    original = opened(cover.original)
    assert original.size == (100, 200)
    assert not original.getexif().get(ExifTags.Base.Orientation)
    top, bottom = original.getpixel((50, 20)), original.getpixel((50, 180))
    assert top[0] > 200 and top[2] < 60 and bottom[2] > 200 and bottom[0] < 60
    thumb = assert_thumbnail(cover)
    top, bottom = thumb.getpixel((48, 5)), thumb.getpixel((48, 90))
    assert top[0] > 200 and top[2] < 60, top
    assert bottom[2] > 200 and bottom[0] < 60, bottom


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_exif_gps_does_not_reach_what_we_store(fmt: str) -> None:
    data = gps_image(fmt)
    cover = process(data)
    assert_no_metadata(cover.original)
    assert_no_metadata(cover.thumbnail)


def test_png_text_padding_is_not_stored() -> None:
    data = padded_png(200_000)
    cover = process(data)
    assert len(cover.original) < 10_000 and "Comment" not in opened(cover.original).info


# ---- multipart ---------------------------------------------------------------------------------


def test_parse_reads_a_file_part_byte_for_byte() -> None:
    # data full of things that look like framing, but are not a delimiter line
    data = b"\r\n--" + b"\x00\xff\r\n\r\n--" + BOUNDARY[:-1].encode() + b"\r\n" + os.urandom(2048) + b"\r\n"
    parts = parse(form_type(), form(b'Content-Disposition: form-data; name="title"\r\n\r\nhello', file_part(data)))
    assert [p.name for p in parts] == ["title", "image"]
    assert parts[0] == Part("title", None, None, b"hello")
    assert parts[1] == Part("image", "cover.png", "image/png", data)
    assert single_file(parts, "image").data == data


@pytest.mark.parametrize(
    "content_type",
    [
        f'multipart/form-data; boundary="{BOUNDARY}"',
        f"Multipart/Form-Data; charset=utf-8; BOUNDARY={BOUNDARY}",
        f"multipart/form-data; boundary={BOUNDARY}; charset=utf-8",
    ],
)
def test_boundary_forms(content_type: str) -> None:
    assert boundary_of(content_type) == BOUNDARY.encode()
    assert single_file(parse(content_type, form(file_part(b"x"))), "image").data == b"x"


def test_no_filename_and_unquoted_parameters() -> None:
    parts = parse(form_type(), form(b"Content-Disposition: form-data; name=image\r\n\r\nabc"))
    assert parts == [Part("image", None, None, b"abc")]
    assert single_file(parse(form_type(), form(file_part(b"abc", filename=None))), "image").filename is None


def test_a_filename_with_dot_dot_is_only_a_string() -> None:
    part = single_file(parse(form_type(), form(file_part(b"abc", filename="../../etc/passwd"))), "image")
    assert part.filename == "../../etc/passwd" and part.data == b"abc"


def test_an_empty_file_part_is_read_as_empty() -> None:
    assert single_file(parse(form_type(), form(file_part(b""))), "image").data == b""


def test_preamble_and_epilogue_are_ignored() -> None:
    body = b"preamble text\r\n" + form(file_part(b"data")) + b"epilogue"
    assert single_file(parse(form_type(), body), "image").data == b"data"


def test_two_image_parts_are_422() -> None:
    parts = parse(form_type(), form(file_part(b"a"), file_part(b"b")))
    with pytest.raises(Unprocessable) as err:
        single_file(parts, "image")
    assert err.value.status == 422 and "exactly one" in err.value.detail


def test_the_field_under_another_name_is_422() -> None:
    parts = parse(form_type(), form(file_part(b"a", name="file"), file_part(b"b", name="images")))
    with pytest.raises(Unprocessable) as err:
        single_file(parts, "image")
    assert err.value.status == 422 and err.value.detail.startswith("image:")


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        (None, form(file_part(b"x"))),
        ("application/json", b'{"image": "x"}'),
        ("image/png", solid()),
        ("application/x-www-form-urlencoded", b"image=x"),
        ("multipart/mixed; boundary=" + BOUNDARY, form(file_part(b"x"))),
        ("multipart/form-data", form(file_part(b"x"))),
        ("multipart/form-data; boundary=", form(file_part(b"x"))),
        ('multipart/form-data; boundary=""', form(file_part(b"x"))),
        ('multipart/form-data; boundary="unterminated', form(file_part(b"x"))),
        ("multipart/form-data; boundary=" + "b" * 71, form(file_part(b"x"), boundary="b" * 71)),
        ("multipart/form-data; boundary=other", form(file_part(b"x"))),
        (form_type(), b""),
        (form_type(), b"not a multipart body at all"),
        (form_type(), form(file_part(b"x"))[: -len(BOUNDARY) - 6]),  # never closed
        (form_type(), f"--{BOUNDARY}--\r\n".encode()),  # no part at all
        (form_type(), form(b'Content-Disposition: form-data; name="image"\r\nno blank line')),
        (form_type(), form(b"Content-Type: image/png\r\n\r\nx")),  # no Content-Disposition
        (form_type(), form(b"Content-Disposition: attachment; name=image\r\n\r\nx")),
        (form_type(), form(b'Content-Disposition: form-data; filename="a.png"\r\n\r\nx')),  # no name
        (form_type(), form(b"a header line without a colon\r\n\r\nx")),
        (form_type(), form(file_part(b"x")).replace(b"\r\n", b"\n")),  # bare LF framing
    ],
    ids=[
        "no-content-type",
        "json",
        "raw-image",
        "urlencoded",
        "multipart-mixed",
        "no-boundary",
        "empty-boundary",
        "empty-quoted-boundary",
        "unterminated-quoted-boundary",
        "boundary-over-70-chars",
        "boundary-mismatch",
        "empty-body",
        "garbage-body",
        "not-closed",
        "no-parts",
        "no-blank-line",
        "no-disposition",
        "not-form-data",
        "no-name",
        "header-without-colon",
        "lf-only",
    ],
)
def test_malformed_multipart_is_422(content_type: str | None, body: bytes) -> None:
    with pytest.raises(Unprocessable) as err:
        single_file(parse(content_type, body), "image")
    assert err.value.status == 422 and err.value.detail


def test_a_multipart_body_of_only_its_closing_boundary_says_it_has_no_part() -> None:
    with pytest.raises(Unprocessable) as err:
        parse("multipart/form-data; boundary=xyz", b"--xyz--\r\n")
    assert "without any part" in err.value.detail
    with pytest.raises(Unprocessable) as err:
        parse("multipart/form-data; boundary=xyz", b"--xyz\r\nContent-Disposition: form-data; name=image\r\n\r\nab")
    assert "not closed by the boundary" in err.value.detail

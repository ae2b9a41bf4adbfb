"""A strict multipart/form-data reader for the cover upload (one file field; anything
malformed is refused with a message, never guessed at)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from albums_core.domain.errors import Unprocessable

_BOUNDARY = re.compile(r'boundary=(?:"([^"]{1,70})"|([^\s;"]{1,70}))', re.IGNORECASE)
_DISPOSITION = re.compile(r"^form-data\s*;(.*)$", re.IGNORECASE | re.DOTALL)
_PARAM = re.compile(r'\s*([A-Za-z0-9_*-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]+))\s*;?')


@dataclass(frozen=True)
class Part:
    name: str
    filename: str | None
    content_type: str | None
    data: bytes


def boundary_of(content_type: str | None) -> bytes:
    if not content_type or not content_type.lower().startswith("multipart/form-data"):
        raise Unprocessable("body: must be multipart/form-data with an `image` file field")
    match = _BOUNDARY.search(content_type)
    if not match:
        raise Unprocessable("body: multipart/form-data without a valid boundary")
    return (match.group(1) or match.group(2)).encode("latin-1")


def _headers(block: bytes) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in block.split(b"\r\n"):
        if not line:
            continue
        name, sep, value = line.partition(b":")
        if not sep:
            raise Unprocessable("body: malformed multipart part header")
        headers[name.strip().lower().decode("latin-1")] = value.strip().decode("utf-8", "replace")
    return headers


def parse(content_type: str | None, body: bytes) -> list[Part]:
    delimiter = b"--" + boundary_of(content_type)
    if not body.startswith(delimiter) and b"\r\n" + delimiter not in body:
        raise Unprocessable("body: malformed multipart body (no part starts with the boundary)")
    chunks = (b"\r\n" + body).split(b"\r\n" + delimiter)
    if not chunks[-1].startswith(b"--"):
        raise Unprocessable("body: malformed multipart body (not closed by the boundary)")
    if len(chunks) < 3:
        raise Unprocessable("body: a multipart body without any part (an `image` file field is required)")
    parts = []
    for chunk in chunks[1:-1]:
        if not chunk.startswith(b"\r\n"):
            raise Unprocessable("body: malformed multipart body")
        head, sep, data = chunk[2:].partition(b"\r\n\r\n")
        if not sep:
            raise Unprocessable("body: malformed multipart part (no blank line after its headers)")
        headers = _headers(head)
        disposition = _DISPOSITION.match(headers.get("content-disposition", ""))
        if not disposition:
            raise Unprocessable("body: a multipart part without a form-data Content-Disposition")
        params = {
            m.group(1).lower(): (m.group(2) if m.group(2) is not None else m.group(3))
            for m in _PARAM.finditer(disposition.group(1))
        }
        if "name" not in params:
            raise Unprocessable("body: a multipart part without a field name")
        parts.append(Part(params["name"], params.get("filename"), headers.get("content-type"), data))
    return parts


def single_file(parts: list[Part], field: str) -> Part:
    found = [p for p in parts if p.name == field]
    if not found:
        raise Unprocessable(f"{field}: field required (a file in the `{field}` form field)")
    if len(found) > 1:
        raise Unprocessable(f"{field}: send exactly one file")
    return found[0]

"""A small HTTP GET for URLs that come from documents anyone can write (DID documents).

https only and public addresses only (outside every IANA special-purpose range, see ip_ranges;
loopback over http too, only when the local runtime or a test says so explicitly: link-local
and private ranges stay refused),
the connection pinned to the address that was checked (no DNS rebinding between check and
connect), one overall deadline, and a cap on the response size.
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from albums_core.ip_ranges import address_allowed, is_loopback


class FetchError(Exception):
    """The URL was refused or the server did not give a usable answer in time."""


def resolve_checked(host: str, port: int, allow_loopback: bool) -> str:
    """One address of `host` to connect to; every address it resolves to must be allowed."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise FetchError(f"cannot resolve {host!r}") from exc
    addresses = [str(info[4][0]) for info in infos]
    if not addresses or not all(address_allowed(a, allow_loopback) for a in addresses):
        raise FetchError(f"{host!r} resolves to an address that is not allowed")
    return addresses[0]


@lru_cache(maxsize=1)
def _tls_context() -> ssl.SSLContext:
    return ssl.create_default_context()


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=_tls_context())
        self._address = address

    def connect(self) -> None:
        raw = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(raw, server_hostname=self.host)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class HttpReply:
    status: int
    body: Any  # parsed JSON, or None when the body is empty or not JSON


def request(
    method: str,
    url: str,
    *,
    timeout: float,
    max_bytes: int,
    allow_loopback: bool,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> HttpReply:
    """One HTTP exchange under the guard. Any status is returned; FetchError means no usable
    answer (refused URL, network failure, deadline, oversized body)."""
    deadline = time.monotonic() + timeout
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or (parts.scheme == "http" and not allow_loopback):
        raise FetchError(f"scheme {parts.scheme!r} is not allowed")
    if not parts.hostname or parts.username or parts.password:
        raise FetchError("URL has no host, or carries credentials")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise FetchError("bad port") from exc
    address = resolve_checked(parts.hostname, port, allow_loopback)
    if parts.scheme == "http" and not is_loopback(address):
        raise FetchError("plain http is allowed to loopback only")
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise FetchError("timed out")
    cls = _PinnedHTTPSConnection if parts.scheme == "https" else _PinnedHTTPConnection
    conn = cls(parts.hostname, port, address, remaining)
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    sent = {"Accept": "application/json", "User-Agent": "albums-service", **(headers or {})}
    try:
        conn.request(method, path, body=body, headers=sent)
        response = conn.getresponse()
        declared = response.getheader("Content-Length")
        if declared and declared.isdigit() and int(declared) > max_bytes:
            raise FetchError("response too large")
        chunks: list[bytes] = []
        size = 0
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise FetchError("timed out")
            if conn.sock is not None:
                conn.sock.settimeout(left)
            chunk = response.read(65536)
            if not chunk:
                break
            size += len(chunk)
            if size > max_bytes:
                raise FetchError("response too large")
            chunks.append(chunk)
        raw = b"".join(chunks)
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        return HttpReply(response.status, parsed)
    except FetchError:
        raise
    except (OSError, http.client.HTTPException, ValueError) as exc:
        raise FetchError(type(exc).__name__) from exc
    finally:
        conn.close()


def get_json(url: str, *, timeout: float, max_bytes: int, allow_loopback: bool) -> Any:
    """GET a JSON document; anything but a 200 with JSON is a FetchError."""
    reply = request("GET", url, timeout=timeout, max_bytes=max_bytes, allow_loopback=allow_loopback)
    if reply.status != 200:
        raise FetchError(f"status {reply.status}")
    if reply.body is None:
        raise FetchError("not JSON")
    return reply.body

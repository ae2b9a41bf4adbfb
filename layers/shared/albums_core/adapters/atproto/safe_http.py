"""A small HTTP GET for URLs that come from documents anyone can write (DID documents).

https only and public addresses only (outside every IANA special-purpose range, see ip_ranges;
loopback over http too, only when the local runtime or a test says so explicitly: link-local
and private ranges stay refused),
the connection pinned to the address that was checked (no DNS rebinding between check and
connect), one overall deadline, and a cap on the response size.

Connections are kept alive and reused, a few per host (the write path makes hundreds of calls
to one PDS, and each new connection is a TLS handshake): a reused connection stays pinned to the
address checked when it was opened, and every new one is checked again.
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from albums_core.domain.ip_ranges import address_allowed, is_loopback


class FetchError(Exception):
    """The URL was refused or the server did not give a usable answer in time."""


class RefusedUrl(FetchError):
    """The guard refused the URL itself (scheme, credentials, port, an address that is not
    allowed, a host name that does not exist): no request was sent, and asking again gives the
    same answer."""


def resolve_checked(host: str, port: int, allow_loopback: bool) -> str:
    """One address of `host` to connect to; every address it resolves to must be allowed."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except UnicodeError as exc:
        raise RefusedUrl(f"cannot resolve {host!r}") from exc
    except socket.gaierror as exc:
        if exc.errno in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)):
            raise RefusedUrl(f"{host!r} does not exist") from exc  # the name's verdict, not an outage
        raise FetchError(f"cannot resolve {host!r}") from exc
    addresses = [str(info[4][0]) for info in infos]
    if not addresses or not all(address_allowed(a, allow_loopback) for a in addresses):
        raise RefusedUrl(f"{host!r} resolves to an address that is not allowed")
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


_Connection = _PinnedHTTPConnection | _PinnedHTTPSConnection
# Idle connections kept per (scheme, host, port, mode): as many as the record readers in flight.
_POOL_PER_HOST = 8
# Dropped when idle longer than this: servers close idle keep-alive connections (Node's default
# is after 5 s), and a connection the server closed costs a failed attempt.
_IDLE_SECONDS = 4.0
_idle: dict[tuple[str, str, int, bool], list[tuple[_Connection, float]]] = {}
_idle_lock = threading.Lock()
# What a connection the server has closed meanwhile raises on reuse, before any reply.
_STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError, ConnectionAbortedError)


def _take_idle(key: tuple[str, str, int, bool]) -> _Connection | None:
    now = time.monotonic()
    with _idle_lock:
        idle = _idle.get(key, [])
        while idle:
            conn, since = idle.pop()
            if now - since < _IDLE_SECONDS:
                return conn
            conn.close()
    return None


def _put_idle(key: tuple[str, str, int, bool], conn: _Connection) -> None:
    with _idle_lock:
        idle = _idle.setdefault(key, [])
        if len(idle) < _POOL_PER_HOST:
            idle.append((conn, time.monotonic()))
            return
    conn.close()


def close_idle_connections() -> None:
    """Close every kept connection (tests; a process about to fork)."""
    with _idle_lock:
        pools = list(_idle.values())
        _idle.clear()
    for idle in pools:
        for conn, _ in idle:
            conn.close()


@dataclass(frozen=True)
class HttpReply:
    status: int
    body: Any  # parsed JSON, or None when the body is empty or not JSON
    headers: dict[str, str] = field(default_factory=dict)  # names lower-cased
    raw: bytes = b""  # the body as received (a text answer: a handle's atproto-did)


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
        raise RefusedUrl(f"scheme {parts.scheme!r} is not allowed")
    if not parts.hostname or parts.username or parts.password:
        raise RefusedUrl("URL has no host, or carries credentials")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise RefusedUrl("bad port") from exc
    key = (parts.scheme, parts.hostname, port, allow_loopback)
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    sent = {"Accept": "application/json", "User-Agent": "albums-service", **(headers or {})}
    conn = _take_idle(key)
    if conn is not None:
        try:
            return _exchange(conn, key, method, path, body, sent, deadline, max_bytes)
        except _STALE:
            pass  # closed by the server while idle: the request did not reach it; a new connection
    conn = _connect(parts.scheme, parts.hostname, port, allow_loopback, deadline)
    try:
        return _exchange(conn, key, method, path, body, sent, deadline, max_bytes)
    except _STALE as exc:
        raise FetchError(type(exc).__name__) from exc


def _connect(scheme: str, host: str, port: int, allow_loopback: bool, deadline: float) -> _Connection:
    """A new connection, to an address checked now (every new connection is checked)."""
    address = resolve_checked(host, port, allow_loopback)
    if scheme == "http" and not is_loopback(address):
        raise RefusedUrl("plain http is allowed to loopback only")
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise FetchError("timed out")
    cls = _PinnedHTTPSConnection if scheme == "https" else _PinnedHTTPConnection
    return cls(host, port, address, remaining)


def _time_left(conn: _Connection, deadline: float) -> float:
    """The time left before the deadline, set as the connection's timeout; FetchError when none."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise FetchError("timed out")
    conn.timeout = remaining
    if conn.sock is not None:
        conn.sock.settimeout(remaining)
    return remaining


def _read_body(conn: _Connection, response: http.client.HTTPResponse, deadline: float, max_bytes: int) -> bytes:
    """The whole body, within the deadline and `max_bytes` (declared or counted)."""
    declared = response.getheader("Content-Length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise FetchError("response too large")
    chunks: list[bytes] = []
    size = 0
    while True:
        _time_left(conn, deadline)
        chunk = response.read(65536)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > max_bytes:
            raise FetchError("response too large")
        chunks.append(chunk)


def _json_or_none(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None


def _exchange(
    conn: _Connection,
    key: tuple[str, str, int, bool],
    method: str,
    path: str,
    body: bytes | None,
    sent: dict[str, str],
    deadline: float,
    max_bytes: int,
) -> HttpReply:
    """One request on `conn`; the connection goes back to the pool only after a whole reply
    the server did not mark as its last. A _STALE error before any reply is raised as is: the
    request did not reach the server, so it may be sent again on a new connection."""
    reusable = answered = False
    try:
        _time_left(conn, deadline)
        conn.request(method, path, body=body, headers=sent)
        response = conn.getresponse()
        answered = True
        raw = _read_body(conn, response, deadline, max_bytes)
        reusable = not response.will_close
        headers = {k.lower(): v for k, v in response.getheaders()}
        return HttpReply(response.status, _json_or_none(raw), headers=headers, raw=raw)
    except FetchError:
        raise
    except _STALE as exc:
        if not answered:
            raise
        raise FetchError(type(exc).__name__) from exc
    except (OSError, http.client.HTTPException, ValueError) as exc:
        raise FetchError(type(exc).__name__) from exc
    finally:
        if reusable:
            _put_idle(key, conn)
        else:
            conn.close()


def get_json(url: str, *, timeout: float, max_bytes: int, allow_loopback: bool) -> Any:
    """GET a JSON document; anything but a 200 with JSON is a FetchError."""
    reply = request("GET", url, timeout=timeout, max_bytes=max_bytes, allow_loopback=allow_loopback)
    if reply.status != 200:
        raise FetchError(f"status {reply.status}")
    if reply.body is None:
        raise FetchError("not JSON")
    return reply.body

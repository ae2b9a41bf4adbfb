"""A counting HTTP proxy on 127.0.0.1 in front of the local PDS.

The cold-start children are separate processes: nothing in this process can observe their
calls, but a proxy they are pointed at sees every request that reaches the PDS through it.
It forwards each request unchanged (one upstream connection per request) and records method,
NSID, query and status. It keeps its clients' connections alive as a server does (HTTP/1.1), and
counts the TCP connections they open (`connections`): what a client's connection reuse saves."""

from __future__ import annotations

import http.client
import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

# Hop-by-hop headers, and the ones the proxy sets itself.
_DROP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host", "proxy-connection"}


@dataclass(frozen=True)
class Seen:
    method: str
    nsid: str
    params: dict[str, str]
    status: int
    # applyWrites only: "<action> <collection>" per write it carries (`update fm.plyr.track`).
    writes: tuple[str, ...] = ()


def _writes(nsid: str, body: bytes | None) -> tuple[str, ...]:
    if nsid != "com.atproto.repo.applyWrites" or not body:
        return ()
    try:
        writes = json.loads(body).get("writes") or []
    except (ValueError, AttributeError):
        return ()
    return tuple(f"{str(w.get('$type', '')).rsplit('#', 1)[-1]} {w.get('collection')}" for w in writes)


class CountingProxy:
    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        if parts.hostname != "127.0.0.1" or parts.scheme != "http" or parts.port is None:
            raise ValueError(f"the proxy forwards to http://127.0.0.1:PORT only, not {upstream}")
        self.upstream_port = parts.port
        self.seen: list[Seen] = []
        self.connections = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="bench-pds-proxy", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> CountingProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def reset(self) -> None:
        with self._lock:
            self.seen = []
            self.connections = 0

    def _record(self, seen: Seen) -> None:
        with self._lock:
            self.seen.append(seen)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Forward(BaseHTTPRequestHandler):
            # Keep-alive, as the PDS itself offers: a client may send many requests on one
            # connection. One handler instance per accepted TCP connection.
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                with proxy._lock:
                    proxy.connections += 1

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _DROP}
                upstream = http.client.HTTPConnection("127.0.0.1", proxy.upstream_port, timeout=30)
                try:
                    upstream.request(self.command, self.path, body=body, headers=headers)
                    reply = upstream.getresponse()
                    data = reply.read()
                    status, reply_headers = reply.status, reply.getheaders()
                finally:
                    upstream.close()
                parts = urlsplit(self.path)
                params = {k: v[0] for k, v in parse_qs(parts.query).items()}
                nsid = parts.path.removeprefix("/xrpc/")
                proxy._record(Seen(self.command, nsid, params, status, _writes(nsid, body)))
                self.send_response(status)
                for name, value in reply_headers:
                    if name.lower() not in _DROP:
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _forward

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Forward

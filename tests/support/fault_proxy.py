"""A loopback HTTP proxy in front of the local PDS that fails chosen XRPC calls: the faults
a real PDS cannot be made to produce on demand."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

from local_runtime.loopback_http import LoopbackHTTPServer


@dataclass
class Rule:
    nsid: str
    skip: int = 0  # let this many matching calls through first
    times: int = 1  # then fail this many
    status: int = 500


@dataclass
class FaultProxy:
    target: str
    rules: list[Rule] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self.server = LoopbackHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _should_fail(self, nsid: str) -> int | None:
        with self._lock:
            self.calls.append(nsid)
            for rule in self.rules:
                if rule.nsid == nsid:
                    if rule.skip > 0:
                        rule.skip -= 1
                        return None
                    if rule.times > 0:
                        rule.times -= 1
                        return rule.status
        return None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                nsid = urlsplit(self.path).path.removeprefix("/xrpc/")
                status = proxy._should_fail(nsid)
                if status is not None:
                    payload = b'{"error":"InternalServerError","message":"injected fault"}'
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                request = urllib.request.Request(
                    proxy.target + self.path, data=body, method=self.command, headers=headers
                )
                try:
                    with urllib.request.urlopen(request, timeout=30) as resp:
                        code, data, ctype = resp.status, resp.read(), resp.headers.get("Content-Type", "")
                except urllib.error.HTTPError as err:
                    code, data, ctype = err.code, err.read(), err.headers.get("Content-Type", "")
                self.send_response(code)
                if ctype:
                    self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _forward

        return Handler

"""A loopback HTTP server that answers `com.atproto.repo.getRecord` with chosen records and
chosen faults. It stands in for the artists' PDSs on the read path (tests, and the demo
catalogue until the local runtime starts a real PDS)."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from local_runtime.loopback_http import LoopbackHTTPServer


@dataclass
class Fault:
    status: int = 500
    delay: float = 0.0
    body: bytes | None = None
    # Responses sent after the delay: a test of a client's deadline checks none was yet.
    answered: int = 0


@dataclass
class RecordStore:
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    fault: Fault | None = None
    hits: int = 0

    def put(self, uri: str, value: dict[str, Any], cid: str = "bafyreidemo") -> None:
        self.records[uri] = {"uri": uri, "cid": cid, "value": value}


class RecordServer:
    def __init__(self, port: int = 0) -> None:
        self.store = RecordStore()
        self._stop = threading.Event()
        self.server = LoopbackHTTPServer(("127.0.0.1", port), self._handler())
        self.port = int(self.server.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self) -> RecordServer:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self.server.shutdown()
        self.server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _send(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                store = outer.store
                store.hits += 1
                fault = store.fault
                if fault is not None:
                    if fault.delay:
                        outer._stop.wait(fault.delay)
                    fault.answered += 1
                    self._send(fault.status, fault.body or b'{"error":"InternalServerError"}')
                    return
                split = urlsplit(self.path)
                if split.path != "/xrpc/com.atproto.repo.getRecord":
                    self._send(404, b'{"error":"MethodNotImplemented"}')
                    return
                q = {k: v[0] for k, v in parse_qs(split.query).items()}
                uri = f"at://{q.get('repo')}/{q.get('collection')}/{q.get('rkey')}"
                record = store.records.get(uri)
                if record is None:
                    self._send(
                        400,
                        json.dumps({"error": "RecordNotFound", "message": f"Could not locate record: {uri}"}).encode(),
                    )
                    return
                self._send(200, json.dumps(record).encode())

        return Handler


def wait_forever() -> None:
    while True:
        time.sleep(3600)

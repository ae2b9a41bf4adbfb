"""A PDS on 127.0.0.1 that never stops paging: every listRecords page of fm.plyr.track has
`page_size` valid records and a new cursor. Each request calls `on_request` (the tests advance
an injected clock there) and is recorded. `hang_limit` pages end the listing all the same, so a
test of code that reads forever fails instead of hanging."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from local_runtime.loopback_http import LoopbackHTTPServer

TRACK = "fm.plyr.track"


class EndlessPds:
    def __init__(self, page_size: int = 10, hang_limit: int = 200) -> None:
        self.page_size = page_size
        self.hang_limit = hang_limit
        self.asked: list[tuple[str, str | None]] = []  # (collection, cursor) of each listRecords
        self.on_request: Callable[[], None] = lambda: None
        self._lock = threading.Lock()
        self.server = LoopbackHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> EndlessPds:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def track_pages(self) -> list[str | None]:
        return [cursor for collection, cursor in self.asked if collection == TRACK]

    def _page(self, q: dict[str, str]) -> dict[str, Any]:
        collection, repo = q.get("collection", ""), q.get("repo", "")
        with self._lock:
            self.asked.append((collection, q.get("cursor")))
        if collection != TRACK:
            return {"records": []}
        n = int(q.get("cursor", "c0")[1:])
        records = [
            {
                "uri": f"at://{repo}/{TRACK}/r{n:05d}x{i:03d}",
                "cid": f"bafyendless{n}x{i}",
                "value": {
                    "$type": TRACK,
                    "title": f"Endless {n}.{i}",
                    "artist": "H",
                    "fileType": "mp3",
                    "createdAt": "2026-01-01T00:00:00.000Z",
                },
            }
            for i in range(self.page_size)
        ]
        out: dict[str, Any] = {"records": records}
        if n + 1 < self.hang_limit:
            out["cursor"] = f"c{n + 1}"
        return out

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                outer.on_request()
                split = urlsplit(self.path)
                q = {k: v[0] for k, v in parse_qs(split.query).items()}
                if split.path == "/xrpc/com.atproto.repo.listRecords":
                    status, body = 200, outer._page(q)
                else:
                    status, body = 400, {"error": "RecordNotFound"}
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        return Handler


class StepClock:
    """A clock the test moves: `tick` seconds per PDS request."""

    def __init__(self, tick: float = 0.0) -> None:
        self.now = 1000.0
        self.tick = tick
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float | None = None) -> None:
        with self._lock:
            self.now += self.tick if seconds is None else seconds

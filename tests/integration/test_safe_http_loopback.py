"""The PDS fetch against loopback HTTP servers: what reaches the network (the loopback
server allowed or refused, status, deadline, size and body limits, kept-alive connections).
The address guard alone is unit-tested in tests/unit/test_safe_http.py."""

from collections.abc import Iterator

import pytest

from albums_core.adapters.atproto import safe_http
from albums_core.adapters.atproto.safe_http import FetchError, get_json
from local_runtime.loopback_http import LoopbackHTTPServer
from local_runtime.record_server import Fault, RecordServer


@pytest.fixture
def server() -> Iterator[RecordServer]:
    srv = RecordServer().start()
    yield srv
    srv.stop()


def url(srv: RecordServer, repo: str = "did:plc:a", rkey: str = "1") -> str:
    return f"{srv.url}/xrpc/com.atproto.repo.getRecord?repo={repo}&collection=fm.plyr.list&rkey={rkey}"


def test_loopback_over_http_is_refused_unless_allowed(server: RecordServer) -> None:
    with pytest.raises(FetchError):
        get_json(url(server), timeout=1, max_bytes=10_000, allow_loopback=False)


def test_fetch_from_loopback_when_allowed(server: RecordServer) -> None:
    server.store.put("at://did:plc:a/fm.plyr.list/1", {"items": []})
    assert get_json(url(server), timeout=1, max_bytes=10_000, allow_loopback=True)["value"] == {"items": []}


def test_non_200_is_an_error(server: RecordServer) -> None:
    with pytest.raises(FetchError, match="status 400"):
        get_json(url(server, rkey="missing"), timeout=1, max_bytes=10_000, allow_loopback=True)
    server.store.fault = Fault(status=500)
    with pytest.raises(FetchError, match="status 500"):
        get_json(url(server), timeout=1, max_bytes=10_000, allow_loopback=True)


def test_a_hanging_server_is_cut_at_the_deadline(server: RecordServer) -> None:
    # The server holds its answer for a minute (a limit on a hang only): a client that gave up
    # before it answered stopped at its own deadline, however slow the machine.
    hang = server.store.fault = Fault(status=200, delay=60, body=b"{}")
    with pytest.raises(FetchError):
        get_json(url(server), timeout=0.3, max_bytes=10_000, allow_loopback=True)
    assert hang.answered == 0


def test_oversized_responses_are_refused(server: RecordServer) -> None:
    server.store.put("at://did:plc:a/fm.plyr.list/1", {"blob": "x" * 50_000})
    with pytest.raises(FetchError, match="too large"):
        get_json(url(server), timeout=1, max_bytes=10_000, allow_loopback=True)


def test_non_json_is_an_error(server: RecordServer) -> None:
    server.store.fault = Fault(status=200, body=b"<html>")
    with pytest.raises(FetchError):
        get_json(url(server), timeout=1, max_bytes=10_000, allow_loopback=True)


class KeepAliveServer:
    """An HTTP/1.1 server on loopback that counts the TCP connections it accepts; with
    `requests_per_connection` it closes each connection after that many replies without saying
    so (as a server does with an idle keep-alive connection)."""

    def __init__(self, requests_per_connection: int = 0) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler

        counter = self
        self.connections = 0
        self.requests = 0
        self._lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                self.served = 0
                with counter._lock:
                    counter.connections += 1

            def do_GET(self) -> None:
                body = b'{"ok": true}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                self.served += 1
                with counter._lock:
                    counter.requests += 1
                if requests_per_connection and self.served >= requests_per_connection:
                    self.close_connection = True

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = LoopbackHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/x"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def pool() -> Iterator[None]:
    safe_http.close_idle_connections()
    yield
    safe_http.close_idle_connections()


def test_connections_are_kept_alive_and_every_new_one_is_checked(pool: None, monkeypatch: pytest.MonkeyPatch) -> None:
    checked: list[str] = []
    original = safe_http.resolve_checked

    def counting(host: str, port: int, allow_loopback: bool) -> str:
        checked.append(host)
        return original(host, port, allow_loopback)

    monkeypatch.setattr(safe_http, "resolve_checked", counting)
    server = KeepAliveServer()
    try:
        for _ in range(20):
            assert get_json(server.url, timeout=2, max_bytes=1000, allow_loopback=True) == {"ok": True}
        assert (server.connections, server.requests, len(checked)) == (1, 20, 1)
        # A new connection is checked again: the guard holds for every connection opened.
        safe_http.close_idle_connections()
        get_json(server.url, timeout=2, max_bytes=1000, allow_loopback=True)
        assert (server.connections, len(checked)) == (2, 2)
    finally:
        server.stop()


def test_a_kept_connection_the_server_closed_is_replaced_without_an_error(pool: None) -> None:
    server = KeepAliveServer(requests_per_connection=2)
    try:
        for _ in range(10):
            assert get_json(server.url, timeout=2, max_bytes=1000, allow_loopback=True) == {"ok": True}
        assert (server.connections, server.requests) == (5, 10)
    finally:
        server.stop()

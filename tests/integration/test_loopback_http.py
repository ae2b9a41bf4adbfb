"""The loopback servers' base (local_runtime/loopback_http.py): a client's reset or broken pipe
is the client's doing and prints nothing; any other error in a request is printed as before."""

from __future__ import annotations

import socket
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from local_runtime.loopback_http import LoopbackHTTPServer


def _error(server: LoopbackHTTPServer, exc: BaseException) -> None:
    try:
        raise exc
    except BaseException:  # handle_error reads the exception being handled
        server.handle_error(None, ("127.0.0.1", 1))


def test_a_reset_or_broken_pipe_prints_nothing_and_other_errors_print(capsys: pytest.CaptureFixture[str]) -> None:
    server = LoopbackHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    try:
        _error(server, ConnectionResetError(104, "Connection reset by peer"))
        _error(server, BrokenPipeError(32, "Broken pipe"))
        assert capsys.readouterr().err == ""
        _error(server, ValueError("a handler's own bug"))
        assert "ValueError: a handler's own bug" in capsys.readouterr().err
    finally:
        server.server_close()


class _Slow(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        time.sleep(0.2)  # the client resets meanwhile
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"x" * 65536)


class _Counted(LoopbackHTTPServer):
    """Counts the requests it has finished with (after any error was handled or printed)."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.ended = threading.Semaphore(0)

    def shutdown_request(self, request: Any) -> None:
        super().shutdown_request(request)
        self.ended.release()


def test_a_client_that_resets_mid_answer_leaves_no_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    server = _Counted(("127.0.0.1", 0), _Slow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        for _ in range(3):
            client = socket.create_connection(server.server_address)
            client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            client.close()  # a reset
        for _ in range(3):
            assert server.ended.acquire(timeout=30)  # a hang limit: each request's thread has ended
        assert "Traceback" not in capsys.readouterr().err
    finally:
        server.shutdown()
        server.server_close()

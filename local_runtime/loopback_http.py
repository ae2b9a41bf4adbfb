"""The threaded HTTP server of the local runtime's and the tests' loopback servers."""

from __future__ import annotations

import sys
from http.server import ThreadingHTTPServer
from typing import Any


class LoopbackHTTPServer(ThreadingHTTPServer):
    """A client that resets or closes its connection (one refusing an oversized answer, one that
    gave up on a slow one: what the tests provoke) is not the server's error: nothing printed.
    Anything else is printed as socketserver does."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionResetError | BrokenPipeError):
            return
        super().handle_error(request, client_address)

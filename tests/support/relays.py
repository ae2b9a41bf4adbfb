"""Loopback stand-ins for a relay's `com.atproto.sync.subscribeRepos` (127.0.0.1 only): a scripted
relay that sends frames built here, and a proxy in front of a real one (the local PDS) that drops
every connection after a while. The faults a real relay cannot be made to produce on demand."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import libipld
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect
from websockets.sync.server import Server, ServerConnection, serve

from tests.support.firehose_frames import DEFAULT_SIGNER, TIME, Signer, block, cid_bytes, commit_body


def frame(kind: str, body: dict[str, Any]) -> bytes:
    """A message frame as a relay sends it: the DAG-CBOR header {op: 1, t} then the body."""
    return bytes(libipld.encode_dag_cbor({"op": 1, "t": kind})) + bytes(libipld.encode_dag_cbor(body))


def error_frame(error: str, message: str = "") -> bytes:
    return bytes(libipld.encode_dag_cbor({"op": -1})) + bytes(
        libipld.encode_dag_cbor({"error": error, "message": message})
    )


def info(name: str, message: str = "") -> bytes:
    return frame("#info", {"name": name, "message": message})


def other_commit(seq: int, repo: str = "did:plc:someoneelse") -> bytes:
    """A commit of a collection the consumer does not index: filtered out by its op paths (its
    blocks are never read), but its seq is the consumer's new cursor."""
    return frame(
        "#commit",
        {
            "seq": seq,
            "repo": repo,
            "rev": "3n3mo53iplk2x",
            "since": None,
            "time": TIME,
            "ops": [{"action": "create", "path": "app.bsky.feed.post/3abc", "cid": None}],
            "blocks": b"",
            "commit": None,
            "blobs": [],
            "rebase": False,
            "tooBig": False,
        },
    )


def commit(
    seq: int,
    repo: str,
    rev: str,
    ops: list[tuple[str, str, str | None, dict[str, Any] | None]],
    signer: Signer = DEFAULT_SIGNER,
) -> bytes:
    """A #commit frame signed by `signer` (the repository's MST holding the ops' records). `ops`
    are (action, path, record CID, record): a record of None leaves its block out of the CAR
    (the CID still names it)."""
    raw_ops = [{"action": a, "path": p, "cid": cid_bytes(cid) if cid else None} for a, p, cid, _ in ops]
    blocks = [block(record) for *_, record in ops if record is not None]
    return frame("#commit", commit_body(seq, repo, rev, raw_ops, blocks, signer=signer))


def _cursor(path: str) -> int | None:
    query = parse_qs(urlsplit(path).query)
    return int(query["cursor"][0]) if "cursor" in query else None


class _Served:
    def __init__(self, handler: Callable[[ServerConnection], None]) -> None:
        self.server: Server = serve(handler, "127.0.0.1", 0, max_size=None, compression=None)
        self.port = self.server.socket.getsockname()[1]
        self.url = f"ws://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self._thread.join(5)


class ScriptedRelay(_Served):
    """Each connection gets `script(cursor asked for, connection number)` frames (bytes), with
    `pause` seconds between frames, then stays open (quiet) until the client leaves or the
    relay stops. `close_after` set: the relay closes each connection cleanly that many seconds
    after its last frame instead."""

    def __init__(
        self,
        script: Callable[[int | None, int], list[bytes | str]],
        pause: float = 0.0,
        close_after: float | None = None,
    ) -> None:
        self.script = script
        self.pause = pause
        self.close_after = close_after
        self.cursors: list[int | None] = []  # the cursor each connection asked for
        self.opened: list[float] = []  # when each connection was accepted (monotonic)
        self._stopping = threading.Event()
        super().__init__(self._handle)

    def _handle(self, ws: ServerConnection) -> None:
        cursor = _cursor(ws.request.path if ws.request else "")
        self.cursors.append(cursor)
        self.opened.append(time.monotonic())
        try:
            for data in self.script(cursor, len(self.cursors)):
                ws.send(data)
                if self.pause:
                    time.sleep(self.pause)
            if self.close_after is not None:
                time.sleep(self.close_after)
                ws.close()
                return
            while not self._stopping.is_set():
                try:
                    ws.recv(timeout=0.2)
                except TimeoutError:
                    continue
        except ConnectionClosed:
            return

    def stop(self) -> None:
        self._stopping.set()
        super().stop()


class DroppingProxy(_Served):
    """A websocket proxy in front of `upstream` (ws://host:port) that passes every frame on and
    drops each connection `life` seconds after it opened: with a clean close (code 1000), or
    (`clean` False) by cutting the TCP connection with no close frame."""

    def __init__(self, upstream: str, life: float = 2.0, clean: bool = True) -> None:
        self.upstream = upstream.rstrip("/")
        self.life = life
        self.clean = clean
        self.connections = 0
        self.frames = 0
        self.cursors: list[int | None] = []  # the cursor each connection asked for
        self._stopping = threading.Event()
        super().__init__(self._handle)

    def _handle(self, ws: ServerConnection) -> None:
        self.connections += 1
        path = ws.request.path if ws.request else "/"
        self.cursors.append(_cursor(path))
        deadline = time.monotonic() + self.life
        try:
            with connect(self.upstream + path, max_size=None, compression=None, close_timeout=0.1) as up:
                while (left := deadline - time.monotonic()) > 0 and not self._stopping.is_set():
                    try:
                        data = up.recv(timeout=min(left, 0.2))
                    except TimeoutError:
                        continue
                    ws.send(data)
                    self.frames += 1
        except ConnectionClosed:
            pass
        if self.clean:
            ws.close()
        else:
            # No close frame: the TCP connection ends under it (the socket itself is closed by
            # the server's own thread, never from here while it may still be using it).
            with contextlib.suppress(OSError):
                ws.socket.shutdown(socket.SHUT_RDWR)

    def stop(self) -> None:
        self._stopping.set()
        super().stop()

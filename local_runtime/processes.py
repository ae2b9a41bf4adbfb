"""Child processes the local runtime starts (and ends by their PID, nothing else)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=1):  # noqa: S310 - loopback only
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} did not come up") from None
            time.sleep(0.05)


ROOT = Path(__file__).resolve().parent.parent


class MotoServer:
    """moto in server mode on 127.0.0.1, through our launcher (local_runtime/moto_main.py: its
    DynamoDB transactions and streams keep memory bounded)."""

    def __init__(self, port: int | None = None, log: Path | None = None, env: dict[str, str] | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = log
        self._env = env or {}
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> MotoServer:
        out = self._log.open("ab") if self._log else subprocess.DEVNULL
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "local_runtime.moto_main", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            env={**os.environ, "MOTO_ALLOW_NONEXISTENT_REGION": "false", **self._env},
        )
        try:
            wait_http(f"{self.url}/moto-api/")
        except BaseException:
            self.stop()  # never left running when it did not come up
            raise
        return self

    def rss_bytes(self) -> int:
        """The server's resident memory now (Linux: /proc)."""
        assert self.proc is not None
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError("no VmRSS for the moto server")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

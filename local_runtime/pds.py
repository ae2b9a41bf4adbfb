"""A real ATProto PDS + PLC directory on 127.0.0.1, for tests and the local runtime.

``pds/install.sh`` installs Node 22 and ``@atproto/dev-env`` into a cache outside the repo
(keyed by the lockfile); ``pds/start.mjs`` runs ``TestNetworkNoAppView`` from it and prints one
JSON line once the accounts exist. This module drives both::

    with LocalPds().start([{"handle": "alice.test", "password": "pw"}]) as pds:
        pds.pds_url, pds.plc_url, pds.accounts[0]["did"]

The process is ended by its PID only (SIGTERM, then SIGKILL after a timeout).
"""

from __future__ import annotations

import atexit
import collections
import json
import os
import queue
import shutil
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import IO, Any

REPO_ROOT = Path(__file__).resolve().parent.parent
PDS_DIR = REPO_ROOT / "pds"
INSTALL_SCRIPT = PDS_DIR / "install.sh"
START_SCRIPT = PDS_DIR / "start.mjs"

INSTALL_TIMEOUT = 900.0
START_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0
_TAIL_LINES = 60

_installed: Path | None = None
_install_lock = threading.Lock()


class PdsError(RuntimeError):
    """Installing or starting the local PDS failed."""


def _tail(text: str, lines: int = _TAIL_LINES) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def ensure_installed(timeout: float = INSTALL_TIMEOUT, verbose: bool = False) -> Path:
    """Run pds/install.sh (a no-op of ~0.1 s once installed) and return the cache directory.

    With ``verbose`` the installer's progress goes to this process's stderr; otherwise it is
    captured and its tail is put in the error raised on failure.
    """
    global _installed
    with _install_lock:
        if _installed is not None and (_installed / ".albums-pds-complete").is_file():
            return _installed
        try:
            proc = subprocess.run(
                [shutil.which("bash") or "/bin/bash", str(INSTALL_SCRIPT)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=None if verbose else subprocess.PIPE,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            stderr = exc.stderr.decode() if isinstance(exc.stderr, bytes) else (exc.stderr or "")
            raise PdsError(f"pds/install.sh took over {timeout:.0f} s\n{_tail(stderr)}") from None
        if proc.returncode != 0:
            raise PdsError(f"pds/install.sh failed with exit code {proc.returncode}\n{_tail(proc.stderr or '')}")
        lines = [line for line in proc.stdout.splitlines() if line.strip()]
        if not lines:
            raise PdsError("pds/install.sh printed no cache directory")
        home = Path(lines[-1].strip())
        if not (home / "node" / "bin" / "node").is_file():
            raise PdsError(f"pds/install.sh returned {home}, which has no node/bin/node")
        _installed = home
        return home


def _xrpc_post(base_url: str, nsid: str, body: dict[str, Any], timeout: float = 30.0) -> dict[str, Any]:
    if not base_url.startswith("http://127.0.0.1:"):
        raise ValueError(f"refusing a non-loopback PDS URL: {base_url}")
    req = urllib.request.Request(  # noqa: S310 - loopback only, checked above
        f"{base_url}/xrpc/{nsid}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - loopback only
            result: dict[str, Any] = json.loads(resp.read())
            return result
    except urllib.error.HTTPError as exc:
        raise PdsError(f"{nsid} -> {exc.code} {exc.read().decode(errors='replace')}") from None


class LocalPds:
    """One ``pds/start.mjs`` process: a PDS and a PLC directory on 127.0.0.1, data in a temp dir.

    After :meth:`start`: ``pds_url``, ``plc_url`` (both ``http://127.0.0.1:PORT``), ``accounts``
    (dicts with ``handle``, ``did``, ``password``, ``email``) and ``pid``. DID documents name the
    PDS as ``http://localhost:PORT`` (the PDS's dev-mode public URL), which is the same server.
    """

    def __init__(self, home: Path | None = None, log: Path | None = None) -> None:
        self.home = home
        self.log = log
        self.pds_url = ""
        self.plc_url = ""
        self.accounts: list[dict[str, str]] = []
        self.pid: int | None = None
        self.returncode: int | None = None
        self.startup_seconds: float | None = None
        self._proc: subprocess.Popen[str] | None = None
        self._stderr_tail: collections.deque[str] = collections.deque(maxlen=_TAIL_LINES)
        self._threads: list[threading.Thread] = []

    # -- life cycle -----------------------------------------------------------------------

    def start(self, accounts: list[dict[str, str]] | None = None, timeout: float = START_TIMEOUT) -> LocalPds:
        """Spawn the PDS, create ``accounts`` ({handle, password, email?}; handles end in .test)
        and wait for it to be ready. Raises :class:`PdsError` with the stderr tail on failure."""
        if self._proc is not None:
            raise PdsError("this LocalPds was already started")
        home = self.home or ensure_installed()
        config = {"accounts": accounts or [], "home": str(home), "exit_with_parent": True}
        env = {**os.environ, "ALBUMS_PDS_CONFIG": json.dumps(config)}  # keeps passwords out of argv
        started = time.monotonic()
        self._proc = subprocess.Popen(
            [str(home / "node" / "bin" / "node"), str(START_SCRIPT)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=str(PDS_DIR),
        )
        self.pid = self._proc.pid
        atexit.register(self.stop)
        ready: queue.Queue[str | None] = queue.Queue()
        assert self._proc.stdout is not None and self._proc.stderr is not None
        self._spawn(self._read_stdout, self._proc.stdout, ready)
        self._spawn(self._read_stderr, self._proc.stderr)
        try:
            line = ready.get(timeout=timeout)
        except queue.Empty:
            self.stop()
            raise PdsError(f"local PDS not ready after {timeout:.0f} s\n{self.stderr_tail()}") from None
        if line is None:
            self.stop()
            raise PdsError(f"local PDS exited during start-up (code {self.returncode})\n{self.stderr_tail()}")
        try:
            info = json.loads(line)
            self.pds_url = str(info["pds_url"])
            self.plc_url = str(info["plc_url"])
            self.accounts = [dict(a) for a in info["accounts"]]
        except (ValueError, KeyError, TypeError) as exc:
            self.stop()
            raise PdsError(f"unexpected line from start.mjs: {line!r} ({exc})\n{self.stderr_tail()}") from None
        self.startup_seconds = time.monotonic() - started
        return self

    def stop(self, timeout: float = STOP_TIMEOUT) -> int | None:
        """SIGTERM the process (by its PID), SIGKILL it after ``timeout``; returns its exit code."""
        proc = self._proc
        if proc is None:
            return None
        atexit.unregister(self.stop)
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for thread in self._threads:
            thread.join(timeout=2)
        self.returncode = proc.returncode
        return self.returncode

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def __enter__(self) -> LocalPds:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- helpers --------------------------------------------------------------------------

    def account(self, handle: str) -> dict[str, str]:
        for acc in self.accounts:
            if acc["handle"] == handle:
                return acc
        raise KeyError(handle)

    def create_account(self, handle: str, password: str, email: str | None = None) -> dict[str, str]:
        """Create one more account (com.atproto.server.createAccount; no invite needed)."""
        if not self.pds_url:
            raise PdsError("the local PDS is not started")
        email = email or f"{handle.replace('.', '-')}@example.com"
        res = _xrpc_post(
            self.pds_url, "com.atproto.server.createAccount", {"handle": handle, "email": email, "password": password}
        )
        acc = {"handle": str(res["handle"]), "did": str(res["did"]), "password": password, "email": email}
        self.accounts.append(acc)
        return acc

    def stderr_tail(self) -> str:
        return "\n".join(self._stderr_tail)

    # -- pipes ----------------------------------------------------------------------------

    def _spawn(self, target: Any, *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _read_stdout(self, stream: IO[str], ready: queue.Queue[str | None]) -> None:
        first = True
        with stream:
            for line in stream:
                if first and line.strip():
                    ready.put(line.strip())
                    first = False
                elif line.strip():  # start.mjs prints nothing else; keep it if it does
                    self._stderr_tail.append(f"[stdout] {line.rstrip()}")
        if first:
            if self._proc is not None:
                self.returncode = self._proc.wait()
            ready.put(None)

    def _read_stderr(self, stream: IO[str]) -> None:
        log = self.log.open("a", encoding="utf-8") if self.log else None
        try:
            with stream:
                for line in stream:
                    self._stderr_tail.append(line.rstrip())
                    if log:
                        log.write(line)
                        log.flush()
        finally:
            if log:
                log.close()

"""The local runtime as a user starts it (`python -m local_runtime run`), reached over HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from local_runtime.template import ROOT


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is the answer (an HTTPError of its status), not followed."""

    def redirect_request(self, *_: Any, **__: Any) -> None:
        return None


@dataclass
class Api:
    url: str
    state: dict[str, Any]
    log: Path

    def request(
        self,
        method: str,
        path: str,
        headers: dict[str, str] | None = None,
        body: bytes | None = None,
        follow: bool = True,
    ) -> Reply:
        # A path is under the API's base URL (its stage included); a full URL (a cover) as is.
        url = path if path.startswith("http") else self.url + path
        req = urllib.request.Request(url, method=method, headers=headers or {}, data=body)
        opener = urllib.request.build_opener() if follow else urllib.request.build_opener(_NoRedirect)
        try:
            with opener.open(req, timeout=120) as resp:  # a hang limit: loaded machines are slow
                return Reply(resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read())
        except urllib.error.HTTPError as err:
            return Reply(err.code, {k.lower(): v for k, v in err.headers.items()}, err.read())

    def get(self, path: str, **kw: Any) -> Reply:
        return self.request("GET", path, **kw)

    def send(
        self,
        method: str,
        path: str,
        body: Any = None,
        session: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        """A JSON request, with the session as a cookie."""
        sent = dict(headers or {})
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            sent.setdefault("Content-Type", "application/json")
        if session:
            sent["Cookie"] = f"session_id={session}"
        return self.request(method, path, headers=sent, body=data)

    def account(self, handle: str) -> dict[str, str]:
        return next(a for a in self.state["accounts"] if a["handle"] == handle)

    def login(self, handle: str) -> str:
        reply = self.send("POST", "/auth/login", {"identifier": handle, "password": self.account(handle)["password"]})
        assert reply.status == 200, reply.body
        return str(reply.json()["session_id"])


@contextmanager
def running_runtime(folder: Path) -> Iterator[Api]:
    """`python -m local_runtime run` in a subprocess, as a user starts it; ended by its PID."""
    state_file = folder / "stack.json"
    log_path = folder / "runtime.log"
    log = log_path.open("wb")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "local_runtime", "run", "--port", "0", "--state-file", str(state_file)],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    try:
        deadline = time.monotonic() + 300  # a first run installs the local PDS
        while not state_file.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("local runtime did not start; see " + str(log_path))
            time.sleep(0.1)
        state = json.loads(state_file.read_text())
        yield Api(state["api_url"], state, log_path)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="session")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    with running_runtime(Path(tmp_path_factory.mktemp("runtime"))) as running:
        yield running

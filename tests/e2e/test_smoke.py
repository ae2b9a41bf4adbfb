"""`make smoke` (tools/smoke.py) run as a user runs it, against the local gateway."""

from __future__ import annotations

import os
import subprocess
import sys

from local_runtime.template import ROOT
from tests.e2e.conftest import Api

HANDLE = "aurora.test"


def smoke(api: Api, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMOKE_")}
    return subprocess.run(
        [sys.executable, "-m", "tools.smoke", api.url, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_smoke_passes_against_the_local_gateway(api: Api) -> None:
    account = api.account(HANDLE)
    before = api.get(f"/albums/{HANDLE}").json()["albums"]
    # The account from the environment, as a CI job would pass it; the origin is a local frontend's.
    env_run = subprocess.run(
        [sys.executable, "-m", "tools.smoke", api.url + "/", "--origin", "http://localhost:5173"],
        cwd=ROOT,
        env={**os.environ, "SMOKE_IDENTIFIER": HANDLE, "SMOKE_PASSWORD": account["password"]},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert env_run.returncode == 0, env_run.stdout + env_run.stderr
    lines = env_run.stdout.splitlines()
    for step in (
        "GET /albums",
        "GET /albums/{handle}",
        "GET /albums/{handle}/{slug}",
        "CORS preflight from",
        "POST /auth/login",
        "GET /auth/me",
        "rename and back",
        "POST /auth/logout",
    ):
        assert any(line.startswith("ok") and step in line for line in lines), (step, env_run.stdout)
    assert lines[-1] == "smoke: all passed"
    # Renamed and back: the account's albums are as they were.
    assert api.get(f"/albums/{HANDLE}").json()["albums"] == before


def test_smoke_fails_on_a_wrong_password(api: Api) -> None:
    run = smoke(api, "--identifier", HANDLE, "--password", "not-the-password")
    lines = run.stdout.splitlines()
    assert run.returncode == 1, run.stdout
    failed = [line for line in lines if line.startswith("FAIL POST /auth/login:")]
    assert failed and "expected 200, got 401" in failed[0], run.stdout
    assert not any("/auth/me" in line for line in lines)  # nothing after a failed login
    assert lines[-1].startswith("smoke: ") and lines[-1].endswith("step(s) failed")


def test_smoke_needs_an_account_or_read_only(api: Api) -> None:
    run = smoke(api)
    assert run.returncode == 2 and "--identifier and --password" in run.stderr
    assert smoke(api, "--read-only").stdout.splitlines()[-2:] == [
        "skip login, /auth/me, rename and back, logout (--read-only)",
        "smoke: all passed",
    ]


def test_smoke_refuses_a_url_that_is_not_http() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "tools.smoke", "file:///etc/passwd", "--read-only"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2 and "not an http(s) URL" in run.stderr

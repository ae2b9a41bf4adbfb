"""The web app's sign-in with `make run`'s defaults, in a real headless Chromium (issue #19):
a page served on the default frontend origin (FrontendUrl's default, http://127.0.0.1:5173)
sends the browser to /auth/start, the local PDS's pages sign in and authorize, the callback
sends it to the page's /portal, which exchanges the token with `credentials: 'include'` as
plyr.fm's portal does; /auth/me then answers 200 from that page with the cookie alone."""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.e2e.conftest import Api
from tests.e2e.test_browser import CHROMIUM, CHROMIUM_ARGS

HANDLE = "aurora.test"

HOME = """
const error = new URLSearchParams(location.search).get("auth_error");
document.getElementById("auth-error").textContent = error || "";
document.getElementById("sign-in").href = CONFIG.api + "/auth/start?handle=" + encodeURIComponent(CONFIG.handle);
document.body.dataset.state = error ? "auth-error" : "ready";
"""

# What plyr.fm's portal does with the token (frontend/src/routes/portal/+page.svelte), then the
# app's next call: the session's account, with the cookie alone.
PORTAL = """
const out = (id, text) => { document.getElementById(id).textContent = text; };
async function main() {
  const token = new URLSearchParams(location.search).get("exchange_token");
  const exchanged = await fetch(CONFIG.api + "/auth/exchange", {
    method: "POST",
    headers: {"Content-Type": "application/json"},
    credentials: "include",
    body: JSON.stringify({exchange_token: token}),
  });
  out("exchange", String(exchanged.status));
  out("page-cookies", document.cookie);
  const me = await fetch(CONFIG.api + "/auth/me", {credentials: "include"});
  out("me-status", String(me.status));
  out("me-handle", (await me.json()).handle || "");
}
main().then(
  () => { document.body.dataset.state = "done"; },
  (err) => { out("error", String(err)); document.body.dataset.state = "failed"; },
);
"""


def html(config: dict[str, str], script: str) -> bytes:
    data = json.dumps(config).replace("</", "<\\/")
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>web app</title>"
        "<link rel='icon' href='data:,'></head><body data-state='running'>"
        "<a id='sign-in'>sign in</a><p id='auth-error'></p>"
        "<p><span id='exchange'></span> <span id='page-cookies'></span></p>"
        "<p><span id='me-status'></span> <span id='me-handle'></span></p><pre id='error'></pre>"
        f"<script>const CONFIG = {data};</script><script>{script}</script></body></html>"
    ).encode()


class _Server(ThreadingHTTPServer):
    allow_reuse_address = True
    daemon_threads = True


@contextlib.contextmanager
def web_app(origin: str, config: dict[str, str]) -> Iterator[None]:
    """The web app's two pages on its own origin: `/` and `/portal`."""
    pages = {"/": html(config, HOME), "/portal": html(config, PORTAL)}

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            payload = pages.get(urlsplit(self.path).path)
            self.send_response(200 if payload else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(payload or b"")))
            self.end_headers()
            self.wfile.write(payload or b"")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    parts = urlsplit(origin)
    deadline = time.monotonic() + 120  # another run of this test may hold the port for a moment
    while True:
        try:
            server = _Server((str(parts.hostname), int(parts.port or 80)), Page)
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()


def test_the_web_app_signs_in_with_make_runs_defaults(api: Api, tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium package")
    from playwright.sync_api import sync_playwright

    frontend = api.state["frontend_url"]
    assert frontend == "http://127.0.0.1:5173" and frontend in api.state["allowed_origins"]
    printed = api.log.read_text()  # both URLs are printed at start
    assert f"albums API running at {api.url}" in printed and f"web app (FRONTEND_URL): {frontend}" in printed
    account = api.account(HANDLE)
    with web_app(frontend, {"api": api.url, "handle": HANDLE}), sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = context.new_page()
            page.goto(f"{frontend}/")
            page.wait_for_selector("body[data-state=ready]", timeout=30_000)
            page.click("#sign-in")
            page.fill("input[autocomplete=current-password]", account["password"], timeout=30_000)
            page.click("button[type=submit]")
            page.get_by_role("button", name="Authorize").click(timeout=30_000)
            page.wait_for_selector("body[data-state=done], body[data-state=failed]", timeout=60_000)
            assert page.url.startswith(f"{frontend}/portal?exchange_token="), page.url
            assert page.text_content("#error") == ""
            assert page.text_content("#exchange") == "200"
            assert "session_id" not in (page.text_content("#page-cookies") or "")  # HttpOnly
            assert page.text_content("#me-status") == "200"
            assert page.text_content("#me-handle") == HANDLE

            # Cancelled on the PDS's page: the app is told so.
            fresh = context.new_page()
            fresh.goto(f"{frontend}/")
            fresh.wait_for_selector("body[data-state=ready]", timeout=30_000)
            context.clear_cookies()
            fresh.click("#sign-in")
            fresh.fill("input[autocomplete=current-password]", account["password"], timeout=30_000)
            fresh.click("button[type=submit]")
            fresh.get_by_role("button", name=re.compile("deny|reject|cancel", re.IGNORECASE)).first.click(
                timeout=30_000
            )
            fresh.wait_for_selector("body[data-state=auth-error]", timeout=60_000)
            assert fresh.text_content("#auth-error") == "access_denied"
        finally:
            context.close()

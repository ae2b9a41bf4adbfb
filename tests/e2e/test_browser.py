"""A frontend on another origin, in a real headless Chromium: credentialed CORS and the session cookie.

The page is served by this test from its own loopback port (another origin than the API) and does
what a web app does: logs in, then reads `/auth/me` and an album page with `credentials: 'include'`,
so only the browser's cookie jar carries the session. The browser enforces CORS; nothing here can.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from local_runtime.loopback_http import LoopbackHTTPServer
from tests.e2e.conftest import Api

CHROMIUM = Path("/usr/bin/chromium")  # Debian's package; `make test` installs it (never `playwright install`)
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",  # we run as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
HANDLE = "aurora.test"

# The frontend: every call credentialed, results and errors written into the DOM for the test to read.
SCRIPT = """
const out = (id, text) => { document.getElementById(id).textContent = text; };
async function call(path, init) {
  const reply = await fetch(CONFIG.api + path, {credentials: "include", ...init});
  const body = await reply.json();
  if (!reply.ok) throw new Error(path + " answered " + reply.status + ": " + JSON.stringify(body));
  return body;
}
async function main() {
  const login = await call("/auth/login", {
    method: "POST",
    headers: {"Content-Type": "application/json"},
    body: JSON.stringify({identifier: CONFIG.identifier, password: CONFIG.password}),
  });
  out("login", login.handle);
  // Cookies are per host, not per port: the page could read the API's cookie unless it is HttpOnly.
  out("page-cookies", document.cookie);
  const me = await call("/auth/me");  // no Authorization header: the cookie alone
  out("me-handle", me.handle);
  out("me-did", me.did);
  const albums = await call("/albums/" + encodeURIComponent(CONFIG.identifier));
  const first = albums.albums.find((a) => a.track_count > 0);
  const page = await call("/albums/" + encodeURIComponent(me.handle) + "/" + encodeURIComponent(first.slug));
  out("album-title", page.metadata.title);
  out("album-artist", page.metadata.artist_handle);
  out("album-slug", first.slug);
  const list = document.getElementById("tracks");
  for (const track of page.tracks) {
    const item = document.createElement("li");
    item.textContent = track.title;
    list.appendChild(item);
  }
}
main().then(
  () => { document.body.dataset.state = "done"; },
  (err) => { out("error", String(err)); document.body.dataset.state = "failed"; },
);
"""


def page_html(config: dict[str, str]) -> bytes:
    # JSON inside <script>: "</" escaped so a value cannot close the element.
    data = json.dumps(config).replace("</", "<\\/")
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>albums frontend</title>"
        "<link rel='icon' href='data:,'></head>"
        "<body data-state='running'>"
        "<p>login <span id='login'></span> <span id='page-cookies'></span></p>"
        "<p>me <span id='me-handle'></span> <span id='me-did'></span></p>"
        "<h1 id='album-title'></h1><p id='album-artist'></p><p id='album-slug'></p><ol id='tracks'></ol>"
        "<pre id='error'></pre>"
        f"<script>const CONFIG = {data};</script><script>{SCRIPT}</script></body></html>"
    ).encode()


@contextlib.contextmanager
def frontend(body: bytes) -> Iterator[str]:
    """A tiny static server on its own loopback port: the web app's origin."""

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, payload = (200, body) if self.path in ("/", "/index.html") else (404, b"not found")
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = LoopbackHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_cross_origin_frontend_keeps_its_session(api: Api, tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium package")
    from playwright.sync_api import sync_playwright

    account = api.account(HANDLE)
    config = {"api": api.url, "identifier": HANDLE, "password": account["password"]}
    console: list[str] = []
    with frontend(page_html(config)) as origin, sync_playwright() as pw:
        assert origin.split(":")[-1] != api.url.split(":")[-1]  # another origin than the API
        context = pw.chromium.launch_persistent_context(
            str(tmp_path / "profile"),  # a fresh user-data-dir
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
        )
        try:
            page = context.new_page()
            page.on("console", lambda msg: console.append(f"{msg.type}: {msg.text}"))
            page.goto(origin + "/")
            page.wait_for_function("document.body.dataset.state !== 'running'", timeout=60_000)
            text = {
                name: page.text_content(f"#{name}") or ""
                for name in (
                    "login",
                    "page-cookies",
                    "me-handle",
                    "me-did",
                    "album-title",
                    "album-artist",
                    "album-slug",
                    "error",
                )
            }
            tracks = page.locator("#tracks li").all_text_contents()
            cookies = context.cookies(api.url)
            page.screenshot(path=str(tmp_path / "frontend.png"))  # kept in pytest's tmp dir, to look at
        finally:
            context.close()

    assert text["error"] == "", f"the browser refused: {text['error']}\nconsole:\n" + "\n".join(console)
    # /auth/me answered the account: the session cookie set by the cross-origin login came back.
    assert text["me-handle"] == HANDLE and text["me-did"] == account["did"]
    assert text["login"] == HANDLE and "session_id" not in text["page-cookies"]
    session = [c for c in cookies if c["name"] == "session_id"]
    assert session and session[0]["httpOnly"] and session[0]["path"] == "/"
    # The album page rendered what the API serves for it.
    expected = api.get(f"/albums/{HANDLE}/{text['album-slug']}").json()
    assert text["album-title"] == expected["metadata"]["title"] != ""
    assert text["album-artist"] == HANDLE
    assert tracks == [t["title"] for t in expected["tracks"]] and tracks

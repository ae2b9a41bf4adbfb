"""OAuth sign-in in a real headless Chromium, through the local PDS's own authorize page.

The browser starts at the API's /auth/start, lands on the authorization server's page (its real
sign-in and consent UI), is sent back to the API's /auth/callback, and on to the frontend's
portal with a one-time exchange token. The frontend (FrontendUrl, http://127.0.0.1:5173 by
default) does not run here: the test takes the token from the browser's request for the portal
and exchanges it as a script would.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest

from tests.e2e.conftest import Api
from tests.e2e.test_browser import CHROMIUM, CHROMIUM_ARGS

HANDLE = "aurora.test"
FRONTEND = "http://127.0.0.1:5173"  # the template's FrontendUrl default, as the local runtime runs it


def test_sign_in_through_the_authorize_page(api: Api, tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium package")
    from playwright.sync_api import sync_playwright

    account = api.account(HANDLE)
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = context.new_page()
            page.goto(f"{api.url}/auth/start?handle={HANDLE}")
            # the PDS's page: the handle is filled in from the login hint
            page.fill("input[autocomplete=current-password]", account["password"], timeout=30_000)
            page.click("button[type=submit]")
            # the browser is sent on to the frontend's portal (nothing listens there: the request is enough)
            with page.expect_request(lambda r: r.url.startswith(f"{FRONTEND}/"), timeout=30_000) as sent:
                page.get_by_role("button", name="Authorize").click(timeout=30_000)
            landed = sent.value.url
        finally:
            context.close()

    assert landed.startswith(f"{FRONTEND}/portal?"), landed
    query = dict(parse_qsl(urlsplit(landed).query))
    assert set(query) == {"exchange_token"}
    reply = api.send("POST", "/auth/exchange", {"exchange_token": query["exchange_token"]})
    assert reply.status == 200, reply.body
    session_id = reply.json()["session_id"]
    me = api.get("/auth/me", headers={"Authorization": f"Bearer {session_id}"})
    assert me.status == 200 and me.json()["did"] == account["did"] and me.json()["handle"] == HANDLE
    # a write with the OAuth session, through the gateway and the function's own IAM grants
    created = api.send("POST", "/albums", {"title": "Signed In With OAuth"}, session=session_id)
    assert created.status == 201, created.body
    assert api.send("POST", "/auth/exchange", {"exchange_token": query["exchange_token"]}).status == 401
    assert api.send("POST", "/auth/logout", session=session_id).status == 200
    assert api.get("/auth/me", headers={"Authorization": f"Bearer {session_id}"}).status == 401

"""Cross-site request forgery over HTTP, as the hunt tried it on `make run`: the session cookie
with another site's Origin. (tests/integration/test_cross_site.py covers every route.)"""

from __future__ import annotations

from tests.e2e.conftest import Api

EVIL = {"Origin": "http://evil.example"}
REFUSED = {"detail": "cross-site request refused"}


def test_cookie_writes_from_another_site_are_refused(api: Api) -> None:
    handle = api.state["accounts"][0]["handle"]
    session = api.login(handle)
    sync = api.send("POST", "/artists/me/sync", session=session, headers=EVIL)
    assert (sync.status, sync.json()) == (403, REFUSED)
    album = next(a for a in api.state["demo"]["albums"] if a["handle"] == handle)
    upload = api.send("POST", f"/albums/{album['id']}/cover/upload-url", session=session, headers=EVIL)
    assert (upload.status, upload.json()) == (403, REFUSED)
    logout = api.send("POST", "/auth/logout", session=session, headers=EVIL)
    assert (logout.status, logout.json()) == (403, REFUSED)
    # Still signed in; from the frontend's origin (any loopback port locally) the logout works.
    assert api.send("GET", "/auth/me", session=session).status == 200
    logout = api.send("POST", "/auth/logout", session=session, headers={"Origin": "http://localhost:5173"})
    assert logout.status == 200, logout.body


def test_a_bearer_token_from_another_origin_is_not_refused(api: Api) -> None:
    session = api.login(api.state["accounts"][0]["handle"])
    reply = api.send("POST", "/auth/logout", headers={**EVIL, "Authorization": f"Bearer {session}"})
    assert reply.status == 200, reply.body

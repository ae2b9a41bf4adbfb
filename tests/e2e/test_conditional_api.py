"""Black-box: conditional requests over HTTP through the local gateway (ETag and 304 on a public
page, If-Match and 412 on a mutation, the CORS headers a frontend needs for them)."""

import uuid

from tests.e2e.conftest import Api

ALBUM = "/albums/aurora.test/cafe-del-mar-sessions"
FRONTEND = "http://localhost:5173"  # a loopback origin: allowed in local mode


def test_a_public_page_is_tagged_and_304_on_its_tag(api: Api) -> None:
    first = api.get(ALBUM)
    assert first.status == 200
    tag = first.headers["etag"]
    assert tag.startswith('"') and first.headers["cache-control"] == "public, max-age=60"
    assert api.get(ALBUM).headers["etag"] == tag
    for sent in (tag, f"W/{tag}", f'"other", {tag}'):
        again = api.get(ALBUM, headers={"If-None-Match": sent})
        assert (again.status, again.body, again.headers["etag"]) == (304, b"", tag), sent
    assert api.get(ALBUM, headers={"If-None-Match": '"other"'}).status == 200
    for path in ("/albums/aurora.test", "/artists/by-handle/aurora.test"):
        page = api.get(path)
        assert page.status == 200 and api.get(path, headers={"If-None-Match": page.headers["etag"]}).status == 304


def test_a_page_with_a_session_is_private_and_untagged(api: Api) -> None:
    session = api.login("aurora.test")
    tag = api.get(ALBUM).headers["etag"]
    mine = api.get(ALBUM, headers={"Cookie": f"session_id={session}", "If-None-Match": tag})
    assert mine.status == 200 and mine.json()["tracks"]
    assert mine.headers["cache-control"] == "private, no-store" and "etag" not in mine.headers


def test_a_stale_if_match_is_412(api: Api) -> None:
    session = api.login("kenji.test")
    created = api.send("POST", "/albums", {"title": f"Guarded {uuid.uuid4().hex[:6]}"}, session=session)
    assert created.status == 201 and created.headers["etag"] == '"0"' and created.json()["version"] == 0
    path = f"/albums/{created.json()['id']}"
    first = api.send("PATCH", path, {"description": "one"}, session=session, headers={"If-Match": '"0"'})
    assert first.status == 200 and first.headers["etag"] == '"1"'
    stale = api.send("PATCH", path, {"description": "two"}, session=session, headers={"If-Match": '"0"'})
    assert stale.status == 412 and "If-Match" in stale.json()["detail"]
    malformed = api.send("PATCH", path, {"description": "two"}, session=session, headers={"If-Match": "1"})
    assert malformed.status == 400 and malformed.json()["detail"].startswith("If-Match")
    current = api.send("PATCH", path, {"description": "two"}, session=session, headers={"If-Match": '"1"'})
    assert current.status == 200 and current.json()["description"] == "two" and current.headers["etag"] == '"2"'
    assert api.send("DELETE", path, session=session, headers={"If-Match": '"1"'}).status == 412
    assert api.send("DELETE", path, session=session, headers={"If-Match": '"2"'}).status == 200


def test_cors_lets_a_frontend_send_the_conditions_and_read_the_tag(api: Api) -> None:
    preflight = api.request(
        "OPTIONS",
        ALBUM,
        headers={
            "Origin": FRONTEND,
            "Access-Control-Request-Method": "PATCH",
            "Access-Control-Request-Headers": "content-type,if-match,if-none-match",
        },
    )
    assert preflight.status in (200, 204)
    allowed = {h.strip().lower() for h in preflight.headers["access-control-allow-headers"].split(",")}
    assert {"if-match", "if-none-match"} <= allowed
    page = api.get(ALBUM, headers={"Origin": FRONTEND})
    assert "etag" in {h.strip().lower() for h in page.headers["access-control-expose-headers"].split(",")}

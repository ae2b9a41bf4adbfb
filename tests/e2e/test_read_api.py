"""Black-box: the read endpoints over HTTP through the local runtime's gateway."""

import urllib.parse

import pytest

from tests.e2e.conftest import Api

ALBUM = "/albums/aurora.test/cafe-del-mar-sessions"


def test_state_file_names_the_api_on_its_stage(api: Api) -> None:
    # The template's named stage, as the deployed ApiUrl output has it.
    assert api.state["stage"] == "dev"
    assert api.state["api_url"].startswith("http://127.0.0.1:") and api.state["api_url"].endswith("/dev")
    origin = api.state["api_url"].removesuffix("/dev")
    assert api.get(origin + "/albums").status == 404, "nothing outside the stage"


@pytest.mark.parametrize("path", ["/albums", "/albums/"])
def test_list_albums(api: Api, path: str) -> None:
    reply = api.get(path)
    assert reply.status == 200 and reply.headers["content-type"].startswith("application/json")
    body = reply.json()
    assert body["next_cursor"] is None
    titles = [a["title"] for a in body["albums"]]
    assert titles == sorted(titles, key=str.lower)
    assert "Unreleased" not in titles  # no tracks, not listed
    first = body["albums"][0]
    assert set(first) == {
        "id",
        "title",
        "slug",
        "artist",
        "artist_handle",
        "track_count",
        "total_plays",
        "image_url",
        "thumbnail_url",
    }


def test_paging_with_cursor(api: Api) -> None:
    seen, cursor = [], None
    while True:
        query = "limit=1" + (f"&cursor={urllib.parse.quote(cursor)}" if cursor else "")
        reply = api.get(f"/albums?{query}")
        assert reply.status == 200
        seen += [a["id"] for a in reply.json()["albums"]]
        cursor = reply.json()["next_cursor"]
        if not cursor:
            break
    assert seen == [a["id"] for a in api.get("/albums").json()["albums"]]


@pytest.mark.parametrize("query", ["limit=0", "limit=101", "limit=abc", "limit="])
def test_bad_limit_is_422(api: Api, query: str) -> None:
    reply = api.get(f"/albums?{query}")
    assert reply.status == 422 and "limit" in reply.json()["detail"]


def test_bad_cursors_are_400(api: Api) -> None:
    good = api.get("/albums?limit=1").json()["next_cursor"]
    body, tag = good.split(".")
    padded = [f"{body}.{tag}==", f"{body}==.{tag}", f"{body}.{tag}="]  # same bytes, another spelling
    for bad in ["garbage", good[:-2], f"{body}.{'A' * len(tag)}", f"{body[:-1]}.{tag}", "a" * 3000, "", "%00", *padded]:
        reply = api.get(f"/albums?cursor={urllib.parse.quote(bad)}")
        assert reply.status == 400 and reply.json() == {"detail": "invalid cursor"}, bad


@pytest.mark.parametrize("path", ["/albums/aurora.test", "/albums/AURORA.TEST", "/albums/aurora.test/"])
def test_list_artist_albums(api: Api, path: str) -> None:
    reply = api.get(path)
    assert reply.status == 200
    albums = reply.json()["albums"]
    # other tests add albums of their own: the demo ones are there, and all are in title order
    slugs = [a["slug"] for a in albums]
    assert slugs.index("cafe-del-mar-sessions") < slugs.index("northern-lights")
    assert [a["title"].lower() for a in albums] == sorted(a["title"].lower() for a in albums)


def test_artist_with_only_empty_albums(api: Api) -> None:
    albums = api.get("/albums/quiet.test").json()["albums"]
    assert "Unreleased" in [a["title"] for a in albums]
    assert "Unreleased" not in [a["title"] for a in api.get("/albums?limit=100").json()["albums"]]


@pytest.mark.parametrize(
    "segment",
    ["nobody.test", "%00", "a" * 10000, "%F0%9F%8E%B5.test", "caf%C3%A9.test", "..%2F..", "%2e%2e", "a%2Fb"],
)
def test_unknown_or_malformed_handle_is_404(api: Api, segment: str) -> None:
    reply = api.get(f"/albums/{segment}")
    assert reply.status == 404 and reply.json() == {"detail": "artist not found"}


def test_get_album(api: Api) -> None:
    reply = api.get(ALBUM)
    assert reply.status == 200
    page = reply.json()
    assert page["metadata"]["title"] == "Café del Mar Sessions"
    assert page["metadata"]["track_count"] == len(page["tracks"]) == 3
    # list record order (served by the loopback record server), not creation order
    assert [t["title"] for t in page["tracks"]] == ["Low Tide", "Sunset Over Ibiza", "Salt Air"]
    assert page["tracks"][0]["album"]["slug"] == "cafe-del-mar-sessions"


@pytest.mark.parametrize("path", [ALBUM + "/", "/albums/Aurora.Test/Cafe-Del-Mar-Sessions"])
def test_get_album_variants(api: Api, path: str) -> None:
    assert api.get(path).status == 200


@pytest.mark.parametrize(
    "path",
    [
        "/albums/aurora.test/nope",
        "/albums/nobody.test/cafe-del-mar-sessions",
        "/albums/aurora.test/" + "x" * 10000,
        "/albums/aurora.test/%00",
        "/albums/aurora.test/..",
        "/albums/%F0%9F%8E%B5/%F0%9F%8E%B5",
        "/albums/aurora.test/%E6%97%A5%E6%9C%AC",
    ],
)
def test_get_album_not_found(api: Api, path: str) -> None:
    reply = api.get(path)
    assert reply.status == 404 and reply.json() == {"detail": "album not found"}


def test_unknown_session_cookie_is_anonymous_on_a_public_page(api: Api) -> None:
    for headers in (
        {"Cookie": "session_id=unknownsession0000000000"},
        {"Authorization": "Bearer nope"},
        {"Cookie": "session_id="},
        {"Cookie": "session_id=%00%00"},
    ):
        reply = api.get(ALBUM, headers=headers)
        assert reply.status == 200 and not any(t["is_liked"] for t in reply.json()["tracks"])


def test_unknown_routes_are_json_404(api: Api) -> None:
    for path in ["/nope", "/albums/a/b/c/d"]:
        reply = api.get(path)
        assert reply.status == 404 and reply.json() == {"detail": "not found"}


def test_covers_are_served_at_the_public_base_url(api: Api) -> None:
    image = api.get("/albums").json()["albums"][0]["image_url"]
    assert image.startswith(api.state["covers_base_url"])
    reply = api.get(image)
    assert reply.status == 200 and reply.headers["content-type"] == "image/png"
    assert reply.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert reply.body.startswith(b"\x89PNG")


def test_cors_preflight(api: Api) -> None:
    reply = api.request(
        "OPTIONS", "/albums", headers={"Origin": "http://localhost:5173", "Access-Control-Request-Method": "GET"}
    )
    assert reply.status == 204 and "GET" in reply.headers["access-control-allow-methods"]
    assert reply.headers["access-control-allow-origin"] == "http://localhost:5173"
    assert reply.headers["access-control-allow-credentials"] == "true"
    refused = api.request(
        "OPTIONS", "/albums", headers={"Origin": "https://app.example", "Access-Control-Request-Method": "GET"}
    )
    assert refused.status == 204 and "access-control-allow-origin" not in refused.headers


def test_a_session_works_from_a_frontend_on_another_loopback_origin(api: Api) -> None:
    """What a browser page on another port does with `credentials: 'include'`."""
    origin = "http://localhost:5173"
    handle = api.state["accounts"][0]["handle"]
    body = {"identifier": handle, "password": api.account(handle)["password"]}
    login = api.send("POST", "/auth/login", body, headers={"Origin": origin})
    assert login.status == 200
    assert login.headers["access-control-allow-origin"] == origin
    assert login.headers["access-control-allow-credentials"] == "true"
    cookie = login.headers["set-cookie"]
    attributes = {a.strip().split("=")[0] for a in cookie.split(";")}
    assert {"HttpOnly", "Path", "SameSite"} <= attributes and "Secure" not in attributes  # local mode: no TLS
    session = cookie.split(";")[0]
    me = api.get("/auth/me", headers={"Origin": origin, "Cookie": session})
    assert me.status == 200 and me.json()["handle"] == handle
    assert me.headers["access-control-allow-origin"] == origin and "Origin" in me.headers["vary"]

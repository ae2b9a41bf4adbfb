"""Black-box: sessions and album management over HTTP, records checked on the local PDS."""

import json
import uuid
from typing import Any

import pytest

from albums_core.adapters.atproto import xrpc
from albums_core.domain.at_uri import AtUri
from tests.e2e.conftest import Api


def pds_session(api: Api, handle: str) -> xrpc.PdsSession:
    account = api.account(handle)
    out = xrpc.create_session(api.state["pds_url"], account["did"], account["password"])
    return xrpc.PdsSession(api.state["pds_url"], account["did"], xrpc.Tokens(out["accessJwt"], out["refreshJwt"]))


def publish_track(pds: xrpc.PdsSession, title: str, **extra: Any) -> str:
    uri, _ = pds.create_record(
        "fm.plyr.track",
        {
            "$type": "fm.plyr.track",
            "title": title,
            "artist": "E2E",
            "fileType": "mp3",
            "createdAt": "2026-03-01T00:00:00.000Z",
            **extra,
        },
    )
    return uri


def record(api: Api, uri: str) -> xrpc.Record | None:
    at = AtUri.parse(uri)
    assert at
    return xrpc.get_record(api.state["pds_url"], at.repo, at.collection, at.rkey)


@pytest.fixture(scope="module")
def kenji(api: Api) -> str:
    return api.login("kenji.test")


@pytest.fixture(scope="module")
def aurora(api: Api) -> str:
    return api.login("aurora.test")


def unique(title: str) -> str:
    return f"{title} {uuid.uuid4().hex[:6]}"


# ---- sessions ----------------------------------------------------------------------------------


def test_login_sets_an_http_only_cookie_and_me_answers(api: Api) -> None:
    account = api.account("quiet.test")
    reply = api.send("POST", "/auth/login", {"identifier": "QUIET.test", "password": account["password"]})
    assert reply.status == 200
    body = reply.json()
    assert body["handle"] == "quiet.test" and body["did"] == account["did"] and body["session_id"]
    cookie = reply.headers["set-cookie"]
    assert cookie.startswith(f"session_id={body['session_id']}") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    me = api.send("GET", "/auth/me", session=body["session_id"]).json()
    assert me["did"] == account["did"] and me["display_name"] == "Quiet Artist"
    bearer = api.send("GET", "/auth/me", headers={"Authorization": f"Bearer {body['session_id']}"})
    assert bearer.status == 200
    assert api.send("POST", "/auth/logout", session=body["session_id"]).status == 200
    assert api.send("GET", "/auth/me", session=body["session_id"]).json() == {"detail": "invalid or expired session"}


@pytest.mark.parametrize(
    "body",
    [
        {"identifier": "aurora.test", "password": "wrong"},
        {"identifier": "nobody.test", "password": "x"},
        {"identifier": "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa", "password": "x"},
    ],
)
def test_login_failures_are_401_and_leak_nothing(api: Api, body: dict) -> None:
    reply = api.send("POST", "/auth/login", body)
    assert reply.status == 401 and reply.json() == {"detail": "invalid identifier or password"}


@pytest.mark.parametrize(
    "body", [b"not json", b"{}", b'{"identifier": "a"}', b'{"identifier": 1, "password": "x"}', b"[]", b""]
)
def test_login_bad_bodies_are_422(api: Api, body: bytes) -> None:
    reply = api.send("POST", "/auth/login", body)
    assert reply.status == 422 and isinstance(reply.json()["detail"], str)


def test_credentials_rules(api: Api, kenji: str, aurora: str) -> None:
    assert api.send("POST", "/albums", {"title": "x"}).json() == {"detail": "not authenticated - login required"}
    unknown = api.send("POST", "/albums", {"title": "x"}, session="unknownsession0000000000")
    assert unknown.status == 401 and unknown.json() == {"detail": "invalid or expired session"}
    garbage = api.send("POST", "/albums", {"title": "x"}, headers={"Authorization": "Bearer %%%"})
    assert garbage.status == 401
    # the cookie wins over a bearer token
    both = api.send("GET", "/auth/me", session=kenji, headers={"Authorization": f"Bearer {aurora}"})
    assert both.json()["handle"] == "kenji.test"


# ---- album management ----------------------------------------------------------------------------


def test_album_life_cycle_over_http(api: Api, kenji: str) -> None:
    pds = pds_session(api, "kenji.test")
    title = unique("Life Cycle")
    created = api.send("POST", "/albums/", {"title": title, "description": "d", "extra": "ignored"}, session=kenji)
    assert created.status == 201, created.body
    album = created.json()
    assert album["title"] == title and "extra" not in album
    assert api.send("POST", "/albums", {"title": title}, session=kenji).json()["id"] == album["id"]
    blob_free_extra = {"customField": {"keep": True}}
    uris = [publish_track(pds, f"{title} {i}", **blob_free_extra) for i in range(3)]
    attached = api.send("POST", f"/albums/{album['id']}/tracks", {"track_uris": uris}, session=kenji)
    assert attached.status == 200 and attached.json()["track_count"] == 3
    page = api.get(f"/albums/kenji.test/{album['slug']}").json()
    assert [t["atproto_record_uri"] for t in page["tracks"]] == uris
    ids = [t["id"] for t in page["tracks"]]
    reordered = api.send("PUT", f"/albums/{album['id']}/tracks", {"track_ids": ids[::-1]}, session=kenji)
    assert reordered.status == 200
    assert [t["id"] for t in api.get(f"/albums/kenji.test/{album['slug']}").json()["tracks"]] == ids[::-1]
    new_title = unique("Renamed")
    renamed = api.send("PATCH", f"/albums/{album['id']}", {"title": new_title}, session=kenji)
    assert renamed.status == 200 and renamed.json()["title"] == new_title
    slug = renamed.json()["slug"]
    # The old URL outlives the rename: a redirect to the current one.
    moved = api.request("GET", f"/albums/kenji.test/{album['slug']}", follow=False)
    assert moved.status == 308 and moved.headers["location"] == f"{api.url}/albums/kenji.test/{slug}"
    assert api.get(f"/albums/kenji.test/{slug}").json()["metadata"]["title"] == new_title
    for uri in uris:
        value = record(api, uri).value  # type: ignore[union-attr]
        assert value["album"] == new_title and value["customField"] == {"keep": True}
    removed = api.send("DELETE", f"/albums/{album['id']}/tracks/{ids[0]}", session=kenji)
    assert removed.json() == {"removed": True, "track_id": ids[0]}
    again = api.send("DELETE", f"/albums/{album['id']}/tracks/{ids[0]}", session=kenji)
    assert again.status == 400 and again.json() == {"detail": "track is not in this album"}
    assert api.send("DELETE", f"/albums/{album['id']}/tracks/999999999", session=kenji).json() == {
        "detail": "track not found"
    }
    deleted = api.send("DELETE", f"/albums/{album['id']}?cascade=true", session=kenji)
    assert deleted.json() == {"deleted": True, "cascade": True}
    assert record(api, uris[1]) is None and record(api, uris[2]) is None
    assert record(api, uris[0]) is not None  # removed before: standalone, kept
    assert api.get(f"/albums/kenji.test/{slug}").status == 404
    assert api.send("DELETE", f"/albums/{album['id']}", session=kenji).status == 404


def test_statuses_of_the_mutations(api: Api, kenji: str, aurora: str) -> None:
    album = api.send("POST", "/albums", {"title": unique("Statuses")}, session=kenji).json()
    other = api.send("POST", "/albums", {"title": unique("Taken")}, session=kenji).json()
    path = f"/albums/{album['id']}"
    assert api.send("PATCH", path, {"title": other["title"]}, session=kenji).json() == {
        "detail": "another of your albums already uses that name"
    }
    for method, suffix, body, message in [
        ("PATCH", "", {"title": "mine"}, "you can only update your own albums"),
        ("DELETE", "?cascade=false", None, "you can only delete your own albums"),
        ("DELETE", "/tracks/1", None, "you can only modify your own albums"),
        ("PUT", "/tracks", {"track_ids": []}, "you can only modify your own albums"),
        ("POST", "/tracks", {"track_uris": ["at://did:plc:x/fm.plyr.track/1"]}, "you can only modify your own albums"),
    ]:
        reply = api.send(method, path + suffix, body, session=aurora)
        assert reply.status == 403 and reply.json() == {"detail": message}, (method, suffix)
    for bad in ["00000000-0000-4000-8000-000000000000", "not-a-uuid", "%00", "a" * 5000]:
        assert api.send("PATCH", f"/albums/{bad}", {"title": "x"}, session=kenji).json() == {
            "detail": "album not found"
        }
    checks = [
        ("PATCH", path, {"title": ""}),
        ("PATCH", path, {"title": "x" * 300}),
        ("PATCH", path, {"title": "a" * 65}),
        ("PATCH", path, {"description": "x" * 5001}),
        ("PATCH", path, {}),
        ("PATCH", path, {"title": 5}),
        ("POST", path + "/tracks", {"track_uris": "nope"}),
        ("POST", path + "/tracks", {"track_uris": []}),
        ("PUT", path + "/tracks", {"track_ids": ["a"]}),
        ("PUT", path + "/tracks", {"track_ids": [1]}),
        ("DELETE", path + "/tracks/abc", None),
        ("DELETE", path + "?cascade=perhaps", None),
        ("POST", "/albums", {"title": "   "}),
        ("POST", "/albums", {"description": "no title"}),
    ]
    for method, target, body in checks:
        reply = api.send(method, target, body, session=kenji)
        assert reply.status == 422 and isinstance(reply.json()["detail"], str), (method, target, body, reply.body)
    foreign = publish_track(pds_session(api, "aurora.test"), "Not Kenji's")
    reply = api.send("POST", path + "/tracks", {"track_uris": [foreign]}, session=kenji)
    assert reply.status == 403
    missing = f"at://{api.account('kenji.test')['did']}/fm.plyr.track/3kzzzzzzzzzz2"
    assert api.send("POST", path + "/tracks", {"track_uris": [missing]}, session=kenji).status == 404


def test_patch_with_query_parameters(api: Api, kenji: str) -> None:
    album = api.send("POST", "/albums", {"title": unique("Query")}, session=kenji).json()
    reply = api.send("PATCH", f"/albums/{album['id']}?description=from%20the%20query", session=kenji)
    assert reply.status == 200 and reply.json()["description"] == "from the query"


def test_sync_endpoint(api: Api, kenji: str) -> None:
    pds = pds_session(api, "kenji.test")
    uri = publish_track(pds, unique("Fresh"))
    name = unique("Published Elsewhere")
    pds.create_record(
        "fm.plyr.list",
        {
            "$type": "fm.plyr.list",
            "name": name,
            "listType": "album",
            "items": [{"subject": {"uri": uri, "cid": "bafy"}}],
            "createdAt": "2026-03-01T00:00:00.000Z",
        },
    )
    # The stack's firehose consumer may index the album first (within about a second): either
    # way, once the sync has answered the album is in the catalogue with its track.
    first = api.send("POST", "/artists/me/sync", session=kenji)
    assert first.status == 200 and first.json()["synced"] is True
    albums = {a["title"]: a for a in api.get("/albums/kenji.test").json()["albums"]}
    assert name in albums and albums[name]["track_count"] == 1, albums.get(name)
    second = api.send("POST", "/artists/me/sync/", session=kenji).json()
    assert second["synced"] is True and second["complete"] is True
    counts = {k: v for k, v in second.items() if k not in ("synced", "complete")}
    assert counts == dict.fromkeys(counts, 0)


def test_write_errors_never_leak_internals(api: Api, kenji: str) -> None:
    for body in [b'{"title": "\\ud800"}', json.dumps({"title": "a" * 100_000}).encode()]:
        reply = api.send("POST", "/albums", body, session=kenji)
        # a lone surrogate and a title beyond the list lexicon's limit: both invalid titles
        assert reply.status == 422 and "Traceback" not in reply.body.decode()
        assert "title" in reply.json()["detail"], reply.json()


# ---- inputs found by a hunt for bad inputs (each once answered 500 or wrongly) ---------------


def test_media_types(api: Api, kenji: str) -> None:
    album = api.send("POST", "/albums", {"title": unique("Media")}, session=kenji).json()
    path = f"/albums/{album['id']}"
    for ctype in ["text/plain", "application/xml", "application/octet-stream", "multipart/form-data"]:
        reply = api.send("PATCH", path, b'{"description": "x"}', session=kenji, headers={"Content-Type": ctype})
        assert reply.status == 415 and "Content-Type" in reply.json()["detail"], ctype
    upper = api.send(
        "PATCH",
        path,
        {"description": "upper"},
        session=kenji,
        headers={"Content-Type": "APPLICATION/JSON; charset=UTF-8"},
    )
    assert upper.status == 200 and upper.json()["description"] == "upper"


@pytest.mark.parametrize(
    "body",
    [
        b'{"title": "Deep", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        b'{"title": "BigInt", "x": 1' + b"0" * 5000 + b"}",
        b'[{"title": "Array"}]',
        b'"just a string"',
        b"{bad",
    ],
)
def test_bodies_that_are_not_a_json_object_are_422(api: Api, kenji: str, body: bytes) -> None:
    for method, path in [("POST", "/albums"), ("POST", "/auth/login")]:
        reply = api.send(method, path, body, session=kenji)
        assert reply.status == 422 and reply.json()["detail"].startswith("body:"), (path, reply.body[:100])


def test_track_id_must_be_an_integer(api: Api, kenji: str) -> None:
    album = api.send("POST", "/albums", {"title": unique("Ids")}, session=kenji).json()
    for bad in ["11.0", "+13", "013", "1e3", "abc", "-1", "9" * 30]:
        reply = api.send("DELETE", f"/albums/{album['id']}/tracks/{bad}", session=kenji)
        assert reply.status == 422, (bad, reply.body)


def test_reorder_is_capped_before_any_work(api: Api, kenji: str) -> None:
    album = api.send("POST", "/albums", {"title": unique("Capped")}, session=kenji).json()
    reply = api.send("PUT", f"/albums/{album['id']}/tracks", {"track_ids": list(range(30_000))}, session=kenji)
    assert reply.status == 422 and len(reply.body) < 2000


@pytest.mark.parametrize("title", ["\u200b", "\u0301", "\u200b\u200c", " \u2060 "])
def test_visually_empty_titles_are_422(api: Api, kenji: str, title: str) -> None:
    assert api.send("POST", "/albums", {"title": title}, session=kenji).status == 422


@pytest.mark.parametrize(
    "title",
    ["\u3164", "\u2800", "Night\u202eevirD", "Da\u200bwn", "Dawn\ufeff", "Dawn\uffff", "\U0001f1ef\U0001f1f5" * 64],
)
def test_hidden_characters_and_the_byte_limit_are_422_naming_the_field(api: Api, kenji: str, title: str) -> None:
    reply = api.send("POST", "/albums", {"title": title}, session=kenji)
    assert reply.status == 422 and reply.json()["detail"].startswith("title: "), reply.body


def test_invalid_utf8_in_the_query_is_422(api: Api, kenji: str) -> None:
    album = api.send("POST", "/albums", {"title": unique("Bytes")}, session=kenji).json()
    for raw in ["%ff%fe", "%ED%A0%80", "%C0%AF"]:
        reply = api.send("PATCH", f"/albums/{album['id']}?title={raw}", session=kenji)
        assert reply.status == 422, raw


def test_a_field_given_both_in_the_query_and_the_body_is_422_and_changes_nothing(api: Api, kenji: str) -> None:
    title = unique("Once")
    album = api.send("POST", "/albums", {"title": title}, session=kenji).json()
    for field in ("title", "description"):
        reply = api.send("PATCH", f"/albums/{album['id']}?{field}=Query", {field: "Body"}, session=kenji)
        assert reply.status == 422 and "both" in reply.json()["detail"] and field in reply.json()["detail"], reply.body
    # One field each way is fine.
    reply = api.send("PATCH", f"/albums/{album['id']}?description=Q", {"title": title}, session=kenji)
    assert reply.status == 200 and reply.json()["description"] == "Q", reply.body
    assert reply.json()["title"] == title


def test_existence_and_ownership_come_before_body_validation(api: Api, kenji: str, aurora: str) -> None:
    theirs = api.send("POST", "/albums", {"title": unique("Theirs")}, session=aurora).json()
    assert api.send("PATCH", f"/albums/{theirs['id']}", b"{bad", session=kenji).status == 403
    assert api.send("DELETE", f"/albums/{theirs['id']}?cascade=maybe", session=kenji).status == 403
    assert api.send("DELETE", f"/albums/{theirs['id']}/tracks/abc", session=kenji).status == 403
    assert api.send("PATCH", "/albums/nope", b"{bad", session=kenji).status == 404


def test_oversized_headers_get_a_json_error(api: Api) -> None:
    reply = api.get("/albums", headers={"X-Long": "x" * 100_000})
    # 431 Request Header Fields Too Large, as a JSON error
    assert reply.status == 431 and reply.headers["content-type"] == "application/json" and "detail" in reply.json()


def test_attaching_many_tracks_keeps_counters_exact(api: Api, kenji: str) -> None:
    pds = pds_session(api, "kenji.test")
    title = unique("Many")
    writes = [
        {
            "$type": "com.atproto.repo.applyWrites#create",
            "collection": "fm.plyr.track",
            "value": {
                "$type": "fm.plyr.track",
                "title": f"{title} {i}",
                "artist": "E2E",
                "fileType": "mp3",
                "createdAt": "2026-03-01T00:00:00.000Z",
            },
        }
        for i in range(60)
    ]
    out = pds.apply_writes(writes, swap_commit=None)
    uris = [r["uri"] for r in out["results"]]
    album = api.send("POST", "/albums", {"title": title}, session=kenji).json()
    reply = api.send("POST", f"/albums/{album['id']}/tracks", {"track_uris": uris}, session=kenji)
    assert reply.status == 200 and reply.json()["track_count"] == 60
    listed = next(a for a in api.get("/albums/kenji.test").json()["albums"] if a["id"] == album["id"])
    assert listed["track_count"] == 60
    page = api.get(f"/albums/kenji.test/{album['slug']}").json()
    assert [t["atproto_record_uri"] for t in page["tracks"]] == uris

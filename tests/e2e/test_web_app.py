"""Black-box: the calls the plyr.fm web app makes, over HTTP as it makes them (issue #19)."""

from __future__ import annotations

import time
import uuid
from typing import Any

import boto3
import pytest

from albums_core.adapters.dynamodb import keys
from albums_core.adapters.dynamodb.codec import to_item
from tests.e2e.conftest import Api
from tests.e2e.test_write_api import pds_session, publish_track, record


@pytest.fixture(scope="module")
def kenji(api: Api) -> str:
    return api.login("kenji.test")


@pytest.fixture(scope="module")
def aurora(api: Api) -> str:
    return api.login("aurora.test")


def unique(title: str) -> str:
    return f"{title} {uuid.uuid4().hex[:6]}"


def album_of(api: Api, session: str, handle: str, n: int) -> tuple[dict[str, Any], list[str]]:
    album = api.send("POST", "/albums", {"title": unique("Web App")}, session=session).json()
    uris = [publish_track(pds_session(api, handle), f"Web {i}") for i in range(n)]
    reply = api.send("POST", f"/albums/{album['id']}/tracks", {"track_uris": uris}, session=session)
    assert reply.status == 200, reply.body
    return reply.json(), uris


def refs(api: Api, uris: list[str]) -> list[dict[str, str]]:
    return [{"uri": u, "cid": record(api, u).cid} for u in uris]  # type: ignore[union-attr]


# ---- 1. PUT /lists/{rkey}/reorder ------------------------------------------------------------------


def test_reorder_by_list_key_as_the_web_app_sends_it(api: Api, kenji: str) -> None:
    album, uris = album_of(api, kenji, "kenji.test", 3)
    rkey = album["list_uri"].rsplit("/", 1)[1]
    order = [uris[2], uris[0], uris[1]]
    items = refs(api, order)
    items[1]["cid"] = "bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"  # stale: not an error
    web_app = {"Origin": "http://127.0.0.1:5173"}  # the default frontend, as the browser sends it
    for path in (f"/lists/{rkey}/reorder", f"/lists/{rkey}/reorder/"):
        reply = api.send("PUT", path, {"items": items}, session=kenji, headers=web_app)
        listed = record(api, album["list_uri"])
        assert listed is not None
        assert reply.status == 200 and reply.json() == {"uri": album["list_uri"], "cid": listed.cid}, reply.body
    assert [i["subject"] for i in listed.value["items"]] == refs(api, order)
    page = api.get(f"/albums/kenji.test/{album['slug']}").json()
    assert [t["atproto_record_uri"] for t in page["tracks"]] == order


def test_reorder_by_list_key_statuses(api: Api, kenji: str, aurora: str) -> None:
    album, uris = album_of(api, kenji, "kenji.test", 2)
    rkey = album["list_uri"].rsplit("/", 1)[1]
    items = refs(api, uris)
    path = f"/lists/{rkey}/reorder"
    assert api.send("PUT", path, {"items": items}).status == 401
    assert api.send("PUT", path, b"{bad").status == 401
    # Another site's page cannot reorder with the artist's cookie.
    evil = api.send("PUT", path, {"items": items}, session=kenji, headers={"Origin": "https://evil.example"})
    assert evil.status == 403, evil.body
    # Another artist's key is not found: the list URI is built from the caller's DID.
    for session, target in [(aurora, path), (kenji, "/lists/3kzzzzzzzzzzz/reorder"), (kenji, "/lists/%00/reorder")]:
        reply = api.send("PUT", target, {"items": items}, session=session)
        assert reply.status == 404 and reply.json() == {"detail": "list not found"}, target
    foreign = publish_track(pds_session(api, "aurora.test"), "Not Kenji's")
    for body in [
        {"items": items[:1]},
        {"items": [*items, items[0]]},
        {"items": [*items, {"uri": foreign, "cid": "x"}]},
        {"items": [{"uri": "nope", "cid": "x"}, *items]},
        {"items": [{"uri": uris[0]}, "not a ref"]},
        {"items": "nope"},
        {},
        {"items": [{"uri": f"at://did:plc:x/fm.plyr.track/{i}", "cid": "c"} for i in range(501)]},
    ]:
        reply = api.send("PUT", path, body, session=kenji)
        assert reply.status == 422 and isinstance(reply.json()["detail"], str), (body, reply.body)
    assert [i["subject"]["uri"] for i in record(api, album["list_uri"]).value["items"]] == uris  # type: ignore[union-attr]


def test_reorder_by_list_key_during_another_change_is_409(api: Api, kenji: str) -> None:
    album, uris = album_of(api, kenji, "kenji.test", 2)
    rkey = album["list_uri"].rsplit("/", 1)[1]
    dynamodb = boto3.client(
        "dynamodb",
        endpoint_url=api.state["aws_endpoint_url"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name=api.state["region"],
    )
    key = to_item(keys.album(album["id"]))
    table = api.state["tables"]["CatalogueTable"]
    # Another request's lease on the album, as lock_album takes it.
    dynamodb.update_item(
        TableName=table,
        Key=key,
        UpdateExpression="SET lock_token = :t, lock_until = :u",
        ExpressionAttributeValues={":t": {"S": "other"}, ":u": {"N": str(int(time.time()) + 600)}},
    )
    try:
        reply = api.send("PUT", f"/lists/{rkey}/reorder", {"items": refs(api, uris[::-1])}, session=kenji)
        assert reply.status == 409, reply.body
    finally:
        dynamodb.update_item(TableName=table, Key=key, UpdateExpression="REMOVE lock_token, lock_until")
    reply = api.send("PUT", f"/lists/{rkey}/reorder", {"items": refs(api, uris[::-1])}, session=kenji)
    assert reply.status == 200, reply.body


# ---- 2. the artist profile ---------------------------------------------------------------------------


PROFILE_FIELDS = {
    "did",
    "handle",
    "display_name",
    "bio",
    "avatar_url",
    "created_at",
    "updated_at",
    "show_liked_on_profile",
    "support_url",
}


def test_the_artist_page_loads_as_the_web_app_loads_it(api: Api, kenji: str) -> None:
    account = api.account("kenji.test")
    for path in ("/artists/by-handle/kenji.test", "/artists/by-handle/Kenji.Test/"):
        reply = api.get(path)
        assert reply.status == 200 and reply.headers["content-type"] == "application/json", reply.body
        artist = reply.json()
        assert set(artist) == PROFILE_FIELDS and artist["did"] == account["did"] and artist["handle"] == "kenji.test"
        assert artist["show_liked_on_profile"] is False and artist["support_url"] is None
        assert artist["created_at"].endswith("Z") and artist["updated_at"].endswith("Z")
    assert api.get(f"/artists/{account['did']}").json() == artist
    assert api.get(f"/artists/{account['did']}/").json() == artist
    # The page's next calls: the artist's tracks (not ours: it degrades to an empty list), then albums.
    assert api.get(f"/tracks/?artist_did={artist['did']}&limit=5").status == 404
    albums = api.get(f"/albums/{artist['handle']}")
    assert albums.status == 200 and isinstance(albums.json()["albums"], list)


def test_an_artist_that_is_not_indexed_is_404(api: Api) -> None:
    did = api.account("kenji.test")["did"]
    for path in (
        "/artists/by-handle/nobody.test",
        f"/artists/by-handle/{did}",
        "/artists/by-handle/%00",
        "/artists/by-handle/" + "a" * 300,
        "/artists/did:plc:zzzzzzzzzzzzzzzzzzzzzzzz",
        f"/artists/{did.upper()}",
        "/artists/kenji.test",
        "/artists/by-handle",
        "/artists/%ff",
    ):
        reply = api.get(path)
        assert reply.status == 404 and reply.json() == {"detail": "artist not found"}, (path, reply.body)


# ---- 3. album URLs that outlive a rename ---------------------------------------------------------------


def test_an_old_slug_answers_308_to_the_albums_current_path(api: Api, kenji: str) -> None:
    first = unique("Before Rename")
    album = api.send("POST", "/albums", {"title": first}, session=kenji).json()
    old_slug = album["slug"]
    assert api.get(f"/albums/kenji.test/{old_slug}").status == 200  # cached before the renames
    second = api.send("PATCH", f"/albums/{album['id']}", {"title": unique("Middle")}, session=kenji).json()
    third = api.send("PATCH", f"/albums/{album['id']}", {"title": unique("After Rename")}, session=kenji).json()
    current = f"{api.url}/albums/kenji.test/{third['slug']}"
    for path in (f"/albums/kenji.test/{old_slug}", f"/albums/Kenji.Test/{second['slug']}/"):
        reply = api.request("GET", path, headers={"Origin": "http://127.0.0.1:5173"}, follow=False)
        assert reply.status == 308, (path, reply.body)
        assert reply.headers["location"] == current and reply.json() == {"location": current}
        assert reply.headers.get("access-control-allow-origin") == "http://127.0.0.1:5173"
    # A client that follows (as the web app's fetch does) gets the page in one hop.
    followed = api.get(f"/albums/kenji.test/{old_slug}")
    assert followed.status == 200 and followed.json()["metadata"]["id"] == album["id"]
    # Another album taking the old name ends the redirect; deleting the album ends the others.
    taker = api.send("POST", "/albums", {"title": first}, session=kenji).json()
    assert taker["id"] != album["id"]
    assert api.get(f"/albums/kenji.test/{old_slug}").json()["metadata"]["id"] == taker["id"]
    assert api.send("DELETE", f"/albums/{album['id']}?cascade=false", session=kenji).status == 200
    deadline = time.monotonic() + 60  # the catalogue's stream drops the cached redirect
    while api.request("GET", f"/albums/kenji.test/{second['slug']}", follow=False).status != 404:
        assert time.monotonic() < deadline
        time.sleep(0.2)

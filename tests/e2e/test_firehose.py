"""Black-box: edits made in another client, directly on the local PDS, show on the API's pages
within seconds (the local runtime runs the firehose consumer continuously, as `make run` does)."""

from __future__ import annotations

import json
import time
import urllib.request
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from tests.e2e.conftest import Api

TRACK, LIST, LIKE = "fm.plyr.track", "fm.plyr.list", "fm.plyr.like"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class Other:
    """An account on the PDS that uses another client (raw XRPC), never our API."""

    def __init__(self, api: Api, prefix: str) -> None:
        self.pds = api.state["pds_url"]
        assert self.pds.startswith("http://127.0.0.1:")
        self.handle = f"{prefix}{uuid.uuid4().hex[:6]}.test"
        self.password = "pw-" + uuid.uuid4().hex[:10]
        out = self.call(
            "com.atproto.server.createAccount",
            {"handle": self.handle, "password": self.password, "email": f"{self.handle}@example.com"},
        )
        self.did, self.token = out["did"], out["accessJwt"]

    def call(self, nsid: str, body: dict[str, Any], auth: bool = False) -> dict[str, Any]:
        headers = {"Content-Type": "application/json"}
        if auth:
            headers["Authorization"] = f"Bearer {self.token}"
        req = urllib.request.Request(f"{self.pds}/xrpc/{nsid}", json.dumps(body).encode(), headers, method="POST")
        with urllib.request.urlopen(req, timeout=15) as resp:  # loopback, checked above
            raw = resp.read()
            return json.loads(raw) if raw else {}

    def create(self, collection: str, record: dict[str, Any]) -> tuple[str, str]:
        out = self.call(
            "com.atproto.repo.createRecord", {"repo": self.did, "collection": collection, "record": record}, True
        )
        return out["uri"], out["cid"]

    def put(self, uri: str, record: dict[str, Any]) -> None:
        collection, rkey = uri.split("/")[-2:]
        body = {"repo": self.did, "collection": collection, "rkey": rkey, "record": record}
        self.call("com.atproto.repo.putRecord", body, True)

    def delete(self, uri: str) -> None:
        collection, rkey = uri.split("/")[-2:]
        self.call("com.atproto.repo.deleteRecord", {"repo": self.did, "collection": collection, "rkey": rkey}, True)

    def track(self, title: str) -> tuple[str, str]:
        return self.create(
            TRACK, {"$type": TRACK, "title": title, "artist": self.handle, "fileType": "mp3", "createdAt": _now()}
        )


def _album(name: str, tracks: list[tuple[str, str]]) -> dict[str, Any]:
    items = [{"subject": {"uri": u, "cid": c}} for u, c in tracks]
    return {"$type": LIST, "name": name, "listType": "album", "items": items, "createdAt": _now()}


def soon(check: Callable[[], Any], seconds: float = 60.0) -> Any:
    """`check`'s first truthy answer; failing only on a hang (no figure a busy machine could miss)."""
    deadline = time.monotonic() + seconds
    while True:
        out = check()
        if out:
            return out
        assert time.monotonic() < deadline, "not shown in time"
        time.sleep(0.25)


def test_an_album_published_in_another_client_shows_within_seconds(api: Api) -> None:
    nia = Other(api, "nia")
    one, two = nia.track("First light"), nia.track("Second wind")
    list_uri, _ = nia.create(LIST, _album("Elsewhere", [two, one]))

    def listed() -> bool:
        reply = api.get(f"/albums/{nia.handle}")
        return reply.status == 200 and [a["track_count"] for a in reply.json()["albums"]] == [2]

    # The first time, the consumer may still be starting (a cold worker on a busy machine).
    soon(listed, 120)
    page = api.get(f"/albums/{nia.handle}/elsewhere").json()
    assert [t["title"] for t in page["tracks"]] == ["Second wind", "First light"]

    # Renamed elsewhere: the page moves to the new slug, live (the consumer, not a later sweep;
    # `soon`'s limit is a hang limit only).
    nia.put(list_uri, _album("Elsewhere Again", [two, one]))
    soon(lambda: api.get(f"/albums/{nia.handle}/elsewhere-again").status == 200)
    # The old URL outlives a rename made elsewhere too: a redirect to the current one.
    moved = api.request("GET", f"/albums/{nia.handle}/elsewhere", follow=False)
    assert moved.status == 308 and moved.headers["location"] == f"{api.url}/albums/{nia.handle}/elsewhere-again"

    # A like given in another app: counted, and liked for that viewer only.
    oli = Other(api, "oli")
    like_uri, _ = oli.create(LIKE, {"$type": LIKE, "subject": {"uri": two[0], "cid": two[1]}, "createdAt": _now()})
    session = _login(api, oli)
    soon(lambda: api.get(f"/albums/{nia.handle}/elsewhere-again").json()["tracks"][0]["like_count"] == 1)
    mine = api.send("GET", f"/albums/{nia.handle}/elsewhere-again", session=session).json()
    assert [t["is_liked"] for t in mine["tracks"]] == [True, False]
    oli.delete(like_uri)
    soon(lambda: api.get(f"/albums/{nia.handle}/elsewhere-again").json()["tracks"][0]["like_count"] == 0)

    # The list deleted elsewhere: the album is gone.
    nia.delete(list_uri)
    soon(lambda: api.get(f"/albums/{nia.handle}").json()["albums"] == [])


def test_a_handle_changed_on_the_pds_answers_under_the_new_handle(api: Api) -> None:
    pat = Other(api, "pat")
    track = pat.track("Renamed artist")
    pat.create(LIST, _album("Moving", [track]))
    soon(lambda: api.get(f"/albums/{pat.handle}/moving").status == 200, 120)
    new = f"pat{uuid.uuid4().hex[:6]}.test"
    pat.call("com.atproto.identity.updateHandle", {"handle": new}, True)
    soon(lambda: api.get(f"/albums/{new}/moving").status == 200)
    assert api.get(f"/albums/{pat.handle}/moving").status == 404


def _login(api: Api, who: Other) -> str:
    reply = api.send("POST", "/auth/login", {"identifier": who.handle, "password": who.password})
    assert reply.status == 200, reply.body
    return str(reply.json()["session_id"])

"""The Subsonic envelope in JSON and XML, and the HTTP side: HTTP 200 with an envelope for every
error (never a 5xx, never the API's JSON error shape), parameters from the query and the form."""

from __future__ import annotations

import json
from typing import Any
from xml.etree import ElementTree

from albums_core.domain import subsonic
from albums_core.domain.errors import AlbumNotFound
from albums_core.domain.subsonic import Redirect, SubsonicError
from albums_core.http.subsonic import answer, parameters

NS = "{http://subsonic.org/restapi}"


def event(method: str = "GET", query: str = "", body: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"rawQueryString": query, "requestContext": {"http": {"method": method}}, "headers": {}}
    if body is not None:
        out["body"] = body
        out["headers"]["Content-Type"] = "application/x-www-form-urlencoded; charset=UTF-8"
    return out


def test_json_envelope() -> None:
    doc = subsonic.envelope({"musicFolders": {"musicFolder": [{"id": 1, "name": "Albums"}]}})
    body = json.loads(subsonic.to_json(doc))["subsonic-response"]
    assert body["status"] == "ok" and body["version"] == "1.16.1" and body["openSubsonic"] is True
    assert body["type"] and body["serverVersion"]
    assert body["musicFolders"]["musicFolder"] == [{"id": 1, "name": "Albums"}]


def test_xml_envelope_and_error() -> None:
    doc = subsonic.envelope(
        {"album": {"id": "al-1", "song": [{"id": "tr-1", "isDir": False}, {"id": "tr-2"}]}, "x": {"v": [1, 2]}}
    )
    root = ElementTree.fromstring(subsonic.to_xml(doc))  # noqa: S314 - our own output
    assert root.tag == f"{NS}subsonic-response" and root.get("status") == "ok" and root.get("openSubsonic") == "true"
    songs = root.findall(f"{NS}album/{NS}song")
    assert [s.get("id") for s in songs] == ["tr-1", "tr-2"] and songs[0].get("isDir") == "false"
    assert [v.text for v in root.findall(f"{NS}x/{NS}v")] == ["1", "2"]
    failed = ElementTree.fromstring(subsonic.to_xml(subsonic.envelope(error=subsonic.missing("id"))))  # noqa: S314
    assert failed.get("status") == "failed"
    assert failed.find(f"{NS}error").attrib == {"code": "10", "message": "Required parameter is missing: id"}  # type: ignore[union-attr]


def test_parameters_from_query_and_form() -> None:
    got = parameters(event("POST", "f=json&id=tr-1", "u=alice.test&id=tr-2&s=x%20y"))
    assert got == {"f": ["json"], "id": ["tr-1", "tr-2"], "u": ["alice.test"], "s": ["x y"]}
    assert parameters(event("GET", "id=tr-1", "u=ignored")) == {"id": ["tr-1"]}


def ok(_: dict[str, list[str]]) -> str:
    return "caller"


def test_answers_are_http_200_envelopes_whatever_fails() -> None:
    def boom(*_: Any) -> Any:
        raise RuntimeError("secret detail")

    def missing_album(*_: Any) -> Any:
        raise AlbumNotFound()

    def refused(_: Any) -> Any:
        raise SubsonicError(40, "Wrong username or password")

    cases = [(boom, ok, 0), (missing_album, ok, 70), (lambda *_: {}, refused, 40)]
    for handler, auth, code in cases:
        out = answer(event(query="f=json"), auth, handler)
        assert out.status_code == 200
        body = json.loads(out.body)["subsonic-response"]
        assert body["status"] == "failed" and body["error"]["code"] == code
        assert "secret" not in out.body and "detail" not in body
    xml = answer(event(), refused, lambda *_: {})
    assert xml.status_code == 200 and xml.content_type.startswith("text/xml") and 'code="40"' in xml.body


def test_media_is_a_302() -> None:
    out = answer(event(), ok, lambda *_: Redirect("https://cdn.example/a.mp3"))
    assert out.status_code == 302 and out.headers["Location"] == "https://cdn.example/a.mp3"

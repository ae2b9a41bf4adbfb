"""The Subsonic API driven by py-sonic, a client we did not write, through the local gateway
(the functions in Lambda workers, IAM as the template grants it, moto): token auth, album lists
of each type and paging, an album's songs in its list record's order, cover art, the stream
redirect, scrobbles; and by plain HTTP what py-sonic does not send (apiKey, XML, GET forms)."""

from __future__ import annotations

import hashlib
import json
import threading
import urllib.parse
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import libsonic
import pytest

from albums_core import bootstrap
from albums_core.adapters.dynamodb.catalogue import CatalogueRepository, CatalogueWriter
from albums_core.domain.models import Album, Artist, Track
from local_runtime.gateway import ApiSettings, Gateway
from local_runtime.lambda_host import LambdaHost
from local_runtime.loopback_http import LoopbackHTTPServer
from local_runtime.processes import MotoServer
from local_runtime.record_server import RecordServer
from local_runtime.resources import create_all
from local_runtime.stack import aws_session
from local_runtime.template import Stack
from tests.integration.conftest import reset_caches
from tests.integration.factory import add_tracks, make_album, make_artist, publish_list

AUDIO = b"ID3" + b"\x00" * 61
IMAGE = b"\x89PNG\r\n\x1a\n" + b"\x00" * 24


class Media(BaseHTTPRequestHandler):
    """Where the redirects lead: audio and images on loopback."""

    def do_GET(self) -> None:
        body, kind = (AUDIO, "audio/mpeg") if self.path.endswith(".mp3") else (IMAGE, "image/png")
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: Any) -> None:
        pass


class World:
    def __init__(self, gateway: Gateway, media: str, token: str, prefix: str, artist: Artist) -> None:
        self.gateway, self.media, self.token, self.prefix, self.artist = gateway, media, token, prefix, artist
        self.albums: dict[str, tuple[Album, list[Track]]] = {}

    def client(self, user: str | None = None, password: str | None = None) -> libsonic.Connection:
        parts = urllib.parse.urlsplit(self.gateway.url)
        return libsonic.Connection(
            f"http://{parts.hostname}",
            user or self.artist.handle,
            password or self.token,
            port=parts.port,
            serverPath=f"{parts.path}/rest",
            appName="py-sonic-test",
        )

    def raw(
        self, method: str, query: dict[str, str | list[str]], post: bool = False
    ) -> tuple[int, dict[str, str], bytes]:
        encoded = urllib.parse.urlencode(query, doseq=True)
        url = f"{self.gateway.url}/rest/{method}"
        request = (
            urllib.request.Request(
                url, data=encoded.encode(), headers={"Content-Type": "application/x-www-form-urlencoded"}
            )
            if post
            else urllib.request.Request(f"{url}?{encoded}")
        )

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *_: Any, **__: Any) -> None:
                return None

        opener = urllib.request.build_opener(NoRedirect)
        try:
            with opener.open(request, timeout=30) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read()


def _album(repo: CatalogueRepository, artist: Artist, title: str, media: str, n: int, gate: bool = False) -> Any:
    album, _ = make_album(repo, artist, title, image_url=f"{media}/covers/{title}.png")
    tracks = []
    for i in range(n):
        track_id = repo.next_track_id()
        tracks.append(
            Track(
                id=track_id,
                title=f"{title} song {i}",
                artist_did=artist.did,
                file_id=f"f{track_id}",
                file_type="mp3",
                created_at=f"2026-02-{i + 1:02d}T00:00:00Z",
                album_id=album.id,
                record_uri=f"at://{artist.did}/fm.plyr.track/3t{track_id:08d}",
                r2_url=f"{media}/audio/{track_id}.mp3",
                duration=100 + i,
                support_gate={"type": "any"} if gate else None,
            )
        )
    add_tracks(repo, album, tracks)
    return album, tracks


@pytest.fixture(scope="module")
def world(moto: MotoServer, stack: Stack, record_server: RecordServer) -> Iterator[World]:
    urllib.request.urlopen(urllib.request.Request(f"{moto.url}/moto-api/reset", method="POST"), timeout=5).close()
    create_all(stack, aws_session(stack.region), moto.url)
    reset_caches()
    media_server = LoopbackHTTPServer(("127.0.0.1", 0), Media)
    threading.Thread(target=media_server.serve_forever, daemon=True).start()
    media = f"http://127.0.0.1:{media_server.server_address[1]}"
    repo = CatalogueRepository()
    aurora = make_artist(repo, "aurora.test", pds_url=record_server.url, display_name="Aurora Lane")
    kenji = make_artist(repo, "kenji.test", pds_url=record_server.url, display_name="Kenji")
    made = bootstrap.developer_tokens().create(aurora.did, aurora.handle, "py-sonic")
    routes = [r for r in stack.routes() if r.path.startswith("/rest/")]
    with LambdaHost(stack, moto.url) as host:
        gateway = Gateway(host, routes, 0, settings=ApiSettings.from_stack(stack)).start()
        w = World(gateway, media, made["token"], made["prefix"], aurora)
        for n, title in enumerate(["Delta", "Alpha", "Echo", "Charlie", "Bravo"]):
            w.albums[title] = _album(repo, aurora if n % 2 == 0 else kenji, title, media, 3)
        album, tracks = w.albums["Delta"]
        publish_list(record_server.store, album, [t.record_uri or "" for t in reversed(tracks)])
        w.albums["Gated"] = _album(repo, kenji, "Gated", media, 1, gate=True)
        yield w
        gateway.stop()
    media_server.shutdown()
    media_server.server_close()


def titles(albums: list[dict[str, Any]]) -> list[str]:
    return [a["name"] for a in albums]


def test_ping_and_the_system_methods_with_the_md5_token(world: World) -> None:
    client = world.client()
    assert client.ping() is True
    assert client.getLicense()["license"]["valid"] is True
    assert client.getMusicFolders()["musicFolders"]["musicFolder"] == [{"id": 1, "name": "Albums"}]
    assert world.client(world.artist.did).ping() is True
    with pytest.raises(libsonic.errors.CredentialError):
        world.client(password="plyr_00000000_not-a-token").ping()
    with pytest.raises(libsonic.errors.CredentialError):
        world.client(user="kenji.test").ping()  # aurora's token is not kenji's


def test_album_lists_of_each_type_and_paging(world: World) -> None:
    client = world.client()
    by_name = client.getAlbumList2("alphabeticalByName", size=500)["albumList2"]["album"]
    assert titles(by_name) == ["Alpha", "Bravo", "Charlie", "Delta", "Echo", "Gated"]
    paged: list[dict[str, Any]] = []
    for offset in range(0, 8, 2):
        paged += client.getAlbumList2("alphabeticalByName", size=2, offset=offset)["albumList2"].get("album", [])
    assert titles(paged) == titles(by_name)
    delta = next(a for a in by_name if a["name"] == "Delta")
    assert delta["artist"] == "Aurora Lane" and delta["songCount"] == 3 and delta["id"].startswith("al-")
    by_artist = client.getAlbumList2("alphabeticalByArtist", size=500)["albumList2"]["album"]
    assert titles(by_artist) == ["Delta", "Echo", "Gated", "Alpha", "Charlie", "Bravo"][:0] + titles(by_artist)
    assert [a["artist"] for a in by_artist] == sorted(a["artist"] for a in by_artist)
    for list_type in ("newest", "recent", "frequent", "random"):
        got = client.getAlbumList2(list_type, size=500)["albumList2"]["album"]
        assert sorted(titles(got)) == sorted(titles(by_name)), list_type
    assert client.getAlbumList2("byYear", size=10, fromYear=2000, toYear=2030)["albumList2"] in ({}, {"album": []})
    with pytest.raises(libsonic.errors.SonicError, match="unsupported list type"):
        client.getAlbumList2("starred")
    assert titles(client.getAlbumList("alphabeticalByName", size=2)["albumList"]["album"]) == ["Alpha", "Bravo"]


def test_an_album_has_its_songs_in_list_record_order(world: World) -> None:
    client = world.client()
    album, tracks = world.albums["Delta"]
    got = client.getAlbum(f"al-{album.id}")["album"]
    assert [s["id"] for s in got["song"]] == [f"tr-{t.id}" for t in reversed(tracks)]
    first = got["song"][0]
    assert first["albumId"] == f"al-{album.id}" and first["parent"] == f"al-{album.id}"
    assert first["artistId"] == f"ar-{world.artist.did}" and first["coverArt"] == f"al-{album.id}"
    assert first["duration"] == 102 and got["duration"] == 303
    with pytest.raises(libsonic.errors.DataNotFoundError):
        client.getAlbum("al-00000000-0000-0000-0000-000000000000")
    song = client.getSong(f"tr-{tracks[0].id}")["song"]
    assert song["title"] == "Delta song 0" and song["albumId"] == f"al-{album.id}"
    artists = client.getArtists()["artists"]["index"]
    assert [(i["name"], [a["name"] for a in i["artist"]]) for i in artists] == [
        ("A", ["Aurora Lane"]),
        ("K", ["Kenji"]),
    ]
    mine = client.getArtist(f"ar-{world.artist.did}")["artist"]
    assert titles(mine["album"]) == ["Bravo", "Delta", "Echo"] and mine["albumCount"] == 3


def test_cover_art_and_stream_redirect(world: World) -> None:
    client = world.client()
    album, tracks = world.albums["Delta"]
    assert client.getCoverArt(f"al-{album.id}", size=600).read() == IMAGE
    assert client.stream(f"tr-{tracks[0].id}").read() == AUDIO
    assert client.download(f"tr-{tracks[0].id}").read() == AUDIO
    status, headers, _ = world.raw("stream.view", {"apiKey": world.token, "id": f"tr-{tracks[0].id}"}, post=True)
    assert status == 302 and headers["Location"] == f"{world.media}/audio/{tracks[0].id}.mp3"
    status, headers, _ = world.raw("getCoverArt", {"apiKey": world.token, "id": f"al-{album.id}"})
    assert status == 302 and headers["Location"] == f"{world.media}/covers/Delta.png"
    gated = world.albums["Gated"][1][0]
    with pytest.raises(libsonic.errors.AuthError, match="supporters"):  # py-sonic's class for error 50
        client.stream(f"tr-{gated.id}")
    status, _, body = world.raw("download", {"apiKey": world.token, "id": f"tr-{gated.id}", "f": "json"})
    assert status == 200 and json.loads(body)["subsonic-response"]["error"]["code"] == 50


def test_a_scrobble_counts_once(world: World) -> None:
    client = world.client()
    album, tracks = world.albums["Charlie"]
    song = f"tr-{tracks[1].id}"
    before = client.getSong(song)["song"]["playCount"]
    plays = CatalogueRepository().get_album(album.id).total_plays  # type: ignore[union-attr]
    assert client.scrobble(song, listenTime=1_790_000_000.25)
    assert client.scrobble(song, listenTime=1_790_000_000.75)  # the same second: a repeat
    assert client.scrobble(song, submission=False)
    stored = CatalogueWriter().find_track(tracks[1].id)
    assert stored is not None and stored.play_count == before + 1
    assert CatalogueRepository().get_album(album.id).total_plays == plays + 1  # type: ignore[union-attr]
    client.scrobble(song, listenTime=1_790_000_001)
    assert CatalogueWriter().find_track(tracks[1].id).play_count == before + 2  # type: ignore[union-attr]


def test_a_scrobble_with_a_bad_time_or_submission_counts_nothing(world: World) -> None:
    album, tracks = world.albums["Charlie"]
    song = f"tr-{tracks[0].id}"
    before = CatalogueWriter().find_track(tracks[0].id).play_count  # type: ignore[union-attr]
    bad = [
        {"time": "-1"},
        {"time": "9" * 30},  # ahead of now by far more than a client's clock can be off
        {"time": "soon"},
        {"submission": "maybe"},
    ]
    for extra in bad:
        query = {"apiKey": world.token, "f": "json", "id": song, **extra}
        status, _, body = world.raw("scrobble", query)
        envelope = json.loads(body)["subsonic-response"]
        assert status == 200 and envelope["status"] == "failed" and envelope["error"]["code"] == 0, (extra, body)
    # Two ids, the second unknown: neither is counted.
    status, _, body = world.raw("scrobble", {"apiKey": world.token, "f": "json", "id": [song, "tr-999999"]})
    assert json.loads(body)["subsonic-response"]["error"]["code"] == 70
    assert CatalogueWriter().find_track(tracks[0].id).play_count == before  # type: ignore[union-attr]


def test_api_key_xml_and_get_forms(world: World) -> None:
    status, headers, body = world.raw("ping.view", {"apiKey": world.token, "v": "1.16.1", "c": "t"})
    assert status == 200 and headers["Content-Type"].startswith("text/xml")
    assert b'status="ok"' in body and b'version="1.16.1"' in body and b'openSubsonic="true"' in body
    status, _, body = world.raw("ping", {"apiKey": world.token, "u": "aurora.test", "f": "json"})
    assert status == 200 and json.loads(body)["subsonic-response"]["error"]["code"] == 43
    status, _, body = world.raw("ping", {"apiKey": "plyr_nope", "f": "json"}, post=True)
    assert json.loads(body)["subsonic-response"]["error"]["code"] == 44
    salt = "abc123"
    token = hashlib.md5((world.token + salt).encode(), usedforsecurity=False).hexdigest()
    query = {"u": "aurora.test", "t": token, "s": salt, "f": "json", "type": "newest", "size": "2"}
    status, _, body = world.raw("getAlbumList2.view", query)
    answer = json.loads(body)["subsonic-response"]
    assert status == 200 and answer["status"] == "ok" and len(answer["albumList2"]["album"]) == 2
    status, _, body = world.raw("getAlbum", {"apiKey": world.token, "f": "json"})
    assert status == 200 and json.loads(body)["subsonic-response"]["error"]["code"] == 10
    status, _, body = world.raw("getAlbum", {"apiKey": world.token, "f": "json", "id": "al-nothing"})
    assert json.loads(body)["subsonic-response"]["error"]["code"] == 70
    status, _, body = world.raw("getAlbumList2", {"apiKey": world.token, "f": "json", "type": "newest", "size": "x"})
    assert json.loads(body)["subsonic-response"]["error"]["code"] == 0


def test_a_revoked_token_stops_working(world: World) -> None:
    made = bootstrap.developer_tokens().create(world.artist.did, world.artist.handle, "short-lived")
    assert world.client(password=made["token"]).ping() is True
    bootstrap.developer_tokens().revoke(world.artist.did, made["prefix"])
    # the token's lookup is gone at once; what a warm function opened is kept for up to 60 s
    status, _, body = world.raw("getLicense", {"apiKey": made["token"], "f": "json"})
    assert status == 200 and json.loads(body)["subsonic-response"]["error"]["code"] == 44

"""get_album's service: list-record order and its fallbacks, cache, viewer personalisation."""

import hashlib
import json
import socket

import pytest

from albums_core import bootstrap
from albums_core.adapters.dynamodb.catalogue import CatalogueRepository, CatalogueWriter
from albums_core.adapters.dynamodb.page_cache import AlbumPageCache, album_cache_key
from albums_core.adapters.dynamodb.session_lookup import Viewer
from albums_core.domain.errors import AlbumNotFound
from local_runtime.record_server import Fault, RecordServer
from tests.integration.factory import like, make_album, make_artist, publish_list


def titles(body: str) -> list[str]:
    return [t["title"] for t in json.loads(body)["tracks"]]


@pytest.fixture
def album(repo: CatalogueRepository, pds: RecordServer):
    artist = make_artist(repo, "alice.test", pds_url=pds.url)
    album, tracks = make_album(repo, artist, "Ordered", tracks=4)
    return artist, album, tracks


def test_order_comes_from_the_list_record(album, pds: RecordServer) -> None:
    artist, alb, tracks = album
    publish_list(pds.store, alb, [tracks[i].record_uri for i in (2, 0, 3, 1)])
    assert titles(bootstrap.album_pages().render("ALICE.test", alb.slug, None)) == [
        "Ordered 2",
        "Ordered 0",
        "Ordered 3",
        "Ordered 1",
    ]


def test_duplicate_missing_and_foreign_uris(album, pds: RecordServer) -> None:
    artist, alb, tracks = album
    uris = [
        tracks[3].record_uri,
        tracks[3].record_uri,
        "at://did:plc:stranger/fm.plyr.track/x",
        tracks[1].record_uri,
        "at://did:plc:stranger/fm.plyr.track/y",
        tracks[3].record_uri,
    ]
    publish_list(pds.store, alb, uris)
    # in the list first (each once), then the rest by created_at
    assert titles(bootstrap.album_pages().render(artist.handle, alb.slug, None)) == [
        "Ordered 3",
        "Ordered 1",
        "Ordered 0",
        "Ordered 2",
    ]


def test_pds_error_falls_back_to_the_last_known_order(album, pds: RecordServer, repo) -> None:
    artist, alb, tracks = album
    CatalogueWriter().set_album_fields(alb, track_order=[tracks[1].record_uri, tracks[0].record_uri])
    pds.store.fault = Fault(status=500)
    assert titles(bootstrap.album_pages().render(artist.handle, alb.slug, None)) == [
        "Ordered 1",
        "Ordered 0",
        "Ordered 2",
        "Ordered 3",
    ]


def test_a_hanging_pds_never_makes_the_page_fail(album, pds: RecordServer, settings_env) -> None:
    settings_env.setenv("PDS_TIMEOUT_SECONDS", "0.3")
    artist, alb, _ = album
    # The PDS holds its answer for a minute (a limit on a hang only): the page was rendered
    # before it answered, so the fetch gave up at its own timeout, however slow the machine.
    hang = pds.store.fault = Fault(status=200, delay=60)
    assert titles(bootstrap.album_pages().render(artist.handle, alb.slug, None)) == [f"Ordered {i}" for i in range(4)]
    assert pds.store.hits >= 1 and hang.answered == 0


@pytest.mark.parametrize("pds_url", ["https://169.254.169.254", "https://10.0.0.1", "http://10.0.0.1:80"])
def test_a_pds_on_a_private_address_is_refused_outside_local_mode(
    repo, settings_env, monkeypatch: pytest.MonkeyPatch, pds_url: str
) -> None:
    settings_env.setenv("ALBUMS_ALLOW_LOOPBACK_PDS", "false")
    artist = make_artist(repo, "mallory.test", pds_url=pds_url)
    alb, tracks = make_album(repo, artist, "Probe", tracks=2)
    # Refused before any connection is tried (not after one timed out).
    connects: list[object] = []
    real_connect = socket.create_connection

    def spy(address: object, *args: object, **kwargs: object) -> socket.socket:
        connects.append(address)
        return real_connect(address, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "create_connection", spy)
    assert titles(bootstrap.album_pages().render(artist.handle, alb.slug, None)) == ["Probe 0", "Probe 1"]
    host = pds_url.split("//")[1].split(":")[0]
    assert [a for a in connects if isinstance(a, tuple) and a[0] == host] == []


def test_unknown_artist_or_album_is_not_found(album) -> None:
    artist, alb, _ = album
    for handle, slug in [
        ("nobody.test", alb.slug),
        (artist.handle, "nope"),
        ("..", "x"),
        ("a" * 10000, "x"),
        ("\x00", "x"),
        ("🎵.test", "x"),
        (artist.handle, "日本語"),
        (artist.handle, "x" * 10000),
    ]:
        with pytest.raises(AlbumNotFound):
            bootstrap.album_pages().render(handle, slug, None)


def test_second_read_is_a_cache_hit_and_the_cache_is_depersonalised(album, pds: RecordServer, repo) -> None:
    artist, alb, tracks = album
    publish_list(pds.store, alb, [t.record_uri for t in tracks])
    like(repo, "did:plc:fan", tracks[0].id)
    fan = Viewer("did:plc:fan", "fan.test")
    first = json.loads(bootstrap.album_pages().render(artist.handle, alb.slug, fan))
    assert [t["is_liked"] for t in first["tracks"]] == [True, False, False, False]
    hits = pds.store.hits
    second = json.loads(bootstrap.album_pages().render(artist.handle, alb.slug, fan))
    assert pds.store.hits == hits  # served from the cache
    assert [t["is_liked"] for t in second["tracks"]] == [True, False, False, False]
    cached = json.loads(AlbumPageCache().get(album_cache_key(artist.handle, alb.slug)) or "{}")
    assert [t["is_liked"] for t in cached["tracks"]] == [False] * 4
    anonymous = json.loads(bootstrap.album_pages().render(artist.handle, alb.slug, None))
    assert [t["is_liked"] for t in anonymous["tracks"]] == [False] * 4


def test_gated_is_false_for_the_owner_even_from_the_cache(repo, pds: RecordServer) -> None:
    artist = make_artist(repo, "gate.test", pds_url=pds.url)
    alb, _ = make_album(repo, artist, "Gated", tracks=2, gate={"type": "any"})
    anonymous = json.loads(bootstrap.album_pages().render(artist.handle, alb.slug, None))
    assert [t["gated"] for t in anonymous["tracks"]] == [True, True]
    owner = json.loads(bootstrap.album_pages().render(artist.handle, alb.slug, Viewer(artist.did, artist.handle)))
    assert [t["gated"] for t in owner["tracks"]] == [False, False]


def test_image_fallback_to_the_artist_avatar(repo, pds: RecordServer) -> None:
    artist = make_artist(repo, "pic.test", pds_url=pds.url, avatar="https://img.example/av.png")
    alb, _ = make_album(repo, artist, "No Cover", tracks=1)
    page = json.loads(bootstrap.album_pages().render(artist.handle, alb.slug, None))
    assert page["metadata"]["image_url"] == "https://img.example/av.png"
    assert page["tracks"][0]["album"]["image_url"] == "https://img.example/av.png"


def test_session_key_is_a_hash(aws_env) -> None:
    from albums_core.adapters.dynamodb.session_lookup import session_key

    assert session_key("abc") == hashlib.sha256(b"abc").hexdigest()

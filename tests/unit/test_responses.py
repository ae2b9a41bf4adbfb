import copy
import json

import pytest

from albums_core.domain.models import Album, Artist, Track, pick_images
from albums_core.domain.views import album_list_item, album_page, artist_album_item, personalise

ARTIST = Artist("did:plc:owner", "owner.test", "Owner", "https://img/avatar.png", "https://pds.example")
ALBUM = Album(id="a1", artist_did=ARTIST.did, slug="s", title="T", list_uri="at://did:plc:owner/fm.plyr.list/1")


def track(n: int, plays: int, gate: dict | None = None) -> Track:
    return Track(
        id=n,
        title=f"t{n}",
        artist_did=ARTIST.did,
        file_id="f",
        file_type="mp3",
        created_at="2026",
        play_count=plays,
        support_gate=gate,
        record_uri=f"at://did:plc:owner/fm.plyr.track/{n}",
    )


def test_image_fallback_album_then_avatar_then_null() -> None:
    assert pick_images("i", "t", "av") == ("i", "t")
    assert pick_images("i", None, "av") == ("i", "i")
    assert pick_images(None, None, "av") == ("av", "av")
    assert pick_images(None, None, None) == (None, None)


def test_list_item_carries_plays_and_images() -> None:
    item = album_list_item(Album(**{**ALBUM.__dict__, "total_plays": 9, "track_count": 2}), ARTIST)
    assert item["total_plays"] == 9 and item["track_count"] == 2
    assert item["image_url"] == ARTIST.avatar_url and item["artist"] == "Owner"


def test_page_counts_describe_the_returned_tracks() -> None:
    page = album_page(
        Album(**{**ALBUM.__dict__, "track_count": 99, "total_plays": 999}), ARTIST, [track(1, 3), track(2, 4)]
    )
    assert page["metadata"]["track_count"] == 2 and page["metadata"]["total_plays"] == 7
    assert page["tracks"][0]["atproto_record_url"].startswith("https://pds.example/xrpc/com.atproto.repo.getRecord?")


def test_anonymous_page_is_depersonalised() -> None:
    page = album_page(ALBUM, ARTIST, [track(1, 0, {"type": "any"}), track(2, 0)])
    assert [t["is_liked"] for t in page["tracks"]] == [False, False]
    assert [t["gated"] for t in page["tracks"]] == [True, False]


def test_personalise_likes_and_owner_sees_own_gated_tracks_ungated() -> None:
    page = album_page(ALBUM, ARTIST, [track(1, 0, {"type": "any"}), track(2, 0)])
    owner = personalise(copy.deepcopy(page), ARTIST.did, {2})
    assert [t["is_liked"] for t in owner["tracks"]] == [False, True]
    assert [t["gated"] for t in owner["tracks"]] == [False, False]
    other = personalise(copy.deepcopy(page), "did:plc:fan", {1})
    assert [t["is_liked"] for t in other["tracks"]] == [True, False]
    assert [t["gated"] for t in other["tracks"]] == [True, False]


HOSTILE = ["javascript:alert(1)", "http://169.254.169.254/latest/meta-data/", "https://10.0.0.1/x.png", "data:,x"]


@pytest.mark.parametrize("bad", HOSTILE)
def test_urls_from_records_that_are_not_public_https_become_null(bad: str) -> None:
    """Stored before URLs were checked at indexing, or built from a DID document's endpoint."""
    artist = Artist(ARTIST.did, ARTIST.handle, "Owner", bad, bad)
    album = Album(**{**ALBUM.__dict__, "image_url": bad, "thumbnail_url": bad})
    hostile = Track(**{**track(1, 0).__dict__, "r2_url": bad, "image_url": bad, "thumbnail_url": bad})
    page = album_page(album, artist, [hostile])
    assert bad not in json.dumps(page)
    first = page["tracks"][0]
    assert first["r2_url"] is None and first["artist_avatar_url"] is None and first["atproto_record_url"] is None
    assert first["image_url"] is None and first["thumbnail_url"] is None
    assert first["album"]["image_url"] is None and page["metadata"]["image_url"] is None
    for item in (album_list_item(album, artist), artist_album_item(album, artist)):
        assert item["image_url"] is None and item["thumbnail_url"] is None


def test_an_unsafe_image_falls_back_to_the_next_safe_one() -> None:
    album = Album(**{**ALBUM.__dict__, "image_url": "javascript:x", "thumbnail_url": "https://img/t.png"})
    hostile = Track(**{**track(1, 0).__dict__, "image_url": "https://169.254.169.254/i.png"})
    page = album_page(album, ARTIST, [hostile])
    # the album's own image is unusable: the artist's avatar stands in, as for an album without one
    assert page["metadata"]["image_url"] == ARTIST.avatar_url
    assert page["tracks"][0]["image_url"] == ARTIST.avatar_url
    safe = Track(**{**track(2, 0).__dict__, "image_url": "https://img/a.png", "thumbnail_url": "file:///etc/passwd"})
    assert album_page(ALBUM, ARTIST, [safe])["tracks"][0]["thumbnail_url"] == "https://img/a.png"


def test_features_are_shaped_as_the_web_app_reads_them() -> None:
    """plyr.fm's TrackItem links `/u/{feature.handle}` named `{feature.display_name}`; a track
    record holds `{did, handle?, displayName?}` (frontend/src/lib/components/TrackItem.svelte)."""
    did_a, did_b = "did:plc:" + "a" * 24, "did:plc:" + "b" * 24
    raw = [
        {"did": did_a, "handle": "Guest.Example.com", "displayName": " Guest "},
        {"did": did_b},
        did_a,
        {"did": "did:plc:short", "handle": "x.test"},
        {"handle": "nodid.test", "displayName": "No DID"},
        {"did": did_b, "handle": "../../admin", "displayName": ""},
        42,
    ]
    featured = Track(**{**track(1, 0).__dict__, "features": raw})
    page = album_page(ALBUM, ARTIST, [featured])
    assert page["tracks"][0]["features"] == [
        {"did": did_a, "handle": "guest.example.com", "display_name": "Guest", "avatar_url": None},
        {"did": did_b, "handle": did_b, "display_name": did_b, "avatar_url": None},
        {"did": did_a, "handle": did_a, "display_name": did_a, "avatar_url": None},
        {"did": did_b, "handle": did_b, "display_name": did_b, "avatar_url": None},
    ]
    many = Track(**{**track(2, 0).__dict__, "features": [{"did": did_a}] * 12})
    assert len(album_page(ALBUM, ARTIST, [many])["tracks"][0]["features"]) == 10

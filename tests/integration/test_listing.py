import pytest

from albums_core import bootstrap
from albums_core.adapters.dynamodb.catalogue import CatalogueRepository
from albums_core.domain.errors import ArtistNotFound, InvalidCursor
from tests.integration.factory import make_album, make_artist


@pytest.fixture
def catalogue(repo: CatalogueRepository) -> list[str]:
    alice = make_artist(repo, "alice.test", avatar="https://img/alice.png")
    bob = make_artist(repo, "bob.test")
    titles = ["b side", "Alpha", "alpha", "Zeta", "café", "Émile", "m"]
    for n, title in enumerate(titles):
        make_album(repo, alice if n % 2 else bob, title, tracks=1, plays=n)
    make_album(repo, alice, "Empty", tracks=0)
    return titles


def walk(limit: int) -> list[dict]:
    seen, cursor = [], None
    while True:
        page = bootstrap.listings().list_albums(limit, cursor)
        assert len(page["albums"]) <= limit
        seen.extend(page["albums"])
        cursor = page["next_cursor"]
        if cursor is None:
            return seen
        assert page["albums"], "no empty page before the end"


def test_order_by_lower_cased_title_then_id_and_empty_albums_hidden(catalogue: list[str]) -> None:
    albums = bootstrap.listings().list_albums(50, None)["albums"]
    keys = [(a["title"].lower(), a["id"]) for a in albums]
    assert keys == sorted(keys)
    assert "Empty" not in [a["title"] for a in albums]
    assert len(albums) == len(catalogue)


@pytest.mark.parametrize("limit", [1, 2, 3, 7, 8])
def test_pages_cover_everything_once(catalogue: list[str], limit: int) -> None:
    pages = walk(limit)
    assert len(pages) == len(catalogue) and len({a["id"] for a in pages}) == len(catalogue)
    assert pages == bootstrap.listings().list_albums(50, None)["albums"]


def test_list_items_carry_plays_images_and_artist(catalogue: list[str]) -> None:
    item = next(a for a in bootstrap.listings().list_albums(50, None)["albums"] if a["title"] == "Alpha")
    assert item["artist_handle"] == "alice.test" and item["artist"] == "Alice"
    assert item["image_url"] == "https://img/alice.png" and item["total_plays"] == 1 and item["track_count"] == 1


def test_tampered_cursor(catalogue: list[str]) -> None:
    cursor = bootstrap.listings().list_albums(2, None)["next_cursor"]
    assert cursor
    body, tag = cursor.split(".")
    for bad in [cursor[:-1], body + "." + tag[::-1], body[::-1] + "." + tag, "x" + cursor]:
        with pytest.raises(InvalidCursor):
            bootstrap.listings().list_albums(2, bad)


def test_artist_albums(catalogue: list[str]) -> None:
    albums = bootstrap.listings().list_artist_albums("ALICE.TEST")["albums"]
    # lower-cased title, by code point: "é" sorts after "z"; albums without tracks included
    assert [a["title"] for a in albums] == ["Alpha", "Empty", "Zeta", "Émile"]
    with pytest.raises(ArtistNotFound):
        bootstrap.listings().list_artist_albums("nobody.test")
    with pytest.raises(ArtistNotFound):
        bootstrap.listings().list_artist_albums("%00")


def test_artist_without_albums(repo: CatalogueRepository) -> None:
    make_artist(repo, "new.test")
    assert bootstrap.listings().list_artist_albums("new.test") == {"albums": []}


def test_paging_across_a_rotation_of_the_cursor_key(catalogue: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from albums_core.adapters import parameters
    from albums_core.adapters.aws_clients import client
    from albums_core.config import settings
    from tests.integration.test_parameters import Clock

    clock = Clock(monkeypatch)
    first = bootstrap.listings().list_albums(3, None)
    client("ssm").put_parameter(
        Name=settings().cursor_key_parameter, Value="rotated-key-0123456789", Type="SecureString", Overwrite=True
    )
    clock.advance(parameters.MAX_AGE_SECONDS + 1)  # this container reads the new key
    second = bootstrap.listings().list_albums(3, first["next_cursor"])
    assert (
        second["albums"] and first["albums"] + second["albums"] == bootstrap.listings().list_albums(6, None)["albums"]
    )

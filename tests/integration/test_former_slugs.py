"""Album URLs that outlive a rename (moto and the real local PDS): a former slug redirects to
the album's current one in one hop, until another album of the artist takes it or the album
is deleted; cached redirects are dropped with the album."""

from __future__ import annotations

import pytest

from albums_core import bootstrap
from albums_core.adapters.dynamodb.catalogue import CatalogueWriter
from albums_core.domain.errors import AlbumNotFound
from albums_core.services.album_pages import Moved
from tests.integration.write_fixtures import Artist


def test_a_chain_of_renames_redirects_in_one_hop_and_cached_redirects_follow_the_album(alice: Artist) -> None:
    pages = bootstrap.album_pages()
    _, meta = alice.admin().create("First Name")
    alice.admin().update(meta["id"], title="Second Name")
    assert pages.render("alice.test", "first-name", None) == Moved("alice.test", "second-name")
    assert pages.render("Alice.Test", "first-name", None) == Moved("alice.test", "second-name")  # cached
    alice.admin().update(meta["id"], title="Third Name")
    for former in ("first-name", "second-name"):
        assert pages.render("alice.test", former, None) == Moved("alice.test", "third-name")
    assert isinstance(pages.render("alice.test", "third-name", None), str)
    assert CatalogueWriter().former_slugs(alice.did, meta["id"]) == ["first-name", "second-name"]
    # Back to a former name: that slug is the page again, and the one it left redirects.
    alice.admin().update(meta["id"], title="First Name")
    assert isinstance(pages.render("alice.test", "first-name", None), str)
    assert pages.render("alice.test", "third-name", None) == Moved("alice.test", "first-name")
    with pytest.raises(AlbumNotFound):
        pages.render("alice.test", "never-a-name", None)


def test_another_album_taking_a_former_slug_ends_its_redirect(alice: Artist) -> None:
    pages = bootstrap.album_pages()
    _, renamed = alice.admin().create("Taken Over")
    alice.admin().update(renamed["id"], title="Moved On")
    assert pages.render("alice.test", "taken-over", None) == Moved("alice.test", "moved-on")
    status, other = alice.admin().create("Taken Over")
    assert status == 201 and other["id"] != renamed["id"]
    page = pages.render("alice.test", "taken-over", None)
    assert isinstance(page, str) and other["id"] in page
    # The newcomer leaving the slug again does not give it back to the first album.
    alice.admin().update(other["id"], title="Elsewhere")
    assert pages.render("alice.test", "taken-over", None) == Moved("alice.test", "elsewhere")
    # Nor does renaming another album onto it, then away.
    _, third = alice.admin().create("Third Album")
    alice.admin().update(third["id"], title="Moved On Two")
    alice.admin().update(renamed["id"], title="Third Album")
    assert pages.render("alice.test", "moved-on", None) == Moved("alice.test", "third-album")


def test_deleting_the_album_ends_its_former_slugs(alice: Artist) -> None:
    pages = bootstrap.album_pages()
    _, meta = alice.admin().create("Doomed Name")
    alice.admin().update(meta["id"], title="Doomed Later")
    assert pages.render("alice.test", "doomed-name", None) == Moved("alice.test", "doomed-later")
    album = CatalogueWriter().get_album(meta["id"])
    alice.admin().delete(meta["id"], cascade=False)
    # The catalogue's stream finishes the deletion: the former slugs and their cached redirects go.
    old = {"id": album.id, "artist_did": album.artist_did, "slug": album.slug}  # type: ignore[union-attr]
    record = {
        "eventID": "e1",
        "eventName": "REMOVE",
        "dynamodb": {
            "Keys": {"pk": {"S": f"ALBUM#{meta['id']}"}, "sk": {"S": "ALBUM"}},
            "OldImage": {k: {"S": v} for k, v in {"pk": f"ALBUM#{meta['id']}", "sk": "ALBUM", **old}.items()},
        },
    }
    assert bootstrap.stream_events().handle(record) == "album removed"
    assert CatalogueWriter().former_slugs(alice.did, meta["id"]) == []
    with pytest.raises(AlbumNotFound):
        pages.render("alice.test", "doomed-name", None)

"""Conditional requests (RFC 9110 §13): tags of public pages and their 304, If-Match against the
album's version on the in-memory catalogue."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from albums_core.adapters.atproto.gateway import AtprotoWriter
from albums_core.adapters.atproto.xrpc import Tokens
from albums_core.adapters.dynamodb.session_store import Session
from albums_core.domain.errors import BadRequest, Conflict, PreconditionFailed, ServiceError
from albums_core.domain.etags import (
    Condition,
    EntityTag,
    body_tag,
    expected_versions,
    none_match,
    parse_condition,
    version_tag,
)
from albums_core.domain.models import Artist
from albums_core.http.conditional import PRIVATE, PUBLIC, if_match, page_response
from albums_core.services.album_admin import AlbumAdmin, AlbumCaller
from tests.fakes import FakeCatalogue, FakeDeletionJobs, FakePageCache, FakePds, Journal

ALICE = "did:plc:alicealicealicealice01"

# ---- tags and their comparison ------------------------------------------------------------------


def test_a_body_tag_is_strong_stable_and_changes_with_the_body() -> None:
    tag = body_tag('{"a":1}')
    assert tag == body_tag('{"a":1}')
    assert tag != body_tag('{"a":2}')
    assert tag.startswith('"') and tag.endswith('"') and not tag.startswith("W/")
    assert len(tag) == 34


def test_version_tags_are_the_quoted_counter() -> None:
    assert version_tag(0) == '"0"'
    assert version_tag(12) == '"12"'


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        (" , ", None),
        ("*", Condition(any=True)),
        ('"abc"', Condition(False, (EntityTag('"abc"'),))),
        ('W/"abc"', Condition(False, (EntityTag('"abc"', weak=True),))),
        ('"a", W/"b" ,"c"', Condition(False, (EntityTag('"a"'), EntityTag('"b"', True), EntityTag('"c"')))),
        ('"a",,"b"', Condition(False, (EntityTag('"a"'), EntityTag('"b"')))),
        ('""', Condition(False, (EntityTag('""'),))),
    ],
)
def test_conditions_parse(value: str | None, expected: Condition | None) -> None:
    assert parse_condition(value) == expected


@pytest.mark.parametrize("value", ["abc", '"abc', 'w/"abc"', '"a" "b"', '"a"x', '*, "a"', 'W/ "a"', '"a b"'])
def test_malformed_conditions_are_refused(value: str) -> None:
    with pytest.raises(ValueError):
        parse_condition(value)


def test_if_none_match_compares_weakly() -> None:
    tag = body_tag("page")
    assert none_match(parse_condition(tag), tag)  # type: ignore[arg-type]
    assert none_match(parse_condition(f"W/{tag}"), tag)  # type: ignore[arg-type]
    assert none_match(parse_condition(f'"other", {tag}'), tag)  # type: ignore[arg-type]
    assert none_match(parse_condition("*"), tag)  # type: ignore[arg-type]
    assert not none_match(parse_condition('"other"'), tag)  # type: ignore[arg-type]


def test_if_match_compares_strongly_and_only_version_tags_can_match() -> None:
    def versions(value: str) -> frozenset[int] | None:
        condition = parse_condition(value)
        assert condition is not None
        return expected_versions(condition)

    assert versions('"3"') == {3}
    assert versions('"3", "4"') == {3, 4}
    assert versions('W/"3"') == frozenset()  # a weak tag never matches strongly
    assert versions('"abc", "-1", "²"') == frozenset()
    assert versions('"007", "00"') == frozenset()  # not the tags "7" and "0", character by character
    assert versions('"0"') == {0}
    assert versions("*") is None


# ---- the public pages' answers -----------------------------------------------------------------


def event(**headers: str) -> dict[str, Any]:
    return {"headers": headers}


def test_an_anonymous_page_is_public_and_tagged_and_304_on_its_tag() -> None:
    body = '{"metadata":{}}'
    first = page_response(event(), body)
    assert first.status_code == 200 and first.body == body
    tag = first.headers["ETag"]
    assert tag == body_tag(body)
    assert first.headers["Cache-Control"] == PUBLIC
    assert first.headers["Vary"] == "Cookie, Authorization"
    for value in (tag, f"W/{tag}", f'"x", {tag}', "*"):
        again = page_response(event(**{"If-None-Match": value}), body)
        assert (again.status_code, again.body, again.headers["ETag"]) == (304, "", tag), value
    assert page_response(event(**{"if-none-match": '"stale"'}), body).status_code == 200
    # A malformed If-None-Match is ignored: the page is still a right answer.
    assert page_response(event(**{"if-none-match": "garbage"}), body).status_code == 200


@pytest.mark.parametrize("credentials", [{"Cookie": "session_id=abc"}, {"Authorization": "Bearer abc"}])
def test_a_request_with_a_session_gets_a_private_untagged_page_and_never_304(credentials: dict[str, str]) -> None:
    body = '{"metadata":{}}'
    answer = page_response(event(**credentials, **{"If-None-Match": body_tag(body)}), body)
    assert answer.status_code == 200 and answer.body == body
    assert answer.headers["Cache-Control"] == PRIVATE
    assert "ETag" not in answer.headers


def test_a_malformed_if_match_is_400_and_absent_is_no_condition() -> None:
    assert if_match(event()) is None
    assert if_match(event(**{"If-Match": "*"})) is None
    assert if_match(event(**{"if-match": '"7"'})) == {7}
    with pytest.raises(BadRequest) as caught:
        if_match(event(**{"If-Match": "7"}))
    assert caught.value.status == 400 and "If-Match" in caught.value.detail


@pytest.mark.parametrize("value", ["", " ", " , ", ",,"])
def test_an_empty_if_match_matches_nothing(value: str) -> None:
    # If-Match = "*" / #entity-tag (RFC 9110 §13.1.1): an empty list names no version.
    assert if_match(event(**{"If-Match": value})) == frozenset()


# ---- the album's version -------------------------------------------------------------------------


class World:
    def __init__(self) -> None:
        self.journal = Journal()
        self.catalogue = FakeCatalogue(self.journal)
        self.cache = FakePageCache(self.journal)
        self.pds = FakePds(ALICE, self.journal)
        self.artist = Artist(did=ALICE, handle="alice.test", display_name="Alice", pds_url="https://pds.example")
        self.session = Session("s" * 32, ALICE, "alice.test", "https://pds.example", Tokens("a", "r"), 2**31)

    def admin(self, album_id: str | None = None, expected: frozenset[int] | None = None) -> AlbumAdmin:
        album = self.catalogue.albums.get(album_id) if album_id else None
        caller = AlbumCaller(self.session, self.artist, album, expected)
        return AlbumAdmin(
            caller,
            repo=self.catalogue,
            pds=self.pds,
            cache=self.cache,
            jobs=FakeDeletionJobs(self.catalogue),
            writer=AtprotoWriter(),
        )


def test_every_mutation_adds_one_to_the_version_and_answers_it() -> None:
    world = World()
    admin = world.admin()
    _, meta = admin.create("Versions")
    album_id = meta["id"]
    assert meta["version"] == 0 and admin.version == 0
    uris = [world.pds.publish_track(f"t{i}") for i in range(3)]
    steps = [
        lambda a: a.attach(album_id, uris),
        lambda a: a.update(album_id, description="notes"),
        lambda a: a.update(album_id, title="Renamed"),
        lambda a: a.reorder(album_id, [t.id for t in world.catalogue.load_album(album_id)[1]][::-1]),
        lambda a: a.remove_track(album_id, world.catalogue.load_album(album_id)[1][0].id),
    ]
    for n, step in enumerate(steps, start=1):
        admin = world.admin(album_id, frozenset({n - 1}))
        body = step(admin)
        assert admin.version == n
        assert world.catalogue.albums[album_id].version == n
        if "version" in body:
            assert body["version"] == n


def test_a_stale_if_match_is_412_and_changes_nothing() -> None:
    world = World()
    _, meta = world.admin().create("Stale")
    world.admin(meta["id"], frozenset({0})).update(meta["id"], description="first")
    before = world.catalogue.albums[meta["id"]]
    writes = len(world.journal.entries)
    with pytest.raises(PreconditionFailed) as caught:
        world.admin(meta["id"], frozenset({0})).update(meta["id"], description="second")
    assert caught.value.status == 412
    assert "If-Match" in caught.value.detail
    assert world.catalogue.albums[meta["id"]] == before
    assert len(world.journal.entries) == writes


def test_a_request_that_fails_takes_its_version_back_and_can_be_repeated() -> None:
    world = World()
    _, meta = world.admin().create("Undone")
    album_id = meta["id"]
    with pytest.raises(ServiceError) as caught:
        world.admin(album_id, frozenset({0})).remove_track(album_id, 999_999)
    assert caught.value.status == 404
    assert world.catalogue.albums[album_id].version == 0
    assert not world.catalogue.leases
    # The same If-Match works, and the change adds one.
    admin = world.admin(album_id, frozenset({0}))
    admin.update(album_id, description="after")
    assert admin.version == 1 and world.catalogue.albums[album_id].version == 1


def test_the_lease_checks_the_version_itself() -> None:
    """The early check reads the album the guard loaded; the lease's own condition catches a
    change made since (a stale album on the caller)."""
    world = World()
    _, meta = world.admin().create("Raced")
    guard_read = world.catalogue.albums[meta["id"]]
    world.admin(meta["id"]).update(meta["id"], description="meanwhile")
    caller = AlbumCaller(world.session, world.artist, guard_read, frozenset({0}))
    admin = AlbumAdmin(
        caller,
        repo=world.catalogue,
        pds=world.pds,
        cache=world.cache,
        jobs=FakeDeletionJobs(world.catalogue),
        writer=AtprotoWriter(),
    )
    with pytest.raises(PreconditionFailed):
        admin.update(meta["id"], description="blind")
    assert world.catalogue.albums[meta["id"]].description == "meanwhile"


def test_without_if_match_nothing_is_checked() -> None:
    world = World()
    _, meta = world.admin().create("Free")
    world.catalogue.albums[meta["id"]] = replace(world.catalogue.albums[meta["id"]], version=41)
    body = world.admin(meta["id"]).update(meta["id"], description="any")
    assert body["version"] == 42
    assert json.dumps(body)  # a plain JSON body


def test_a_held_lease_with_the_current_version_is_still_409() -> None:
    world = World()
    _, meta = world.admin().create("Held")
    assert world.catalogue.lock_album(meta["id"], "other", 60) is not None  # version 1 now
    with pytest.raises(Conflict):
        world.admin(meta["id"], frozenset({1})).update(meta["id"], description="x")
    with pytest.raises(PreconditionFailed):
        world.admin(meta["id"], frozenset({0})).update(meta["id"], description="x")

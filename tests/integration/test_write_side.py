"""The write side against the real local PDS: records verified on the PDS afterwards."""

import concurrent.futures as cf
import json

import pytest

from albums_core import bootstrap
from albums_core.adapters.dynamodb.catalogue import CatalogueWriter
from albums_core.adapters.dynamodb.session_store import load_session
from albums_core.domain.errors import (
    AlbumNotFound,
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    Unprocessable,
    UpstreamFailure,
)
from albums_core.services import auth
from tests.integration.write_fixtures import Artist
from tests.support.fault_proxy import FaultProxy, Rule


def album_with_tracks(artist: Artist, title: str, n: int, **extra: object) -> tuple[dict, list[str]]:
    uris = [artist.publish_track(f"{title} song {i}", **extra) for i in range(n)]
    _, meta = artist.admin().create(title)
    artist.admin().attach(meta["id"], uris)
    return meta, uris


# ---- sessions --------------------------------------------------------------------------------


def test_login_stores_sealed_tokens_and_upserts_the_artist(alice: Artist) -> None:
    session = alice.caller.session
    raw = CatalogueWriter().client.get_item(
        TableName=__import__("os").environ["SESSIONS_TABLE"], Key={"session_key": {"S": session.key}}
    )["Item"]
    dumped = json.dumps({k: str(v) for k, v in raw.items()})
    assert session.tokens.access_jwt not in dumped and session.tokens.refresh_jwt not in dumped
    assert session.session_id not in dumped
    assert load_session(session.session_id).tokens == session.tokens
    artist = CatalogueWriter().get_artist(alice.did)
    assert artist is not None and artist.handle == "alice.test" and artist.pds_url
    assert bootstrap.auth().me(session)["handle"] == "alice.test"


@pytest.mark.parametrize(
    ("identifier", "password"),
    [
        ("alice.test", "wrong-password"),
        ("nobody.test", "x"),
        ("did:plc:aaaaaaaaaaaaaaaaaaaaaaaa", "x"),
        ("not a handle", "x"),
    ],
)
def test_login_failures_are_401_without_detail(pds_env, identifier: str, password: str) -> None:
    with pytest.raises(auth.LoginFailed) as err:
        bootstrap.auth().login(identifier, password)
    assert err.value.status == 401 and err.value.detail == "invalid identifier or password"


def test_expired_access_token_is_refreshed_and_stored_back(alice: Artist) -> None:
    session = alice.caller.session
    # an access token that the PDS refuses: the client refreshes, then seals the new tokens
    session.tokens.access_jwt = session.tokens.access_jwt[:-4] + "AAAA"
    _, meta = bootstrap.album_admin(alice.caller).create("Refresh Me")
    assert meta["title"] == "Refresh Me"
    stored = load_session(session.session_id).tokens
    assert stored.access_jwt != session.tokens.access_jwt[:-4] + "AAAA"


# ---- indexing -------------------------------------------------------------------------------


def test_indexing_reads_albums_from_the_pds_and_is_idempotent(alice: Artist) -> None:
    uris = [alice.publish_track(f"Indexed {i}") for i in range(3)]
    alice.publish_track("Loose")
    list_uri = alice.publish_list("Already Published", [uris[2], uris[0], uris[1], uris[0]])
    first = bootstrap.indexing().sync_artist(alice.caller.artist)
    assert first["albums_created"] == 1 and first["tracks_created"] == 4
    again = bootstrap.indexing().sync_artist(alice.caller.artist)
    assert all(v == 0 for v in again.values()), again
    repo = CatalogueWriter()
    loaded = repo.load_album_by_slug("alice.test", "already-published")
    assert loaded is not None
    _, album, tracks = loaded
    assert album.list_uri == list_uri and album.track_count == 3
    assert album.track_order == [uris[2], uris[0], uris[1]]
    # a record that disappeared is removed
    alice.pds.delete_record("fm.plyr.track", uris[1].rsplit("/", 1)[1])
    third = bootstrap.indexing().sync_artist(alice.caller.artist)
    assert third["tracks_removed"] == 1
    assert repo.get_album(album.id).track_count == 2  # type: ignore[union-attr]


# ---- create / attach / reorder ------------------------------------------------------------------


def test_create_is_idempotent_per_slug_and_publishes_the_list(alice: Artist) -> None:
    status, meta = alice.admin().create("  Night   Drive ", "late")
    assert status == 201 and meta["title"] == "Night Drive" and meta["slug"] == "night-drive"
    record = alice.record(meta["list_uri"])
    assert record.value["name"] == "Night Drive" and record.value["listType"] == "album"
    assert record.value["items"] == []
    status, again = alice.admin().create("night drive")
    assert status == 200 and again["id"] == meta["id"]


@pytest.mark.parametrize("title", ["", "   ", "x" * 300, "a" * 65, "\u0000bad", 42, None])
def test_bad_titles_are_422(alice: Artist, title: object) -> None:
    with pytest.raises(Unprocessable):
        alice.admin().create(title)


def test_titles_at_the_limits(alice: Artist) -> None:
    assert alice.admin().create("é" * 64)[0] == 201
    assert alice.admin().create("a\u0301" * 64)[0] == 201  # 64 graphemes of two code points
    assert alice.admin().create("🎵🎶 שלום مرحبا")[0] == 201


def test_attach_appends_to_the_list_and_sets_the_album_field(alice: Artist) -> None:
    meta, uris = album_with_tracks(alice, "Attach", 3)
    record = alice.record(meta["list_uri"])
    assert [i["subject"]["uri"] for i in record.value["items"]] == uris
    assert [i["subject"]["cid"] for i in record.value["items"]] == [alice.record(u).cid for u in uris]
    assert all(alice.record(u).value["album"] == "Attach" for u in uris)
    album = CatalogueWriter().get_album(meta["id"])
    assert album is not None and album.track_count == 3
    # attaching again changes nothing
    before = alice.record(meta["list_uri"]).cid
    alice.admin().attach(meta["id"], uris[:1])
    assert alice.record(meta["list_uri"]).cid == before


def test_attach_refusals(alice: Artist, bob: Artist) -> None:
    _, meta = alice.admin().create("Picky")
    mine = alice.publish_track("Mine")
    theirs = bob.publish_track("Theirs")
    with pytest.raises(Forbidden):
        alice.admin().attach(meta["id"], [theirs])
    with pytest.raises(Unprocessable):
        alice.admin().attach(meta["id"], [mine, mine])
    with pytest.raises(Unprocessable):
        alice.admin().attach(meta["id"], [mine.replace("fm.plyr.track", "app.bsky.feed.post")])
    with pytest.raises(NotFound):
        alice.admin().attach(meta["id"], [mine.rsplit("/", 1)[0] + "/3kzzzzzzzzzzz"])
    with pytest.raises(Unprocessable):
        alice.admin().attach(meta["id"], [mine] * 501)
    with pytest.raises(Unprocessable):
        alice.admin().attach(meta["id"], [])


def test_reorder_sets_the_full_order(alice: Artist) -> None:
    meta, uris = album_with_tracks(alice, "Shuffle", 3)
    loaded = CatalogueWriter().load_album(meta["id"])
    assert loaded is not None
    by_uri = {t.record_uri: t.id for t in loaded[1]}
    order = [by_uri[uris[2]], by_uri[uris[0]], by_uri[uris[1]]]
    alice.admin().reorder(meta["id"], order)
    assert [i["subject"]["uri"] for i in alice.record(meta["list_uri"]).value["items"]] == [uris[2], uris[0], uris[1]]
    for bad in ([order[0], order[0], order[1]], order[:2], [*order, 999999], ["x"]):
        with pytest.raises(Unprocessable):
            alice.admin().reorder(meta["id"], bad)


def _update_record(artist: Artist, uri: str, value: dict) -> None:
    collection, rkey = uri.split("/")[-2:]
    artist.pds.apply_writes(
        [{"$type": "com.atproto.repo.applyWrites#update", "collection": collection, "rkey": rkey, "value": value}],
        swap_commit=None,
    )


def test_reorder_by_list_key_keeps_unknown_fields_and_pins_current_cids(alice: Artist, bob: Artist) -> None:
    meta, uris = album_with_tracks(alice, "Web Order", 3)
    list_uri = meta["list_uri"]
    _update_record(alice, list_uri, {**alice.record(list_uri).value, "customField": {"kept": [1, "two"]}})
    stale = {u: alice.record(u).cid for u in uris}
    # Edited elsewhere since the web app loaded the page: the CIDs it sends are stale.
    _update_record(alice, uris[0], {**alice.record(uris[0]).value, "title": "Edited elsewhere"})
    assert alice.record(uris[0]).cid != stale[uris[0]]
    rkey = list_uri.rsplit("/", 1)[1]
    order = [uris[2], uris[0], uris[1]]
    with pytest.raises(NotFound) as caught:
        bob.admin().reorder_list(rkey, order)
    assert caught.value.detail == "list not found"
    answer = alice.admin().reorder_list(rkey, order)
    record = alice.record(list_uri)
    assert answer == {"uri": list_uri, "cid": record.cid}
    assert [i["subject"] for i in record.value["items"]] == [{"uri": u, "cid": alice.record(u).cid} for u in order]
    assert record.value["customField"] == {"kept": [1, "two"]} and record.value["name"] == "Web Order"
    album = CatalogueWriter().get_album(meta["id"])
    assert album is not None and album.track_order == order and album.list_cid == record.cid
    with pytest.raises(Unprocessable):
        alice.admin().reorder_list(rkey, order[:2])


# ---- rename --------------------------------------------------------------------------------------


def test_rename_keeps_every_other_field_byte_for_byte(alice: Artist) -> None:
    blob = alice.upload_blob(b"ID3 fake audio bytes " * 20)
    meta, uris = album_with_tracks(alice, "Before", 3, audioBlob=blob, customField={"nested": [1, "two", None]})
    before_tracks = {u: alice.record(u).value for u in uris}
    before_list = alice.record(meta["list_uri"]).value
    updated = alice.admin().update(meta["id"], title="After")
    assert updated["title"] == "After" and updated["slug"] == "after"
    for uri in uris:
        value = alice.record(uri).value
        assert value["album"] == "After"
        assert {k: v for k, v in value.items() if k != "album"} == {
            k: v for k, v in before_tracks[uri].items() if k != "album"
        }
        assert value["audioBlob"] == blob and value["customField"] == {"nested": [1, "two", None]}
    after_list = alice.record(meta["list_uri"]).value
    assert after_list["name"] == "After"
    # The same items in the same order, each now pinning its track record's new version.
    assert after_list["items"] == [
        {**item, "subject": {**item["subject"], "cid": alice.record(item["subject"]["uri"]).cid}}
        for item in before_list["items"]
    ]
    assert after_list["createdAt"] == before_list["createdAt"]
    repo = CatalogueWriter()
    assert repo.load_album_by_slug("alice.test", "before") is None
    assert repo.slug_owner(alice.did, "before") is None
    assert repo.load_album_by_slug("alice.test", "after") is not None


def test_rename_to_a_used_name_is_409_before_anything_is_written(alice: Artist) -> None:
    _, first = alice.admin().create("Taken")
    meta, uris = album_with_tracks(alice, "Other", 2)
    before = {u: alice.record(u).cid for u in [*uris, meta["list_uri"]]}
    with pytest.raises(Conflict, match="another of your albums already uses that name"):
        alice.admin().update(meta["id"], title="TAKEN")
    assert {u: alice.record(u).cid for u in before} == before


def test_description_rules(alice: Artist) -> None:
    _, meta = alice.admin().create("Described")
    assert alice.admin().update(meta["id"], description="  notes  ")["description"] == "notes"
    assert alice.admin().update(meta["id"], description="")["description"] is None
    with pytest.raises(Unprocessable):
        alice.admin().update(meta["id"], description="x" * 5001)
    assert alice.admin().update(meta["id"], description="x" * 5000)["description"] == "x" * 5000
    with pytest.raises(Unprocessable):
        alice.admin().update(meta["id"])


def test_ten_concurrent_renames_of_two_albums_to_one_title(alice: Artist) -> None:
    a, _ = album_with_tracks(alice, "Left", 1)
    b, _ = album_with_tracks(alice, "Right", 1)

    def rename(album_id: str) -> str:
        try:
            alice.admin().update(album_id, title="Same Title")
            return album_id
        except Conflict:
            return "409"

    with cf.ThreadPoolExecutor(10) as pool:
        results = list(pool.map(rename, [a["id"], b["id"]] * 5))
    winners = [r for r in results if r != "409"]
    assert len(winners) == 1 and results.count("409") == 9, results
    loser = ({a["id"], b["id"]} - set(winners)).pop()
    repo = CatalogueWriter()
    assert repo.slug_owner(alice.did, "same-title") == winners[0]
    assert repo.get_album(loser).slug in ("left", "right")  # type: ignore[union-attr]
    slugs = list(
        repo._query_all(
            KeyConditionExpression="pk = :p AND begins_with(sk, :s)",
            ExpressionAttributeValues={":p": {"S": f"ARTIST#{alice.did}"}, ":s": {"S": "SLUG#"}},
        )
    )
    assert sorted(s["sk"] for s in slugs) == sorted(["SLUG#same-title", f"SLUG#{repo.get_album(loser).slug}"])  # type: ignore[union-attr]
    for album_id in (a["id"], b["id"]):
        assert repo.get_album(album_id).track_count == 1  # type: ignore[union-attr]


def test_a_pds_failure_midway_is_502_and_repeating_converges(alice: Artist, faulty: FaultProxy) -> None:
    meta, uris = album_with_tracks(alice, "Fragile", 5)
    # The read: the five track records come in one listRecords page (fewer calls than five getRecord).
    faulty.rules.append(Rule("com.atproto.repo.listRecords", times=1))
    with pytest.raises(UpstreamFailure):
        alice.admin(via=faulty.url).update(meta["id"], title="Sturdy")
    faulty.rules.append(Rule("com.atproto.repo.applyWrites", times=1))
    with pytest.raises(UpstreamFailure):
        alice.admin(via=faulty.url).update(meta["id"], title="Sturdy")
    repo = CatalogueWriter()
    assert repo.get_album(meta["id"]).title == "Fragile"  # type: ignore[union-attr]
    assert repo.slug_owner(alice.did, "sturdy") is None
    alice.admin(via=faulty.url).update(meta["id"], title="Sturdy")
    assert all(alice.record(u).value["album"] == "Sturdy" for u in uris)
    assert alice.record(meta["list_uri"]).value["name"] == "Sturdy"
    assert repo.get_album(meta["id"]).title == "Sturdy"  # type: ignore[union-attr]


# ---- remove and delete ----------------------------------------------------------------------------


def test_remove_track_drops_exactly_that_item_and_field(alice: Artist) -> None:
    meta, uris = album_with_tracks(alice, "Trim", 3)
    loaded = CatalogueWriter().load_album(meta["id"])
    assert loaded is not None
    victim = next(t for t in loaded[1] if t.record_uri == uris[1])
    before = alice.record(uris[1]).value
    assert alice.admin().remove_track(meta["id"], victim.id) == {"removed": True, "track_id": victim.id}
    assert [i["subject"]["uri"] for i in alice.record(meta["list_uri"]).value["items"]] == [uris[0], uris[2]]
    after = alice.record(uris[1]).value
    assert "album" not in after and after == {k: v for k, v in before.items() if k != "album"}
    album = CatalogueWriter().get_album(meta["id"])
    assert album is not None and album.track_count == 2
    with pytest.raises(BadRequest, match="track is not in this album"):
        alice.admin().remove_track(meta["id"], victim.id)
    with pytest.raises(NotFound, match="track not found"):
        alice.admin().remove_track(meta["id"], 987654321)


@pytest.mark.parametrize("cascade", [False, True])
def test_delete_album(alice: Artist, cascade: bool) -> None:
    meta, uris = album_with_tracks(alice, f"Doomed {cascade}", 3)
    before = {u: alice.record(u).value for u in uris}
    assert alice.admin().delete(meta["id"], cascade) == {"deleted": True, "cascade": cascade}
    assert not alice.exists(meta["list_uri"])
    for uri in uris:
        if cascade:
            assert not alice.exists(uri)
        else:
            assert alice.record(uri).value == {k: v for k, v in before[uri].items() if k != "album"}
    repo = CatalogueWriter()
    assert repo.get_album(meta["id"]) is None
    assert repo.slug_owner(alice.did, meta["slug"]) is None
    standalone = [t for t in repo.artist_tracks(alice.did) if t.record_uri in uris]
    assert len(standalone) == (0 if cascade else 3) and all(t.album_id is None for t in standalone)
    with pytest.raises(AlbumNotFound):
        alice.admin().delete(meta["id"], cascade)


def test_a_delete_that_fails_before_the_list_record_goes_keeps_the_album(alice: Artist, faulty: FaultProxy) -> None:
    meta, uris = album_with_tracks(alice, "Resilient", 3)
    faulty.rules.append(Rule("com.atproto.repo.applyWrites", times=1))
    with pytest.raises(UpstreamFailure):
        alice.admin(via=faulty.url).delete(meta["id"], False)
    assert CatalogueWriter().get_album(meta["id"]) is not None and alice.exists(meta["list_uri"])
    alice.admin(via=faulty.url).delete(meta["id"], False)
    assert CatalogueWriter().get_album(meta["id"]) is None and not alice.exists(meta["list_uri"])
    assert all("album" not in alice.record(u).value for u in uris)


# ---- ownership ---------------------------------------------------------------------------------


def test_another_artist_gets_403_on_every_mutation_and_nothing_is_written(alice: Artist, bob: Artist) -> None:
    meta, uris = album_with_tracks(alice, "Private", 2)
    before = {u: alice.record(u).cid for u in [*uris, meta["list_uri"]]}
    loaded = CatalogueWriter().load_album(meta["id"])
    assert loaded is not None
    track_id = loaded[1][0].id
    admin = bob.admin()
    cases = [
        (lambda: admin.update(meta["id"], title="Mine now"), "you can only update your own albums"),
        (lambda: admin.delete(meta["id"], True), "you can only delete your own albums"),
        (lambda: admin.remove_track(meta["id"], track_id), "you can only modify your own albums"),
        (lambda: admin.attach(meta["id"], [bob.publish_track("b")]), "you can only modify your own albums"),
        (lambda: admin.reorder(meta["id"], [track_id]), "you can only modify your own albums"),
    ]
    for call, message in cases:
        with pytest.raises(Forbidden) as err:
            call()
        assert err.value.detail == message
    assert {u: alice.record(u).cid for u in before} == before
    album = CatalogueWriter().get_album(meta["id"])
    assert album is not None and album.title == "Private" and album.track_count == 2

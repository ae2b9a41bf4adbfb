"""Conditional requests against moto: ETag and 304 on the public pages (one cache read), and the
album's version (If-Match, 412) through the real handlers and the catalogue's conditional writes."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from albums_core import bootstrap
from albums_core.adapters import aws_clients as aws
from albums_core.adapters.atproto.xrpc import Tokens
from albums_core.adapters.dynamodb import keys
from albums_core.adapters.dynamodb.catalogue import CatalogueRepository, CatalogueWriter
from albums_core.adapters.dynamodb.session_store import create_session
from albums_core.domain.cover_images import process
from albums_core.domain.errors import PreconditionFailed
from albums_core.domain.models import Album, Artist
from albums_core.services import auth
from albums_core.services.album_admin import AlbumCaller
from local_runtime.lambda_host import InProcessHost
from local_runtime.processes import MotoServer
from local_runtime.record_server import RecordServer
from local_runtime.template import Stack
from tests.integration.factory import make_album, make_artist, publish_list
from tests.integration.test_cover_service import bucket, keys_in_bucket, s3_event
from tests.support.api_events import api_event
from tests.unit.test_covers import padded_png


@pytest.fixture
def host(aws_env: None, moto: MotoServer, stack: Stack) -> InProcessHost:
    return InProcessHost(stack, moto.url)


@pytest.fixture
def world(host: InProcessHost, pds: RecordServer) -> tuple[Artist, Album, str]:
    """An artist with an album on the record server, and a session of theirs."""
    repo = CatalogueRepository()
    artist = make_artist(repo, "aurora.test", pds_url=pds.url, display_name="Aurora Lane")
    album, tracks = make_album(repo, artist, "Café del Mar Sessions", tracks=3)
    publish_list(pds.store, album, [t.record_uri or "" for t in tracks])
    session = create_session(artist.did, artist.handle, pds.url, Tokens("access", "refresh"))
    return artist, album, session.session_id


@pytest.fixture
def calls() -> Iterator[Counter]:
    counter: Counter = Counter()

    def count(model: Any, **_: Any) -> None:
        counter[model.name] += 1

    client = aws.dynamodb()
    client.meta.events.register("before-call.dynamodb", count)
    yield counter
    client.meta.events.unregister("before-call.dynamodb", count)


def call(host: InProcessHost, function: str, ev: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
    out = host.invoke(function, ev)
    headers = {k.lower(): v for k, v in (out.get("headers") or {}).items()}
    body = json.loads(out["body"]) if out.get("body") else None
    return out["statusCode"], headers, body


# ---- the public pages -------------------------------------------------------------------------

PAGES = [
    ("GetAlbumFunction", "get_album_200"),
    ("ListArtistAlbumsFunction", "list_artist_albums_200"),
    ("GetArtistFunction", "get_artist_200"),
]


@pytest.mark.parametrize(("function", "name"), PAGES)
def test_an_anonymous_page_is_tagged_public_and_304_on_its_tag(
    host: InProcessHost, world: tuple[Artist, Album, str], function: str, name: str
) -> None:
    status, headers, body = call(host, function, api_event(name))
    assert status == 200 and body
    tag = headers["etag"]
    assert tag.startswith('"') and not tag.startswith("W/")
    assert headers["cache-control"] == "public, max-age=60"
    assert "Authorization" in headers["vary"] and "Cookie" in headers["vary"]
    status, again, _ = call(host, function, api_event(name))
    assert (status, again["etag"]) == (200, tag)  # stable: the same body, the same tag
    for value in (tag, f"W/{tag}", f'"nope", {tag}', "*"):
        status, not_modified, empty = call(host, function, api_event(name, headers={"if-none-match": value}))
        assert (status, empty, not_modified["etag"]) == (304, None, tag), value
    status, _, body = call(host, function, api_event(name, headers={"if-none-match": '"stale"'}))
    assert status == 200 and body


def test_a_304_of_an_album_page_costs_the_one_cache_read(
    host: InProcessHost, world: tuple[Artist, Album, str], calls: Counter
) -> None:
    _, headers, _ = call(host, "GetAlbumFunction", api_event("get_album_200"))  # a miss: cached now
    calls.clear()
    status, _, _ = call(
        host, "GetAlbumFunction", api_event("get_album_200", headers={"if-none-match": headers["etag"]})
    )
    assert status == 304 and dict(calls) == {"GetItem": 1}


def test_a_304_of_an_artist_profile_costs_the_one_cache_read(
    host: InProcessHost, world: tuple[Artist, Album, str], calls: Counter
) -> None:
    _, headers, _ = call(host, "GetArtistFunction", api_event("get_artist_200"))
    calls.clear()
    status, _, _ = call(
        host, "GetArtistFunction", api_event("get_artist_200", headers={"if-none-match": headers["etag"]})
    )
    assert status == 304 and dict(calls) == {"GetItem": 1}


def test_a_change_of_the_album_changes_the_page_tag(host: InProcessHost, world: tuple[Artist, Album, str]) -> None:
    artist, album, session_id = world
    _, before, _ = call(host, "GetAlbumFunction", api_event("get_album_200"))
    patch = update_event(album.id, "notes", session=session_id)
    assert call(host, "UpdateAlbumFunction", patch)[0] == 200
    status, after, _ = call(
        host, "GetAlbumFunction", api_event("get_album_200", headers={"if-none-match": before["etag"]})
    )
    assert status == 200 and after["etag"] != before["etag"]


@pytest.mark.parametrize("credentials", ["cookie", "bearer"])
def test_a_request_with_a_session_is_private_untagged_and_never_304(
    host: InProcessHost, world: tuple[Artist, Album, str], credentials: str
) -> None:
    _, _, session_id = world
    _, anonymous, _ = call(host, "GetAlbumFunction", api_event("get_album_200"))
    sent = {"if-none-match": anonymous["etag"]}
    if credentials == "bearer":
        ev = api_event("get_album_200", headers={**sent, "authorization": f"Bearer {session_id}"})
    else:
        ev = api_event("get_album_200", headers=sent, session=session_id)
    status, headers, body = call(host, "GetAlbumFunction", ev)
    assert status == 200 and body["tracks"]
    assert headers["cache-control"] == "private, no-store"
    assert "etag" not in headers


# ---- the album's version -----------------------------------------------------------------------


def update_event(album_id: str, description: str, if_match: str | None = None, session: str = "") -> dict[str, Any]:
    return api_event(
        "update_album_200",
        path=f"/albums/{album_id}",
        path_parameters={"ref": album_id},
        headers={"if-match": if_match} if if_match is not None else None,
        session=session,
        body={"description": description},
    )


@pytest.fixture
def patch(host: InProcessHost, world: tuple[Artist, Album, str]) -> Any:
    _, album, session_id = world

    def send(description: str, if_match: str | None = None) -> tuple[int, dict[str, str], Any]:
        return call(host, "UpdateAlbumFunction", update_event(album.id, description, if_match, session_id))

    return send


def test_a_mutation_answers_the_version_and_if_match_guards_the_next(patch: Any, world: Any) -> None:
    _, album, _ = world
    status, headers, body = patch("first", '"0"')
    assert (status, headers["etag"], body["version"]) == (200, '"1"', 1)
    assert headers["cache-control"] == "no-store"
    status, headers, body = patch("blind", '"0"')  # the editor who read version 0 is refused
    assert status == 412 and "If-Match" in body["detail"]
    assert CatalogueRepository().get_album(album.id).description == "first"  # type: ignore[union-attr]
    status, headers, body = patch("second", '"5", "1"')
    assert (status, headers["etag"]) == (200, '"2"')
    status, headers, _ = patch("third")  # no If-Match: no condition
    assert (status, headers["etag"]) == (200, '"3"')
    assert patch("fourth", "*")[1]["etag"] == '"4"'
    assert patch("weak", 'W/"4"')[0] == 412  # If-Match compares strongly


def test_a_malformed_if_match_is_400_and_changes_nothing(patch: Any, world: Any) -> None:
    _, album, _ = world
    status, _, body = patch("x", "4")
    assert status == 400 and body["detail"].startswith("If-Match")
    stored = CatalogueRepository().get_album(album.id)
    assert stored is not None and stored.description is None and stored.version == 0


@pytest.mark.parametrize("value", ["", " , "])
def test_an_empty_if_match_is_412_and_changes_nothing(patch: Any, world: Any, value: str) -> None:
    _, album, _ = world
    status, _, body = patch("x", value)
    assert status == 412 and "If-Match" in body["detail"]
    stored = CatalogueRepository().get_album(album.id)
    assert stored is not None and stored.description is None and stored.version == 0


def test_a_presigned_cover_upload_is_held_to_the_if_match_its_form_was_issued_under(
    host: InProcessHost, patch: Any, world: Any
) -> None:
    _, album, session_id = world
    ev = api_event(
        "cover_upload_url_200",
        path=f"/albums/{album.id}/cover/upload-url",
        path_parameters={"ref": album.id},
        headers={"if-match": '"0"'},
        session=session_id,
    )
    status, _, form = call(host, "CoverUploadUrlFunction", ev)
    assert status == 200
    assert patch("changed meanwhile", '"0"')[0] == 200  # the album moves on to version 1
    data = padded_png(1024 * 1024)
    aws.s3().put_object(Bucket=bucket(), Key=form["key"], Body=data, ContentType="image/png")
    out = host.invoke("ProcessCoverUploadFunction", s3_event(form["key"], len(data)))
    assert out == {"processed": {form["key"]: "rejected"}}
    stored = CatalogueRepository().get_album(album.id)
    assert stored is not None and stored.image_id is None and stored.version == 1
    assert keys_in_bucket("uploads/") == set() and keys_in_bucket("images/") == set()


def test_the_lease_checks_and_adds_one_in_one_conditional_write(world: tuple[Artist, Album, str]) -> None:
    _, album, _ = world
    repo = CatalogueWriter()
    leased = repo.lock_album(album.id, "t1", 60, frozenset({0}))
    assert leased is not None and leased.version == 1
    repo.unlock_album(album.id, "t1")
    with pytest.raises(PreconditionFailed):
        repo.lock_album(album.id, "t2", 60, frozenset({0}))
    assert repo.get_album(album.id).version == 1  # type: ignore[union-attr]
    assert repo.lock_album(album.id, "t3", 60, None).version == 2  # type: ignore[union-attr]
    # Held by t3 at the version named: 409 (None), not 412.
    assert repo.lock_album(album.id, "t4", 60, frozenset({2})) is None


def test_a_failed_change_takes_back_the_version_its_lease_added(world: tuple[Artist, Album, str]) -> None:
    _, album, _ = world
    repo = CatalogueWriter()
    assert repo.lock_album(album.id, "t1", 60, frozenset({0})) is not None
    repo.unlock_album(album.id, "t1", undo_version=True)
    assert repo.get_album(album.id).version == 0  # type: ignore[union-attr]
    # The same If-Match again: taken, and kept this time.
    assert repo.lock_album(album.id, "t2", 60, frozenset({0})) is not None
    repo.unlock_album(album.id, "t2")
    assert repo.get_album(album.id).version == 1  # type: ignore[union-attr]
    # Another's lease is never ended (nor its version touched) by a stale token.
    assert repo.lock_album(album.id, "t3", 60, frozenset({1})) is not None
    repo.unlock_album(album.id, "t2", undo_version=True)
    assert repo.get_album(album.id).version == 2  # type: ignore[union-attr]
    assert repo.lock_album(album.id, "t4", 60, None) is None


def test_two_editors_racing_with_the_same_if_match_one_wins(world: tuple[Artist, Album, str]) -> None:
    artist, album, _ = world
    session = auth.Caller(create_session(artist.did, artist.handle, "", Tokens("a", "r")), artist)
    barrier = threading.Barrier(2)
    outcomes: dict[str, Any] = {}

    def edit(name: str) -> None:
        admin = bootstrap.album_admin(AlbumCaller(session.session, artist, album, frozenset({0})))
        barrier.wait(timeout=60)
        try:
            outcomes[name] = admin.update(album.id, description=name)["version"]
        except Exception as exc:
            outcomes[name] = exc

    threads = [threading.Thread(target=edit, args=(n,)) for n in ("left", "right")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    won = [n for n, o in outcomes.items() if o == 1]
    lost = [n for n, o in outcomes.items() if isinstance(o, PreconditionFailed)]
    assert len(won) == 1 and len(lost) == 1, outcomes
    stored = CatalogueRepository().get_album(album.id)
    assert stored is not None and (stored.description, stored.version) == (won[0], 1)


def test_a_cover_adds_one_and_honours_if_match(world: tuple[Artist, Album, str]) -> None:
    import io

    from PIL import Image

    artist, album, _ = world
    buf = io.BytesIO()
    Image.new("RGB", (32, 32), (10, 200, 30)).save(buf, "PNG")
    cover = process(buf.getvalue())
    body, updated = bootstrap.covers().attached(album, artist.handle, cover, expected=frozenset({0}))
    assert updated.version == 1 and body["image_id"] == cover.image_id
    with pytest.raises(PreconditionFailed):
        bootstrap.covers().attached(album, artist.handle, cover, expected=frozenset({0}))
    _, again = bootstrap.covers().attached(album, artist.handle, cover)
    assert again.version == 2


def test_an_album_item_from_before_versions_is_version_0(world: tuple[Artist, Album, str]) -> None:
    _, album, _ = world
    repo = CatalogueWriter()
    repo.update_if(keys.album(album.id), "REMOVE #v", "attribute_exists(pk)", names={"#v": "version"})
    assert repo.get_album(album.id).version == 0  # type: ignore[union-attr]
    assert repo.lock_album(album.id, "t", 60, frozenset({0})).version == 1  # type: ignore[union-attr]


def test_a_list_record_change_from_elsewhere_adds_one(world: tuple[Artist, Album, str]) -> None:
    """The firehose and a sync apply a list record written in another client through the
    indexer: an editor holding the older version must get 412, not overwrite it blindly."""
    from albums_core.adapters.atproto.xrpc import Record
    from albums_core.domain.read_budget import ReadBudget
    from albums_core.services.index_run import Indexer

    artist, album, _ = world
    assert album.list_uri
    value = {"$type": "fm.plyr.list", "name": album.title, "listType": "album", "items": [], "createdAt": "x"}
    indexer = Indexer(artist, CatalogueWriter(), bootstrap.pds_reader(), bootstrap.page_cache(), ReadBudget(60), set())
    changed = indexer._upsert_album(album, album.list_uri, Record(album.list_uri, "bafyreielsewhere", value), [])
    assert changed.version == 1
    assert CatalogueRepository().get_album(album.id).version == 1  # type: ignore[union-attr]
    # The same record again (our own write's echo, or a replay) changes nothing: no new version.
    again = indexer._upsert_album(changed, album.list_uri, Record(album.list_uri, "bafyreielsewhere", value), [])
    assert again.version == 1


def test_an_editor_whose_read_went_stale_is_refused_by_the_write_itself(world: tuple[Artist, Album, str]) -> None:
    """B's guard read the album at version 0 (its early check passes); A's whole change lands
    before B's lease: only the lease's own condition on the version can refuse B."""
    artist, album, _ = world
    session = create_session(artist.did, artist.handle, "", Tokens("a", "r"))
    stale = CatalogueRepository().get_album(album.id)
    assert stale is not None and stale.version == 0
    bootstrap.album_admin(AlbumCaller(session, artist, stale, frozenset({0}))).update(album.id, description="A")
    with pytest.raises(PreconditionFailed):
        bootstrap.album_admin(AlbumCaller(session, artist, stale, frozenset({0}))).update(album.id, description="B")
    stored = CatalogueRepository().get_album(album.id)
    assert stored is not None and (stored.description, stored.version) == ("A", 1)

"""Issue 18.2: one record we cannot store never breaks the indexing of its artist. A track record
of 450 KB (the real local PDS accepts it) or nested past DynamoDB's 32 levels is skipped and
counted on every way in (sync, login, the background job, the firehose consumer, an attach);
the other records are indexed and the counters are exact. A PDS that lists another account's
records under the lister has them dropped."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from albums_core import bootstrap
from albums_core.adapters.atproto import xrpc
from albums_core.adapters.atproto.firehose import decode_message
from albums_core.adapters.dynamodb.catalogue import CatalogueRepository, CatalogueWriter
from albums_core.domain.errors import Unprocessable
from albums_core.domain.firehose_events import Commit
from albums_core.domain.records import LIST, TRACK
from local_runtime.loopback_http import LoopbackHTTPServer
from tests.integration.factory import make_artist
from tests.integration.test_firehose_apply import setup, tracks_by_rkey  # noqa: F401 (a fixture)
from tests.integration.write_fixtures import Artist
from tests.support.firehose_frames import TIME, block, commit_body

HUGE_GATE = {"type": "any", "note": "x" * 450_000}


def deep(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {"end": True}
    for _ in range(levels):
        value = {"in": value}
    return value


def _album_of(artist: Artist) -> dict[str, Any]:
    (album,) = bootstrap.listings().list_artist_albums(artist.caller.artist.handle)["albums"]
    return dict(album)


def test_a_record_we_cannot_store_is_skipped_and_counted_and_the_others_indexed(alice: Artist) -> None:
    first = alice.publish_track("Before")
    huge = alice.publish_track("Huge", supportGate=HUGE_GATE)
    nested = alice.publish_track("Nested", extra=deep(40))
    after = alice.publish_track("After")
    alice.publish_list("Mixed", [first, huge, nested, after])

    counts = bootstrap.indexing().sync_for_caller(alice.caller.artist)

    assert counts["skipped_invalid"] == 2
    assert counts["tracks_created"] == 2 and counts["albums_created"] == 1
    stored = {t.record_uri: t for t in CatalogueWriter().artist_tracks(alice.did)}
    assert set(stored) == {first, after}
    album = _album_of(alice)
    assert album["track_count"] == 2  # the listing's counter agrees with the page
    page = json.loads(bootstrap.album_pages().render("alice.test", album["slug"], None))
    assert [t["title"] for t in page["tracks"]] == ["Before", "After"]
    # A second run changes nothing and still says what it skipped.
    again = bootstrap.indexing().sync_for_caller(alice.caller.artist)
    assert again["skipped_invalid"] == 2 and again["tracks_created"] == again["tracks_updated"] == 0


def test_a_stored_track_whose_record_becomes_unstorable_goes_and_the_count_follows(alice: Artist) -> None:
    one, two = alice.publish_track("One"), alice.publish_track("Two")
    alice.publish_list("Shrinks", [one, two])
    bootstrap.indexing().sync_for_caller(alice.caller.artist)
    assert _album_of(alice)["track_count"] == 2

    rkey = two.rsplit("/", 1)[1]
    value = {**alice.record(two).value, "supportGate": HUGE_GATE}
    alice.pds.put_record(TRACK, rkey, value, swap_record=None)
    counts = bootstrap.indexing().sync_for_caller(alice.caller.artist)

    assert counts["skipped_invalid"] == 1 and counts["tracks_removed"] == 1
    assert [t.record_uri for t in CatalogueWriter().artist_tracks(alice.did)] == [one]
    assert _album_of(alice)["track_count"] == 1


def test_login_indexing_skips_the_record_and_indexes_the_rest(alice: Artist) -> None:
    alice.publish_track("Huge", supportGate=HUGE_GATE)
    fine = alice.publish_track("Fine")

    outcome = bootstrap.indexing().index_at_login(alice.caller.artist)

    assert outcome["complete"] is True and outcome["backfill_job"] is None
    assert outcome["skipped_invalid"] == 1
    assert [t.record_uri for t in CatalogueWriter().artist_tracks(alice.did)] == [fine]


def test_what_a_track_record_says_is_served_in_our_models_shape(alice: Artist) -> None:
    gated = alice.publish_track(
        "\u202eevil\u202c Twin\u0007",
        supportGate={"type": "supporters", "extra": {"deep": ["x"] * 50}},
        description="line one\n\u202eline two\u0000",
        features=[
            {"did": "did:plc:abcdefghijklmnopqrstuvwx", "displayName": "Fe\u2066at\u2069"},
            "not an entry",
            {"handle": "x"},
        ],
    )
    blank = alice.publish_track("\u200b\u202e\u2066")
    odd_gate = alice.publish_track("Odd gate", supportGate={"type": "x" * 65})
    alice.publish_list("Shapes", [gated, blank, odd_gate])
    counts = bootstrap.indexing().sync_for_caller(alice.caller.artist)
    assert counts["skipped_invalid"] == 0 and counts["tracks_created"] == 3

    page = json.loads(bootstrap.album_pages().render("alice.test", _album_of(alice)["slug"], None))
    tracks = {t["atproto_record_uri"]: t for t in page["tracks"]}
    assert tracks[gated]["title"] == "evil Twin"
    assert tracks[gated]["support_gate"] == {"type": "supporters"} and tracks[gated]["gated"] is True
    assert tracks[gated]["description"] == "line one\nline two"
    assert [f["display_name"] for f in tracks[gated]["features"]] == ["Feat"]
    assert tracks[blank]["title"] == blank.rsplit("/", 1)[1]  # left blank: its record key
    assert tracks[odd_gate]["support_gate"] is None and tracks[odd_gate]["gated"] is False


def test_a_list_field_of_the_wrong_type_is_not_stored_as_its_repr(alice: Artist) -> None:
    alice.pds.create_record(
        LIST, {"$type": LIST, "name": "Odd date", "listType": "album", "items": [], "createdAt": {"at": [1, 2]}}
    )
    counts = bootstrap.indexing().sync_for_caller(alice.caller.artist)
    (album,) = CatalogueWriter().artist_albums(alice.did)
    assert counts["albums_created"] == 1 and album.created_at.startswith("20") and "{" not in album.created_at


def test_an_attach_of_a_record_we_cannot_store_is_refused_with_422(alice: Artist) -> None:
    status, body = alice.admin().create("Attach")
    huge = alice.publish_track("Huge", supportGate=HUGE_GATE)
    with pytest.raises(Unprocessable, match="a track record we cannot store"):
        alice.admin().attach(body["id"], [huge])
    assert CatalogueWriter().artist_tracks(alice.did) == []


def test_the_consumer_skips_a_record_we_cannot_store_and_applies_the_rest(
    setup: tuple[Any, CatalogueWriter, Any, Any, Any],  # noqa: F811
) -> None:
    ingest, writer, artist, _, _ = setup
    ops, blocks = [], []
    for rkey, extra in (("big", {"supportGate": HUGE_GATE}), ("deep", {"x": deep(40)}), ("fine", {})):
        record = {"$type": TRACK, "title": rkey, "artist": "A", "fileType": "mp3", "createdAt": TIME, **extra}
        cid, data = block(record)
        ops.append({"action": "create", "path": f"{TRACK}/{rkey}", "cid": cid})
        blocks.append((cid, data))
    from atproto_subscription.frames import MessageFrame, MessageFrameHeader

    frame = MessageFrame(MessageFrameHeader(t="#commit"), commit_body(5, artist.did, "3n3mo53iplk2x", ops, blocks))
    event = decode_message(frame)
    assert isinstance(event, Commit)

    report = ingest.apply([event])

    assert report.counts["skipped_invalid"] == 2 and report.counts["tracks_created"] == 1
    assert sorted(tracks_by_rkey(writer, artist.did)) == ["fine"]


class HostileLister:
    """A PDS on loopback whose listRecords names whatever it likes, whatever was asked."""

    def __init__(self, records: list[dict[str, Any]]) -> None:
        body = json.dumps({"records": records}).encode()

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                listing = self.path.startswith("/xrpc/com.atproto.repo.listRecords")
                self.send_response(200 if listing else 404)
                self.send_header("Content-Type", "application/json")
                reply = body if listing else b'{"error":"MethodNotImplemented"}'
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

        self.server = LoopbackHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_records_listed_under_another_repository_or_collection_are_dropped(
    repo: CatalogueRepository, settings_env: pytest.MonkeyPatch
) -> None:
    settings_env.setenv("ALBUMS_ALLOW_LOOPBACK_PDS", "true")
    value = {"$type": TRACK, "title": "Said by someone else", "artist": "A", "fileType": "mp3", "createdAt": TIME}
    victim = "did:plc:victimvictimvictimvictim"
    own_uri = "at://{did}/fm.plyr.track/3kown000000000"
    records = [
        {"uri": f"at://{victim}/{TRACK}/3kvictim00000", "cid": "bafyreivictim", "value": value},
        {"uri": "at://{did}/app.bsky.feed.post/3kpost0000000", "cid": "bafyreipost0", "value": value},
        {"uri": own_uri, "cid": "bafyreiown00", "value": {**value, "title": "Own"}},
        {"uri": own_uri + "/extra", "cid": "bafyreiextra", "value": value},
    ]
    did = make_artist(repo, "mallory.test").did
    server = HostileLister([{**r, "uri": r["uri"].format(did=did)} for r in records])
    try:
        mallory = make_artist(repo, "mallory.test", pds_url=server.url)
        listed = list(xrpc.list_records(server.url, mallory.did, TRACK))
        assert [r.uri for r in listed] == [own_uri.format(did=did)]
        counts = bootstrap.indexing().sync_for_caller(mallory)
    finally:
        server.stop()
    assert counts["tracks_created"] == 1
    assert [t.title for t in CatalogueWriter().artist_tracks(did)] == ["Own"]
    assert CatalogueWriter().artist_tracks(victim) == []


def test_the_sync_endpoint_answers_200_with_skipped_invalid(alice: Artist) -> None:
    from local_runtime.lambda_host import LambdaContext
    from local_runtime.modules import load_module
    from local_runtime.template import ROOT

    alice.publish_track("Huge", supportGate=HUGE_GATE)
    alice.publish_track("Fine")
    handler = load_module("fn_sync_unstorable", ROOT / "functions" / "sync_artist" / "app.py").lambda_handler
    event = json.loads((ROOT / "events" / "sync_artist_200.json").read_text())
    event["cookies"] = [f"session_id={alice.caller.session.session_id}"]

    out = handler(event, LambdaContext(function_name="sync_artist", memory_limit_in_mb=256, timeout_ms=30_000))

    assert out["statusCode"] == 200, out
    body = json.loads(out["body"])
    assert body["synced"] is True and body["skipped_invalid"] == 1 and body["tracks_created"] == 1

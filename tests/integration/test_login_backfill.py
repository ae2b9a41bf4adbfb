"""Login indexes a bounded amount (issue 11, item 1): within LOGIN_INDEX_SECONDS, then the rest
is a background job the catalogue stream runs (the indexer, idempotent), so the login answers
at once however many records the artist has. Against the real local PDS."""

from __future__ import annotations

from typing import Any

import pytest

from albums_core import bootstrap, config
from albums_core.adapters.dynamodb import keys
from albums_core.adapters.dynamodb.catalogue import CatalogueWriter
from albums_core.adapters.dynamodb.codec import to_item
from albums_core.domain.models import Track
from albums_core.domain.records import LIST, TRACK
from albums_core.services import indexer
from tests.integration.write_fixtures import Artist

TRACKS = 150
IN_ALBUM = 120


def publish_catalogue(artist: Artist) -> tuple[str, list[str]]:
    """TRACKS track records (the first IN_ALBUM in an album, listed in reverse) and the list record."""
    uris: list[str] = []
    cids: dict[str, str] = {}
    for start in range(0, TRACKS, 100):
        out = artist.pds.apply_writes(
            [
                {
                    "$type": "com.atproto.repo.applyWrites#create",
                    "collection": TRACK,
                    "value": {
                        "$type": TRACK,
                        "title": f"Backfilled {i}",
                        "artist": "A",
                        "fileType": "mp3",
                        "createdAt": "2026-01-01T00:00:00.000Z",
                    },
                }
                for i in range(start, min(start + 100, TRACKS))
            ],
            swap_commit=None,
        )
        for result in out["results"]:
            uris.append(str(result["uri"]))
            cids[str(result["uri"])] = str(result["cid"])
    order = list(reversed(uris[:IN_ALBUM]))
    list_uri, _ = artist.pds.create_record(
        LIST,
        {
            "$type": LIST,
            "name": "A Large Back Catalogue",
            "listType": "album",
            "items": [{"subject": {"uri": u, "cid": cids[u]}} for u in order],
            "createdAt": "2026-01-01T00:00:00.000Z",
        },
    )
    return list_uri, order


def job_record(job_id: str) -> dict[str, Any]:
    """The stream record the catalogue gives the job's item, as Lambda delivers it."""
    repo = CatalogueWriter()
    item = repo.client.get_item(TableName=repo.table, Key=to_item(keys.job(job_id)))["Item"]
    return {
        "eventID": job_id,
        "eventName": "INSERT",
        "dynamodb": {"Keys": {k: item[k] for k in ("pk", "sk")}, "NewImage": item},
    }


def test_login_indexes_within_its_budget_and_the_stream_job_finishes(
    alice: Artist, settings_env: pytest.MonkeyPatch, monkeypatch: pytest.MonkeyPatch
) -> None:
    list_uri, order = publish_catalogue(alice)
    settings_env.setenv("LOGIN_INDEX_SECONDS", "0.2")
    config.settings.cache_clear()
    # Once the run sees its budget spent it writes no more tracks (however many it got to on
    # this machine before that): a spy on its check and on the track writes, no clock.
    stopped: list[bool] = []
    late: list[str | None] = []
    in_time, save_track = indexer.Indexer._in_time, CatalogueWriter.save_track

    checks: list[bool] = []

    def checked(run: indexer.Indexer) -> bool:
        # The budget also runs out after the first check however fast this machine indexes (a
        # quiet one got everything done in 0.2 s): the test never depends on the clock.
        if checks:
            run.complete = False  # as the run marks itself when its budget is spent
        ok = in_time(run)
        checks.append(ok)
        if not ok:
            stopped.append(True)
        return ok

    def saved(repo: CatalogueWriter, track: Track, replaces: Track | None = None) -> None:
        if stopped:
            late.append(track.record_uri)
        save_track(repo, track, replaces)

    with monkeypatch.context() as spies:
        spies.setattr(indexer.Indexer, "_in_time", checked)
        spies.setattr(CatalogueWriter, "save_track", saved)
        out = bootstrap.indexing().index_at_login(alice.caller.artist)
    assert out["complete"] is False and out["backfill_job"]
    assert stopped and late == []
    repo = CatalogueWriter()
    assert len(repo.artist_tracks(alice.did)) < TRACKS

    record = job_record(out["backfill_job"])
    assert bootstrap.stream_events().handle(record) == "done"
    tracks = repo.artist_tracks(alice.did)
    assert len(tracks) == TRACKS
    loaded = repo.load_album_by_slug("alice.test", "a-large-back-catalogue")
    assert loaded is not None
    _, album, members = loaded
    assert album.list_uri == list_uri and album.track_count == IN_ALBUM == len(members)
    assert album.track_order == order
    # The job is gone; a second delivery of its record changes nothing.
    assert bootstrap.stream_events().handle(record) == "gone"
    again = bootstrap.indexing().sync_artist(alice.caller.artist)
    assert all(v == 0 for v in again.values()), again


def test_a_login_within_its_budget_leaves_no_job(alice: Artist, settings_env: pytest.MonkeyPatch) -> None:
    alice.publish_track("Only One")
    settings_env.setenv("LOGIN_INDEX_SECONDS", "20")
    config.settings.cache_clear()
    out = bootstrap.indexing().index_at_login(alice.caller.artist)
    assert out["complete"] is True and out["backfill_job"] is None and out["tracks_created"] == 1

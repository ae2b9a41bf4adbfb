"""Album list records applied from the firehose commits that carry them (services/firehose/lists.py)
against moto: the same scenarios played both ways, on two artists with the same records, one
through the consumer (its commit path, the indexer where it falls back), the other through the
indexer alone, and the two catalogues compared item by item after each step. And what a list of
14 held tracks costs: a few DynamoDB requests, no PDS read."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

import pytest

from albums_core.adapters.dynamodb import keys
from albums_core.adapters.dynamodb.catalogue import CatalogueRepository, CatalogueWriter
from albums_core.adapters.dynamodb.catalogue_tracks import track_key
from albums_core.adapters.dynamodb.jobs import CleanupJobs
from albums_core.adapters.dynamodb.page_cache import AlbumPageCache
from albums_core.bootstrap import firehose
from albums_core.bootstrap.firehose import FirehoseWiring
from albums_core.domain.firehose_events import LIST, TRACK, RecordOp
from albums_core.domain.models import Album, Artist
from albums_core.domain.records import album_id_for
from albums_core.services.indexer import Indexing
from tests.fakes.indexing import FakeReader
from tests.integration.factory import make_artist
from tests.integration.test_firehose_apply import TRUSTED, Lists, Recorder, commit, track_value
from tests.integration.test_firehose_sparse import dynamodb_calls

RKEYS = [f"t{i:02d}" for i in range(1, 17)]


def _rkey(uri: Any) -> str:
    return str(uri).rsplit("/", 1)[1]


def snapshot(writer: CatalogueWriter, artist: Artist, reader: FakeReader) -> dict[str, Any]:
    """The artist's albums (their items as stored, slugs, former slugs, tracks in their
    partitions) and tracks, with what differs between two artists of the same records (DID,
    handle, album and track ids, times the indexer stamps) named alike."""
    did, handle = artist.did, artist.handle
    albums = writer.artist_albums(did)
    names = {a.id: f"ALBUM:{_rkey(a.list_uri)}" for a in albums}
    out: dict[str, Any] = {"albums": {}, "tracks": {}}
    for album in albums:
        item = dict(writer.db.get(keys.album(album.id), consistent=True) or {})
        item.pop("updated_at", None)
        loaded = writer.load_album(album.id)
        redirects = {s: writer.find_album_by_slug(handle, s) for s in writer.former_slugs(did, album.id)}
        out["albums"][names[album.id]] = {
            "item": item,
            "slug_owner": writer.slug_owner(did, album.slug),
            "page": writer.find_album_by_slug(handle, album.slug) is not None,
            "former": {s: r if isinstance(r, str) else "found" for s, r in redirects.items()},
            "tracks": sorted(_rkey(t.record_uri) for t in (loaded[1] if loaded else [])),
        }
    for track in writer.artist_tracks(did):
        data = asdict(track)
        data.pop("id")
        stored = writer.db.get(track_key(track), consistent=True)
        out["tracks"][_rkey(track.record_uri)] = {**data, "stored": stored is not None}
    text = json.dumps(out, sort_keys=True, default=str).replace(did, "DID").replace(handle, "HANDLE")
    for album_id, name in names.items():
        text = text.replace(album_id, name)
    for rkey, record in reader.repos.get((did, LIST), {}).items():
        text = text.replace(record.cid, f"CID:{rkey}")  # the records name their artist: CIDs differ
    return dict(json.loads(text))


def _differences(a: Any, b: Any, at: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(set(a) | set(b)) for d in _differences(a.get(k), b.get(k), f"{at}/{k}")]
    return [] if a == b else [f"{at}: {a!r} != {b!r}"]


class Both:
    """Two artists with the same records: `ours` follows the consumer, `theirs` the indexer."""

    def __init__(self, repo: CatalogueRepository) -> None:
        self.writer = CatalogueWriter(repo.table, repo.client)
        self.reader = FakeReader()
        self.indexing = Indexing(self.writer, self.reader, AlbumPageCache(), CleanupJobs(self.writer))
        self.ours = make_artist(repo, "ours.test", pds_url="http://127.0.0.1:9")
        self.theirs = make_artist(repo, "theirs.test", pds_url="http://127.0.0.1:9")
        self.ingest = self.fresh()
        for n, rkey in enumerate(RKEYS):
            for artist in (self.ours, self.theirs):
                self.reader.put(artist.did, TRACK, rkey, track_value(rkey.title(), f"2026-11-{n + 1:02d}T00:00:00Z"))
        for artist in (self.ours, self.theirs):
            self.indexing.index(artist)
            for n, track in enumerate(self.writer.artist_tracks(artist.did)):
                self.writer.db.update_if(track_key(track), "SET play_count = :n", "attribute_exists(pk)", {":n": n})

    def fresh(self) -> Any:
        """A container's ingestion (nothing held), falling back to the real indexer."""
        return firehose.ingest(
            FirehoseWiring.on(self.writer),
            index=lambda artist, repo, budget: self.indexing.index(artist, budget),
            verifier=TRUSTED,
        )

    def uri(self, artist: Artist, rkey: str) -> str:
        return f"at://{artist.did}/{TRACK}/{rkey}"

    def value(self, artist: Artist, name: str, items: list[str], created: str) -> dict[str, Any]:
        """`items`: track rkeys of the artist, or `other:<rkey>` (the other artist's track)."""
        other = self.theirs if artist is self.ours else self.ours
        uris = [self.uri(other, i[6:]) if i.startswith("other:") else self.uri(artist, i) for i in items]
        subjects = [{"subject": {"uri": u, "cid": "bafyitem"}} for u in uris]
        return {"$type": LIST, "listType": "album", "name": name, "items": subjects, "createdAt": created}

    def step(
        self, rkey: str, name: str | None = None, items: list[str] | None = None, created: str = "2026-11-20T00:00:00Z"
    ) -> dict[str, int]:
        """The list record put (or deleted: no `items`) both ways; the catalogues compared."""
        action = "delete"
        cid = None
        value: dict[str, Any] | None = None
        for artist in (self.ours, self.theirs):
            if items is None:
                self.reader.delete(f"at://{artist.did}/{LIST}/{rkey}")
                continue
            action = "update" if rkey in self.reader.repos.get((artist.did, LIST), {}) else "create"
            listed = self.value(artist, name or "", items, created)
            self.reader.put(artist.did, LIST, rkey, listed)
            if artist is self.ours:
                value, cid = listed, self.reader.repos[(artist.did, LIST)][rkey].cid
        self.indexing.index(self.theirs)
        report = self.ingest.apply([commit(self.ours.did, RecordOp(action, LIST, rkey, cid, value))])
        ours, theirs = snapshot(self.writer, self.ours, self.reader), snapshot(self.writer, self.theirs, self.reader)
        assert ours == theirs, _differences(ours, theirs)
        return dict(report.counts)


def test_a_list_applied_from_its_commit_leaves_what_the_indexer_leaves(repo: CatalogueRepository) -> None:
    both = Both(repo)
    first = [*RKEYS[:14]]
    # A new album of 14 singles, one named twice: from the commit.
    counts = both.step("l1", "Night Drive", [*first[:3], first[2], *first[3:]])
    assert counts["lists_applied"] == 1 and not counts.get("indexings")
    album = both.writer.artist_albums(both.ours.did)[0]
    assert (album.slug, album.track_count, album.total_plays) == ("night-drive", 14, sum(range(14)))
    # Reordered, then two items removed (they become singles): from the commit.
    assert both.step("l1", "Night Drive", list(reversed(first)))["lists_applied"] == 1
    assert both.step("l1", "Night Drive", first[:12])["lists_applied"] == 1
    # An item added back and a single appended.
    assert both.step("l1", "Night Drive", [*first[:13], RKEYS[15]])["lists_applied"] == 1
    # Another container (its list version not written by it: it may be newer than the
    # commit, as our API's attach is newer than its list's first echo): the indexer's.
    both.ingest = both.fresh()
    assert both.step("l1", "Night Drive", first[:13])["indexings"] == 1
    # A list naming a track not held, or another artist's: the indexer's.
    assert both.step("l2", "Mixed", [RKEYS[14], "t99"])["indexings"] == 1
    assert both.step("l3", "Borrowed", ["other:t15"])["indexings"] == 1
    # A track of another album (the indexer keeps it in the first list naming it).
    assert both.step("l4", "Stolen", [first[0], first[13]], created="2026-11-21T00:00:00Z")["indexings"] == 1
    assert both.step("l5", "Earlier", [first[1]], created="2026-10-01T00:00:00Z")["indexings"] == 1
    # Items removed while other albums exist (another list may name them): the indexer's.
    assert both.step("l1", "Night Drive", first[2:10])["indexings"] == 1
    # A rename: the indexer's (the slug moves, the former one redirects).
    assert both.step("l1", "Night Drive II", first[2:10])["indexings"] == 1
    assert both.writer.former_slugs(both.ours.did, album.id) == ["night-drive"]
    # A deleted list: the album goes, its tracks become singles.
    assert both.step("l1")["indexings"] == 1


def test_a_replayed_list_commit_changes_nothing(repo: CatalogueRepository) -> None:
    both = Both(repo)
    both.step("l1", "Again", RKEYS[:5])
    before = snapshot(both.writer, both.ours, both.reader)
    record = both.reader.repos[(both.ours.did, LIST)]["l1"]
    op = RecordOp("update", LIST, "l1", record.cid, record.value)
    for ingest in (both.ingest, both.fresh()):  # held, then read afresh (another container)
        counts = ingest.apply([commit(both.ours.did, op)]).counts
        assert counts["applied_own"] == 1 and not counts.get("lists_applied") and not counts.get("indexings")
    assert snapshot(both.writer, both.ours, both.reader) == before


def test_a_list_of_fourteen_held_tracks_costs_a_few_requests_and_no_pds_read(
    repo: CatalogueRepository,
) -> None:
    both = Both(repo)
    recorder, lists = Recorder(), Lists()
    ingest = firehose.ingest(
        FirehoseWiring.on(both.writer, firehose.RepoReads(list_records=lists)), index=recorder, verifier=TRUSTED
    )
    value = both.value(both.ours, "Fourteen", RKEYS[:14], "2026-11-20T00:00:00Z")
    ingest.held.held(both.ours.did, albums=True)  # the consumer holds the artist already
    with dynamodb_calls(both.writer.client) as calls:
        report = ingest.apply([commit(both.ours.did, RecordOp("create", LIST, "l1", "bafylist", value))])
    assert report.counts["lists_applied"] == 1
    assert recorder.runs == [] and lists.reads == 0
    # The repository's rev read and written, the transaction, the page's tombstone: the held
    # copy is not read again first (it was 3 more reads; lists.py reads again only when it
    # cannot decide), the page dropped with the batch's others.
    assert sum(calls.values()) <= 4, calls
    (album,) = both.writer.artist_albums(both.ours.did)
    assert (
        album.track_count == 14
        and [t.album_id for t in both.writer.artist_tracks(both.ours.did)][:14] == [album.id] * 14
    )


@pytest.mark.parametrize("held_first", [True, False])
def test_a_list_whose_album_is_under_a_requests_lease_goes_to_the_indexer(
    repo: CatalogueRepository, held_first: bool
) -> None:
    both = Both(repo)
    both.step("l1", "Leased", RKEYS[:3])
    (album,) = both.writer.artist_albums(both.ours.did)
    ingest = both.ingest  # the container that applied the list: it may update the album
    if not held_first:
        ingest.forget(both.ours.did)
    assert both.writer.lock_album(album.id, "request", 60) is not None
    value = both.value(both.ours, "Leased", RKEYS[:4], "2026-11-20T00:00:00Z")
    calls: list[str] = []
    ingest.indexing.indexer.run = lambda artist, repo, budget: calls.append(artist.did) or {}
    counts = ingest.apply([commit(both.ours.did, RecordOp("update", LIST, "l1", "bafyours", value))]).counts
    assert calls == [both.ours.did] and not counts.get("lists_applied")
    assert both.writer.get_album(album.id).list_cid != "bafyours"  # type: ignore[union-attr]


@pytest.mark.parametrize("background", [False, True])
def test_a_list_created_and_deleted_by_our_api_before_its_create_commit_comes_stays_deleted(
    repo: CatalogueRepository, background: bool
) -> None:
    """Our API created the album (its list record) and deleted it (within the request, or
    handed over: the album and its slug go, a cleanup job comes) before the consumer reached the
    list's create commit: the commit path must not create the album again (a ghost in the
    listing until the delete commit), the indexer reads the repository instead."""
    both = Both(repo)
    did, handle = both.ours.did, both.ours.handle
    value = both.value(both.ours, "Doomed", RKEYS[:3], "2026-11-20T00:00:00Z")
    both.reader.put(did, LIST, "l1", value)
    uri = f"at://{did}/{LIST}/l1"
    cid = both.reader.repos[(did, LIST)]["l1"].cid
    album = Album(
        id=album_id_for(uri),
        artist_did=did,
        slug="doomed",
        title="Doomed",
        list_uri=uri,
        list_cid=cid,
        created_at="2026-11-20T00:00:00Z",
    )
    both.writer.create_album(album, handle)
    if background:  # a large album: the cleanup job finishes it
        job = {"job_id": "j1", "status": "parked", "artist_did": did, "album_id": album.id, "handle": handle}
        CleanupJobs(both.writer).hand_over(album, handle, job)
    else:
        both.writer.delete_album_items(album, handle)
    both.reader.delete(uri)  # the cleanup job deleted the record on the PDS
    counts = both.ingest.apply([commit(did, RecordOp("create", LIST, "l1", cid, value))]).counts
    assert not counts.get("lists_applied") and counts["indexings"] == 1
    assert both.writer.get_album(album.id) is None and both.writer.artist_albums(did) == []
    assert album.id not in {a.id for a in both.writer.listed_albums_page(100, None)[0]}
    assert both.writer.find_album_by_slug(handle, "doomed") is None
    assert {t.album_id for t in both.writer.artist_tracks(did)} == {None}

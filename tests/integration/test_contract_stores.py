"""The behavioural contract of the smaller stores, each run against its in-memory fake
(tests/fakes) and its adapter on moto: the album-page cache, the cover store (S3), the deletion
jobs' hand-over, the developer tokens, the sessions and the firehose consumer's jobs."""

from __future__ import annotations

import os
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from albums_core import bootstrap
from albums_core.adapters.atproto.xrpc import Tokens
from albums_core.adapters.dynamodb import keys
from albums_core.adapters.dynamodb.catalogue import CatalogueWriter
from albums_core.adapters.dynamodb.developer_tokens import DynamoDeveloperTokens
from albums_core.adapters.dynamodb.jobs import CleanupJobs
from albums_core.adapters.dynamodb.page_cache import AlbumPageCache, now_ms
from albums_core.adapters.dynamodb.session_store import DynamoSessionStore
from albums_core.adapters.s3_covers import S3CoverStore
from albums_core.config import settings
from albums_core.domain.cover_images import JPEG, Cover
from albums_core.domain.errors import ConcurrentUpdate, InvalidSession, JobGone
from albums_core.domain.models import Album, TokenAccount
from tests.fakes import (
    FakeCatalogue,
    FakeCoverStore,
    FakeDeletionJobs,
    FakePageCache,
    FakePds,
    FakeSessionStore,
)
from tests.fakes.developer_tokens import FakeDeveloperTokens
from tests.fakes.jobs import FakeJobQueue


def _real(request: pytest.FixtureRequest) -> bool:
    if request.param == "fake":
        return False
    request.getfixturevalue("aws_env")
    return True


# ---- the album-page cache ------------------------------------------------------------------------


@pytest.fixture(params=["fake", "dynamodb"])
def cache(request: pytest.FixtureRequest) -> FakePageCache | AlbumPageCache:
    ttl = settings().cache_ttl_seconds
    return AlbumPageCache(ttl_seconds=ttl) if _real(request) else FakePageCache(ttl_seconds=ttl)


def test_cache_put_and_get(cache: FakePageCache | AlbumPageCache) -> None:
    assert cache.get("album#a#b") is None
    assert cache.put("album#a#b", "<page>", now_ms()) is True
    assert cache.get("album#a#b") == "<page>"
    assert cache.put("album#a#b", "<page 2>", now_ms()) is True
    assert cache.get("album#a#b") == "<page 2>"
    assert cache.get("album#a#other") is None


def test_cache_invalidation_wins_over_an_earlier_read(cache: FakePageCache | AlbumPageCache) -> None:
    started = now_ms() - 1_000  # a reader that started before the invalidation
    assert cache.put("k", "<old>", started) is True
    cache.invalidate("k")
    assert cache.get("k") is None
    assert cache.put("k", "<stale>", started) is False
    assert cache.get("k") is None
    assert cache.put("k", "<fresh>", now_ms() + 1_000) is True  # read after it
    assert cache.get("k") == "<fresh>"
    cache.invalidate("never-cached")  # a tombstone for a key never cached
    assert cache.put("never-cached", "<x>", started) is False


def test_cache_large_pages(cache: FakePageCache | AlbumPageCache) -> None:
    # Repetitive HTML compresses: a page over the item size is still cached compressed.
    big = "<li>track</li>" * 40_000  # 560 kB
    assert cache.put("big", big, now_ms()) is True
    assert cache.get("big") == big
    # Incompressible and over the item size: refused, nothing cached.
    noise = os.urandom(450_000).hex()  # compresses to about half: still over
    assert cache.put("noise", noise, now_ms()) is False
    assert cache.get("noise") is None


# ---- covers --------------------------------------------------------------------------------------


@pytest.fixture(params=["fake", "s3"])
def covers(request: pytest.FixtureRequest) -> FakeCoverStore | S3CoverStore:
    return S3CoverStore() if _real(request) else FakeCoverStore()


def cover(image_id: str = "abc123") -> Cover:
    return Cover(image_id, JPEG, b"\xff\xd8\xff original bytes", b"RIFF thumb WEBP")


def test_cover_put_read_delete(covers: FakeCoverStore | S3CoverStore) -> None:
    made = cover()
    covers.put(made)
    assert covers.read(made.key, 1_000) == made.original
    assert covers.read(made.thumbnail_key, 1_000) == made.thumbnail
    # At most one byte more than asked: the caller sees the object is too large.
    assert covers.read(made.key, 4) == made.original[:5]
    assert covers.read("images/missing.jpg", 1_000) is None
    covers.delete(made.thumbnail_key)
    assert covers.read(made.thumbnail_key, 1_000) is None
    covers.delete("images/missing.jpg")  # nothing there: no error


def test_cover_delete_image(covers: FakeCoverStore | S3CoverStore) -> None:
    gone, kept = cover("gone1"), cover("kept1")
    covers.put(gone)
    covers.put(kept)
    covers.delete_image("gone1")
    assert covers.read(gone.key, 1_000) is None and covers.read(gone.thumbnail_key, 1_000) is None
    assert covers.read(kept.key, 1_000) == kept.original
    covers.delete_image("none-such")


def test_cover_upload_form(covers: FakeCoverStore | S3CoverStore) -> None:
    form = covers.upload_form("uploads/xyz", 1_000, 60)
    assert set(form) == {"url", "fields"}
    assert form["fields"]["key"] == "uploads/xyz"


# ---- deletion jobs -------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["fake", "dynamodb"])
def test_hand_over_removes_the_album_and_keeps_a_job(request: pytest.FixtureRequest, kind: str) -> None:
    did = "did:plc:handover000000000000001"
    album = Album(id="al1", artist_did=did, slug="gone", title="Gone", created_at="2026-01-01T00:00:00Z")
    pds = FakePds(did)
    if kind == "fake":
        catalogue: FakeCatalogue | CatalogueWriter = FakeCatalogue()
        fake_jobs = FakeDeletionJobs(catalogue)  # type: ignore[arg-type]
        jobs: Any = fake_jobs
    else:
        request.getfixturevalue("aws_env")
        catalogue = bootstrap.catalogue()
        jobs = bootstrap.cleanup()  # the production DeletionJobs, wired
    catalogue.create_album(album, "artist.test")
    assert catalogue.lock_album(album.id, "tok", 60) is not None
    jobs.hand_over(album, "artist.test", True, pds)
    assert catalogue.get_album(album.id) is None
    assert catalogue.slug_owner(did, "gone") is None
    if kind == "fake":
        assert album.id in catalogue.gone  # type: ignore[union-attr]
        [job] = fake_jobs.jobs
        assert (job.album.id, job.handle, job.cascade, job.pds_url) == (album.id, "artist.test", True, pds.pds_url)
    else:
        [item] = CleanupJobs(catalogue).of_artist(did)  # type: ignore[arg-type]
        assert (item["album_id"], item["handle"], item["cascade"], item["pds_url"]) == (
            album.id,
            "artist.test",
            True,
            pds.pds_url,
        )
        # The album's tombstone (the firehose's commit path creates no album while it is there).
        tombstone = catalogue.db.get(keys.album_gone(album.id), consistent=True)  # type: ignore[union-attr]
        assert tombstone is not None and tombstone["expires_at"] > time.time() + 6 * 24 * 3600
    # The slug is free for a new album at once.
    catalogue.create_album(Album(id="al2", artist_did=did, slug="gone", title="Gone"), "artist.test")


# ---- developer tokens ----------------------------------------------------------------------------


@pytest.fixture(params=["fake", "dynamodb"])
def devtokens(request: pytest.FixtureRequest) -> FakeDeveloperTokens | DynamoDeveloperTokens:
    return DynamoDeveloperTokens() if _real(request) else FakeDeveloperTokens()


DEV = "did:plc:devtokens00000000000001"


def test_developer_tokens_save_and_load(devtokens: FakeDeveloperTokens | DynamoDeveloperTokens) -> None:
    assert devtokens.load(DEV, consistent=True) is None
    account = TokenAccount(DEV, tokens=[{"prefix": "p1", "name": "one", "created_at": "2026-01-01", "hash": "h1"}])
    devtokens.save(account, handle="Artist.Test", added=("h1", "p1"))
    assert account.version == 1
    loaded = devtokens.load(DEV, consistent=True)
    assert loaded is not None
    assert (loaded.version, loaded.tokens, loaded.last_used) == (1, account.tokens, {})
    assert devtokens.owner_of("h1") == (DEV, "p1")
    assert devtokens.owner_of("h2") is None
    assert devtokens.did_of_handle("artist.test") == DEV
    assert devtokens.did_of_handle("ARTIST.TEST") == DEV
    assert devtokens.did_of_handle("someone.else") is None
    devtokens.touch(DEV, "p1", 1234)
    loaded = devtokens.load(DEV, consistent=True)
    assert loaded is not None and loaded.last_used == {"p1": 1234}
    # A token removed: its lookup goes.
    loaded.tokens = []
    devtokens.save(loaded, removed="h1")
    assert devtokens.owner_of("h1") is None
    assert loaded.version == 2


def test_developer_tokens_refuse_a_stale_save(devtokens: FakeDeveloperTokens | DynamoDeveloperTokens) -> None:
    first = TokenAccount(DEV)
    devtokens.save(first, added=("h1", "p1"))
    with pytest.raises(ConcurrentUpdate):
        devtokens.save(TokenAccount(DEV))  # created meanwhile by another request
    stale = devtokens.load(DEV, consistent=True)
    assert stale is not None
    current = devtokens.load(DEV, consistent=True)
    assert current is not None
    devtokens.save(current)
    with pytest.raises(ConcurrentUpdate):
        devtokens.save(stale)
    # A token hash already in use: refused, nothing written.
    fresh = devtokens.load(DEV, consistent=True)
    assert fresh is not None
    with pytest.raises(ConcurrentUpdate):
        devtokens.save(fresh, added=("h1", "p9"))
    assert devtokens.owner_of("h1") == (DEV, "p1")
    reread = devtokens.load(DEV, consistent=True)
    assert reread is not None and reread.version == 2


def test_developer_tokens_touch_of_an_absent_account(devtokens: FakeDeveloperTokens | DynamoDeveloperTokens) -> None:
    devtokens.touch(DEV, "p1", 1234)  # the tokens went meanwhile: nothing, no error
    assert devtokens.load(DEV, consistent=True) is None


# ---- sessions ------------------------------------------------------------------------------------


@pytest.fixture(params=["fake", "dynamodb"])
def sessions(request: pytest.FixtureRequest) -> FakeSessionStore | DynamoSessionStore:
    if _real(request):
        return DynamoSessionStore()
    return FakeSessionStore(ttl_seconds=settings().session_ttl_seconds)


def test_session_create_load_delete(sessions: FakeSessionStore | DynamoSessionStore) -> None:
    made = sessions.create("did:plc:s1", "s1.test", "https://pds.example", Tokens("a1", "r1"))
    loaded = sessions.load(made.session_id)
    assert loaded == made
    assert (loaded.did, loaded.handle, loaded.pds_url, loaded.tokens) == (
        "did:plc:s1",
        "s1.test",
        "https://pds.example",
        Tokens("a1", "r1"),
    )
    other = sessions.create("did:plc:s1", "s1.test", "https://pds.example", Tokens("a2", "r2"))
    assert other.session_id != made.session_id
    sessions.store_tokens(loaded, Tokens("a3", "r3"))
    assert loaded.tokens == Tokens("a3", "r3")
    assert sessions.load(made.session_id).tokens == Tokens("a3", "r3")
    assert sessions.load(other.session_id).tokens == Tokens("a2", "r2")
    sessions.delete(made.session_id)
    with pytest.raises(InvalidSession):
        sessions.load(made.session_id)
    sessions.delete(made.session_id)  # already gone: no error


def test_session_unknown_or_malformed_ids(sessions: FakeSessionStore | DynamoSessionStore) -> None:
    for session_id in ("A" * 43, "", "not a session id", "x" * 500):
        with pytest.raises(InvalidSession):
            sessions.load(session_id)


def test_session_store_tokens_after_logout_is_refused(sessions: FakeSessionStore | DynamoSessionStore) -> None:
    """A refresh that finishes after the session was deleted (a logout meanwhile) does not bring
    the session back: the adapter's conditional update refuses it."""
    made = sessions.create("did:plc:s1", "s1.test", "https://pds.example", Tokens("a1", "r1"))
    sessions.delete(made.session_id)
    with pytest.raises(ClientError):
        sessions.store_tokens(made, Tokens("a2", "r2"))
    with pytest.raises(InvalidSession):
        sessions.load(made.session_id)


# ---- jobs the firehose consumer creates (an indexing to finish) ----------------------------------


@pytest.fixture(params=["fake", "dynamodb"])
def job_store(request: pytest.FixtureRequest) -> FakeJobQueue | CleanupJobs:
    return CleanupJobs() if _real(request) else FakeJobQueue()


def _job(job_id: str, **fields: Any) -> dict[str, Any]:
    return {"job_id": job_id, "kind": "index", "status": "pending", "artist_did": DEV, **fields}


def _fields(job: dict[str, Any] | None) -> dict[str, Any] | None:
    # The adapter's item carries its keys and index attributes; the job is the rest.
    return None if job is None else {k: v for k, v in job.items() if k not in ("pk", "sk", "gsi2pk", "gsi2sk")}


def test_jobs(job_store: FakeJobQueue | CleanupJobs) -> None:
    assert job_store.get("j1") is None
    assert job_store.create(_job("j1", cursor="c1")) is True
    assert _fields(job_store.get("j1")) == _job("j1", cursor="c1")
    assert job_store.create(_job("j1", cursor="c2"), only_new=True) is False  # kept as it is
    assert _fields(job_store.get("j1")) == _job("j1", cursor="c1")
    assert job_store.create(_job("j1", cursor="c3")) is True  # replaced
    assert _fields(job_store.get("j1")) == _job("j1", cursor="c3")
    job_store.finish("j1")
    assert job_store.get("j1") is None
    job_store.finish("j1")  # finished already: no error
    assert job_store.create(_job("j1"), only_new=True) is True


def test_a_finished_job_takes_no_status_nor_credentials(job_store: FakeJobQueue | CleanupJobs) -> None:
    # The cleanup hands a job on while another container may finish it: a late write must say
    # so (JobGone), never bring back part of a finished job.
    sealed = {"sealed_key": "k", "sealed_nonce": "n", "sealed_data": "d"}
    assert job_store.create(_job("j2")) is True
    job_store.set_status("j2", "parked")
    job_store.store_credentials("j2", sealed)
    assert _fields(job_store.get("j2")) == {**_job("j2", status="parked"), **sealed}
    job_store.finish("j2")
    with pytest.raises(JobGone):
        job_store.set_status("j2", "pending")
    with pytest.raises(JobGone):
        job_store.store_credentials("j2", sealed)
    assert job_store.get("j2") is None

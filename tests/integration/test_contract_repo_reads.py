"""The behavioural contract of the session-less repository reads live ingestion makes
(`albums_core.ports.firehose.PdsReader`), run against the fake (tests/fakes/firehose.py's
`FakeRepoReads`) and `RepoReads` on the real local PDS: listings, single records, repository
status."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from albums_core.adapters.atproto.record_cids import record_cid
from albums_core.adapters.atproto.repo_reads import RepoReads
from albums_core.domain.firehose_events import RepoStatus
from albums_core.domain.records import LIST, TRACK, new_tid
from tests.fakes.firehose import FakeRepoReads


@dataclass
class Repo:
    reads: Any
    did: str
    pds_url: str
    writer: Any = None  # the real artist's session

    def publish(self, title: str) -> str:
        value = {
            "$type": TRACK,
            "title": title,
            "artist": "Someone",
            "fileType": "mp3",
            "createdAt": "2026-01-01T00:00:00.000Z",
        }
        if self.writer is None:
            return str(self.reads.put(self.did, TRACK, new_tid(), value, cid=record_cid(value)))
        uri, _ = self.writer.create_record(TRACK, value)
        return str(uri)


@pytest.fixture(params=["fake", "local_pds"])
def repo(request: pytest.FixtureRequest) -> Repo:
    if request.param == "fake":
        reads = FakeRepoReads()
        reads.add_account("did:plc:fakereads0000000000000001")
        return Repo(reads, "did:plc:fakereads0000000000000001", "https://pds.example")
    artist = request.getfixturevalue("alice")
    return Repo(RepoReads(), artist.did, artist.pds.pds_url, artist.pds)


def test_list_records_newest_first(repo: Repo) -> None:
    empty = repo.reads.list_records(repo.pds_url, repo.did, TRACK)
    assert (empty.records, empty.complete) == ([], True)
    uris = [repo.publish(f"t{n}") for n in range(3)]
    listed = repo.reads.list_records(repo.pds_url, repo.did, TRACK)
    assert listed.complete
    assert [r.uri for r in listed.records] == uris[::-1]
    assert all(r.cid == record_cid(r.value) for r in listed.records)
    assert repo.reads.list_records(repo.pds_url, repo.did, LIST).records == []


def test_get_record(repo: Repo) -> None:
    uri = repo.publish("one")
    rkey = uri.rsplit("/", 1)[-1]
    found = repo.reads.get_record(repo.pds_url, repo.did, TRACK, rkey)
    assert found is not None and found.uri == uri and found.value["title"] == "one"
    assert found.cid == record_cid(found.value)
    assert repo.reads.get_record(repo.pds_url, repo.did, TRACK, new_tid()) is None
    assert repo.reads.get_record(repo.pds_url, repo.did, LIST, rkey) is None


def test_repo_status(repo: Repo) -> None:
    assert repo.reads.repo_status(repo.pds_url, repo.did) == RepoStatus(True, None)
    repo.publish("one")
    assert repo.reads.repo_status(repo.pds_url, repo.did) == RepoStatus(True, None)


def test_an_unknown_repository_is_deleted(repo: Repo) -> None:
    """A repository the PDS does not hold (never created, or gone) is answered as deleted, not
    as an active one: the consumer hides its artist."""
    unknown = "did:plc:unknownrepo00000000000001"
    assert repo.reads.repo_status(repo.pds_url, unknown) == RepoStatus(False, "deleted")

"""Live ingestion on the in-memory fakes (tests/fakes/firehose.py, likes.py): one world per test,
commits built by hand (the verifier is a fake: verification is tested in test_commit_verify.py)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from albums_core.domain.firehose_events import LIKE, LIST, TRACK, Commit, RecordOp
from albums_core.domain.models import Album, Artist, Track
from albums_core.services.firehose.ingest import Ingest
from tests.fakes.firehose import (
    FakeFirehoseCatalogue,
    FakeIdentities,
    FakeIndexer,
    FakePages,
    FakeRepoReads,
    FakeRepoStates,
    FakeVerifier,
)
from tests.fakes.likes import FakeLikeStore

_revs = itertools.count(1)
_seqs = itertools.count(1)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class World:
    catalogue: FakeFirehoseCatalogue = field(default_factory=FakeFirehoseCatalogue)
    pages: FakePages = field(default_factory=FakePages)
    pds: FakeRepoReads = field(default_factory=FakeRepoReads)
    identities: FakeIdentities = field(default_factory=FakeIdentities)
    indexer: FakeIndexer = field(default_factory=FakeIndexer)
    verifier: FakeVerifier = field(default_factory=FakeVerifier)
    clock: Clock = field(default_factory=Clock)

    def __post_init__(self) -> None:
        self.repos = FakeRepoStates(self.catalogue)
        self.likes = FakeLikeStore(self.catalogue)
        self.ingest = self.fresh()

    def fresh(self) -> Ingest:
        """Another container's ingestion over the same stores (nothing held)."""
        return Ingest(
            catalogue=self.catalogue,
            repos=self.repos,
            likes=self.likes,
            pages=self.pages,
            pds=self.pds,
            identities=self.identities,
            indexer=self.indexer,
            verifier=self.verifier,
            clock=self.clock,
        )

    def artist(self, name: str) -> Artist:
        did = f"did:plc:{name}{'x' * (24 - len(name))}"
        artist = Artist(did=did, handle=f"{name}.test", display_name=name, pds_url="https://pds.example")
        self.catalogue.artists[did] = artist
        self.identities.add(did, artist.handle)
        self.pds.add_account(did)  # its repository is on its PDS (an unknown one is deleted)
        return artist

    def album(self, artist: Artist, slug: str, *rkeys: str) -> tuple[Album, list[Track]]:
        album = Album(id=f"album-{slug}", artist_did=artist.did, slug=slug, title=slug.title())
        tracks = [track(artist, rkey, plays=2) for rkey in rkeys]
        held = self.catalogue.add_album(album, tracks)
        return self.catalogue.albums[album.id], held

    def track_of(self, artist: Artist, rkey: str) -> Track | None:
        return self.catalogue.by_uri(f"at://{artist.did}/{TRACK}/{rkey}")

    def like_counts(self, artist: Artist) -> dict[str, int]:
        return {str(t.record_uri).rsplit("/", 1)[1]: t.like_count for t in self.catalogue.artist_tracks(artist.did)}


def rev() -> str:
    return f"3m{next(_revs):011d}"


def commit(repo: str, *ops: RecordOp, at: str | None = None) -> Commit:
    return Commit(next(_seqs), repo, at or rev(), "2026-12-01T00:00:00Z", tuple(ops))


def value(title: str, **extra: Any) -> dict[str, Any]:
    created = "2026-11-01T00:00:00Z"
    return {"$type": TRACK, "title": title, "artist": "A", "fileType": "mp3", "createdAt": created, **extra}


def create(rkey: str, title: str, cid: str | None = None, **extra: Any) -> RecordOp:
    return RecordOp("create", TRACK, rkey, cid or f"bafy{rkey}", value(title, **extra))


def update(rkey: str, title: str, cid: str, **extra: Any) -> RecordOp:
    return RecordOp("update", TRACK, rkey, cid, value(title, **extra))


def delete(collection: str, rkey: str) -> RecordOp:
    return RecordOp("delete", collection, rkey)


def like(rkey: str, subject: Track | str) -> RecordOp:
    uri, cid = (subject, "bafyx") if isinstance(subject, str) else (subject.record_uri, subject.record_cid or "bafyx")
    return RecordOp("create", LIKE, rkey, f"bafylike{rkey}", {"$type": LIKE, "subject": {"uri": uri, "cid": cid}})


def like_value(subject: Track) -> dict[str, Any]:
    return {"$type": LIKE, "subject": {"uri": subject.record_uri, "cid": subject.record_cid or "bafyx"}}


def list_op(rkey: str, *uris: str) -> RecordOp:
    items = [{"subject": {"uri": u, "cid": "bafyz"}} for u in uris]
    return RecordOp("create", LIST, rkey, f"bafylist{rkey}", list_value(*uris) | {"items": items})


def list_value(*uris: str) -> dict[str, Any]:
    items = [{"subject": {"uri": u, "cid": "bafyz"}} for u in uris]
    return {"$type": LIST, "listType": "album", "name": "Named", "items": items}


def track(artist: Artist, rkey: str, plays: int = 0) -> Track:
    return Track(
        0,
        rkey.title(),
        artist.did,
        "",
        "mp3",
        "2026-11-01T00:00:00Z",
        record_uri=f"at://{artist.did}/{TRACK}/{rkey}",
        record_cid=f"bafy{rkey}",
        play_count=plays,
    )

"""Applying the firehose's events to the catalogue, idempotently (an application service). A
batch is planned per repository (planning.py), then applied: each repository's tracks and lists
(tracks.py, several repositories at once: together.py; or the indexer: indexing.py, within its
budget: aside.py), the likes whose blocks were missing read from the liker's PDS
(like_reads.py), the likes (likes.py), then identity and account events (accounts.py); the
album pages it changed are dropped once each, and the revs applied recorded (written at once,
or by the consumer before its checkpoint). A commit whose rev is not after the rev applied for
its repository is skipped without any work.

Nothing a relay says is taken on its word: a commit that would be applied is first checked
against its repository's signing key and Merkle tree (the `CommitCheck` port); one that does
not prove itself is counted (`unverified_commits`), logged and not applied."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from albums_core.domain.firehose_events import AccountChange, Event, IdentityChange
from albums_core.domain.read_budget import Clock
from albums_core.ports.firehose import (
    AlbumPages,
    CommitCheck,
    FirehoseCatalogue,
    IdentityResolver,
    LikeStore,
    PdsReader,
    RepoIndexer,
    RepoStates,
)
from albums_core.services.firehose.accounts import AccountIngest
from albums_core.services.firehose.aside import SetAside
from albums_core.services.firehose.held import HeldCatalogue
from albums_core.services.firehose.indexing import Indexing
from albums_core.services.firehose.like_reads import LikeReads
from albums_core.services.firehose.likes import LikeIngest
from albums_core.services.firehose.planning import BatchReport, Planner
from albums_core.services.firehose.together import add_up, apply_each
from albums_core.services.firehose.tracks import TrackIngest


class Ingest:
    def __init__(
        self,
        *,
        catalogue: FirehoseCatalogue,
        repos: RepoStates,
        likes: LikeStore,
        pages: AlbumPages,
        pds: PdsReader,
        identities: IdentityResolver,
        indexer: RepoIndexer,
        verifier: CommitCheck,
        clock: Clock = time.monotonic,
        defer_revs: bool = False,
    ) -> None:
        """`defer_revs`: the revs applied are written by `flush_revs` (the consumer's, before its
        checkpoint), not at the end of each batch."""
        self.verifier = verifier
        self.held = HeldCatalogue(catalogue, pages)
        self.planner = Planner(repos, verifier, defer_revs)
        self.aside = SetAside(catalogue, indexer, clock)
        self.likes = LikeIngest(self.held, likes, catalogue)
        self.like_reads = LikeReads(self.likes, likes, pds, identities, self.aside.budget)
        self.indexing = Indexing(self.held, catalogue, identities, indexer, self.likes, self.aside)
        self.tracks = TrackIngest(self.held, catalogue, pds, self.likes, self.indexing)
        self.accounts = AccountIngest(catalogue, repos, self.held, pds, identities, pages)

    def flush_revs(self) -> None:
        self.planner.flush_revs()

    def forget(self, did: str) -> None:
        """What is held of the artist is read again before it is used next."""
        self.held.forget(did)

    def apply(
        self,
        events: list[Event],
        now: Callable[[], datetime] | None = None,
        heartbeat: Callable[[], None] | None = None,
    ) -> BatchReport:
        """Apply a batch. `heartbeat` is called between units of work (a repository's tracks
        and lists, a transaction of likes, an identity): the consumer renews its lease there,
        so a long batch never outlives it (and it raises there when the lease was lost)."""
        beat = heartbeat or (lambda: None)
        report = BatchReport()
        self.held.begin_batch()
        self.indexing.discard()
        work, others = self.planner.plan(events, report)
        self.aside.requeue(report)
        # Tracks and lists first, so a like of a track published in the same batch finds it:
        # several repositories at once, then those that went to the indexer (several at once).
        entries = [entry for entry in work.values() if entry.index and not self.aside.now(entry, report)]
        parts = apply_each(entries, lambda entry, part: self.tracks.apply(entry, part, self.aside.budget()), beat)
        self.indexing.order([entry.did for entry in entries])
        self.indexing.run(beat)
        add_up(report, parts)
        for entry in work.values():
            if entry.likes_unread:
                self.like_reads.read_unread(entry, report)
        self.likes.apply([(entry.did, op) for entry in work.values() for op in entry.likes], report, beat)
        for event in others:
            if isinstance(event, IdentityChange):
                self.accounts.identity(event, report)
            elif isinstance(event, AccountChange):
                self.accounts.account(event, report)
            beat()
        self.held.flush_pages()
        self.planner.record_revs(work)
        self.planner.lags(work, (now or (lambda: datetime.now(UTC)))(), report)
        return report

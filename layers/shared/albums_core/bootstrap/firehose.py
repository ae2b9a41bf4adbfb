"""The live ingestion wired (the composition root of services/firehose/): the adapters built once
per container (`wiring()`), the services built from them per run. Handlers call `consumer(...)`
(consume_firehose) and `like_reread()` (the catalogue stream's like re-read jobs); a test builds
its own `FirehoseWiring.on(writer, ...)` over its tables and passes it in."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from albums_core.adapters.atproto.commit_verify import CommitVerifier
from albums_core.adapters.atproto.repo_reads import IdentityResolver, RepoReads
from albums_core.adapters.dynamodb.catalogue import CatalogueWriter
from albums_core.adapters.dynamodb.firehose_gaps import FirehoseGaps
from albums_core.adapters.dynamodb.firehose_state import FirehoseState
from albums_core.adapters.dynamodb.jobs import CleanupJobs
from albums_core.adapters.dynamodb.page_cache import AlbumPageCache
from albums_core.adapters.dynamodb.page_drops import AlbumPageDrops
from albums_core.domain.models import Artist
from albums_core.domain.read_budget import Clock, ReadBudget
from albums_core.ports import JobQueue
from albums_core.ports.firehose import CommitCheck
from albums_core.services.firehose.aside import repo_budget
from albums_core.services.firehose.consumer import Consumer, ConsumerConfig, Source
from albums_core.services.firehose.gap import GapBackfill
from albums_core.services.firehose.held import HeldCatalogue
from albums_core.services.firehose.ingest import Ingest
from albums_core.services.firehose.like_reads import LikeReads
from albums_core.services.firehose.like_reread import LikeReread, request_like_reread
from albums_core.services.firehose.likes import LikeIngest
from albums_core.services.indexer import Indexing

# The indexer's entry point: (artist, catalogue, budget) -> an IndexOutcome or counts.
IndexRun = Callable[[Artist, CatalogueWriter, ReadBudget], Any]


@cache
def _indexing(catalogue: CatalogueWriter) -> Indexing:
    """services/indexer.py on one catalogue, once per catalogue (the container's: once per
    container). Built here, not by albums_core.bootstrap, which imports this module."""
    from albums_core.adapters.atproto.gateway import AtprotoReader

    return Indexing(catalogue, AtprotoReader(), AlbumPageCache(), CleanupJobs(catalogue))


class CatalogueIndexer:
    """The `RepoIndexer` port: the indexer on one catalogue."""

    def __init__(self, catalogue: CatalogueWriter, run: IndexRun | None = None) -> None:
        self.catalogue = catalogue
        self.run = run or (lambda artist, repo, budget: self.indexing.index(artist, budget))
        self._indexing: Indexing | None = None
        self._lock = threading.Lock()  # a batch's indexings run in threads: one Indexing for all

    @property
    def indexing(self) -> Indexing:
        with self._lock:
            if self._indexing is None:
                self._indexing = _indexing(self.catalogue)
            return self._indexing

    def index(self, artist: Artist, budget: ReadBudget) -> Any:
        return self.run(artist, self.catalogue, budget)

    def request_backfill(self, artist: Artist, job_id: str | None = None) -> str | None:
        return self.indexing.request_backfill(artist, job_id=job_id)


@dataclass(frozen=True)
class FirehoseWiring:
    """Every adapter ingestion uses, on one catalogue table."""

    catalogue: CatalogueWriter
    state: FirehoseState
    gaps: FirehoseGaps
    jobs: JobQueue
    pages: AlbumPageDrops
    pds: RepoReads
    identities: IdentityResolver

    @classmethod
    def on(
        cls,
        catalogue: CatalogueWriter,
        pds: RepoReads | None = None,
        identities: IdentityResolver | None = None,
        cache: AlbumPageCache | None = None,
    ) -> FirehoseWiring:
        return cls(
            catalogue=catalogue,
            state=FirehoseState.on(catalogue),
            gaps=FirehoseGaps(catalogue),
            jobs=CleanupJobs(catalogue),
            pages=AlbumPageDrops(catalogue, cache),
            pds=pds or RepoReads(),
            identities=identities or IdentityResolver(),
        )


@cache
def wiring() -> FirehoseWiring:
    """The container's adapters (built at the first call, kept for its life)."""
    return FirehoseWiring.on(CatalogueWriter(), cache=AlbumPageCache())


def reset() -> None:
    """Forget the adapters built so far (albums_core.bootstrap.reset calls it)."""
    wiring.cache_clear()
    _indexing.cache_clear()


def ingest(
    wired: FirehoseWiring | None = None,
    index: IndexRun | None = None,
    verifier: CommitCheck | None = None,
    clock: Clock = time.monotonic,
    defer_revs: bool = False,
) -> Ingest:
    """A fresh ingestion (what it holds of the catalogue starts empty). The commit verifier is
    built per ingestion: it keeps its own counts and keys. `defer_revs`: the revs applied are
    written by the consumer before its checkpoints (consumer() below)."""
    w = wired or wiring()
    return Ingest(
        catalogue=w.catalogue,
        repos=w.state.repos,
        likes=w.state.likes,
        pages=w.pages,
        pds=w.pds,
        identities=w.identities,
        indexer=CatalogueIndexer(w.catalogue, index),
        verifier=verifier or CommitVerifier(),
        clock=clock,
        defer_revs=defer_revs,
    )


def _firehose_source(relay_url: str, cursor: int | None) -> Source:
    from albums_core.adapters.atproto.firehose import FirehoseSource  # the SDK: only when consuming

    return FirehoseSource(relay_url, cursor)


def gap_rereads(wired: FirehoseWiring) -> Callable[[str, str, int], GapBackfill]:
    """What makes a run's re-read after a gap: index jobs and like re-read jobs."""
    index_jobs = CatalogueIndexer(wired.catalogue)

    def make(source: str, holder: str, page_size: int) -> GapBackfill:
        return GapBackfill(
            source,
            holder,
            wired.gaps,
            request_index=lambda artist, job: index_jobs.request_backfill(artist, job_id=job),
            request_likes=lambda liker, job: request_like_reread(liker, wired.jobs, job_id=job),
            page_size=page_size,
        )

    return make


def consumer(
    config: ConsumerConfig,
    wired: FirehoseWiring | None = None,
    applier: Ingest | None = None,
    source_factory: Callable[[str, int | None], Source] = _firehose_source,
) -> Consumer:
    """One invocation's consumer (its own ingestion, as each invocation had)."""
    w = wired or wiring()
    return Consumer(
        config,
        applier or ingest(w, defer_revs=True),
        w.state.leases,
        gaps=gap_rereads(w),
        source_factory=source_factory,
    )


def like_reads(wired: FirehoseWiring | None = None, clock: Clock = time.monotonic) -> LikeReads:
    """The likes read from likers' repositories, without the rest of ingestion."""
    w = wired or wiring()
    held = HeldCatalogue(w.catalogue, w.pages)
    likes = LikeIngest(held, w.state.likes, w.catalogue)
    return LikeReads(likes, w.state.likes, w.pds, w.identities, lambda: repo_budget(clock))


def like_reread(wired: FirehoseWiring | None = None) -> LikeReread:
    """The catalogue stream's like re-read job."""
    w = wired or wiring()
    return LikeReread(w.jobs, like_reads(w).reread)

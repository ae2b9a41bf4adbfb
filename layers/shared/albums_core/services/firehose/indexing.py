"""A repository's records read again by the indexer (services/indexer.py) where the commits alone
cannot decide, and a repository we never indexed taken in whole (a backfill), within the
repository's budget per batch (aside.py).

A batch's indexings are queued (`index`) and run together once its other tracks are applied
(`run`): up to INDEX_WORKERS repositories at once, each a different artist's, since each waits
mostly on its PDS and on DynamoDB (a burst of album lists, one after another, was most of the
consumer's lag on the whole network's stream); what each changed is then counted in order."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from albums_core.domain.models import Artist
from albums_core.domain.read_budget import ReadBudget
from albums_core.domain.upstream import PdsUnavailable, UnknownIdentity, XrpcError
from albums_core.observability import logger
from albums_core.ports.firehose import FirehoseCatalogue, IdentityResolver, RepoIndexer
from albums_core.services.firehose.aside import SetAside
from albums_core.services.firehose.held import HeldCatalogue
from albums_core.services.firehose.likes import LikeIngest
from albums_core.services.firehose.planning import BatchReport, RepoWork
from albums_core.services.firehose.together import beating
from albums_core.services.indexer import IndexOutcome

# Repositories indexed at once within a batch (the lease renewed meanwhile: together.beating).
INDEX_WORKERS = 4

_Queued = tuple[RepoWork, Artist, BatchReport, ReadBudget]


class _Raised:
    """An indexing's unexpected failure, carried to the calling thread."""

    def __init__(self, exc: Exception) -> None:
        self.exc = exc


class Indexing:
    def __init__(
        self,
        held: HeldCatalogue,
        catalogue: FirehoseCatalogue,
        identities: IdentityResolver,
        indexer: RepoIndexer,
        likes: LikeIngest,
        aside: SetAside,
    ) -> None:
        self.held = held
        self.catalogue = catalogue
        self.identities = identities
        self.indexer = indexer
        self.likes = likes
        self.aside = aside
        self._queued: list[_Queued] = []

    def index(self, entry: RepoWork, artist: Artist, report: BatchReport, budget: ReadBudget) -> None:
        """Queued: run with the batch's others by `run`."""
        if not artist.pds_url:
            return
        self.held.forget(entry.did)  # whatever the indexing writes, the next batch reads afresh
        self._queued.append((entry, artist, report, budget))

    def order(self, dids: list[str]) -> None:
        """The queued indexings in the batch's order of repositories (they are queued from the
        threads that apply repositories at once: together.py)."""
        place = {did: n for n, did in enumerate(dids)}
        self._queued.sort(key=lambda item: place.get(item[0].did, len(place)))

    def discard(self) -> None:
        """A batch that failed leaves nothing queued (it is applied again event by event)."""
        self._queued = []

    def run(self, beat: Callable[[], None]) -> None:
        """The queued indexings, several at once, each then settled in the order queued."""
        queued, self._queued = self._queued, []
        outcomes = self._together(queued, beat) if len(queued) > 1 else [self._index(item) for item in queued]
        unexpected: Exception | None = None
        for (entry, _, report, budget), outcome in zip(queued, outcomes, strict=True):
            self.held.forget(entry.did)
            if isinstance(outcome, _Raised):
                unexpected = unexpected or outcome.exc
                continue
            self._settle(entry, report, budget, outcome)
            beat()
        if unexpected is not None:
            # Not a PDS failure: the batch fails as it did when indexings ran one by one
            # (the others are settled first: what they wrote is counted, set aside, adopted).
            raise unexpected

    def _together(self, queued: list[_Queued], beat: Callable[[], None]) -> list[Any]:
        """Their outcomes; the lease is renewed from this (the consumer's) thread meanwhile, so
        a burst of slow repositories never outlives it."""
        futures = beating([partial(self._index, item) for item in queued], INDEX_WORKERS, beat, "index")
        return [future.result() for future in futures]

    def _index(self, item: _Queued) -> Any:
        """The indexer's outcome, or the PDS failure that stopped it, or any other failure
        (wrapped: the others' outcomes are settled before it is raised)."""
        _, artist, _, budget = item
        budget.started = budget.clock()  # its time starts now, not when it was queued
        try:
            return self.indexer.index(artist, budget)
        except (PdsUnavailable, XrpcError) as exc:
            return exc
        except Exception as exc:  # noqa: BLE001 - raised by `run` once the others are settled
            return _Raised(exc)

    def _settle(self, entry: RepoWork, report: BatchReport, budget: ReadBudget, counts: Any) -> None:
        if isinstance(counts, (PdsUnavailable, XrpcError)):
            # The repository stays as it was here; its rev is not recorded, so a replay or the
            # next commit reads it again (and the sweep re-indexes a day-old artist anyway).
            entry.failed = True
            report.counts["failed_index"] += 1
            logger.warning("firehose indexing failed", extra={"did": entry.did, "error": str(counts)[:200]})
            return
        if isinstance(counts, IndexOutcome):
            if not counts.complete:
                self.aside.put(entry, budget, counts.job, report)
            else:
                self.aside.fits(entry.did)
            counts = counts.counts
        report.counts["applied"] += max(1, len(entry.ops))
        report.counts["indexings"] += 1
        if isinstance(counts, dict):
            for name, value in counts.items():
                if value:
                    report.counts[name] += int(value)
        if not isinstance(counts, dict) or counts.get("tracks_created"):
            self.likes.adopt_orphans(entry.did, None, report)

    def backfill_artist(self, did: str, report: BatchReport) -> Artist | None:
        """A repository we never indexed publishes our records: its artist, then the whole
        repository once with the indexer (the stream keeps it live from then on)."""
        try:
            who = self.identities.resolve(did)
        except UnknownIdentity:
            report.counts["skipped_unknown_identity"] += 1
            return None
        except (PdsUnavailable, XrpcError):
            report.counts["failed_identity"] += 1
            return None
        artist = Artist(did=did, handle=who.handle, display_name=who.handle, pds_url=who.pds_url)
        self.catalogue.upsert_artist(artist)
        self.held.forget(did)
        report.counts["backfills"] += 1
        logger.info("firehose backfill", extra={"did": did, "handle": who.handle})
        return self.catalogue.get_artist(did) or artist

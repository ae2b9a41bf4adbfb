"""A repository's records read again by the indexer (services/indexer.py) where the commits alone
cannot decide, and a repository we never indexed taken in whole (a backfill), within the
repository's budget per batch (aside.py)."""

from __future__ import annotations

from albums_core.domain.models import Artist
from albums_core.domain.read_budget import ReadBudget
from albums_core.domain.upstream import PdsUnavailable, UnknownIdentity, XrpcError
from albums_core.observability import logger
from albums_core.ports.firehose import FirehoseCatalogue, IdentityResolver, RepoIndexer
from albums_core.services.firehose.aside import SetAside
from albums_core.services.firehose.held import HeldCatalogue
from albums_core.services.firehose.likes import LikeIngest
from albums_core.services.firehose.planning import BatchReport, RepoWork
from albums_core.services.indexer import IndexOutcome


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

    def index(self, entry: RepoWork, artist: Artist, report: BatchReport, budget: ReadBudget) -> None:
        if not artist.pds_url:
            return
        self.held.forget(entry.did)  # whatever the indexing writes, the next batch reads afresh
        try:
            counts = self.indexer.index(artist, budget)
        except (PdsUnavailable, XrpcError) as exc:
            # The repository stays as it was here; its rev is not recorded, so a replay or the
            # next commit reads it again (and the sweep re-indexes a day-old artist anyway).
            entry.failed = True
            report.counts["failed_index"] += 1
            logger.warning("firehose indexing failed", extra={"did": entry.did, "error": str(exc)[:200]})
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

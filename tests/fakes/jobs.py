"""Deletion jobs in memory: the hand-over removes the album from the fake catalogue (as the
adapter's transaction does) and keeps the job, with the credentials it would seal."""

from __future__ import annotations

from dataclasses import dataclass

from albums_core.adapters.atproto.xrpc import Tokens
from albums_core.domain.models import Album
from albums_core.ports import Pds
from tests.fakes.catalogue import FakeCatalogue


@dataclass(frozen=True)
class Job:
    album: Album
    handle: str
    cascade: bool
    pds_url: str
    tokens: Tokens


class FakeDeletionJobs:
    def __init__(self, catalogue: FakeCatalogue) -> None:
        self.catalogue = catalogue
        self.jobs: list[Job] = []

    def hand_over(self, album: Album, handle: str, cascade: bool, pds: Pds) -> None:
        self.catalogue.faults.check("hand_over")
        self.catalogue.journal.add("catalogue", "hand_over")
        self.catalogue.albums.pop(album.id, None)
        self.catalogue.listed.discard(album.id)
        self.catalogue.leases.pop(album.id, None)
        if self.catalogue.slugs.get((album.artist_did, album.slug)) == album.id:
            del self.catalogue.slugs[(album.artist_did, album.slug)]
        self.catalogue.pointers.pop((handle, album.slug), None)
        self.jobs.append(
            Job(album, handle, cascade, pds.pds_url, Tokens(pds.tokens.access_jwt, pds.tokens.refresh_jwt))
        )

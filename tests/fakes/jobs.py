"""The catalogue's jobs in memory: the job items (`JobQueue`, the indexer's, the cleanup's and
the firehose's), and deletion jobs, whose hand-over removes the album from the fake catalogue
(as the adapter's transaction does) and keeps the job, with the credentials it would seal."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from albums_core.adapters.atproto.xrpc import Tokens
from albums_core.domain.errors import JobGone
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
        self.catalogue.gone.add(album.id)
        self.jobs.append(
            Job(album, handle, cascade, pds.pds_url, Tokens(pds.tokens.access_jwt, pds.tokens.refresh_jwt))
        )


class FakeJobQueue:
    """The catalogue's job items: a job is created once (`only_new`), runs, then goes."""

    def __init__(self) -> None:
        self.jobs: dict[str, dict[str, Any]] = {}
        self.finished: list[str] = []

    def hand_over(self, album: Album, handle: str, job: dict[str, Any]) -> None:
        self.jobs[str(job["job_id"])] = dict(job)

    def create(self, job: dict[str, Any], only_new: bool = False) -> bool:
        job_id = str(job["job_id"])
        if only_new and job_id in self.jobs:
            return False
        self.jobs[job_id] = dict(job)
        return True

    def get(self, job_id: str) -> dict[str, Any] | None:
        job = self.jobs.get(job_id)
        return dict(job) if job is not None else None

    def set_status(
        self, job_id: str, status: str, sealed: dict[str, Any] | None = None, session_ref: str | None = None
    ) -> None:
        job = self._running(job_id)
        job["status"] = status
        job.update(sealed or {})
        if session_ref is not None:
            job["session_ref"] = session_ref

    def store_credentials(self, job_id: str, sealed: dict[str, Any]) -> None:
        self._running(job_id).update(sealed)

    def _running(self, job_id: str) -> dict[str, Any]:
        # The adapter's conditional update: a job finished meanwhile is gone, never written back.
        if job_id not in self.jobs:
            raise JobGone()
        return self.jobs[job_id]

    def finish(self, job_id: str) -> None:
        if self.jobs.pop(job_id, None) is not None:
            self.finished.append(job_id)

    def of_artist(self, did: str, status: str | None = None) -> list[dict[str, Any]]:
        mine = [j for j in self.jobs.values() if j.get("artist_did") == did]
        return [dict(j) for j in mine if status is None or j["status"] == status]

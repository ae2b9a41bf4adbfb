"""Album deletions that do not fit in a request. The request deletes the list record and the
album (the album is gone from every read at once) and leaves a job item; the catalogue
stream hands the job to the cleanup function, which orphans or deletes the remaining tracks
on the PDS and in DynamoDB in batches, then the cover when nothing refers to it.

A job of an app-password session carries its own sealed copy of the session's PDS tokens, so
a later logout does not strand it. A job of an OAuth session refers to the session instead
(`session_ref`, the session's stored key): OAuth refresh tokens rotate and a spent one revokes
the grant, so there is one copy of the tokens and the job refreshes them under the session's
lease like any request. When the PDS refuses the tokens (or the session is gone), the job
parks; the artist's next sign-in hands it fresh credentials and it resumes. Every step is
idempotent: a job may run any number of times.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from typing import Any

from albums_core.domain.errors import InvalidSession, JobGone
from albums_core.domain.models import Album, Track
from albums_core.domain.record_edits import DELETE, MAX_WRITES, Edit
from albums_core.domain.records import now_iso
from albums_core.domain.sessions import Tokens
from albums_core.domain.upstream import AccountUnavailable, SealError, SessionRevoked, TokenRefused
from albums_core.observability import logger
from albums_core.ports import CleanupCatalogue, CoverObjects, JobQueue, PageCache, Pds, PdsWriter, Sealer, SessionStore
from albums_core.services.covers import delete_if_unreferenced

PENDING = "pending"
PARKED = "parked"
# Albums up to this size are deleted within the request; larger ones finish in the cleanup.
SYNC_DELETE_MAX_TRACKS = 100


def new_job(
    job_id: str, album: Album, handle: str, cascade: bool, pds_url: str, credentials: dict[str, Any]
) -> dict[str, Any]:
    """The job item; `credentials`: the session's reference, or the job's own sealed tokens."""
    return {
        "job_id": job_id,
        "kind": "album_delete",
        "status": PENDING,
        "album_id": album.id,
        "artist_did": album.artist_did,
        "handle": handle,
        "slug": album.slug,
        "cascade": cascade,
        "image_id": album.image_id,
        "pds_url": pds_url,
        "created_at": now_iso(),
        **credentials,
    }


def _drop_album_field(record: dict[str, Any]) -> dict[str, Any]:
    record.pop("album", None)
    return record


def albums_in_cleanup(jobs: JobQueue, did: str) -> set[str]:
    """The albums of an artist whose deletion a job is finishing (pending or parked): their
    remaining tracks are the job's, whatever their records still say."""
    return {str(j["album_id"]) for j in jobs.of_artist(did) if j.get("album_id")}


class Cleanup:
    """The cleanup jobs of large deletions; also the `DeletionJobs` port the album admin hands
    its deletions to."""

    def __init__(
        self,
        repo: CleanupCatalogue,
        jobs: JobQueue,
        sealer: Sealer,
        pds: PdsWriter,
        sessions: SessionStore,
        cache: PageCache,
        covers: CoverObjects,
    ) -> None:
        self.repo = repo
        self.jobs = jobs
        self.sealer = sealer
        self.pds = pds
        self.sessions = sessions
        self.cache = cache
        self.covers = covers

    def _sealed(self, tokens: Tokens, job_id: str) -> dict[str, Any]:
        payload = json.dumps({"access": tokens.access_jwt, "refresh": tokens.refresh_jwt}).encode()
        return self.sealer.seal(payload, f"job:{job_id}")

    def hand_over(self, album: Album, handle: str, cascade: bool, pds: Pds) -> None:
        """The album and its slug go, the job comes, in one transaction (the list record is
        already deleted on the PDS)."""
        job_id = uuid.uuid4().hex
        credentials = {"session_ref": pds.session_key} if pds.session_key else self._sealed(pds.tokens, job_id)
        job = new_job(job_id, album, handle, cascade, pds.pds_url, credentials)
        self.jobs.hand_over(album, handle, job)

    def remaining_tracks(self, album_id: str, limit: int | None = None) -> list[Track]:
        """The tracks still in a deleted album's partition (the next `limit` of them: handled
        ones are gone, so each batch reads only itself)."""
        return self.repo.album_tracks(album_id, limit)

    def _job_session(self, job: dict[str, Any]) -> Pds:
        """The job's own copy of an app-password session's tokens; refreshed ones are stored back."""
        job_id = str(job["job_id"])
        context = f"job:{job_id}"
        try:
            opened = json.loads(
                self.sealer.unseal({k: job[k] for k in ("sealed_key", "sealed_nonce", "sealed_data")}, context)
            )
        except (SealError, KeyError, ValueError) as exc:
            raise RuntimeError(f"job {job_id}: credentials do not open") from exc

        def store_back(tokens: Tokens) -> None:
            # JobGone: another run finished the job meanwhile, nothing left to keep them for.
            with contextlib.suppress(JobGone):
                self.jobs.store_credentials(job_id, self._sealed(tokens, job_id))

        tokens = Tokens(opened["access"], opened["refresh"])
        return self.pds.open_with_tokens(job["pds_url"], job["artist_did"], tokens, store_back)

    def _park(self, job_id: str) -> str:
        try:
            self.jobs.set_status(job_id, PARKED)
        except JobGone:
            return "gone"  # another run finished it meanwhile
        logger.info("cleanup parked until the artist signs in again", extra={"job_id": job_id})
        return PARKED

    def run_job(self, job_id: str, batch: int = MAX_WRITES) -> str:
        """Finish an album deletion; returns "done", "parked" or "gone" (already finished)."""
        job = self.jobs.get(job_id)
        if job is None:
            return "gone"
        if job["status"] == PARKED:
            return PARKED
        if job.get("session_ref"):
            try:
                pds = self.pds.open(self.sessions.load_by_key(str(job["session_ref"])))
            except InvalidSession:
                return self._park(job_id)
        else:
            pds = self._job_session(job)
        cascade = bool(job["cascade"])
        try:
            while True:
                tracks = self.repo.album_tracks(job["album_id"], batch)
                if not tracks:
                    break
                change = (lambda _: DELETE) if cascade else _drop_album_field
                cids = self.pds.apply_edits(pds, [Edit(t.record_uri, change) for t in tracks if t.record_uri])
                self.repo.release_tracks(tracks, cascade, cids)
        except (SessionRevoked, AccountUnavailable, TokenRefused):
            # Deactivated, taken down, or a session that cannot work: a later login resumes it.
            return self._park(job_id)
        if job.get("image_id"):
            delete_if_unreferenced(str(job["image_id"]), self.repo, self.covers)
        self.cache.invalidate(self.cache.album_key(str(job["handle"]), str(job["slug"])))
        self.jobs.finish(job_id)
        return "done"

    def albums_in_cleanup(self, did: str) -> set[str]:
        return albums_in_cleanup(self.jobs, did)

    def resume_parked(self, did: str, tokens: Tokens | None = None, session_ref: str = "") -> int:
        """At sign-in: parked jobs of the artist get the new session's credentials (a sealed copy
        of app-password tokens, or a reference to the OAuth session) and run again."""
        resumed = 0
        for item in self.jobs.of_artist(did, PARKED):
            job_id = str(item["job_id"])
            try:
                if session_ref:
                    self.jobs.set_status(job_id, PENDING, session_ref=session_ref)
                else:
                    assert tokens is not None
                    self.jobs.set_status(job_id, PENDING, self._sealed(tokens, job_id), session_ref="")
            except JobGone:
                continue  # finished meanwhile
            resumed += 1
        return resumed

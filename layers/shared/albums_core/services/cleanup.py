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

import json
import uuid
from typing import Any

from albums_core.adapters.atproto.record_writes import DELETE, MAX_WRITES, Edit, apply_edits
from albums_core.adapters.atproto.xrpc import DpopPdsSession, PdsSession, SessionRevoked, Tokens
from albums_core.adapters.dynamodb import keys
from albums_core.adapters.dynamodb.catalogue import CatalogueWriter
from albums_core.adapters.dynamodb.codec import from_item, to_item, to_value
from albums_core.adapters.dynamodb.page_cache import invalidate_album_cache
from albums_core.adapters.kms_sealer import SealError, seal, unseal
from albums_core.domain.errors import InvalidSession
from albums_core.domain.models import Album, Track
from albums_core.domain.records import now_iso
from albums_core.observability import logger
from albums_core.services.covers import delete_if_unreferenced

JOB = "JOB"
PENDING = "pending"
PARKED = "parked"
# Albums up to this size are deleted within the request; larger ones finish in the cleanup.
SYNC_DELETE_MAX_TRACKS = 100


def job_key(job_id: str) -> dict[str, str]:
    return {"pk": f"JOB#{job_id}", "sk": JOB}


def _sealed(tokens: Tokens, job_id: str) -> dict[str, Any]:
    payload = json.dumps({"access": tokens.access_jwt, "refresh": tokens.refresh_jwt}).encode()
    return seal(payload, f"job:{job_id}")


def job_item(
    album: Album, handle: str, cascade: bool, pds_url: str, tokens: Tokens, session_ref: str = ""
) -> dict[str, Any]:
    job_id = uuid.uuid4().hex
    credentials = {"session_ref": session_ref} if session_ref else _sealed(tokens, job_id)
    return {
        **job_key(job_id),
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
        "gsi2pk": f"JOBS#{album.artist_did}",
        "gsi2sk": f"{PENDING}#{job_id}",
        **credentials,
    }


def hand_over(repo: CatalogueWriter, album: Album, handle: str, cascade: bool, pds: PdsSession) -> None:
    """The album and its slug go, the job comes, in one transaction (the list record is
    already deleted on the PDS)."""
    session_ref = pds.session_key if isinstance(pds, DpopPdsSession) else ""
    job = job_item(album, handle, cascade, pds.pds_url, pds.tokens, session_ref)
    repo._transact(
        [
            repo._delete(keys.album(album.id)),
            repo._delete(
                keys.slug_claim(album.artist_did, album.slug),
                "attribute_not_exists(pk) OR album_id = :me",
                {":me": to_value(album.id)},
            ),
            repo._delete(keys.slug_pointer(handle, album.slug)),
            {"Put": {"TableName": repo.table, "Item": to_item(job)}},
        ]
    )


def remaining_tracks(repo: CatalogueWriter, album_id: str, limit: int | None = None) -> list[Track]:
    """The tracks still in a deleted album's partition (the next `limit` of them: handled ones
    are gone, so each batch reads only itself)."""
    params: dict[str, Any] = {
        "KeyConditionExpression": "pk = :pk AND begins_with(sk, :t)",
        "ExpressionAttributeValues": {":pk": to_value(keys.album_partition(album_id)), ":t": to_value("TRACK#")},
        "ConsistentRead": True,
    }
    if limit is None:
        return [Track.from_data(i) for i in repo._query_all(**params)]
    out = repo.client.query(TableName=repo.table, Limit=limit, **params)
    return [Track.from_data(from_item(i)) for i in out.get("Items", [])]


def _set_status(repo: CatalogueWriter, job: dict[str, Any], status: str, **extra: Any) -> None:
    values = {":s": to_value(status), ":g": to_value(f"{status}#{job['job_id']}")}
    expression = "SET #st = :s, gsi2sk = :g"
    for i, (name, value) in enumerate(extra.items()):
        expression += f", {name} = :x{i}"
        values[f":x{i}"] = to_value(value)
    repo.client.update_item(
        TableName=repo.table,
        Key=to_item(job_key(job["job_id"])),
        UpdateExpression=expression,
        ExpressionAttributeNames={"#st": "status"},
        ExpressionAttributeValues=values,
        ConditionExpression="attribute_exists(pk)",
    )


def load_job(repo: CatalogueWriter, job_id: str) -> dict[str, Any] | None:
    item = repo.client.get_item(TableName=repo.table, Key=to_item(job_key(job_id)), ConsistentRead=True).get("Item")
    return from_item(item) if item else None


def _job_session(repo: CatalogueWriter, job: dict[str, Any]) -> PdsSession:
    """The job's own copy of an app-password session's tokens; refreshed ones are stored back."""
    job_id = str(job["job_id"])
    context = f"job:{job_id}"
    try:
        opened = json.loads(unseal({k: job[k] for k in ("sealed_key", "sealed_nonce", "sealed_data")}, context))
    except (SealError, KeyError, ValueError) as exc:
        raise RuntimeError(f"job {job_id}: credentials do not open") from exc

    def store_back(tokens: Tokens) -> None:
        sealed = _sealed(tokens, job_id)
        repo.client.update_item(
            TableName=repo.table,
            Key=to_item(job_key(job_id)),
            UpdateExpression="SET sealed_key = :k, sealed_nonce = :n, sealed_data = :d",
            ExpressionAttributeValues={
                f":{c}": to_value(sealed[f"sealed_{name}"]) for c, name in (("k", "key"), ("n", "nonce"), ("d", "data"))
            },
        )

    return PdsSession(job["pds_url"], job["artist_did"], Tokens(opened["access"], opened["refresh"]), store_back)


def run_job(job_id: str, repo: CatalogueWriter | None = None, batch: int = MAX_WRITES) -> str:
    """Finish an album deletion; returns "done", "parked" or "gone" (already finished)."""
    repo = repo or CatalogueWriter()
    job = load_job(repo, job_id)
    if job is None:
        return "gone"
    if job["status"] == PARKED:
        return PARKED
    if job.get("session_ref"):
        from albums_core.adapters.dynamodb.session_store import load_session_by_key, pds_session

        try:
            pds = pds_session(load_session_by_key(str(job["session_ref"])))
        except InvalidSession:
            _set_status(repo, job, PARKED)
            logger.info("cleanup parked until the artist signs in again", extra={"job_id": job_id})
            return PARKED
    else:
        pds = _job_session(repo, job)
    cascade = bool(job["cascade"])
    try:
        while True:
            tracks = remaining_tracks(repo, job["album_id"], batch)
            if not tracks:
                break
            change = (lambda _: DELETE) if cascade else _drop_album_field
            cids = apply_edits(pds, [Edit(t.record_uri, change) for t in tracks if t.record_uri])
            repo.release_tracks(tracks, cascade, cids)
    except SessionRevoked:
        _set_status(repo, job, PARKED)
        logger.info("cleanup parked until the artist logs in again", extra={"job_id": job_id})
        return PARKED
    if job.get("image_id"):
        delete_if_unreferenced(str(job["image_id"]), repo)
    invalidate_album_cache(str(job["handle"]), str(job["slug"]))
    repo.client.delete_item(TableName=repo.table, Key=to_item(job_key(job_id)))
    return "done"


def _drop_album_field(record: dict[str, Any]) -> dict[str, Any]:
    record.pop("album", None)
    return record


def albums_in_cleanup(repo: CatalogueWriter, did: str) -> set[str]:
    """The albums of an artist whose deletion a job is finishing (pending or parked): their
    remaining tracks are the job's, whatever their records still say."""
    jobs = repo._query_all(
        IndexName="gsi2",
        KeyConditionExpression="gsi2pk = :p",
        ExpressionAttributeValues={":p": to_value(f"JOBS#{did}")},
    )
    return {str(j["album_id"]) for j in jobs if j.get("album_id")}


def resume_parked(repo: CatalogueWriter | None, did: str, tokens: Tokens | None = None, session_ref: str = "") -> int:
    """At sign-in: parked jobs of the artist get the new session's credentials (a sealed copy
    of app-password tokens, or a reference to the OAuth session) and run again."""
    repo = repo or CatalogueWriter()
    items = repo._query_all(
        IndexName="gsi2",
        KeyConditionExpression="gsi2pk = :p AND begins_with(gsi2sk, :s)",
        ExpressionAttributeValues={":p": to_value(f"JOBS#{did}"), ":s": to_value(f"{PARKED}#")},
    )
    for item in items:
        job_id = item["job_id"]
        if session_ref:
            _set_status(repo, item, PENDING, session_ref=session_ref)
            continue
        assert tokens is not None
        sealed = _sealed(tokens, job_id)
        _set_status(
            repo,
            item,
            PENDING,
            sealed_key=sealed["sealed_key"],
            sealed_nonce=sealed["sealed_nonce"],
            sealed_data=sealed["sealed_data"],
            session_ref="",
        )
    return len(items)

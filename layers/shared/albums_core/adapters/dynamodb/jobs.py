"""Cleanup jobs in the catalogue table: one item per album deletion that did not finish within
its request, listed under its artist (gsi2) by status. The item is what the catalogue stream
hands to the cleanup function, so its creation is a transaction with the album's removal."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from albums_core.adapters.dynamodb import keys
from albums_core.adapters.dynamodb.catalogue import CatalogueWriter
from albums_core.adapters.dynamodb.catalogue_albums import tombstone
from albums_core.adapters.dynamodb.codec import to_item, to_value
from albums_core.domain.errors import JobGone
from albums_core.domain.models import Album

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import UpdateItemInputTypeDef

_SEALED = ("sealed_key", "sealed_nonce", "sealed_data")


class CleanupJobs:
    """The job store. Jobs are plain dicts of their fields (`job_id`, `status`, `album_id`,
    `artist_did`, `handle`, `slug`, `cascade`, `image_id`, `pds_url`, `created_at` and the
    sealed credentials); the keys and index attributes are this store's business."""

    def __init__(self, catalogue: CatalogueWriter | None = None) -> None:
        self.catalogue = catalogue or CatalogueWriter()
        self.db = self.catalogue.db

    def _item(self, job: dict[str, Any]) -> dict[str, Any]:
        return {
            **job,
            **keys.job(job["job_id"]),
            "gsi2pk": keys.jobs_of(job["artist_did"]),
            "gsi2sk": keys.job_status_sort(job["status"], job["job_id"]),
        }

    def hand_over(self, album: Album, handle: str, job: dict[str, Any]) -> None:
        """The album and its slug go, the job and the album's tombstone come, in one transaction."""
        db = self.db
        db.transact(
            [
                db.delete_action(keys.album(album.id)),
                db.delete_action(
                    keys.slug_claim(album.artist_did, album.slug),
                    "attribute_not_exists(pk) OR album_id = :me",
                    {":me": to_value(album.id)},
                ),
                db.delete_action(keys.slug_pointer(handle, album.slug)),
                tombstone(db, album.id),
                db.put(self._item(job)),
            ]
        )

    def create(self, job: dict[str, Any], only_new: bool = False) -> bool:
        """A job of its own (an indexing a login left unfinished): its item alone. With
        `only_new`, a job of that id that exists already is left as it is (False)."""
        db = self.db
        try:
            if only_new:
                db.client.put_item(
                    TableName=db.name, Item=to_item(self._item(job)), ConditionExpression="attribute_not_exists(pk)"
                )
            else:
                db.client.put_item(TableName=db.name, Item=to_item(self._item(job)))
        except ClientError as exc:
            if only_new and exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def get(self, job_id: str) -> dict[str, Any] | None:
        return self.db.get(keys.job(job_id), consistent=True)

    def set_status(
        self, job_id: str, status: str, sealed: dict[str, Any] | None = None, session_ref: str | None = None
    ) -> None:
        """Move a job to `status` (with fresh sealed credentials, or a reference to the OAuth
        session whose tokens it uses, when given: "" drops the reference); JobGone when it has
        finished meanwhile."""
        values = {":s": to_value(status), ":g": to_value(keys.job_status_sort(status, job_id))}
        expression = "SET #st = :s, gsi2sk = :g"
        for i, name in enumerate(_SEALED):
            if sealed is not None:
                expression += f", {name} = :x{i}"
                values[f":x{i}"] = to_value(sealed[name])
        if session_ref is not None:
            expression += ", session_ref = :ref"
            values[":ref"] = to_value(session_ref)
        self._update(job_id, expression, values, {"#st": "status"}, "attribute_exists(pk)")

    def store_credentials(self, job_id: str, sealed: dict[str, Any]) -> None:
        """Keep the refreshed PDS tokens a running job was handed (sealed by the caller); JobGone
        when it has finished meanwhile (an unconditional write would bring back part of it)."""
        values = {f":x{i}": to_value(sealed[name]) for i, name in enumerate(_SEALED)}
        expression = "SET " + ", ".join(f"{name} = :x{i}" for i, name in enumerate(_SEALED))
        self._update(job_id, expression, values, None, "attribute_exists(pk)")

    def _update(
        self,
        job_id: str,
        expression: str,
        values: dict[str, Any],
        names: dict[str, str] | None,
        condition: str | None,
    ) -> None:
        db = self.db
        params: UpdateItemInputTypeDef = {
            "TableName": db.name,
            "Key": to_item(keys.job(job_id)),
            "UpdateExpression": expression,
            "ExpressionAttributeValues": values,
        }
        if names:
            params["ExpressionAttributeNames"] = names
        if condition:
            params["ConditionExpression"] = condition
        try:
            db.client.update_item(**params)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise JobGone() from exc
            raise

    def finish(self, job_id: str) -> None:
        self.db.client.delete_item(TableName=self.db.name, Key=to_item(keys.job(job_id)))

    def of_artist(self, did: str, status: str | None = None) -> list[dict[str, Any]]:
        """The artist's jobs (in every status, or in `status` only)."""
        values = {":p": to_value(keys.jobs_of(did))}
        condition = "gsi2pk = :p"
        if status is not None:
            condition += " AND begins_with(gsi2sk, :s)"
            values[":s"] = to_value(keys.job_status_prefix(status))
        return self.db.query_all(IndexName="gsi2", KeyConditionExpression=condition, ExpressionAttributeValues=values)

"""Attaching a cover to an album: objects stored under a content-hash key, the album updated,
the page cache invalidated, and the previous cover deleted only when nothing refers to it."""

from __future__ import annotations

import uuid
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import ClientError

from albums_core.adapters.aws_clients import client
from albums_core.adapters.dynamodb import keys
from albums_core.adapters.dynamodb.catalogue import CatalogueWriter
from albums_core.adapters.dynamodb.codec import to_value
from albums_core.adapters.dynamodb.page_cache import invalidate_album_cache
from albums_core.config import settings
from albums_core.domain.cover_images import MAX_UPLOAD_BYTES, Cover
from albums_core.domain.errors import AlbumNotFound
from albums_core.domain.models import Album
from albums_core.domain.records import now_iso
from albums_core.observability import logger, metrics

UPLOAD_PREFIX = "uploads/"
UPLOAD_URL_SECONDS = 600
_IMMUTABLE = "public, max-age=31536000, immutable"


def bucket() -> str:
    return settings().covers_bucket


def public_url(key: str) -> str:
    return f"{settings().covers_base_url}/{key}"


def store(cover: Cover) -> None:
    s3 = client("s3")
    s3.put_object(
        Bucket=bucket(),
        Key=cover.key,
        Body=cover.original,
        ContentType=cover.kind.content_type,
        CacheControl=_IMMUTABLE,
    )
    s3.put_object(
        Bucket=bucket(),
        Key=cover.thumbnail_key,
        Body=cover.thumbnail,
        ContentType="image/webp",
        CacheControl=_IMMUTABLE,
    )


def is_referenced(image_id: str, repo: CatalogueWriter) -> bool:
    out = repo.client.query(
        TableName=repo.table,
        IndexName="by_image",
        KeyConditionExpression="image_key = :k",
        ExpressionAttributeValues={":k": to_value(keys.image_key(image_id))},
        Limit=1,
        Select="COUNT",
    )
    return int(out.get("Count", 0)) > 0


def delete_if_unreferenced(image_id: str, repo: CatalogueWriter) -> bool:
    """Delete a cover's objects when no album or track refers to it any more. The index is
    eventually consistent: a reference it still shows keeps the objects (the sweep of
    unreferenced objects collects them later); it never deletes a cover in use."""
    if is_referenced(image_id, repo):
        return False
    s3 = client("s3")
    listed = s3.list_objects_v2(Bucket=bucket(), Prefix=f"images/{image_id}")
    objects = [{"Key": o["Key"]} for o in listed.get("Contents", [])]
    if objects:
        s3.delete_objects(Bucket=bucket(), Delete={"Objects": objects, "Quiet": True})
    return True


def attach(album: Album, handle: str, cover: Cover, repo: CatalogueWriter | None = None) -> dict[str, Any]:
    repo = repo or CatalogueWriter()
    store(cover)
    old = album.image_id
    try:
        updated = repo.set_album_fields(
            album,
            image_id=cover.image_id,
            image_url=public_url(cover.key),
            thumbnail_url=public_url(cover.thumbnail_key),
            updated_at=now_iso(),
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        # The album was deleted while the image was processed: the objects just stored are
        # nobody's (unless another album or track shares the image) and must not linger.
        delete_if_unreferenced(cover.image_id, repo)
        raise AlbumNotFound() from exc
    invalidate_album_cache(handle, album.slug)
    metrics.add_metric(name="CoverAccepted", unit=MetricUnit.Count, value=1)
    if old and old != cover.image_id:
        try:
            delete_if_unreferenced(old, repo)
        except Exception:  # noqa: BLE001 - the new cover stands; the sweep collects the old one
            logger.warning("old cover not deleted", extra={"image_id": old}, exc_info=True)
    return {"image_url": updated.image_url, "image_id": cover.image_id, "thumbnail_url": updated.thumbnail_url}


def upload_form(album: Album) -> dict[str, Any]:
    """A presigned POST for a cover too large for a direct upload: one key under the upload
    prefix, a size range and an image content type enforced by S3."""
    key = f"{UPLOAD_PREFIX}{album.id}/{uuid.uuid4().hex}"
    form = client("s3").generate_presigned_post(
        Bucket=bucket(),
        Key=key,
        Conditions=[["content-length-range", 1, MAX_UPLOAD_BYTES], ["starts-with", "$Content-Type", "image/"]],
        ExpiresIn=UPLOAD_URL_SECONDS,
    )
    return {
        "url": form["url"],
        "fields": form["fields"],
        "key": key,
        "max_bytes": MAX_UPLOAD_BYTES,
        "expires_in": UPLOAD_URL_SECONDS,
    }


def album_of_upload(key: str) -> str | None:
    parts = key.split("/")
    if len(parts) != 3 or parts[0] + "/" != UPLOAD_PREFIX:
        return None
    try:
        return str(uuid.UUID(parts[1]))
    except ValueError:
        return None

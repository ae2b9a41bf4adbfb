"""The covers bucket: cover objects under content-hash keys (images/), uploads waiting for
their check (uploads/), presigned upload forms, and the listings the sweep walks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from albums_core.adapters.aws_clients import s3
from albums_core.config import settings
from albums_core.domain.cover_images import IMAGE_PREFIX, Cover

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_IMMUTABLE = "public, max-age=31536000, immutable"
_DELETE_MAX = 1000  # keys in one DeleteObjects


@dataclass(frozen=True)
class StoredObject:
    key: str
    last_modified: datetime


class S3CoverStore:
    def __init__(self, bucket: str | None = None) -> None:
        self.bucket = bucket or settings().covers_bucket

    @property
    def s3(self) -> S3Client:
        return s3()

    def put(self, cover: Cover) -> None:
        """The original and its thumbnail, cached for good (their keys change with the bytes)."""
        self.s3.put_object(
            Bucket=self.bucket,
            Key=cover.key,
            Body=cover.original,
            ContentType=cover.kind.content_type,
            CacheControl=_IMMUTABLE,
        )
        self.s3.put_object(
            Bucket=self.bucket,
            Key=cover.thumbnail_key,
            Body=cover.thumbnail,
            ContentType="image/webp",
            CacheControl=_IMMUTABLE,
        )

    def delete_image(self, image_id: str) -> None:
        """Every object of one cover (original and thumbnail)."""
        listed = self.s3.list_objects_v2(Bucket=self.bucket, Prefix=f"{IMAGE_PREFIX}{image_id}")
        self.delete_keys([o["Key"] for o in listed.get("Contents", [])])

    def delete_keys(self, object_keys: list[str]) -> None:
        for start in range(0, len(object_keys), _DELETE_MAX):
            chunk = object_keys[start : start + _DELETE_MAX]
            self.s3.delete_objects(Bucket=self.bucket, Delete={"Objects": [{"Key": k} for k in chunk], "Quiet": True})

    def delete(self, key: str) -> None:
        self.s3.delete_object(Bucket=self.bucket, Key=key)

    def read(self, key: str, max_bytes: int) -> bytes | None:
        """At most `max_bytes` + 1 bytes of an object (so a caller sees it is too large), or None
        when the object is not there (already handled and deleted)."""
        try:
            body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise
        return bytes(body.read(max_bytes + 1))

    def upload_form(self, key: str, max_bytes: int, expires_in: int) -> dict[str, Any]:
        """A presigned POST for one key: a size range and an image content type enforced by S3."""
        form = self.s3.generate_presigned_post(
            Bucket=self.bucket,
            Key=key,
            Conditions=[["content-length-range", 1, max_bytes], ["starts-with", "$Content-Type", "image/"]],
            ExpiresIn=expires_in,
        )
        return {"url": form["url"], "fields": form["fields"]}

    def list_page(self, prefix: str, limit: int, cursor: str | None) -> tuple[list[StoredObject], str | None]:
        """One page of the objects under `prefix`; the cursor of the next page (None at the end)."""
        params: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix, "MaxKeys": limit}
        if cursor:
            params["ContinuationToken"] = cursor
        out = self.s3.list_objects_v2(**params)
        following = out.get("NextContinuationToken") if out.get("IsTruncated") else None
        return [StoredObject(o["Key"], o["LastModified"]) for o in out.get("Contents", [])], following

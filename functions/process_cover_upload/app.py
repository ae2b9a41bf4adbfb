"""S3 ObjectCreated under uploads/: check an uploaded cover exactly like a direct upload, attach
it to its album, and delete the upload either way."""

from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from albums_core.adapters.aws_clients import client
from albums_core.adapters.dynamodb.catalogue import CatalogueWriter
from albums_core.domain.cover_images import MAX_UPLOAD_BYTES, process
from albums_core.domain.errors import ServiceError
from albums_core.observability import S3_REQUEST_ID, logger, metrics, trigger_entry
from albums_core.services.covers import album_of_upload, attach, bucket


def _handle(key: str, size: int) -> str:
    s3 = client("s3")
    repo = CatalogueWriter()
    try:
        album_id = album_of_upload(key)
        album = repo.get_album(album_id) if album_id else None
        if album is None:
            raise ServiceError("upload for an unknown album")
        if size > MAX_UPLOAD_BYTES:
            raise ServiceError("upload larger than allowed")
        try:
            data = s3.get_object(Bucket=bucket(), Key=key)["Body"].read(MAX_UPLOAD_BYTES + 1)
        except s3.exceptions.NoSuchKey:
            return "gone"  # delivered again after it was handled: nothing left to do
        artist = repo.get_artist(album.artist_did)
        if artist is None:
            raise ServiceError("album without an artist")
        attach(album, artist.handle, process(data, max_bytes=MAX_UPLOAD_BYTES), repo)
        outcome = "attached"
    except ServiceError as exc:
        metrics.add_metric(name="CoverRejected", unit=MetricUnit.Count, value=1)
        logger.info("cover upload rejected", extra={"key": key, "reason": exc.detail})
        outcome = "rejected"
    # Attached covers live under images/; the upload itself is never kept.
    s3.delete_object(Bucket=bucket(), Key=key)
    return outcome


@trigger_entry(S3_REQUEST_ID)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    outcomes = {}
    for record in event.get("Records", []):
        if record.get("eventSource") != "aws:s3" or not record.get("eventName", "").startswith("ObjectCreated"):
            continue
        obj = record["s3"]["object"]
        key = unquote_plus(obj["key"])
        outcomes[key] = _handle(key, int(obj.get("size", 0)))
    return {"processed": outcomes}

"""S3 ObjectCreated under uploads/: check an uploaded cover exactly like a direct upload, attach
it to its album, and delete the upload either way."""

from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.data_classes import S3Event, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from albums_core import bootstrap
from albums_core.observability import S3_REQUEST_ID, trigger_entry


@trigger_entry(S3_REQUEST_ID)
@event_source(data_class=S3Event)
def lambda_handler(event: S3Event, context: LambdaContext) -> dict[str, Any]:
    outcomes = {}
    for record in event.records if "Records" in event else ():
        if record.get("eventSource") != "aws:s3" or not str(record.get("eventName", "")).startswith("ObjectCreated"):
            continue
        obj = record.s3.get_object
        key = unquote_plus(obj.key)  # S3 sends the key URL-encoded
        outcomes[key] = bootstrap.covers().accept_upload(key, int(obj.get("size") or 0))
    return {"processed": outcomes}

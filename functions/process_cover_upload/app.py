"""S3 ObjectCreated under uploads/: check an uploaded cover exactly like a direct upload, attach
it to its album, and delete the upload either way."""

from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.typing import LambdaContext

from albums_core import bootstrap
from albums_core.observability import S3_REQUEST_ID, trigger_entry


@trigger_entry(S3_REQUEST_ID)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    outcomes = {}
    for record in event.get("Records", []):
        if record.get("eventSource") != "aws:s3" or not record.get("eventName", "").startswith("ObjectCreated"):
            continue
        obj = record["s3"]["object"]
        key = unquote_plus(obj["key"])
        outcomes[key] = bootstrap.covers().accept_upload(key, int(obj.get("size", 0)))
    return {"processed": outcomes}

"""The dead-letter queue of the catalogue stream's records (SQS)."""

from __future__ import annotations

import json
from typing import Any

from albums_core.adapters.aws_clients import client
from albums_core.config import settings


def send(record: dict[str, Any], reason: str) -> None:
    """The whole record and why it was given up, for `tools.redrive` to replay."""
    client("sqs").send_message(
        QueueUrl=settings().dead_letter_queue_url,
        MessageBody=json.dumps({"record": record, "reason": reason}, default=str),
    )

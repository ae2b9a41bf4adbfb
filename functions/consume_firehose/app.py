"""The firehose consumer (a Schedule event in template.yaml): holds the relay's stream until
shortly before its timeout, applying events and checkpointing as it goes; one invocation at a
time holds the lease, and a scheduled one that finds it held returns at once."""

import os
from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from albums_core.bootstrap import firehose
from albums_core.config import require
from albums_core.observability import logger, trigger_entry
from albums_core.services.firehose.consumer import ConsumerConfig

RELAY_URL = require("RELAY_URL")[0]
_START = os.environ.get("FIREHOSE_START_CURSOR", "").strip()
START_CURSOR = int(_START) if _START.isdigit() else None


def _seconds(name: str, default: float) -> float:
    try:
        value = float(os.environ.get(name, default))
    except ValueError:
        return default
    return value if value >= 0 else default


@trigger_entry(correlation_paths.EVENT_BRIDGE)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    config = ConsumerConfig(
        relay_url=RELAY_URL,
        start_cursor=START_CURSOR,
        lease_seconds=_seconds("FIREHOSE_LEASE_SECONDS", 30.0) or 30.0,
        hold_seconds=_seconds("FIREHOSE_HOLD_SECONDS", 0.0),
        stop_margin_seconds=_seconds("FIREHOSE_STOP_MARGIN_SECONDS", 20.0),
        batch_size=max(1, int(_seconds("FIREHOSE_BATCH_SIZE", 500))),
    )
    report = firehose.consumer(config).run(context.get_remaining_time_in_millis).summary()
    logger.info("firehose consumer finished", extra=report)
    return report

"""The scheduled sweep (EventBridge schedule in template.yaml)."""

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from albums_core import bootstrap
from albums_core.observability import logger, trigger_entry


@trigger_entry(correlation_paths.EVENT_BRIDGE)
@event_source(data_class=EventBridgeEvent)
def lambda_handler(event: EventBridgeEvent, context: LambdaContext) -> dict[str, int]:
    # A scheduled event carries its time; sweeping "as of" it keeps a delayed run honest.
    when: Any = event.get("time")
    now = datetime.fromisoformat(when.replace("Z", "+00:00")) if isinstance(when, str) else None
    report = bootstrap.sweep(now or datetime.now(UTC)).run()
    logger.info("sweep finished", extra=report)
    return report

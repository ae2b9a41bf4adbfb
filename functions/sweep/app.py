"""The scheduled sweep (EventBridge schedule in template.yaml)."""

from datetime import datetime
from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from albums_core.observability import logger, metrics, tracer
from albums_core.services.sweep import run_sweep


@logger.inject_lambda_context(correlation_id_path=correlation_paths.EVENT_BRIDGE)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    # A scheduled event carries its time; sweeping "as of" it keeps a delayed run honest.
    when = event.get("time")
    now = datetime.fromisoformat(when.replace("Z", "+00:00")) if isinstance(when, str) else None
    report = run_sweep(now)
    logger.info("sweep finished", extra=report)
    return report

"""One Logger, Tracer and Metrics per container, shared by the layer and the handler."""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Callable
from typing import Any, cast

from aws_lambda_powertools import Logger, Metrics, Tracer

from albums_core.config import settings

# A request that records no domain metric is normal; Powertools would warn on each one.
warnings.filterwarnings("ignore", message="No application metrics to publish")

logger = Logger()
tracer = Tracer()
metrics = Metrics()


def _application_log_level() -> None:
    """POWERTOOLS_LOG_LEVEL applied in the process even under Lambda's log-level filter, which
    Powertools otherwise lets win. The filter stays at INFO (template.yaml): embedded-metric
    lines carry no level, so Lambda counts them as INFO and a stricter filter would drop them;
    logs are quietened here instead, where metrics (printed, not logged) are not touched."""
    wanted = logging.getLevelName(os.environ.get("POWERTOOLS_LOG_LEVEL", "").strip().upper())
    if isinstance(wanted, int) and wanted > logging.getLogger(logger.name).getEffectiveLevel():
        logging.getLogger(logger.name).setLevel(wanted)


_application_log_level()

# Correlation ids of the event-triggered functions (the API's come from its request id).
S3_REQUEST_ID = 'Records[0].responseElements."x-amz-request-id"'
STREAM_EVENT_ID = "Records[0].eventID"

Handler = Callable[[Any, Any], Any]


def trigger_entry(correlation_id_path: str) -> Callable[[Handler], Handler]:
    """The handler of an event-triggered function: settings checked at init (a function
    deployed without one of the Globals' resource names fails its init, naming the variable),
    then correlation id, tracing and metrics around each invocation."""
    settings()

    def wrap(handler: Handler) -> Handler:
        traced = tracer.capture_lambda_handler(handler)
        measured = metrics.log_metrics(capture_cold_start_metric=True)(traced)
        return cast(Handler, logger.inject_lambda_context(correlation_id_path=correlation_id_path)(measured))

    return wrap

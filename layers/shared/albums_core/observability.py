"""One Logger, Tracer and Metrics per container, shared by the layer and the handler."""

from __future__ import annotations

import gc
import logging
import os
import time
import warnings
from collections.abc import Callable
from typing import Any, cast

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

from albums_core.config import metric_settings, settings

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
    metric_settings()

    def wrap(handler: Handler) -> Handler:
        # The end of init: what the imports made is moved out of the collector's reach, so the
        # full collections the first invocation triggers (creating a boto3 client allocates a
        # lot) no longer walk it. About a fifth of a read function's first invocation went there
        # (bench section 1).
        gc.freeze()
        traced = tracer.capture_lambda_handler(handler)
        measured = metrics.log_metrics(capture_cold_start_metric=True)(traced)
        return cast(Handler, logger.inject_lambda_context(correlation_id_path=correlation_id_path)(measured))

    return wrap


class CacheHits:
    """The CacheHit metric, published at most once every CACHE_HIT_METRIC_SECONDS (60) per
    container with the hits since the last one as its value. One embedded-metric line per hit was
    about 0.11 USD per million cached reads in log bytes alone (bench section 10); the sum over
    any period is the same, except the hits of a container's last minute, which are lost when
    Lambda retires it (the hit ratio reads a little low). 0 publishes every hit, as before."""

    def __init__(self, seconds: float | None = None, clock: Callable[[], float] = time.time) -> None:
        # Wall time: a monotonic clock may stand still while Lambda freezes the container.
        self._seconds = seconds
        self.clock = clock
        self.pending = 0
        self._last: float | None = None

    @property
    def seconds(self) -> float:
        if self._seconds is None:  # read at the first hit (a bad value is named then)
            self._seconds = metric_settings().cache_hit_metric_seconds
        return self._seconds

    def add(self) -> None:
        self.pending += 1
        now = self.clock()
        if self._last is None or now - self._last >= self.seconds:
            metrics.add_metric(name="CacheHit", unit=MetricUnit.Count, value=self.pending)
            self.pending, self._last = 0, now


cache_hits = CacheHits()

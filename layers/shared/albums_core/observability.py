"""One Logger, Tracer and Metrics per container, shared by the layer and the handler."""

from __future__ import annotations

import warnings

from aws_lambda_powertools import Logger, Metrics, Tracer

from albums_core.config import settings

# A request that records no domain metric is normal; Powertools would warn on each one.
warnings.filterwarnings("ignore", message="No application metrics to publish")

logger = Logger()
tracer = Tracer()
metrics = Metrics()

# Correlation ids of the event-triggered functions (the API's come from its request id).
S3_REQUEST_ID = 'Records[0].responseElements."x-amz-request-id"'
STREAM_EVENT_ID = "Records[0].eventID"

# Every handler imports this module at init (directly or through web): a function deployed
# without one of the Globals' resource names fails its init here, naming the variable.
settings()

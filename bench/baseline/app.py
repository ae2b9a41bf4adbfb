"""Baseline for the cold-start benchmark: the read functions' observability and resolver
set-up, a DynamoDB client created at import, and one GET route that touches no table.
The gap between a read function and this handler is what the function itself adds."""

from typing import Any

import boto3
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from albums_core.observability import logger, metrics, tracer

app = APIGatewayHttpResolver(enable_validation=True)
dynamodb = boto3.client("dynamodb")


@app.get("/albums")
def ping() -> dict[str, Any]:
    return {"albums": [], "next_cursor": None}


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)

"""Asynchronous invocation as Lambda does it for S3 notifications and schedules: the function's
EventInvokeConfig decides how many times a failed event is tried again, and an event that
failed every attempt goes to its OnFailure destination as Lambda writes it (the original event
in `requestPayload`), so that tools/redrive.py can replay it."""

from __future__ import annotations

import json
import sys
import time
import traceback
import uuid
from datetime import UTC, datetime
from typing import Any

from local_runtime.lambda_host import FunctionError, LambdaHost
from local_runtime.template import Stack

# Lambda's defaults when a function has no EventInvokeConfig.
DEFAULT_RETRIES = 2


def raise_for_function_error(result: Any, function: str = "") -> Any:
    """A host may report a failed invocation by raising (the worker host's FunctionError), or as
    Lambda does, with an error payload (`errorType`, `errorMessage`): both are failures."""
    if isinstance(result, dict) and "errorType" in result and set(result) <= _ERROR_KEYS:
        raise FunctionError(function, result)
    return result


_ERROR_KEYS = {"errorType", "errorMessage", "stackTrace", "requestId", "cause"}


def invoke_config(stack: Stack, function: str) -> dict[str, Any]:
    props = stack.resources[function]["Properties"]
    return dict(stack.resolve(props.get("EventInvokeConfig") or {}))


def function_arn(stack: Stack, function: str) -> str:
    return f"arn:aws:lambda:{stack.region}:123456789012:function:{stack.name}-{function}:$LATEST"


def logical_id_of(stack: Stack, arn: str) -> str | None:
    """The template's function a destination record's `functionArn` names."""
    name = arn.split(":function:", 1)[-1].split(":", 1)[0]
    logical = name.removeprefix(f"{stack.name}-")
    return logical if logical in stack.of_type("AWS::Serverless::Function") else None


def failure_record(
    stack: Stack, function: str, event: dict[str, Any], error: BaseException, attempts: int
) -> dict[str, Any]:
    return {
        "version": "1.0",
        "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "functionArn": function_arn(stack, function),
            "condition": "RetriesExhausted",
            "approximateInvokeCount": attempts,
        },
        "requestPayload": event,
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "responsePayload": (
            error.payload
            if isinstance(error, FunctionError)
            else {"errorMessage": str(error), "errorType": type(error).__name__}
        ),
    }


class AsyncInvoker:
    """`invoke(function, event)` with the function's retries and on-failure destination."""

    def __init__(self, stack: Stack, host: LambdaHost, sqs: Any, retry_delay: float = 0.2) -> None:
        self.stack = stack
        self.host = host
        self.sqs = sqs
        # Lambda waits a minute, then two; locally the retries follow at once (a short pause).
        self.retry_delay = retry_delay
        self.failed: list[dict[str, Any]] = []

    def _queue_url(self, destination: Any) -> str | None:
        """An SQS destination's ARN (resolved from the template) as a queue URL on moto."""
        arn = str(destination or "")
        if not arn.startswith("arn:aws:sqs:"):
            return None
        return str(self.sqs.get_queue_url(QueueName=arn.rsplit(":", 1)[1])["QueueUrl"])

    def invoke(self, function: str, event: dict[str, Any]) -> Any:
        config = invoke_config(self.stack, function)
        retries = int(config.get("MaximumRetryAttempts", DEFAULT_RETRIES))
        error: BaseException | None = None
        for attempt in range(1, retries + 2):
            try:
                return raise_for_function_error(self.host.invoke(function, event), function)
            except Exception as exc:  # noqa: BLE001 - a failed attempt, logged as Lambda logs it
                error = exc
                traceback.print_exc()
                print(f"async invoke: {function} attempt {attempt} of {retries + 1} failed", file=sys.stderr)
                if attempt <= retries:
                    time.sleep(self.retry_delay)
        assert error is not None
        record = failure_record(self.stack, function, event, error, retries + 1)
        self.failed.append(record)
        on_failure = (config.get("DestinationConfig") or {}).get("OnFailure") or {}
        queue_url = self._queue_url(on_failure.get("Destination")) if on_failure.get("Type") == "SQS" else None
        if queue_url:
            self.sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(record))
        else:
            print(f"async invoke: {function} has no on-failure destination: the event is lost", file=sys.stderr)
        return None

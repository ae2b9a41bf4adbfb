"""Asynchronous invocations (the S3 trigger, the schedule) that fail every attempt are kept in
the template's on-failure queue as Lambda writes them, and tools/redrive.py replays them once
the cause is fixed. The fault is real: the catalogue table is gone while they run."""

from __future__ import annotations

import json
from typing import Any

import pytest
from tools.redrive import redrive_async_local

from local_runtime.async_invoke import AsyncInvoker, invoke_config, logical_id_of
from local_runtime.lambda_host import LambdaHost
from local_runtime.processes import MotoServer
from local_runtime.resources import create_all
from local_runtime.stack import aws_session
from local_runtime.stream_pump import SchedulePump
from local_runtime.template import ROOT, Stack
from tests.integration.conftest import reset_caches

ALBUM_ID = "0b5c3f9e-2f39-4f5c-9d43-7b3e0c3f2a11"


def upload_event(stack: Stack) -> dict[str, Any]:
    event = json.loads((ROOT / "events" / "process_cover_upload_s3_object_created.json").read_text())
    record = event["Records"][0]
    record["s3"]["bucket"]["name"] = stack.physical["CoversBucket"]
    record["s3"]["object"]["key"] = f"uploads/{ALBUM_ID}/0d2c5f8e9b7a4c3d8e1f2a3b4c5d6e7f"
    return dict(event)


@pytest.fixture
def sqs(aws_env: None, moto: MotoServer, stack: Stack) -> Any:
    return aws_session(stack.region).client("sqs", endpoint_url=moto.url)


@pytest.fixture
def host(aws_env: None, moto: MotoServer, stack: Stack) -> LambdaHost:
    return LambdaHost(stack, moto.url)


def queue_url(sqs: Any, stack: Stack) -> str:
    return str(sqs.get_queue_url(QueueName=stack.physical["AsyncFailureQueue"])["QueueUrl"])


def waiting(sqs: Any, stack: Stack) -> list[dict[str, Any]]:
    out = sqs.receive_message(QueueUrl=queue_url(sqs, stack), MaxNumberOfMessages=10, VisibilityTimeout=0)
    return [json.loads(m["Body"]) for m in out.get("Messages", [])]


def break_catalogue(stack: Stack, moto: MotoServer) -> None:
    dynamodb = aws_session(stack.region).client("dynamodb", endpoint_url=moto.url)
    dynamodb.delete_table(TableName=stack.physical["CatalogueTable"])


def test_a_failed_s3_invocation_is_retried_then_kept_with_its_event(
    host: LambdaHost, sqs: Any, stack: Stack, moto: MotoServer
) -> None:
    event = upload_event(stack)
    break_catalogue(stack, moto)
    invoker = AsyncInvoker(stack, host, sqs, retry_delay=0)
    assert invoker.invoke("ProcessCoverUploadFunction", event) is None
    (letter,) = waiting(sqs, stack)
    retries = int(invoke_config(stack, "ProcessCoverUploadFunction")["MaximumRetryAttempts"])
    assert letter["requestPayload"] == event
    assert letter["requestContext"]["condition"] == "RetriesExhausted"
    assert letter["requestContext"]["approximateInvokeCount"] == retries + 1
    assert logical_id_of(stack, letter["requestContext"]["functionArn"]) == "ProcessCoverUploadFunction"
    assert letter["responseContext"]["functionError"] == "Unhandled"
    assert letter["responsePayload"]["errorType"] == "ResourceNotFoundException"


def test_a_failed_scheduled_sweep_is_kept(host: LambdaHost, sqs: Any, stack: Stack, moto: MotoServer) -> None:
    break_catalogue(stack, moto)
    # As the local stack builds it: the firehose consumer is left to its own pump.
    invoker = AsyncInvoker(stack, host, sqs, retry_delay=0)
    pump = SchedulePump(stack, host, 0, invoker=invoker, exclude=frozenset({"ConsumeFirehoseFunction"}))
    assert pump.fire() == {"SweepFunction": None}
    (letter,) = waiting(sqs, stack)
    assert logical_id_of(stack, letter["requestContext"]["functionArn"]) == "SweepFunction"
    assert letter["requestPayload"]["detail-type"] == "Scheduled Event"


def test_redrive_replays_them_once_the_cause_is_fixed(
    host: LambdaHost, sqs: Any, stack: Stack, moto: MotoServer
) -> None:
    event = upload_event(stack)
    break_catalogue(stack, moto)
    AsyncInvoker(stack, host, sqs, retry_delay=0).invoke("ProcessCoverUploadFunction", event)
    create_all(stack, aws_session(stack.region), moto.url)  # the fix: the table is back
    reset_caches()
    s3 = aws_session(stack.region).client("s3", endpoint_url=moto.url)
    key = event["Records"][0]["s3"]["object"]["key"]
    s3.put_object(Bucket=stack.physical["CoversBucket"], Key=key, Body=b"not an image")
    assert redrive_async_local(host) == 1
    assert waiting(sqs, stack) == []
    # The replay ran the trigger: the upload (for an unknown album) was judged and removed.
    assert s3.list_objects_v2(Bucket=stack.physical["CoversBucket"], Prefix="uploads/").get("KeyCount") == 0


def test_a_replay_that_fails_again_stays_in_the_queue(
    host: LambdaHost, sqs: Any, stack: Stack, moto: MotoServer
) -> None:
    break_catalogue(stack, moto)
    AsyncInvoker(stack, host, sqs, retry_delay=0).invoke("ProcessCoverUploadFunction", upload_event(stack))
    assert redrive_async_local(host) == 0
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    counts = sqs.get_queue_attributes(QueueUrl=queue_url(sqs, stack), AttributeNames=names)["Attributes"]
    assert sum(int(counts[n]) for n in names) == 1


class ErrorPayloadHost:
    """A host that reports a failed invocation as Lambda does, with an error payload."""

    def __init__(self) -> None:
        self.calls = 0

    def invoke(self, function: str, event: dict[str, Any]) -> dict[str, Any]:
        self.calls += 1
        return {"errorType": "Runtime.ExitError", "errorMessage": "exited with status 1"}


def test_an_error_payload_is_a_failure_too(sqs: Any, stack: Stack) -> None:
    host = ErrorPayloadHost()
    AsyncInvoker(stack, host, sqs, retry_delay=0).invoke("SweepFunction", {"detail-type": "Scheduled Event"})  # type: ignore[arg-type]
    retries = int(invoke_config(stack, "SweepFunction")["MaximumRetryAttempts"])
    assert host.calls == retries + 1
    (letter,) = waiting(sqs, stack)
    assert letter["responsePayload"] == {"errorType": "Runtime.ExitError", "errorMessage": "exited with status 1"}

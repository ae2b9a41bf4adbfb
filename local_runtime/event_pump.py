"""S3 notifications into the trigger functions, as AWS delivers them: moto cannot run Lambda
code, so the bucket notifies an SQS queue (moto does that faithfully) and this pump hands each
notification's records to the functions the template subscribes, with the same payload."""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any
from urllib.parse import unquote_plus

from local_runtime.async_invoke import AsyncInvoker
from local_runtime.lambda_host import LambdaHost
from local_runtime.template import Stack


class S3EventPump:
    def __init__(self, stack: Stack, host: LambdaHost, session: Any, endpoint: str) -> None:
        self.stack = stack
        self.host = host
        self.sqs = session.client("sqs", endpoint_url=endpoint)
        self.s3 = session.client("s3", endpoint_url=endpoint)
        # S3 invokes asynchronously: the function's retries and on-failure destination apply.
        self.invoker = AsyncInvoker(stack, host, self.sqs)
        self.triggers = stack.s3_triggers()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.queue_url = ""
        self.delivered = 0

    def start(self) -> S3EventPump:
        if not self.triggers:
            return self
        self.queue_url = self.sqs.create_queue(QueueName=f"{self.stack.name}-s3-events")["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        by_bucket: dict[str, list[dict[str, Any]]] = {}
        for _, bucket, events, prefix in self.triggers:
            config: dict[str, Any] = {"QueueArn": arn, "Events": events}
            if prefix:
                config["Filter"] = {"Key": {"FilterRules": [{"Name": "prefix", "Value": prefix}]}}
            by_bucket.setdefault(self.stack.physical[bucket], []).append(config)
        for bucket, configs in by_bucket.items():
            self.s3.put_bucket_notification_configuration(
                Bucket=bucket, NotificationConfiguration={"QueueConfigurations": configs}
            )
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=3)

    def _targets(self, record: dict[str, Any]) -> list[str]:
        bucket = record.get("s3", {}).get("bucket", {}).get("name")
        # Keys arrive URL-encoded in S3 events.
        key = unquote_plus(record.get("s3", {}).get("object", {}).get("key", ""))
        name = record.get("eventName", "")
        return [
            fn
            for fn, logical, events, prefix in self.triggers
            if self.stack.physical[logical] == bucket
            and key.startswith(prefix)
            and any(_matches(e, name) for e in events)
        ]

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                out = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
            except Exception:  # noqa: BLE001 - moto going away at shutdown
                if self._stop.wait(0.5):
                    return
                continue
            for message in out.get("Messages", []):
                self._deliver(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])

    def _deliver(self, body: dict[str, Any]) -> None:
        for record in body.get("Records", []):  # s3:TestEvent has none
            # S3 names the request that created the object; moto's notification leaves it out.
            record.setdefault("responseElements", {"x-amz-request-id": uuid.uuid4().hex[:16].upper()})
            for function in self._targets(record):
                self.invoker.invoke(function, {"Records": [record]})
                self.delivered += 1


def _matches(pattern: str, event_name: str) -> bool:
    """`s3:ObjectCreated:*` against an event name such as `ObjectCreated:Post`."""
    wanted = pattern.removeprefix("s3:")
    return event_name.startswith(wanted[:-1]) if wanted.endswith("*") else event_name == wanted

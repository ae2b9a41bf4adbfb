"""Replay the cleanup's dead letters, and the asynchronous invocations that failed, once their
cause is fixed.

    python -m tools.redrive --function <ProcessCatalogueStreamFunction name> --queue-url <url>   (AWS)
    python -m tools.redrive --local                                                             (make run)
    python -m tools.redrive --async-failures --queue-url <AsyncFailureQueueUrl>                  (AWS)
    python -m tools.redrive --async-failures --local                                            (make run)

Each dead letter holds a whole stream record; it is handed to the function again as a
one-record stream batch, and deleted from the queue only when the function reports no
failure for it. Each async failure is Lambda's on-failure destination record: the original
event (`requestPayload`) is invoked again on the function it names (`functionArn`), and the
message deleted only when that invocation succeeds."""

from __future__ import annotations

import argparse
import json
import uuid
from typing import Any


def _drain(sqs: Any, queue_url: str, invoke: Any, replay: Any = None) -> int:
    """Replay the letters there now (not the ones a failing replay writes back). `replay(letter)`
    says whether one letter was replayed; by default it is a cleanup dead letter for `invoke`."""
    waiting = int(
        sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"][
            "ApproximateNumberOfMessages"
        ]
    )
    replayed = seen = 0
    while seen < waiting:
        out = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=min(10, waiting - seen), WaitTimeSeconds=1)
        messages = out.get("Messages", [])
        if not messages:
            return replayed
        for message in messages:
            seen += 1
            letter = json.loads(message["Body"])
            if (replay or (lambda one: _replay_dead_letter(one, invoke)))(letter):
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
                replayed += 1
    return replayed


def _replay_dead_letter(letter: dict[str, Any], invoke: Any) -> bool:
    record = letter.get("record")
    if record is None:  # shard metadata from the on-failure destination: nothing to replay
        return False
    # A fresh attempt budget: the consumer counts attempts per event id.
    record = {**record, "eventID": f"{record.get('eventID')}#redrive-{uuid.uuid4().hex[:8]}"}
    result = invoke({"Records": [record]})
    return not (result or {}).get("batchItemFailures")


def async_failure(letter: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """(function ARN, original event) of an on-failure destination record, or None."""
    arn = (letter.get("requestContext") or {}).get("functionArn")
    payload = letter.get("requestPayload")
    if not isinstance(arn, str) or not isinstance(payload, dict):
        return None
    return arn, payload


def redrive_async(sqs: Any, queue_url: str, invoke: Any) -> int:
    """`invoke(function_arn, event)` returns True when the function succeeded."""

    def replay(letter: dict[str, Any]) -> bool:
        found = async_failure(letter)
        if found is None:
            print("not an on-failure destination record: left in the queue")
            return False
        return bool(invoke(*found))

    return _drain(sqs, queue_url, None, replay)


def redrive_local(host: Any) -> int:
    """Through a LambdaHost of the local runtime (its environment names the queue)."""
    from albums_core.adapters.aws_clients import client
    from albums_core.config import settings

    return _drain(
        client("sqs"),
        settings().dead_letter_queue_url,
        lambda event: host.invoke("ProcessCatalogueStreamFunction", event),
    )


def redrive_async_local(host: Any) -> int:
    """The local runtime's AsyncFailureQueue, through a LambdaHost: each event on its function."""
    from albums_core.adapters.aws_clients import client
    from local_runtime.async_invoke import logical_id_of

    stack = host.stack
    sqs = client("sqs")
    queue_url = sqs.get_queue_url(QueueName=stack.physical["AsyncFailureQueue"])["QueueUrl"]

    def invoke(arn: str, event: dict[str, Any]) -> bool:
        function = logical_id_of(stack, arn)
        if function is None:
            print(f"{arn}: no such function in the template; left in the queue")
            return False
        try:
            host.invoke(function, event)
        except Exception as exc:  # noqa: BLE001 - still failing: the message stays
            print(f"{function} failed again ({type(exc).__name__}: {exc}); left in the queue")
            return False
        return True

    return redrive_async(sqs, queue_url, invoke)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.redrive")
    parser.add_argument("--local", action="store_true", help="the local runtime of `make run` (.local/stack.json)")
    parser.add_argument("--function", help="the deployed ProcessCatalogueStreamFunction's name")
    parser.add_argument("--queue-url", help="the deployed CleanupDeadLetterQueue's (or AsyncFailureQueue's) URL")
    parser.add_argument(
        "--async-failures", action="store_true", help="replay the AsyncFailureQueue (failed S3, schedule runs)"
    )
    args = parser.parse_args(argv)
    if args.local:
        from local_runtime.lambda_host import LambdaHost
        from local_runtime.stack import STATE_DIR
        from local_runtime.template import local_stack

        state = json.loads((STATE_DIR / "stack.json").read_text())
        stack = local_stack(
            endpoint=state["aws_endpoint_url"],
            overrides={
                "PlcUrl": state["plc_url"],
                "HandleResolverUrl": state["pds_url"],
                "CoversBaseUrl": state["covers_base_url"],
            },
        )
        host = LambdaHost(stack, state["aws_endpoint_url"])
        if args.async_failures:
            print(f"replayed {redrive_async_local(host)} failed asynchronous invocations")
        else:
            print(f"replayed {redrive_local(host)} dead letters")
        return 0
    if args.async_failures:
        if not args.queue_url:
            parser.error("give --local, or --queue-url (the stack's AsyncFailureQueueUrl output)")
        import boto3

        lam = boto3.client("lambda")

        def invoke_arn(arn: str, event: dict[str, Any]) -> bool:
            out = lam.invoke(FunctionName=arn, Payload=json.dumps(event).encode())
            if out.get("FunctionError"):
                print(f"{arn} failed again: {out['Payload'].read()[:500]!r}; left in the queue")
                return False
            return True

        replayed = redrive_async(boto3.client("sqs"), args.queue_url, invoke_arn)
        print(f"replayed {replayed} failed asynchronous invocations")
        return 0
    if not args.function or not args.queue_url:
        parser.error("give --local, or --function and --queue-url")
    import boto3

    lam = boto3.client("lambda")

    def invoke(event: dict[str, Any]) -> Any:
        out = lam.invoke(FunctionName=args.function, Payload=json.dumps(event).encode())
        return json.loads(out["Payload"].read() or b"{}")

    print(f"replayed {_drain(boto3.client('sqs'), args.queue_url, invoke)} dead letters")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

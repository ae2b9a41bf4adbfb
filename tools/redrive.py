"""Replay the cleanup's dead letters once their cause is fixed.

    python -m tools.redrive --function <ProcessCatalogueStreamFunction name> --queue-url <url>   (AWS)
    python -m tools.redrive --local                                                             (make run)

Each dead letter holds a whole stream record; it is handed to the function again as a
one-record stream batch, and deleted from the queue only when the function reports no
failure for it."""

from __future__ import annotations

import argparse
import json
import uuid
from typing import Any


def _drain(sqs: Any, queue_url: str, invoke: Any) -> int:
    """Replay the letters there now (not the ones a failing replay writes back)."""
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
            record = letter.get("record")
            if record is None:  # shard metadata from the on-failure destination: nothing to replay
                continue
            # A fresh attempt budget: the consumer counts attempts per event id.
            record = {**record, "eventID": f"{record.get('eventID')}#redrive-{uuid.uuid4().hex[:8]}"}
            result = invoke({"Records": [record]})
            if not (result or {}).get("batchItemFailures"):
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
                replayed += 1
    return replayed


def redrive_local(host: Any) -> int:
    """Through a LambdaHost of the local runtime (its environment names the queue)."""
    from albums_core.aws import client
    from albums_core.config import settings

    return _drain(
        client("sqs"),
        settings().dead_letter_queue_url,
        lambda event: host.invoke("ProcessCatalogueStreamFunction", event),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.redrive")
    parser.add_argument("--local", action="store_true", help="the local runtime of `make run` (.local/stack.json)")
    parser.add_argument("--function", help="the deployed ProcessCatalogueStreamFunction's name")
    parser.add_argument("--queue-url", help="the deployed CleanupDeadLetterQueue's URL")
    args = parser.parse_args(argv)
    if args.local:
        import boto3

        from local_runtime.lambda_host import LambdaHost
        from local_runtime.stack import STATE_DIR
        from local_runtime.template import local_stack

        state = json.loads((STATE_DIR / "stack.json").read_text())
        stack = local_stack(
            endpoint=state["aws_endpoint_url"],
            overrides={"PlcUrl": state["plc_url"], "HandleResolverUrl": state["pds_url"]},
        )
        host = LambdaHost(stack, state["aws_endpoint_url"])
        del boto3
        print(f"replayed {redrive_local(host)} dead letters")
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

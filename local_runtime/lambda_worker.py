"""One local Lambda execution environment: run by `local_runtime.lambda_host` on the Lambda-like
interpreter (`python -I lambda_worker.py <spec>`), never imported by the dev code.

Standard library only: it runs where only boto3 and the layer are importable. It imports the
handler once (init), then serves invocations one at a time, as a Lambda sandbox does. Requests
and results travel over two pipes given by number (never stdout, which is the function's log):
each message is an 8-byte big-endian length and that many bytes of JSON.
"""

from __future__ import annotations

import importlib
import json
import os
import resource
import signal
import sys
import time
import traceback
from typing import Any


def read_message(fd: int) -> dict[str, Any] | None:
    head = _read_exact(fd, 8)
    if head is None:
        return None
    body = _read_exact(fd, int.from_bytes(head, "big"))
    if body is None:
        return None
    message: dict[str, Any] = json.loads(body)
    return message


def _read_exact(fd: int, n: int) -> bytes | None:
    chunks = []
    while n:
        chunk = os.read(fd, min(n, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def write_message(fd: int, message: dict[str, Any]) -> None:
    body = json.dumps(message).encode()
    data = len(body).to_bytes(8, "big") + body
    while data:
        data = data[os.write(fd, data) :]


class LambdaContext:
    """The attributes and method the Python runtime's context object has."""

    def __init__(self, request_id: str, deadline_ms: int) -> None:
        env = os.environ
        self.aws_request_id = request_id
        self.function_name = env["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = env["AWS_LAMBDA_FUNCTION_VERSION"]
        self.memory_limit_in_mb = int(env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"])
        self.log_group_name = env["AWS_LAMBDA_LOG_GROUP_NAME"]
        self.log_stream_name = env["AWS_LAMBDA_LOG_STREAM_NAME"]
        region = env.get("AWS_REGION", "us-east-1")
        self.invoked_function_arn = f"arn:aws:lambda:{region}:123456789012:function:{self.function_name}"
        self.identity = None
        self.client_context = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))


def error_payload(exc: BaseException, error_type: str | None = None, message: str | None = None) -> dict[str, Any]:
    return {
        "errorMessage": message if message is not None else str(exc),
        "errorType": error_type or type(exc).__name__,
        "requestId": "",
        "stackTrace": traceback.format_tb(exc.__traceback__),
    }


def load_handler(handler: str) -> Any:
    """As the Lambda Python runtime resolves `Handler`, with its error types."""
    module_name, function_name = handler.rsplit(".", 1)
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as exc:
        raise InitError(
            error_payload(exc, "Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}")
        ) from exc
    except SyntaxError as exc:
        raise InitError(
            error_payload(exc, "Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {exc}")
        ) from exc
    except Exception as exc:
        raise InitError(error_payload(exc)) from exc
    if not hasattr(module, function_name):
        raise InitError(
            {
                "errorMessage": f"Handler '{function_name}' missing on module '{module_name}'",
                "errorType": "Runtime.HandlerNotFound",
                "requestId": "",
                "stackTrace": [],
            }
        )
    return getattr(module, function_name)


class InitError(Exception):
    def __init__(self, payload: dict[str, Any]) -> None:
        super().__init__(payload["errorMessage"])
        self.payload = payload


def max_memory_mb() -> int:
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def main() -> int:
    # Ctrl-C in `make run` reaches the whole process group, moto's server too: a worker ends at
    # once and quietly (as a Lambda container is frozen), not with a traceback of whatever call
    # it was in. What it was doing is repeated, as after any crash.
    signal.signal(signal.SIGINT, lambda *_: os._exit(130))
    spec = json.loads(sys.argv[1])
    requests, results = int(spec["requests_fd"]), int(spec["results_fd"])
    # Lambda's runtime writes each log line as it comes; a pipe would otherwise buffer.
    for stream in (sys.stdout, sys.stderr):
        stream.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    if spec.get("address_space_mb"):
        limit = int(spec["address_space_mb"]) * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    sys.path[:0] = spec["sys_path"]
    os.chdir(spec["sys_path"][0])  # Lambda's working directory is the function's code (/var/task)

    started = time.perf_counter()
    try:
        handler = load_handler(spec["handler"])
    except InitError as exc:
        print(f"[ERROR] {exc.payload['errorType']}: {exc.payload['errorMessage']}", file=sys.stderr)
        write_message(results, {"init": False, "error": exc.payload})
        return 1
    write_message(results, {"init": True, "import_ms": (time.perf_counter() - started) * 1000, "pid": os.getpid()})

    while True:
        request = read_message(requests)
        if request is None:  # the host closed the pipe: it is gone or ending this worker
            return 0
        context = LambdaContext(request["request_id"], int(request["deadline_ms"]))
        began = time.perf_counter()
        try:
            result = handler(request["event"], context)
        except Exception as exc:  # noqa: BLE001 - the invocation's error, reported as Lambda does
            payload = error_payload(exc)
            payload["requestId"] = context.aws_request_id
            print(
                f"[ERROR] {payload['errorType']}: {payload['errorMessage']}\n" + "".join(traceback.format_exc()),
                file=sys.stderr,
            )
            reply: dict[str, Any] = {"ok": False, "error": payload}
        else:
            try:
                json.dumps(result)
                reply = {"ok": True, "result": result}
            except (TypeError, ValueError) as exc:
                reply = {
                    "ok": False,
                    "error": error_payload(exc, "Runtime.MarshalError", f"Unable to marshal response: {exc}"),
                }
        reply["duration_ms"] = (time.perf_counter() - began) * 1000
        reply["max_memory_mb"] = max_memory_mb()
        if request.get("report_modules"):  # the benchmark asks what the invocation imported
            reply["modules"] = sorted(m for m in sys.modules if m.startswith(request["report_modules"]))
        write_message(results, reply)


if __name__ == "__main__":
    raise SystemExit(main())

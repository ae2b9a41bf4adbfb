"""One cold start, in a fresh interpreter: import the handler module the way the local
runtime does, invoke it once, write the timings to a file.

Imports only the standard library before the clock starts, so everything the handler
pulls in (boto3, Powertools, the layer) is inside the measurement. The result goes to a
file because the handler's logs go to stdout.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import time
import uuid
from dataclasses import dataclass, field
from typing import Any


@dataclass
class LambdaContext:
    """As local_runtime.lambda_host.LambdaContext (not imported: it would pull in PyYAML)."""

    function_name: str
    memory_limit_in_mb: int
    timeout_ms: int
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = "local"

    def __post_init__(self) -> None:
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{self.function_name}"
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self._deadline = time.monotonic() + self.timeout_ms / 1000

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def main() -> None:
    job: dict[str, Any] = json.loads(sys.argv[1])
    with open(job["event"], encoding="utf-8") as fh:
        event = json.load(fh)
    module_file, handler_name = job["handler"].rsplit(".", 1)

    started = time.perf_counter()
    spec = importlib.util.spec_from_file_location(f"fn_{job['logical_id']}", f"{job['code_uri']}/{module_file}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    imported = time.perf_counter()
    context = LambdaContext(job["function_name"], job["memory"], job["timeout_ms"])
    result = getattr(module, handler_name)(event, context)
    finished = time.perf_counter()

    atproto = sorted(name for name in sys.modules if name.startswith("atproto"))
    with open(job["out"], "w", encoding="utf-8") as fh:
        json.dump(
            {
                "total_s": finished - started,
                "import_s": imported - started,
                "invoke_s": finished - imported,
                "status": result.get("statusCode") if isinstance(result, dict) else None,
                "atproto_modules": atproto,
            },
            fh,
        )


if __name__ == "__main__":
    main()

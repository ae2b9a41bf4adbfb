"""Runs the template's functions in this process, the way Lambda calls them: one module per
function (its CodeUri), the shared layer on the path, one invocation at a time per function."""

from __future__ import annotations

import importlib.util
import os
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from local_runtime.template import ROOT, Function, Stack

LAYER_PATH = ROOT / "layers" / "shared"


@dataclass
class LambdaContext:
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


def local_environment(stack: Stack, endpoint: str) -> dict[str, str]:
    """What every local function sees besides its template environment."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": stack.region,
        "AWS_REGION": stack.region,
        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_DEV": "false",
        # Local PDSs live on loopback over http: the SSRF guard allows them only here.
        "ALBUMS_ALLOW_LOOPBACK_PDS": "true",
        # No TLS on loopback: the session cookie cannot be Secure here.
        "ALBUMS_LOCAL_MODE": "true",
    }


class LambdaHost:
    def __init__(self, stack: Stack, endpoint: str) -> None:
        self.stack = stack
        self.functions = stack.functions()
        self._modules: dict[str, ModuleType] = {}
        self._locks = {name: threading.Lock() for name in self.functions}
        env = local_environment(stack, endpoint)
        for fn in self.functions.values():
            env.update(fn.environment)
        os.environ.update(env)
        if str(LAYER_PATH) not in sys.path:
            sys.path.insert(0, str(LAYER_PATH))

    def _module(self, fn: Function) -> ModuleType:
        if fn.logical_id not in self._modules:
            module_file, _ = fn.handler.rsplit(".", 1)
            spec = importlib.util.spec_from_file_location(f"fn_{fn.logical_id}", fn.code_uri / f"{module_file}.py")
            assert spec and spec.loader
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            self._modules[fn.logical_id] = module
        return self._modules[fn.logical_id]

    def invoke(self, logical_id: str, event: dict[str, Any]) -> Any:
        fn = self.functions[logical_id]
        with self._locks[logical_id]:
            handler = getattr(self._module(fn), fn.handler.rsplit(".", 1)[1])
            context = LambdaContext(
                function_name=f"{self.stack.name}-{logical_id}",
                memory_limit_in_mb=fn.memory,
                timeout_ms=fn.timeout * 1000,
            )
            return handler(event, context)

"""Runs the template's functions as Lambda does: each function in worker processes of its own
(`local_runtime/lambda_worker.py`), on an interpreter that has only what the Lambda Python
runtime ships plus the built layer (`local_runtime/lambda_build.py`), with only its own
environment, its handler, timeout and memory size. Warm workers are reused; a busy function
gets another worker (up to its reserved concurrency, else a local cap).

`InProcessHost` is the former way (handlers imported into this process): kept for tests and
benchmarks that instrument a handler from inside (botocore call counters, monkeypatching)."""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
import uuid
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import IO, Any

from local_runtime.lambda_build import LambdaBuild, ensure_build
from local_runtime.lambda_worker import read_message, write_message
from local_runtime.modules import load_module
from local_runtime.template import ROOT, Function, Stack

LAYER_PATH = ROOT / "layers" / "shared"
WORKER_SCRIPT = ROOT / "local_runtime" / "lambda_worker.py"
# Concurrent workers per function when the template reserves no concurrency: two cores are
# common on a laptop CI box, and every worker holds a whole interpreter.
LOCAL_CONCURRENCY = 4
# Lambda's init phase has its own limit (then one more try under the function's Timeout).
INIT_TIMEOUT_S = 10.0
# RLIMIT_AS counts address space, not memory used: thread stacks and malloc arenas reserve
# far more than they touch, so MemorySize is enforced with this much headroom.
ADDRESS_SPACE_HEADROOM_MB = 1024
_OUTPUT_LOCK = threading.Lock()


class FunctionError(Exception):
    """An invocation ended in an error, as Lambda reports it (the payload holds errorType and
    errorMessage): an exception in the handler, an init failure, a timeout, a throttle."""

    def __init__(self, function: str, payload: Mapping[str, Any]) -> None:
        self.function = function
        self.payload = dict(payload)
        self.error_type = str(self.payload.get("errorType", "Unknown"))
        super().__init__(f"{function}: {self.error_type}: {self.payload.get('errorMessage', '')}")


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


def _export_harness_environment(stack: Stack, endpoint: str) -> None:
    """This process's own calls into the layer (seeding, tests, benchmarks checking what a
    function did) need the stack's table and queue names. Functions never read this: each
    worker gets its own environment."""
    env = local_environment(stack, endpoint)
    for fn in stack.functions().values():
        env.update(fn.environment)
    os.environ.update(env)
    if str(LAYER_PATH) not in sys.path:
        sys.path.insert(0, str(LAYER_PATH))


def _emit(stream: IO[str], tag: str, line: str) -> None:
    with _OUTPUT_LOCK:
        try:
            stream.write(f"[{tag}] {line}" if line.endswith("\n") else f"[{tag}] {line}\n")
            stream.flush()
        except (ValueError, OSError):  # our own output closed at shutdown
            pass


class _Worker:
    """One execution environment of one function: a process, two pipes, its log readers."""

    def __init__(self, host: LambdaHost, fn: Function) -> None:
        self.fn = fn
        # Its pipe ends are closed once only: a second close could hit a descriptor the
        # process has given since to another socket (a "Bad file descriptor" elsewhere).
        self._fd_lock = threading.Lock()
        requests_r, self._requests = os.pipe()
        self._results, results_w = os.pipe()
        spec = {
            "handler": fn.handler,
            "sys_path": host.build.sys_path(fn.code_uri),
            "requests_fd": requests_r,
            "results_fd": results_w,
            "address_space_mb": fn.memory + ADDRESS_SPACE_HEADROOM_MB if host.enforce_memory else 0,
        }
        started = time.perf_counter()
        try:
            self.proc = subprocess.Popen(
                [str(host.build.python), "-I", str(WORKER_SCRIPT), json.dumps(spec)],
                env=host.environment(fn),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                pass_fds=(requests_r, results_w),
                text=True,
                encoding="utf-8",
                errors="replace",
            )
        finally:
            os.close(requests_r)
            os.close(results_w)
        self.pid = self.proc.pid
        self._readers = [
            threading.Thread(target=self._pump, args=(self.proc.stdout, sys.stdout), daemon=True),
            threading.Thread(target=self._pump, args=(self.proc.stderr, sys.stderr), daemon=True),
        ]
        for reader in self._readers:
            reader.start()
        try:
            # An init past Lambda's 10 s is retried within the invocation, under the function's timeout.
            hello = self._receive(time.monotonic() + INIT_TIMEOUT_S + fn.timeout)
        except TimeoutError:
            self.kill()
            raise FunctionError(
                fn.logical_id,
                {"errorType": "Sandbox.Timedout", "errorMessage": "INIT_REPORT Init Duration exceeded the timeout"},
            ) from None
        self.init_ms = (time.perf_counter() - started) * 1000
        self.import_ms = float(hello.get("import_ms", 0.0)) if hello else 0.0
        if hello is None:
            self.kill()
            raise FunctionError(
                fn.logical_id, {"errorType": "Runtime.ExitError", "errorMessage": "the runtime exited during init"}
            )
        if not hello.get("init"):
            self.kill()
            raise FunctionError(fn.logical_id, hello["error"])
        self.cold = True

    def _pump(self, source: IO[str] | None, target: IO[str]) -> None:
        assert source is not None
        for line in source:
            _emit(target, self.fn.logical_id, line)

    def _receive(self, deadline: float) -> dict[str, Any] | None:
        """The worker's next message; None when it exited; TimeoutError past the deadline."""
        if self._results < 0:
            return None  # killed meanwhile
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([self._results], [], [], remaining)[0]:
            raise TimeoutError
        return read_message(self._results)

    def invoke(self, event: Any, request_id: str, report_modules: str | None) -> tuple[dict[str, Any], float]:
        deadline = time.monotonic() + self.fn.timeout
        request = {
            "event": event,
            "request_id": request_id,
            "deadline_ms": int(time.time() * 1000) + self.fn.timeout * 1000,
        }
        if report_modules:
            request["report_modules"] = report_modules
        began = time.perf_counter()
        try:
            write_message(self._requests, request)
            reply = self._receive(deadline)
        except TimeoutError:
            raise
        except OSError:  # the worker is gone (killed, crashed): as Lambda's "Runtime exited"
            reply = None
        if reply is None:
            raise FunctionError(
                self.fn.logical_id,
                {"errorType": "Runtime.ExitError", "errorMessage": f"RequestId: {request_id} Error: Runtime exited"},
            )
        return reply, (time.perf_counter() - began) * 1000

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        self.proc.wait()
        with self._fd_lock:
            fds, self._requests, self._results = (self._requests, self._results), -1, -1
        for fd in fds:
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        for reader in self._readers:
            reader.join(timeout=2)


class _Pool:
    def __init__(self, fn: Function) -> None:
        self.fn = fn
        self.idle: list[_Worker] = []
        self.busy = 0
        self.cond = threading.Condition()
        self.limit = fn.reserved_concurrency if fn.reserved_concurrency is not None else LOCAL_CONCURRENCY


@dataclass
class Invocation:
    result: Any
    pid: int
    duration_ms: float
    init_ms: float | None  # a cold start: the worker's start and the handler's import
    import_ms: float | None  # the handler module's import alone, measured in the worker
    modules: list[str]


def _end_all(workers: set[_Worker], lock: threading.Lock) -> None:
    with lock:
        ending = list(workers)
        workers.clear()
    for worker in ending:
        worker.kill()


class LambdaHost:
    def __init__(
        self,
        stack: Stack,
        endpoint: str,
        function_env: Mapping[str, Mapping[str, str]] | None = None,
        *,
        enforce_memory: bool = True,
        export_environment: bool = True,
    ) -> None:
        self.stack = stack
        self.endpoint = endpoint
        self.functions = stack.functions()
        self.function_env = {k: dict(v) for k, v in (function_env or {}).items()}
        self.enforce_memory = enforce_memory
        self.build: LambdaBuild = ensure_build()
        self._pools = {name: _Pool(fn) for name, fn in self.functions.items()}
        self._all: set[_Worker] = set()
        self._all_lock = threading.Lock()
        self._closed = False
        if export_environment:
            _export_harness_environment(stack, endpoint)
        # A host dropped without close() (a test fixture) still ends its workers.
        weakref.finalize(self, _end_all, self._all, self._all_lock)

    def environment(self, fn: Function) -> dict[str, str]:
        """The function's environment alone, with what the Lambda service itself sets."""
        name = f"{self.stack.name}-{fn.logical_id}"
        return {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            "AWS_LAMBDA_FUNCTION_NAME": name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": f"local/[$LATEST]{uuid.uuid4().hex}",
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "_HANDLER": fn.handler,
            # Set by Lambda in every execution environment. Libraries decide on them: the X-Ray
            # SDK, without LAMBDA_TASK_ROOT, builds two botocore clients for centralised sampling
            # at import (~100 ms of every cold start that a deployed function never pays).
            "LAMBDA_TASK_ROOT": str(fn.code_uri),
            "LAMBDA_RUNTIME_DIR": str(self.build.root / "runtime"),
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{self.stack.raw['Globals']['Function']['Runtime']}",
            **local_environment(self.stack, self.endpoint),
            **fn.environment,
            **self.function_env.get(fn.logical_id, {}),
        }

    def _acquire(self, pool: _Pool) -> _Worker | None:
        """An idle warm worker, or None when the caller may start one (a slot is reserved)."""
        with pool.cond:
            while True:
                if self._closed:
                    raise RuntimeError("the Lambda host is closed")
                if pool.idle:
                    pool.busy += 1
                    return pool.idle.pop()
                if pool.busy < pool.limit:
                    pool.busy += 1
                    return None
                if pool.fn.reserved_concurrency is not None:
                    raise FunctionError(
                        pool.fn.logical_id,
                        {"errorType": "TooManyRequestsException", "errorMessage": "Rate Exceeded."},
                    )
                pool.cond.wait()

    def _release(self, pool: _Pool, worker: _Worker | None) -> None:
        with pool.cond:
            pool.busy -= 1
            if worker is not None and not self._closed:
                pool.idle.append(worker)
            pool.cond.notify()

    def _discard(self, worker: _Worker) -> None:
        worker.kill()
        with self._all_lock:
            self._all.discard(worker)

    def invoke(self, logical_id: str, event: Any) -> Any:
        """The handler's result; FunctionError when the invocation failed as Lambda reports it."""
        return self.invoke_measured(logical_id, event).result

    def invoke_measured(self, logical_id: str, event: Any, report_modules: str | None = None) -> Invocation:
        """The result with what the REPORT line says (and, when asked, the loaded modules whose
        name starts with `report_modules`)."""
        fn = self.functions[logical_id]
        pool = self._pools[logical_id]
        worker = self._acquire(pool)
        keep: _Worker | None = None
        try:
            if worker is None:
                worker = _Worker(self, fn)
                with self._all_lock:
                    self._all.add(worker)
            request_id = str(uuid.uuid4())
            cold = worker.cold
            try:
                reply, duration_ms = worker.invoke(event, request_id, report_modules)
            except TimeoutError:
                self._discard(worker)
                self._report(worker, request_id, fn.timeout * 1000.0, None, "Status: timeout")
                raise FunctionError(
                    logical_id,
                    {
                        "errorType": "Sandbox.Timedout",
                        "errorMessage": f"RequestId: {request_id} Error: Task timed out after {fn.timeout:.2f} seconds",
                    },
                ) from None
            except FunctionError:
                self._discard(worker)
                raise
            self._report(worker, request_id, duration_ms, reply.get("max_memory_mb"), "")
            keep = worker
            if not reply.get("ok"):
                raise FunctionError(logical_id, reply["error"])
            return Invocation(
                result=reply["result"],
                pid=worker.pid,
                duration_ms=duration_ms,
                init_ms=worker.init_ms if cold else None,
                import_ms=worker.import_ms if cold else None,
                modules=reply.get("modules", []),
            )
        finally:
            self._release(pool, keep)

    def _report(self, worker: _Worker, request_id: str, duration_ms: float, used: int | None, status: str) -> None:
        line = (
            f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
            f"Billed Duration: {max(1, int(duration_ms + 0.999))} ms\tMemory Size: {worker.fn.memory} MB\t"
        )
        if used is not None:
            line += f"Max Memory Used: {used} MB\t"
        if worker.cold:
            line += f"Init Duration: {worker.init_ms:.2f} ms\t"
            worker.cold = False
        _emit(sys.stdout, worker.fn.logical_id, (line + status).rstrip("\t") + "\n")

    def worker_pids(self) -> dict[str, list[int]]:
        with self._all_lock:
            out: dict[str, list[int]] = {}
            for worker in self._all:
                out.setdefault(worker.fn.logical_id, []).append(worker.pid)
            return out

    def close(self) -> None:
        """Ends every worker this host started (by PID)."""
        self._closed = True
        for pool in self._pools.values():
            with pool.cond:
                pool.idle.clear()
                pool.cond.notify_all()
        _end_all(self._all, self._all_lock)

    def __enter__(self) -> LambdaHost:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


class InProcessHost:
    """The handlers imported into this process, every function's environment merged into
    os.environ, one invocation at a time per function. Not Lambda-faithful: only for tests and
    benchmarks that look inside a handler (botocore event hooks, monkeypatching)."""

    def __init__(self, stack: Stack, endpoint: str) -> None:
        self.stack = stack
        self.functions = stack.functions()
        self._modules: dict[str, ModuleType] = {}
        self._locks = {name: threading.Lock() for name in self.functions}
        _export_harness_environment(stack, endpoint)

    def _module(self, fn: Function) -> ModuleType:
        if fn.logical_id not in self._modules:
            module_file, _ = fn.handler.rsplit(".", 1)
            module = load_module(f"fn_{fn.logical_id}", fn.code_uri / f"{module_file}.py")
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

    def close(self) -> None:
        """Nothing to end: no process was started."""

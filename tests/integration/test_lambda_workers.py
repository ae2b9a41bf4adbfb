"""The local Lambda host runs each function as Lambda would: its own processes, only the Lambda
runtime's packages plus the layer, only its own environment, its timeout and memory size, init
errors reported and retried, parallel invocations in parallel workers."""

from __future__ import annotations

import os
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local_runtime.lambda_host import ADDRESS_SPACE_HEADROOM_MB, FunctionError, LambdaHost
from local_runtime.template import Stack

HANDLERS = {
    "probe": """
        import importlib, os, time

        def handler(event, context):
            found = {}
            for name in event.get("imports", []):
                try:
                    importlib.import_module(name)
                    found[name] = True
                except ImportError:
                    found[name] = False
            return {
                "pid": os.getpid(),
                "env": {k: os.environ.get(k) for k in event.get("env", [])},
                "imports": found,
                "memory": context.memory_limit_in_mb,
                "remaining_ms": context.get_remaining_time_in_millis(),
                "cwd": os.getcwd(),
            }
    """,
    "slow": """
        import os, time

        def handler(event, context):
            if event.get("exit"):
                os._exit(3)  # the runtime process dies mid-invocation
            time.sleep(event.get("sleep", 0))
            return {"pid": os.getpid()}
    """,
    "meet": """
        import os, pathlib, time

        def handler(event, context):
            # Each call leaves its mark and waits for the other's: both see two marks only if
            # they ran at once (30 s: a limit on a hang only).
            here = pathlib.Path(event["dir"])
            (here / str(os.getpid())).touch()
            limit = time.monotonic() + 30
            while len(list(here.iterdir())) < 2 and time.monotonic() < limit:
                time.sleep(0.01)
            return {"pid": os.getpid(), "met": len(list(here.iterdir()))}
    """,
    "fragile": """
        import os
        # Fails at import until the test writes the file it needs (an init error, then a fix).
        with open(os.path.join(os.path.dirname(__file__), "config.txt")) as fh:
            GREETING = fh.read()

        def handler(event, context):
            return {"greeting": GREETING, "pid": os.getpid()}
    """,
    "broken": """
        import yaml  # a dev-only package: not in the Lambda runtime nor in the layer

        def handler(event, context):
            return "unreachable"
    """,
    "xray": """
        import sys
        from aws_xray_sdk.core import xray_recorder

        def handler(event, context):
            return {
                "sampler": type(xray_recorder.sampler).__name__,
                "context": type(xray_recorder.context).__name__,
                "botocore_session_loaded": "botocore.session" in sys.modules,
            }
    """,
    "greedy": """
        def handler(event, context):
            blob = bytearray(event["mb"] * 1024 * 1024)
            return len(blob)
    """,
}


def _function(code: Path, timeout: int = 3, memory: int = 256, **extra: Any) -> dict[str, Any]:
    return {
        "Type": "AWS::Serverless::Function",
        "Properties": {"CodeUri": str(code), "Timeout": timeout, "MemorySize": memory, **extra},
    }


@pytest.fixture
def host(tmp_path: Path) -> Iterator[LambdaHost]:
    codes = {}
    for name, source in HANDLERS.items():
        code = tmp_path / name
        code.mkdir()
        (code / "app.py").write_text(textwrap.dedent(source))
        codes[name] = code
    raw = {
        "Globals": {
            "Function": {
                "Runtime": "python3.13",
                "Handler": "app.handler",
                "Environment": {"Variables": {"SHARED": "everyone", "STAGE": {"Ref": "Stage"}}},
            }
        },
        "Resources": {
            "ProbeA": _function(codes["probe"], memory=384, Environment={"Variables": {"ONLY_A": "a"}}),
            "ProbeB": _function(codes["probe"], Environment={"Variables": {"ONLY_B": "b"}}),
            "Slow": _function(codes["slow"], timeout=1),
            "Meet": _function(codes["meet"], timeout=60),
            "Fragile": _function(codes["fragile"]),
            "Broken": _function(codes["broken"]),
            "Greedy": _function(codes["greedy"], memory=128),
            "Xray": _function(codes["xray"]),
        },
    }
    stack = Stack(name="workers-test", region="us-east-1", parameters={"Stage": "dev"}, physical={}, raw=raw)
    lambda_host = LambdaHost(stack, "http://127.0.0.1:1", export_environment=False)
    yield lambda_host
    pids = [pid for group in lambda_host.worker_pids().values() for pid in group]
    lambda_host.close()
    for pid in pids:
        assert not _alive(pid), f"worker {pid} outlived close()"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone as far as the host is concerned (close() waits for its workers).
    with open(f"/proc/{pid}/stat") as fh:
        return fh.read().split(")")[-1].split()[0] != "Z"


def test_a_worker_imports_only_the_lambda_runtime_and_the_layer(host: LambdaHost) -> None:
    names = ["boto3", "botocore", "albums_core", "pydantic", "aws_lambda_powertools", "moto", "yaml", "pytest"]
    out = host.invoke("ProbeA", {"imports": names})
    assert out["imports"] == {
        "boto3": True,
        "botocore": True,
        "albums_core": True,
        "pydantic": True,
        "aws_lambda_powertools": True,
        "moto": False,
        "yaml": False,
        "pytest": False,
    }
    assert out["pid"] != os.getpid()


def test_each_function_sees_only_its_own_environment(host: LambdaHost) -> None:
    keys = [
        "ONLY_A",
        "ONLY_B",
        "SHARED",
        "STAGE",
        "AWS_ENDPOINT_URL",
        "AWS_LAMBDA_FUNCTION_NAME",
        "VIRTUAL_ENV",
        "LAMBDA_TASK_ROOT",
        "AWS_EXECUTION_ENV",
    ]
    a = host.invoke("ProbeA", {"env": keys})["env"]
    b = host.invoke("ProbeB", {"env": keys})["env"]
    assert a["ONLY_A"] == "a" and a["ONLY_B"] is None
    assert b["ONLY_B"] == "b" and b["ONLY_A"] is None
    assert a["SHARED"] == b["SHARED"] == "everyone" and a["STAGE"] == "dev"
    assert a["AWS_ENDPOINT_URL"] == "http://127.0.0.1:1"
    assert a["AWS_LAMBDA_FUNCTION_NAME"] == "workers-test-ProbeA"
    assert a["VIRTUAL_ENV"] is None  # nothing leaks in from the process that runs the host
    # What Lambda sets in every environment: the code's folder and the runtime's name.
    assert a["LAMBDA_TASK_ROOT"] and Path(a["LAMBDA_TASK_ROOT"]).name == "probe"
    assert a["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.13"


def test_the_xray_sdk_takes_the_worker_for_lambda(host: LambdaHost) -> None:
    """Outside Lambda the X-Ray SDK builds botocore clients for centralised sampling at import
    (~100 ms of a cold start a deployed function never pays); in Lambda it samples locally."""
    out = host.invoke("Xray", {})
    assert out == {"sampler": "LocalSampler", "context": "LambdaContext", "botocore_session_loaded": False}


def test_function_env_overrides_per_function(host: LambdaHost) -> None:
    other = LambdaHost(
        host.stack, "http://127.0.0.1:1", function_env={"ProbeB": {"SHARED": "b's own"}}, export_environment=False
    )
    try:
        assert other.invoke("ProbeB", {"env": ["SHARED"]})["env"] == {"SHARED": "b's own"}
        assert other.invoke("ProbeA", {"env": ["SHARED"]})["env"] == {"SHARED": "everyone"}
    finally:
        other.close()


def test_the_context_reports_memory_size_and_time_left(host: LambdaHost) -> None:
    out = host.invoke("ProbeA", {})
    assert out["memory"] == 384
    assert 0 < out["remaining_ms"] <= 3000
    assert host.invoke("ProbeB", {})["memory"] == 256


def test_memory_is_bounded(host: LambdaHost) -> None:
    assert host.invoke("Greedy", {"mb": 64}) == 64 * 1024 * 1024
    with pytest.raises(FunctionError) as err:
        host.invoke("Greedy", {"mb": 128 + ADDRESS_SPACE_HEADROOM_MB + 256})
    assert err.value.error_type == "MemoryError"


def test_warm_workers_are_reused(host: LambdaHost) -> None:
    first = host.invoke("ProbeA", {})["pid"]
    assert host.invoke("ProbeA", {})["pid"] == first


def test_a_timeout_kills_the_worker_and_the_next_call_gets_a_new_one(host: LambdaHost) -> None:
    warm = host.invoke("Slow", {})["pid"]
    with pytest.raises(FunctionError) as err:
        host.invoke("Slow", {"sleep": 5})
    assert err.value.error_type == "Sandbox.Timedout"
    assert err.value.payload["errorMessage"].endswith("Task timed out after 1.00 seconds")
    assert not _alive(warm)
    again = host.invoke("Slow", {})
    assert again["pid"] != warm


def test_a_worker_that_dies_is_reported_and_replaced(host: LambdaHost) -> None:
    warm = host.invoke("Slow", {})["pid"]
    with pytest.raises(FunctionError) as err:
        host.invoke("Slow", {"exit": True})
    assert err.value.error_type == "Runtime.ExitError"
    assert host.invoke("Slow", {})["pid"] != warm
    assert host.worker_pids()["Slow"] != [warm]


def test_an_init_error_is_reported_and_init_is_retried(host: LambdaHost) -> None:
    with pytest.raises(FunctionError) as err:
        host.invoke("Fragile", {})
    assert err.value.error_type == "FileNotFoundError"
    assert "config.txt" in err.value.payload["errorMessage"]
    with pytest.raises(FunctionError):  # still broken: init runs again, fails again
        host.invoke("Fragile", {})
    code = host.functions["Fragile"].code_uri
    (code / "config.txt").write_text("hello")
    assert host.invoke("Fragile", {})["greeting"] == "hello"


def test_a_missing_dependency_fails_as_on_lambda(host: LambdaHost) -> None:
    with pytest.raises(FunctionError) as err:
        host.invoke("Broken", {})
    assert err.value.error_type == "Runtime.ImportModuleError"
    assert err.value.payload["errorMessage"] == "Unable to import module 'app': No module named 'yaml'"


def test_two_parallel_invocations_run_in_two_workers_at_once(host: LambdaHost, tmp_path: Path) -> None:
    warm, met = tmp_path / "warm", tmp_path / "met"
    warm.mkdir()
    met.mkdir()
    (warm / "other").touch()  # the warming call finds its partner there already
    host.invoke("Meet", {"dir": str(warm)})  # one warm worker; the second call must start another
    results: list[dict[str, Any]] = []

    def call() -> None:
        results.append(host.invoke("Meet", {"dir": str(met)}))

    threads = [threading.Thread(target=call) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    first, second = results
    assert first["pid"] != second["pid"]
    # Each waited for the other's mark: they ran at once (however long a cold start took).
    assert first["met"] == second["met"] == 2, "the calls did not overlap"
    assert sorted(host.worker_pids()["Meet"]) == sorted([first["pid"], second["pid"]])

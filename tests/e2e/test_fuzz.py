"""Schema fuzzing: every operation of openapi.json, generated inputs, against the local runtime
over HTTP, anonymous and with a valid session. No 5xx; every status, body and content type
as documented. Bounded for CI (FUZZ_EXAMPLES per operation); `make fuzz` runs longer."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from tools.openapi import DOCUMENT

from tests.e2e.conftest import Api, running_runtime

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "10"))
# What the contract promises for any input. (Schemathesis's "schema-valid data is accepted"
# does not hold by design: a string cursor is refused unless we signed it, a 70-grapheme
# title is refused by the list lexicon, an unknown album is 404.)
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
OPERATIONS = [
    (method.upper(), path) for path, ops in json.loads(DOCUMENT.read_text())["paths"].items() for method in ops
]
# Filled by the fuzz runs above test_summary (pytest runs a module's tests in order).
SUMMARY: dict[str, int] = {"operations": 0, "examples": 0, "failures": 0}


@pytest.fixture(scope="module")
def fuzz_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    # Fuzzing creates, renames and deletes albums: it gets a local runtime of its own.
    with running_runtime(Path(tmp_path_factory.mktemp("fuzz"))) as running:
        yield running


@pytest.fixture(scope="module")
def fuzz_schema(fuzz_api: Api) -> Any:
    return schemathesis.openapi.from_url(f"{fuzz_api.url}/openapi.json")


@pytest.fixture(scope="module")
def fuzz_session(fuzz_api: Api) -> str:
    return fuzz_api.login("quiet.test")


def fuzz(schema: Any, method: str, path: str, headers: dict[str, str]) -> None:
    operation = schema[path][method]

    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck)
    )
    def run(case: Any) -> None:
        SUMMARY["examples"] += 1
        # A hang limit, not schemathesis' 10 s default (a loaded machine took longer, issue #24).
        case.call_and_validate(headers=headers, checks=CHECKS, timeout=120)

    try:
        run()
    except (Exception, BaseExceptionGroup):  # schemathesis's FailureGroup is a BaseExceptionGroup
        SUMMARY["failures"] += 1
        raise
    finally:
        SUMMARY["operations"] += 1


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_anonymous(fuzz_schema: Any, method: str, path: str) -> None:
    fuzz(fuzz_schema, method, path, {})


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_with_a_session(fuzz_schema: Any, fuzz_session: str, method: str, path: str) -> None:
    fuzz(fuzz_schema, method, path, {"Authorization": f"Bearer {fuzz_session}"})


def test_summary(capsys: pytest.CaptureFixture[str]) -> None:
    """Printed in CI's log: operation runs, examples and failed runs, as counted; fails when a
    run failed or when nothing was fuzzed at all (a deselected or broken collection)."""
    with capsys.disabled():
        print(
            f"\nfuzzing: {SUMMARY['operations']} operation runs over {len(OPERATIONS)} operations, "
            f"{SUMMARY['examples']} examples, {SUMMARY['failures']} failures"
        )
    assert SUMMARY["operations"] > 0 and SUMMARY["examples"] > 0, "nothing was fuzzed"
    assert SUMMARY["failures"] == 0, f"{SUMMARY['failures']} fuzzed operation runs failed (see above)"

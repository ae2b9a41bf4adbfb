"""The committed OpenAPI document is the one the handlers declare, and the check says so."""

import json
from pathlib import Path
from typing import Any

import pytest
from tools import openapi
from tools.openapi import DOCUMENT, build, main, render


@pytest.fixture(scope="module")
def generated() -> dict[str, Any]:
    """The document the handlers declare, built once (loading every handler takes seconds)."""
    return build()


def test_committed_document_matches_the_handlers(generated: dict[str, Any]) -> None:
    assert DOCUMENT.read_text() == render(generated), "run `make openapi`"


def test_drift_check_fails_on_a_hand_edited_document(
    tmp_path: Path, generated: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(openapi, "build", lambda: generated)
    edited = json.loads(DOCUMENT.read_text())
    edited["paths"]["/albums"]["get"]["summary"] = "edited by hand"
    target = tmp_path / "openapi.json"
    target.write_text(json.dumps(edited, indent=2))
    assert main(["--check", "--output", str(target)]) == 1
    target.write_text(DOCUMENT.read_text())
    assert main(["--check", "--output", str(target)]) == 0


def test_every_route_of_the_template_is_documented() -> None:
    from local_runtime.template import local_stack

    paths = json.loads(DOCUMENT.read_text())["paths"]
    for route in local_stack().routes():
        path = route.path.rstrip("/") or "/"
        assert route.method.lower() in paths.get(path, {}), f"{route.method} {path}"


def test_artist_only_operations_declare_the_session_and_their_errors() -> None:
    paths = json.loads(DOCUMENT.read_text())["paths"]
    for path, operations in paths.items():
        for method, op in operations.items():
            assert "422" in op["responses"], (method, path)
            if op.get("security"):
                assert "401" in op["responses"], (method, path)

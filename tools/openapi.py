"""The OpenAPI document of the whole API, merged from every function's own routes and models.

`python -m tools.openapi` writes openapi.json; `--check` fails when the committed file differs
from what the handlers declare. Never imported by a handler (not in any production path)."""

from __future__ import annotations

import argparse
import difflib
import json
import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DOCUMENT = ROOT / "openapi.json"


def _function_environment() -> None:
    """What the handlers read at import (Powertools settings), without any AWS resource."""
    from local_runtime.lambda_host import local_environment
    from local_runtime.template import local_stack

    stack = local_stack()
    env = local_environment(stack, "http://127.0.0.1:1")
    for fn in stack.functions().values():
        env.update(fn.environment)
    for key, value in env.items():
        os.environ.setdefault(key, value)
    sys.path.insert(0, str(ROOT / "layers" / "shared"))


def build() -> dict[str, Any]:
    _function_environment()
    from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn, HTTPBearer

    from local_runtime.modules import load_module
    from local_runtime.template import local_stack

    merged: dict[str, Any] | None = None
    for logical, fn in sorted(local_stack().functions().items()):
        module = load_module(f"openapi_{logical}", fn.code_uri / "app.py")
        app = getattr(module, "app", None)
        if app is None:  # an event-triggered function: no HTTP routes
            continue
        schema = json.loads(
            app.get_openapi_json_schema(
                title="albums",
                version="1.0.0",
                description="Albums of ATProto music platforms: read pages, and manage albums whose records live "
                "in the artist's own repository.",
                security_schemes={
                    "session_cookie": APIKey.model_validate({"name": "session_id", "in": APIKeyIn.cookie}),
                    "bearer_session": HTTPBearer(description="the session_id as a bearer token"),
                },
            )
        )
        if merged is None:
            merged = schema
            continue
        for path, operations in schema.get("paths", {}).items():
            merged["paths"].setdefault(path, {}).update(operations)
        merged.setdefault("components", {}).setdefault("schemas", {}).update(
            schema.get("components", {}).get("schemas", {})
        )
    assert merged is not None
    merged["paths"] = dict(sorted(merged["paths"].items()))
    merged["components"]["schemas"] = dict(sorted(merged["components"]["schemas"].items()))
    return merged


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=False, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.openapi")
    parser.add_argument("--check", action="store_true", help="fail when the committed document is out of date")
    parser.add_argument("--output", type=Path, default=DOCUMENT)
    args = parser.parse_args(argv)
    text = render(build())
    if args.check:
        current = args.output.read_text() if args.output.exists() else ""
        if current != text:
            sys.stderr.writelines(
                difflib.unified_diff(
                    current.splitlines(keepends=True),
                    text.splitlines(keepends=True),
                    str(args.output),
                    "generated",
                    n=2,
                )
            )
            print(f"{args.output} is out of date: run `make openapi`", file=sys.stderr)
            return 1
        print(f"{args.output} matches the handlers")
        return 0
    args.output.write_text(text)
    print(f"wrote {args.output} ({len(json.loads(text)['paths'])} paths)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Run in a separate OS process (multiprocessing, spawn): the real handler of a function,
invoked as Lambda invokes it, against the moto server and local PDS the test set up (the
environment and sys.path come from the parent). Production runs concurrent requests in separate
execution environments; threads in one process would share clients and caches."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from local_runtime.modules import load_module

ROOT = Path(__file__).resolve().parents[2]


def _handler(function: str) -> Any:
    return load_module(f"fn_{function}", ROOT / "functions" / function / "app.py").lambda_handler


def _context(function: str) -> Any:
    return SimpleNamespace(
        function_name=function,
        memory_limit_in_mb=512,
        invoked_function_arn=f"arn:aws:lambda:us-east-1:123456789012:function:{function}",
        aws_request_id=str(uuid.uuid4()),
        get_remaining_time_in_millis=lambda: 29_000,
    )


def attach_each(session_id: str, album_id: str, uris: list[str], barrier: Any, results: Any) -> None:
    """POST /albums/{album_id}/tracks with one URI at a time, each after the barrier."""
    handler = _handler("add_album_tracks")
    for uri in uris:
        path = f"/albums/{album_id}/tracks"
        event = {
            "version": "2.0",
            "routeKey": "POST /albums/{ref}/tracks",
            "rawPath": path,
            "rawQueryString": "",
            "headers": {"content-type": "application/json", "host": "127.0.0.1"},
            "cookies": [f"session_id={session_id}"],
            "requestContext": {
                "http": {"method": "POST", "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1"},
                "requestId": str(uuid.uuid4()),
                "routeKey": "POST /albums/{ref}/tracks",
                "stage": "$default",
            },
            "pathParameters": {"ref": album_id},
            "isBase64Encoded": False,
            "body": json.dumps({"track_uris": [uri]}),
        }
        barrier.wait(timeout=120)
        out = handler(event, _context("add_album_tracks"))
        results.put((album_id, uri, out["statusCode"], json.loads(out.get("body") or "null")))

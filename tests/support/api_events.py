"""API Gateway events (HTTP API, payload 2.0) for invoking the handlers as Lambda would: an
events/ file, with what a test changes in it."""

from __future__ import annotations

import json
from typing import Any

from local_runtime.template import ROOT

EVENTS = ROOT / "events"


def api_event(
    name: str,
    *,
    path: str | None = None,
    path_parameters: dict[str, str] | None = None,
    query: str | None = None,
    headers: dict[str, str] | None = None,
    session: str | None = None,
    body: Any = None,
) -> dict[str, Any]:
    """The events/ file `name` (a fresh copy), with: its path (the raw path and the request
    context's) and path parameters; a query string (raw and parsed); headers added; a session
    cookie in place of the file's cookies (`""`: none); a body, sent as JSON."""
    event: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    if path is not None:
        event["rawPath"] = event["requestContext"]["http"]["path"] = path
    if path_parameters is not None:
        event["pathParameters"] = path_parameters
    if query is not None:
        event["rawQueryString"] = query
        event["queryStringParameters"] = dict(p.split("=", 1) for p in query.split("&")) if query else None
    if headers:
        event["headers"] = {**event["headers"], **headers}
    if session is not None:
        event.pop("cookies", None)
        if session:
            event["cookies"] = [f"session_id={session}"]
    if body is not None:
        event["body"] = json.dumps(body)
    return event

"""The Subsonic API's HTTP side: `/rest/<method>` and `/rest/<method>.view`, GET or POST form;
the parameters from the query and the form; the answer as the `f` parameter asks (JSON, or XML
by default) and always HTTP 200 with an envelope, errors included - or a 302 for media."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response

from albums_core.domain import subsonic
from albums_core.domain.errors import NotFound, ServiceError
from albums_core.domain.subsonic import Redirect, SubsonicError
from albums_core.http.web import make_app, raw_body
from albums_core.observability import logger

Params = dict[str, list[str]]
_FORM = "application/x-www-form-urlencoded"
_MAX_PARAMS = 200


def parameters(event: Any) -> Params:
    """The query's parameters, then the form body's (OpenSubsonic formPost), each name's values in order."""
    params: Params = {}
    sources = [str(event.get("rawQueryString") or "")]
    method = str(((event.get("requestContext") or {}).get("http") or {}).get("method", "")).upper()
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    if method == "POST" and headers.get("content-type", "").partition(";")[0].strip().lower() == _FORM:
        sources.append(raw_body(event).decode("utf-8", "replace"))
    for source in sources:
        for name, values in parse_qs(source, keep_blank_values=True, max_num_fields=_MAX_PARAMS).items():
            params.setdefault(name, []).extend(values)
    return params


def _render(document: dict[str, Any], as_json: bool) -> Response[Any]:
    if as_json:
        return Response(200, "application/json", subsonic.to_json(document), headers={"Cache-Control": "no-store"})
    return Response(200, "text/xml; charset=utf-8", subsonic.to_xml(document), headers={"Cache-Control": "no-store"})


_RESPONSES: Any = {
    200: {
        "description": "a `subsonic-response` envelope (status ok or failed, with the Subsonic error code)",
        "content": {"application/json": {"schema": {"type": "object"}}, "text/xml": {"schema": {"type": "string"}}},
    },
    302: {
        "description": "media (stream, download, getCoverArt): where it is",
        "headers": {"Location": {"schema": {"type": "string"}}},
    },
}

Handler = Callable[[Any, Params], "dict[str, Any] | Redirect"]


def answer(event: Any, authenticate: Callable[[Params], Any], handler: Handler) -> Response[Any]:
    """Authenticate, run the method, and put what it gives (or the error it raises) in the envelope."""
    try:
        params = parameters(event)
    except ValueError:
        return _render(subsonic.envelope(error=SubsonicError(subsonic.GENERIC, "too many parameters")), False)
    as_json = (params.get("f") or ["xml"])[0] in ("json", "jsonp")
    try:
        user = authenticate(params)
        result = handler(user, params)
    except SubsonicError as exc:
        return _render(subsonic.envelope(error=exc), as_json)
    except ServiceError as exc:
        code = subsonic.NOT_FOUND if isinstance(exc, NotFound) else subsonic.GENERIC
        return _render(subsonic.envelope(error=SubsonicError(code, exc.detail)), as_json)
    except Exception:  # noqa: BLE001 - a Subsonic client gets an envelope, never a 5xx
        logger.exception("subsonic method failed")
        error = SubsonicError(subsonic.GENERIC, "the server could not answer; try again")
        return _render(subsonic.envelope(error=error), as_json)
    if isinstance(result, Redirect):
        return Response(302, "text/plain", "", headers={"Location": result.location, "Cache-Control": "no-store"})
    return _render(subsonic.envelope(result), as_json)


def _route(
    app: APIGatewayHttpResolver, authenticate: Callable[[], Callable[[Params], Any]], handler: Handler
) -> Callable[[], Response[Any]]:
    def route() -> Response[Any]:
        return answer(app.current_event.raw_event, authenticate(), handler)

    return route


def subsonic_app(
    methods: dict[str, tuple[Handler, str]], authenticate: Callable[[], Callable[[Params], Any]]
) -> APIGatewayHttpResolver:
    """A resolver with each method at `/rest/<name>` and `/rest/<name>.view`, GET and POST.
    `authenticate` gives the (container's) authenticator when the first request comes."""
    app = make_app()
    for name, (handler, summary) in methods.items():
        for rule in (f"/rest/{name}", f"/rest/{name}.view"):
            for verb in ("GET", "POST"):
                suffix = ("_view" if rule.endswith(".view") else "") + ("_post" if verb == "POST" else "")

                app.route(
                    rule,
                    verb,
                    summary=f"Subsonic {name}",
                    description=summary + " Authenticated by a developer token (`u` with `t` and `s`, `p`, or "
                    "`apiKey`); `f=json` or XML; every answer, errors included, is HTTP 200 with a "
                    "`subsonic-response` envelope.",
                    operation_id=f"subsonic_{name}{suffix}",
                    tags=["subsonic"],
                    responses=_RESPONSES,
                )(_route(app, authenticate, handler))
    return app

"""HTTP plumbing shared by every API function: the resolver, the one mapping from errors
to responses, and path normalisation."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)

from albums_core.domain.errors import NotFound, ServiceError
from albums_core.observability import logger, trigger_entry


def error_response(status: int, detail: str) -> Response:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body={"detail": detail})


def _describe(error: dict[str, Any]) -> str:
    if error.get("type") == "json_invalid":
        return "body: must be valid JSON"
    if error.get("type") == "missing" and tuple(error.get("loc", ())) == ("body",):
        return "body: a JSON body is required"
    loc = [str(p) for p in error.get("loc", ())]
    where, name = (loc[0], ".".join(loc[1:])) if len(loc) > 1 else ("body", ".".join(loc))
    kind = {"query": "query parameter", "path": "path parameter", "body": "body field"}.get(where, where)
    message = error.get("msg") or str(error.get("type", "invalid value")).replace("_", " ")
    return f"{kind} '{name}': {message}" if name else f"{kind}: {message}"


def make_app() -> APIGatewayHttpResolver:
    app = APIGatewayHttpResolver(enable_validation=True)

    @app.exception_handler(ServiceError)
    def _service_error(exc: ServiceError) -> Response:
        if exc.ends_session:
            return _ended_session(app, exc)
        return error_response(exc.status, exc.detail)

    @app.exception_handler(RequestUnsupportedContentType)
    def _unsupported(exc: RequestUnsupportedContentType) -> Response:
        return error_response(415, "Content-Type must be application/json")

    @app.exception_handler(RequestValidationError)
    def _invalid(exc: RequestValidationError) -> Response:
        errors = exc.errors()
        return error_response(422, "; ".join(_describe(e) for e in errors) or "invalid request")

    @app.not_found
    def _not_found(_: Exception) -> Response:
        return error_response(404, "not found")

    @app.exception_handler(Exception)
    def _unexpected(exc: Exception) -> Response:
        logger.exception("unhandled error")
        return error_response(500, "internal error")

    return app


def _ended_session(app: APIGatewayHttpResolver, exc: ServiceError) -> Response:
    """The error, and the caller's session deleted (and its cookie cleared): it cannot work again."""
    from albums_core.adapters.dynamodb.session_store import Session, delete_session_by_key
    from albums_core.http.cookies import cleared_cookie

    caller = app.context.get("caller")
    session = getattr(caller, "session", caller)
    if isinstance(session, Session):
        try:
            delete_session_by_key(session.key)
        except Exception:  # noqa: BLE001 - the answer stands; the session expires anyway
            logger.warning("session not deleted", exc_info=True)
    return Response(
        status_code=exc.status,
        content_type=content_types.APPLICATION_JSON,
        body={"detail": exc.detail},
        cookies=[cleared_cookie()],
    )


JSON = "application/json"
_BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def _header(event: dict[str, Any], name: str) -> tuple[str | None, str | None]:
    for key, value in (event.get("headers") or {}).items():
        if key.lower() == name:
            return key, value
    return None, None


def raw_body(event: dict[str, Any]) -> bytes:
    """The request body as bytes, decoded as API Gateway encoded it."""
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        return base64.b64decode(body)
    return body.encode("utf-8", "surrogatepass")


def check_body(event: dict[str, Any], accepts: tuple[str, ...]) -> tuple[dict[str, Any], tuple[int, str] | None]:
    """Media types are case-insensitive: normalise the Content-Type. A body of a type the
    route does not take is 415 (`accepts` empty: the handler judges the body itself); a JSON
    body that is not a JSON object (or not JSON, too deep,
    a number too long to read) is 422, before any handler sees it."""
    method = str(event.get("requestContext", {}).get("http", {}).get("method", "")).upper()
    key, value = _header(event, "content-type")
    media = (value or "").partition(";")[0].strip().lower()
    if key is not None and value is not None:
        headers = {k: v for k, v in event["headers"].items() if k != key}
        params = value.partition(";")[2]
        headers["content-type"] = media + (f";{params}" if params else "")
        event = {**event, "headers": headers}
    if method not in _BODY_METHODS or not event.get("body"):
        return event, None
    if accepts and media not in accepts:
        return event, (415, f"Content-Type must be {' or '.join(accepts)}")
    if media == JSON:
        try:
            parsed = json.loads(raw_body(event))
        except (ValueError, RecursionError):
            return event, (422, "body: must be valid JSON")
        if not isinstance(parsed, dict):
            return event, (422, "body: must be a JSON object")
    return event, None


def resolve(
    app: APIGatewayHttpResolver, event: dict[str, Any], context: Any, accepts: tuple[str, ...] = (JSON,)
) -> dict[str, Any]:
    """Accept every route with or without a trailing slash, as the contract asks."""
    event, refused = check_body(event, accepts)
    if refused:
        return _error_result(*refused)
    path = event.get("rawPath") or ""
    if len(path) > 1 and path.endswith("/"):
        event = {**event, "rawPath": path.rstrip("/") or "/"}
        path = event["rawPath"]
    stage = str((event.get("requestContext") or {}).get("stage") or "$default")
    if stage != "$default" and path != f"/{stage}" and not path.startswith(f"/{stage}/"):
        # Powertools cuts len("/<stage>") characters off the path whenever the stage is named;
        # through a custom domain's API mapping the path has no stage: route it as it is.
        event = {**event, "requestContext": {**event["requestContext"], "stage": "$default"}}
    return app.resolve(event, context)


def _error_result(status: int, detail: str) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps({"detail": detail}),
        "isBase64Encoded": False,
    }


def resolve_guarded(
    app: APIGatewayHttpResolver,
    event: dict[str, Any],
    context: Any,
    guard: Callable[[dict[str, Any]], Any],
    accepts: tuple[str, ...] = (JSON,),
) -> dict[str, Any]:
    """Check credentials before routing and body validation (a caller without a session gets
    401, whatever the body); the guard's result is in `app.context["caller"]`."""
    try:
        caller = guard(event)
    except ServiceError as exc:
        return _error_result(exc.status, exc.detail)
    app.append_context(caller=caller)
    try:
        return resolve(app, event, context, accepts)
    finally:
        app.clear_context()


def path_param(app: APIGatewayHttpResolver, name: str) -> str:
    """A path parameter as API Gateway matched it (`pathParameters`, decoded): never parsed
    again from the raw path, which carries the stage on a named stage."""
    value = (app.current_event.path_parameters or {}).get(name)
    if value is None:
        raise NotFound()
    return value


def optional_viewer(app: APIGatewayHttpResolver) -> Any:
    """The viewer on a public endpoint: anonymous when there is no session, or an unknown or
    expired one (a stale cookie must not break a public page)."""
    from albums_core.adapters.dynamodb.session_lookup import credentials_from, lookup_viewer

    event = app.current_event
    session_id = credentials_from(event.headers, event.get("cookies"))
    return lookup_viewer(session_id) if session_id else None


CROSS_SITE_REFUSED = "cross-site request refused"
_UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Locally a frontend runs on any loopback port (the local gateway's CORS allows them too).
_LOOPBACK_ORIGIN = re.compile(r"^http://(localhost|127\.0\.0\.1|\[::1\])(:[0-9]{1,5})?$")


def _own_origins(event: dict[str, Any]) -> set[str]:
    """The API's own origin: the host this request reached, and PUBLIC_API_URL's."""
    from urllib.parse import urlsplit

    from albums_core.config import settings

    config = settings()
    scheme = "http" if config.local_mode else "https"
    hosts = {str((event.get("requestContext") or {}).get("domainName") or ""), _header(event, "host")[1] or ""}
    own = {f"{scheme}://{host}".lower() for host in hosts if host}
    if config.public_api_url:
        parts = urlsplit(config.public_api_url)
        own.add(f"{parts.scheme}://{parts.netloc}".lower())
    return own


def origin_allowed(origin: str, event: dict[str, Any]) -> bool:
    from albums_core.config import settings

    config = settings()
    origin = origin.strip().lower()
    if origin in config.allowed_origins or origin in _own_origins(event):
        return True
    return config.local_mode and bool(_LOOPBACK_ORIGIN.match(origin))


def cross_site_refused(event: dict[str, Any], sets_session: bool = False) -> bool:
    """Cross-site request forgery: a browser sends the session cookie with a form or a fetch
    from any page (SameSite=None), or from a sibling subdomain (Lax), and a multipart or
    bodiless write needs no preflight. So a write whose session comes from the cookie (or that
    sets it: `sets_session`) must come from an allowed origin or the API's own: refused when
    `Origin` names another, or, without `Origin`, when `Sec-Fetch-Site` says cross-site. A
    bearer token is not sent by the browser on its own: such requests are not checked."""
    from albums_core.adapters.dynamodb.session_lookup import COOKIE_NAME
    from albums_core.http.cookies import cookie_value

    method = str((event.get("requestContext") or {}).get("http", {}).get("method", "")).upper()
    if method not in _UNSAFE_METHODS:
        return False
    if not sets_session and cookie_value(event.get("cookies"), event.get("headers"), COOKIE_NAME) is None:
        return False
    origin = _header(event, "origin")[1]
    if origin is not None:
        return not origin_allowed(origin, event)
    return (_header(event, "sec-fetch-site")[1] or "").strip().lower() == "cross-site"


def lambda_entry(
    app: APIGatewayHttpResolver,
    guard: Any = None,
    accepts: tuple[str, ...] = (JSON,),
    sets_session: bool = False,
    cookie_sessions: bool = True,
) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """The handler of every API function: settings checked at init, then correlation id,
    tracing, metrics, the cross-site check of cookie-authenticated writes, and the (guarded)
    route. `sets_session`: the route sets the session cookie, so it is checked as if it had one.
    `cookie_sessions=False`: the route never takes its caller from the cookie (the Subsonic API's
    credentials are in the request itself), so a cookie sent along proves nothing to refuse."""
    from aws_lambda_powertools.logging import correlation_paths

    @trigger_entry(correlation_paths.API_GATEWAY_HTTP)
    def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        if cookie_sessions and cross_site_refused(event, sets_session):
            logger.info("cross-site request refused", extra={"origin": str(_header(event, "origin")[1])[:200]})
            return _error_result(403, CROSS_SITE_REFUSED)
        if guard is None:
            return resolve(app, event, context, accepts)
        return resolve_guarded(app, event, context, guard, accepts)

    return lambda_handler


def request_base(app: APIGatewayHttpResolver) -> str:
    """The API's base URL as this request reached it: its host, and its stage when the path
    carries one (a custom domain's mapping has none)."""
    from albums_core.config import settings

    event = app.current_event.raw_event
    context = event.get("requestContext") or {}
    host = str(context.get("domainName") or "")
    stage = str(context.get("stage") or "$default")
    path = str(event.get("rawPath") or "")
    scheme = "http" if settings().local_mode else "https"
    prefix = f"/{stage}" if stage != "$default" and (path == f"/{stage}" or path.startswith(f"/{stage}/")) else ""
    return f"{scheme}://{host}{prefix}" if host else ""


def redirect(status: int, location: str, cookies: list[Any] | None = None) -> Response:
    """A redirect (303/307) that is JSON too, like every answer of the API; never cached."""
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body={"location": location},
        headers={"Location": location, "Cache-Control": "no-store"},
        cookies=cookies,
    )


def json_response(status: int, body: Any, cookies: list[Any] | None = None) -> Response:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body, cookies=cookies)

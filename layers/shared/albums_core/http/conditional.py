"""Conditional requests (RFC 9110 §13): ETag, Cache-Control and 304 on the public pages,
If-Match on the album's mutations.

A public page's tag is the hash of the body as the cache holds it (no read but that one);
a request with a session (cookie or bearer) gets its page with `private, no-store` and no tag
at all, so no tag can ever stand for a body that hides its own `is_liked`. Every public
answer varies on the credentials, so a shared cache never gives a signed-in viewer the
anonymous page."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types

from albums_core.domain.errors import BadRequest, PreconditionFailed
from albums_core.domain.etags import body_tag, expected_versions, none_match, parse_condition, version_tag
from albums_core.domain.models import Album

# Shorter than the page cache's 5 minutes: a browser or CDN revalidates (a 304 for one cache
# read) well before a changed album could look stale for long.
PUBLIC_MAX_AGE = 60
PUBLIC = f"public, max-age={PUBLIC_MAX_AGE}"
PRIVATE = "private, no-store"
VARY = "Cookie, Authorization"
MALFORMED_IF_MATCH = "If-Match: must be * or a comma-separated list of entity tags"


def header(event: dict[str, Any], name: str) -> str | None:
    """A request header by its case-insensitive name."""
    for key, value in (event.get("headers") or {}).items():
        if key.lower() == name:
            return str(value)
    return None


def has_credentials(event: dict[str, Any]) -> bool:
    """A session cookie or an Authorization header: the answer is the viewer's own."""
    from albums_core.adapters.dynamodb.session_lookup import COOKIE_NAME
    from albums_core.http.cookies import cookie_value

    if header(event, "authorization") is not None:
        return True
    return cookie_value(event.get("cookies"), event.get("headers"), COOKIE_NAME) is not None


def page_response(event: dict[str, Any], body: str) -> Response[str]:
    """A public page (JSON text): with a session, private and untagged; otherwise tagged and
    public, and 304 with no body when If-None-Match names its tag (a malformed If-None-Match is
    ignored: the full page is always a correct answer to a GET)."""
    if has_credentials(event):
        return Response(200, content_types.APPLICATION_JSON, body, headers={"Cache-Control": PRIVATE})
    tag = body_tag(body)
    headers = {"ETag": tag, "Cache-Control": PUBLIC, "Vary": VARY}
    try:
        condition = parse_condition(header(event, "if-none-match"))
    except ValueError:
        condition = None
    if condition is not None and none_match(condition, tag):
        return Response(304, None, "", headers=headers)
    return Response(200, content_types.APPLICATION_JSON, body, headers=headers)


def if_match(event: dict[str, Any]) -> frozenset[int] | None:
    """The album versions a mutation's If-Match accepts: None without one (or with `*`).
    A malformed one is 400, not ignored: a client that sent a precondition must not have its
    change applied blindly, and 412 would wrongly say that the album changed. An empty one is
    an empty list of tags (`#entity-tag`, RFC 9110 §13.1.1): it names no version, so 412."""
    value = header(event, "if-match")
    try:
        condition = parse_condition(value)
    except ValueError as exc:
        raise BadRequest(MALFORMED_IF_MATCH) from exc
    if condition is None:
        return None if value is None else frozenset()
    return expected_versions(condition)


def check_if_match(album: Album, expected: frozenset[int] | None) -> None:
    if expected is not None and album.version not in expected:
        raise PreconditionFailed()


def versioned_response(body: Any, version: int | None, status: int = 200) -> Response[Any]:
    """A mutation's answer, tagged with the album's version when it still has one."""
    headers = {"ETag": version_tag(version)} if version is not None else {}
    headers["Cache-Control"] = "no-store"
    return Response(status, content_types.APPLICATION_JSON, body, headers=headers)

"""The session cookie, built in one place for every function that sets or clears it."""

from __future__ import annotations

from aws_lambda_powertools.shared.cookies import Cookie, SameSite

from albums_core.adapters.dynamodb.session_lookup import COOKIE_NAME
from albums_core.config import settings


def session_cookie(session_id: str, max_age: int) -> Cookie:
    """The session cookie, for a frontend that may live on another origin: HttpOnly, Path=/,
    SameSite and Domain as deployed (SESSION_COOKIE_SAMESITE, SESSION_COOKIE_DOMAIN), Secure
    outside local mode (loopback has no TLS) and always with SameSite=None, which browsers
    refuse without it."""
    config = settings()
    same_site = SameSite(config.session_cookie_samesite)
    return Cookie(
        COOKIE_NAME,
        session_id,
        path="/",
        domain=config.session_cookie_domain,
        secure=not config.local_mode or same_site is SameSite.NONE_MODE,
        http_only=True,
        max_age=max_age,
        same_site=same_site,
    )


def cleared_cookie() -> Cookie:
    return session_cookie("", 0)


# The OAuth state, kept by the browser between /auth/start and /auth/callback (login CSRF:
# the callback signs in only the browser that started). SameSite=Lax: the authorization
# server's redirect back is a top-level GET navigation, which Lax cookies follow.
STATE_COOKIE_NAME = "oauth_state"


def state_cookie(state: str, max_age: int) -> Cookie:
    return Cookie(
        STATE_COOKIE_NAME,
        state,
        path="/",
        secure=not settings().local_mode,
        http_only=True,
        max_age=max_age,
        same_site=SameSite.LAX_MODE,
    )


def cleared_state_cookie() -> Cookie:
    return state_cookie("", 0)


def cookie_value(cookies: list[str] | None, headers: dict[str, str] | None, name: str) -> str | None:
    """A cookie the request carries (API Gateway's `cookies`, or a Cookie header)."""
    jar = list(cookies or [])
    for key, value in (headers or {}).items():
        if key.lower() == "cookie":
            jar.extend(value.split(";"))
    for pair in jar:
        key, _, value = pair.strip().partition("=")
        if key.strip() == name and value.strip():
            return value.strip()
    return None

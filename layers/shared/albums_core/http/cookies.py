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

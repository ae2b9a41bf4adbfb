"""The session cookie works for a browser frontend on another origin, as deployed."""

from collections.abc import Iterator

import pytest

from albums_core import config
from albums_core.http import cookies


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    for name in ("ALBUMS_LOCAL_MODE", "SESSION_COOKIE_SAMESITE", "SESSION_COOKIE_DOMAIN"):
        monkeypatch.delenv(name, raising=False)
    config.settings.cache_clear()
    yield monkeypatch
    config.settings.cache_clear()


def attributes(cookie: object) -> list[str]:
    return [part.strip() for part in str(cookie).split(";")]


def test_deployed_cookie_is_secure_http_only_for_the_whole_api(env: pytest.MonkeyPatch) -> None:
    parts = attributes(cookies.session_cookie("abc", 3600))
    assert parts[0] == "session_id=abc"
    assert {"Path=/", "Secure", "HttpOnly", "SameSite=Lax", "Max-Age=3600"} <= set(parts)
    assert not any(p.startswith("Domain=") for p in parts)


def test_local_mode_has_no_tls_so_no_secure(env: pytest.MonkeyPatch) -> None:
    env.setenv("ALBUMS_LOCAL_MODE", "true")
    parts = attributes(cookies.session_cookie("abc", 60))
    assert "Secure" not in parts and {"HttpOnly", "Path=/", "SameSite=Lax"} <= set(parts)


@pytest.mark.parametrize("given, expected", [("None", "None"), ("strict", "Strict"), ("LAX", "Lax")])
def test_same_site_and_domain_are_configurable(env: pytest.MonkeyPatch, given: str, expected: str) -> None:
    env.setenv("SESSION_COOKIE_SAMESITE", given)
    env.setenv("SESSION_COOKIE_DOMAIN", "plyr.fm")
    parts = attributes(cookies.session_cookie("abc", 60))
    assert f"SameSite={expected}" in parts and "Domain=plyr.fm" in parts and "Secure" in parts


def test_same_site_none_is_always_secure_since_browsers_refuse_it_otherwise(env: pytest.MonkeyPatch) -> None:
    env.setenv("ALBUMS_LOCAL_MODE", "true")
    env.setenv("SESSION_COOKIE_SAMESITE", "None")
    assert {"SameSite=None", "Secure"} <= set(attributes(cookies.session_cookie("abc", 60)))


def test_logout_clears_the_same_cookie(env: pytest.MonkeyPatch) -> None:
    env.setenv("SESSION_COOKIE_DOMAIN", "plyr.fm")
    parts = attributes(cookies.cleared_cookie())
    assert parts[0] == "session_id=" and "Max-Age=0" in parts and "Domain=plyr.fm" in parts and "Path=/" in parts


def test_an_unknown_same_site_is_a_deployment_error(env: pytest.MonkeyPatch) -> None:
    env.setenv("SESSION_COOKIE_SAMESITE", "sometimes")
    with pytest.raises(ValueError, match="SESSION_COOKIE_SAMESITE"):
        config.settings()

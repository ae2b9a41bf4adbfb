"""Cross-site request forgery: a write whose session comes from the cookie is refused unless it
comes from an allowed origin or the API's own (the real handlers, in process, against moto).
A bearer token is not sent by a browser on its own: those requests are not checked."""

from __future__ import annotations

import base64
import io
import json
from typing import Any

import pytest
from PIL import Image

from albums_core import config
from albums_core.adapters.atproto.xrpc import Tokens
from albums_core.adapters.dynamodb.catalogue import CatalogueRepository
from albums_core.adapters.dynamodb.session_store import create_session, load_session
from albums_core.domain.errors import InvalidSession
from albums_core.domain.models import Album
from local_runtime.lambda_host import InProcessHost
from local_runtime.processes import MotoServer
from local_runtime.record_server import RecordServer
from local_runtime.template import Stack, local_stack
from tests.integration.factory import make_album, make_artist

EVIL = "http://evil.example"
FRONTEND = "https://app.example"
API_HOST = "abc123.execute-api.us-east-1.amazonaws.com"
REFUSED = {"detail": "cross-site request refused"}
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
# Routes that set the session cookie rather than read it: checked whether or not one is sent.
SETS_SESSION = {"/auth/login", "/auth/exchange"}


@pytest.fixture
def host(aws_env: None, moto: MotoServer, stack: Stack, settings_env: pytest.MonkeyPatch) -> InProcessHost:
    lambda_host = InProcessHost(stack, moto.url)
    # Production: no loopback origin is allowed, only the configured frontends.
    settings_env.setenv("ALBUMS_LOCAL_MODE", "false")
    settings_env.setenv("ALLOWED_ORIGINS", f"{FRONTEND},http://localhost:5173")
    settings_env.setenv("PUBLIC_API_URL", "")
    config.settings.cache_clear()
    return lambda_host


@pytest.fixture
def owned(host: InProcessHost, pds: RecordServer) -> tuple[str, Album]:
    """A session of an artist (app password, on the record server) and one of their albums."""
    repo = CatalogueRepository()
    artist = make_artist(repo, "csrf.test", pds_url=pds.url)
    album, _ = make_album(repo, artist, "Forged", tracks=2)
    session = create_session(artist.did, artist.handle, pds.url, Tokens("access", "refresh"))
    return session.session_id, album


def event(
    method: str,
    path: str,
    *,
    cookie: str | None = None,
    bearer: str | None = None,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    content_type: str | None = None,
    path_params: dict[str, str] | None = None,
) -> dict[str, Any]:
    sent = {"host": API_HOST, "user-agent": "pytest", **(headers or {})}
    if bearer:
        sent["authorization"] = f"Bearer {bearer}"
    if content_type:
        sent["content-type"] = content_type
    out: dict[str, Any] = {
        "version": "2.0",
        "routeKey": f"{method} {path}",
        "rawPath": path,
        "rawQueryString": "",
        "headers": sent,
        "requestContext": {
            "domainName": API_HOST,
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.7"},
            "requestId": "csrf-test",
            "routeKey": f"{method} {path}",
            "stage": "$default",
        },
        "isBase64Encoded": body is not None,
        "body": base64.b64encode(body).decode() if body is not None else None,
    }
    if cookie:
        out["cookies"] = [f"session_id={cookie}"]
    if path_params:
        out["pathParameters"] = path_params
    return out


def invoke(host: InProcessHost, function: str, ev: dict[str, Any]) -> tuple[int, Any]:
    out = host.invoke(function, ev)
    return out["statusCode"], json.loads(out["body"]) if out.get("body") else None


def function_of(method: str, path: str) -> str:
    return next(r.function for r in local_stack().routes() if r.method == method and r.path == path)


def multipart_cover() -> tuple[bytes, str]:
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 30, 30)).save(buf, "PNG")
    boundary = "csrf-boundary-1234"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="c.png"\r\n'
            "Content-Type: image/png\r\n\r\n"
        ).encode()
        + buf.getvalue()
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


def cover_of(album: Album) -> str | None:
    stored = CatalogueRepository().get_album(album.id)
    assert stored is not None
    return stored.image_url


def still_signed_in(session_id: str) -> bool:
    try:
        load_session(session_id)
    except InvalidSession:
        return False
    return True


def unsafe_routes() -> list[tuple[str, str]]:
    """Every write the session cookie can authenticate (the Subsonic API's credentials are in the
    request itself: a cookie sent along is not what authenticates it)."""
    return sorted(
        (r.method, r.path)
        for r in local_stack().routes()
        if r.method in UNSAFE and r.path[-1] != "/" and not r.path.startswith("/rest/")
    )


def test_a_subsonic_post_with_a_cookie_from_another_site_is_answered_as_subsonic(
    host: InProcessHost, owned: tuple[str, Album]
) -> None:
    session_id, _ = owned
    sent = event(
        "POST",
        "/rest/ping",
        cookie=session_id,
        headers={"origin": EVIL, "sec-fetch-site": "cross-site"},
        body=b"f=json",
        content_type="application/x-www-form-urlencoded",
    )
    status, body = invoke(host, function_of("POST", "/rest/ping"), sent)
    # Not the cookie's 403: the API's own answer, an envelope asking for credentials.
    assert status == 200, body
    assert body["subsonic-response"]["status"] == "failed"
    assert body["subsonic-response"]["error"]["code"] == 10


@pytest.mark.parametrize("method, path", unsafe_routes())
@pytest.mark.parametrize(
    "headers",
    [
        {"origin": EVIL},
        {"origin": "null"},  # a sandboxed frame, a cross-origin redirect
        {"origin": "https://sub.app.example"},  # a sibling subdomain: same site, not an allowed origin
        {"sec-fetch-site": "cross-site"},  # no Origin, but the browser says where it came from
    ],
)
def test_every_cookie_authenticated_write_from_another_origin_is_refused(
    host: InProcessHost, owned: tuple[str, Album], method: str, path: str, headers: dict[str, str]
) -> None:
    session_id, album = owned
    params = {"ref": album.id, "track_id": "t"} if "{" in path else None
    concrete = path.replace("{ref}", album.id).replace("{track_id}", "t")
    body = b'{"title": "Forged"}'
    status, answer = invoke(
        host,
        function_of(method, path),
        event(
            method,
            concrete,
            cookie=session_id,
            headers=headers,
            body=body,
            content_type="application/json",
            path_params=params,
        ),
    )
    assert (status, answer) == (403, REFUSED), (method, path)
    stored = CatalogueRepository().get_album(album.id)
    assert stored is not None and stored.title == album.title
    assert still_signed_in(session_id)


def test_a_cross_site_multipart_cover_is_refused_and_the_cover_kept(
    host: InProcessHost, owned: tuple[str, Album]
) -> None:
    session_id, album = owned
    fn = function_of("POST", "/albums/{ref}/cover")
    body, media = multipart_cover()
    before = cover_of(album)
    forged = event(
        "POST",
        f"/albums/{album.id}/cover",
        cookie=session_id,
        headers={"origin": EVIL},
        body=body,
        content_type=media,
        path_params={"ref": album.id},
    )
    assert invoke(host, fn, forged) == (403, REFUSED)
    assert cover_of(album) == before
    # From the allowed frontend the same request replaces the cover.
    allowed = {**forged, "headers": {**forged["headers"], "origin": FRONTEND, "sec-fetch-site": "cross-site"}}
    status, answer = invoke(host, fn, allowed)
    assert status == 200, answer
    assert cover_of(album) not in (None, before)


def test_a_bearer_token_is_not_checked(host: InProcessHost, owned: tuple[str, Album]) -> None:
    """A script with the session id sends it itself: no browser forged it."""
    session_id, album = owned
    fn = function_of("POST", "/albums/{ref}/cover/upload-url")
    ev = event(
        "POST",
        f"/albums/{album.id}/cover/upload-url",
        bearer=session_id,
        headers={"origin": EVIL, "sec-fetch-site": "cross-site"},
        path_params={"ref": album.id},
    )
    status, answer = invoke(host, fn, ev)
    assert status == 200 and "url" in answer, answer
    status, answer = invoke(
        host,
        function_of("POST", "/artists/me/sync"),
        event("POST", "/artists/me/sync", bearer=session_id, headers={"origin": EVIL}),
    )
    # The record server does not answer everything a sync asks (502): the route ran.
    assert status != 403 and "PDS" in answer["detail"], answer
    status, answer = invoke(
        host,
        function_of("POST", "/auth/logout"),
        event("POST", "/auth/logout", bearer=session_id, headers={"origin": EVIL}),
    )
    assert status == 200 and not still_signed_in(session_id), answer


@pytest.mark.parametrize(
    "headers",
    [
        {},  # not a browser, or a browser that sent no Origin on a same-origin request
        {"origin": FRONTEND, "sec-fetch-site": "cross-site"},  # the frontend on another site
        {"origin": "HTTP://LOCALHOST:5173"},  # origins compare without case
        {"origin": f"https://{API_HOST}"},  # the API's own origin (its docs page)
        {"sec-fetch-site": "same-site"},
        {"sec-fetch-site": "same-origin"},
    ],
)
def test_writes_from_allowed_origins_go_through(
    host: InProcessHost, owned: tuple[str, Album], headers: dict[str, str]
) -> None:
    session_id, album = owned
    fn = function_of("POST", "/albums/{ref}/cover/upload-url")
    ev = event(
        "POST",
        f"/albums/{album.id}/cover/upload-url",
        cookie=session_id,
        headers=headers,
        path_params={"ref": album.id},
    )
    status, answer = invoke(host, fn, ev)
    assert status == 200, answer
    status, answer = invoke(
        host,
        function_of("POST", "/artists/me/sync"),
        event("POST", "/artists/me/sync", cookie=session_id, headers=headers),
    )
    # The record server does not answer everything a sync asks (502): the route ran.
    assert status != 403 and "PDS" in answer["detail"], answer
    status, answer = invoke(
        host, function_of("POST", "/auth/logout"), event("POST", "/auth/logout", cookie=session_id, headers=headers)
    )
    assert status == 200 and not still_signed_in(session_id), answer


def test_a_cross_site_logout_keeps_the_session(host: InProcessHost, owned: tuple[str, Album]) -> None:
    session_id, _ = owned
    fn = function_of("POST", "/auth/logout")
    assert invoke(host, fn, event("POST", "/auth/logout", cookie=session_id, headers={"origin": EVIL})) == (
        403,
        REFUSED,
    )
    assert still_signed_in(session_id)


def test_reads_with_the_cookie_are_not_checked(host: InProcessHost, owned: tuple[str, Album]) -> None:
    session_id, _ = owned
    status, answer = invoke(
        host, function_of("GET", "/auth/me"), event("GET", "/auth/me", cookie=session_id, headers={"origin": EVIL})
    )
    assert status == 200 and answer["did"], answer


@pytest.mark.parametrize("path", sorted(SETS_SESSION))
def test_the_routes_that_set_the_cookie_refuse_other_origins_without_one(host: InProcessHost, path: str) -> None:
    """Login CSRF: another site must not sign a browser in (to the forger's account). The
    frontend calls these from an allowed origin; a script sends no Origin."""
    fn = function_of("POST", path)
    body = json.dumps(
        {"exchange_token": "x" * 43} if path == "/auth/exchange" else {"identifier": "a", "password": "b"}
    )
    forged = event("POST", path, headers={"origin": EVIL}, body=body.encode(), content_type="application/json")
    assert invoke(host, fn, forged) == (403, REFUSED)
    for headers in ({"origin": FRONTEND}, {}):
        ev = event("POST", path, headers=headers, body=body.encode(), content_type="application/json")
        status, answer = invoke(host, fn, ev)
        assert status != 403, answer

"""OAuth sign-in against the real local PDS (its authorization server): the handlers invoked
in this process as Lambda would, sign-in and consent over the provider's JSON API."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from functools import cache
from types import ModuleType
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest

from albums_core import bootstrap, config
from albums_core.adapters import parameters
from albums_core.adapters.atproto import oauth_client, xrpc
from albums_core.adapters.dynamodb import oauth_store, session_store
from albums_core.domain.records import LIST
from local_runtime.lambda_host import LambdaContext
from local_runtime.modules import load_module
from local_runtime.pds import LocalPds
from local_runtime.template import ROOT
from tests.integration.pds_fixture import ACCOUNTS
from tests.support.oauth_signin import AuthorizePage, authorize

PASSWORDS = {a["handle"]: a["password"] for a in ACCOUNTS}
FRONTEND = "http://localhost:5173"
API = "http://127.0.0.1:3999/dev"  # the redirect URI's origin: the callback is invoked here, never served


@cache
def handler(name: str) -> ModuleType:
    return load_module(f"oauth_fn_{name}", ROOT / "functions" / name / "app.py")


def call(
    name: str,
    method: str,
    path: str,
    *,
    query: dict[str, str] | None = None,
    body: Any = None,
    session: str | None = None,
    headers: dict[str, str] | None = None,
    path_params: dict[str, str] | None = None,
    cookies: list[str] | None = None,
) -> tuple[int, dict[str, str], Any, list[str]]:
    """(status, headers, JSON body or None, cookies) of one invocation, as API Gateway sends it."""
    sent = {"host": "127.0.0.1:3999", "user-agent": "pytest", **(headers or {})}
    if body is not None:
        sent["content-type"] = "application/json"
    if session:
        sent["authorization"] = f"Bearer {session}"
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": f"{method} {path}",
        "rawPath": path,
        "rawQueryString": urlencode(query or {}),
        "queryStringParameters": query or None,
        "headers": sent,
        "pathParameters": path_params,
        "requestContext": {
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1"},
            "requestId": "oauth-test",
            "routeKey": f"{method} {path}",
            "stage": "$default",
        },
        "body": json.dumps(body) if body is not None else None,
        "isBase64Encoded": False,
    }
    if cookies:
        event["cookies"] = cookies
    out = handler(name).lambda_handler(
        event, LambdaContext(function_name=name, memory_limit_in_mb=512, timeout_ms=29000)
    )
    raw = out.get("body")
    parsed = json.loads(raw) if raw else None
    return (
        out["statusCode"],
        {k.lower(): v for k, v in (out.get("headers") or {}).items()},
        parsed,
        out.get("cookies") or [],
    )


@pytest.fixture
def oauth_env(pds_env: LocalPds, settings_env: pytest.MonkeyPatch) -> LocalPds:
    setenv(settings_env, "PUBLIC_API_URL", API)
    settings_env.setenv("FRONTEND_URL", FRONTEND)
    setenv(settings_env, "ALBUMS_LOCAL_MODE", "true")
    setenv(settings_env, "OAUTH_SCOPE", "atproto repo:fm.plyr.list repo:fm.plyr.track")
    JAR.clear()
    return pds_env


def setenv(env: pytest.MonkeyPatch, name: str, value: str) -> None:
    """A setting changed within a test: settings are read once and cached."""
    env.setenv(name, value)
    config.settings.cache_clear()


# The browser's cookies for the API, as a browser keeps them: /auth/start sets the state cookie
# that /auth/callback must bring back.
JAR: dict[str, str] = {}


def keep(cookies: list[str]) -> None:
    for cookie in cookies:
        name, _, value = cookie.split(";")[0].partition("=")
        if value:
            JAR[name] = value
        else:
            JAR.pop(name, None)


def start(**query: str) -> tuple[int, Any, str]:
    status, headers, body, cookies = call("auth_start", "GET", "/auth/start", query=query)
    keep(cookies)
    return status, body, headers.get("location", "")


def callback(params: dict[str, str], jar: dict[str, str] | None = None) -> str:
    sent = [f"{k}={v}" for k, v in (JAR if jar is None else jar).items()]
    status, headers, _, cookies = call("auth_callback", "GET", "/auth/callback", query=params, cookies=sent)
    assert status == 303
    if jar is None:
        keep(cookies)
    return headers["location"]


def redirected(location: str) -> tuple[str, dict[str, str]]:
    parts = urlsplit(location)
    return f"{parts.scheme}://{parts.netloc}{parts.path}", dict(parse_qsl(parts.query))


def sign_in(handle: str, as_handle: str | None = None, scope: str | None = None) -> str:
    """The whole flow for `handle`; the location the callback redirects to."""
    status, body, location = start(handle=handle)
    assert status == 307, body
    who = as_handle or handle
    return callback(authorize(location, who, PASSWORDS[who], scope))


def session_for(handle: str) -> str:
    where, params = redirected(sign_in(handle))
    assert where == f"{FRONTEND}/portal", where
    status, _, body, cookies = call("auth_exchange", "POST", "/auth/exchange", body=params)
    assert status == 200 and cookies == [], body
    return str(body["session_id"])


def test_sign_in_create_rename_logout(oauth_env: LocalPds) -> None:
    alice = oauth_env.account("alice.test")
    session_id = session_for("alice.test")

    status, _, me, _ = call("auth_me", "GET", "/auth/me", session=session_id)
    assert status == 200 and me["did"] == alice["did"] and me["handle"] == "alice.test" and me["is_artist"]
    # The plyr.fm web app's user object (frontend/src/lib/types.ts `User`).
    assert me["linked_accounts"] == [{"did": alice["did"], "handle": "alice.test", "avatar_url": me["avatar_url"]}]
    assert me["enabled_flags"] == []

    status, _, album, _ = call("create_album", "POST", "/albums", body={"title": "OAuth Album"}, session=session_id)
    assert status == 201, album
    status, _, renamed, _ = call(
        "update_album",
        "PATCH",
        f"/albums/{album['id']}",
        body={"title": "Renamed With OAuth"},
        session=session_id,
        path_params={"ref": album["id"]},
    )
    assert status == 200 and renamed["title"] == "Renamed With OAuth", renamed
    at = album["list_uri"].removeprefix("at://").split("/")
    record = xrpc.get_record(oauth_env.pds_url, at[0], at[1], at[2])
    assert record is not None and record.value["name"] == "Renamed With OAuth" and record.value["$type"] == LIST

    stored = session_store.load_session(session_id)
    assert stored.grant is not None
    status, _, out, cookies = call("auth_logout", "POST", "/auth/logout", session=session_id)
    assert status == 200 and out == {"logged_out": True}
    assert call("auth_me", "GET", "/auth/me", session=session_id)[0] == 401
    with pytest.raises(oauth_client.GrantRevoked):  # the grant is revoked at the authorization server
        oauth_client.refresh(stored.did, stored.pds_url, stored.grant)


def test_a_browser_gets_the_cookie_and_a_token_works_once(oauth_env: LocalPds) -> None:
    _, params = redirected(sign_in("alice.test"))
    browser = {"origin": FRONTEND, "sec-fetch-mode": "cors", "sec-fetch-site": "cross-site"}
    status, _, body, cookies = call("auth_exchange", "POST", "/auth/exchange", body=params, headers=browser)
    assert status == 200 and body == {"session_id": None}
    (cookie,) = cookies
    assert cookie.startswith("session_id=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Max-Age=1209600" in cookie and "Secure" not in cookie  # no TLS on loopback: local mode only
    session_id = cookie.split(";")[0].split("=", 1)[1]
    assert call("auth_me", "GET", "/auth/me", session=session_id)[0] == 200
    status, _, body, _ = call("auth_exchange", "POST", "/auth/exchange", body=params)
    assert status == 401 and body == {"detail": "invalid or expired exchange token"}


def test_an_exchange_token_expires_after_60_seconds(oauth_env: LocalPds, monkeypatch: pytest.MonkeyPatch) -> None:
    _, params = redirected(sign_in("alice.test"))
    later = time.time() + 61
    monkeypatch.setattr(oauth_store.time, "time", lambda: later)
    status, _, body, _ = call("auth_exchange", "POST", "/auth/exchange", body=params)
    assert status == 401, body


def test_states_never_issued_used_or_expired(oauth_env: LocalPds, monkeypatch: pytest.MonkeyPatch) -> None:
    assert redirected(callback({"code": "x", "state": "never-issued", "iss": "http://localhost"})) == (
        f"{FRONTEND}/",
        {"auth_error": "expired"},
    )
    _, _, location = start(handle="alice.test")
    params = authorize(location, "alice.test", PASSWORDS["alice.test"])
    assert redirected(callback(params))[0] == f"{FRONTEND}/portal"
    assert redirected(callback(params)) == (f"{FRONTEND}/", {"auth_error": "expired"})  # used

    _, _, location = start(handle="alice.test")
    params = authorize(location, "alice.test", PASSWORDS["alice.test"])
    later = time.time() + 601
    monkeypatch.setattr(oauth_store.time, "time", lambda: later)
    assert redirected(callback(params)) == (f"{FRONTEND}/", {"auth_error": "expired"})


def test_an_issuer_that_does_not_match_fails(oauth_env: LocalPds) -> None:
    _, _, location = start(handle="alice.test")
    params = authorize(location, "alice.test", PASSWORDS["alice.test"])
    assert redirected(callback({**params, "iss": "https://evil.example"})) == (f"{FRONTEND}/", {"auth_error": "failed"})


def test_access_denied_is_named(oauth_env: LocalPds) -> None:
    _, _, location = start(handle="alice.test")
    back = dict(parse_qsl(urlsplit(AuthorizePage(location).reject()).query))
    assert back["error"] == "access_denied"
    assert redirected(callback(back)) == (f"{FRONTEND}/", {"auth_error": "access_denied"})
    back.pop("error")  # the state went with the refusal
    assert redirected(callback({**back, "code": "x"})) == (f"{FRONTEND}/", {"auth_error": "expired"})


def test_a_callback_for_another_account_fails(oauth_env: LocalPds) -> None:
    assert redirected(sign_in("alice.test", as_handle="bob.test")) == (f"{FRONTEND}/", {"auth_error": "failed"})


def test_a_smaller_granted_scope_is_a_scope_mismatch(oauth_env: LocalPds) -> None:
    location = sign_in("alice.test", scope="atproto repo:fm.plyr.track")
    assert redirected(location) == (f"{FRONTEND}/", {"auth_error": "scope_mismatch"})


def test_start_inputs(oauth_env: LocalPds, pds: Any, settings_env: pytest.MonkeyPatch) -> None:
    assert start()[0] == 400
    assert start(handle="alice.test", pds_url=oauth_env.pds_url)[0] == 400
    status, body, _ = start(handle="nobody.test")
    assert (status, body) == (400, {"detail": "handle could not be resolved"})
    status, body, _ = start(pds_url=pds.url)  # a PDS that is no authorization server
    assert status == 400 and "OAuth" in body["detail"]
    status, _, location = start(pds_url=oauth_env.pds_url.replace("127.0.0.1", "localhost"))
    assert status == 307 and "/oauth/authorize?" in location

    setenv(settings_env, "ALBUMS_LOCAL_MODE", "false")
    status, body, _ = start(pds_url=oauth_env.pds_url)
    assert (status, body) == (400, {"detail": "pds_url must be an https URL"})


def test_production_settings_refuse_loopback_and_http_issuers(
    oauth_env: LocalPds, settings_env: pytest.MonkeyPatch
) -> None:
    """The library's checks stand outside local mode: the same local account cannot start."""
    setenv(settings_env, "ALBUMS_LOCAL_MODE", "false")
    setenv(settings_env, "PUBLIC_API_URL", "https://api.example.org/dev")
    status, body, _ = start(handle="alice.test")
    # Outside local mode a development network's `.test` handle names no one (no central resolver
    # is asked): refused before the library is reached; its own check of the issuer follows.
    assert status == 400 and body["detail"] == "handle could not be resolved", body
    from atproto_oauth import metadata

    md = {"issuer": "http://localhost:2583"}
    with pytest.raises(ValueError):
        metadata.validate_authserver_metadata(md, "http://localhost:2583/.well-known/oauth-authorization-server")


def test_client_metadata_and_jwks(oauth_env: LocalPds, settings_env: pytest.MonkeyPatch) -> None:
    setenv(settings_env, "ALBUMS_LOCAL_MODE", "false")
    setenv(settings_env, "PUBLIC_API_URL", "https://api.example.org/dev")
    parameters.clear()
    status, _, doc, _ = call("oauth_client_metadata", "GET", "/oauth-client-metadata.json")
    assert status == 200
    assert doc["client_id"] == "https://api.example.org/dev/oauth-client-metadata.json"
    assert doc["redirect_uris"] == ["https://api.example.org/dev/auth/callback"]
    assert doc["token_endpoint_auth_method"] == "private_key_jwt" and doc["dpop_bound_access_tokens"] is True
    assert doc["jwks_uri"] == "https://api.example.org/dev/.well-known/jwks.json"
    status, _, jwks, _ = call("oauth_jwks", "GET", "/.well-known/jwks.json")
    assert status == 200 and jwks["keys"] and all("d" not in k and k["alg"] == "ES256" for k in jwks["keys"])

    # a rotation: both keys published, the promoted one signs
    from tools.oauth_key import key_set

    from albums_core.adapters.aws_clients import client

    name = os.environ["OAUTH_KEY_PARAMETER"]
    current = json.loads(client("ssm").get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"])
    rotated = key_set(key_set(current, "add"), "promote")
    client("ssm").put_parameter(Name=name, Value=json.dumps(rotated), Type="SecureString", Overwrite=True)
    parameters.clear()
    status, _, jwks, _ = call("oauth_jwks", "GET", "/.well-known/jwks.json")
    assert [k["kid"] for k in jwks["keys"]] == [k["kid"] for k in rotated["keys"]]
    signer = oauth_client.make_client(oauth_client.client_identity())
    assert signer.kid == rotated["keys"][0]["kid"]


def _expire_access_token(session_id: str) -> None:
    session = session_store.load_session(session_id)
    assert session.grant is not None
    session.grant.expires_at = time.time() - 5
    session_store.store_grant(session, session.grant, bump=False)


def test_two_requests_with_an_expired_token_refresh_once(oauth_env: LocalPds, monkeypatch: pytest.MonkeyPatch) -> None:
    session_id = session_for("alice.test")
    _expire_access_token(session_id)
    refreshes: list[float] = []
    real = oauth_client.refresh

    def counted(*args: Any) -> Any:
        refreshes.append(time.time())
        time.sleep(0.3)  # long enough for the other request to find the lease taken
        return real(*args)

    monkeypatch.setattr(oauth_client, "refresh", counted)
    results: dict[int, Any] = {}

    def write(i: int) -> None:
        status, _, body, _ = call(
            "create_album", "POST", "/albums", body={"title": f"Concurrent {i}"}, session=session_id
        )
        results[i] = (status, body)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [results[i][0] for i in range(2)] == [201, 201], results
    assert len(refreshes) == 1
    after = session_store.load_session(session_id)
    assert after.grant is not None and after.grant_version == 1
    assert not oauth_client.token_expiring(after.grant)
    # the grant is alive: the rotated refresh token works once more
    fresh = real(after.did, after.pds_url, after.grant)
    assert fresh.refresh_token != after.grant.refresh_token


def test_a_write_outside_the_granted_scope_is_403_naming_it(
    oauth_env: LocalPds, settings_env: pytest.MonkeyPatch
) -> None:
    setenv(settings_env, "OAUTH_SCOPE", "atproto repo:fm.plyr.track")
    session_id = session_for("alice.test")
    status, _, body, _ = call("create_album", "POST", "/albums", body={"title": "Out Of Scope"}, session=session_id)
    assert status == 403, body
    assert "repo:fm.plyr.list" in body["detail"]


def test_an_oauth_session_of_a_deactivated_account_gets_403_and_ends(oauth_env: LocalPds) -> None:
    # Issue 18.5: the PDS refuses the account (401 AccountDeactivated); a refresh changes nothing.
    import uuid

    handle = f"o{uuid.uuid4().hex[:12]}.test"
    oauth_env.create_account(handle, "oauth-pass-1234")
    PASSWORDS[handle] = "oauth-pass-1234"
    session_id = session_for(handle)
    own = xrpc.create_session(oauth_env.pds_url, handle, "oauth-pass-1234")
    xrpc.call(oauth_env.pds_url, "POST", "com.atproto.server.deactivateAccount", body={}, token=own["accessJwt"])

    status, _, body, cookies = call("create_album", "POST", "/albums", body={"title": "After"}, session=session_id)
    assert status == 403, body
    assert "deactivated" in body["detail"] and "repeat" not in body["detail"]
    assert any(c.startswith("session_id=;") for c in cookies), cookies
    status, _, _, _ = call("auth_me", "GET", "/auth/me", session=session_id)
    assert status == 401  # the session ended


def test_pds_options(settings_env: pytest.MonkeyPatch) -> None:
    settings_env.delenv("AUTH_PDS_OPTIONS", raising=False)
    config.settings.cache_clear()
    assert call("auth_pds_options", "GET", "/auth/pds-options")[2] == {"enabled": False, "options": []}
    option = {
        "name": "Local",
        "url": "https://pds.example.org",
        "recommended": True,
        "description": "d",
        "info_url": None,
    }
    setenv(settings_env, "AUTH_PDS_OPTIONS", json.dumps([option]))
    assert call("auth_pds_options", "GET", "/auth/pds-options")[2] == {"enabled": True, "options": [option]}


_ = (Callable, Iterator)


def test_a_cleanup_job_after_a_refresh_uses_the_sessions_tokens(oauth_env: LocalPds) -> None:
    """A job of an OAuth session holds no tokens of its own: it refers to the session, and
    refreshes it under the same lease as any request."""
    from albums_core.adapters.dynamodb.catalogue import CatalogueWriter
    from albums_core.domain.records import TRACK
    from albums_core.services import cleanup

    session_id = session_for("alice.test")
    session = session_store.load_session(session_id)
    pds = session_store.pds_session(session)
    n = cleanup.SYNC_DELETE_MAX_TRACKS + 5
    writes = [
        {
            "$type": "com.atproto.repo.applyWrites#create",
            "collection": TRACK,
            "value": {
                "$type": TRACK,
                "title": f"T{i}",
                "artist": "A",
                "fileType": "mp3",
                "createdAt": "2026-01-01T00:00:00.000Z",
                "album": "Big",
            },
        }
        for i in range(n)
    ]
    uris = [r["uri"] for r in pds.apply_writes(writes, swap_commit=None)["results"]]
    items = [{"subject": {"uri": u, "cid": xrpc.get_record(session.pds_url, *u[5:].split("/")).cid}} for u in uris]  # type: ignore[union-attr]
    pds.create_record(
        LIST,
        {"$type": LIST, "name": "Big", "listType": "album", "items": items, "createdAt": "2026-01-01T00:00:00.000Z"},
    )
    repo = CatalogueWriter()
    artist = repo.get_artist(session.did)
    assert artist is not None
    bootstrap.indexing().sync_artist(artist)
    loaded = repo.load_album_by_slug("alice.test", "big")
    assert loaded is not None
    album_id = loaded[1].id

    status, _, body, _ = call(
        "delete_album",
        "DELETE",
        f"/albums/{album_id}",
        query={"cascade": "false"},
        session=session_id,
        path_params={"ref": album_id},
    )
    assert status == 200, body
    (job,) = repo._query_all(
        IndexName="gsi2",
        KeyConditionExpression="gsi2pk = :p",
        ExpressionAttributeValues={":p": {"S": f"JOBS#{session.did}"}},
    )
    assert job["session_ref"] and "sealed_data" not in job  # no copy of the rotating tokens

    _expire_access_token(session_id)
    assert bootstrap.cleanup().run_job(str(job["job_id"])) == "done"
    assert bootstrap.cleanup().remaining_tracks(album_id) == []
    assert session_store.load_session(session_id).grant_version == 1  # the job refreshed the session itself
    on_pds = {r.uri: r for r in xrpc.list_records(session.pds_url, session.did, TRACK)}
    assert all(u in on_pds and "album" not in on_pds[u].value for u in uris)


def test_a_did_whose_pds_is_no_authorization_server(oauth_env: LocalPds, pds: Any) -> None:
    """The DID document names a PDS that offers no OAuth (here the record server): 400."""
    from tests.support.plc import create_owned_account

    owned = create_owned_account(oauth_env, f"noauth{int(time.time())}.test", "noauth-pass-1234")
    owned.move_to(pds.url)
    status, body, _ = start(handle=owned.did)
    assert status == 400 and "OAuth" in body["detail"], body


def test_the_callback_signs_in_only_the_browser_that_started(oauth_env: LocalPds) -> None:
    """Login CSRF: someone's own code and state, sent to another browser (a link), must not sign
    that browser in to their account. The start sets the state cookie; the callback needs it."""
    status, headers, _, cookies = call("auth_start", "GET", "/auth/start", query={"handle": "alice.test"})
    assert status == 307
    (cookie,) = cookies
    assert cookie.startswith("oauth_state=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Max-Age=600" in cookie and "Path=/" in cookie and "Secure" not in cookie  # loopback: local mode
    keep(cookies)
    attacker = dict(JAR)
    params = authorize(headers["location"], "alice.test", PASSWORDS["alice.test"])

    assert redirected(callback(params, jar={})) == (f"{FRONTEND}/", {"auth_error": "expired"})  # no cookie
    start(handle="bob.test")  # the victim's browser started a sign-in of its own
    victim = dict(JAR)
    assert victim != attacker
    assert redirected(callback(params, jar=victim)) == (f"{FRONTEND}/", {"auth_error": "expired"})
    assert redirected(callback(params, jar={"oauth_state": "\u00e9t\u00e9"})) == (
        f"{FRONTEND}/",
        {"auth_error": "expired"},
    )
    # the browser that started it comes back: signed in, and the state cookie is cleared
    status, headers, _, cookies = call(
        "auth_callback", "GET", "/auth/callback", query=params, cookies=[f"oauth_state={attacker['oauth_state']}"]
    )
    assert status == 303 and redirected(headers["location"])[0] == f"{FRONTEND}/portal"
    (cleared,) = cookies
    assert cleared.startswith("oauth_state=;") and "Max-Age=0" in cleared


def test_the_state_cookie_is_secure_outside_local_mode(settings_env: pytest.MonkeyPatch) -> None:
    from albums_core.http import cookies

    setenv(settings_env, "ALBUMS_LOCAL_MODE", "false")
    assert "Secure" in str(cookies.state_cookie("s", 600)) and "Secure" in str(cookies.session_cookie("s", 60))
    setenv(settings_env, "ALBUMS_LOCAL_MODE", "true")
    assert "Secure" not in str(cookies.state_cookie("s", 600))


@pytest.mark.parametrize(
    "query",
    [
        {"handle": ""},
        {"handle": "   "},
        {"pds_url": ""},
        {"handle": "\u00e5lice.test"},
        {"handle": "alice.test,bob.test"},
        {"handle": "did:plc:" + "a" * 24},
        {"handle": "did:web:no-such-host.invalid"},
        {"handle": "did:nope"},
        {"handle": "x" * 2000},
        {"pds_url": "https://[::1"},
        {"pds_url": "https://example.org:notaport"},
        {"pds_url": "javascript:alert(1)"},
        {"pds_url": "https://user:pw@example.org"},
        {"pds_url": "https://example.org/path"},
        {"pds_url": "https://example.org/?q=1"},
        {"pds_url": "ftp://example.org"},
        {"pds_url": "https://\u00e9xample.invalid"},
        {"pds_url": "//evil.example"},
        {"handle": "alice.test", "pds_url": "https://example.org"},
    ],
)
def test_odd_start_inputs_are_4xx(oauth_env: LocalPds, query: dict[str, str]) -> None:
    status, body, _ = start(**query)
    assert status in (400, 422), (status, body)
    assert isinstance(body.get("detail"), str) and "Traceback" not in body["detail"]


def test_over_long_start_inputs_are_422(oauth_env: LocalPds) -> None:
    assert start(handle="a" * 3000)[0] == 422
    assert start(pds_url="https://" + "a" * 3000)[0] == 422


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({}, "failed"),
        ({"code": "x"}, "failed"),
        ({"code": "x", "state": "y"}, "failed"),
        ({"code": "x" * 5000, "state": "s" * 5000, "iss": "i" * 5000}, "expired"),
        ({"code": "\u00e9", "state": "\u00e9", "iss": "\u00e9"}, "expired"),
        ({"error": "access_denied"}, "access_denied"),
        ({"error": "x" * 5000, "error_description": "\u00e9" * 1000, "state": "s" * 600}, "failed"),
        ({"error": "invalid_request", "state": "s"}, "failed"),
        (
            {"code": "x", "state": "y", "iss": "z", "redirect_uri": "https://evil.example", "next": "//evil.example"},
            "expired",
        ),
        (
            {"error": "access_denied", "redirect_uri": "https://evil.example", "return_to": "https://evil.example"},
            "access_denied",
        ),
    ],
)
def test_odd_callbacks_go_to_the_frontend_with_the_reference_reasons(
    oauth_env: LocalPds, params: dict[str, str], reason: str
) -> None:
    """As plyr.fm's backend answers: a refusal by the user is `access_denied`, a state that is
    not a live one of this browser `expired`, the rest `failed` (never the text of `error`)."""
    assert redirected(callback(params, jar={"oauth_state": params.get("state", "") or "z"})) == (
        f"{FRONTEND}/",
        {"auth_error": reason},
    )


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({}, 422),
        ({"exchange_token": ""}, 422),
        ({"exchange_token": 5}, 422),
        ({"exchange_token": ["a"]}, 422),
        ({"exchange_token": None}, 422),
        ({"exchange_token": "x" * 513}, 422),
        ({"exchange_token": "\u00e9t\u00e9"}, 401),
        ({"exchange_token": "\ud800"}, 422),
        ({"exchange_token": "never-issued"}, 401),
        ({"exchange_token": "never-issued", "extra": 1}, 401),  # extra fields are ignored, as everywhere
        ([], 422),
    ],
)
def test_odd_exchange_bodies_are_4xx(oauth_env: LocalPds, body: Any, status: int) -> None:
    got, _, answer, cookies = call("auth_exchange", "POST", "/auth/exchange", body=body)
    assert (got, cookies) == (status, []), answer
    assert isinstance(answer["detail"], str)


def test_exchange_refuses_other_content_types(oauth_env: LocalPds) -> None:
    for content_type, raw in (("text/plain", '{"exchange_token": "x"}'), ("application/json", "{not json")):
        event_headers = {"content-type": content_type}
        status, _, answer, _ = _raw_call("auth_exchange", "/auth/exchange", raw, event_headers)
        assert status in (415, 422), answer


def _raw_call(name: str, path: str, raw: str, headers: dict[str, str]) -> tuple[int, dict[str, str], Any, list[str]]:
    event = {
        "version": "2.0",
        "routeKey": f"POST {path}",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"host": "127.0.0.1:3999", **headers},
        "requestContext": {
            "http": {"method": "POST", "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1"},
            "requestId": "oauth-test",
            "routeKey": f"POST {path}",
            "stage": "$default",
        },
        "body": raw,
        "isBase64Encoded": False,
    }
    out = handler(name).lambda_handler(
        event, LambdaContext(function_name=name, memory_limit_in_mb=512, timeout_ms=29000)
    )
    return out["statusCode"], out.get("headers") or {}, json.loads(out["body"]), out.get("cookies") or []


@pytest.mark.parametrize(
    "query",
    [
        {"pds_url": "https://127.0.0.1"},
        {"pds_url": "https://10.0.0.1"},
        {"pds_url": "https://localhost:2583"},
        {"pds_url": "https://169.254.169.254"},
        {"pds_url": "https://no-such-host.invalid"},
        {"pds_url": "https://private.example.org"},  # a name that resolves to a private address
        {"pds_url": "https://loopback.example.org"},
        {"handle": "did:web:127.0.0.1"},
        {"handle": "did:web:private.example.org"},
    ],
)
def test_production_refuses_pds_urls_that_are_not_public(
    oauth_env: LocalPds, settings_env: pytest.MonkeyPatch, monkeypatch: pytest.MonkeyPatch, query: dict[str, str]
) -> None:
    import socket

    real = socket.getaddrinfo
    planted = {"private.example.org": "10.0.0.5", "loopback.example.org": "127.0.0.1"}

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        return real(planted.get(name, name), port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    setenv(settings_env, "ALBUMS_LOCAL_MODE", "false")
    setenv(settings_env, "ALBUMS_ALLOW_LOOPBACK_PDS", "false")
    setenv(settings_env, "PUBLIC_API_URL", "https://api.example.org/dev")
    status, body, _ = start(**query)
    assert status == 400, (status, body)


@pytest.mark.parametrize(
    "frontend", ["", "/relative", "//evil.example", "javascript:alert(1)", "https://x.example/?a=1", "http://x.example"]
)
def test_the_callback_redirects_only_to_a_configured_absolute_frontend(
    oauth_env: LocalPds, settings_env: pytest.MonkeyPatch, frontend: str
) -> None:
    setenv(settings_env, "FRONTEND_URL", frontend)
    status, headers, body, _ = call("auth_callback", "GET", "/auth/callback", query={"error": "access_denied"})
    assert status == 500 and "location" not in headers and body == {"detail": "internal error"}


def test_logs_carry_no_code_token_or_key(oauth_env: LocalPds) -> None:
    import io
    import logging

    from albums_core.observability import logger

    sink = io.StringIO()
    catch = logging.StreamHandler(sink)
    catch.setFormatter(logger.registered_formatter)
    watched = [logging.getLogger(logger.service), logging.getLogger()]
    for watched_logger in watched:
        watched_logger.addHandler(catch)
    try:
        _sign_in_and_out_logged()
    finally:
        for watched_logger in watched:
            watched_logger.removeHandler(catch)
    logged, secrets_ = sink.getvalue(), SECRETS
    assert "OAuth callback refused" in logged  # the logs were captured
    assert [s for s in secrets_ if s in logged] == []


SECRETS: list[str] = []


def _sign_in_and_out_logged() -> None:
    SECRETS.clear()
    status, _, location = start(handle="alice.test")
    params = authorize(location, "alice.test", PASSWORDS["alice.test"])
    bad = callback({**params, "iss": "https://evil.example"})  # refused: logged with its reason
    assert redirected(bad)[1] == {"auth_error": "failed"}
    _, _, location = start(handle="alice.test")
    params = authorize(location, "alice.test", PASSWORDS["alice.test"])
    state = JAR["oauth_state"]
    _, query = redirected(callback(params))
    status, _, body, _ = call("auth_exchange", "POST", "/auth/exchange", body=query)
    assert status == 200
    assert call("auth_exchange", "POST", "/auth/exchange", body=query)[0] == 401
    stored = session_store.load_session(body["session_id"])
    assert stored.grant is not None
    SECRETS.extend([params["code"], state, query["exchange_token"], body["session_id"]])
    SECRETS.extend([stored.grant.access_token, stored.grant.refresh_token, stored.grant.dpop_key_pem.splitlines()[1]])


def test_a_failure_after_the_code_exchange_sends_the_browser_back_failed(
    oauth_env: LocalPds, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The browser is navigating: a store that fails mid-callback is the frontend's
    `auth_error=failed`, not a JSON 500 page."""
    from albums_core.adapters.dynamodb.session_store import DynamoSessionStore

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the table is unavailable")

    monkeypatch.setattr(DynamoSessionStore, "create_oauth", broken)
    assert redirected(sign_in("alice.test")) == (f"{FRONTEND}/", {"auth_error": "failed"})

"""A hostile authorization server: anyone can run a PDS and name itself its authorization
server. Its metadata's endpoints must be its own (https, on the issuer's origin; http loopback
in local mode), and the OAuth client's connections go to the address that was checked."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from albums_core.adapters.atproto import oauth_http
from albums_core.adapters.atproto.errors import UntrustedEndpoint
from local_runtime.loopback_http import LoopbackHTTPServer
from tests.integration.test_oauth import call, setenv

FRONTEND = "http://localhost:5173"
API = "http://127.0.0.1:3999/dev"


class HostileAuthServer:
    """A PDS that is its own authorization server, on 127.0.0.1, whose metadata says what a
    test puts in `overrides` (a value of None drops the field); it counts the requests made."""

    def __init__(self) -> None:
        self.overrides: dict[str, Any] = {}
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                return None

            def _json(self, status: int, body: Any) -> None:
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def do_GET(self) -> None:
                server.requests.append(f"GET {self.path}")
                if self.path == "/.well-known/oauth-protected-resource":
                    self._json(200, {"resource": server.origin, "authorization_servers": [server.origin]})
                elif self.path == "/.well-known/oauth-authorization-server":
                    self._json(200, server.metadata())
                else:
                    self._json(404, {"error": "not found"})

            def do_POST(self) -> None:
                server.requests.append(f"POST {self.path}")
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self._json(201, {"request_uri": "urn:ietf:params:oauth:request_uri:x", "expires_in": 60})

        self._httpd = LoopbackHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self._httpd.server_address[1])
        self.origin = f"http://localhost:{self.port}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def metadata(self) -> dict[str, Any]:
        base = {
            "issuer": self.origin,
            "authorization_endpoint": f"{self.origin}/oauth/authorize",
            "token_endpoint": f"{self.origin}/oauth/token",
            "pushed_authorization_request_endpoint": f"{self.origin}/oauth/par",
            "revocation_endpoint": f"{self.origin}/oauth/revoke",
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["none", "private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": ["ES256"],
            "scopes_supported": ["atproto"],
            "authorization_response_iss_parameter_supported": True,
            "require_pushed_authorization_requests": True,
            "dpop_signing_alg_values_supported": ["ES256"],
            "client_id_metadata_document_supported": True,
        }
        base.update(self.overrides)
        return {k: v for k, v in base.items() if v is not None}

    def start(self) -> HostileAuthServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture
def hostile(aws_env: None, settings_env: pytest.MonkeyPatch) -> Iterator[HostileAuthServer]:
    setenv(settings_env, "PUBLIC_API_URL", API)
    settings_env.setenv("FRONTEND_URL", FRONTEND)
    setenv(settings_env, "ALBUMS_LOCAL_MODE", "true")
    server = HostileAuthServer().start()
    yield server
    server.stop()


def start_at(server: HostileAuthServer) -> tuple[int, Any, str]:
    status, headers, body, _ = call("auth_start", "GET", "/auth/start", query={"pds_url": server.origin})
    return status, body, headers.get("location", "")


def test_an_authorization_server_on_its_own_origin_is_used(hostile: HostileAuthServer) -> None:
    status, body, location = start_at(hostile)
    assert status == 307, body
    assert location.startswith(f"{hostile.origin}/oauth/authorize?")
    assert "POST /oauth/par" in hostile.requests


@pytest.mark.parametrize(
    "field, value",
    [
        ("authorization_endpoint", "https://phish.example/oauth/authorize"),
        ("authorization_endpoint", "javascript:alert(document.domain)//"),
        ("authorization_endpoint", "data:text/html,<script>alert(1)</script>"),
        ("authorization_endpoint", "//phish.example/authorize"),
        ("authorization_endpoint", "/oauth/authorize"),  # relative: not a URL we can send a browser to
        ("authorization_endpoint", "http://localhost:1/oauth/authorize"),  # another port: another origin
        ("authorization_endpoint", "http://user@localhost/oauth/authorize"),
        ("authorization_endpoint", None),
        ("authorization_endpoint", 42),
        ("pushed_authorization_request_endpoint", "https://collector.example/par"),
        ("token_endpoint", "https://collector.example/token"),
        ("token_endpoint", "http://localhost:1/token"),
        ("revocation_endpoint", "https://collector.example/revoke"),
    ],
)
def test_endpoints_off_the_issuers_origin_are_refused(hostile: HostileAuthServer, field: str, value: Any) -> None:
    hostile.overrides[field] = value
    status, body, location = start_at(hostile)
    assert status == 400, (status, body, location)
    assert (
        body["detail"] == f"sign-in refused: the authorization server's {field} is not an https URL on its own origin"
    )
    # Nothing was posted to the server's PAR endpoint: refused before any request with our client's data.
    assert not [r for r in hostile.requests if r.startswith("POST")]


@pytest.mark.parametrize("local", [True, False])
def test_production_wants_https_on_the_issuers_origin(local: bool) -> None:
    issuer = "https://auth.example.org"
    good = {name: f"{issuer}/oauth/{name}" for name in oauth_http.ENDPOINTS}
    oauth_http.check_endpoints({"issuer": issuer, **good}, local=local)
    oauth_http.check_endpoints({"issuer": issuer + ":443", **good}, local=local)  # the default port
    for name in oauth_http.ENDPOINTS:
        for bad in ("http://auth.example.org/x", "https://auth.example.org.evil/x", "https://AUTH.example.org:8443/x"):
            with pytest.raises(UntrustedEndpoint, match=name):
                oauth_http.check_endpoints({"issuer": issuer, **good, name: bad}, local=local)
    loopback = {"issuer": "http://localhost:2583", **{n: f"http://localhost:2583/{n}" for n in oauth_http.ENDPOINTS}}
    if local:
        oauth_http.check_endpoints(loopback, local=True)
    else:
        with pytest.raises(UntrustedEndpoint):
            oauth_http.check_endpoints(loopback, local=False)


def test_the_oauth_clients_connection_goes_to_the_checked_address(
    hostile: HostileAuthServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DNS rebinding: the name is looked up once per connection, checked, and connected to; a
    resolver that answers otherwise the second time is never asked again by httpx."""
    real = socket.getaddrinfo
    lookups: list[str] = []

    def rebinding(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name == "localhost":
            lookups.append(name)
            if len(lookups) > 1:  # now the name points elsewhere (an address no check has seen)
                raise socket.gaierror(socket.EAI_NONAME, "rebound")
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)

    async def fetch() -> int:
        async with oauth_http.address_checked_client(allow_localhost=True) as client:
            response = await client.get(f"{hostile.origin}/.well-known/oauth-authorization-server")
            return response.status_code

    assert asyncio.run(fetch()) == 200
    assert lookups == ["localhost"]


def test_an_address_refused_at_connect_time_is_never_connected_to(
    hostile: HostileAuthServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from atproto_oauth import security

    real = socket.getaddrinfo

    def private(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        return real("10.0.0.5" if name == "localhost" else host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", private)

    async def fetch() -> None:
        async with oauth_http.address_checked_client(allow_localhost=True) as client:
            await client.get(f"{hostile.origin}/.well-known/oauth-authorization-server")

    with pytest.raises(security.UnsafeUrlError):
        asyncio.run(fetch())
    assert hostile.requests == []


def test_a_connection_failure_is_httpx_s_own_error() -> None:
    """The transport is ours (httpx's takes no network backend): its failures are still httpx's,
    which the flow turns into 'could not be reached' rather than a 500."""
    import httpx

    async def fetch() -> None:
        async with oauth_http.address_checked_client(allow_localhost=True) as client:
            await client.get("http://127.0.0.1:9/.well-known/oauth-authorization-server")

    with pytest.raises(httpx.ConnectError):
        asyncio.run(fetch())

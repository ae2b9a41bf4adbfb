"""Signing in and consenting at the local PDS's authorization server without a browser: the
authorize page's script talks to a JSON API, and so does this (see shared docs OAUTH-LOCAL.md).
Cookies are kept by hand: the csrf-token cookie is Secure, which cookie jars do not send over http."""

from __future__ import annotations

import http.client
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

API = "/@atproto/oauth-provider/~api"


@dataclass
class AuthorizePage:
    url: str
    cookies: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        assert parts.hostname in ("localhost", "127.0.0.1"), self.url
        self.host, self.port = parts.hostname or "", parts.port or 80
        self.origin = f"{parts.scheme}://{parts.netloc}"
        status, _, _ = self._send(
            "GET",
            f"{parts.path}?{parts.query}",
            None,
            {"sec-fetch-mode": "navigate", "sec-fetch-dest": "document", "sec-fetch-site": "none"},
        )
        assert status == 200, status

    def _send(self, method: str, path: str, body: Any, headers: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        sent = {"host": f"{self.host}:{self.port}", **headers}
        if self.cookies:
            sent["cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            sent["content-type"] = "application/json"
        try:
            conn.request(method, path, body=data, headers=sent)
            reply = conn.getresponse()
            raw = reply.read()
            for name, value in reply.getheaders():
                if name.lower() == "set-cookie":
                    key, _, rest = value.partition("=")
                    self.cookies[key.strip()] = rest.split(";")[0]
            out_headers = {k.lower(): v for k, v in reply.getheaders()}
            try:
                parsed = json.loads(raw) if raw else None
            except ValueError:
                parsed = None
            return reply.status, out_headers, parsed
        finally:
            conn.close()

    def api(self, endpoint: str, body: dict[str, Any], bearer: str | None = None) -> tuple[int, Any]:
        headers = {
            "origin": self.origin,
            "referer": self.url,
            "sec-fetch-mode": "same-origin",
            "sec-fetch-site": "same-origin",
            "sec-fetch-dest": "empty",
            "x-csrf-token": self.cookies.get("csrf-token", ""),
        }
        if bearer:
            headers["authorization"] = f"Bearer {bearer}"
        status, _, out = self._send("POST", API + endpoint, body, headers)
        return status, out

    def follow(self, url: str) -> str:
        """The redirect the PDS answers for a consent or reject URL: the client's redirect URI."""
        parts = urlsplit(url)
        status, headers, _ = self._send(
            "GET",
            f"{parts.path}?{parts.query}",
            None,
            {
                "sec-fetch-mode": "navigate",
                "sec-fetch-dest": "document",
                "sec-fetch-site": "same-origin",
                "referer": self.url,
            },
        )
        assert status in (302, 303), status
        return headers["location"]

    def sign_in(self, username: str, password: str) -> tuple[str, str]:
        """(did, ephemeral token) of the signed-in account."""
        status, out = self.api(
            "/sign-in", {"locale": "en", "username": username, "password": password, "remember": False}
        )
        assert status == 200, out
        return out["account"]["did"], out["ephemeralToken"]

    def consent(self, username: str, password: str, scope: str | None = None) -> str:
        did, token = self.sign_in(username, password)
        body: dict[str, Any] = {"did": did}
        if scope is not None:
            body["scope"] = scope
        status, out = self.api("/consent", body, bearer=token)
        assert status == 200, out
        return self.follow(out["url"])

    def reject(self) -> str:
        status, out = self.api("/reject", {})
        assert status == 200, out
        return self.follow(out["url"])


def authorize(url: str, username: str, password: str, scope: str | None = None) -> dict[str, str]:
    """Sign in and consent; the query the authorization server sends back to the redirect URI."""
    return dict(parse_qsl(urlsplit(AuthorizePage(url).consent(username, password, scope)).query))

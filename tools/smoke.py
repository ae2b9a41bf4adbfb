"""Smoke-test a deployed API (or the local runtime): `make smoke URL=https://…/dev`.

Reads (GET /albums, an artist page, an album page), a CORS preflight from an allowed origin and
from one that is not, then, with an account, login, /auth/me with the session cookie, a rename of
one of the account's albums and back, logout. Standard library only: it runs before any install.

    python3 -m tools.smoke URL [--identifier HANDLE --password APP_PASSWORD] [--origin ORIGIN]

The account comes from --identifier/--password or SMOKE_IDENTIFIER/SMOKE_PASSWORD; the origin
(one of the stack's AllowedOrigins) from --origin or SMOKE_ORIGIN. Exit status 0 only when every
step passed; without an account the write side is skipped only with --read-only.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

DEFAULT_ORIGIN = "http://localhost:5173"  # allowed by the local runtime's default (any localhost port)
NOT_ALLOWED_ORIGIN = "https://not-allowed.invalid"
SUFFIX = " (smoke)"


class SmokeError(Exception):
    """A step's expectation that the API did not meet."""


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    cookies: list[str]
    body: bytes

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError as err:
            raise SmokeError(f"answered {self.status} with a body that is not JSON: {self.body[:200]!r}") from err


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a redirect is an answer to report, not to follow


@dataclass
class Client:
    base: str
    timeout: float = 30.0
    session: str | None = None
    opener: urllib.request.OpenerDirector = field(default_factory=lambda: urllib.request.build_opener(_NoRedirect))

    def request(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None, cookie: bool = True
    ) -> Reply:
        sent = dict(headers or {})
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            sent["Content-Type"] = "application/json"
        if cookie and self.session:
            sent["Cookie"] = f"session_id={self.session}"
        # The base URL's scheme is checked to be http(s) in main().
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=sent)  # noqa: S310
        try:
            with self.opener.open(req, timeout=self.timeout) as resp:
                return _reply(resp.status, resp.headers, resp.read())
        except urllib.error.HTTPError as err:
            return _reply(err.code, err.headers, err.read())
        except (urllib.error.URLError, OSError) as err:
            raise SmokeError(f"{method} {path}: {err}") from err


def _reply(status: int, headers: Any, body: bytes) -> Reply:
    return Reply(
        status,
        {k.lower(): v for k, v in headers.items()},
        list(headers.get_all("Set-Cookie") or []),
        body,
    )


def expect(reply: Reply, status: int, what: str) -> Any:
    if reply.status != status:
        raise SmokeError(f"{what}: expected {status}, got {reply.status}: {reply.body[:300]!r}")
    return reply.json() if reply.body else None


def quote(segment: str) -> str:
    return urllib.parse.quote(segment, safe="")


@dataclass
class Smoke:
    client: Client
    origin: str
    identifier: str | None
    password: str | None
    out: Callable[[str], None] = print
    failures: int = 0
    context: dict[str, Any] = field(default_factory=dict)

    def step(self, name: str, run: Callable[[], str]) -> bool:
        started = time.monotonic()
        try:
            detail = run()
        except SmokeError as err:
            self.failures += 1
            self.out(f"FAIL {name}: {err}")
            return False
        self.out(f"ok   {name} ({(time.monotonic() - started) * 1000:.0f} ms){': ' + detail if detail else ''}")
        return True

    # reads ---------------------------------------------------------------------------------
    def list_albums(self) -> str:
        body = expect(self.client.request("GET", "/albums?limit=5"), 200, "GET /albums")
        albums = body.get("albums") if isinstance(body, dict) else None
        if not isinstance(albums, list):
            raise SmokeError(f"GET /albums: no 'albums' list in {str(body)[:200]}")
        if albums:
            self.context["album"] = albums[0]
        return f"{len(albums)} album(s)" + ("" if albums else " (an empty catalogue: the page reads are skipped)")

    def artist_page(self) -> str:
        album = self.context["album"]
        body = expect(self.client.request("GET", f"/albums/{quote(album['artist_handle'])}"), 200, "artist page")
        slugs = [a.get("slug") for a in body.get("albums", [])]
        if album["slug"] not in slugs:
            raise SmokeError(f"artist page of {album['artist_handle']} lacks {album['slug']}: {slugs}")
        return f"{album['artist_handle']}: {len(slugs)} album(s)"

    def album_page(self) -> str:
        album = self.context["album"]
        path = f"/albums/{quote(album['artist_handle'])}/{quote(album['slug'])}"
        body = expect(self.client.request("GET", path), 200, "album page")
        metadata, tracks = body.get("metadata") or {}, body.get("tracks")
        if metadata.get("title") != album["title"] or not isinstance(tracks, list):
            raise SmokeError(f"{path}: unexpected page {str(body)[:300]}")
        return f"{album['title']!r}, {len(tracks)} track(s)"

    # CORS ----------------------------------------------------------------------------------
    def preflight(self, origin: str) -> Reply:
        return self.client.request(
            "OPTIONS",
            "/albums/some-album",
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "PATCH",
                "Access-Control-Request-Headers": "content-type",
            },
            cookie=False,
        )

    def cors_allowed(self) -> str:
        reply = self.preflight(self.origin)
        if reply.status not in (200, 204):
            raise SmokeError(f"preflight from {self.origin} answered {reply.status}")
        allow_origin = reply.headers.get("access-control-allow-origin")
        if allow_origin != self.origin:
            raise SmokeError(f"Access-Control-Allow-Origin is {allow_origin!r}, not the origin {self.origin!r}")
        if reply.headers.get("access-control-allow-credentials", "").lower() != "true":
            raise SmokeError("no 'Access-Control-Allow-Credentials: true': a browser would drop the session")
        methods = reply.headers.get("access-control-allow-methods", "").upper()
        if "PATCH" not in methods and "*" not in methods:
            raise SmokeError(f"PATCH is not among the allowed methods {methods!r}")
        return f"{self.origin} allowed with credentials"

    def cors_refused(self) -> str:
        allow_origin = self.preflight(NOT_ALLOWED_ORIGIN).headers.get("access-control-allow-origin")
        if allow_origin is not None:
            raise SmokeError(f"an origin not allowed got Access-Control-Allow-Origin: {allow_origin!r}")
        return f"{NOT_ALLOWED_ORIGIN} gets no CORS headers"

    # the write side --------------------------------------------------------------------------
    def login(self) -> str:
        reply = self.client.request(
            "POST", "/auth/login", {"identifier": self.identifier, "password": self.password}, cookie=False
        )
        body = expect(reply, 200, "login")
        cookie = next((c for c in reply.cookies if c.startswith("session_id=")), None)
        if cookie is None:
            raise SmokeError("login set no session_id cookie")
        attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
        if "httponly" not in attributes:
            raise SmokeError(f"the session cookie is not HttpOnly: {cookie.split(';', 1)[1]}")
        if self.client.base.startswith("https://") and "secure" not in attributes:
            raise SmokeError("the session cookie over https is not Secure")
        self.client.session = cookie.split(";", 1)[0].split("=", 1)[1]
        self.context["handle"] = body["handle"]
        return f"{body['handle']} ({body['did']})"

    def me(self) -> str:
        body = expect(self.client.request("GET", "/auth/me"), 200, "GET /auth/me with the cookie")
        if body.get("handle") != self.context["handle"]:
            raise SmokeError(f"/auth/me names {body.get('handle')!r}, not {self.context['handle']!r}")
        return "the cookie names the account"

    def rename_and_back(self) -> str:
        handle = self.context["handle"]
        body = expect(self.client.request("GET", f"/albums/{quote(handle)}"), 200, "the account's albums")
        albums = body.get("albums") or []
        if not albums:
            raise SmokeError(f"{handle} has no album to rename: use an account with at least one album")
        album = albums[0]
        original = album["title"]
        renamed = original + SUFFIX if not original.endswith(SUFFIX) else original[: -len(SUFFIX)]
        try:
            changed = expect(
                self.client.request("PATCH", f"/albums/{quote(album['id'])}", {"title": renamed}), 200, "rename"
            )
            page = f"/albums/{quote(handle)}/{quote(changed['slug'])}"
            seen = expect(self.client.request("GET", page), 200, "the renamed album's page")["metadata"]["title"]
            if seen != renamed:
                raise SmokeError(f"after the rename {page} shows {seen!r}, not {renamed!r}")
        finally:
            # Put the title back even when a check above failed.
            back = self.client.request("PATCH", f"/albums/{quote(album['id'])}", {"title": original})
        restored = expect(back, 200, "rename back")
        if restored.get("title") != original:
            raise SmokeError(f"rename back answered title {restored.get('title')!r}, not {original!r}")
        page = f"/albums/{quote(handle)}/{quote(album['slug'])}"
        seen = expect(self.client.request("GET", page), 200, "the album's page after the rename back")
        if seen["metadata"]["title"] != original:
            raise SmokeError(f"after the rename back {page} shows {seen['metadata']['title']!r}")
        return f"{original!r} -> {renamed!r} -> back"

    def logout(self) -> str:
        expect(self.client.request("POST", "/auth/logout"), 200, "POST /auth/logout")
        reply = self.client.request("GET", "/auth/me")
        if reply.status != 401:
            raise SmokeError(f"/auth/me after logout answered {reply.status}, not 401")
        return "the session is gone"

    def run(self, read_only: bool) -> int:
        self.out(f"smoke test of {self.client.base}")
        if self.step("GET /albums", self.list_albums) and "album" in self.context:
            self.step("GET /albums/{handle}", self.artist_page)
            self.step("GET /albums/{handle}/{slug}", self.album_page)
        self.step(f"CORS preflight from {self.origin}", self.cors_allowed)
        self.step("CORS preflight from an origin not allowed", self.cors_refused)
        if read_only:
            self.out("skip login, /auth/me, rename and back, logout (--read-only)")
        elif self.step("POST /auth/login", self.login):
            self.step("GET /auth/me", self.me)
            self.step("PATCH /albums/{id}: rename and back", self.rename_and_back)
            self.step("POST /auth/logout", self.logout)
        self.out("smoke: all passed" if not self.failures else f"smoke: {self.failures} step(s) failed")
        return 1 if self.failures else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python3 -m tools.smoke", description=__doc__.split("\n\n")[0] if __doc__ else None
    )
    parser.add_argument("url", help="the API's base URL, with the stage if it has one (the stack's ApiUrl output)")
    parser.add_argument("--identifier", default=os.environ.get("SMOKE_IDENTIFIER"), help="handle or DID")
    parser.add_argument("--password", default=os.environ.get("SMOKE_PASSWORD"), help="the account's app password")
    parser.add_argument("--origin", default=os.environ.get("SMOKE_ORIGIN") or DEFAULT_ORIGIN)
    parser.add_argument("--read-only", action="store_true", help="only the reads and the CORS checks")
    parser.add_argument("--timeout", type=float, default=30.0)
    args = parser.parse_args(argv)
    url = args.url.rstrip("/")
    if urllib.parse.urlsplit(url).scheme not in ("http", "https") or not urllib.parse.urlsplit(url).netloc:
        parser.error(f"not an http(s) URL: {args.url!r}")
    if not args.read_only and not (args.identifier and args.password):
        parser.error(
            "an account is needed for login and the rename: --identifier and --password "
            "(or SMOKE_IDENTIFIER / SMOKE_PASSWORD), or --read-only"
        )
    smoke = Smoke(Client(url, timeout=args.timeout), args.origin.rstrip("/"), args.identifier, args.password)
    return smoke.run(args.read_only)


if __name__ == "__main__":
    sys.exit(main())

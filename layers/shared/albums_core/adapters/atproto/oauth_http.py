"""The OAuth client's HTTP: an httpx client whose every connection goes to an address checked
as the project's own fetches are (safe_http), and the check of an authorization server's
endpoints. The URL rules are atproto-oauth's public `is_safe_url`; the connection pinning is
ours (the library's hardened client checks the URL only: a name that resolves to a private or
loopback address passes it)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx
from atproto_oauth import security

from albums_core.adapters.atproto.errors import NoAuthServer, UntrustedEndpoint
from albums_core.adapters.atproto.safe_http import FetchError, RefusedUrl, resolve_checked

LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")
# Every URL of the metadata we send a request or a browser to.
ENDPOINTS = (
    "authorization_endpoint",
    "pushed_authorization_request_endpoint",
    "token_endpoint",
    "revocation_endpoint",
)


class PinnedBackend(httpcore.AsyncNetworkBackend):
    """Each new connection's host resolved once, every address checked, and the connection made
    to the checked address: httpx never resolves the name again (no DNS-rebinding window
    between the check and the connect). TLS still verifies the certificate for the name."""

    def __init__(self, allow_localhost: bool) -> None:
        self._inner = httpcore.AnyIOBackend()
        self._allow_localhost = allow_localhost

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            address = await asyncio.to_thread(resolve_checked, host, port, self._allow_localhost)
        except RefusedUrl as exc:
            raise security.UnsafeUrlError(f"refusing to connect to {host}: {exc}") from exc
        except FetchError as exc:  # the name could not be looked up now: a network failure
            raise httpcore.ConnectError(str(exc)) from exc
        return await self._inner.connect_tcp(address, port, timeout, local_address, socket_options)

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> httpcore.AsyncNetworkStream:
        raise security.UnsafeUrlError("no unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


# httpcore's failures as httpx's (what callers catch), the most specific first.
_FAILURES: tuple[tuple[type[Exception], type[httpx.HTTPError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
)


@contextmanager
def _as_httpx_failures() -> Iterator[None]:
    try:
        yield
    except httpcore.ProxyError as exc:
        raise httpx.ProxyError(str(exc)) from exc
    except Exception as exc:
        for theirs, ours in _FAILURES:
            if isinstance(exc, theirs):
                raise ours(str(exc)) from exc
        raise


class _Body(httpx.AsyncByteStream):
    def __init__(self, stream: AsyncIterable[bytes]) -> None:
        self._stream = stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _as_httpx_failures():
            async for part in self._stream:
                yield part

    async def aclose(self) -> None:
        close = getattr(self._stream, "aclose", None)
        if close is not None:
            await close()


class PinnedTransport(httpx.AsyncBaseTransport):
    """An httpx transport over an httpcore pool whose connections are PinnedBackend's (httpx's
    own transport takes no network backend)."""

    def __init__(self, allow_localhost: bool) -> None:
        self._allow_localhost = allow_localhost
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=10,
            max_keepalive_connections=5,
            keepalive_expiry=5.0,
            network_backend=PinnedBackend(allow_localhost),
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        # Every hop, redirects included: the URL's own rules (scheme, literal addresses).
        if not security.is_safe_url(str(request.url), self._allow_localhost):
            raise security.UnsafeUrlError(f"refusing request to {request.url}")
        assert isinstance(request.stream, httpx.AsyncByteStream)
        url = httpcore.URL(
            scheme=request.url.raw_scheme, host=request.url.raw_host, port=request.url.port, target=request.url.raw_path
        )
        sent = httpcore.Request(
            request.method, url, headers=request.headers.raw, content=request.stream, extensions=request.extensions
        )
        with _as_httpx_failures():
            got = await self._pool.handle_async_request(sent)
        assert isinstance(got.stream, AsyncIterable)
        return httpx.Response(got.status, headers=got.headers, stream=_Body(got.stream), extensions=got.extensions)

    async def aclose(self) -> None:
        await self._pool.aclose()


def address_checked_client(
    timeout: float | None = None, max_redirects: int | None = None, allow_localhost: bool = False
) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        timeout=security.DEFAULT_TIMEOUT if timeout is None else timeout,
        follow_redirects=True,
        max_redirects=security.MAX_REDIRECTS if max_redirects is None else max_redirects,
        transport=PinnedTransport(allow_localhost),
    )


def safe_url(url: str, local: bool) -> bool:
    """The library's SSRF rules for a URL; http on loopback passes in local mode only."""
    return bool(security.is_safe_url(url, allow_localhost=local))


def _origin(url: str, local: bool) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an https URL (http on loopback in local mode) without
    credentials or fragment, or None."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    loopback = local and parts.scheme == "http" and host in LOOPBACK_HOSTS
    if not host or (parts.scheme != "https" and not loopback) or parts.username or parts.password or parts.fragment:
        return None
    return parts.scheme, host, port or (443 if parts.scheme == "https" else 80)


def check_endpoints(metadata: dict[str, Any], local: bool) -> None:
    """The metadata's endpoints are the issuer's own: a server anyone can run (any PDS may name
    itself its authorization server) must not send the browser to a phishing page or a
    `javascript:` URL, nor have us post codes and tokens elsewhere. Raises UntrustedEndpoint
    naming the field (never the URL: it is the server's text)."""
    issuer = _origin(str(metadata.get("issuer", "")), local)
    for name in ENDPOINTS:
        value = metadata.get(name)
        if value is None and name == "revocation_endpoint":
            continue  # optional: revocation is skipped without it
        if not isinstance(value, str) or issuer is None or _origin(value, local) != issuer:
            raise UntrustedEndpoint(f"the authorization server's {name} is not an https URL on its own origin")


def validate_metadata(metadata: dict[str, Any], fetch_url: str, local: bool) -> None:
    """The library's ATProto requirements (NoAuthServer), then ours (UntrustedEndpoint). In local
    mode an http loopback issuer with a port is judged as the same server on https without its
    port: every other rule applies."""
    checked, fetched_from = metadata, fetch_url
    issuer = urlsplit(str(metadata.get("issuer", "")))
    if local and issuer.scheme == "http" and issuer.hostname in LOOPBACK_HOSTS:
        checked = {**metadata, "issuer": f"https://{issuer.hostname}"}
        fetched = urlsplit(fetch_url)
        fetched_from = f"https://{fetched.hostname}{fetched.path}"
    try:
        security.validate_authserver_metadata(checked, fetched_from)
    except (ValueError, KeyError, TypeError) as exc:
        raise NoAuthServer(f"the authorization server's metadata: {exc}") from exc
    check_endpoints(metadata, local)

"""An HTTP API (payload format 2.0) gateway on 127.0.0.1 for the template's routes, as API
Gateway serves them: the template's stage in the URL and the event, its CORS configuration,
its throttling, and API Gateway's and Lambda's limits. It also serves the covers bucket as the
CloudFront distribution does (the public base URL the local stack configures)."""

from __future__ import annotations

import base64
import concurrent.futures
import contextlib
import io
import json
import re
import socket
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from local_runtime.async_invoke import raise_for_function_error
from local_runtime.lambda_host import LambdaHost
from local_runtime.loopback_http import LoopbackHTTPServer
from local_runtime.template import ROOT, Route, Stack

MAX_BODY = 10 * 1024 * 1024  # API Gateway's fixed request payload limit
MAX_INVOKE_PAYLOAD = 6 * 1024 * 1024  # Lambda's synchronous invocation payload (the event JSON)
MAX_INTEGRATION_TIMEOUT_MS = 30000  # an HTTP API integration never waits longer
OPENAPI = ROOT / "openapi.json"
DOCS = ("/docs", "/docs/", "/openapi.json")

# API Gateway's own answers (not the functions'): its shape, `{"message": ...}`.
BAD_REQUEST = (400, {"message": "Bad Request"})
TOO_LARGE = (413, {"message": "Request Entity Too Large"})
THROTTLED = (429, {"message": "Too Many Requests"})
INTEGRATION_FAILED = (500, {"message": "Internal Server Error"})
TIMED_OUT = (503, {"message": "Service Unavailable"})


def swagger_page(document: dict[str, Any]) -> str:
    """Swagger UI with its script and styles inline (Powertools ships them): works offline."""
    from aws_lambda_powertools.event_handler.openapi import swagger_ui
    from aws_lambda_powertools.event_handler.openapi.swagger_ui.html import generate_swagger_html

    assets = Path(swagger_ui.__file__).parent
    return generate_swagger_html(
        json.dumps(document),
        (assets / "swagger-ui-bundle.min.js").read_text(),
        (assets / "swagger-ui.min.css").read_text(),
        "",
        None,
    )


COVERS_PREFIX = "/covers/"
# What the distribution serves: the bucket policy grants it content-hashed images only.
COVERS_SERVED = "images/"
IMMUTABLE = "public, max-age=31536000, immutable"
_TEXT_TYPES = ("text/", "application/json", "application/x-www-form-urlencoded", "application/xml")
# Locally a frontend runs on any loopback port: these origins are allowed besides the list.
LOOPBACK_ORIGIN = re.compile(r"^http://(localhost|127\.0\.0\.1):[0-9]{1,5}$")


@dataclass
class Cors:
    """An HttpApi CorsConfiguration, applied as API Gateway applies it."""

    origins: list[str] = field(default_factory=list)
    methods: list[str] = field(default_factory=list)
    headers: list[str] = field(default_factory=list)
    expose: list[str] = field(default_factory=list)
    max_age: int | None = None
    credentials: bool = False
    allow_loopback: bool = False

    @classmethod
    def from_template(cls, config: dict[str, Any], allow_loopback: bool = False) -> Cors:
        return cls(
            origins=[str(o) for o in config.get("AllowOrigins", [])],
            methods=[str(m).upper() for m in config.get("AllowMethods", [])],
            headers=[str(h) for h in config.get("AllowHeaders", [])],
            expose=[str(h) for h in config.get("ExposeHeaders", [])],
            max_age=int(config["MaxAge"]) if "MaxAge" in config else None,
            credentials=str(config.get("AllowCredentials", False)).lower() == "true",
            allow_loopback=allow_loopback,
        )

    def allows_origin(self, origin: str) -> bool:
        # An exact match, as API Gateway compares: `null`, a trailing slash or another port
        # is another origin.
        if origin in self.origins or "*" in self.origins:
            return True
        return self.allow_loopback and bool(LOOPBACK_ORIGIN.match(origin))

    def allows_method(self, method: str) -> bool:
        return "*" in self.methods or method.upper() in self.methods

    def allows_headers(self, requested: str) -> bool:
        if "*" in self.headers:
            return True
        allowed = {h.lower() for h in self.headers}
        return all(h.strip().lower() in allowed for h in requested.split(",") if h.strip())

    def origin_headers(self, origin: str) -> list[tuple[str, str]]:
        """The headers every answer to an allowed origin carries: that one origin, echoed."""
        # With credentials, browsers refuse `*`: the origin is echoed, and caches told so.
        value = "*" if "*" in self.origins and not self.credentials else origin
        out = [("Access-Control-Allow-Origin", value)]
        if value != "*":
            out.append(("Vary", "Origin"))
        if self.credentials:
            out.append(("Access-Control-Allow-Credentials", "true"))
        return out

    def preflight(self, origin: str, method: str, requested_headers: str) -> list[tuple[str, str]]:
        """The answer's headers: none unless the origin, the method and every header are allowed."""
        if not (self.allows_origin(origin) and self.allows_method(method) and self.allows_headers(requested_headers)):
            return []
        out = self.origin_headers(origin)
        out.append(("Access-Control-Allow-Methods", ",".join(self.methods)))
        if requested_headers.strip():
            out.append(("Access-Control-Allow-Headers", ",".join(self.headers)))
        if self.max_age is not None:
            out.append(("Access-Control-Max-Age", str(self.max_age)))
        return out


class BodyRefused(Exception):
    """A request body that is not framed as HTTP/1.1 says, or is over the payload limit."""

    def __init__(self, answer: tuple[int, Any]) -> None:
        super().__init__(answer[1]["message"])
        self.answer = answer


_DECIMAL = re.compile(r"[0-9]+")
_HEX = re.compile(rb"[0-9A-Fa-f]+")


def read_body(headers: Message, stream: io.BufferedIOBase) -> bytes:
    """The request body, framed as RFC 9112 section 6 says: a `Content-Length` of
    digits (repeated only with the same value), or `Transfer-Encoding: chunked` alone, decoded.
    Anything else is 400 (a length that is no number, two lengths, a coding we do not know, both
    headers: the framings requests are smuggled with); more than 10 MB is 413, unread."""
    codings = [c.strip().lower() for v in headers.get_all("Transfer-Encoding") or [] for c in v.split(",")]
    lengths = {n.strip() for v in headers.get_all("Content-Length") or [] for n in v.split(",")}
    if codings:
        if codings != ["chunked"] or lengths:
            raise BodyRefused(BAD_REQUEST)
        return _read_chunked(stream)
    if not lengths:
        return b""
    if len(lengths) != 1:
        raise BodyRefused(BAD_REQUEST)
    (text,) = lengths
    if not _DECIMAL.fullmatch(text):
        raise BodyRefused(BAD_REQUEST)
    length = int(text)
    if length > MAX_BODY:
        raise BodyRefused(TOO_LARGE)
    body = stream.read(length) if length else b""
    if len(body) != length:  # the client stopped sending before the length it announced
        raise BodyRefused(BAD_REQUEST)
    return body


def _read_chunked(stream: io.BufferedIOBase) -> bytes:
    parts: list[bytes] = []
    total = 0
    while True:
        line = stream.readline(1025)
        size_text = line.split(b";", 1)[0].strip()
        if not line.endswith(b"\n") or not _HEX.fullmatch(size_text):
            raise BodyRefused(BAD_REQUEST)
        size = int(size_text, 16)
        if size == 0:
            break
        total += size
        if total > MAX_BODY:
            raise BodyRefused(TOO_LARGE)
        data = stream.read(size)
        if len(data) != size or stream.read(2) != b"\r\n":
            raise BodyRefused(BAD_REQUEST)
        parts.append(data)
    for _ in range(100):  # the trailer section, up to its empty line (its fields are dropped)
        line = stream.readline(8193)
        if line in (b"\r\n", b"\n"):
            return b"".join(parts)
        if not line.endswith(b"\n"):
            break
    raise BodyRefused(BAD_REQUEST)


class TokenBucket:
    """API Gateway's throttling: `rate` requests a second on average, bursts of `burst`."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = burst
        self.clock = clock  # a test's own clock: refills by its steps, not by the machine's speed
        self.tokens = float(burst)
        self.at = clock()
        self.lock = threading.Lock()

    def take(self) -> bool:
        with self.lock:
            now = self.clock()
            self.tokens = min(float(self.burst), self.tokens + (now - self.at) * self.rate)
            self.at = now
            if self.tokens >= 1:
                self.tokens -= 1
                return True
            return False


@dataclass
class ApiSettings:
    """What the template's HttpApi says about how requests are served."""

    stage: str = "$default"
    cors: Cors | None = None
    rate: float | None = None
    burst: int | None = None

    @classmethod
    def from_stack(cls, stack: Stack, logical_id: str = "HttpApi", local_origins: bool = True) -> ApiSettings:
        props = stack.resolve(stack.resources[logical_id].get("Properties", {}))
        throttle = props.get("DefaultRouteSettings") or {}
        cors = props.get("CorsConfiguration")
        return cls(
            stage=str(props.get("StageName") or "$default"),
            cors=Cors.from_template(cors, allow_loopback=local_origins) if isinstance(cors, dict) else None,
            rate=float(throttle["ThrottlingRateLimit"]) if "ThrottlingRateLimit" in throttle else None,
            burst=int(throttle["ThrottlingBurstLimit"]) if "ThrottlingBurstLimit" in throttle else None,
        )

    @property
    def prefix(self) -> str:
        """The path every route is under: `/<stage>`, nothing on `$default`."""
        return "" if self.stage == "$default" else f"/{self.stage}"


def build_event(
    method: str,
    raw_path: str,
    raw_query: str,
    headers: dict[str, str],
    body: bytes,
    route: Route,
    path_params: dict[str, str],
    source_ip: str,
    stage: str = "$default",
) -> dict[str, Any]:
    """`raw_path` as the client sent it: on a named stage it starts with `/<stage>`, and so do
    `rawPath` and `requestContext.http.path`, as API Gateway sends them."""
    lowered: dict[str, str] = {}
    for key, value in headers.items():
        k = key.lower()
        lowered[k] = f"{lowered[k]},{value}" if k in lowered else value
    cookie_header = lowered.pop("cookie", "")
    cookies = [c.strip() for c in cookie_header.split(";") if c.strip()]
    query: dict[str, str] = {}
    for key, value in parse_qsl(raw_query, keep_blank_values=True):
        query[key] = f"{query[key]},{value}" if key in query else value
    content_type = lowered.get("content-type", "")
    is_text = not body or content_type.startswith(_TEXT_TYPES)
    now = time.time()
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": f"{route.method} {route.path}",
        "rawPath": raw_path,
        "rawQueryString": raw_query,
        "headers": lowered,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": lowered.get("host", "127.0.0.1"),
            "domainPrefix": "local",
            "http": {
                "method": method,
                "path": raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": lowered.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": f"{route.method} {route.path}",
            "stage": stage,
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": not is_text,
    }
    if cookies:
        event["cookies"] = cookies
    if query:
        event["queryStringParameters"] = query
    if path_params:
        event["pathParameters"] = path_params
    if body:
        event["body"] = body.decode("utf-8", "replace") if is_text else base64.b64encode(body).decode("ascii")
    return event


class Gateway:
    def __init__(
        self,
        host: LambdaHost,
        routes: list[Route],
        port: int,
        s3: Any = None,
        bucket: str | None = None,
        settings: ApiSettings | None = None,
        listener: socket.socket | None = None,
    ) -> None:
        self.host = host
        self.routes = routes
        self.s3 = s3
        self.bucket = bucket
        self.settings = settings or ApiSettings()
        self.cors = self.settings.cors
        self._buckets: dict[str, TokenBucket] = {}
        self._buckets_lock = threading.Lock()
        # Invocations run here so that the gateway can stop waiting (its integration timeout)
        # while the function runs on, as Lambda's does.
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=64, thread_name_prefix="integration")
        if listener is None:
            self.server = LoopbackHTTPServer(("127.0.0.1", port), self._handler_class())
        else:
            # A socket the stack has held (bound and listening) since it chose the port.
            self.server = LoopbackHTTPServer(listener.getsockname(), self._handler_class(), bind_and_activate=False)
            self.server.socket.close()
            self.server.socket = listener
            self.server.server_address = listener.getsockname()
        self.port = int(self.server.server_address[1])
        self.origin = f"http://127.0.0.1:{self.port}"
        # The API's base URL, as the stack's ApiUrl output gives it (with the stage).
        self.url = self.origin + self.settings.prefix
        self._thread: threading.Thread | None = None

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        """`path` without the stage prefix."""
        for route in self.routes:
            if route.method != method:
                continue
            m = route.pattern.match(path)
            if m:
                return route, {k: unquote(v) for k, v in m.groupdict().items()}
        return None

    def route_path(self, raw_path: str) -> str | None:
        """The path the routes are matched against, or None outside the stage."""
        prefix = self.settings.prefix
        if not prefix:
            return raw_path
        if raw_path == prefix:
            return "/"
        return raw_path[len(prefix) :] if raw_path.startswith(prefix + "/") else None

    def admit(self, route: Route) -> bool:
        """The stage's default route throttling: one token bucket per route."""
        if self.settings.rate is None or self.settings.burst is None:
            return True
        key = f"{route.method} {route.path}"
        with self._buckets_lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = TokenBucket(self.settings.rate, self.settings.burst)
        return bucket.take()

    def integrate(self, route: Route, event: dict[str, Any]) -> tuple[int, Any]:
        """(0, result) of the function, or API Gateway's own (status, body) when the
        invocation fails, is refused, or outlasts the integration timeout."""
        payload = json.dumps(event).encode()
        if len(payload) > MAX_INVOKE_PAYLOAD:
            # Lambda refuses the invocation (RequestEntityTooLargeException): an integration failure.
            print(
                f"gateway: {route.function} not invoked: {len(payload)} byte payload exceeds Lambda's "
                f"{MAX_INVOKE_PAYLOAD} byte limit",
                file=sys.stderr,
                flush=True,
            )
            return INTEGRATION_FAILED
        timeout = min(route.timeout_ms, MAX_INTEGRATION_TIMEOUT_MS) / 1000
        future = self._pool.submit(
            lambda: raise_for_function_error(self.host.invoke(route.function, event), route.function)
        )
        try:
            result = future.result(timeout=timeout)
        except concurrent.futures.TimeoutError:
            print(f"gateway: {route.function} integration timed out after {timeout:g} s", file=sys.stderr, flush=True)
            return TIMED_OUT
        except Exception:  # noqa: BLE001 - a crashed function is API Gateway's 500
            traceback.print_exc()
            return INTEGRATION_FAILED
        if len(json.dumps(result, default=str).encode()) > MAX_INVOKE_PAYLOAD:
            print(f"gateway: {route.function} response exceeds Lambda's payload limit", file=sys.stderr, flush=True)
            return INTEGRATION_FAILED
        return 0, result

    def start(self) -> Gateway:
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
                # http.server's own errors (431, 414, 400...) in the API's shape, not HTML.
                body = json.dumps({"detail": (message or "bad request").lower()}).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "close")
                self.end_headers()
                if self.command != "HEAD" and code >= 200:
                    self.wfile.write(body)
                self.close_connection = True

            def _cors_headers(self) -> list[tuple[str, str]]:
                origin = self.headers.get("Origin")
                cors = gateway.cors
                if cors is None or origin is None or not cors.allows_origin(origin):
                    return []
                out = cors.origin_headers(origin)
                if cors.expose:
                    out.append(("Access-Control-Expose-Headers", ",".join(cors.expose)))
                return out

            def _send(self, status: int, body: bytes, headers: list[tuple[str, str]]) -> None:
                self.send_response(status)
                names = {k.lower() for k, _ in headers}
                for key, value in headers:
                    self.send_header(key, value)
                if "content-length" not in names:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def _json(self, status: int, payload: Any, extra: list[tuple[str, str]] | None = None) -> None:
                headers = [("Content-Type", "application/json"), *(extra or [])]
                self._send(status, json.dumps(payload).encode(), headers)

            def _gateway_answer(self, answer: tuple[int, Any]) -> None:
                self._json(answer[0], answer[1], self._cors_headers())

            def _dispatch(self) -> None:
                split = urlsplit(self.path)
                raw_path, raw_query = split.path or "/", split.query
                try:
                    body = read_body(self.headers, self.rfile)
                except BodyRefused as refused:
                    # The stream is not where the next request starts: the connection ends here.
                    self.close_connection = True
                    self._gateway_answer(refused.answer)
                    return
                if (
                    self.command == "OPTIONS"
                    and gateway.cors is not None
                    and self.headers.get("Origin") is not None
                    and self.headers.get("Access-Control-Request-Method") is not None
                ):
                    self._preflight()
                    return
                if self.command in ("GET", "HEAD") and raw_path.startswith(COVERS_PREFIX):
                    self._cover(unquote(raw_path[len(COVERS_PREFIX) :]))
                    return
                path = gateway.route_path(raw_path)
                if self.command in ("GET", "HEAD") and (raw_path in DOCS or path in DOCS):
                    self._docs(path if path in DOCS else raw_path)
                    return
                found = gateway.match(self.command, path) if path is not None else None
                if found is None:
                    self._json(404, {"detail": "not found"}, self._cors_headers())
                    return
                route, params = found
                if not gateway.admit(route):
                    self._gateway_answer(THROTTLED)
                    return
                event = build_event(
                    self.command,
                    raw_path,
                    raw_query,
                    dict(self.headers.items()),
                    body,
                    route,
                    params,
                    self.client_address[0],
                    gateway.settings.stage,
                )
                status, result = gateway.integrate(route, event)
                if status:
                    self._gateway_answer((status, result))
                    return
                self._respond(result)

            def _respond(self, result: Any) -> None:
                if not isinstance(result, dict) or "statusCode" not in result:
                    self._json(200, result, self._cors_headers())
                    return
                raw = result.get("body") or ""
                body = base64.b64decode(raw) if result.get("isBase64Encoded") else str(raw).encode("utf-8")
                headers = [(k, str(v)) for k, v in (result.get("headers") or {}).items()]
                for name, values in (result.get("multiValueHeaders") or {}).items():
                    headers.extend((name, str(v)) for v in values)
                headers.extend(("Set-Cookie", c) for c in result.get("cookies") or [])
                if gateway.cors is not None:
                    # With CORS configured, API Gateway ignores the integration's CORS headers.
                    headers = [(k, v) for k, v in headers if not k.lower().startswith("access-control-")]
                    headers.extend(self._cors_headers())
                self._send(int(result["statusCode"]), body, headers)

            def _preflight(self) -> None:
                assert gateway.cors is not None
                headers = gateway.cors.preflight(
                    self.headers.get("Origin", ""),
                    self.headers.get("Access-Control-Request-Method", ""),
                    self.headers.get("Access-Control-Request-Headers", ""),
                )
                self._send(204, b"", headers)

            def _docs(self, path: str) -> None:
                document = json.loads(OPENAPI.read_text())
                document["servers"] = [{"url": gateway.url, "description": "local runtime"}]
                if path == "/openapi.json":
                    self._json(200, document)
                    return
                self._send(200, swagger_page(document).encode(), [("Content-Type", "text/html; charset=utf-8")])

            def _cover(self, key: str) -> None:
                # The distribution reaches content-hashed images only (uploads stay private).
                if gateway.s3 is None or not key.startswith(COVERS_SERVED) or ".." in key.split("/"):
                    self._json(404, {"detail": "not found"})
                    return
                try:
                    obj = gateway.s3.get_object(Bucket=gateway.bucket, Key=key)
                except Exception:  # noqa: BLE001 - NoSuchKey and friends
                    self._json(404, {"detail": "not found"})
                    return
                data = obj["Body"].read()
                headers = [
                    ("Content-Type", obj.get("ContentType", "application/octet-stream")),
                    # The distribution's response headers policy overrides whatever the object says.
                    ("Cache-Control", IMMUTABLE),
                ]
                if obj.get("ETag"):
                    headers.append(("ETag", obj["ETag"]))
                self._send(200, data, headers)

            def handle_one(self) -> None:
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self._dispatch()

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = handle_one

        return Handler

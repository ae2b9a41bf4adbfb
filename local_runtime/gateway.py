"""An HTTP API (payload format 2.0) gateway on 127.0.0.1 for the template's routes, plus the
covers bucket served at the public base URL the local stack configures."""

from __future__ import annotations

import base64
import contextlib
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from local_runtime.lambda_host import LambdaHost
from local_runtime.template import ROOT, Route

MAX_BODY = 10 * 1024 * 1024  # API Gateway's fixed payload limit
OPENAPI = ROOT / "openapi.json"
DOCS = ("/docs", "/docs/", "/openapi.json")


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
_TEXT_TYPES = ("text/", "application/json", "application/x-www-form-urlencoded", "application/xml")


def build_event(
    method: str,
    raw_path: str,
    raw_query: str,
    headers: dict[str, str],
    body: bytes,
    route: Route,
    path_params: dict[str, str],
    source_ip: str,
) -> dict[str, Any]:
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
            "stage": "$default",
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
        cors: dict[str, Any] | None = None,
    ) -> None:
        self.host = host
        self.routes = routes
        self.s3 = s3
        self.bucket = bucket
        self.cors = cors or {}
        self.server = ThreadingHTTPServer(("127.0.0.1", port), self._handler_class())
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread: threading.Thread | None = None

    def match(self, method: str, raw_path: str) -> tuple[Route, dict[str, str]] | None:
        for route in self.routes:
            if route.method != method:
                continue
            m = route.pattern.match(raw_path)
            if m:
                return route, {k: unquote(v) for k, v in m.groupdict().items()}
        return None

    def start(self) -> Gateway:
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

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

            def handle(self) -> None:
                # A client that drops a kept-alive connection is not an error of ours.
                with contextlib.suppress(ConnectionResetError, BrokenPipeError):
                    super().handle()

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

            def _json(self, status: int, payload: Any) -> None:
                self._send(status, json.dumps(payload).encode(), [("Content-Type", "application/json")])

            def _dispatch(self) -> None:
                split = urlsplit(self.path)
                raw_path, raw_query = split.path or "/", split.query
                length = int(self.headers.get("Content-Length") or 0)
                if length > MAX_BODY:
                    self._json(413, {"detail": "request body too large"})
                    self.close_connection = True
                    return
                body = self.rfile.read(length) if length else b""
                if self.command == "OPTIONS" and gateway.cors:
                    self._preflight()
                    return
                if self.command in ("GET", "HEAD") and raw_path in DOCS:
                    self._docs(raw_path)
                    return
                if self.command in ("GET", "HEAD") and raw_path.startswith(COVERS_PREFIX):
                    self._cover(unquote(raw_path[len(COVERS_PREFIX) :]))
                    return
                found = gateway.match(self.command, raw_path)
                if found is None:
                    self._json(404, {"detail": "not found"})
                    return
                route, params = found
                event = build_event(
                    self.command,
                    raw_path,
                    raw_query,
                    dict(self.headers.items()),
                    body,
                    route,
                    params,
                    self.client_address[0],
                )
                try:
                    result = gateway.host.invoke(route.function, event)
                except Exception:  # noqa: BLE001 - a crashed function is API Gateway's 500
                    import traceback

                    traceback.print_exc()
                    self._json(500, {"message": "Internal Server Error"})
                    return
                self._respond(result)

            def _respond(self, result: Any) -> None:
                if not isinstance(result, dict) or "statusCode" not in result:
                    self._json(200, result)
                    return
                raw = result.get("body") or ""
                body = base64.b64decode(raw) if result.get("isBase64Encoded") else str(raw).encode("utf-8")
                headers = [(k, str(v)) for k, v in (result.get("headers") or {}).items()]
                for name, values in (result.get("multiValueHeaders") or {}).items():
                    headers.extend((name, str(v)) for v in values)
                headers.extend(("Set-Cookie", c) for c in result.get("cookies") or [])
                if gateway.cors and self.headers.get("Origin"):
                    headers.append(("Access-Control-Allow-Origin", ",".join(gateway.cors.get("AllowOrigins", ["*"]))))
                self._send(int(result["statusCode"]), body, headers)

            def _preflight(self) -> None:
                cors = gateway.cors
                self._send(
                    204,
                    b"",
                    [
                        ("Access-Control-Allow-Origin", ",".join(cors.get("AllowOrigins", ["*"]))),
                        ("Access-Control-Allow-Methods", ",".join(cors.get("AllowMethods", []))),
                        ("Access-Control-Allow-Headers", ",".join(cors.get("AllowHeaders", []))),
                        ("Access-Control-Max-Age", str(cors.get("MaxAge", 0))),
                    ],
                )

            def _docs(self, path: str) -> None:
                document = json.loads(OPENAPI.read_text())
                document["servers"] = [{"url": gateway.url, "description": "local runtime"}]
                if path == "/openapi.json":
                    self._json(200, document)
                    return
                self._send(200, swagger_page(document).encode(), [("Content-Type", "text/html; charset=utf-8")])

            def _cover(self, key: str) -> None:
                if gateway.s3 is None or not key or ".." in key.split("/"):
                    self._json(404, {"detail": "not found"})
                    return
                try:
                    obj = gateway.s3.get_object(Bucket=gateway.bucket, Key=key)
                except Exception:  # noqa: BLE001 - NoSuchKey and friends
                    self._json(404, {"detail": "not found"})
                    return
                data = obj["Body"].read()
                self._send(
                    200,
                    data,
                    [
                        ("Content-Type", obj.get("ContentType", "application/octet-stream")),
                        ("Cache-Control", "public, max-age=31536000, immutable"),
                    ],
                )

            def handle_one(self) -> None:
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self._dispatch()

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = handle_one

        return Handler

"""The local gateway serves the template's HttpApi as API Gateway does: its named stage, its
credentialed CORS, its throttling, and API Gateway's and Lambda's limits. The real handlers
run behind it (moto); a recording wrapper shows the events they receive."""

from __future__ import annotations

import http.client
import json
import re
import socket
import threading
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from local_runtime.gateway import MAX_BODY, ApiSettings, Gateway, TokenBucket
from local_runtime.lambda_host import LambdaHost
from local_runtime.processes import MotoServer
from local_runtime.resources import create_all
from local_runtime.stack import aws_session
from local_runtime.template import Route, Stack, local_stack
from tests.integration.conftest import reset_caches

ALBUM_ID = "0b5c3f9e-2f39-4f5c-9d43-7b3e0c3f2a11"


@dataclass
class Recording:
    """The real host, with the events it was given (and, for a timeout, a function held until
    `hold` is set: a minute at most, a limit on a hang only)."""

    host: LambdaHost
    hold: threading.Event | None = None
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    finished: int = 0

    def invoke(self, function: str, event: dict[str, Any]) -> Any:
        self.events.append((function, event))
        if self.hold is not None:
            self.hold.wait(60)
        try:
            return self.host.invoke(function, event)
        finally:
            self.finished += 1


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def header(self, name: str) -> list[str]:
        return self.headers.get_all(name) or []


def call(gateway: Gateway, method: str, path: str, headers: dict[str, str] | None = None, body: bytes = b"") -> Reply:
    conn = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=30)
    try:
        conn.request(method, path, body=body or None, headers=headers or {})
        resp = conn.getresponse()
        return Reply(resp.status, resp.headers, resp.read())
    finally:
        conn.close()


def serve(stack: Stack, host: Any, moto: MotoServer, routes: list[Route] | None = None) -> Gateway:
    s3 = aws_session(stack.region).client("s3", endpoint_url=moto.url)
    return Gateway(
        host,
        routes or stack.routes(),
        0,
        s3=s3,
        bucket=stack.physical["CoversBucket"],
        settings=ApiSettings.from_stack(stack),
    ).start()


@pytest.fixture(scope="module")
def served(moto: MotoServer, stack: Stack) -> Iterator[tuple[Gateway, Recording]]:
    """One gateway for the tests that only read (tables made once from the template)."""
    urllib.request.urlopen(urllib.request.Request(f"{moto.url}/moto-api/reset", method="POST"), timeout=5).close()
    create_all(stack, aws_session(stack.region), moto.url)
    reset_caches()
    recording = Recording(LambdaHost(stack, moto.url))
    running = serve(stack, recording, moto)
    yield running, recording
    running.stop()


@pytest.fixture
def gateway(served: tuple[Gateway, Recording]) -> Gateway:
    return served[0]


@pytest.fixture
def recording(served: tuple[Gateway, Recording]) -> Recording:
    served[1].events.clear()
    served[1].hold = None
    return served[1]


# ---- the named stage -------------------------------------------------------------------------


def test_the_api_lives_under_its_stage_and_events_carry_it(gateway: Gateway, recording: Recording) -> None:
    assert gateway.url == f"http://127.0.0.1:{gateway.port}/dev"
    reply = call(gateway, "GET", "/dev/albums?limit=5")
    assert reply.status == 200, reply.body
    ((function, event),) = recording.events
    assert function == "ListAlbumsFunction"
    assert event["rawPath"] == "/dev/albums" and event["requestContext"]["http"]["path"] == "/dev/albums"
    assert event["requestContext"]["stage"] == "dev"
    assert event["routeKey"] == event["requestContext"]["routeKey"] == "GET /albums"
    assert event["rawQueryString"] == "limit=5" and "pathParameters" not in event


def test_path_parameters_are_the_route_variables_without_the_stage(gateway: Gateway, recording: Recording) -> None:
    reply = call(gateway, "GET", "/dev/albums/nobody.test/")
    assert reply.status == 404 and reply.json() == {"detail": "artist not found"}
    ((function, event),) = recording.events
    assert function == "ListArtistAlbumsFunction" and event["routeKey"] == "GET /albums/{ref}/"
    assert event["pathParameters"] == {"ref": "nobody.test"} and event["rawPath"] == "/dev/albums/nobody.test/"


@pytest.mark.parametrize("path", ["/albums", "/albums/nobody.test", "/dev", "/devx/albums", "/$default/albums"])
def test_outside_the_stage_nothing_is_routed(gateway: Gateway, recording: Recording, path: str) -> None:
    reply = call(gateway, "GET", path)
    assert reply.status == 404 and reply.json() == {"detail": "not found"}
    assert recording.events == []


def test_an_album_mutation_on_the_stage_reaches_its_guard_with_the_album_id(
    gateway: Gateway, recording: Recording
) -> None:
    reply = call(gateway, "PATCH", f"/dev/albums/{ALBUM_ID}", {"Content-Type": "application/json"}, b"{}")
    assert reply.status == 401 and reply.json() == {"detail": "not authenticated - login required"}
    assert recording.events[0][1]["pathParameters"] == {"ref": ALBUM_ID}


def test_default_stage_has_no_prefix(aws_env: None, moto: MotoServer) -> None:
    stack = local_stack(overrides={"Stage": "prod"})
    stack.raw["Resources"]["HttpApi"]["Properties"]["StageName"] = "$default"
    recording = Recording(LambdaHost(stack, moto.url))
    gateway = serve(stack, recording, moto)
    try:
        assert gateway.url == f"http://127.0.0.1:{gateway.port}"
        assert call(gateway, "GET", "/albums").status == 200
        assert recording.events[0][1]["rawPath"] == "/albums"
        assert recording.events[0][1]["requestContext"]["stage"] == "$default"
    finally:
        gateway.stop()


# ---- credentialed CORS -----------------------------------------------------------------------

PREFLIGHT = {"Access-Control-Request-Method": "PATCH", "Access-Control-Request-Headers": "content-type"}


@pytest.mark.parametrize(
    "origin", ["http://localhost:5173", "http://localhost:3000", "http://127.0.0.1:8080", "http://localhost:1"]
)
def test_an_allowed_origin_is_echoed_with_credentials(gateway: Gateway, origin: str) -> None:
    reply = call(gateway, "GET", "/dev/albums", {"Origin": origin})
    assert reply.status == 200
    assert reply.header("Access-Control-Allow-Origin") == [origin]
    assert reply.header("Access-Control-Allow-Credentials") == ["true"]
    assert "Origin" in reply.header("Vary")


@pytest.mark.parametrize(
    "origin",
    [
        "null",
        "http://localhost:5173/",
        "https://localhost:5173",
        "http://localhost",
        "http://localhost.evil.example:5173",
        "http://evil.example",
        "http://127.0.0.1:80/x",
    ],
)
def test_an_origin_not_allowed_gets_no_cors_headers(gateway: Gateway, origin: str) -> None:
    reply = call(gateway, "GET", "/dev/albums", {"Origin": origin})
    assert reply.status == 200  # the request is served; the browser keeps the answer from the page
    assert not [k for k in reply.headers if k.lower().startswith("access-control-")]
    pre = call(gateway, "OPTIONS", "/dev/albums", {"Origin": origin, **PREFLIGHT})
    assert pre.status == 204 and not [k for k in pre.headers if k.lower().startswith("access-control-")]


def test_a_listed_origin_is_allowed_and_echoed_alone(aws_env: None, moto: MotoServer) -> None:
    stack = local_stack(overrides={"AllowedOrigins": "https://plyr.fm,https://app.example"})
    gateway = serve(stack, Recording(LambdaHost(stack, moto.url)), moto)
    try:
        for origin in ("https://plyr.fm", "https://app.example"):
            reply = call(gateway, "GET", "/dev/albums", {"Origin": origin})
            assert reply.header("Access-Control-Allow-Origin") == [origin], "one origin, never a joined list"
        assert (
            call(gateway, "GET", "/dev/albums", {"Origin": "https://plyr.fm.evil"}).header(
                "Access-Control-Allow-Origin"
            )
            == []
        )
    finally:
        gateway.stop()


def test_preflight_of_an_allowed_request(gateway: Gateway, recording: Recording) -> None:
    origin = "http://localhost:5173"
    reply = call(gateway, "OPTIONS", f"/dev/albums/{ALBUM_ID}", {"Origin": origin, **PREFLIGHT})
    assert reply.status == 204 and reply.body == b""
    assert reply.header("Access-Control-Allow-Origin") == [origin]
    assert reply.header("Access-Control-Allow-Credentials") == ["true"]
    assert set(reply.header("Access-Control-Allow-Methods")[0].split(",")) == {"GET", "POST", "PUT", "PATCH", "DELETE"}
    assert {h.lower() for h in reply.header("Access-Control-Allow-Headers")[0].split(",")} == {
        "content-type",
        "authorization",
        "if-match",
        "if-none-match",
    }
    assert reply.header("Access-Control-Max-Age") == ["600"]
    assert recording.events == [], "API Gateway answers preflight itself"


@pytest.mark.parametrize(
    "method, headers",
    [("TRACE", ""), ("CONNECT", ""), ("PATCH", "x-custom"), ("POST", "content-type, x-requested-with")],
)
def test_preflight_of_a_method_or_header_not_allowed(gateway: Gateway, method: str, headers: str) -> None:
    asked = {"Origin": "http://localhost:5173", "Access-Control-Request-Method": method}
    if headers:
        asked["Access-Control-Request-Headers"] = headers
    reply = call(gateway, "OPTIONS", "/dev/albums", asked)
    assert reply.status == 204
    assert not [k for k in reply.headers if k.lower().startswith("access-control-")]


def test_cors_headers_on_errors_and_on_gateway_answers(gateway: Gateway) -> None:
    origin = "http://127.0.0.1:5173"
    missing = call(gateway, "GET", "/dev/nope", {"Origin": origin})
    assert missing.status == 404 and missing.header("Access-Control-Allow-Origin") == [origin]
    refused = call(gateway, "PATCH", f"/dev/albums/{ALBUM_ID}", {"Origin": origin})
    assert refused.status == 401 and refused.header("Access-Control-Allow-Origin") == [origin]


# ---- API Gateway's and Lambda's limits -------------------------------------------------------


def test_a_request_over_10_mb_is_413_before_any_function(gateway: Gateway, recording: Recording) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=30)
    try:
        conn.putrequest("POST", f"/dev/albums/{ALBUM_ID}/cover")
        conn.putheader("Content-Type", "multipart/form-data; boundary=x")
        conn.putheader("Content-Length", str(MAX_BODY + 1))
        conn.endheaders()
        resp = conn.getresponse()
        assert resp.status == 413 and json.loads(resp.read()) == {"message": "Request Entity Too Large"}
    finally:
        conn.close()
    assert recording.events == []


def test_an_event_over_lambdas_6_mb_is_refused_as_api_gateway_does(gateway: Gateway, recording: Recording) -> None:
    # 4.75 MB of binary is 6.33 MB once base64-encoded into the event: Lambda refuses it.
    body = b"\xff" * 4_750_000
    headers = {"Content-Type": "multipart/form-data; boundary=x"}
    reply = call(gateway, "POST", f"/dev/albums/{ALBUM_ID}/cover", headers, body)
    assert reply.status == 500 and reply.json() == {"message": "Internal Server Error"}
    assert recording.events == []
    # 4.4 MB (5.9 MB in the event) reaches the function, which answers for itself.
    reply = call(gateway, "POST", f"/dev/albums/{ALBUM_ID}/cover", headers, b"\xff" * 4_400_000)
    assert reply.status == 401 and len(recording.events) == 1


def test_the_integration_timeout_is_503(served: tuple[Gateway, Recording], moto: MotoServer, stack: Stack) -> None:
    routes = [Route(r.method, r.path, r.function, timeout_ms=300) for r in stack.routes()]
    # A function still running when the gateway answers: it stopped waiting at its timeout.
    recording = Recording(served[1].host, hold=threading.Event())
    gateway = serve(stack, recording, moto, routes)
    try:
        reply = call(gateway, "GET", "/dev/albums")
        assert reply.status == 503 and reply.json() == {"message": "Service Unavailable"}
        assert len(recording.events) == 1 and recording.finished == 0, "the gateway waited for the function"
    finally:
        assert recording.hold is not None
        recording.hold.set()
        gateway.stop()


def test_a_function_error_is_api_gateways_500(
    served: tuple[Gateway, Recording], moto: MotoServer, stack: Stack
) -> None:
    class Failing:
        def invoke(self, function: str, event: dict[str, Any]) -> dict[str, Any]:
            return {"errorType": "Runtime.ExitError", "errorMessage": "exited with status 1"}

    gateway = serve(stack, Failing(), moto)
    try:
        reply = call(gateway, "GET", "/dev/albums")
        assert reply.status == 500 and reply.json() == {"message": "Internal Server Error"}
    finally:
        gateway.stop()


def test_the_stage_throttling_is_a_token_bucket_per_route(aws_env: None, moto: MotoServer) -> None:
    # A token every 100 s: the burst alone decides here, however slow the machine.
    stack = local_stack(overrides={"ThrottlingRateLimit": "0.01", "ThrottlingBurstLimit": "3"})
    gateway = serve(stack, Recording(LambdaHost(stack, moto.url)), moto)
    try:
        statuses = [call(gateway, "GET", "/dev/albums/nobody.test").status for _ in range(4)]
        assert statuses == [404, 404, 404, 429]
        throttled = call(gateway, "GET", "/dev/albums/nobody.test")
        assert throttled.status == 429 and throttled.json() == {"message": "Too Many Requests"}
        assert call(gateway, "GET", "/dev/albums").status == 200, "another route has its own bucket"
    finally:
        gateway.stop()


def test_parallel_requests_beyond_the_burst_are_throttled(aws_env: None, moto: MotoServer) -> None:
    stack = local_stack(overrides={"ThrottlingRateLimit": "0.01", "ThrottlingBurstLimit": "5"})
    gateway = serve(stack, Recording(LambdaHost(stack, moto.url)), moto)
    statuses: list[int] = []
    lock = threading.Lock()

    def one() -> None:
        status = call(gateway, "GET", "/dev/albums/nobody.test").status
        with lock:
            statuses.append(status)

    try:
        threads = [threading.Thread(target=one) for _ in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        gateway.stop()
    assert sorted(statuses) == [404] * 5 + [429] * 7


def test_tokens_come_back_at_the_rate() -> None:
    now = [100.0]
    bucket = TokenBucket(rate=20, burst=2, clock=lambda: now[0])
    assert [bucket.take() for _ in range(3)] == [True, True, False]
    now[0] += 0.04  # not yet a whole token at 20 a second
    assert bucket.take() is False
    now[0] += 0.02
    assert bucket.take() is True
    assert bucket.take() is False
    now[0] += 10  # never more than the burst
    assert [bucket.take() for _ in range(3)] == [True, True, False]


# ---- covers, as the distribution serves them -------------------------------------------------


def test_covers_are_served_with_immutable_caching_and_uploads_are_not(gateway: Gateway, stack: Stack) -> None:
    s3 = gateway.s3
    bucket = stack.physical["CoversBucket"]
    s3.put_object(Bucket=bucket, Key="images/abc.png", Body=b"\x89PNG-bytes", ContentType="image/png")
    s3.put_object(Bucket=bucket, Key="uploads/x/y.png", Body=b"raw", ContentType="image/png")
    reply = call(gateway, "GET", "/covers/images/abc.png")
    assert reply.status == 200 and reply.body == b"\x89PNG-bytes"
    assert reply.header("Content-Type") == ["image/png"]
    assert reply.header("Cache-Control") == ["public, max-age=31536000, immutable"]
    assert call(gateway, "GET", "/covers/uploads/x/y.png").status == 404
    assert call(gateway, "GET", "/covers/images/missing.png").status == 404


# ---- how the request body is framed ----------------------------------------------------------


def send_raw(gateway: Gateway, head: bytes, body: bytes = b"") -> tuple[int, dict[str, str], bytes]:
    """One request written byte by byte (http.client would fix the framing we want to get wrong);
    the answer must come within 10 s (a gateway waiting for bytes that never come is a defect)."""
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=10) as sock:
        sock.sendall(head + b"\r\n" + body)
        sock.shutdown(socket.SHUT_WR)  # nothing more comes: a body shorter than announced ends here
        received = b""
        while b"\r\n\r\n" not in received:
            chunk = sock.recv(65536)
            assert chunk, f"the gateway closed the connection without an answer: {received!r}"
            received += chunk
        head_part, _, rest = received.partition(b"\r\n\r\n")
        lines = head_part.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        length = int(headers.get("content-length", "0"))
        while len(rest) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            rest += chunk
        return int(lines[0].split()[1]), headers, rest


def post_head(path: str, *header_lines: str) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json", *header_lines]
    return "".join(f"{line}\r\n" for line in lines).encode()


@pytest.mark.parametrize(
    "framing",
    [
        ["Content-Length: abc"],
        ["Content-Length: -1"],
        ["Content-Length: 1e3"],
        ["Content-Length: +2"],
        ["Content-Length: 2", "Content-Length: 3"],
        ["Content-Length: 2, 3"],
        ["Transfer-Encoding: gzip"],
        ["Transfer-Encoding: chunked", "Content-Length: 2"],
    ],
    ids=["not-a-number", "negative", "exponent", "signed", "two-lengths", "length-list", "unknown-coding", "te-and-cl"],
)
def test_a_body_framed_wrongly_is_api_gateways_400(gateway: Gateway, recording: Recording, framing: list[str]) -> None:
    status, _, body = send_raw(gateway, post_head("/dev/albums", *framing, "Connection: close"), b"{}")
    assert status == 400 and json.loads(body) == {"message": "Bad Request"}
    assert recording.events == []


def test_a_repeated_identical_content_length_is_one_length(gateway: Gateway, recording: Recording) -> None:
    status, _, _ = send_raw(
        gateway, post_head("/dev/albums", "Content-Length: 2", "Content-Length: 2", "Connection: close"), b"{}"
    )
    assert status == 401 and recording.events[0][1]["body"] == "{}"


def test_a_chunked_body_reaches_the_function_whole(gateway: Gateway, recording: Recording) -> None:
    chunked = b'5;ext=1\r\n{"tit\r\nd\r\nle": "Chunk"}\r\n0\r\nX-Trailer: y\r\n\r\n'
    status, _, _ = send_raw(
        gateway, post_head("/dev/albums", "Transfer-Encoding: chunked", "Connection: close"), chunked
    )
    assert status == 401  # the function answered (no session) for the body it was given
    assert recording.events[0][1]["body"] == '{"title": "Chunk"}'


@pytest.mark.parametrize(
    "chunked",
    [b"zz\r\n{}\r\n0\r\n\r\n", b"2\r\n{}XX0\r\n\r\n", b"-2\r\n{}\r\n0\r\n\r\n", b"10\r\n{}\r\n0\r\n\r\n"],
    ids=["size-not-hex", "no-crlf-after-data", "negative-size", "data-shorter-than-size"],
)
def test_a_malformed_chunked_body_is_400(gateway: Gateway, recording: Recording, chunked: bytes) -> None:
    status, _, body = send_raw(
        gateway, post_head("/dev/albums", "Transfer-Encoding: chunked", "Connection: close"), chunked
    )
    assert status == 400 and json.loads(body) == {"message": "Bad Request"}
    assert recording.events == []


def test_a_chunked_body_over_10_mb_is_413(gateway: Gateway, recording: Recording) -> None:
    size = MAX_BODY + 1
    status, _, body = send_raw(
        gateway,
        post_head(f"/dev/albums/{ALBUM_ID}/cover", "Transfer-Encoding: chunked", "Connection: close"),
        f"{size:x}\r\n".encode(),  # the size alone is enough: nothing of it is read
    )
    assert status == 413 and json.loads(body) == {"message": "Request Entity Too Large"}
    assert recording.events == []


def test_after_a_chunked_request_the_connection_serves_the_next_one(gateway: Gateway, recording: Recording) -> None:
    """The chunks are consumed: their bytes are not read as a second request on a kept-alive
    connection (they were, when the body was ignored)."""
    first = post_head("/dev/albums", "Transfer-Encoding: chunked") + b"\r\n2\r\n{}\r\n0\r\n\r\n"
    second = b"GET /dev/albums HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=10) as sock:
        sock.sendall(first + second)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    statuses = [int(code) for code in re.findall(rb"HTTP/1\.1 ([0-9]{3}) ", received)]
    assert statuses == [401, 200], received
    assert recording.events[0][1]["body"] == "{}" and len(recording.events) == 2

"""The SSRF guard and the limits of the PDS fetch, against a loopback server."""

import time
from collections.abc import Iterator

import pytest

from albums_core.safe_http import FetchError, get_json
from local_runtime.record_server import Fault, RecordServer


@pytest.fixture
def server() -> Iterator[RecordServer]:
    srv = RecordServer().start()
    yield srv
    srv.stop()


def url(srv: RecordServer, repo: str = "did:plc:a", rkey: str = "1") -> str:
    return f"{srv.url}/xrpc/com.atproto.repo.getRecord?repo={repo}&collection=fm.plyr.list&rkey={rkey}"


@pytest.mark.parametrize(
    "target",
    [
        "http://169.254.169.254/latest/meta-data/",
        "https://169.254.169.254/",
        "https://10.0.0.1/",
        "https://192.168.1.1/",
        "https://172.16.0.1/",
        "https://127.0.0.1/",
        "https://[::1]/",
        "https://[::ffff:10.0.0.1]/",
        "https://0.0.0.0/",
        "https://100.64.0.1/",
    ],
)
def test_private_and_metadata_addresses_are_refused_in_production_mode(target: str) -> None:
    with pytest.raises(FetchError):
        get_json(target, timeout=1, max_bytes=1000, allow_loopback=False)


@pytest.mark.parametrize("target", ["https://169.254.169.254/", "https://10.0.0.1/", "http://10.0.0.1/"])
def test_local_mode_allows_loopback_only(target: str) -> None:
    with pytest.raises(FetchError):
        get_json(target, timeout=1, max_bytes=1000, allow_loopback=True)


@pytest.mark.parametrize(
    "target",
    [
        "ftp://example.com/",
        "file:///etc/passwd",
        "https://user:pw@example.com/",
        "https:///nohost",
        "http://example.com/",
        "https://example.com:99999/",
    ],
)
def test_bad_urls_are_refused(target: str) -> None:
    with pytest.raises(FetchError):
        get_json(target, timeout=1, max_bytes=1000, allow_loopback=False)


def test_loopback_over_http_is_refused_unless_allowed(server: RecordServer) -> None:
    with pytest.raises(FetchError):
        get_json(url(server), timeout=1, max_bytes=10_000, allow_loopback=False)


def test_fetch_from_loopback_when_allowed(server: RecordServer) -> None:
    server.store.put("at://did:plc:a/fm.plyr.list/1", {"items": []})
    assert get_json(url(server), timeout=1, max_bytes=10_000, allow_loopback=True)["value"] == {"items": []}


def test_non_200_is_an_error(server: RecordServer) -> None:
    with pytest.raises(FetchError, match="status 400"):
        get_json(url(server, rkey="missing"), timeout=1, max_bytes=10_000, allow_loopback=True)
    server.store.fault = Fault(status=500)
    with pytest.raises(FetchError, match="status 500"):
        get_json(url(server), timeout=1, max_bytes=10_000, allow_loopback=True)


def test_a_hanging_server_is_cut_at_the_deadline(server: RecordServer) -> None:
    server.store.fault = Fault(status=200, delay=5)
    started = time.monotonic()
    with pytest.raises(FetchError):
        get_json(url(server), timeout=0.3, max_bytes=10_000, allow_loopback=True)
    assert time.monotonic() - started < 1.5


def test_oversized_responses_are_refused(server: RecordServer) -> None:
    server.store.put("at://did:plc:a/fm.plyr.list/1", {"blob": "x" * 50_000})
    with pytest.raises(FetchError, match="too large"):
        get_json(url(server), timeout=1, max_bytes=10_000, allow_loopback=True)


def test_non_json_is_an_error(server: RecordServer) -> None:
    server.store.fault = Fault(status=200, body=b"<html>")
    with pytest.raises(FetchError):
        get_json(url(server), timeout=1, max_bytes=10_000, allow_loopback=True)

"""Issue 18.5: refusals no retry changes are not "try again". An account deactivated on the real
local PDS gets 403 saying so on every mutation and on a sync (not 502 "repeat the request"), and
its session ends; a loopback PDS answering the other permanent refusals (taken down, suspended, a
token refused even after a refresh) gets the same, and a transient failure is still 502."""

from __future__ import annotations

import json
import threading
import uuid
from base64 import b64encode
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from albums_core import bootstrap
from albums_core.adapters.atproto import xrpc
from albums_core.adapters.atproto.record_editor import RecordEditor, pds_failures
from albums_core.adapters.atproto.safe_http import request
from albums_core.adapters.dynamodb.session_store import load_session, pds_session
from albums_core.domain.errors import AccountRefused, InvalidSession, UpstreamFailure
from albums_core.services.auth import Caller
from local_runtime.lambda_host import LambdaContext
from local_runtime.loopback_http import LoopbackHTTPServer
from local_runtime.modules import load_module
from local_runtime.pds import LocalPds
from local_runtime.template import ROOT
from tests.integration.write_fixtures import Artist

PASSWORD = "carol-pass-1234"
ADMIN = b"admin:admin-pass"  # @atproto/dev-env's admin password


@pytest.fixture
def carol(pds_env: LocalPds) -> Artist:
    """A fresh account of its own: deactivating it leaves the shared accounts alone."""
    handle = f"c{uuid.uuid4().hex[:12]}.test"
    pds_env.create_account(handle, PASSWORD)
    session, artist = bootstrap.auth().login(handle, PASSWORD)
    return Artist(Caller(session, artist), pds_session(session))


def deactivate(artist: Artist) -> None:
    xrpc.call(
        artist.pds.pds_url,
        "POST",
        "com.atproto.server.deactivateAccount",
        body={},
        token=artist.pds.tokens.access_jwt,
    )


def test_a_deactivated_account_gets_403_saying_so_not_repeat_the_request(carol: Artist) -> None:
    track = carol.publish_track("Before")
    _, album = carol.admin().create("Made before")
    deactivate(carol)

    for change in (
        lambda: carol.admin().create("After"),
        lambda: carol.admin().update(album["id"], title="Renamed"),
        lambda: carol.admin().attach(album["id"], [track]),
        lambda: bootstrap.indexing().sync_for_caller(carol.caller.artist),
    ):
        with pytest.raises(AccountRefused) as refused:
            change()
        assert refused.value.status == 403
        assert "deactivated" in refused.value.detail and "repeat" not in refused.value.detail


def test_the_handler_answers_403_and_ends_the_session(carol: Artist) -> None:
    deactivate(carol)
    handler = load_module("fn_create_album_refusals", ROOT / "functions" / "create_album" / "app.py").lambda_handler
    event = json.loads((ROOT / "events" / "create_album_201.json").read_text())
    event["cookies"] = [f"session_id={carol.caller.session.session_id}"]

    out = handler(event, LambdaContext(function_name="create_album", memory_limit_in_mb=256, timeout_ms=30_000))

    assert out["statusCode"] == 403, out
    assert "deactivated" in json.loads(out["body"])["detail"]
    assert any("session_id=;" in c or c.startswith("session_id=;") for c in out.get("cookies", [])), out
    with pytest.raises(InvalidSession):
        load_session(carol.caller.session.session_id)
    out = handler(event, LambdaContext(function_name="create_album", memory_limit_in_mb=256, timeout_ms=30_000))
    assert out["statusCode"] == 401


def take_down(pds: LocalPds, did: str) -> None:
    """The PDS's admin takes the repository down (the dev-env's admin password)."""
    reply = request(
        "POST",
        f"{pds.pds_url}/xrpc/com.atproto.admin.updateSubjectStatus",
        timeout=10,
        max_bytes=100_000,
        allow_loopback=True,
        body=json.dumps(
            {"subject": {"$type": "com.atproto.admin.defs#repoRef", "did": did}, "takedown": {"applied": True}}
        ).encode(),
        headers={"Content-Type": "application/json", "Authorization": "Basic " + b64encode(ADMIN).decode()},
    )
    assert reply.status == 200, reply.body


def test_a_taken_down_account_gets_403_on_changes(carol: Artist, pds_env: LocalPds) -> None:
    _, album = carol.admin().create("Made before")
    take_down(pds_env, carol.did)

    with pytest.raises(AccountRefused) as refused:
        carol.admin().update(album["id"], title="Renamed")
    assert "taken down" in refused.value.detail
    with pytest.raises(AccountRefused, match="taken down"):
        bootstrap.indexing().sync_for_caller(carol.caller.artist)


class ScriptedPds:
    """A PDS on loopback answering each XRPC method with a scripted (status, body)."""

    def __init__(self, answers: dict[str, tuple[int, dict[str, Any]]]) -> None:
        self.answers = answers
        self.calls: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _answer(self) -> None:
                nsid = self.path.split("?", 1)[0].removeprefix("/xrpc/")
                outer.calls.append(nsid)
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                status, body = outer.answers.get(nsid, (404, {"error": "MethodNotImplemented"}))
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _answer

        self.server = LoopbackHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def scripted(settings_env: pytest.MonkeyPatch) -> Iterator[ScriptedPds]:
    settings_env.setenv("ALBUMS_ALLOW_LOOPBACK_PDS", "true")
    server = ScriptedPds({})
    yield server
    server.stop()


DID = "did:plc:abcdefghijklmnopqrstuvwx"
URI = f"at://{DID}/fm.plyr.track/3kabcdefghijk"
COMMIT = "com.atproto.sync.getLatestCommit"
WRITE = "com.atproto.repo.applyWrites"
REFRESH = "com.atproto.server.refreshSession"
FRESH = {"accessJwt": "access-2", "refreshJwt": "refresh-2"}


def _session(server: ScriptedPds) -> xrpc.PdsSession:
    return xrpc.PdsSession(server.url, DID, xrpc.Tokens("access-1", "refresh-1"))


def _write(server: ScriptedPds) -> None:
    with pds_failures():
        _session(server).apply_writes([], swap_commit=None)


@pytest.mark.parametrize(
    ("status", "error", "said"),
    [
        (400, "RepoTakendown", "taken down"),
        (400, "RepoSuspended", "suspended"),
        (400, "RepoDeactivated", "deactivated"),
    ],
)
def test_an_account_the_pds_refuses_is_403_naming_its_state(
    scripted: ScriptedPds, status: int, error: str, said: str
) -> None:
    scripted.answers[COMMIT] = (status, {"error": error, "message": "no"})
    with pytest.raises(AccountRefused) as refused:
        RecordEditor(_session(scripted)).read([URI])
    assert refused.value.status == 403 and said in refused.value.detail and refused.value.ends_session


@pytest.mark.parametrize("error", ["AccountTakedown", "AccountDeactivated"])
def test_a_write_refused_for_the_account_is_not_retried_after_a_refresh(scripted: ScriptedPds, error: str) -> None:
    scripted.answers[WRITE] = (401, {"error": error, "message": "no"})
    scripted.answers[REFRESH] = (200, FRESH)
    with pytest.raises(AccountRefused):
        _write(scripted)
    assert scripted.calls == [WRITE]  # a refresh changes nothing: none is made


@pytest.mark.parametrize("error", ["InvalidToken", "ExpiredToken"])
def test_a_token_refused_even_after_a_refresh_is_403(scripted: ScriptedPds, error: str) -> None:
    scripted.answers[WRITE] = (400, {"error": error, "message": "bad token"})
    scripted.answers[REFRESH] = (200, FRESH)
    with pytest.raises(AccountRefused) as refused:
        _write(scripted)
    assert "log in again" in refused.value.detail and refused.value.ends_session
    assert scripted.calls == [WRITE, REFRESH, WRITE]


def test_a_refused_refresh_is_still_401_and_transient_failures_still_502(scripted: ScriptedPds) -> None:
    scripted.answers[WRITE] = (400, {"error": "ExpiredToken"})
    scripted.answers[REFRESH] = (400, {"error": "ExpiredToken"})
    with pytest.raises(InvalidSession):
        _write(scripted)
    scripted.answers[COMMIT] = (503, {"error": "Unavailable"})
    with pytest.raises(UpstreamFailure) as failed:
        RecordEditor(_session(scripted)).read([URI])
    assert failed.value.status == 502 and "repeat" in failed.value.detail
    scripted.answers[COMMIT] = (400, {"error": "InvalidSwap"})
    with pytest.raises(UpstreamFailure):
        RecordEditor(_session(scripted)).read([URI])

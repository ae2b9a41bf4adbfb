"""The real local PDS + PLC (local_runtime.pds) answers the com.atproto calls the service relies
on, the way a production PDS does. Only the stdlib and 127.0.0.1."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from local_runtime.pds import LocalPds
from tests.integration.pds_fixture import ACCOUNTS

# `local_pds` is the session fixture of tests/integration/pds_fixture.py (wired in conftest.py),
# shared with other tests: records are written into an account of this module's own.

TRACK = "fm.plyr.track"
RECORD = {"$type": TRACK, "title": "t", "artist": "a", "fileType": "mp3", "createdAt": "2026-01-01T00:00:00Z"}
DEV_ENV_JWT_SECRET = b"jwt-secret"  # @atproto/dev-env's fixed secret (dist/const.js): lets us mint an expired token


def xrpc(
    base: str,
    nsid: str,
    *,
    params: dict[str, str] | None = None,
    body: dict[str, Any] | None = None,
    token: str | None = None,
    post: bool = False,
) -> tuple[int, dict[str, Any]]:
    """GET (params) or POST (body, or post=True) an XRPC method; returns (status, JSON body) for any status."""
    assert base.startswith("http://127.0.0.1:"), base
    url = f"{base}/xrpc/{nsid}"
    if params:
        url += "?" + urllib.parse.urlencode(params)
    headers = {"Content-Type": "application/json"} if body is not None else {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, headers=headers, method="POST" if post or body is not None else "GET")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def login(pds: LocalPds, handle: str) -> dict[str, Any]:
    acc = pds.account(handle)
    status, session = xrpc(
        pds.pds_url, "com.atproto.server.createSession", body={"identifier": handle, "password": acc["password"]}
    )
    assert status == 200, session
    return session


def b64url_decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def b64url_encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def jwt_parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    header, payload, _ = token.split(".")
    return json.loads(b64url_decode(header)), json.loads(b64url_decode(payload))


def started_with(pds: LocalPds) -> list[dict[str, str]]:
    """The accounts the PDS was started with (tests sharing it add accounts of their own later)."""
    return pds.accounts[: len(ACCOUNTS)]


def test_accounts_are_created_at_start(local_pds: LocalPds) -> None:
    assert [a["handle"] for a in started_with(local_pds)] == [a["handle"] for a in ACCOUNTS]
    for acc in started_with(local_pds):
        assert acc["did"].startswith("did:plc:")
        assert set(acc) >= {"handle", "did", "password"}
    assert local_pds.pds_url.startswith("http://127.0.0.1:")
    assert local_pds.plc_url.startswith("http://127.0.0.1:")
    assert local_pds.pid is not None and local_pds.running


def test_listens_on_loopback_only(local_pds: LocalPds) -> None:
    ports = {urllib.parse.urlsplit(u).port for u in (local_pds.pds_url, local_pds.plc_url)}
    listening: dict[int, str] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(table):
            continue
        with open(table) as fh:
            for line in fh.readlines()[1:]:
                fields = line.split()
                addr, port_hex = fields[1].rsplit(":", 1)
                if fields[3] == "0A":  # LISTEN
                    listening[int(port_hex, 16)] = addr
    for port in ports:
        assert port is not None
        assert listening.get(port) == "0100007F", f"port {port} listens on {listening.get(port)}"


def test_session_tokens_and_auth_errors(local_pds: LocalPds) -> None:
    alice = local_pds.account("alice.test")
    session = login(local_pds, "alice.test")
    assert session["did"] == alice["did"]
    assert session["handle"] == "alice.test"

    header, access = jwt_parts(session["accessJwt"])
    assert header == {"typ": "at+jwt", "alg": "HS256"}
    assert access["sub"] == alice["did"]
    assert access["scope"] == "com.atproto.access"
    assert access["exp"] - access["iat"] == 2 * 3600  # access tokens live two hours
    refresh_header, refresh = jwt_parts(session["refreshJwt"])
    assert refresh_header["typ"] == "refresh+jwt"
    assert refresh["exp"] - refresh["iat"] == 90 * 86400  # refresh tokens ninety days

    status, err = xrpc(
        local_pds.pds_url, "com.atproto.server.createSession", body={"identifier": "alice.test", "password": "wrong"}
    )
    assert (status, err["error"]) == (401, "AuthenticationRequired")
    assert err["message"] == "Invalid identifier or password"

    write = {"repo": alice["did"], "collection": TRACK, "record": RECORD}
    status, err = xrpc(local_pds.pds_url, "com.atproto.repo.createRecord", body=write)
    assert (status, err["error"]) == (401, "AuthMissing")
    status, err = xrpc(local_pds.pds_url, "com.atproto.repo.createRecord", body=write, token="not-a-jwt")
    assert (status, err["error"]) == (400, "InvalidToken")
    status, err = xrpc(local_pds.pds_url, "com.atproto.repo.createRecord", body=write, token=session["refreshJwt"])
    assert (status, err["error"]) == (400, "InvalidToken")

    # The same access token, validly signed, but expired an hour ago.
    head, _, _ = session["accessJwt"].split(".")
    expired = {**access, "iat": access["iat"] - 3 * 3600, "exp": access["iat"] - 3600}
    body = b64url_encode(json.dumps(expired, separators=(",", ":")).encode())
    sig = b64url_encode(hmac.new(DEV_ENV_JWT_SECRET, f"{head}.{body}".encode(), hashlib.sha256).digest())
    status, err = xrpc(local_pds.pds_url, "com.atproto.repo.createRecord", body=write, token=f"{head}.{body}.{sig}")
    assert (status, err["error"]) == (400, "ExpiredToken")

    # refreshSession trades the refresh token for a new pair.
    status, refreshed = xrpc(
        local_pds.pds_url, "com.atproto.server.refreshSession", token=session["refreshJwt"], post=True
    )
    assert status == 200 and refreshed["did"] == alice["did"]
    status, me = xrpc(local_pds.pds_url, "com.atproto.server.getSession", token=refreshed["accessJwt"])
    assert status == 200 and me["handle"] == "alice.test"

    # One account cannot write into another's repo.
    bob = local_pds.account("bob.test")
    status, err = xrpc(
        local_pds.pds_url,
        "com.atproto.repo.createRecord",
        body={**write, "repo": bob["did"]},
        token=session["accessJwt"],
    )
    assert (status, err["error"]) == (401, "AuthenticationRequired")


def test_records_with_swaps(local_pds: LocalPds) -> None:
    local_pds.create_account("swapper.test", "swapper-pass-1234")
    session = login(local_pds, "swapper.test")
    did, token = session["did"], session["accessJwt"]
    base = local_pds.pds_url

    # createRecord, validate unset: an unknown lexicon is accepted, unvalidated.
    status, created = xrpc(
        base, "com.atproto.repo.createRecord", body={"repo": did, "collection": TRACK, "record": RECORD}, token=token
    )
    assert status == 200, created
    assert created["uri"].startswith(f"at://{did}/{TRACK}/")
    assert created["validationStatus"] == "unknown"
    rkey = created["uri"].rsplit("/", 1)[1]
    status, err = xrpc(
        base,
        "com.atproto.repo.createRecord",
        body={"repo": did, "collection": TRACK, "record": RECORD, "validate": True},
        token=token,
    )
    assert (status, err["error"]) == (400, "InvalidRequest")
    assert "Unknown lexicon type" in err["message"]

    # getRecord without auth.
    where = {"repo": did, "collection": TRACK, "rkey": rkey}
    status, got = xrpc(base, "com.atproto.repo.getRecord", params=where)
    assert status == 200
    assert got == {"uri": created["uri"], "cid": created["cid"], "value": RECORD}
    status, err = xrpc(base, "com.atproto.repo.getRecord", params={**where, "rkey": "no-such-record"})
    assert (status, err["error"]) == (400, "RecordNotFound")

    # putRecord with swapRecord = the CID read: succeeds; again with that (now stale) CID: InvalidSwap.
    updated = {**RECORD, "title": "t2"}
    put = {"repo": did, "collection": TRACK, "rkey": rkey, "record": updated, "swapRecord": got["cid"]}
    status, put_ok = xrpc(base, "com.atproto.repo.putRecord", body=put, token=token)
    assert status == 200, put_ok
    assert put_ok["uri"] == created["uri"] and put_ok["cid"] != created["cid"]
    status, err = xrpc(base, "com.atproto.repo.putRecord", body={**put, "record": RECORD}, token=token)
    assert (status, err["error"]) == (400, "InvalidSwap")
    assert err["message"] == f"Record was at {put_ok['cid']}"
    status, got = xrpc(base, "com.atproto.repo.getRecord", params=where)
    assert got["value"]["title"] == "t2"

    # applyWrites with swapCommit = the repo's head: succeeds; with the old head: InvalidSwap.
    status, head = xrpc(base, "com.atproto.sync.getLatestCommit", params={"did": did})
    assert status == 200 and head["cid"] == put_ok["commit"]["cid"]
    second = {**RECORD, "title": "second"}
    writes = [{"$type": "com.atproto.repo.applyWrites#create", "collection": TRACK, "rkey": "second", "value": second}]
    status, applied = xrpc(
        base,
        "com.atproto.repo.applyWrites",
        body={"repo": did, "swapCommit": head["cid"], "writes": writes},
        token=token,
    )
    assert status == 200, applied
    assert applied["commit"]["cid"] != head["cid"]
    assert applied["results"][0]["uri"] == f"at://{did}/{TRACK}/second"
    status, err = xrpc(
        base,
        "com.atproto.repo.applyWrites",
        body={"repo": did, "swapCommit": head["cid"], "writes": [{**writes[0], "rkey": "third"}]},
        token=token,
    )
    assert (status, err["error"]) == (400, "InvalidSwap")
    assert err["message"] == f"Commit was at {applied['commit']['cid']}"

    # listRecords without auth: both records, newest rkey first.
    status, listed = xrpc(base, "com.atproto.repo.listRecords", params={"repo": did, "collection": TRACK})
    assert status == 200
    by_uri = {r["uri"]: r for r in listed["records"]}
    assert by_uri[created["uri"]]["value"] == updated
    assert by_uri[created["uri"]]["cid"] == put_ok["cid"]
    assert by_uri[f"at://{did}/{TRACK}/second"]["value"] == second
    assert f"at://{did}/{TRACK}/third" not in by_uri


def test_identity_resolution(local_pds: LocalPds) -> None:
    for acc in started_with(local_pds):
        status, resolved = xrpc(
            local_pds.pds_url, "com.atproto.identity.resolveHandle", params={"handle": acc["handle"]}
        )
        assert (status, resolved) == (200, {"did": acc["did"]})
    status, err = xrpc(local_pds.pds_url, "com.atproto.identity.resolveHandle", params={"handle": "nobody.test"})
    assert (status, err["error"]) == (400, "HandleNotFound")

    # The DID document on the local PLC points at the local PDS.
    alice = local_pds.account("alice.test")
    with urllib.request.urlopen(f"{local_pds.plc_url}/{alice['did']}", timeout=10) as resp:
        doc = json.loads(resp.read())
    assert doc["id"] == alice["did"]
    assert doc["alsoKnownAs"] == ["at://alice.test"]
    services = {s["id"]: s for s in doc["service"]}
    pds_service = services["#atproto_pds"]
    assert pds_service["type"] == "AtprotoPersonalDataServer"
    endpoint = urllib.parse.urlsplit(pds_service["serviceEndpoint"])
    # The PDS's dev-mode public URL says localhost; it is the same server as pds_url.
    assert endpoint.scheme == "http" and endpoint.hostname in {"localhost", "127.0.0.1"}
    assert endpoint.port == urllib.parse.urlsplit(local_pds.pds_url).port
    status, described = xrpc(f"http://127.0.0.1:{endpoint.port}", "com.atproto.server.describeServer")
    assert status == 200 and described["did"].startswith("did:")


def test_create_account_after_start(local_pds: LocalPds) -> None:
    acc = local_pds.create_account("carol.test", "carol-pass-1234")
    assert acc["did"].startswith("did:plc:") and acc["handle"] == "carol.test"
    assert login(local_pds, "carol.test")["did"] == acc["did"]


def test_stop_ends_only_its_own_process() -> None:
    pds = LocalPds().start([])
    try:
        assert pds.accounts == [] and pds.pid is not None and pds.running
        status, _ = xrpc(pds.pds_url, "com.atproto.server.describeServer")
        assert status == 200
    finally:
        code = pds.stop()
    assert code == 0  # start.mjs closes the network on SIGTERM and exits cleanly
    assert not pds.running


def test_stop_leaves_nothing_in_the_temp_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # dev-env makes a data and a blob folder of its own in the temp dir even when given others;
    # start.mjs must remove them with its data (dev-env's shared port-lock folder may stay).
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    LocalPds().start([]).stop()
    left = sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("atproto-dev-env-ports-"))
    assert left == []

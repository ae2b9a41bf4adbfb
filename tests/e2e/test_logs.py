"""Operators read the logs: JSON lines with a correlation id, and never a secret in them."""

import json
import time
import uuid

from tests.e2e.conftest import Api


def test_login_and_rename_logs_hold_no_password_token_or_session_id(api: Api) -> None:
    account = api.account("kenji.test")
    reply = api.send(
        "POST",
        "/auth/login",
        {"identifier": "kenji.test", "password": account["password"]},
        headers={"X-Request-Id": "trace-login"},
    )
    session = reply.json()["session_id"]
    album = api.send("POST", "/albums", {"title": f"Logged {uuid.uuid4().hex[:6]}"}, session=session).json()
    renamed = api.send(
        "PATCH", f"/albums/{album['id']}", {"title": f"Logged Again {uuid.uuid4().hex[:6]}"}, session=session
    )
    assert renamed.status == 200
    api.send("POST", "/auth/login", {"identifier": "kenji.test", "password": "wrong-password-xyz"})
    time.sleep(0.2)
    text = api.log.read_text(errors="replace")
    # Each function's output is tagged with its logical id: "[CreateAlbumFunction] {...}".
    tagged = [line[1:].split("] ", 1) for line in text.splitlines() if line.startswith("[") and "] {" in line]
    lines = [json.loads(rest) for _, rest in tagged]
    records = [line for line in lines if "level" in line]  # the rest are EMF metric lines
    assert records, "the functions log JSON records"
    for tag, record in zip((t for t, _ in tagged), lines, strict=True):
        if "function_name" in record:  # written by the function the tag names, in its own process
            assert record["function_name"].endswith("-" + tag), (tag, record["function_name"])
    assert all(line.get("correlation_id") for line in records if "function_request_id" in line)
    assert any(m.get("AlbumRenamed") for m in lines), "domain metrics are emitted"
    for secret in (account["password"], "wrong-password-xyz", session):
        assert secret not in text
    assert "accessJwt" not in text and "refreshJwt" not in text and "eyJ" not in text


def test_the_runtime_keeps_its_servers_logs_beside_its_state_file(api: Api) -> None:
    # Two runtimes started side by side (the test workers, two checkouts) never share a log.
    folder = api.log.parent
    assert (folder / "moto.log").is_file() and (folder / "pds.log").is_file()

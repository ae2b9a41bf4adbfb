"""Developer tokens through their functions (Lambda workers, IAM as the template grants it, moto):
created with a session, listed without the text, revoked by prefix, never a session."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from albums_core.adapters.atproto.xrpc import Tokens
from albums_core.adapters.dynamodb.session_store import create_session
from local_runtime.lambda_host import LambdaHost
from local_runtime.processes import MotoServer
from local_runtime.template import ROOT, Stack

EVENTS = ROOT / "events"


@pytest.fixture(scope="module")
def warm_host(moto: MotoServer, stack: Stack) -> Iterator[LambdaHost]:
    with LambdaHost(stack, moto.url) as lambda_host:
        yield lambda_host


@pytest.fixture
def host(aws_env: None, warm_host: LambdaHost) -> LambdaHost:
    return warm_host


def call(host: LambdaHost, function: str, event_file: str, session: str | None, **changes: Any) -> tuple[int, Any]:
    event = json.loads((EVENTS / f"{event_file}.json").read_text())
    event["headers"].pop("authorization", None)
    if session:
        event["cookies"] = [f"session_id={session}"]
    event.update(changes)
    out = host.invoke(function, event)
    return out["statusCode"], json.loads(out["body"]) if out.get("body") else None


def test_create_list_revoke(host: LambdaHost) -> None:
    alice = create_session("did:plc:alice", "alice.test", "http://127.0.0.1:9", Tokens("a", "r")).session_id
    bob = create_session("did:plc:bob", "bob.test", "http://127.0.0.1:9", Tokens("a", "r")).session_id
    status, made = call(host, "CreateDeveloperTokenFunction", "create_developer_token_401", alice)
    assert status == 201, made
    assert set(made) == {"token", "prefix", "name", "created_at"} and made["name"] == "Symfonium"
    status, listed = call(host, "ListDeveloperTokensFunction", "list_developer_tokens_401", alice)
    assert status == 200 and [t["prefix"] for t in listed["tokens"]] == [made["prefix"]]
    assert made["token"] not in json.dumps(listed)
    assert call(host, "ListDeveloperTokensFunction", "list_developer_tokens_401", bob)[1] == {"tokens": []}
    # the token is no session
    status, _ = call(
        host,
        "ListDeveloperTokensFunction",
        "list_developer_tokens_401",
        None,
        headers={"authorization": f"Bearer {made['token']}"},
    )
    assert status == 401
    path = {"prefix": made["prefix"]}
    status, body = call(host, "RevokeDeveloperTokenFunction", "revoke_developer_token_401", bob, pathParameters=path)
    assert status == 404, body
    status, body = call(host, "RevokeDeveloperTokenFunction", "revoke_developer_token_401", alice, pathParameters=path)
    assert status == 200 and body == {"revoked": True}
    assert call(host, "ListDeveloperTokensFunction", "list_developer_tokens_401", alice)[1] == {"tokens": []}
    status, _ = call(host, "RevokeDeveloperTokenFunction", "revoke_developer_token_401", alice, pathParameters=path)
    assert status == 404


def test_bad_bodies_and_no_session(host: LambdaHost) -> None:
    alice = create_session("did:plc:alice", "alice.test", "http://127.0.0.1:9", Tokens("a", "r")).session_id
    assert call(host, "CreateDeveloperTokenFunction", "create_developer_token_401", None)[0] == 401
    status, body = call(host, "CreateDeveloperTokenFunction", "create_developer_token_401", alice, body='{"name": ""}')
    assert status == 422 and "name" in body["detail"]
    status, body = call(host, "CreateDeveloperTokenFunction", "create_developer_token_401", alice, body='{"name": 5}')
    assert status == 422

"""Sessions of logged-in artists: created at login, tokens sealed with KMS, refreshed PDS
tokens stored back, expiry checked on every read (TTL deletion lags)."""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

from albums_core.adapters.atproto.xrpc import PdsSession, Tokens
from albums_core.adapters.aws_clients import dynamodb
from albums_core.adapters.dynamodb.session_lookup import SESSION_ID_PATTERN, session_key
from albums_core.adapters.kms_sealer import SealError, seal, unseal
from albums_core.config import settings
from albums_core.domain.errors import InvalidSession


@dataclass
class Session:
    session_id: str
    did: str
    handle: str
    pds_url: str
    tokens: Tokens
    expires_at: int

    @property
    def key(self) -> str:
        return session_key(self.session_id)


def _sealed_tokens(tokens: Tokens, key: str) -> dict[str, Any]:
    payload = json.dumps({"access": tokens.access_jwt, "refresh": tokens.refresh_jwt}).encode()
    return {name: {"B": value} for name, value in seal(payload, key).items()}


def create_session(did: str, handle: str, pds_url: str, tokens: Tokens) -> Session:
    session = Session(
        secrets.token_urlsafe(32), did, handle, pds_url, tokens, int(time.time()) + settings().session_ttl_seconds
    )
    dynamodb().put_item(
        TableName=settings().sessions_table,
        Item={
            "session_key": {"S": session.key},
            "did": {"S": did},
            "handle": {"S": handle},
            "pds_url": {"S": pds_url},
            "created_at": {"N": str(int(time.time()))},
            "expires_at": {"N": str(session.expires_at)},
            **_sealed_tokens(tokens, session.key),
        },
        ConditionExpression="attribute_not_exists(session_key)",
    )
    return session


def load_session(session_id: str) -> Session:
    """The live session, or InvalidSession (unknown, expired, or its tokens do not open)."""
    if not SESSION_ID_PATTERN.match(session_id):
        raise InvalidSession()
    key = session_key(session_id)
    item = (
        dynamodb()
        .get_item(TableName=settings().sessions_table, Key={"session_key": {"S": key}}, ConsistentRead=True)
        .get("Item")
    )
    if not item:
        raise InvalidSession()
    try:
        expires_at = int(item["expires_at"]["N"])
        if expires_at <= time.time():
            raise InvalidSession()
        opened = json.loads(unseal({k: v["B"] for k, v in item.items() if k.startswith("sealed_")}, key))
        tokens = Tokens(str(opened["access"]), str(opened["refresh"]))
        return Session(session_id, item["did"]["S"], item["handle"]["S"], item["pds_url"]["S"], tokens, expires_at)
    except (KeyError, ValueError, TypeError, SealError) as exc:
        raise InvalidSession() from exc


def store_tokens(session: Session, tokens: Tokens) -> None:
    session.tokens = tokens
    sealed = _sealed_tokens(tokens, session.key)
    dynamodb().update_item(
        TableName=settings().sessions_table,
        Key={"session_key": {"S": session.key}},
        UpdateExpression="SET sealed_key = :k, sealed_nonce = :n, sealed_data = :d",
        ConditionExpression="attribute_exists(session_key)",
        ExpressionAttributeValues={
            ":k": sealed["sealed_key"],
            ":n": sealed["sealed_nonce"],
            ":d": sealed["sealed_data"],
        },
    )


def delete_session(session_id: str) -> None:
    dynamodb().delete_item(TableName=settings().sessions_table, Key={"session_key": {"S": session_key(session_id)}})


def pds_session(session: Session) -> PdsSession:
    """Authenticated PDS calls as this session; refreshed tokens are sealed and stored back."""
    return PdsSession(session.pds_url, session.did, session.tokens, on_refresh=lambda t: store_tokens(session, t))


class DynamoSessionStore:
    """The functions above as the `SessionStore` port (albums_core.ports) a service takes."""

    def create(self, did: str, handle: str, pds_url: str, tokens: Tokens) -> Session:
        return create_session(did, handle, pds_url, tokens)

    def load(self, session_id: str) -> Session:
        return load_session(session_id)

    def store_tokens(self, session: Session, tokens: Tokens) -> None:
        store_tokens(session, tokens)

    def delete(self, session_id: str) -> None:
        delete_session(session_id)

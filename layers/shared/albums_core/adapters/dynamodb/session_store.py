"""Sessions of logged-in artists: created at login, tokens sealed with KMS, refreshed PDS
tokens stored back, expiry checked on every read (TTL deletion lags).

Two kinds, one interface: an app-password session holds the PDS's own tokens; an OAuth session
(`kind` = oauth) holds a grant (DPoP-bound tokens, the DPoP key, the scope; the DPoP nonces,
public values, beside the sealed part). An OAuth refresh token rotates and a spent one revokes
the whole grant, so refreshes of one session are serialised across functions by a lease on its
item (a conditional write); a request that finds the lease taken waits for the new tokens."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Mapping, Sequence
from typing import Any

from albums_core.adapters.atproto.dpop_session import DpopPdsSession
from albums_core.adapters.atproto.xrpc import PdsSession, PdsUnavailable, SessionRevoked
from albums_core.adapters.aws_clients import dynamodb
from albums_core.adapters.dynamodb.session_lookup import SESSION_ID_PATTERN, credentials_from, session_key
from albums_core.adapters.kms_sealer import SealError, seal, unseal
from albums_core.config import settings
from albums_core.domain.errors import InvalidSession
from albums_core.domain.sessions import Grant, Session, Tokens

OAUTH = "oauth"
# Longer than a refresh takes (tens of milliseconds), shorter than a request may wait for one.
LEASE_SECONDS = 10
LEASE_WAIT_SECONDS = 12


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
    return _load(session_key(session_id), session_id)


def load_session_by_key(key: str) -> Session:
    """A session by its stored key (what a cleanup job refers to), or InvalidSession."""
    return _load(key, "")


def _read(key: str) -> dict[str, Any]:
    item = (
        dynamodb()
        .get_item(TableName=settings().sessions_table, Key={"session_key": {"S": key}}, ConsistentRead=True)
        .get("Item")
    )
    if not item:
        raise InvalidSession()
    return dict(item)


def _load(key: str, session_id: str) -> Session:
    item = _read(key)
    try:
        expires_at = int(item["expires_at"]["N"])
        if expires_at <= time.time():
            raise InvalidSession()
        kind = item.get("kind", {}).get("S")
        if kind not in (None, OAUTH):
            raise InvalidSession()  # an OAuth state or exchange item is no session
        opened = unseal({k: v["B"] for k, v in item.items() if k.startswith("sealed_")}, key)
        session = Session(
            session_id,
            item["did"]["S"],
            item["handle"]["S"],
            item["pds_url"]["S"],
            Tokens("", ""),
            expires_at,
            stored_key="" if session_id else key,
        )
        if kind == OAUTH:
            session.grant = _grant_of(opened, item)
            session.grant_version = int(item.get("grant_version", {}).get("N", "0"))
            session.tokens = Tokens(session.grant.access_token, session.grant.refresh_token)
        else:
            tokens = json.loads(opened)
            session.tokens = Tokens(str(tokens["access"]), str(tokens["refresh"]))
        return session
    except (KeyError, ValueError, TypeError, SealError) as exc:
        raise InvalidSession() from exc


def _grant_of(opened: bytes, item: dict[str, Any]) -> Grant:
    grant = Grant.from_json(opened)
    grant.as_nonce = item.get("dpop_as_nonce", {}).get("S", grant.as_nonce)
    grant.pds_nonce = item.get("dpop_pds_nonce", {}).get("S", grant.pds_nonce)
    return grant


def create_oauth_session(did: str, handle: str, pds_url: str, grant: Grant) -> Session:
    session = Session(
        secrets.token_urlsafe(32),
        did,
        handle,
        pds_url,
        Tokens(grant.access_token, grant.refresh_token),
        int(time.time()) + settings().session_ttl_seconds,
        grant=grant,
    )
    sealed = seal(grant.to_json().encode("utf-8"), session.key)
    dynamodb().put_item(
        TableName=settings().sessions_table,
        Item={
            "session_key": {"S": session.key},
            "kind": {"S": OAUTH},
            "did": {"S": did},
            "handle": {"S": handle},
            "pds_url": {"S": pds_url},
            "created_at": {"N": str(int(time.time()))},
            "expires_at": {"N": str(session.expires_at)},
            "grant_version": {"N": "0"},
            "dpop_as_nonce": {"S": grant.as_nonce},
            **({"dpop_pds_nonce": {"S": grant.pds_nonce}} if grant.pds_nonce else {}),
            **{name: {"B": value} for name, value in sealed.items()},
        },
        ConditionExpression="attribute_not_exists(session_key)",
    )
    return session


def store_grant(session: Session, grant: Grant, bump: bool = True, lease_owner: str | None = None) -> None:
    """The grant sealed back (its version bumped after a refresh); the lease, if held, released."""
    sealed = seal(grant.to_json().encode("utf-8"), session.key)
    version = session.grant_version + (1 if bump else 0)
    values: dict[str, Any] = {
        ":k": {"B": sealed["sealed_key"]},
        ":n": {"B": sealed["sealed_nonce"]},
        ":d": {"B": sealed["sealed_data"]},
        ":v": {"N": str(version)},
        ":a": {"S": grant.as_nonce},
    }
    expression = "SET sealed_key = :k, sealed_nonce = :n, sealed_data = :d, grant_version = :v, dpop_as_nonce = :a"
    condition = "attribute_exists(session_key)"
    if lease_owner:
        expression += " REMOVE lease_owner, lease_until"
        condition += " AND lease_owner = :me"
        values[":me"] = {"S": lease_owner}
    try:
        dynamodb().update_item(
            TableName=settings().sessions_table,
            Key={"session_key": {"S": session.key}},
            UpdateExpression=expression,
            ConditionExpression=condition,
            ExpressionAttributeValues=values,
        )
    except dynamodb().exceptions.ConditionalCheckFailedException:
        if not lease_owner:
            raise InvalidSession() from None
        # the lease ran out under us: the tokens are spent all the same, so keep the new ones
        store_grant(session, grant, bump=bump)
        return
    session.grant = grant
    session.grant_version = version
    session.tokens = Tokens(grant.access_token, grant.refresh_token)


def store_pds_nonce(session: Session, nonce: str) -> None:
    try:
        dynamodb().update_item(
            TableName=settings().sessions_table,
            Key={"session_key": {"S": session.key}},
            UpdateExpression="SET dpop_pds_nonce = :n",
            ConditionExpression="attribute_exists(session_key)",
            ExpressionAttributeValues={":n": {"S": nonce}},
        )
    except dynamodb().exceptions.ConditionalCheckFailedException:
        pass  # the session is gone: the request that follows will say so


def _take_lease(key: str, owner: str) -> bool:
    now = time.time()
    try:
        dynamodb().update_item(
            TableName=settings().sessions_table,
            Key={"session_key": {"S": key}},
            UpdateExpression="SET lease_owner = :me, lease_until = :until",
            ConditionExpression="attribute_exists(session_key) AND "
            "(attribute_not_exists(lease_until) OR lease_until < :now)",
            ExpressionAttributeValues={
                ":me": {"S": owner},
                ":until": {"N": str(now + LEASE_SECONDS)},
                ":now": {"N": str(now)},
            },
        )
    except dynamodb().exceptions.ConditionalCheckFailedException:
        return False
    return True


def _release_lease(key: str, owner: str) -> None:
    try:
        dynamodb().update_item(
            TableName=settings().sessions_table,
            Key={"session_key": {"S": key}},
            UpdateExpression="REMOVE lease_owner, lease_until",
            ConditionExpression="lease_owner = :me",
            ExpressionAttributeValues={":me": {"S": owner}},
        )
    except dynamodb().exceptions.ConditionalCheckFailedException:
        pass  # released with the new tokens, or taken over after it ran out


def _adopt(session: Session, item: dict[str, Any]) -> bool:
    """Take the stored grant when another request refreshed it since this one read it."""
    version = int(item.get("grant_version", {}).get("N", "0"))
    if version == session.grant_version:
        return False
    opened = unseal({k: v["B"] for k, v in item.items() if k.startswith("sealed_")}, session.key)
    grant = _grant_of(opened, item)
    session.grant, session.grant_version = grant, version
    session.tokens = Tokens(grant.access_token, grant.refresh_token)
    return True


def refresh_oauth(session: Session) -> Grant:
    """New tokens for an OAuth session, one refresh at a time across every function: the
    lease holder refreshes (unless the stored grant is already newer than ours), the others
    wait for its tokens. SessionRevoked when the grant is gone, PdsUnavailable when the
    authorization server fails or the lease is held too long."""
    from albums_core.adapters.atproto import oauth_client

    assert session.grant is not None
    owner = secrets.token_hex(8)
    deadline = time.monotonic() + LEASE_WAIT_SECONDS
    while True:
        if _take_lease(session.key, owner):
            try:
                try:
                    current = _read(session.key)
                except InvalidSession as exc:
                    raise SessionRevoked("the session ended") from exc
                if _adopt(session, current):
                    return session.grant
                try:
                    grant = oauth_client.refresh(session.did, session.pds_url, session.grant)
                except oauth_client.GrantRevoked as exc:
                    raise SessionRevoked(str(exc)) from exc
                except oauth_client.AuthServerUnavailable as exc:
                    raise PdsUnavailable(str(exc)) from exc
                store_grant(session, grant, lease_owner=owner)
                return grant
            finally:
                _release_lease(session.key, owner)
        try:
            item = _read(session.key)
        except InvalidSession as exc:
            raise SessionRevoked("the session ended") from exc
        if _adopt(session, item):
            return session.grant
        if time.monotonic() > deadline:
            raise PdsUnavailable("another request's token refresh did not finish")
        time.sleep(0.05)


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


def delete_session_by_key(key: str) -> None:
    dynamodb().delete_item(TableName=settings().sessions_table, Key={"session_key": {"S": key}})


def pds_session(session: Session) -> PdsSession:
    """Authenticated PDS calls as this session; refreshed tokens are sealed and stored back."""
    if session.grant is not None:

        def refresher(_: Grant) -> Grant:
            return refresh_oauth(session)

        return DpopPdsSession(
            session.pds_url,
            session.did,
            session.grant,
            refresher,
            on_nonce=lambda nonce: store_pds_nonce(session, nonce),
            session_key=session.key,
        )
    return PdsSession(session.pds_url, session.did, session.tokens, on_refresh=lambda t: store_tokens(session, t))


class DynamoSessionStore:
    """The functions above as the `SessionStore` port (albums_core.ports) a service takes."""

    def credentials(self, headers: Mapping[str, str] | None, cookies: Sequence[str] | None) -> str | None:
        return credentials_from(headers, cookies)

    def create_oauth(self, did: str, handle: str, pds_url: str, grant: Grant) -> Session:
        return create_oauth_session(did, handle, pds_url, grant)

    def load_by_key(self, key: str) -> Session:
        return load_session_by_key(key)

    def create(self, did: str, handle: str, pds_url: str, tokens: Tokens) -> Session:
        return create_session(did, handle, pds_url, tokens)

    def load(self, session_id: str) -> Session:
        return load_session(session_id)

    def store_tokens(self, session: Session, tokens: Tokens) -> None:
        store_tokens(session, tokens)

    def delete(self, session_id: str) -> None:
        delete_session(session_id)

"""What the OAuth flow keeps between requests, in the sessions table beside the sessions:
the authorization state (PKCE verifier, DPoP key, 10 minutes) and the one-time exchange
tokens (60 s). Both are sealed with KMS like sessions, keyed by a hash of their secret under
a prefix no session key has (session keys are bare SHA-256 hex), and consumed by a delete
that returns the item: a state or token works once, even for two requests at the same time."""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from atproto_oauth.stores.base import StateStore as LibraryStateStore

from albums_core.adapters.atproto.oauth_grant import load_pem, pem
from albums_core.adapters.aws_clients import dynamodb
from albums_core.adapters.dynamodb import keys
from albums_core.adapters.kms_sealer import SealError, seal, unseal
from albums_core.config import settings
from albums_core.domain.sessions import STATE_TTL_SECONDS

if TYPE_CHECKING:
    from atproto_oauth import OAuthState

EXCHANGE_TTL_SECONDS = 60


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def _put(key: str, kind: str, payload: bytes, ttl: int) -> None:
    sealed = seal(payload, key)
    dynamodb().put_item(
        TableName=settings().sessions_table,
        Item={
            "session_key": {"S": key},
            "kind": {"S": kind},
            "expires_at": {"N": str(int(time.time()) + ttl)},
            **{name: {"B": value} for name, value in sealed.items()},
        },
        ConditionExpression="attribute_not_exists(session_key)",
    )


def _take(key: str) -> tuple[str, bytes | None]:
    """("missing" | "expired" | "ok", the opened payload when ok): the item is gone after."""
    old = (
        dynamodb()
        .delete_item(TableName=settings().sessions_table, Key={"session_key": {"S": key}}, ReturnValues="ALL_OLD")
        .get("Attributes")
    )
    if not old:
        return "missing", None
    try:
        if int(old["expires_at"]["N"]) <= time.time():
            return "expired", None
        return "ok", unseal({k: v["B"] for k, v in old.items() if k.startswith("sealed_")}, key)
    except (KeyError, ValueError, SealError):
        return "missing", None


class StateStore(LibraryStateStore):
    """The library's state store. Reading a state consumes it; `outcome` tells the last read
    apart (missing: never issued or already used; expired)."""

    outcome = "missing"

    async def save_state(self, state: OAuthState) -> None:
        payload = {
            "pkce_verifier": state.pkce_verifier,
            "redirect_uri": state.redirect_uri,
            "scope": state.scope,
            "authserver_iss": state.authserver_iss,
            "dpop_key": pem(state.dpop_private_key),
            "dpop_authserver_nonce": state.dpop_authserver_nonce,
            "did": state.did,
            "handle": state.handle,
            "pds_url": state.pds_url,
            "created_at": state.created_at.timestamp(),
        }
        _put(keys.oauth_state(_hash(state.state)), "oauth_state", json.dumps(payload).encode(), STATE_TTL_SECONDS)

    async def get_state(self, state_key: str) -> OAuthState | None:
        from atproto_oauth import OAuthState

        if not state_key or len(state_key) > 512:
            self.outcome = "missing"
            return None
        self.outcome, raw = _take(keys.oauth_state(_hash(state_key)))
        if raw is None:
            return None
        data: dict[str, Any] = json.loads(raw)
        return OAuthState(
            state=state_key,
            pkce_verifier=data["pkce_verifier"],
            redirect_uri=data["redirect_uri"],
            scope=data["scope"],
            authserver_iss=data["authserver_iss"],
            dpop_private_key=load_pem(data["dpop_key"]),
            dpop_authserver_nonce=data["dpop_authserver_nonce"],
            did=data.get("did"),
            handle=data.get("handle"),
            pds_url=data.get("pds_url"),
            created_at=datetime.fromtimestamp(data["created_at"], UTC),
        )

    async def delete_state(self, state_key: str) -> None:
        return None  # consumed when read


def discard_state(state: str) -> None:
    """A callback that carries an error still uses up its state."""
    if state and len(state) <= 512:
        _take(keys.oauth_state(_hash(state)))


def issue_exchange_token(session_id: str) -> str:
    token = secrets.token_urlsafe(32)
    _put(keys.exchange_token(_hash(token)), "exchange", session_id.encode("utf-8"), EXCHANGE_TTL_SECONDS)
    return token


def redeem_exchange_token(token: str) -> str | None:
    """The session id the token was issued for, once; None when unknown, used or expired."""
    if not token or len(token) > 512:
        return None
    outcome, raw = _take(keys.exchange_token(_hash(token)))
    return raw.decode("utf-8") if outcome == "ok" and raw is not None else None

"""Sessions and the sealer in memory. The sealer binds a payload to its context like the KMS
one (a payload moved to another session does not open); it is not encryption."""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from botocore.exceptions import ClientError

from albums_core.adapters.dynamodb.session_lookup import SESSION_ID_PATTERN, credentials_from
from albums_core.domain.errors import InvalidSession
from albums_core.domain.sessions import Grant, Session, Tokens
from albums_core.domain.upstream import SealError


class FakeSealer:
    def __init__(self) -> None:
        self.available = True

    def _tag(self, data: bytes, context: str) -> bytes:
        return hashlib.sha256(context.encode() + b"\x00" + data).digest()

    def seal(self, plaintext: bytes, context: str) -> dict[str, bytes]:
        if not self.available:
            raise SealError("key unavailable")
        return {"sealed_key": b"fake", "sealed_nonce": self._tag(plaintext, context), "sealed_data": plaintext}

    def unseal(self, item: dict[str, Any], context: str) -> bytes:
        try:
            data, tag = bytes(item["sealed_data"]), bytes(item["sealed_nonce"])
        except (KeyError, TypeError) as exc:
            raise SealError(type(exc).__name__) from exc
        if not self.available or tag != self._tag(data, context):
            raise SealError("InvalidTag")
        return data


class FakeSessionStore:
    def __init__(self, ttl_seconds: int = 3600, clock: Callable[[], float] = time.time) -> None:
        self.ttl = ttl_seconds
        self.clock = clock
        self.sessions: dict[str, Session] = {}

    def credentials(self, headers: Mapping[str, str] | None, cookies: Sequence[str] | None) -> str | None:
        return credentials_from(headers, cookies)

    def create(self, did: str, handle: str, pds_url: str, tokens: Tokens) -> Session:
        session = Session(secrets.token_urlsafe(32), did, handle, pds_url, tokens, int(self.clock()) + self.ttl)
        self.sessions[session.session_id] = session
        return replace(session)

    def create_oauth(self, did: str, handle: str, pds_url: str, grant: Grant) -> Session:
        tokens = Tokens(grant.access_token, grant.refresh_token)
        session = Session(
            secrets.token_urlsafe(32), did, handle, pds_url, tokens, int(self.clock()) + self.ttl, grant=grant
        )
        self.sessions[session.session_id] = session
        return replace(session)

    def load_by_key(self, key: str) -> Session:
        for session in self.sessions.values():
            if session.key == key and session.expires_at > self.clock():
                return replace(session, stored_key=key)
        raise InvalidSession()

    def load(self, session_id: str) -> Session:
        session = self.sessions.get(session_id) if SESSION_ID_PATTERN.match(session_id) else None
        if session is None or session.expires_at <= self.clock():
            raise InvalidSession()
        return replace(session)

    def store_tokens(self, session: Session, tokens: Tokens) -> None:
        session.tokens = tokens
        if session.session_id not in self.sessions:
            # The adapter's update is conditional on the item: a session deleted meanwhile (a
            # logout during a refresh) is not brought back.
            error = {"Error": {"Code": "ConditionalCheckFailedException", "Message": "The conditional request failed"}}
            raise ClientError(error, "UpdateItem")
        self.sessions[session.session_id] = replace(self.sessions[session.session_id], tokens=tokens)

    def delete(self, session_id: str) -> None:
        self.sessions.pop(session_id, None)

"""An OAuth sign-in in memory: the client (`albums_core.ports.OAuthClient`, as
adapters/atproto/oauth_client.py) and the sign-in's state and exchange tokens
(`SignInTokens`, as adapters/dynamodb/oauth_store.py), sharing one store of states. States
and exchange tokens expire on an injected clock and are used once."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from albums_core.domain.sessions import STATE_TTL_SECONDS, Grant
from albums_core.domain.upstream import Identity, NoAuthServer, OAuthFailure, UnknownIdentity

EXCHANGE_TTL_SECONDS = 60  # the store's
ISSUER = "https://auth.example"
SCOPE = "atproto transition:generic"


@dataclass(frozen=True)
class FinishedSignIn:
    did: str
    grant: Grant


@dataclass
class _State:
    did: str | None  # None: the account is chosen at the PDS's authorization server
    issuer: str
    expires_at: float


@dataclass
class OAuthWorld:
    """What the authorization server knows: accounts (DID -> PDS), the flows started, and the
    account a flow at a PDS signs in as."""

    clock: Callable[[], float] = time.time
    states: dict[str, _State] = field(default_factory=dict)
    chosen_did: str | None = None


class FakeOAuthClient:
    """`granted_scope`: what the authorization server grants (the adapter refuses less than it
    asked as scope_mismatch); `no_server`: PDS URLs that offer no usable authorization server."""

    def __init__(self, world: OAuthWorld) -> None:
        self.world = world
        self.granted_scope = SCOPE
        self.no_server: set[str] = set()
        self.begun: list[str] = []

    def _start(self, did: str | None) -> tuple[str, str]:
        state = secrets.token_urlsafe(16)
        self.world.states[state] = _State(did, ISSUER, self.world.clock() + STATE_TTL_SECONDS)
        return f"{ISSUER}/oauth/authorize?request_uri=urn:fake:{state}", state

    def begin(self, did: str, request_base: str = "") -> tuple[str, str]:
        self.begun.append(did)
        return self._start(did)

    def begin_at_pds(self, pds_url: str, request_base: str = "") -> tuple[str, str]:
        self.begun.append(pds_url)
        if pds_url in self.no_server:
            raise NoAuthServer(f"{pds_url} names no authorization server")
        return self._start(None)

    def finish(self, code: str, state: str, iss: str, request_base: str = "") -> FinishedSignIn:
        saved = self.world.states.pop(state, None)  # one use
        if saved is None or saved.expires_at <= self.world.clock():
            raise OAuthFailure("expired", "invalid or expired state")
        if saved.issuer != iss:
            raise OAuthFailure("failed", f"issuer mismatch: expected {saved.issuer}")
        if not set(SCOPE.split()) <= set(self.granted_scope.split()):
            raise OAuthFailure("scope_mismatch", f"Scope mismatch: expected {SCOPE}, got {self.granted_scope}")
        did = saved.did or self.world.chosen_did
        if did is None:
            raise OAuthFailure("failed", "no account was chosen")
        grant = Grant("client", ISSUER, f"access-{code}", f"refresh-{code}", "pem", self.granted_scope, None)
        return FinishedSignIn(did, grant)

    def client_metadata(self, request_base: str = "") -> dict[str, Any]:
        return {"client_id": f"{request_base}/oauth/client-metadata.json", "scope": SCOPE}

    def jwks(self) -> dict[str, Any]:
        return {"keys": []}


class FakeSignInTokens:
    def __init__(self, world: OAuthWorld) -> None:
        self.world = world
        self.exchange: dict[str, tuple[str, float]] = {}

    def discard_state(self, state: str) -> None:
        if state and len(state) <= 512:
            self.world.states.pop(state, None)

    def issue_exchange_token(self, session_id: str) -> str:
        token = secrets.token_urlsafe(32)
        self.exchange[token] = (session_id, self.world.clock() + EXCHANGE_TTL_SECONDS)
        return token

    def redeem_exchange_token(self, token: str) -> str | None:
        if not token or len(token) > 512:
            return None
        found = self.exchange.pop(token, None)  # one use
        if found is None or found[1] <= self.world.clock():
            return None
        return found[0]


class FakeIdentityResolver:
    """Handles and DIDs to identities; `fresh` asks again (counted)."""

    def __init__(self) -> None:
        self.identities: dict[str, Identity] = {}
        self.fresh_asks = 0

    def add(self, did: str, handle: str, pds_url: str = "https://pds.example") -> Identity:
        who = Identity(did, handle, pds_url)
        self.identities[did] = self.identities[handle] = who
        return who

    def resolve(self, identifier: str, *, fresh: bool = False) -> Identity:
        self.fresh_asks += fresh
        who = self.identities.get(identifier)
        if who is None:
            raise UnknownIdentity(identifier)
        return who

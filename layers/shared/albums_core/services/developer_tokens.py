"""Developer tokens: credentials of the Subsonic API only (never a cookie session), made by a
signed-in account, listed without their text, revoked by prefix. The Subsonic md5 scheme needs a
token's text on the server, so the texts are stored sealed (KMS), all of an account's in one
payload; a token's SHA-256 finds its account for the password and apiKey schemes."""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from albums_core.domain.errors import ConcurrentUpdate, NotFound, Unprocessable
from albums_core.domain.models import TokenAccount
from albums_core.domain.text_rules import clean_title
from albums_core.ports import DeveloperTokenStore, Sealer

MAX_TOKENS = 20
MAX_NAME = 100
_ATTEMPTS = 3


class TooManyTokens(Unprocessable):
    detail = f"at most {MAX_TOKENS} developer tokens per account: revoke one first"


class TokenNotFound(NotFound):
    detail = "developer token not found"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _iso(epoch: int | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def open_tokens(account: TokenAccount, store: DeveloperTokenStore, sealer: Sealer) -> dict[str, str]:
    """The account's live tokens by prefix (a revoked one is in no list and does not count)."""
    if not account.sealed:
        return {}
    opened = json.loads(sealer.unseal(account.sealed, store.context(account.did)))
    live = {str(t["prefix"]) for t in account.tokens}
    return {str(k): str(v) for k, v in opened.items() if k in live}


class DeveloperTokens:
    def __init__(
        self,
        store: DeveloperTokenStore,
        sealer: Sealer,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.sealer = sealer
        self.clock = clock

    def _changed(self, account: TokenAccount, texts: dict[str, str]) -> None:
        account.sealed = (
            self.sealer.seal(json.dumps(texts).encode("utf-8"), self.store.context(account.did)) if texts else None
        )

    def create(self, did: str, handle: str, name: str) -> dict[str, Any]:
        # Listed back to the owner's apps: the title rules (no control, format or bidi characters).
        name = clean_title(name, "body field 'name'")
        if len(name) > MAX_NAME:
            raise Unprocessable(f"body field 'name': must be 1 to {MAX_NAME} characters")
        for attempt in range(_ATTEMPTS):
            account = self.store.load(did, consistent=True) or TokenAccount(did)
            if len(account.tokens) >= MAX_TOKENS:
                raise TooManyTokens()
            texts = open_tokens(account, self.store, self.sealer)
            prefix = secrets.token_hex(4)
            if prefix in texts:
                continue
            token = f"plyr_{prefix}_{secrets.token_urlsafe(32)}"
            now = int(self.clock())
            digest = token_hash(token)
            account.tokens.append({"prefix": prefix, "name": name, "created_at": now, "hash": digest})
            texts[prefix] = token
            self._changed(account, texts)
            try:
                self.store.save(account, handle=handle, added=(digest, prefix))
            except ConcurrentUpdate:
                if attempt == _ATTEMPTS - 1:
                    raise
                continue
            return {"token": token, "prefix": prefix, "name": name, "created_at": _iso(now)}
        raise ConcurrentUpdate("the developer tokens changed meanwhile; try again")

    def list(self, did: str) -> list[dict[str, Any]]:
        account = self.store.load(did, consistent=True)
        if account is None:
            return []
        return [
            {
                "prefix": t["prefix"],
                "name": t["name"],
                "created_at": _iso(int(t["created_at"])),
                "last_used_at": _iso(account.last_used.get(str(t["prefix"]))),
            }
            for t in account.tokens
        ]

    def revoke(self, did: str, prefix: str) -> None:
        for attempt in range(_ATTEMPTS):
            account = self.store.load(did, consistent=True)
            entry = next((t for t in account.tokens if t["prefix"] == prefix), None) if account else None
            if account is None or entry is None:
                raise TokenNotFound()
            texts = open_tokens(account, self.store, self.sealer)
            texts.pop(prefix, None)
            account.tokens = [t for t in account.tokens if t["prefix"] != prefix]
            account.last_used.pop(prefix, None)
            self._changed(account, texts)
            try:
                self.store.save(account, removed=str(entry["hash"]))
                return
            except ConcurrentUpdate:
                if attempt == _ATTEMPTS - 1:
                    raise

"""Who calls the Subsonic API: a developer token shown as Subsonic's md5 token (`t` = md5(token
+ `s`)), as a password (`p`, plain or `enc:` hex) or as OpenSubsonic's `apiKey`; `u` is the
handle or the DID. What a container learnt (a token's account, a handle's account, an account's
opened tokens) is kept for at most a minute, so a revoked token stops working within 60 s and a
warm container checks a token with no call at all."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from albums_core.domain import subsonic
from albums_core.domain.subsonic import SubsonicError
from albums_core.domain.upstream import SealError
from albums_core.ports import DeveloperTokenStore, Sealer
from albums_core.services.developer_tokens import open_tokens, token_hash

KEEP_SECONDS = 60
TOUCH_EVERY_SECONDS = 3600


@dataclass(frozen=True)
class SubsonicUser:
    did: str
    prefix: str


def _one(params: Mapping[str, list[str]], name: str) -> str | None:
    values = params.get(name)
    return values[0] if values else None


def _password(p: str) -> str:
    if not p.startswith("enc:"):
        return p
    try:
        return bytes.fromhex(p[4:]).decode("utf-8")
    except ValueError as exc:
        raise SubsonicError(subsonic.WRONG_CREDENTIALS, "Wrong username or password") from exc


class SubsonicAuth:
    def __init__(
        self,
        store: DeveloperTokenStore,
        sealer: Sealer,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.store, self.sealer, self.clock, self.wall = store, sealer, clock, wall
        self._owners: dict[str, tuple[float, tuple[str, str]]] = {}
        self._handles: dict[str, tuple[float, str]] = {}
        self._opened: dict[str, tuple[float, int, dict[str, str]]] = {}
        self._touched: dict[tuple[str, str], float] = {}

    def _fresh(self, cache: dict[Any, Any], key: Any) -> Any:
        hit = cache.get(key)
        if hit is None or self.clock() - hit[0] >= KEEP_SECONDS:
            cache.pop(key, None)
            return None
        return hit[1]

    def _owner(self, token: str) -> tuple[str, str] | None:
        digest = token_hash(token)
        owner = self._fresh(self._owners, digest)
        if owner is None:
            owner = self.store.owner_of(digest)
            if owner is not None:
                self._owners[digest] = (self.clock(), owner)
        return owner

    def _did_of(self, user: str) -> str | None:
        if user.startswith("did:"):
            return user
        handle = user.strip().lower()
        did = self._fresh(self._handles, handle)
        if did is None:
            did = self.store.did_of_handle(handle)
            if did is not None:
                self._handles[handle] = (self.clock(), did)
        return did

    def _tokens_of(self, did: str, recheck: bool = False) -> dict[str, str] | None:
        """The account's tokens by prefix, as opened within the last minute; with `recheck`, read
        again (a token made a moment ago), unsealed only when the account changed: None then."""
        hit = self._opened.get(did)
        if hit is not None and self.clock() - hit[0] < KEEP_SECONDS and not recheck:
            return dict(hit[2])
        account = self.store.load(did, consistent=recheck)
        if recheck and hit is not None and account is not None and account.version == hit[1]:
            return None
        try:
            texts = open_tokens(account, self.store, self.sealer) if account else {}
        except (SealError, ValueError, TypeError) as exc:  # a payload that does not open is no credential
            raise SubsonicError(subsonic.WRONG_CREDENTIALS, "Wrong username or password") from exc
        self._opened[did] = (self.clock(), account.version if account else 0, texts)
        return texts

    def _md5_match(self, did: str, t: str, s: str) -> str | None:
        for recheck in (False, True):
            hit = self._opened.get(did)
            fresh = hit is None or self.clock() - hit[0] >= KEEP_SECONDS
            texts = self._tokens_of(did, recheck)
            for prefix, token in (texts or {}).items():
                expected = hashlib.md5((token + s).encode("utf-8"), usedforsecurity=False).hexdigest()
                if hmac.compare_digest(expected, t.lower()):
                    return prefix
            if fresh:
                return None  # just read: nothing newer to find
        return None

    def _touch(self, user: SubsonicUser) -> None:
        key = (user.did, user.prefix)
        last = self._touched.get(key)
        if last is not None and self.clock() - last < TOUCH_EVERY_SECONDS:
            return
        self._touched[key] = self.clock()
        self.store.touch(user.did, user.prefix, int(self.wall()))

    def authenticate(self, params: Mapping[str, list[str]]) -> SubsonicUser:
        api_key, user = _one(params, "apiKey"), _one(params, "u")
        p, t, s = _one(params, "p"), _one(params, "t"), _one(params, "s")
        if api_key is not None:
            # OpenSubsonic's apiKey extension: apiKey with any of u, p, t or s is error 43.
            if any(v is not None for v in (user, p, t, s)):
                raise SubsonicError(
                    subsonic.CONFLICTING_MECHANISMS, "Multiple conflicting authentication mechanisms provided"
                )
            owner = self._owner(api_key) if api_key else None
            if owner is None:
                raise SubsonicError(subsonic.INVALID_API_KEY, "Invalid API key")
            found = SubsonicUser(*owner)
        else:
            if not user:
                raise subsonic.missing("u")
            did = self._did_of(user)
            prefix: str | None = None
            if p is not None:
                owner = self._owner(_password(p))
                prefix = owner[1] if owner is not None and owner[0] == did else None
            elif t is not None and s is not None:
                prefix = self._md5_match(did, t, s) if did else None
            else:
                raise subsonic.missing("p or t and s")
            if did is None or prefix is None:
                raise SubsonicError(subsonic.WRONG_CREDENTIALS, "Wrong username or password")
            found = SubsonicUser(did, prefix)
        self._touch(found)
        return found

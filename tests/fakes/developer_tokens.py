"""Developer tokens in memory, with the DynamoDB adapter's optimistic versioning."""

from __future__ import annotations

import copy

from albums_core.domain.errors import ConcurrentUpdate
from albums_core.domain.models import TokenAccount


class FakeDeveloperTokens:
    def __init__(self) -> None:
        self.accounts: dict[str, TokenAccount] = {}
        self.lookups: dict[str, tuple[str, str]] = {}
        self.handles: dict[str, str] = {}
        self.calls = 0

    def context(self, did: str) -> str:
        return f"devtokens#{did}"

    def load(self, did: str, consistent: bool = False) -> TokenAccount | None:
        self.calls += 1
        account = self.accounts.get(did)
        return copy.deepcopy(account) if account else None

    def owner_of(self, token_hash: str) -> tuple[str, str] | None:
        self.calls += 1
        return self.lookups.get(token_hash)

    def did_of_handle(self, handle: str) -> str | None:
        self.calls += 1
        return self.handles.get(handle.lower())

    def save(
        self,
        account: TokenAccount,
        handle: str | None = None,
        added: tuple[str, str] | None = None,
        removed: str | None = None,
    ) -> None:
        self.calls += 1
        stored = self.accounts.get(account.did)
        if (stored.version if stored else 0) != account.version or (added and added[0] in self.lookups):
            raise ConcurrentUpdate()
        account.version += 1
        self.accounts[account.did] = copy.deepcopy(account)
        if added:
            self.lookups[added[0]] = (account.did, added[1])
        if removed:
            self.lookups.pop(removed, None)
        if handle:
            self.handles[handle.lower()] = account.did

    def touch(self, did: str, prefix: str, when: int) -> None:
        self.calls += 1
        if did in self.accounts:
            self.accounts[did].last_used[prefix] = when

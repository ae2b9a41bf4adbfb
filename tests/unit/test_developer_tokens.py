"""Developer tokens on the in-memory fakes: created once, listed without their text, at most
20, revoked by prefix (404 for another account's), sealed at rest."""

from __future__ import annotations

import json

import pytest

from albums_core.domain.errors import ConcurrentUpdate, NotFound, Unprocessable
from albums_core.services.developer_tokens import DeveloperTokens, open_tokens, token_hash
from tests.fakes.developer_tokens import FakeDeveloperTokens
from tests.fakes.sessions import FakeSealer

ALICE, BOB = "did:plc:alice", "did:plc:bob"


def service(store: FakeDeveloperTokens | None = None) -> DeveloperTokens:
    return DeveloperTokens(store or FakeDeveloperTokens(), FakeSealer(), clock=lambda: 1_800_000_000)


def test_create_shows_the_token_once_and_lists_without_it() -> None:
    tokens = service()
    made = tokens.create(ALICE, "alice.test", " Symfonium ")
    assert made["name"] == "Symfonium" and made["token"].startswith(f"plyr_{made['prefix']}_")
    assert made["created_at"] == "2027-01-15T08:00:00Z"
    listed = tokens.list(ALICE)
    assert listed == [
        {"prefix": made["prefix"], "name": "Symfonium", "created_at": made["created_at"], "last_used_at": None}
    ]
    assert made["token"] not in json.dumps(listed)


def test_the_text_is_stored_sealed_and_found_by_its_hash() -> None:
    store = FakeDeveloperTokens()
    tokens = service(store)
    made = tokens.create(ALICE, "alice.test", "app")
    account = store.accounts[ALICE]
    assert made["token"] not in json.dumps(account.tokens)
    assert store.lookups[token_hash(made["token"])] == (ALICE, made["prefix"])
    assert store.handles["alice.test"] == ALICE
    assert open_tokens(account, store, tokens.sealer) == {made["prefix"]: made["token"]}
    account.sealed = tokens.sealer.seal(b'{"x": "y"}', store.context(BOB))  # moved from another account
    with pytest.raises(Exception, match="InvalidTag"):
        open_tokens(account, store, tokens.sealer)


def test_at_most_twenty_per_account() -> None:
    tokens = service()
    for n in range(20):
        tokens.create(ALICE, "alice.test", f"app {n}")
    with pytest.raises(Unprocessable, match="at most 20"):
        tokens.create(ALICE, "alice.test", "one more")
    assert len(tokens.list(ALICE)) == 20
    tokens.create(BOB, "bob.test", "bob's own")


@pytest.mark.parametrize("name", ["", "   ", "x" * 101, "\x00app", "app\u202e", "\u200b"])
def test_a_bad_name_is_422(name: str) -> None:
    with pytest.raises(Unprocessable):
        service().create(ALICE, "alice.test", name)


def test_revoke_removes_the_token_and_its_lookup_and_only_the_callers() -> None:
    store = FakeDeveloperTokens()
    tokens = service(store)
    first, second = tokens.create(ALICE, "alice.test", "a"), tokens.create(ALICE, "alice.test", "b")
    with pytest.raises(NotFound):
        tokens.revoke(BOB, first["prefix"])
    tokens.revoke(ALICE, first["prefix"])
    assert [t["prefix"] for t in tokens.list(ALICE)] == [second["prefix"]]
    assert token_hash(first["token"]) not in store.lookups
    assert open_tokens(store.accounts[ALICE], store, tokens.sealer) == {second["prefix"]: second["token"]}
    with pytest.raises(NotFound):
        tokens.revoke(ALICE, first["prefix"])


def test_a_concurrent_change_is_retried() -> None:
    store = FakeDeveloperTokens()
    tokens = service(store)
    real_save = store.save
    raced = []

    def save(account, **kw):  # type: ignore[no-untyped-def]
        if not raced:
            raced.append(1)
            real_save(tokens.store.load(ALICE) or type(account)(ALICE))  # another writer got in first
            raise ConcurrentUpdate()
        real_save(account, **kw)

    store.save = save  # type: ignore[method-assign]
    made = tokens.create(ALICE, "alice.test", "app")
    assert [t["prefix"] for t in tokens.list(ALICE)] == [made["prefix"]]

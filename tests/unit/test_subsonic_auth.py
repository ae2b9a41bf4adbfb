"""Subsonic authentication by developer token on the fakes: the md5 token scheme, passwords
(plain and enc:hex), apiKey, the error codes, and what a container keeps for at most 60 s."""

from __future__ import annotations

import hashlib

import pytest

from albums_core.domain import subsonic
from albums_core.domain.subsonic import SubsonicError
from albums_core.services.developer_tokens import DeveloperTokens
from albums_core.services.subsonic_auth import SubsonicAuth, SubsonicUser
from tests.fakes.developer_tokens import FakeDeveloperTokens
from tests.fakes.sessions import FakeSealer

DID = "did:plc:alice"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class CountingSealer(FakeSealer):
    def __init__(self) -> None:
        super().__init__()
        self.unseals = 0

    def unseal(self, item, context):  # type: ignore[no-untyped-def]
        self.unseals += 1
        return super().unseal(item, context)


@pytest.fixture
def world() -> tuple[FakeDeveloperTokens, CountingSealer, Clock, str, str]:
    store, sealer, clock = FakeDeveloperTokens(), CountingSealer(), Clock()
    made = DeveloperTokens(store, sealer).create(DID, "alice.test", "app")
    return store, sealer, clock, made["token"], made["prefix"]


def md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def q(**params: str) -> dict[str, list[str]]:
    return {k: [v] for k, v in params.items()}


def code_of(auth: SubsonicAuth, params: dict[str, list[str]]) -> int:
    with pytest.raises(SubsonicError) as caught:
        auth.authenticate(params)
    return caught.value.code


def test_every_scheme_with_handle_or_did(world) -> None:  # type: ignore[no-untyped-def]
    store, sealer, clock, token, prefix = world
    auth = SubsonicAuth(store, sealer, clock=clock)
    me = SubsonicUser(DID, prefix)
    for user in ("alice.test", "ALICE.test", DID):
        assert auth.authenticate(q(u=user, t=md5(token + "salt1"), s="salt1")) == me
        assert auth.authenticate(q(u=user, t=md5(token + "salt1").upper(), s="salt1")) == me
        assert auth.authenticate(q(u=user, p=token)) == me
        assert auth.authenticate(q(u=user, p="enc:" + token.encode().hex())) == me
    assert auth.authenticate(q(apiKey=token)) == me


def test_the_error_codes(world) -> None:  # type: ignore[no-untyped-def]
    store, sealer, clock, token, _ = world
    auth = SubsonicAuth(store, sealer, clock=clock)
    assert code_of(auth, {}) == subsonic.MISSING_PARAMETER
    assert code_of(auth, q(u="alice.test")) == subsonic.MISSING_PARAMETER
    assert code_of(auth, q(u="alice.test", t=md5(token + "s"))) == subsonic.MISSING_PARAMETER
    assert code_of(auth, q(u="alice.test", t=md5(token + "x"), s="s")) == subsonic.WRONG_CREDENTIALS
    assert code_of(auth, q(u="alice.test", p="wrong")) == subsonic.WRONG_CREDENTIALS
    assert code_of(auth, q(u="alice.test", p="enc:zz")) == subsonic.WRONG_CREDENTIALS
    assert code_of(auth, q(u="bob.test", p=token)) == subsonic.WRONG_CREDENTIALS  # another account's token
    assert code_of(auth, q(u="did:plc:bob", t=md5(token + "s"), s="s")) == subsonic.WRONG_CREDENTIALS
    assert code_of(auth, q(apiKey=token, u="alice.test")) == subsonic.CONFLICTING_MECHANISMS
    assert code_of(auth, q(apiKey=token, p=token)) == subsonic.CONFLICTING_MECHANISMS
    assert code_of(auth, q(apiKey=token, t="0" * 32, s="salt")) == subsonic.CONFLICTING_MECHANISMS
    assert code_of(auth, q(apiKey="plyr_nope")) == subsonic.INVALID_API_KEY
    assert code_of(auth, q(apiKey="")) == subsonic.INVALID_API_KEY


def test_a_warm_container_checks_with_no_call_and_a_revoked_token_stops_within_a_minute(world) -> None:  # type: ignore[no-untyped-def]
    store, sealer, clock, token, prefix = world
    auth = SubsonicAuth(store, sealer, clock=clock)
    store.calls, sealer.unseals = 0, 0
    auth.authenticate(q(u="alice.test", t=md5(token + "a"), s="a"))
    cold = store.calls
    assert sealer.unseals == 1 and cold <= 3  # handle, account, and the last-use date
    auth.authenticate(q(u="alice.test", t=md5(token + "b"), s="b"))
    auth.authenticate(q(apiKey=token))
    auth.authenticate(q(apiKey=token))
    assert sealer.unseals == 1 and store.calls == cold + 1  # the apiKey's lookup, once
    DeveloperTokens(store, FakeSealer()).revoke(DID, prefix)
    clock.now += 59
    auth.authenticate(q(u="alice.test", t=md5(token + "c"), s="c"))  # still known here
    clock.now += 1
    assert code_of(auth, q(u="alice.test", t=md5(token + "d"), s="d")) == subsonic.WRONG_CREDENTIALS
    assert code_of(auth, q(apiKey=token)) == subsonic.INVALID_API_KEY


def test_a_token_made_after_the_tokens_were_opened_works_at_once(world) -> None:  # type: ignore[no-untyped-def]
    store, sealer, clock, token, _ = world
    auth = SubsonicAuth(store, sealer, clock=clock)
    auth.authenticate(q(u=DID, t=md5(token + "a"), s="a"))
    unseals, calls = sealer.unseals, store.calls
    assert code_of(auth, q(u=DID, t=md5("guess" + "a"), s="a")) == subsonic.WRONG_CREDENTIALS
    assert sealer.unseals == unseals and store.calls == calls + 1  # a wrong guess re-reads, never unseals
    newer = DeveloperTokens(store, sealer).create(DID, "alice.test", "second")
    assert auth.authenticate(q(u=DID, t=md5(newer["token"] + "a"), s="a")).prefix == newer["prefix"]


def test_last_use_is_dated_at_most_hourly(world) -> None:  # type: ignore[no-untyped-def]
    store, sealer, clock, token, prefix = world
    auth = SubsonicAuth(store, sealer, clock=clock, wall=lambda: 1_800_000_000)
    auth.authenticate(q(apiKey=token))
    assert store.accounts[DID].last_used == {prefix: 1_800_000_000}
    listed = DeveloperTokens(store, sealer).list(DID)
    assert listed[0]["last_used_at"] == "2027-01-15T08:00:00Z"
    before = store.calls
    clock.now += 30
    auth.authenticate(q(apiKey=token))
    assert store.calls == before

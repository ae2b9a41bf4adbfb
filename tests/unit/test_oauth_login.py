"""OAuthLogin (services/oauth_login.py) on in-memory fakes of its ports: the start with a
handle or a PDS URL (exactly one, else a 400), the callback's outcomes (refused, another
browser, expired state, scope mismatch, success with a session and an exchange token), and the
exchange token used once. Against the real authorization server: tests/integration; these
open no connection."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from albums_core import config
from albums_core.domain.errors import BadRequest, InvalidSession
from albums_core.domain.records import TRACK
from albums_core.services.auth import Auth
from albums_core.services.indexer import Indexing
from albums_core.services.oauth_login import InvalidExchangeToken, OAuthLogin
from tests.fakes import FakePageCache, FakeSessionStore
from tests.fakes.indexing import FakeIndexCatalogue, FakeReader
from tests.fakes.jobs import FakeJobQueue
from tests.fakes.oauth import (
    EXCHANGE_TTL_SECONDS,
    ISSUER,
    FakeIdentityResolver,
    FakeOAuthClient,
    FakeSignInTokens,
    OAuthWorld,
)

FRONTEND = "https://albums.example"
DID = "did:plc:signinartist0000000000"
HANDLE = "artist.test"


@pytest.fixture(autouse=True)
def frontend(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("FRONTEND_URL", FRONTEND)
    monkeypatch.delenv("ALBUMS_LOCAL_MODE", raising=False)
    config.settings.cache_clear()
    yield
    config.settings.cache_clear()


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


class Parked:
    def __init__(self) -> None:
        self.resumed: list[tuple[str, str]] = []

    def resume_parked(self, did: str, tokens: Any = None, session_ref: str = "") -> int:
        self.resumed.append((did, session_ref))
        return 0


class World:
    def __init__(self) -> None:
        self.clock = Clock()
        self.oauth_world = OAuthWorld(clock=self.clock)
        self.oauth = FakeOAuthClient(self.oauth_world)
        self.tokens = FakeSignInTokens(self.oauth_world)
        self.sessions = FakeSessionStore(clock=self.clock)
        self.identities = FakeIdentityResolver()
        self.identities.add(DID, HANDLE)
        self.repo = FakeIndexCatalogue()
        self.reader = FakeReader()
        self.jobs = FakeJobQueue()
        self.parked = Parked()
        auth = Auth(self.repo, self.sessions, None, self.identities, self.reader, self.parked)  # type: ignore[arg-type]
        indexing = Indexing(self.repo, self.reader, FakePageCache(), self.jobs)
        self.login = OAuthLogin(self.oauth, self.tokens, self.sessions, self.identities, auth, self.parked, indexing)

    def started(self) -> str:
        return self.login.start(HANDLE, None).state

    def callback(self, state: str, **params: str) -> dict[str, str]:
        """The query of the frontend page the browser is sent to (and its path as `path`)."""
        where = urlsplit(self.login.callback({"state": state, **params}, browser_state=state))
        assert f"{where.scheme}://{where.netloc}" == FRONTEND
        return {"path": where.path, **{k: v[0] for k, v in parse_qs(where.query).items()}}


@pytest.fixture
def world() -> World:
    return World()


# ---- the start ---------------------------------------------------------------------------------


def test_start_with_a_handle_begins_a_flow_for_its_did(world: World) -> None:
    started = world.login.start(f"  {HANDLE} ", None)
    assert world.oauth.begun == [DID]
    assert started.state in world.oauth_world.states and started.location.startswith(ISSUER)


def test_start_with_a_pds_url_begins_at_that_pds(world: World) -> None:
    world.login.start(None, " https://pds.example/ ")
    assert world.oauth.begun == ["https://pds.example"]


@pytest.mark.parametrize(
    "handle, pds_url, message",
    [
        (HANDLE, "https://pds.example", "exactly one"),
        (None, None, "exactly one"),
        ("  ", "", "exactly one"),
        ("nobody.test", None, "could not be resolved"),
        (None, "http://pds.example", "https"),
        (None, "https://pds.example/path", "plain URL"),
        (None, "https://user:pw@pds.example", "plain URL"),
        (None, "https://pds.example:port", "plain URL"),
    ],
)
def test_start_refuses_bad_input_with_a_400(
    world: World, handle: str | None, pds_url: str | None, message: str
) -> None:
    with pytest.raises(BadRequest, match=message) as refused:
        world.login.start(handle, pds_url)
    assert refused.value.status == 400
    assert world.oauth.begun == [] and world.oauth_world.states == {}


def test_start_at_a_pds_without_oauth_is_a_400(world: World) -> None:
    world.oauth.no_server.add("https://pds.example")
    with pytest.raises(BadRequest, match="does not offer OAuth"):
        world.login.start(None, "https://pds.example")


# ---- the callback ------------------------------------------------------------------------------


def test_success_creates_a_session_and_a_one_time_exchange_token(world: World) -> None:
    world.reader.put(DID, TRACK, "t1", {"$type": TRACK, "title": "Indexed at sign-in"})
    state = world.started()

    page = world.callback(state, code="c0de", iss=ISSUER)

    assert page["path"] == "/portal"
    session = world.login.exchange(page["exchange_token"])
    assert (session.did, session.handle, session.pds_url) == (DID, HANDLE, "https://pds.example")
    assert session.grant is not None and session.grant.access_token == "access-c0de"
    assert world.repo.artists[DID].handle == HANDLE  # the artist is upserted
    assert world.parked.resumed == [(DID, session.key)]  # parked cleanups get the new session
    assert [t.title for t in world.repo.tracks.values()] == ["Indexed at sign-in"]
    assert world.identities.fresh_asks == 1  # the DID's identity asked again, not cached
    with pytest.raises(InvalidExchangeToken):
        world.login.exchange(page["exchange_token"])  # used


def test_an_expired_exchange_token_is_invalid(world: World) -> None:
    page = world.callback(world.started(), code="c", iss=ISSUER)
    world.clock.now += EXCHANGE_TTL_SECONDS + 1
    with pytest.raises(InvalidExchangeToken) as refused:
        world.login.exchange(page["exchange_token"])
    assert refused.value.status == 401
    with pytest.raises(InvalidExchangeToken):
        world.login.exchange("never-issued")


def test_an_exchange_for_a_session_gone_meanwhile_is_refused(world: World) -> None:
    page = world.callback(world.started(), code="c", iss=ISSUER)
    world.sessions.sessions.clear()  # logged out in between
    with pytest.raises(InvalidSession):
        world.login.exchange(page["exchange_token"])


def test_access_denied_is_named_and_uses_up_the_state(world: World) -> None:
    state = world.started()
    assert world.callback(state, error="access_denied") == {"path": "/", "auth_error": "access_denied"}
    assert state not in world.oauth_world.states
    assert world.callback(world.started(), error="server_error")["auth_error"] == "failed"


def test_an_expired_state_sends_the_browser_to_start_again(world: World) -> None:
    state = world.started()
    world.clock.now += 601
    assert world.callback(state, code="c", iss=ISSUER)["auth_error"] == "expired"
    assert world.sessions.sessions == {}


def test_a_state_is_used_once(world: World) -> None:
    state = world.started()
    assert world.callback(state, code="c", iss=ISSUER)["path"] == "/portal"
    assert world.callback(state, code="c", iss=ISSUER)["auth_error"] == "expired"
    assert len(world.sessions.sessions) == 1


def test_less_scope_than_asked_is_a_scope_mismatch(world: World) -> None:
    world.oauth.granted_scope = "atproto"
    assert world.callback(world.started(), code="c", iss=ISSUER)["auth_error"] == "scope_mismatch"
    assert world.sessions.sessions == {} and world.tokens.exchange == {}


def test_another_browser_or_missing_fields_fail_without_a_session(world: World) -> None:
    state = world.started()
    other = world.login.callback({"state": state, "code": "c", "iss": ISSUER}, browser_state="another")
    assert parse_qs(urlsplit(other).query) == {"auth_error": ["expired"]}
    assert world.callback(state, code="c")["auth_error"] == "failed"  # no iss
    assert world.callback(state, code="c", iss="https://evil.example")["auth_error"] == "failed"
    assert world.sessions.sessions == {}


def test_a_failed_indexing_does_not_undo_the_sign_in(world: World) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("catalogue down")

    world.reader.list_records = broken  # type: ignore[method-assign]
    page = world.callback(world.started(), code="c", iss=ISSUER)
    assert page["path"] == "/portal" and world.login.exchange(page["exchange_token"]).did == DID


def test_the_client_metadata_and_keys_come_from_the_client(world: World) -> None:
    assert world.login.client_metadata("https://api.example")["client_id"].startswith("https://api.example")
    assert world.login.jwks() == {"keys": []}

"""Identity resolution as the specs define it (issue 11, item 4): handles by DNS TXT
`_atproto.<handle>` (a DNS server of the test's on 127.0.0.1), then HTTPS
`/.well-known/atproto-did`, through the SSRF guard; DID documents from the local PLC; the
bidirectional check; the container's cache. No central resolver outside local mode."""

from __future__ import annotations

import http.server
import secrets
import threading
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest

from albums_core import config
from albums_core.adapters.atproto import identity
from albums_core.adapters.atproto.xrpc import PdsUnavailable
from local_runtime.loopback_http import LoopbackHTTPServer
from local_runtime.pds import LocalPds
from tests.support.dns_server import DnsServer
from tests.support.plc import OwnedAccount, create_owned_account

PASSWORD = "identity-pass-1234"


class WellKnown(http.server.BaseHTTPRequestHandler):
    answers: ClassVar[dict[str, tuple[int, bytes]]] = {}
    seen: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.seen.append(self.path)
        status, body = self.answers.get(self.path, (404, b"not found"))
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def dns_server(settings_env: pytest.MonkeyPatch) -> Iterator[DnsServer]:
    server = DnsServer().start()
    settings_env.setenv("HANDLE_DNS_NAMESERVERS", server.address)
    identity.clear_cache()
    yield server
    server.stop()
    identity.clear_cache()


@pytest.fixture
def well_known(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[WellKnown]]:
    """The handle's https://<handle>/.well-known/atproto-did, served on 127.0.0.1: the URL a
    handle names is pointed here (a test cannot own a public host name)."""
    WellKnown.answers, WellKnown.seen = {}, []
    server = LoopbackHTTPServer(("127.0.0.1", 0), WellKnown)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    monkeypatch.setattr(identity, "well_known_url", lambda h: f"http://127.0.0.1:{port}/{h}/.well-known/atproto-did")
    yield WellKnown
    server.shutdown()
    server.server_close()


def setenv(settings_env: pytest.MonkeyPatch, name: str, value: str) -> None:
    settings_env.setenv(name, value)
    config.settings.cache_clear()


def domain() -> str:
    return f"artist-{secrets.token_hex(3)}.albums-example.net"


@pytest.fixture
def account(pds_env: LocalPds, dns_server: DnsServer) -> Iterator[OwnedAccount]:
    owned = create_owned_account(pds_env, f"i{secrets.token_hex(3)}.test", PASSWORD)
    yield owned


def test_a_handle_resolves_by_dns_and_both_ways(account: OwnedAccount, dns_server: DnsServer) -> None:
    name = domain()
    dns_server.txt[f"_atproto.{name}"] = [f"did={account.did}", "unrelated text"]
    account.claim(name)
    who = identity.resolve(name.upper())
    assert (who.did, who.handle) == (account.did, name) and who.pds_url
    assert identity.resolve(account.did).handle == name  # by DID: the claim resolves back


def test_several_different_dids_in_dns_are_no_answer(account: OwnedAccount, dns_server: DnsServer) -> None:
    name = domain()
    other = "did:plc:" + "a" * 24
    dns_server.txt[f"_atproto.{name}"] = [f"did={account.did}", f"did={other}"]
    account.claim(name)
    with pytest.raises(identity.UnknownIdentity):
        identity.resolve(name)
    assert identity.resolve(account.did).handle == account.did  # the claim proves nothing


def test_without_dns_the_https_well_known_answers(
    account: OwnedAccount, dns_server: DnsServer, well_known: type[WellKnown]
) -> None:
    name = domain()
    well_known.answers[f"/{name}/.well-known/atproto-did"] = (200, f"{account.did}\n".encode())
    account.claim(name)
    assert identity.resolve(name).did == account.did
    assert dns_server.queries == [f"_atproto.{name}"]  # DNS first, then HTTPS


@pytest.mark.parametrize("body", [b"not a did\n", b"did:plc:short\n", b"", b"did:key:zabc\n"])
def test_a_well_known_that_is_not_a_did_of_ours_is_no_answer(
    account: OwnedAccount, well_known: type[WellKnown], body: bytes
) -> None:
    name = domain()
    well_known.answers[f"/{name}/.well-known/atproto-did"] = (200, body)
    with pytest.raises(identity.UnknownIdentity):
        identity.resolve(name)


def test_the_well_known_fetch_passes_the_ssrf_guard(
    account: OwnedAccount, well_known: type[WellKnown], settings_env: pytest.MonkeyPatch
) -> None:
    """Outside the local runtime loopback is refused: the request never leaves."""
    name = domain()
    well_known.answers[f"/{name}/.well-known/atproto-did"] = (200, account.did.encode())
    setenv(settings_env, "ALBUMS_ALLOW_LOOPBACK_PDS", "false")
    with pytest.raises(identity.UnknownIdentity):
        identity.resolve_handle(name)
    assert well_known.seen == []


def test_dns_that_does_not_answer_is_an_outage_not_a_verdict(
    account: OwnedAccount, dns_server: DnsServer, well_known: type[WellKnown]
) -> None:
    dns_server.silent = True
    with pytest.raises(PdsUnavailable):
        identity.resolve_handle(domain())


def test_answers_are_kept_for_the_container_and_asked_again_when_fresh(
    account: OwnedAccount, dns_server: DnsServer, settings_env: pytest.MonkeyPatch
) -> None:
    name = domain()
    dns_server.txt[f"_atproto.{name}"] = [f"did={account.did}"]
    account.claim(name)
    identity.resolve(name)
    identity.resolve(name)
    assert dns_server.queries == [f"_atproto.{name}"]
    identity.resolve(name, fresh=True)
    assert len(dns_server.queries) == 2
    identity.forget(name)
    identity.resolve(name)
    assert len(dns_server.queries) == 3
    setenv(settings_env, "IDENTITY_CACHE_SECONDS", "0")
    identity.clear_cache()
    identity.resolve(name)
    identity.resolve(name)
    assert len(dns_server.queries) == 5


def test_no_central_resolver_outside_local_mode(
    account: OwnedAccount, dns_server: DnsServer, settings_env: pytest.MonkeyPatch
) -> None:
    """A `.test` handle is a development network's: outside local mode it names no one, and
    no resolver (HANDLE_RESOLVER_URL points at the local PDS here) is asked."""
    setenv(settings_env, "ALBUMS_LOCAL_MODE", "false")
    with pytest.raises(identity.UnknownIdentity):
        identity.resolve(account.handle)
    setenv(settings_env, "ALBUMS_LOCAL_MODE", "true")
    assert identity.resolve(account.handle).did == account.did
    assert dns_server.queries == []  # `.test` never goes to DNS


@pytest.mark.parametrize("name", ["artist.local", "x.localhost", "a.invalid", "b.onion", "c.example", "d.internal"])
def test_reserved_names_resolve_without_any_lookup(account: OwnedAccount, dns_server: DnsServer, name: str) -> None:
    with pytest.raises(identity.UnknownIdentity):
        identity.resolve_handle(name)
    assert dns_server.queries == []

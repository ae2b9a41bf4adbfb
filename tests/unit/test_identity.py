"""identity.resolve's handle trust, with the directory and the handle resolver as in-memory
fakes (the real local PDS + PLC run the same cases in tests/integration/test_handle_trust.py)."""

from __future__ import annotations

from typing import Any

import pytest

from albums_core.adapters.atproto import identity
from albums_core.adapters.atproto.xrpc import PdsUnavailable

VICTIM = "did:plc:" + "v" * 24
ATTACKER = "did:plc:" + "m" * 24


def doc(did: str, *aka: str) -> dict[str, Any]:
    return {
        "id": did,
        "alsoKnownAs": list(aka),
        "service": [
            {"id": "#atproto_pds", "type": "AtprotoPersonalDataServer", "serviceEndpoint": "https://pds.example"}
        ],
    }


@pytest.fixture
def directory(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """DID documents and handle owners: what the PLC directory and handle resolution say."""
    state: dict[str, Any] = {
        "docs": {VICTIM: doc(VICTIM, "at://aurora.test"), ATTACKER: doc(ATTACKER, "at://aurora.test")},
        "handles": {"aurora.test": VICTIM},
        "resolver_down": False,
    }

    def resolve_handle(handle: str) -> str:
        if state["resolver_down"]:
            raise PdsUnavailable("status 503")
        if handle not in state["handles"]:
            raise identity.UnknownIdentity(handle)
        return str(state["handles"][handle])

    def did_document(did: str) -> dict[str, Any]:
        if did not in state["docs"]:
            raise identity.UnknownIdentity(did)
        return dict(state["docs"][did])

    monkeypatch.setattr(identity, "resolve_handle", resolve_handle)
    monkeypatch.setattr(identity, "did_document", did_document)
    return state


def test_a_did_claiming_someone_elses_handle_gets_its_did_instead(directory: dict[str, Any]) -> None:
    who = identity.resolve(ATTACKER)
    assert (who.did, who.handle) == (ATTACKER, ATTACKER)
    # the owner of the name, by DID or by handle, keeps it
    assert identity.resolve(VICTIM).handle == "aurora.test"
    assert identity.resolve("Aurora.Test").did == VICTIM


# The first at:// entry is the handle (the spec's rule); a name resolving to no one proves nothing.
@pytest.mark.parametrize("aka", [["at://nobody.test"], ["at://nobody.test", "at://aurora.test"]])
def test_a_claim_that_resolves_to_no_one_means_no_handle(directory: dict[str, Any], aka: list[str]) -> None:
    directory["docs"][VICTIM] = doc(VICTIM, *aka)
    assert identity.resolve(VICTIM).handle == VICTIM


def test_a_resolver_outage_is_not_a_verdict(directory: dict[str, Any]) -> None:
    directory["resolver_down"] = True
    with pytest.raises(PdsUnavailable):
        identity.resolve(VICTIM)

"""Handles are trusted only when they resolve back to the DID claiming them (issue 9.1).

Everything runs against the real local PDS + PLC: an attacker is an account whose DID
document we rewrite with a recovery key of ours (tests/support/plc.py), the way anyone can
rewrite the document of a DID they control."""

from __future__ import annotations

import json
import secrets
from typing import Any

import pytest

from albums_core import bootstrap
from albums_core.adapters.atproto import xrpc
from albums_core.adapters.dynamodb.catalogue import CatalogueWriter
from albums_core.domain.errors import AlbumNotFound, ArtistNotFound, UpstreamFailure
from albums_core.domain.models import Artist
from albums_core.services import auth
from local_runtime.pds import LocalPds
from tests.support.plc import OwnedAccount, create_owned_account

PASSWORD = "handle-trust-pass-1234"
TITLE = "Northern Lights"
SLUG = "northern-lights"


def fresh_handle(prefix: str) -> str:
    return f"{prefix}{secrets.token_hex(3)}.test"  # a service-domain handle: 3..18 characters


def log_in(identifier: str) -> auth.Caller:
    session, artist = bootstrap.auth().login(identifier, PASSWORD)
    return auth.Caller(session, artist)


def publish_album(caller: auth.Caller, title: str = TITLE) -> str:
    _, meta = bootstrap.album_admin(caller).create(title)
    return str(meta["id"])


def page(ref: str, slug: str = SLUG) -> dict[str, Any]:
    """The album page's metadata, as GET /albums/{ref}/{slug} serves it (through the cache)."""
    return dict(json.loads(bootstrap.album_pages().render(ref, slug, None))["metadata"])


def stored(did: str) -> Artist:
    artist = CatalogueWriter().get_artist(did)
    assert artist is not None
    return artist


def update_handle(pds: LocalPds, handle: str, new_handle: str) -> None:
    """The account moves its handle through its PDS (which signs the PLC update)."""
    out = xrpc.create_session(pds.pds_url, handle, PASSWORD)
    xrpc.call(
        pds.pds_url, "POST", "com.atproto.identity.updateHandle", body={"handle": new_handle}, token=out["accessJwt"]
    )


@pytest.fixture
def victim(pds_env: LocalPds) -> dict[str, str]:
    return pds_env.create_account(fresh_handle("v"), PASSWORD)


@pytest.fixture
def attacker(pds_env: LocalPds, victim: dict[str, str]) -> OwnedAccount:
    """A DID of the attacker's, on a PDS that accepts its password, claiming the victim's handle."""
    account = create_owned_account(pds_env, fresh_handle("m"), PASSWORD)
    account.claim(victim["handle"])
    return account


def assert_victim_holds_the_handle(victim: dict[str, str], attacker: OwnedAccount, victim_album: str) -> None:
    assert stored(victim["did"]).handle == victim["handle"]
    assert stored(attacker.did).handle == attacker.did
    served = page(victim["handle"])
    assert served["id"] == victim_album and served["artist_did"] == victim["did"]
    assert [a["id"] for a in bootstrap.listings().list_artist_albums(victim["handle"])["albums"]] == [victim_album]
    # The attacker's own album is still served, under its DID.
    assert page(attacker.did)["artist_did"] == attacker.did


def test_a_did_claiming_a_handle_it_does_not_own_gets_no_handle(victim: dict[str, str], attacker: OwnedAccount) -> None:
    victim_album = publish_album(log_in(victim["handle"]))
    assert page(victim["handle"])["id"] == victim_album  # cached now

    intruder = log_in(attacker.did)
    assert intruder.session.handle == attacker.did and intruder.artist.handle == attacker.did
    publish_album(intruder)  # the same title, so the same slug
    assert_victim_holds_the_handle(victim, attacker, victim_album)

    log_in(victim["handle"])
    assert_victim_holds_the_handle(victim, attacker, victim_album)


def test_the_attacker_logging_in_first_gets_no_handle_either(victim: dict[str, str], attacker: OwnedAccount) -> None:
    intruder = log_in(attacker.did)
    assert intruder.artist.handle == attacker.did
    publish_album(intruder)
    with pytest.raises(ArtistNotFound):
        bootstrap.listings().list_artist_albums(victim["handle"])

    victim_album = publish_album(log_in(victim["did"]))  # by DID: the handle is verified too
    assert_victim_holds_the_handle(victim, attacker, victim_album)
    log_in(attacker.did)
    assert_victim_holds_the_handle(victim, attacker, victim_album)


def test_the_holder_logging_in_again_restores_a_taken_pointer(
    pds_env: LocalPds, victim: dict[str, str], attacker: OwnedAccount
) -> None:
    """State an unchecked login left behind: the pointer and the attacker's album pointer under
    the victim's handle. The victim's artist item itself is unchanged, which must not stop the
    repair."""
    victim_album = publish_album(log_in(victim["handle"]))
    intruder = log_in(attacker.did)
    repo = CatalogueWriter()
    taken = Artist(attacker.did, victim["handle"], "Mallory", None, pds_env.pds_url)
    repo.put_artist(taken)
    _, meta = bootstrap.album_admin(auth.Caller(intruder.session, taken)).create(TITLE)
    assert page(victim["handle"])["artist_did"] == attacker.did  # the takeover, as reported

    log_in(victim["handle"])
    assert_victim_holds_the_handle(victim, attacker, victim_album)
    assert page(attacker.did)["id"] == meta["id"]


def test_a_handle_that_moves_to_another_did(pds_env: LocalPds) -> None:
    first = pds_env.create_account(fresh_handle("d"), PASSWORD)
    second = pds_env.create_account(fresh_handle("e"), PASSWORD)
    name, renamed = first["handle"], fresh_handle("d")
    first_album = publish_album(log_in(name))
    assert page(name)["id"] == first_album  # cached under the name

    update_handle(pds_env, name, renamed)
    update_handle(pds_env, second["handle"], name)
    second_album = publish_album(log_in(second["did"]), "Other Record")

    # The name moved; its previous holder fell back to its DID in the same transaction.
    assert stored(second["did"]).handle == name
    assert stored(first["did"]).handle == first["did"]
    assert [a["id"] for a in bootstrap.listings().list_artist_albums(name)["albums"]] == [second_album]
    with pytest.raises(AlbumNotFound):
        page(name)  # the cached page of the previous holder is gone too
    assert page(first["did"])["id"] == first_album
    assert [a["id"] for a in bootstrap.listings().list_artist_albums(first["did"])["albums"]] == [first_album]

    # The previous holder's next login finds its new handle and its pages move there.
    log_in(first["did"])
    assert stored(first["did"]).handle == renamed
    assert page(renamed)["id"] == first_album
    with pytest.raises(ArtistNotFound):
        bootstrap.listings().list_artist_albums(first["did"])
    assert page(name, "other-record")["id"] == second_album


def test_a_did_whose_document_stops_claiming_its_handle(pds_env: LocalPds) -> None:
    account = create_owned_account(pds_env, fresh_handle("c"), PASSWORD)
    album = publish_album(log_in(account.handle))
    assert stored(account.did).handle == account.handle
    assert page(account.handle)["id"] == album

    account.claim(fresh_handle("gone"))  # a name that resolves to no one
    with pytest.raises(auth.LoginFailed):
        log_in(account.handle)  # the handle no longer names it both ways
    again = log_in(account.did)
    assert again.artist.handle == account.did and stored(account.did).handle == account.did
    with pytest.raises(ArtistNotFound):
        bootstrap.listings().list_artist_albums(account.handle)
    with pytest.raises(AlbumNotFound):
        page(account.handle)
    assert page(account.did)["id"] == album
    assert [a["id"] for a in bootstrap.listings().list_artist_albums(account.did)["albums"]] == [album]


def test_login_by_did_is_502_when_the_handle_cannot_be_checked(
    pds_env: LocalPds, attacker: OwnedAccount, settings_env: pytest.MonkeyPatch
) -> None:
    settings_env.setenv("HANDLE_RESOLVER_URL", "http://127.0.0.1:9")
    with pytest.raises(UpstreamFailure):
        bootstrap.auth().login(attacker.did, PASSWORD)
    assert CatalogueWriter().get_artist(attacker.did) is None


def test_a_did_document_that_cannot_be_read_is_502_naming_the_identity_not_the_pds(pds_env: LocalPds) -> None:
    # did:web's document lives at https://<host>/.well-known/did.json; nothing listens on 127.0.0.1:443.
    with pytest.raises(UpstreamFailure) as err:
        bootstrap.auth().login("did:web:127.0.0.1", PASSWORD)
    assert "identity could not be resolved" in err.value.detail and "PDS" not in err.value.detail

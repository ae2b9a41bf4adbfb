"""Fixtures of the write side: the real local PDS, logged-in artists, records on the PDS."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import pytest

from albums_core import bootstrap
from albums_core.adapters.atproto import xrpc
from albums_core.adapters.dynamodb.session_store import pds_session
from albums_core.domain.at_uri import AtUri
from albums_core.domain.records import LIST, TRACK, now_iso
from albums_core.services.album_admin import AlbumAdmin
from albums_core.services.auth import Caller
from local_runtime.pds import LocalPds
from tests.integration.pds_fixture import ACCOUNTS
from tests.support.fault_proxy import FaultProxy

PASSWORDS = {a["handle"]: a["password"] for a in ACCOUNTS}


@pytest.fixture
def pds_env(local_pds: LocalPds, settings_env: pytest.MonkeyPatch, aws_env: None) -> LocalPds:
    settings_env.setenv("PLC_URL", local_pds.plc_url)
    settings_env.setenv("HANDLE_RESOLVER_URL", local_pds.pds_url)
    return local_pds


@dataclass
class Artist:
    caller: Caller
    pds: xrpc.PdsSession

    @property
    def did(self) -> str:
        return self.caller.artist.did

    def admin(self, via: str | None = None) -> AlbumAdmin:
        caller = self.caller
        if via is not None:
            caller = replace(caller, session=replace(caller.session, pds_url=via))
        return bootstrap.album_admin(caller)

    def publish_track(self, title: str, **extra: Any) -> str:
        record = {
            "$type": TRACK,
            "title": title,
            "artist": "Someone",
            "fileType": "mp3",
            "createdAt": now_iso(),
            **extra,
        }
        uri, _ = self.pds.create_record(TRACK, record)
        return uri

    def publish_list(self, name: str, uris: list[str]) -> str:
        items = [{"subject": {"uri": u, "cid": self.record(u).cid}} for u in uris]
        uri, _ = self.pds.create_record(
            LIST,
            {"$type": LIST, "name": name, "listType": "album", "items": items, "createdAt": "2026-01-01T00:00:00.000Z"},
        )
        return uri

    def record(self, uri: str) -> xrpc.Record:
        at = AtUri.parse(uri)
        assert at is not None
        found = xrpc.get_record(self.pds.pds_url, at.repo, at.collection, at.rkey)
        assert found is not None, uri
        return found

    def exists(self, uri: str) -> bool:
        at = AtUri.parse(uri)
        assert at is not None
        return xrpc.get_record(self.pds.pds_url, at.repo, at.collection, at.rkey) is not None

    def upload_blob(self, data: bytes, mime: str = "audio/mpeg") -> dict[str, Any]:
        from albums_core.adapters.atproto.safe_http import request

        reply = request(
            "POST",
            f"{self.pds.pds_url}/xrpc/com.atproto.repo.uploadBlob",
            timeout=10,
            max_bytes=100_000,
            allow_loopback=True,
            body=data,
            headers={"Content-Type": mime, "Authorization": f"Bearer {self.pds.tokens.access_jwt}"},
        )
        assert reply.status == 200, reply.body
        return dict(reply.body["blob"])


def login_artist(handle: str) -> Artist:
    """Log in, after emptying the account's fm.plyr collections (the PDS lives for the session)."""
    session, artist = bootstrap.auth().login(handle, PASSWORDS[handle])
    pds = pds_session(session)
    for collection in (TRACK, LIST):
        rkeys = [AtUri.parse(r.uri).rkey for r in xrpc.list_records(pds.pds_url, pds.did, collection)]  # type: ignore[union-attr]
        for start in range(0, len(rkeys), 200):
            pds.apply_writes(
                [
                    {"$type": "com.atproto.repo.applyWrites#delete", "collection": collection, "rkey": k}
                    for k in rkeys[start : start + 200]
                ],
                swap_commit=None,
            )
    return Artist(Caller(session, artist), pds)


@pytest.fixture
def alice(pds_env: LocalPds) -> Artist:
    return login_artist("alice.test")


@pytest.fixture
def bob(pds_env: LocalPds) -> Artist:
    return login_artist("bob.test")


@pytest.fixture
def faulty(pds_env: LocalPds) -> Iterator[FaultProxy]:
    proxy = FaultProxy(pds_env.pds_url)
    yield proxy
    proxy.stop()

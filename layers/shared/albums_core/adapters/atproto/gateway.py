"""The PDS ports (albums_core.ports.pds, .oauth) over this package's modules: what the services
ask in records, sessions and identities, done here in XRPC calls and NSIDs. One instance of
each per container (albums_core.bootstrap).

The modules that load the SDK or its codec (syntax, identity, record_cids through the record
writes, the OAuth client) are imported on first use: the read functions, which use only the
public reads, never load them. So is the XRPC client (writes, sessions, whole-repository reads):
an album page reads its list record through public_reads alone."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from albums_core.adapters.atproto.public_reads import fetch_list_order
from albums_core.domain.sessions import Listing, Record, Session, Tokens

if TYPE_CHECKING:
    from albums_core.adapters.atproto import xrpc
    from albums_core.adapters.atproto.record_editor import RecordEditor
    from albums_core.domain.read_budget import ReadBudget
    from albums_core.domain.record_edits import Edit
    from albums_core.domain.upstream import Identity

PROFILE_COLLECTION = "app.bsky.actor.profile"


class AtprotoWriter:
    """`PdsWriter`: sessions opened from our stored ones, record edits read-modify-write."""

    def open(self, session: Session) -> xrpc.PdsSession:
        from albums_core.adapters.dynamodb.session_store import pds_session

        return pds_session(session)

    def open_with_tokens(
        self, pds_url: str, did: str, tokens: Tokens, store_back: Callable[[Tokens], None]
    ) -> xrpc.PdsSession:
        from albums_core.adapters.atproto import xrpc

        return xrpc.PdsSession(pds_url, did, tokens, store_back)

    def editor(self, pds: Any) -> RecordEditor:
        from albums_core.adapters.atproto.record_editor import RecordEditor

        return RecordEditor(pds)

    def apply_edits(self, pds: Any, edits: list[Edit]) -> dict[str, str | None]:
        from albums_core.adapters.atproto.record_writes import apply_edits

        return apply_edits(pds, edits)

    # The SDK's validators, imported on first use: the read functions never load the SDK.
    def is_record_key(self, value: object) -> bool:
        from albums_core.adapters.atproto import syntax

        return syntax.is_record_key(value)

    def record_uri_parts(self, value: object) -> tuple[str, str, str] | None:
        from albums_core.adapters.atproto import syntax

        return syntax.record_uri_parts(value)


class AtprotoReader:
    """`PdsReader`: public, bounded reads of any repository."""

    def profile(self, pds_url: str, did: str) -> Record | None:
        from albums_core.adapters.atproto import xrpc

        return xrpc.get_record(pds_url, did, PROFILE_COLLECTION, "self")

    def blob_url(self, pds_url: str, did: str, cid: str) -> str:
        return f"{pds_url}/xrpc/com.atproto.sync.getBlob?{urlencode({'did': did, 'cid': cid})}"

    def list_records(
        self,
        pds_url: str,
        did: str,
        collection: str,
        *,
        cursor: str | None,
        budget: ReadBudget,
        max_records: int,
        max_bytes: int,
    ) -> Listing:
        from albums_core.adapters.atproto import xrpc

        return xrpc.list_records(
            pds_url, did, collection, cursor=cursor, budget=budget, max_records=max_records, max_bytes=max_bytes
        )

    def list_order(self, pds_url: str | None, list_uri: str | None) -> list[str] | None:
        return fetch_list_order(pds_url, list_uri)

    def answering(self, pds_url: str, did: str) -> AbstractContextManager[None]:
        from albums_core.adapters.atproto import xrpc
        from albums_core.adapters.atproto.record_editor import pds_failures

        return pds_failures(lambda: xrpc.latest_commit(pds_url, did))


class AtprotoAccounts:
    """`PdsAccounts`: app-password sign-in, and a session's end on its PDS."""

    def sign_in(self, pds_url: str, identifier: str, password: str) -> tuple[str, Tokens]:
        from albums_core.adapters.atproto import xrpc

        out = xrpc.create_session(pds_url, identifier, password)
        return str(out.get("did")), Tokens(str(out["accessJwt"]), str(out["refreshJwt"]))

    def sign_out(self, session: Session) -> None:
        from albums_core.adapters.atproto import xrpc

        if session.grant is not None:
            from albums_core.adapters.atproto import oauth_client

            oauth_client.revoke(session.did, session.pds_url, session.grant)
            return
        xrpc.call(session.pds_url, "POST", "com.atproto.server.deleteSession", token=session.tokens.refresh_jwt)


class AtprotoIdentities:
    """`IdentityResolver`: DID documents and handles, cached per container."""

    def resolve(self, identifier: str, *, fresh: bool = False) -> Identity:
        from albums_core.adapters.atproto import identity  # the SDK's DID documents

        return identity.resolve(identifier, fresh=fresh)


class AtprotoOAuth:
    """`OAuthClient` over adapters/atproto/oauth_client.py (imported on first use: the SDK's
    OAuth library is heavy and most functions never sign anyone in)."""

    def begin(self, did: str, request_base: str = "") -> tuple[str, str]:
        from albums_core.adapters.atproto import oauth_client

        return oauth_client.begin(did, request_base)

    def begin_at_pds(self, pds_url: str, request_base: str = "") -> tuple[str, str]:
        from albums_core.adapters.atproto import oauth_client

        return oauth_client.begin_at_pds(pds_url, request_base)

    def finish(self, code: str, state: str, iss: str, request_base: str = "") -> Any:
        from albums_core.adapters.atproto import oauth_client

        return oauth_client.finish(code, state, iss, request_base)

    def client_metadata(self, request_base: str = "") -> dict[str, Any]:
        from albums_core.adapters.atproto import oauth_client

        return oauth_client.client_metadata(request_base)

    def jwks(self) -> dict[str, Any]:
        from albums_core.adapters.atproto import oauth_client

        return oauth_client.jwks()

"""The ports of an OAuth sign-in: the client (PAR, PKCE and DPoP with the account's
authorization server) and the short-lived state and exchange tokens of a sign-in.
adapters/atproto/oauth_client.py and adapters/dynamodb/oauth_store.py implement them."""

from __future__ import annotations

from typing import Any, Protocol

from albums_core.domain.sessions import Grant


class Finished(Protocol):
    """A sign-in the authorization server completed: whose grant it is, and the grant."""

    @property
    def did(self) -> str: ...

    @property
    def grant(self) -> Grant: ...


class OAuthClient(Protocol):
    """Failures: `OAuthFailure`, `NoAuthServer` (`UntrustedEndpoint`), `AuthServerUnavailable`
    (domain/upstream.py)."""

    def begin(self, did: str, request_base: str = "") -> tuple[str, str]:
        """(the authorization page's URL, the state) of a sign-in of this account."""
        ...

    def begin_at_pds(self, pds_url: str, request_base: str = "") -> tuple[str, str]:
        """The same for an account to be chosen on the authorization server of a PDS."""
        ...

    def finish(self, code: str, state: str, iss: str, request_base: str = "") -> Finished: ...

    def client_metadata(self, request_base: str = "") -> dict[str, Any]: ...

    def jwks(self) -> dict[str, Any]: ...


class SignInTokens(Protocol):
    """A sign-in's state (dropped when refused) and the one-time token that hands the new
    session to the frontend."""

    def discard_state(self, state: str) -> None: ...

    def issue_exchange_token(self, session_id: str) -> str: ...

    def redeem_exchange_token(self, token: str) -> str | None:
        """The session id, once; None when unknown, expired or spent."""
        ...

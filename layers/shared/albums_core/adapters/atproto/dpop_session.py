"""XRPC calls of an OAuth session: the access token is DPoP-bound (oauth_grant's proofs), the
same calls as an app-password session's (xrpc.PdsSession) otherwise."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from albums_core.adapters.atproto.errors import AccountUnavailable, ScopeMissing, XrpcError
from albums_core.adapters.atproto.oauth_grant import Grant, dpop_proof, token_expiring
from albums_core.adapters.atproto.safe_http import HttpReply
from albums_core.adapters.atproto.xrpc import PdsSession, Tokens, after_refresh, judge, send, xrpc_url


def _asks_for_nonce(reply: HttpReply) -> bool:
    if reply.status not in (400, 401):
        return False
    if "use_dpop_nonce" in reply.headers.get("www-authenticate", "").lower():
        return True
    return isinstance(reply.body, dict) and reply.body.get("error") == "use_dpop_nonce"


class DpopPdsSession(PdsSession):
    """The same calls for an OAuth session: the access token is DPoP-bound (a proof signed with
    the session's key on every request, carrying the PDS's nonce; a request the PDS answers with
    a new nonce is sent once more). Refreshes go through `refresher`, which serialises them
    across functions (session_store); `session_key` names the session for cleanup jobs."""

    def __init__(
        self,
        pds_url: str,
        did: str,
        grant: Grant,
        refresher: Callable[[Grant], Grant],
        on_nonce: Callable[[str], None] | None = None,
        session_key: str = "",
    ) -> None:
        super().__init__(pds_url, did, Tokens(grant.access_token, grant.refresh_token))
        self.grant = grant
        self.session_key = session_key
        self._refresher = refresher
        self._on_nonce = on_nonce

    def refresh(self) -> None:
        self.grant = self._refresher(self.grant)
        self.tokens = Tokens(self.grant.access_token, self.grant.refresh_token)

    def authed(self, method: str, nsid: str, **kw: Any) -> Any:
        if token_expiring(self.grant):
            self.refresh()
        try:
            return self._dpop_call(method, nsid, **kw)
        except XrpcError as exc:
            if exc.status != 401 or isinstance(exc, AccountUnavailable):
                raise
        self.refresh()
        return after_refresh(lambda: self._dpop_call(method, nsid, **kw))

    def _dpop_call(
        self,
        method: str,
        nsid: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
        timeout: float | None = None,
    ) -> Any:
        url = xrpc_url(self.pds_url, nsid, params)
        reply = None
        for attempt in range(2):
            headers = {
                "Authorization": f"DPoP {self.grant.access_token}",
                "DPoP": dpop_proof(method, url, self.grant),
            }
            reply = send(url, method, body=body, headers=headers, timeout=timeout)
            nonce = reply.headers.get("dpop-nonce")
            if nonce and nonce != self.grant.pds_nonce:
                self.grant.pds_nonce = nonce
                if self._on_nonce:
                    self._on_nonce(nonce)
            if attempt == 0 and nonce and _asks_for_nonce(reply):
                continue
            break
        assert reply is not None
        if reply.status == 403 and isinstance(reply.body, dict) and reply.body.get("error") == "ScopeMissingError":
            raise ScopeMissing(reply.status, str(reply.body.get("message", "")))
        return judge(reply)

"""Signing in with OAuth, as the web app does it: the PDS choices, the start (PAR, then the
authorization server's page), the callback (our session, then a one-time exchange token for
the frontend), and the exchange of that token for the session cookie or id."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from albums_core.config import ConfigurationError, pds_options_settings, settings
from albums_core.domain.errors import BadRequest, ServiceError, UpstreamFailure
from albums_core.domain.models import Artist
from albums_core.domain.sessions import STATE_TTL_SECONDS, Session
from albums_core.domain.upstream import (
    AuthServerUnavailable,
    IdentityUnavailable,
    NoAuthServer,
    OAuthFailure,
    PdsUnavailable,
    UnknownIdentity,
    UntrustedEndpoint,
)
from albums_core.observability import logger
from albums_core.ports import IdentityResolver, OAuthClient, SessionStore, SignInTokens
from albums_core.services.auth import IDENTITY_UNAVAILABLE, Auth, Parked
from albums_core.services.indexer import Indexing

FAILED, EXPIRED, SCOPE_MISMATCH = "failed", "expired", "scope_mismatch"
# The one refusal the web app names ("sign-in cancelled"); any other `error` is `failed`.
ACCESS_DENIED = "access_denied"
__all__ = ["STATE_TTL_SECONDS", "OAuthLogin"]


class InvalidExchangeToken(ServiceError):
    status = 401
    detail = "invalid or expired exchange token"


def pds_options() -> dict[str, Any]:
    """The PDS choices the sign-in page offers (AUTH_PDS_OPTIONS: a JSON list of
    {name, url, recommended, description, info_url}, validated at the function's init); none
    means the picker is off."""
    options = [option.model_dump() for option in pds_options_settings().pds_options]
    return {"enabled": bool(options), "options": options}


def _checked_pds_url(raw: str) -> str:
    url = raw.strip().rstrip("/")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - a port that is not a number raises here
    except ValueError as exc:
        raise BadRequest("pds_url must be a plain URL of a PDS") from exc
    local = settings().local_mode and parts.scheme == "http" and parts.hostname in ("localhost", "127.0.0.1")
    if parts.scheme != "https" and not local:
        raise BadRequest("pds_url must be an https URL")
    if not parts.hostname or parts.username or parts.password or parts.query or parts.fragment:
        raise BadRequest("pds_url must be a plain URL of a PDS")
    if parts.path not in ("", "/"):
        raise BadRequest("pds_url must be a plain URL of a PDS")
    return url


@dataclass(frozen=True)
class Started:
    """Where the browser goes (the authorization server's authorize page) and the state the
    flow was started with: the browser keeps it in a cookie, and the callback must bring both."""

    location: str
    state: str


def _frontend(path: str, **params: str) -> str:
    """A page of the web app (FRONTEND_URL, from the deployment only: nothing in the request
    names where the browser goes). An absolute https URL (http on loopback), else the exchange
    token would go to wherever a relative or odd URL lands."""
    base = settings().frontend_url
    try:
        parts = urlsplit(base)
        loopback = parts.hostname in ("localhost", "127.0.0.1", "::1")
    except ValueError:
        parts, loopback = urlsplit(""), False
    if (
        not (parts.scheme == "https" or (parts.scheme == "http" and loopback))
        or not parts.hostname
        or parts.username
        or parts.password
        or parts.query
        or parts.fragment
    ):
        raise ConfigurationError("FRONTEND_URL must be an absolute https URL (http only on loopback)")
    return f"{base}{path}?{urlencode(params)}"


def failure_url(reason: str) -> str:
    return _frontend("/", auth_error=reason)


@dataclass(frozen=True)
class SignedIn:
    session: Session
    artist: Artist


def same_browser(state: str, browser_state: str | None) -> bool:
    """The callback comes from the browser that started the flow: it brings back, in its
    cookie, the state it was given (else someone else's code could sign this browser in)."""
    if not state or not browser_state:
        return False
    return hmac.compare_digest(state.encode("utf-8", "surrogatepass"), browser_state.encode("utf-8", "surrogatepass"))


def is_browser(headers: dict[str, str] | None) -> bool:
    """A browser's fetch carries Origin or Sec-Fetch-* headers (scripts do not): it gets the
    HttpOnly cookie instead of the session id in the body."""
    names = {k.lower() for k in (headers or {})}
    return "origin" in names or "sec-fetch-mode" in names or "sec-fetch-site" in names


class OAuthLogin:
    def __init__(
        self,
        oauth: OAuthClient,
        tokens: SignInTokens,
        sessions: SessionStore,
        identities: IdentityResolver,
        auth: Auth,
        parked: Parked,
        indexing: Indexing,
    ) -> None:
        self.oauth = oauth
        self.tokens = tokens
        self.sessions = sessions
        self.identities = identities
        self.auth = auth
        self.parked = parked
        self.indexing = indexing

    def start(self, handle: str | None, pds_url: str | None, request_base: str = "") -> Started:
        """The authorization server's authorize URL, after a pushed authorization request."""
        handle = handle.strip() if handle else None
        pds_url = pds_url.strip() if pds_url else None
        if bool(handle) == bool(pds_url):
            raise BadRequest("give exactly one of handle or pds_url")
        try:
            if handle:
                try:
                    who = self.identities.resolve(handle)
                except UnknownIdentity as exc:
                    raise BadRequest("handle could not be resolved") from exc
                return Started(*self.oauth.begin(who.did, request_base))
            return Started(*self.oauth.begin_at_pds(_checked_pds_url(pds_url or ""), request_base))
        except UntrustedEndpoint as exc:
            logger.info("authorization server refused", extra={"reason": str(exc)[:300]})
            raise BadRequest(f"sign-in refused: {exc}") from exc
        except NoAuthServer as exc:
            logger.info("no usable authorization server", extra={"reason": str(exc)[:300]})
            raise BadRequest("the account's PDS does not offer OAuth sign-in we can use") from exc
        except IdentityUnavailable as exc:
            raise UpstreamFailure(IDENTITY_UNAVAILABLE) from exc
        except (AuthServerUnavailable, PdsUnavailable) as exc:
            raise UpstreamFailure("the account's PDS could not be reached; try again") from exc

    def callback(self, params: dict[str, str], request_base: str = "", browser_state: str | None = None) -> str:
        """Where the browser goes next: the portal with a one-time exchange token, or the
        frontend's home page with the reason the sign-in failed. `browser_state` is the state
        the browser's cookie holds (set by the start)."""
        state = params.get("state") or ""
        if params.get("error"):
            logger.info("authorization refused", extra={"error": params.get("error", "")[:100]})
            self.tokens.discard_state(state)
            return failure_url(ACCESS_DENIED if params.get("error") == ACCESS_DENIED else FAILED)
        code, iss = params.get("code") or "", params.get("iss") or ""
        if not code or not state or not iss:
            return failure_url(FAILED)
        if not same_browser(state, browser_state):
            logger.info("OAuth callback refused: the state is not the one this browser started")
            # No state cookie (it lasts as long as the state) or another one: start again.
            return failure_url(EXPIRED)
        try:
            signed_in = self.complete(code, state, iss, request_base)
        except OAuthFailure as exc:
            logger.info("OAuth callback refused", extra={"reason": exc.reason, "why": str(exc)[:300]})
            return failure_url(exc.reason)
        except (UnknownIdentity, PdsUnavailable, AuthServerUnavailable) as exc:
            logger.warning("OAuth callback failed", extra={"why": str(exc)[:300]})
            return failure_url(FAILED)
        except Exception:  # noqa: BLE001 - a browser is navigating: it goes back to the frontend, told it failed
            logger.exception("OAuth callback failed unexpectedly")
            return failure_url(FAILED)
        try:
            token = self.tokens.issue_exchange_token(signed_in.session.session_id)
        except Exception:  # noqa: BLE001 - as above
            logger.exception("OAuth callback could not issue the exchange token")
            return failure_url(FAILED)
        return _frontend("/portal", exchange_token=token)

    def complete(self, code: str, state: str, iss: str, request_base: str = "") -> SignedIn:
        finished = self.oauth.finish(code, state, iss, request_base)
        # Asked again (not from the container cache), as a login does: the verified handle and the PDS.
        who = self.identities.resolve(finished.did, fresh=True)
        artist = self.auth.upsert_artist(who)
        session = self.sessions.create_oauth(who.did, who.handle, who.pds_url, finished.grant)
        resumed = self.parked.resume_parked(who.did, session_ref=session.key)
        if resumed:
            logger.info("parked cleanups resumed", extra={"jobs": resumed})
        try:
            # Bounded as a login's: the rest in the background, so the callback answers in time.
            self.indexing.index_at_login(artist)
        except Exception:  # noqa: BLE001 - the sign-in stands; POST /artists/me/sync retries the indexing
            logger.warning("indexing at sign-in failed", exc_info=True)
        return SignedIn(session, artist)

    def exchange(self, token: str) -> Session:
        session_id = self.tokens.redeem_exchange_token(token)
        if session_id is None:
            raise InvalidExchangeToken()
        return self.sessions.load(session_id)

    def client_metadata(self, request_base: str = "") -> dict[str, Any]:
        return self.oauth.client_metadata(request_base)

    def jwks(self) -> dict[str, Any]:
        return self.oauth.jwks()

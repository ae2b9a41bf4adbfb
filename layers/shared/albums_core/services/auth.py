"""Logging in with an app password, logging out, and the guard of artist-only endpoints."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from albums_core.domain.errors import Forbidden, InvalidSession, ServiceError, Unauthenticated, UpstreamFailure
from albums_core.domain.models import Artist
from albums_core.domain.public_urls import public_url
from albums_core.domain.sessions import Session, Tokens
from albums_core.domain.text_rules import record_text
from albums_core.domain.upstream import Identity, IdentityUnavailable, PdsUnavailable, UnknownIdentity, XrpcError
from albums_core.observability import logger
from albums_core.ports import Artists, IdentityResolver, PdsAccounts, PdsReader, SessionStore

# The DID document (the PLC directory, a did:web host) or the handle's DNS did not answer.
IDENTITY_UNAVAILABLE = (
    "the account's identity could not be resolved (its DID document or handle did not answer); try again"
)


class LoginFailed(ServiceError):
    status = 401
    detail = "invalid identifier or password"


class ArtistProfileRequired(Forbidden):
    detail = "artist_profile_required"


@dataclass(frozen=True)
class Caller:
    session: Session
    artist: Artist


def _text(value: object, limit: int) -> str | None:
    return (value.strip()[:limit] or None) if isinstance(value, str) else None


class Parked(Protocol):
    """What a sign-in resumes: the cleanups that waited for the artist's new credentials
    (services.cleanup.Cleanup.resume_parked)."""

    def resume_parked(self, did: str, tokens: Tokens | None = None, session_ref: str = "") -> int: ...


class Auth:
    def __init__(
        self,
        repo: Artists,
        sessions: SessionStore,
        accounts: PdsAccounts,
        identities: IdentityResolver,
        reader: PdsReader,
        parked: Parked,
    ) -> None:
        self.repo = repo
        self.sessions = sessions
        self.accounts = accounts
        self.identities = identities
        self.reader = reader
        self.parked = parked

    def _profile(self, pds_url: str, did: str) -> tuple[str | None, str | None, str | None]:
        """Display name, avatar URL and bio (the description) from the account's profile
        record, when there is one."""
        try:
            record = self.reader.profile(pds_url, did)
        except (XrpcError, PdsUnavailable):
            return None, None, None
        if record is None:
            return None, None, None
        name = record.value.get("displayName")
        avatar = record.value.get("avatar")
        cid = None
        if isinstance(avatar, dict):
            ref = avatar.get("ref")
            cid = ref.get("$link") if isinstance(ref, dict) else None
        # The PDS endpoint comes from a DID document anyone can write.
        avatar_url = public_url(self.reader.blob_url(pds_url, did, cid) if isinstance(cid, str) else None)
        # The bio keeps its line breaks (a name is folded to one line); the lexicon's limit is
        # 2560 graphemes: characters are a safe upper bound here.
        return record_text(name, 640), avatar_url, _text(record.value.get("description"), 2560 * 4)

    def upsert_artist(self, who: Identity) -> Artist:
        """The signed-in account as an artist: its verified handle, profile name and avatar."""
        display_name, avatar_url, bio = self._profile(who.pds_url, who.did)
        artist = Artist(
            did=who.did,
            handle=who.handle,
            display_name=display_name or who.handle,
            avatar_url=avatar_url,
            pds_url=who.pds_url,
            bio=bio,
        )
        self.repo.upsert_artist(artist)
        return artist

    def login(self, identifier: str, password: str) -> tuple[Session, Artist]:
        try:
            # Asked again, not taken from the container's cache: a login re-proves who the account is.
            who = self.identities.resolve(identifier, fresh=True)
            did, tokens = self.accounts.sign_in(who.pds_url, who.did, password)
        except (UnknownIdentity, XrpcError) as exc:
            logger.info("login refused", extra={"reason": type(exc).__name__})
            raise LoginFailed() from exc
        except IdentityUnavailable as exc:
            raise UpstreamFailure(IDENTITY_UNAVAILABLE) from exc
        except PdsUnavailable as exc:
            raise UpstreamFailure("the account's PDS could not be reached; try again") from exc
        if did != who.did:
            raise LoginFailed()
        artist = self.upsert_artist(who)
        session = self.sessions.create(who.did, who.handle, who.pds_url, tokens)
        resumed = self.parked.resume_parked(who.did, tokens)
        if resumed:
            logger.info("parked cleanups resumed", extra={"jobs": resumed})
        return session, artist

    def logout(self, session: Session) -> None:
        """Ends the session here and on the PDS: an app-password session is deleted there, an
        OAuth grant revoked at its authorization server."""
        if session.grant is not None:
            self.accounts.sign_out(session)
            self.sessions.delete(session.session_id)
            return
        try:
            self.accounts.sign_out(session)
        except (XrpcError, PdsUnavailable):
            logger.info("PDS session not deleted; ours is")
        self.sessions.delete(session.session_id)

    def require_session(self, headers: Mapping[str, str] | None, cookies: Sequence[str] | None) -> Session:
        session_id = self.sessions.credentials(headers, cookies)
        if not session_id:
            raise Unauthenticated()
        return self.sessions.load(session_id)

    def require_artist(self, headers: Mapping[str, str] | None, cookies: Sequence[str] | None) -> Caller:
        session = self.require_session(headers, cookies)
        artist = self.repo.get_artist(session.did)
        if artist is None:
            raise ArtistProfileRequired()
        return Caller(session, artist)

    def me(self, session: Session) -> dict[str, Any]:
        """The session's account. `linked_accounts` and `enabled_flags` are what the plyr.fm web
        app's user object carries (its account menu takes the avatar from the linked account of
        the session's DID): one session is one account here, and no feature flags are set."""
        artist = self.repo.get_artist(session.did)
        handle = artist.handle if artist else session.handle
        avatar = public_url(artist.avatar_url) if artist else None
        return {
            "did": session.did,
            "handle": handle,
            "display_name": artist.display_name if artist else None,
            "avatar_url": avatar,
            "is_artist": artist is not None,
            "linked_accounts": [{"did": session.did, "handle": handle, "avatar_url": avatar}],
            "enabled_flags": [],
        }

    # Guards run before routing and body validation: they take the API Gateway event.

    def session_guard(self, event: dict[str, Any]) -> Session:
        return self.require_session(event.get("headers"), event.get("cookies"))

    def artist_guard(self, event: dict[str, Any]) -> Caller:
        return self.require_artist(event.get("headers"), event.get("cookies"))


__all__ = ["Auth", "Caller", "InvalidSession", "LoginFailed"]

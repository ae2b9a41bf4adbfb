"""Logging in with an app password, logging out, and the guard of artist-only endpoints."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from albums_core.adapters.atproto import identity, xrpc
from albums_core.adapters.dynamodb.catalogue import CatalogueRepository, CatalogueWriter
from albums_core.adapters.dynamodb.session_lookup import credentials_from
from albums_core.adapters.dynamodb.session_store import Session, create_session, delete_session, load_session
from albums_core.domain.errors import Forbidden, InvalidSession, ServiceError, Unauthenticated, UpstreamFailure
from albums_core.domain.models import Artist
from albums_core.domain.public_urls import public_url
from albums_core.domain.text_rules import record_text
from albums_core.observability import logger

PROFILE_COLLECTION = "app.bsky.actor.profile"
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


def _profile(pds_url: str, did: str) -> tuple[str | None, str | None, str | None]:
    """Display name, avatar URL and bio (the description) from the account's profile record,
    when there is one."""
    try:
        record = xrpc.get_record(pds_url, did, PROFILE_COLLECTION, "self")
    except (xrpc.XrpcError, xrpc.PdsUnavailable):
        return None, None, None
    if record is None:
        return None, None, None
    name = record.value.get("displayName")
    avatar = record.value.get("avatar")
    cid = None
    if isinstance(avatar, dict):
        ref = avatar.get("ref")
        cid = ref.get("$link") if isinstance(ref, dict) else None
    avatar_url = public_url(  # the PDS endpoint comes from a DID document anyone can write
        f"{pds_url}/xrpc/com.atproto.sync.getBlob?{urlencode({'did': did, 'cid': cid})}"
        if isinstance(cid, str)
        else None
    )
    # The bio keeps its line breaks (a name is folded to one line); the lexicon's limit is 2560
    # graphemes: characters are a safe upper bound here.
    return record_text(name, 640), avatar_url, _text(record.value.get("description"), 2560 * 4)


def upsert_artist(who: identity.Identity, repo: CatalogueWriter | None = None) -> Artist:
    """The signed-in account as an artist: its verified handle, profile name and avatar."""
    display_name, avatar_url, bio = _profile(who.pds_url, who.did)
    artist = Artist(
        did=who.did,
        handle=who.handle,
        display_name=display_name or who.handle,
        avatar_url=avatar_url,
        pds_url=who.pds_url,
        bio=bio,
    )
    (repo or CatalogueWriter()).upsert_artist(artist)
    return artist


def login(identifier: str, password: str, repo: CatalogueWriter | None = None) -> tuple[Session, Artist]:
    repo = repo or CatalogueWriter()
    try:
        # Asked again, not taken from the container's cache: a login re-proves who the account is.
        who = identity.resolve(identifier, fresh=True)
        out = xrpc.create_session(who.pds_url, who.did, password)
    except (identity.UnknownIdentity, xrpc.XrpcError) as exc:
        logger.info("login refused", extra={"reason": type(exc).__name__})
        raise LoginFailed() from exc
    except identity.IdentityUnavailable as exc:
        raise UpstreamFailure(IDENTITY_UNAVAILABLE) from exc
    except xrpc.PdsUnavailable as exc:
        raise UpstreamFailure("the account's PDS could not be reached; try again") from exc
    if out.get("did") != who.did:
        raise LoginFailed()
    tokens = xrpc.Tokens(str(out["accessJwt"]), str(out["refreshJwt"]))
    artist = upsert_artist(who, repo)
    session = create_session(who.did, who.handle, who.pds_url, tokens)
    from albums_core.services.cleanup import resume_parked

    resumed = resume_parked(repo, who.did, tokens)
    if resumed:
        logger.info("parked cleanups resumed", extra={"jobs": resumed})
    return session, artist


def logout(session: Session) -> None:
    """Ends the session here and on the PDS: an app-password session is deleted there, an
    OAuth grant revoked at its authorization server."""
    if session.grant is not None:
        from albums_core.adapters.atproto import oauth_client

        oauth_client.revoke(session.did, session.pds_url, session.grant)
        delete_session(session.session_id)
        return
    try:
        xrpc.call(session.pds_url, "POST", "com.atproto.server.deleteSession", token=session.tokens.refresh_jwt)
    except (xrpc.XrpcError, xrpc.PdsUnavailable):
        logger.info("PDS session not deleted; ours is")
    delete_session(session.session_id)


def require_session(headers: Mapping[str, str] | None, cookies: Sequence[str] | None) -> Session:
    session_id = credentials_from(headers, cookies)
    if not session_id:
        raise Unauthenticated()
    return load_session(session_id)


def require_artist(
    headers: Mapping[str, str] | None, cookies: Sequence[str] | None, repo: CatalogueRepository | None = None
) -> Caller:
    session = require_session(headers, cookies)
    artist = (repo or CatalogueRepository()).get_artist(session.did)
    if artist is None:
        raise ArtistProfileRequired()
    return Caller(session, artist)


def me(session: Session, repo: CatalogueRepository | None = None) -> dict[str, Any]:
    """The session's account. `linked_accounts` and `enabled_flags` are what the plyr.fm web
    app's user object carries (its account menu takes the avatar from the linked account of
    the session's DID): one session is one account here, and no feature flags are set."""
    artist = (repo or CatalogueRepository()).get_artist(session.did)
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


__all__ = ["Caller", "InvalidSession", "login", "logout", "me", "require_artist", "require_session"]


# Guards run before routing and body validation: they take the API Gateway event.


def session_guard(event: dict[str, Any]) -> Session:
    return require_session(event.get("headers"), event.get("cookies"))


def artist_guard(event: dict[str, Any]) -> Caller:
    return require_artist(event.get("headers"), event.get("cookies"))

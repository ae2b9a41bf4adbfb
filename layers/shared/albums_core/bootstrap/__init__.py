"""The composition root: each adapter built once per container (the cached factories below),
handed to the services, which take ports and never build an adapter themselves. Handlers
(functions/*/app.py) ask this package for a wired service or a guard; tests build services
with fakes, or ask here for the production wiring.

Adapters are imported inside their factories: a function loads only what its services use
(the read functions never load the ATProto SDK or Pillow). `reset()` forgets every built
adapter, the ingestion's (bootstrap/firehose.py) too (tests that change the settings call it).

Service entry points are traced (`tracer.capture_method`) when tracing is on; with tracing
off (local runs, tests) the services are handed over unwrapped, at no cost."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any, TypeVar

from albums_core.observability import tracer

if TYPE_CHECKING:
    from albums_core.adapters.atproto.gateway import (
        AtprotoAccounts,
        AtprotoIdentities,
        AtprotoOAuth,
        AtprotoReader,
        AtprotoWriter,
    )
    from albums_core.adapters.dynamodb.catalogue import CatalogueWriter
    from albums_core.adapters.dynamodb.page_cache import AlbumPageCache
    from albums_core.adapters.dynamodb.session_store import DynamoSessionStore
    from albums_core.adapters.kms_sealer import KmsSealer
    from albums_core.adapters.s3_covers import S3CoverStore
    from albums_core.domain.sessions import Session
    from albums_core.ports import JobQueue
    from albums_core.services.album_admin import AlbumAdmin
    from albums_core.services.album_pages import AlbumPages
    from albums_core.services.artist_profiles import ArtistProfiles
    from albums_core.services.auth import Auth, Caller
    from albums_core.services.cleanup import Cleanup
    from albums_core.services.covers import Covers
    from albums_core.services.developer_tokens import DeveloperTokens
    from albums_core.services.indexer import Indexing
    from albums_core.services.listing import Listings
    from albums_core.services.oauth_login import OAuthLogin
    from albums_core.services.stream_events import StreamEvents
    from albums_core.services.subsonic import SubsonicCatalogue
    from albums_core.services.subsonic_auth import SubsonicAuth
    from albums_core.services.sweep import Sweep

T = TypeVar("T")

# ---- tracing ---------------------------------------------------------------------------------


def traced(service: T, *entry_points: str) -> T:
    """The service with its entry points traced as subsegments; unchanged when tracing is off."""
    if tracer.disabled:
        return service
    for name in entry_points:
        setattr(service, name, tracer.capture_method(getattr(service, name)))
    return service


# ---- adapters, one of each per container -----------------------------------------------------


@cache
def catalogue() -> CatalogueWriter:
    from albums_core.adapters.dynamodb.catalogue import CatalogueWriter

    return CatalogueWriter()


@cache
def page_cache() -> AlbumPageCache:
    from albums_core.adapters.dynamodb.page_cache import AlbumPageCache

    return AlbumPageCache()


@cache
def cover_objects() -> S3CoverStore:
    from albums_core.adapters.s3_covers import S3CoverStore

    return S3CoverStore()


@cache
def sessions() -> DynamoSessionStore:
    from albums_core.adapters.dynamodb.session_store import DynamoSessionStore

    return DynamoSessionStore()


@cache
def sealer() -> KmsSealer:
    from albums_core.adapters.kms_sealer import KmsSealer

    return KmsSealer()


@cache
def jobs() -> JobQueue:
    from albums_core.adapters.dynamodb.jobs import CleanupJobs

    return CleanupJobs(catalogue())


@cache
def pds_writer() -> AtprotoWriter:
    from albums_core.adapters.atproto.gateway import AtprotoWriter

    return AtprotoWriter()


@cache
def pds_reader() -> AtprotoReader:
    from albums_core.adapters.atproto.gateway import AtprotoReader

    return AtprotoReader()


@cache
def pds_accounts() -> AtprotoAccounts:
    from albums_core.adapters.atproto.gateway import AtprotoAccounts

    return AtprotoAccounts()


@cache
def identities() -> AtprotoIdentities:
    from albums_core.adapters.atproto.gateway import AtprotoIdentities

    return AtprotoIdentities()


@cache
def oauth_client() -> AtprotoOAuth:
    from albums_core.adapters.atproto.gateway import AtprotoOAuth

    return AtprotoOAuth()


# ---- services ---------------------------------------------------------------------------------


@cache
def covers() -> Covers:
    from albums_core.services.covers import Covers

    service = Covers(catalogue(), cover_objects(), page_cache())
    return traced(service, "attach", "attach_direct", "upload_form", "accept_upload")


@cache
def cleanup() -> Cleanup:
    from albums_core.services.cleanup import Cleanup

    service = Cleanup(catalogue(), jobs(), sealer(), pds_writer(), sessions(), page_cache(), cover_objects())
    return traced(service, "hand_over", "run_job", "resume_parked")


def indexing(repo: Any = None) -> Indexing:
    """The indexer on the catalogue (or on `repo`, a catalogue a caller wraps)."""
    return _indexing() if repo is None else _build_indexing(repo)


@cache
def _indexing() -> Indexing:
    return _build_indexing(catalogue())


def _build_indexing(repo: Any) -> Indexing:
    from albums_core.services.indexer import Indexing

    service = Indexing(repo, pds_reader(), page_cache(), jobs())
    return traced(service, "index", "sync_for_caller", "run_backfill", "index_at_login")


@cache
def auth() -> Auth:
    from albums_core.services.auth import Auth

    service = Auth(catalogue(), sessions(), pds_accounts(), identities(), pds_reader(), cleanup())
    return traced(service, "login", "logout", "require_session", "require_artist", "me")


@cache
def oauth_login() -> OAuthLogin:
    from albums_core.adapters.dynamodb.sign_in_tokens import DynamoSignInTokens
    from albums_core.services.oauth_login import OAuthLogin

    service = OAuthLogin(oauth_client(), DynamoSignInTokens(), sessions(), identities(), auth(), cleanup(), indexing())
    return traced(service, "start", "callback", "exchange")


def album_admin(caller: Caller, repo: Any = None) -> AlbumAdmin:
    """The album admin of one request's caller (on `repo`, a catalogue a test wraps)."""
    from albums_core.services.album_admin import AlbumAdmin

    return AlbumAdmin(caller, repo=repo or catalogue(), cache=page_cache(), jobs=cleanup(), writer=pds_writer())


@cache
def album_pages() -> AlbumPages:
    from albums_core.services.album_pages import AlbumPages

    return traced(AlbumPages(catalogue(), page_cache(), pds_reader()), "render")


@cache
def artist_profiles() -> ArtistProfiles:
    from albums_core.services.artist_profiles import ArtistProfiles

    return traced(ArtistProfiles(catalogue(), page_cache()), "by_handle", "by_did")


@cache
def listings() -> Listings:
    from albums_core.adapters.cursor_signing import SignedCursors
    from albums_core.services.listing import Listings

    return traced(Listings(catalogue(), SignedCursors()), "list_albums", "list_artist_albums")


@cache
def developer_token_store() -> Any:
    from albums_core.adapters.dynamodb.developer_tokens import DynamoDeveloperTokens

    return DynamoDeveloperTokens()


@cache
def developer_tokens() -> DeveloperTokens:
    from albums_core.services.developer_tokens import DeveloperTokens

    return traced(DeveloperTokens(developer_token_store(), sealer()), "create", "list", "revoke")


@cache
def subsonic_auth() -> SubsonicAuth:
    from albums_core.services.subsonic_auth import SubsonicAuth

    return traced(SubsonicAuth(developer_token_store(), sealer()), "authenticate")


@cache
def subsonic_catalogue() -> SubsonicCatalogue:
    from albums_core.adapters.dynamodb.subsonic_store import SubsonicStore
    from albums_core.services.subsonic import SubsonicCatalogue

    return SubsonicCatalogue(catalogue(), SubsonicStore(), album_pages())


@cache
def stream_events() -> StreamEvents:
    from albums_core.adapters.dynamodb.stream_plumbing import CatalogueStreamPlumbing
    from albums_core.services.stream_events import StreamEvents

    def like_reread(job_id: str) -> str:  # a liker's likes read again after a firehose gap, afresh per job
        from albums_core.bootstrap import firehose

        return firehose.like_reread().run(job_id)

    service = StreamEvents(
        catalogue(),
        page_cache(),
        cover_objects(),
        CatalogueStreamPlumbing(),
        cleanup(),
        indexing(),
        like_reread,
    )
    return traced(service, "handle")


def sweep(now: datetime, budget: int = 500) -> Sweep:
    from albums_core.adapters.dynamodb.sweep_store import SweepStore
    from albums_core.services.sweep import Sweep

    repo = catalogue()
    service = Sweep(now, budget, repo=repo, objects=cover_objects(), store=SweepStore(repo), indexing=indexing())
    return traced(service, "run")


# ---- guards (they run before routing: each takes the API Gateway event) -----------------------


def session_guard(event: dict[str, Any]) -> Session:
    return auth().session_guard(event)


def artist_guard(event: dict[str, Any]) -> Caller:
    return auth().artist_guard(event)


def album_guard(message: str) -> Callable[[dict[str, Any]], Caller]:
    """The guard of an album's mutations (http.guards.album_guard) on the wired services."""
    from albums_core.http.guards import album_guard as _album_guard

    return _album_guard(message, artist_guard, album_admin)


def list_guard() -> Callable[[dict[str, Any]], Caller]:
    from albums_core.http.guards import list_guard as _list_guard

    return _list_guard(artist_guard, album_admin)


_FACTORIES: tuple[Any, ...] = (
    catalogue,
    page_cache,
    cover_objects,
    sessions,
    sealer,
    jobs,
    pds_writer,
    pds_reader,
    pds_accounts,
    identities,
    oauth_client,
    covers,
    cleanup,
    _indexing,
    auth,
    oauth_login,
    album_pages,
    artist_profiles,
    listings,
    developer_token_store,
    developer_tokens,
    subsonic_auth,
    subsonic_catalogue,
    stream_events,
)


def reset() -> None:
    """Forget every adapter and service built so far (the next call builds them again)."""
    for factory in _FACTORIES:
        factory.cache_clear()
    # The ingestion's wiring too, when this container loaded it (importing it here would load
    # the ATProto SDK into every function).
    ingestion = sys.modules.get(f"{__name__}.firehose")
    if ingestion is not None:
        ingestion.reset()

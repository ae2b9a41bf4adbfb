"""What the services need from the world, as Protocols, by area:

- ports/catalogue.py: the catalogue, one port per aggregate (artists, albums and slugs, tracks,
  claims and leases, likes) and each service's view of it (`Catalogue`, `IndexCatalogue`, ...);
- ports/pds.py: an artist's PDS session, the PDS writer (sessions, record edits), the public
  reader, app-password sign-in, the identity resolver;
- ports/stores.py: the page cache, sessions, the sealer, cover objects, developer tokens, the
  catalogue's jobs, the sweep's and the firehose gap's state, signed cursors, the stream's
  plumbing;
- ports/oauth.py: the OAuth client and the sign-in's state and exchange tokens.

Adapters implement them (adapters/); albums_core.bootstrap builds the adapters once per
container and hands them to the services, which take them in their constructors (or as
parameters) and never build one; tests/fakes holds in-memory fakes. Only our own ports are
here, never a library's interface; the value types they speak are the domain's."""

from __future__ import annotations

from albums_core.ports.catalogue import (
    AlbumLeases,
    AlbumReads,
    AlbumWrites,
    ArtistDirectory,
    ArtistReads,
    Artists,
    ArtistWrites,
    Catalogue,
    CleanupCatalogue,
    CoverCatalogue,
    FormerSlugs,
    ImageReferences,
    IndexCatalogue,
    IndexedTracks,
    Likes,
    ListingCatalogue,
    PageCatalogue,
    ReleasedTracks,
    StreamCatalogue,
    TrackReads,
)
from albums_core.ports.oauth import Finished, OAuthClient, SignInTokens
from albums_core.ports.pds import IdentityResolver, Pds, PdsAccounts, PdsReader, PdsWriter, RecordEditor
from albums_core.ports.stores import (
    CoverObjects,
    CursorSigner,
    DeletionJobs,
    DeveloperTokenStore,
    FirehoseGaps,
    ItemChange,
    JobQueue,
    ListedObjects,
    PageCache,
    Sealer,
    SessionStore,
    StoredObject,
    StreamPlumbing,
    SubsonicStore,
    SweepStore,
)

__all__ = [
    "AlbumLeases",
    "AlbumReads",
    "AlbumWrites",
    "ArtistDirectory",
    "ArtistReads",
    "ArtistWrites",
    "Artists",
    "Catalogue",
    "CleanupCatalogue",
    "CoverCatalogue",
    "CoverObjects",
    "CursorSigner",
    "DeletionJobs",
    "DeveloperTokenStore",
    "Finished",
    "FirehoseGaps",
    "FormerSlugs",
    "IdentityResolver",
    "ImageReferences",
    "IndexCatalogue",
    "IndexedTracks",
    "ItemChange",
    "JobQueue",
    "Likes",
    "ListedObjects",
    "ListingCatalogue",
    "OAuthClient",
    "PageCache",
    "PageCatalogue",
    "Pds",
    "PdsAccounts",
    "PdsReader",
    "PdsWriter",
    "RecordEditor",
    "ReleasedTracks",
    "Sealer",
    "SessionStore",
    "SignInTokens",
    "StoredObject",
    "StreamCatalogue",
    "StreamPlumbing",
    "SubsonicStore",
    "SweepStore",
    "TrackReads",
]

"""Identity and account events. An #identity event has the DID resolved again (its handle is only
a hint): the artist, the handle pointer and the pages move to the verified handle and PDS. An
#account event describes the host that sent it: before anyone is hidden (or shown again), the
DID's current PDS is asked whether the repository is really inactive."""

from __future__ import annotations

from dataclasses import replace

from albums_core.domain.firehose_events import AccountChange, IdentityChange, RepoStatus
from albums_core.domain.models import Artist
from albums_core.domain.upstream import PdsUnavailable, UnknownIdentity, XrpcError
from albums_core.ports.firehose import AlbumPages, FirehoseCatalogue, IdentityResolver, PdsReader, RepoStates
from albums_core.services.firehose.held import HeldCatalogue
from albums_core.services.firehose.planning import BatchReport


class AccountIngest:
    def __init__(
        self,
        catalogue: FirehoseCatalogue,
        repos: RepoStates,
        held: HeldCatalogue,
        pds: PdsReader,
        identities: IdentityResolver,
        pages: AlbumPages,
    ) -> None:
        self.catalogue = catalogue
        self.repos = repos
        self.held = held
        self.pds = pds
        self.identities = identities
        self.pages = pages

    def identity(self, event: IdentityChange, report: BatchReport) -> None:
        artist = self.catalogue.get_artist(event.did)
        if artist is None:
            report.counts["skipped_identity_unknown"] += 1
            return
        # The container's identity cache may hold the DID's old document and handle.
        self.identities.forget(event.did, artist.handle, *([event.handle] if event.handle else []))
        try:
            who = self.identities.resolve(event.did)
        except UnknownIdentity:
            report.counts["skipped_identity_unresolved"] += 1
            return
        except (PdsUnavailable, XrpcError):
            report.counts["failed_identity"] += 1
            return
        if (who.handle, who.pds_url) == (artist.handle, artist.pds_url):
            report.counts["identity_unchanged"] += 1
            return
        old = artist.handle
        self.catalogue.upsert_artist(replace(artist, handle=who.handle, pds_url=who.pds_url))
        self.held.forget(event.did)
        for album in self.catalogue.artist_albums(event.did):
            self.pages.drop(old, album.slug)
        report.counts["identity_changed"] += 1
        report.counts["applied"] += 1

    def account(self, event: AccountChange, report: BatchReport) -> None:
        artist = self.catalogue.get_artist(event.did)
        if artist is None:
            report.counts["skipped_account_unknown"] += 1
            return
        hidden = bool(self.repos.repo_state(event.did).get("hidden"))
        self.identities.forget(event.did)  # a moved account's PDS is in its new document
        found = self._status(event.did)
        if found is None:
            report.counts["failed_account"] += 1
            return
        status, pds_url = found
        if status.active == (not hidden):
            report.counts["account_unchanged"] += 1
            return
        if status.active:
            self._restore(artist, pds_url)
            report.counts["accounts_restored"] += 1
        else:
            self._hide(artist, status.status)
            report.counts["accounts_hidden"] += 1
        report.counts["applied"] += 1

    def _status(self, did: str) -> tuple[RepoStatus, str] | None:
        """What the DID's current PDS says of its repository, and that PDS; None when it cannot
        be found out now. A DID that names no one, or a repository its PDS does not know, is
        deleted."""
        try:
            who = self.identities.resolve(did)
            return self.pds.repo_status(who.pds_url, did), who.pds_url
        except UnknownIdentity:
            return RepoStatus(False, "deleted"), ""
        except XrpcError as exc:
            if exc.status not in (400, 404):
                return None
            return RepoStatus(False, "deleted"), ""  # RepoNotFound on its own PDS
        except PdsUnavailable:
            return None

    def _restore(self, artist: Artist, pds_url: str) -> None:
        albums = self.catalogue.artist_albums(artist.did)
        self.held.forget(artist.did)
        self.repos.set_hidden(artist.did, False, None)
        self.catalogue.upsert_artist(replace(artist, pds_url=pds_url))
        for album in albums:
            self.repos.relist_album(album)

    def _hide(self, artist: Artist, reason: str | None) -> None:
        albums = self.catalogue.artist_albums(artist.did)
        self.held.forget(artist.did)
        self.repos.set_hidden(artist.did, True, str(reason or "inactive"))
        # The albums leave the listing before the artist leaves the reads by handle: once the
        # artist is gone, none of its albums is still listed.
        for album in albums:
            self.repos.unlist_album(album.id)
            self.pages.drop(artist.handle, album.slug)
        self.repos.hide_artist(artist)

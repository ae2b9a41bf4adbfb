"""Domain errors. Each carries its HTTP status and the message the contract gives it;
albums_core.http.web maps them to responses in one place."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from albums_core.domain.models import Track


class ServiceError(Exception):
    status = 500
    detail = "internal error"
    # The caller's session is deleted with this answer: it can never work again.
    ends_session = False

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail or self.detail)
        if detail is not None:
            self.detail = detail


class BadRequest(ServiceError):
    status = 400
    detail = "bad request"


class InvalidCursor(BadRequest):
    detail = "invalid cursor"


class Unauthenticated(ServiceError):
    status = 401
    detail = "not authenticated - login required"


class InvalidSession(Unauthenticated):
    detail = "invalid or expired session"


class Forbidden(ServiceError):
    status = 403
    detail = "forbidden"


class AccountRefused(Forbidden):
    """The artist's PDS refuses the account itself (deactivated, taken down, suspended) or the
    session's tokens even after a refresh: no retry changes that, so the session ends."""

    detail = "your PDS no longer accepts this account's session; log in again"
    ends_session = True


class NotFound(ServiceError):
    status = 404
    detail = "not found"


class ArtistNotFound(NotFound):
    detail = "artist not found"


class AlbumNotFound(NotFound):
    detail = "album not found"


class ListNotFound(NotFound):
    detail = "list not found"


class Conflict(ServiceError):
    status = 409
    detail = "conflict"


class PreconditionFailed(ServiceError):
    """If-Match named a version of the album that is not its current one."""

    status = 412
    detail = "the album has changed since the version named in If-Match; reload it and try again"


class Unprocessable(ServiceError):
    status = 422
    detail = "invalid input"


class UpstreamFailure(ServiceError):
    status = 502
    detail = "the artist's PDS could not complete the request"


class ConcurrentUpdate(Conflict):
    """A conditional write lost to another actor's change made meanwhile (the item moved, went
    or was taken): the caller decides whether that is a retry, a no-op or a 409."""

    detail = "the album changed meanwhile; try again"


class JobGone(NotFound):
    """A cleanup job is not there any more (another run finished it)."""

    detail = "cleanup job not found"


class TrackTaken(Conflict):
    detail = "track already belongs to another album"


class RecordHeld(Conflict):
    """A track item was to be created for a record that has one already (another writer
    created it meanwhile): `track` is that item, to update or move instead."""

    def __init__(self, track: Track) -> None:
        super().__init__("the track record has a track already")
        self.track = track

"""Guards of the album endpoints: what a request must show before its handler runs (wired to
the services by albums_core.bootstrap: `bootstrap.album_guard`, `bootstrap.list_guard`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from albums_core.http.conditional import check_if_match, if_match
from albums_core.services.album_admin import AlbumAdmin, AlbumCaller
from albums_core.services.auth import Caller


def album_guard(
    message: str,
    caller_of: Callable[[dict[str, Any]], Caller],
    admin_for: Callable[[Caller], AlbumAdmin],
) -> Callable[[dict[str, Any]], Caller]:
    """The guard of an album's mutations: a session, then the album exists (404), then it is
    the caller's (403 with `message`) - before the request's body or parameters are validated.
    The album it loads rides on the caller, so the handler does not read it again, with the
    versions its If-Match accepts (400 when malformed, 412 when the album is at another)."""

    def guard(event: dict[str, Any]) -> Caller:
        caller = caller_of(event)
        # API Gateway's own path parameters: the raw path carries the stage on a named stage.
        album_id = str((event.get("pathParameters") or {}).get("ref") or "")
        album = admin_for(caller).owned(album_id, message)
        expected = if_match(event)
        check_if_match(album, expected)  # early; the album's lease checks it again atomically
        return AlbumCaller(caller.session, caller.artist, album, expected)

    return guard


def list_guard(
    caller_of: Callable[[dict[str, Any]], Caller],
    admin_for: Callable[[Caller], AlbumAdmin],
) -> Callable[[dict[str, Any]], Caller]:
    """The guard of a list's mutations by its record key: a session, then the caller's album
    whose list record has that key (404 `list not found`), before the body is validated."""

    def guard(event: dict[str, Any]) -> Caller:
        caller = caller_of(event)
        rkey = str((event.get("pathParameters") or {}).get("rkey") or "")
        album = admin_for(caller).list_album(rkey)
        expected = if_match(event)
        check_if_match(album, expected)
        return AlbumCaller(caller.session, caller.artist, album, expected)

    return guard

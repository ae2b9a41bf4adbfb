"""Section 2: DynamoDB calls per request, counted on the client the layer uses."""

from __future__ import annotations

import copy
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from albums_core.adapters.aws_clients import dynamodb
from albums_core.adapters.dynamodb import keys
from albums_core.adapters.dynamodb.catalogue import CatalogueWriter
from albums_core.adapters.dynamodb.codec import to_item
from albums_core.adapters.dynamodb.page_cache import AlbumPageCache, artist_handle_cache_key, invalidate_album_cache
from albums_core.adapters.dynamodb.session_lookup import session_key
from albums_core.config import settings
from bench.common import CallRecorder, event, function_logs, heading, table, verdict, with_cookie
from local_runtime.lambda_host import InProcessHost
from local_runtime.stack import LocalStack


@dataclass
class Case:
    label: str
    function: str
    event: dict[str, Any]
    prepare: Callable[[], None] | None = None


def _create_session() -> str:
    """A live session in the sessions table; returns the id a browser would send."""
    session_id = secrets.token_urlsafe(24)
    dynamodb().put_item(
        TableName=settings().sessions_table,
        Item={
            "session_key": {"S": session_key(session_id)},
            "did": {"S": "did:plc:benchviewer2k4m6p8r0t2v4x"},
            "handle": {"S": "viewer.test"},
            "expires_at": {"N": str(int(time.time()) + 3600)},
        },
    )
    return session_id


def _former_slug(handle: str, slug: str, former: str) -> None:
    """The album at (handle, slug) had the slug `former` before a rename (as finish_rename
    leaves it), without renaming the album the other cases read."""
    repo = CatalogueWriter()
    artist = repo.get_artist_by_handle(handle)
    assert artist is not None
    album_id = repo.slug_owner(artist.did, slug)
    assert album_id is not None
    dynamodb().put_item(
        TableName=settings().catalogue_table,
        Item=to_item({**keys.former_slug(artist.did, former), "album_id": album_id}),
    )


def _former_slug_event(get_event: dict[str, Any]) -> dict[str, Any]:
    handle, slug = get_event["pathParameters"]["ref"], get_event["pathParameters"]["slug"]
    former = "bench-former-name"
    _former_slug(handle, slug, former)
    moved = copy.deepcopy(get_event)
    moved["pathParameters"]["slug"] = former
    for holder in (moved, moved["requestContext"]["http"]):
        key = "rawPath" if holder is moved else "path"
        holder[key] = holder[key].replace(f"/{slug}", f"/{former}")
    return moved


def _measure(host: InProcessHost, case: Case) -> tuple[int | None, CallRecorder]:
    # Preparation (the cache tombstone) happens before the recorder is on.
    if case.prepare:
        case.prepare()
    with function_logs(), CallRecorder(dynamodb()) as recorder:
        result = host.invoke(case.function, case.event)
    return (result.get("statusCode") if isinstance(result, dict) else None), recorder


def run(stack: LocalStack) -> list[tuple[str, bool]]:
    heading("2. DynamoDB calls per request (handlers in this process, botocore before-call events)")
    assert stack.stack and stack.moto
    # The calls are counted on the layer's own client: the handlers run here, not in workers.
    host = InProcessHost(stack.stack, stack.moto.url)
    get_event = event("get_album_200.json")
    handle, slug = get_event["pathParameters"]["ref"], get_event["pathParameters"]["slug"]
    session_event = with_cookie(get_event, f"session_id={_create_session()}")

    def miss() -> None:
        invalidate_album_cache(handle, slug)

    artist_event = event("get_artist_200.json")
    moved_event = _former_slug_event(get_event)

    def moved_miss() -> None:
        invalidate_album_cache(handle, moved_event["pathParameters"]["slug"])

    def artist_miss() -> None:
        AlbumPageCache().invalidate(artist_handle_cache_key(artist_event["pathParameters"]["handle"]))

    cases = [
        Case("get_album anonymous, cache miss", "GetAlbumFunction", get_event, miss),
        Case("get_album anonymous, cache hit", "GetAlbumFunction", get_event),
        Case("get_album with session, cache miss", "GetAlbumFunction", session_event, miss),
        Case("get_album with session, cache hit", "GetAlbumFunction", session_event),
        Case("list_albums, one page (limit=2)", "ListAlbumsFunction", event("list_albums_200.json")),
        Case("list_artist_albums", "ListArtistAlbumsFunction", event("list_artist_albums_200.json")),
        Case("get_album, a former slug (308), cache miss", "GetAlbumFunction", moved_event, moved_miss),
        Case("get_album, a former slug (308), cache hit", "GetAlbumFunction", moved_event),
        Case("get_artist by handle, cache miss", "GetArtistFunction", artist_event, artist_miss),
        Case("get_artist by handle, cache hit", "GetArtistFunction", artist_event),
        # If-None-Match with the page's current tag (set below, once the warm run shows it).
        Case("get_album anonymous, If-None-Match (304)", "GetAlbumFunction", copy.deepcopy(get_event)),
        Case("get_artist by handle, If-None-Match (304)", "GetArtistFunction", copy.deepcopy(artist_event)),
    ]
    # A warm container first: client creation and the cursor key's SSM read happen once per
    # container, not per request.
    for case in cases:
        _measure(host, case)
    for case, source in ((cases[10], get_event), (cases[11], artist_event)):
        tag = (host.invoke(case.function, source).get("headers") or {}).get("ETag", "")
        case.event["headers"] = {**case.event["headers"], "if-none-match": tag}

    measured = {c.label: _measure(host, c) for c in cases}
    count = {label: len(rec.calls) for label, (_, rec) in measured.items()}
    anon_miss, anon_hit = count[cases[0].label], count[cases[1].label]
    targets: dict[str, tuple[str, bool]] = {
        cases[0].label: ("<= 4", anon_miss <= 4),
        cases[1].label: ("= 1", anon_hit == 1),
        cases[2].label: (f"<= {anon_miss}+2", count[cases[2].label] <= anon_miss + 2),
        cases[3].label: (f"<= {anon_hit}+2", count[cases[3].label] <= anon_hit + 2),
        cases[4].label: ("= 2 (documented)", count[cases[4].label] == 2),
        cases[5].label: ("= 2 (documented)", count[cases[5].label] == 2),
        cases[6].label: ("<= 5", count[cases[6].label] <= 5),
        cases[7].label: ("= 1", count[cases[7].label] == 1),
        cases[8].label: ("<= 3", count[cases[8].label] <= 3),
        cases[9].label: ("= 1", count[cases[9].label] == 1),
        # A revalidation costs the one cache read and answers no body.
        cases[10].label: ("304, <= 1 read", measured[cases[10].label][0] == 304 and count[cases[10].label] <= 1),
        cases[11].label: ("304, <= 1 read", measured[cases[11].label][0] == 304 and count[cases[11].label] <= 1),
    }
    rows = []
    for label, (status, rec) in measured.items():
        target, met = targets[label]
        rows.append(
            [
                label,
                str(status),
                str(len(rec.calls)),
                str(rec.items_read),
                target,
                verdict(met),
                " > ".join(rec.operations),
            ]
        )
    print("  a warm container per function; a miss is forced by a cache tombstone written before the request")
    print()
    print(table(["request", "status", "calls", "items", "target", "met", "operations, in order"], rows, "llrrlll"))
    print()
    print("  calls per operation:")
    for label, (_, rec) in measured.items():
        print(f"    {label:<46} {rec.per_operation()}")
    return [(f"DynamoDB calls, {label}: {count[label]} ({targets[label][0]})", targets[label][1]) for label in count]

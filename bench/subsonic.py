"""Section 2, the Subsonic API: DynamoDB and KMS calls per request, counted after authentication
and, apart, the authentication itself; then sequential paging through 10,000 albums."""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

from albums_core import bootstrap
from albums_core.adapters.aws_clients import client, dynamodb
from albums_core.adapters.dynamodb.catalogue import CatalogueRepository
from albums_core.adapters.dynamodb.subsonic_store import SubsonicStore
from albums_core.services.subsonic import SubsonicCatalogue
from albums_core.services.subsonic_auth import KEEP_SECONDS
from bench import paging
from bench.common import CallRecorder, event, function_logs, heading, table, verdict
from local_runtime.lambda_host import InProcessHost
from local_runtime.stack import LocalStack, aws_session

BROWSE, SYSTEM = "SubsonicBrowseFunction", "SubsonicSystemFunction"
PAGE = 500  # getAlbumList2's largest page
FLAT = 1.3


def _request(host: InProcessHost, function: str, method: str, query: dict[str, str]) -> dict[str, Any]:
    ev = event("subsonic_system_200_ping_without_credentials.json")
    ev["rawPath"] = ev["requestContext"]["http"]["path"] = f"/rest/{method}"
    query = {**query, "f": "json"}
    ev["rawQueryString"] = "&".join(f"{k}={v}" for k, v in query.items())
    ev["queryStringParameters"] = query
    with function_logs():
        out = host.invoke(function, ev)
    body: dict[str, Any] = json.loads(out["body"])["subsonic-response"]
    if body["status"] != "ok":
        raise RuntimeError(f"{method}: {body}")
    return body


def _counted(host: InProcessHost, function: str, method: str, query: dict[str, str]) -> tuple[CallRecorder, int]:
    with CallRecorder(dynamodb()) as calls, CallRecorder(client("kms")) as kms:
        _request(host, function, method, query)
    return calls, len(kms.calls)


def _md5(token: str, user: str, salt: str) -> dict[str, str]:
    digest = hashlib.md5((token + salt).encode(), usedforsecurity=False).hexdigest()
    return {"u": user, "t": digest, "s": salt}


def run(stack: LocalStack) -> list[tuple[str, bool]]:
    heading("2b. The Subsonic API: calls per request (handlers in this process)")
    assert stack.stack and stack.moto
    repo = CatalogueRepository()
    handle = event("get_album_200.json")["pathParameters"]["ref"]
    artist = repo.get_artist_by_handle(handle)
    assert artist is not None
    token = bootstrap.developer_tokens().create(artist.did, artist.handle, "bench")["token"]
    summary: list[tuple[str, bool]] = []

    # ---- authentication, apart: a fresh container (module instance) per scheme, then warm
    rows = []
    for label, make in (
        ("md5 token, u = handle", lambda salt: _md5(token, artist.handle, salt)),
        ("md5 token, u = DID", lambda salt: _md5(token, artist.did, salt)),
        ("password (p)", lambda _: {"u": artist.handle, "p": token}),
        ("apiKey", lambda _: {"apiKey": token}),
    ):
        host = InProcessHost(stack.stack, stack.moto.url)
        cold, cold_kms = _counted(host, SYSTEM, "ping", make("a1"))
        warm, warm_kms = _counted(host, SYSTEM, "ping", make("b2"))
        reads = sum(1 for c in cold.calls if c.operation != "UpdateItem")
        met = reads <= 2 and cold_kms <= 1 and not warm.calls and not warm_kms
        rows.append(
            [label, str(reads), cold.per_operation(), str(cold_kms), str(len(warm.calls)), str(warm_kms), verdict(met)]
        )
        summary.append((f"Subsonic auth, {label}: cold {reads} reads + {cold_kms} KMS, warm none", met))
    print("  authentication (ping), counted apart: a cold container, then the same container again")
    print("  (the one write, UpdateItem, is the token's last use: at most once an hour per token and container)")
    print()
    print(
        table(["scheme", "cold reads", "cold operations", "cold KMS", "warm calls", "warm KMS", "met"], rows, "lrlrrrl")
    )
    print(f"\n  a revoked token: its lookup goes at once; what a container opened is kept {KEEP_SECONDS} s at most\n")

    # ---- after authentication: warm containers, the token known
    host = InProcessHost(stack.stack, stack.moto.url)
    key = {"apiKey": token}
    _request(host, BROWSE, "getAlbumList2", {**key, "type": "byYear"})  # the token known here
    album_id = _request(host, BROWSE, "getAlbumList2", {**key, "type": "alphabeticalByName", "size": "1"})[
        "albumList2"
    ]["album"][0]["id"]
    _request(InProcessHost(stack.stack, stack.moto.url), BROWSE, "getAlbum", {**key, "id": album_id})  # cached
    # the newest order is built once a minute (the whole listing read): counted apart
    build, _ = _counted(host, BROWSE, "getAlbumList2", {**key, "type": "newest", "size": "2"})
    cases = [
        ("getAlbumList2 first page (size 2)", {"type": "alphabeticalByName", "size": "2"}, "getAlbumList2", 3),
        (
            "getAlbumList2 next page (offset 2)",
            {"type": "alphabeticalByName", "size": "2", "offset": "2"},
            "getAlbumList2",
            3,
        ),
        ("getAlbumList2 newest (offset 2)", {"type": "newest", "size": "2", "offset": "2"}, "getAlbumList2", 3),
        ("getAlbum, page cached, first ask here", {"id": album_id}, "getAlbum", 2),
        ("getAlbum, page cached, again", {"id": album_id}, "getAlbum", 2),
    ]
    rows = []
    for label, query, method, target in cases:
        calls, kms = _counted(host, BROWSE, method, {**key, **query})
        met = len(calls.calls) <= target and not kms
        rows.append([label, str(len(calls.calls)), calls.per_operation(), f"<= {target}", verdict(met)])
        summary.append((f"Subsonic {label}: {len(calls.calls)} calls (<= {target})", met))
    print("  after authentication (a warm container that knows the token)")
    print(f"  (building an order other than by name, kept a minute: {build.per_operation()})")
    print()
    print(table(["request", "calls", "operations", "target", "met"], rows, "lrlll"))
    print()

    # ---- sequential paging through 10,000 albums
    admin = aws_session(stack.stack.region).client("dynamodb", endpoint_url=stack.moto.url)
    big = paging.build(stack, admin, 10_000)
    try:
        # As bootstrap.subsonic_catalogue() wires it, on the big table (album_list reads no page).
        store = SubsonicStore(catalogue_table=big.repo.table)
        catalogue = SubsonicCatalogue(big.repo, store, bootstrap.album_pages())
        per_page: list[tuple[int, int, float]] = []
        offset, seen = 0, 0
        while True:
            params = {"type": ["alphabeticalByName"], "size": [str(PAGE)], "offset": [str(offset)]}
            with CallRecorder(dynamodb()) as calls:
                started = time.perf_counter()
                albums = catalogue.album_list(params)
                wall = time.perf_counter() - started
            if not albums:
                break
            per_page.append((len(calls.calls), calls.items_read, wall))
            seen += len(albums)
            offset += len(albums)
    finally:
        admin.delete_table(TableName=big.repo.table)
    middle = per_page[1:-1]  # the first learns the artists, the last ends the listing
    most_calls = max(c for c, _, _ in per_page)
    calls_flat = most_calls <= 3  # a page more when the artists kept a minute are read again
    items_ratio = max(i for _, i, _ in middle) / max(1, min(i for _, i, _ in middle))
    met = seen == 10_000 and calls_flat and items_ratio <= FLAT
    print(f"  sequential paging through {seen:,} albums, {PAGE} a page ({len(per_page)} pages), one container")
    print()
    rows = [
        [str(n), str(c), str(i), f"{w * 1000:.0f}"]
        for n, (c, i, w) in enumerate(per_page)
        if n < 3 or n >= len(per_page) - 2
    ]
    print(table(["page", "calls", "items read", "ms"], rows, "rrrr"))
    print(
        f"\n  every page at most 3 calls (most: {most_calls}): {verdict(calls_flat)}; "
        f"items read per page, max/min over pages 2..{len(per_page) - 1}: {items_ratio:.2f} (<= {FLAT})\n"
    )
    summary.append((f"Subsonic paging through 10,000 albums: <= 3 calls a page, items max/min {items_ratio:.2f}", met))
    return summary

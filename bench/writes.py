"""Section 4: the write side. PDS and DynamoDB calls per mutation, and the wall time of a
rename of an album with 10 and with 100 tracks, against the real local PDS."""

from __future__ import annotations

import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import albums_core.xrpc
from albums_core import auth
from albums_core.album_admin import AlbumAdmin
from albums_core.aws import dynamodb
from albums_core.record_writes import MAX_WRITES
from albums_core.records import LIST, TRACK, rkey_of
from albums_core.repository import CatalogueWriter
from albums_core.session_store import pds_session
from albums_core.xrpc import PdsSession
from bench.common import CallRecorder, function_logs, heading, median, ms, table, verdict
from local_runtime.stack import LocalStack

SIZES = (10, 100)
REPETITIONS = 5
TARGET_RATIO = 3.0
# An account of its own, so the demo catalogue the other sections read stays as it is.
HANDLE = "bench-writer.test"


class XrpcRecorder:
    """Every HTTP exchange the service's XRPC client makes while entered, by NSID.

    Wraps the name `albums_core.xrpc.call` sends through (`safe_http.request`), so each PDS
    call is counted once as it goes on the wire, token refreshes and retries included. Thread
    safe: read_records fetches in parallel."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self._lock = threading.Lock()
        self._original: Callable[..., Any] = albums_core.xrpc.request

    def __enter__(self) -> XrpcRecorder:
        original = self._original

        def counted(method: str, url: str, **kw: Any) -> Any:
            nsid = urlsplit(url).path.rsplit("/xrpc/", 1)[-1]
            with self._lock:
                self.calls.append(nsid)
            return original(method, url, **kw)

        albums_core.xrpc.request = counted
        return self

    def __exit__(self, *_: object) -> None:
        albums_core.xrpc.request = self._original

    def reset(self) -> None:
        with self._lock:
            self.calls = []

    def per_operation(self) -> str:
        return " ".join(f"{op.rsplit('.', 1)[-1]}:{n}" for op, n in sorted(Counter(self.calls).items()))


@dataclass
class Sample:
    seconds: float
    pds: list[str]
    pds_ops: str
    dynamodb: list[str]
    dynamodb_ops: str


@dataclass
class BenchAlbum:
    size: int
    album_id: str
    titles: tuple[str, str]
    renames: list[Sample] = field(default_factory=list)
    renamed: int = 0


@contextmanager
def recorded() -> Iterator[tuple[XrpcRecorder, CallRecorder]]:
    with function_logs(), XrpcRecorder() as pds, CallRecorder(dynamodb()) as ddb:
        yield pds, ddb


def measure(action: Callable[[], Any]) -> tuple[Any, Sample]:
    with recorded() as (pds, ddb):
        started = time.perf_counter()
        out = action()
        seconds = time.perf_counter() - started
    return out, Sample(seconds, list(pds.calls), pds.per_operation(), ddb.operations, ddb.per_operation())


def _track(n: int, album: str) -> dict[str, Any]:
    return {
        "$type": TRACK,
        "title": f"Bench track {n:03d}",
        "artist": "Bench Writer",
        "album": album,
        "fileType": "mp3",
        "duration": 180 + n,
        "createdAt": f"2026-02-01T12:{n // 60:02d}:{n % 60:02d}.000Z",
    }


def publish_tracks(pds: PdsSession, size: int, album: str) -> list[str]:
    """`size` track records, created with applyWrites (one call per 200) as a client would."""
    uris: list[str] = []
    for start in range(0, size, MAX_WRITES):
        writes = [
            {"$type": "com.atproto.repo.applyWrites#create", "collection": TRACK, "value": _track(n, album)}
            for n in range(start, min(size, start + MAX_WRITES))
        ]
        out = pds.apply_writes(writes, swap_commit=None)
        uris += [str(r["uri"]) for r in out["results"]]
    if len(uris) != size:
        raise RuntimeError(f"published {len(uris)} of {size} tracks")
    return uris


def build(caller: auth.Caller, size: int) -> BenchAlbum:
    titles = (f"Write Bench {size}", f"Write Bench {size} Renamed")
    pds = pds_session(caller.session)
    uris = publish_tracks(pds, size, titles[0])
    _, created = AlbumAdmin(caller).create(titles[0])
    album_id = str(created["id"])
    attached = AlbumAdmin(caller).attach(album_id, uris)
    if attached["track_count"] != size:
        raise RuntimeError(f"attached {attached['track_count']} of {size} tracks")
    return BenchAlbum(size, album_id, titles)


def rename(caller: auth.Caller, album: BenchAlbum) -> Sample:
    title = album.titles[(album.renamed + 1) % 2]
    out, sample = measure(lambda: AlbumAdmin(caller).update(album.album_id, title=title))
    album.renamed += 1
    if out["title"] != title or out["track_count"] != album.size:
        raise RuntimeError(f"rename of the {album.size}-track album answered {out}")
    return sample


def verify_on_pds(caller: auth.Caller, album: BenchAlbum) -> bool:
    """The last rename reached the records: the list record and one track carry the title."""
    stored = CatalogueWriter().load_album(album.album_id)
    assert stored and stored[0].list_uri
    title = stored[0].title
    pds = pds_session(caller.session)
    listed = pds.get_record(LIST, rkey_of(stored[0].list_uri))
    track = pds.get_record(TRACK, rkey_of(str(stored[1][-1].record_uri)))
    return bool(listed and track and listed.value.get("name") == title and track.value.get("album") == title)


def _same(samples: list[Sample], attr: str) -> str:
    """The breakdown when every repetition made the same calls, else each distinct one."""
    seen = list(dict.fromkeys(getattr(s, attr) for s in samples))
    return seen[0] if len(seen) == 1 else " | ".join(seen)


def _counts(samples: list[Sample], attr: str) -> str:
    values = sorted({len(getattr(s, attr)) for s in samples})
    return str(values[0]) if len(values) == 1 else f"{values[0]}-{values[-1]}"


def run(stack: LocalStack) -> list[tuple[str, bool]]:
    heading("4. Write side: calls per mutation and rename time, 10 vs 100 tracks (real local PDS)")
    assert stack.pds
    password = secrets.token_urlsafe(12)
    stack.pds.create_account(HANDLE, password)
    setup = time.perf_counter()
    with function_logs():
        session, artist = auth.login(HANDLE, password)
        caller = auth.Caller(session, artist)
        albums = [build(caller, size) for size in SIZES]
    setup = time.perf_counter() - setup

    # One discarded rename each (connections, thread pool, first index updates), then the
    # sizes alternate so drift in the machine's load hits both alike.
    for album in albums:
        rename(caller, album)
    for n in range(REPETITIONS):
        for album in albums if n % 2 == 0 else albums[::-1]:
            album.renames.append(rename(caller, album))
    verified = all(verify_on_pds(caller, a) for a in albums)

    print(
        f"  account {HANDLE} on the local PDS; {' and '.join(str(s) for s in SIZES)} track records published with"
        f" applyWrites, albums created and tracks attached through AlbumAdmin ({setup:.1f} s)"
    )
    print(
        f"  rename = AlbumAdmin(caller).update(album_id, title=...), alternating two titles (the slug changes"
        f" each time); median of {REPETITIONS} after one discarded; times in ms"
    )
    print("  counted: PDS calls on the service's XRPC client, DynamoDB calls on albums_core.aws.dynamodb()")
    print("  not counted: the request's own session and artist reads (require_artist), as for any endpoint")
    print()
    rows = []
    for album in albums:
        walls = [s.seconds for s in album.renames]
        rows.append(
            [
                f"rename, {album.size} tracks",
                ms(median(walls)),
                f"{ms(min(walls))}-{ms(max(walls))}",
                _counts(album.renames, "pds"),
                _counts(album.renames, "dynamodb"),
            ]
        )
    print(table(["mutation", "median", "min-max", "PDS calls", "DynamoDB calls"], rows, "lrrrr"))
    small, large = albums
    ratio = median([s.seconds for s in large.renames]) / median([s.seconds for s in small.renames])
    met = ratio <= TARGET_RATIO
    print()
    print(
        f"  rename time {large.size} / {small.size} tracks: {ratio:.2f}x (target <= {TARGET_RATIO:.0f}x): {verdict(met)}"
    )
    print(f"  the last renames are on the PDS (list record name, a track's album field): {verdict(verified)}")

    # Once each, at the end: they change the albums.
    others: list[tuple[str, Sample]] = []
    writer = CatalogueWriter()
    for album in albums:
        loaded = writer.load_album(album.album_id)
        assert loaded and loaded[1]
        track_id = loaded[1][0].id
        _, sample = measure(lambda a=album, t=track_id: AlbumAdmin(caller).remove_track(a.album_id, t))
        others.append((f"remove_track, {album.size} tracks", sample))
    for album in albums:
        _, sample = measure(lambda a=album: AlbumAdmin(caller).delete(a.album_id, cascade=False))
        others.append((f"delete cascade=false, {album.size - 1} tracks", sample))

    print()
    print("  calls per operation (PDS by NSID; DynamoDB by API):")
    for album in albums:
        label = f"rename, {album.size} tracks"
        print(f"    {label:<34} PDS      {_same(album.renames, 'pds_ops')}")
        print(f"    {'':<34} DynamoDB {_same(album.renames, 'dynamodb_ops')}")
    for label, sample in others:
        print(f"    {label:<34} PDS      {sample.pds_ops}  ({len(sample.pds)} calls, {ms(sample.seconds)} ms once)")
        print(f"    {'':<34} DynamoDB {sample.dynamodb_ops}  ({len(sample.dynamodb)} calls)")
    return [
        (f"rename 100 tracks <= {TARGET_RATIO:.0f}x rename 10 tracks ({ratio:.2f}x)", met),
        ("renames reached the PDS records", verified),
    ]

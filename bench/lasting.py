"""Section 7: a local stack that lasts. The contract's maximum album (500 tracks) attached,
renamed and deleted (cascade, finished by the stream consumer) against the real local PDS, with
moto's resident memory after each step. moto 5.2.5 alone grew to 23 GB on the attach and was
killed; the local runtime's launcher (local_runtime/moto_main.py) bounds it."""

from __future__ import annotations

import secrets
import sys
import time
from collections.abc import Callable
from typing import Any

from bench.common import LAYER, function_logs, heading, table, verdict
from local_runtime.stack import LocalStack

HANDLE = "bench-lasting.test"
TRACKS = 500  # the list record's maximum (CONTRACT.md)
ROUNDS = 2
# A bound, not a measurement: moto's whole state here is a few tens of MB; 23 GB was the failure.
TARGET_MB = 1024
MB = 2**20


def run(stack: LocalStack) -> list[tuple[str, bool]]:
    # Imported once the stack runs: Powertools reads the environment the stack sets up.
    from albums_core import bootstrap
    from albums_core.adapters.dynamodb.session_store import pds_session
    from albums_core.domain.records import TRACK
    from albums_core.services import auth
    from bench.writes import Bench, _track, patient_writer

    def publish_tracks(pds: Any, size: int) -> list[str]:
        """As section 4 publishes them, in applyWrites calls of 50: a loaded machine's PDS
        answers a call of 200 after the layer's write timeout."""
        uris: list[str] = []
        for start in range(0, size, 50):
            writes = [
                {"$type": "com.atproto.repo.applyWrites#create", "collection": TRACK, "value": _track(n)}
                for n in range(start, min(size, start + 50))
            ]
            uris += [str(r["uri"]) for r in pds.apply_writes(writes, swap_commit=None)["results"]]
        return uris

    heading(f"7. A local stack that lasts: {TRACKS}-track attach, rename, delete; moto's memory (real local PDS)")
    assert stack.pds and stack.moto
    moto = stack.moto
    pump = getattr(stack, "stream_pump", None)
    password = secrets.token_urlsafe(12)
    stack.pds.create_account(HANDLE, password)
    with function_logs():
        session, artist = bootstrap.auth().login(HANDLE, password)
    bench = Bench(auth.Caller(session, artist), patient_writer())
    rows: list[list[str]] = [["start", "-", "-", f"{moto.rss_bytes() / MB:.0f}"]]
    completed = True
    failures: list[str] = []

    def step(label: str, action: Callable[[], Any], check: Callable[[Any], bool]) -> None:
        nonlocal completed
        started = time.perf_counter()
        try:
            with function_logs():
                out = action()
            ok = check(out)
        except Exception as err:  # noqa: BLE001 - reported as the step's outcome
            out, ok = None, False
            failures.append(f"{label}: {type(err).__name__}: {str(err)[:160]}")
        else:
            if not ok:
                failures.append(f"{label}: answered {str(out)[:160]}")
        completed = completed and ok
        rows.append([label, f"{time.perf_counter() - started:.1f}", verdict(ok), f"{moto.rss_bytes() / MB:.0f}"])

    album: dict[str, Any] = {}

    def create(title: str) -> dict[str, Any]:
        _, created = bench.admin().create(title)
        album.update(created)
        return dict(created)

    def delete() -> dict[str, Any]:
        out = bench.admin().delete(album["id"], cascade=True)
        if pump is not None:
            pump.drain()  # the cleanup job of a large album runs from the stream
        return out

    def one_round(n: int) -> None:
        with function_logs():
            uris = publish_tracks(pds_session(bench.caller.session), TRACKS)
        title, renamed = f"Lasting {n}", f"Lasting {n} Renamed"
        step(f"round {n}: create", lambda: create(title), lambda out: "id" in out)
        step(
            f"round {n}: attach {TRACKS}",
            lambda: bench.admin().attach(album["id"], uris),
            lambda out: out.get("track_count") == TRACKS,
        )
        step(
            f"round {n}: rename",
            lambda: bench.admin().update(album["id"], title=renamed),
            lambda out: out.get("title") == renamed and out.get("track_count") == TRACKS,
        )
        step(f"round {n}: delete cascade", delete, lambda out: out.get("deleted") is True)

    for n in range(1, ROUNDS + 1):
        one_round(n)

    peak = max(float(r[3]) for r in rows)
    print(
        f"  account {HANDLE}: {TRACKS} track records published per round with applyWrites; AlbumAdmin as in section 4"
    )
    print("  moto RSS after each step, MB (the moto server process, /proc/<pid>/status VmRSS)")
    print()
    print(table(["step", "s", "completed", "moto RSS MB"], rows, "lrrr"))
    print()
    for failure in failures:
        print(f"  failed: {failure}")
    print(f"  every step completed: {verdict(completed)}; moto's largest RSS {peak:.0f} MB (bound {TARGET_MB} MB)")
    return [
        (f"{TRACKS}-track attach, rename and delete complete ({ROUNDS} rounds)", completed),
        (f"moto RSS stays under {TARGET_MB} MB through them ({peak:.0f} MB)", peak < TARGET_MB),
    ]


def main() -> int:
    """`python -m bench.lasting`: this section alone, on a stack of its own."""
    if str(LAYER) not in sys.path:
        sys.path.insert(0, str(LAYER))
    stack = LocalStack(port=0, seed=False)
    try:
        stack.start()
        results = run(stack)
    finally:
        stack.stop()
    return 0 if all(met for _, met in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())

"""Section 9: the whole network's firehose. A synthetic relay (the tests' scripted relay and frame
builder, tests/support/) plays RATE commits/s for SECONDS, 1% of them ours (tracks, lists and
likes of 50 artists, signed with the key each artist's DID document names on the local PLC),
against the consumer as deployed: ConsumeFirehoseFunction in a local Lambda worker of its own
(its memory setting as the address-space limit), invoked once, reading the relay until the run
ends. Its CPU time and RSS are read from /proc while it runs."""

from __future__ import annotations

import multiprocessing
import os
import random
import secrets
import struct
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import libipld

from bench.common import LOG_FILE, function_logs, heading, median, table
from bench.server_calls import ServerLog, requests
from local_runtime.lambda_host import LambdaHost
from local_runtime.stack import LocalStack

RATE = int(os.environ.get("BENCH_NETWORK_RATE", "2000"))
SECONDS = float(os.environ.get("BENCH_NETWORK_SECONDS", "60"))
# Before the measured run: others' frames only, so the cost of a filtered-out frame is measured
# alone (and the consumer is connected and warm when ours begin).
CALIBRATION_SECONDS = float(os.environ.get("BENCH_NETWORK_CALIBRATION_SECONDS", "10"))
OURS_SHARE = 0.01
# "burst" (the default): every list after every track, the 50 lists within ~2.5 s. "spread": each
# artist's list right after its own last track, so the lists come over the tracks' last seconds
# as artists publishing albums would send them (bench/README.md section 9: both figures).
LISTS = os.environ.get("BENCH_NETWORK_LISTS", "burst")
ARTISTS = 50
CONSUMER = "ConsumeFirehoseFunction"
TRACK, LIST, LIKE = "fm.plyr.track", "fm.plyr.list", "fm.plyr.like"
CREATED_AT = "2026-12-07T00:00:00.000Z"
TARGET_LAG_P95 = 2.0
TARGET_CPU_SHARE = 0.5
TARGET_RSS_GROWTH = 1.05
_TID = "234567abcdefghijklmnopqrstuvwxyz"


def tid(micros: int, clock: int = 0) -> str:
    n = (micros << 10) | (clock & 0x3FF)
    return "".join(_TID[(n >> (5 * i)) & 31] for i in reversed(range(13)))


@dataclass
class Artist:
    did: str
    handle: str
    session: Any
    tracks: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)  # uri, cid, value


@dataclass
class Ours:
    """Our commits, in the order they are played: (repo, path, record)."""

    commits: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    likes: dict[str, int] = field(default_factory=dict)  # track uri -> likes played
    tracks: dict[str, set[str]] = field(default_factory=dict)  # did -> track uris
    lists: dict[str, int] = field(default_factory=dict)  # did -> tracks its list names
    seqs: list[int] = field(default_factory=list)  # the seq each commit was played with


def _accounts(stack: LocalStack, signer: Any) -> list[Artist]:
    """ARTISTS accounts on the local PDS whose DID documents name `signer` (PLC updates signed
    with our rotation key), registered as artists (as a login leaves them: no backfill)."""
    from tests.support.plc import create_owned_account

    from albums_core.adapters.atproto import xrpc
    from albums_core.adapters.dynamodb.catalogue import CatalogueWriter
    from albums_core.domain.models import Artist as ArtistItem

    assert stack.pds
    pds = stack.pds
    run = secrets.token_hex(3)

    def one(i: int) -> Artist:
        password = secrets.token_urlsafe(12)
        owned = create_owned_account(pds, f"net{i:02d}-{run}.test", password)
        owned.sign_with(signer.did_key)
        out = xrpc.create_session(pds.pds_url, owned.did, password)
        session = xrpc.PdsSession(pds.pds_url, owned.did, xrpc.Tokens(out["accessJwt"], out["refreshJwt"]))
        return Artist(owned.did, owned.handle, session)

    with ThreadPoolExecutor(6) as pool:
        artists = list(pool.map(one, range(ARTISTS)))
    writer = CatalogueWriter()
    for a in artists:
        writer.put_artist(ArtistItem(did=a.did, handle=a.handle, display_name=a.handle, pds_url=pds.pds_url))
    return artists


def _create(artist: Artist, collection: str, values: list[dict[str, Any]]) -> list[tuple[str, str, dict[str, Any]]]:
    out = artist.session.apply_writes(
        [{"$type": "com.atproto.repo.applyWrites#create", "collection": collection, "value": v} for v in values],
        swap_commit=None,
    )
    return [(str(r["uri"]), str(r["cid"]), v) for r, v in zip(out["results"], values, strict=True)]


def publish(artists: list[Artist], total: int) -> Ours:
    """Our records, on the PDS for real (a list's indexing reads the repository), then played as
    commits: every track, then every artist's list of its tracks (or, with LISTS "spread", each
    right after its artist's last track), then the likes."""
    per_artist = max(1, round(total * 0.6 / ARTISTS))
    likes = max(0, total - ARTISTS * (per_artist + 1))
    ours = Ours()
    for a in artists:
        values = [
            {"$type": TRACK, "title": f"{a.handle} {n}", "artist": a.handle, "fileType": "mp3", "createdAt": CREATED_AT}
            for n in range(per_artist)
        ]
        a.tracks = _create(a, TRACK, values)
        ours.tracks[a.did] = {uri for uri, _, _ in a.tracks}
    lists = []
    for a in artists:
        value = {
            "$type": LIST,
            "name": f"{a.handle} album",
            "listType": "album",
            "items": [{"subject": {"uri": uri, "cid": cid}} for uri, cid, _ in a.tracks],
            "createdAt": CREATED_AT,
        }
        lists.append((a, _create(a, LIST, [value])[0]))
        ours.lists[a.did] = len(a.tracks)
    rng = random.Random(22)
    wanted: dict[str, list[dict[str, Any]]] = {}
    for _ in range(likes):
        liker, liked = rng.sample(artists, 2)
        uri, cid, _ = rng.choice(liked.tracks)
        wanted.setdefault(liker.did, []).append(
            {"$type": LIKE, "subject": {"uri": uri, "cid": cid}, "createdAt": CREATED_AT}
        )
        ours.likes[uri] = ours.likes.get(uri, 0) + 1
    by_did = {a.did: a for a in artists}
    made_likes = [(did, r) for did, values in wanted.items() for r in _create(by_did[did], LIKE, values)]
    for a in artists:
        ours.commits += [(a.did, uri.split("/", 3)[3], value) for uri, _, value in a.tracks]
    rng.shuffle(ours.commits)
    listed = {a.did: (a.did, uri.split("/", 3)[3], value) for a, (uri, _, value) in lists}
    if LISTS == "spread":
        last = {did: n for n, (did, _, _) in enumerate(ours.commits)}
        spread: list[tuple[str, str, dict[str, Any]]] = []
        for n, played in enumerate(ours.commits):
            spread += [played, listed[played[0]]] if last[played[0]] == n else [played]
        ours.commits = spread
    else:
        ours.commits += list(listed.values())
    ours.commits += [(did, uri.split("/", 3)[3], value) for did, (uri, _, value) in made_likes]
    _check_cids([(uri, cid, value) for a in artists for uri, cid, value in a.tracks])
    return ours


def _check_cids(records: list[tuple[str, str, dict[str, Any]]]) -> None:
    """The frames carry the records as we encode them: their CIDs must be the PDS's."""
    from tests.support.firehose_frames import block

    for uri, cid, value in records[:20]:
        mine = libipld.decode_cid(cid)["hash"]["digest"]
        if block(value)[0][-32:] != mine:
            raise RuntimeError(f"{uri}: the PDS stored another encoding of the record (CID {cid})")


# ---- the relay ------------------------------------------------------------------------------


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _others(count: int = 16) -> list[dict[str, Any]]:
    """Commit bodies of other collections, as big as the network's average frame (about 1.3 KB:
    232 GB a day at its 2024 peak over about 2,000 commits/s): a post in a small tree."""
    from tests.support.firehose_frames import Signer, signed_commit_body

    signer = Signer()
    bodies = []
    for k in range(count):
        post = {"$type": "app.bsky.feed.post", "text": "x" * (60 + 7 * k), "createdAt": CREATED_AT, "langs": ["en"]}
        path = f"app.bsky.feed.post/{tid(1_700_000_000_000_000 + k)}"
        bodies.append(
            signed_commit_body(
                0,
                f"did:plc:other{k:021d}",
                tid(1_700_000_000_000_000 + k),
                [("create", path, post)],
                signer=signer,
                others=6,
            )
        )
    return bodies


def _ours(ours: Ours, signer: Any) -> list[dict[str, Any]]:
    """Our commits, signed (one op each), with revisions after any the PDS gave (from now on)."""
    from tests.support.firehose_frames import signed_commit_body

    base = time.time_ns() // 1000
    return [
        signed_commit_body(0, did, tid(base + n), [("create", path, record)], signer=signer, others=0)
        for n, (did, path, record) in enumerate(ours.commits)
    ]


# Every frame's seq is at least this, so its DAG-CBOR integer is always 5 bytes (0x1a and 4):
# the frames are encoded once before the run and only their seq and time patched as they go.
SEQ_BASE = 1_000_000
_SEQ_MARK = 0x7A5E0C01
_TIME_MARK = "0000-00-00T00:00:00.000Z"  # as long as _iso()'s times


def template(body: dict[str, Any]) -> tuple[bytes, int, int]:
    """A frame (header and body) encoded once: (bytes, offset of its seq's 4 bytes, offset of
    its time's characters)."""
    header = bytes(libipld.encode_dag_cbor({"op": 1, "t": "#commit"}))
    data = header + bytes(libipld.encode_dag_cbor({**body, "seq": _SEQ_MARK, "time": _TIME_MARK}))
    seq_at = data.find(b"\x1a" + struct.pack(">I", _SEQ_MARK))
    time_at = data.find(_TIME_MARK.encode())
    if seq_at < 0 or time_at < 0 or data.count(struct.pack(">I", _SEQ_MARK)) != 1:
        raise RuntimeError("a frame's seq or time could not be found in its encoding")
    return data, seq_at + 1, time_at


def _play(
    ws: Any,
    others: list[tuple[bytes, int, int]],
    ours: list[tuple[bytes, int, int]],
    plan: tuple[int, int, int],
) -> dict[str, Any]:
    """The frames of one connection, paced to RATE, each stamped with its seq and the time it is
    sent. `plan` is (calibration frames, total frames, one of ours every `step`)."""
    calibration, total, step = plan
    stats: dict[str, Any] = {"sent": 0, "bytes": 0, "seqs": [], "switched": 0.0}
    t0 = stats["started"] = time.perf_counter()
    wall0 = time.time()
    for i in range(total):
        target = t0 + i / RATE
        now = time.perf_counter()
        if target - now > 0.002:
            time.sleep(target - now)
        if i == calibration:
            stats["switched"] = time.perf_counter()
        k = i - calibration
        mine = k >= 0 and k % step == step // 2 and k // step < len(ours)
        seq = SEQ_BASE + i + 1
        if mine:
            stats["seqs"].append(seq)
        data, seq_at, time_at = ours[k // step] if mine else others[i % len(others)]
        frame = bytearray(data)
        frame[seq_at : seq_at + 4] = struct.pack(">I", seq)
        frame[time_at : time_at + len(_TIME_MARK)] = _iso(wall0 + (time.perf_counter() - t0)).encode()
        ws.send(bytes(frame))
        stats["bytes"] += len(frame)
        stats["sent"] += 1
    stats["ended"] = time.perf_counter()
    return stats


def _relay_process(conn: Any, others: list[Any], ours: list[Any], plan: tuple[int, int, int]) -> None:
    """The relay, in a process of its own (the bench's process is busy with the stack): serves
    the run on the first connection, nothing on later ones, until told to stop; then sends its
    figures back."""
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.server import serve

    stopping = threading.Event()
    stats: dict[str, Any] = {"connections": 0}

    def handle(ws: Any) -> None:
        stats["connections"] += 1
        try:
            if stats["connections"] == 1:  # a reconnect gets nothing more
                stats.update(_play(ws, others, ours, plan))
            while not stopping.is_set():
                try:
                    ws.recv(timeout=0.2)
                except TimeoutError:
                    continue
        except ConnectionClosed:
            return

    server = serve(handle, "127.0.0.1", 0, max_size=None, compression=None)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    conn.send(server.socket.getsockname()[1])
    conn.recv()  # stop
    stopping.set()
    server.shutdown()
    thread.join(5)
    conn.send(stats)


class Player:
    """The relay (a process of its own, so it keeps the rate whatever the bench's process does):
    CALIBRATION_SECONDS of others' frames, then SECONDS with one of ours every 1/OURS_SHARE
    frames, RATE a second, each stamped with the time it is sent. The frames are encoded before
    the run; only their seq and time are written into them as they go."""

    def __init__(self, others: list[dict[str, Any]], ours: list[dict[str, Any]]) -> None:
        self.others = [template(body) for body in others]
        self.ours = [template(body) for body in ours]
        self.calibration = int(RATE * CALIBRATION_SECONDS)
        self.total = self.calibration + int(RATE * SECONDS)
        self.step = max(1, int(RATE * SECONDS) // max(1, len(ours)))
        self.sent = 0
        self.bytes = 0
        self.seqs: list[int] = []  # the seq each of our commits was played with, in order
        self.started = self.switched = self.ended = 0.0
        self.connections = 0
        self.url = ""
        self._conn: Any = None
        self._process: Any = None

    def start(self) -> str:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        plan = (self.calibration, self.total, self.step)
        self._process = ctx.Process(target=_relay_process, args=(child, self.others, self.ours, plan), daemon=True)
        self._process.start()
        if not self._conn.poll(60):
            raise RuntimeError("the relay process did not start")
        self.url = f"ws://127.0.0.1:{self._conn.recv()}"
        return self.url

    def stop(self) -> None:
        """The relay stopped, its figures read (perf_counter is the system's monotonic clock:
        its times compare with this process's)."""
        if self._process is None:
            return
        try:
            self._conn.send("stop")
            stats = self._conn.recv() if self._conn.poll(30) else {}
        finally:
            self._process.join(10)
            if self._process.is_alive():
                self._process.kill()
            self._process = None
        self.sent, self.bytes = stats.get("sent", 0), stats.get("bytes", 0)
        self.seqs = stats.get("seqs", [])
        self.started, self.switched = stats.get("started", 0.0), stats.get("switched", 0.0)
        self.ended = stats.get("ended", 0.0)
        self.connections = stats.get("connections", 0)


# ---- the consumer, as deployed --------------------------------------------------------------


def _proc(pid: int) -> tuple[float, int]:
    """CPU seconds (user + system) and RSS bytes of a process, from /proc."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks
    with open(f"/proc/{pid}/statm") as fh:
        rss = int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    return cpu, rss


@dataclass
class Run:
    result: Any = None
    error: str = ""
    samples: list[tuple[float, float, int]] = field(default_factory=list)  # (perf_counter, cpu s, rss B)
    memory_mb: int = 0
    # The consumer's DynamoDB requests from moto's request log: (operation, items).
    calls: list[tuple[str, int]] = field(default_factory=list)
    log_bytes: int = 0


def consume(stack: LocalStack, relay_url: str, player: Player) -> Run:
    """ConsumeFirehoseFunction in a worker of its own, pointed at the relay, holding the stream for
    the whole run (FIREHOSE_HOLD_SECONDS) and sampled once a second."""
    assert stack.stack and stack.moto and stack.host
    # Time to catch up after the last frame: a consumer that cannot keep up shows it in the
    # frames it saw (and in what it did not apply), not by being cut off at the last frame.
    hold = CALIBRATION_SECONDS + SECONDS + max(30.0, SECONDS)
    env = {k: dict(v) for k, v in stack.host.function_env.items()}
    env[CONSUMER] = {**env.get(CONSUMER, {}), "RELAY_URL": relay_url, "FIREHOSE_HOLD_SECONDS": f"{hold:.0f}"}
    host = LambdaHost(stack.stack, stack.moto.url, function_env=env, export_environment=False)
    run = Run(memory_mb=host.functions[CONSUMER].memory)
    log = ServerLog(getattr(stack, "_function_keys", {}))
    offset = log.mark()
    logged = LOG_FILE.stat().st_size if LOG_FILE.exists() else 0

    def invoke() -> None:
        from local_runtime.stream_pump import scheduled_event

        try:
            assert stack.stack
            run.result = host.invoke(CONSUMER, scheduled_event(stack.stack, CONSUMER, "rate(1 minute)"))
        except Exception as exc:  # noqa: BLE001 - reported, not raised: the section still prints
            run.error = f"{type(exc).__name__}: {exc}"

    thread = threading.Thread(target=invoke, daemon=True)
    try:
        thread.start()
        while thread.is_alive():
            pids = host.worker_pids().get(CONSUMER, [])
            if pids:
                try:
                    cpu, rss = _proc(pids[0])
                    run.samples.append((time.perf_counter(), cpu, rss))
                except OSError:
                    pass
            thread.join(1.0)
    finally:
        host.close()
    seen = log.since(offset)
    mine = [c for c in seen if c.function == CONSUMER and c.action.startswith("dynamodb:")]
    items: Counter[int] = Counter()
    for c in mine:
        items[c.request] += c.items if c.operation.startswith("Batch") else 1
    run.calls = [(c.operation, items[c.request]) for c in requests(mine).values()]
    run.log_bytes = (LOG_FILE.stat().st_size if LOG_FILE.exists() else 0) - logged
    return run


def _cpu_between(samples: list[tuple[float, float, int]], start: float, end: float) -> tuple[float, float]:
    """(CPU seconds, wall seconds) between the samples nearest `start` and `end`."""
    inside = [s for s in samples if start <= s[0] <= end]
    if len(inside) < 2:
        return 0.0, 0.0
    return inside[-1][1] - inside[0][1], inside[-1][0] - inside[0][0]


def _exactly_once(ours: Ours, reached: int) -> tuple[list[str], int]:
    """Every one of our commits the consumer reached (seq up to its checkpoint) applied once: its
    track indexed once, its like counted once (a track's like count is the likes reached), its
    artist's album there with every track. Returns the problems and how many commits were not
    reached (a consumer behind the relay when its hold ended: not lost, not yet read)."""
    from albums_core.adapters.dynamodb.catalogue import CatalogueWriter

    done = [seq <= reached for seq in ours.seqs] + [False] * (len(ours.commits) - len(ours.seqs))
    # A like counts once per (liker, track): a second like record of the same pair (the script
    # draws likers and tracks at random) is a duplicate, applied as such.
    likers: dict[str, set[str]] = {}
    tracks: set[str] = set()
    lists: set[str] = set()
    for (did, path, record), applied in zip(ours.commits, done, strict=True):
        if not applied:
            continue
        if path.startswith(LIKE):
            likers.setdefault(str(record["subject"]["uri"]), set()).add(did)
        elif path.startswith(TRACK):
            tracks.add(f"at://{did}/{path}")
        else:
            lists.add(did)
    repo = CatalogueWriter()
    problems: Counter[str] = Counter()
    for did, uris in ours.tracks.items():
        held: dict[str, Any] = {}
        for t in repo.artist_tracks(did):
            if t.record_uri in held:
                problems["track indexed twice"] += 1
            held[str(t.record_uri)] = t
        for uri in uris:
            if uri not in held:
                problems["track not indexed"] += uri in tracks or did in lists
            elif held[uri].like_count != len(likers.get(uri, ())):
                problems["track's like count is not the number of its likes reached"] += 1
        if did in lists:
            albums = repo.artist_albums(did)
            if len(albums) != 1 or albums[0].track_count != ours.lists[did]:
                problems["album missing, twice, or with another track count"] += 1
    return [f"{n} x {what}" for what, n in problems.items() if n], done.count(False)


# ---- the section ----------------------------------------------------------------------------


def _say(*lines: str) -> None:
    for line in lines:
        print(f"  {line}")


def run(stack: LocalStack) -> list[tuple[str, bool]]:
    from tests.support.firehose_frames import Signer

    heading(f"9. The whole network's firehose: {RATE:,} commits/s for {SECONDS:g} s, 1% ours, the deployed consumer")
    began = time.perf_counter()
    signer = Signer()
    with function_logs():
        artists = _accounts(stack, signer)
        ours = publish(artists, round(RATE * SECONDS * OURS_SHARE))
    others, mine = _others(), _ours(ours, signer)
    player = Player(others, mine)
    url = player.start()
    set_up = time.perf_counter() - began
    try:
        with function_logs():
            consumed = consume(stack, url, player)
    finally:
        player.stop()
    with function_logs():
        from albums_core.adapters.dynamodb.firehose_lease import FirehoseLeases
        from albums_core.services.firehose.consumer import ConsumerConfig

        lease = FirehoseLeases().read_lease(ConsumerConfig(relay_url=url).source_id) or {}
        ours.seqs = player.seqs
        problems, unread = _exactly_once(ours, int(lease.get("cursor") or 0))
    NETWORK["unread"] = unread
    return report(consumed, player, ours, problems, set_up)


def report(run: Run, player: Player, ours: Ours, problems: list[str], set_up: float) -> list[tuple[str, bool]]:
    result = run.result if isinstance(run.result, dict) else {}
    played = max(1e-9, (player.ended or time.perf_counter()) - player.started)
    measured_wall = max(1e-9, (player.ended or time.perf_counter()) - (player.switched or player.started))
    achieved = player.sent / played
    filtered_cpu, filtered_wall = _cpu_between(run.samples, player.started, player.switched or player.started)
    mixed_cpu, mixed_wall = _cpu_between(run.samples, player.switched, player.ended or time.perf_counter())
    rss = [s[2] for s in run.samples if player.switched <= s[0] <= (player.ended or time.perf_counter())]
    third = max(1, len(rss) // 3)
    growth = (median(rss[-third:]) / median(rss[:third])) if len(rss) >= 3 else float("nan")
    per_filtered = filtered_cpu / max(1, player.calibration)
    mixed_frames = player.sent - player.calibration
    applied = sum(int(v) for k, v in result.items() if k.startswith("applied") and isinstance(v, int))
    per_applied = max(0.0, mixed_cpu - per_filtered * (mixed_frames - len(ours.commits))) / max(1, len(ours.commits))
    lag = result.get("lag_p95")
    # CPU per second of the network's stream: the consumer's CPU over the time the frames it read
    # span at RATE. Equal to CPU / wall when it keeps up; when the machine starves it (other work
    # on the cores), CPU / wall measures the machine, this still measures the consumer.
    total_cpu = run.samples[-1][1] - run.samples[0][1] if len(run.samples) >= 2 else 0.0
    seen = int(result.get("seen", 0) or 0)
    cpu_share = total_cpu / (seen / RATE) if seen else float("nan")
    overall = total_cpu / seen * 1e6 if seen else float("nan")
    wall_share = mixed_cpu / mixed_wall if mixed_wall else float("nan")
    _say(
        f"{ARTISTS} accounts on the local PDS (DID documents naming the relay's signing key), {len(ours.commits)} of"
        f" our records published there and played as signed commits: {sum(len(v) for v in ours.tracks.values())}"
        f" tracks, {len(ours.lists)} lists, {sum(ours.likes.values())} likes; set-up {set_up:.0f} s",
        f"relay: {CALIBRATION_SECONDS:g} s of others' frames only (the filtered cost alone), then {SECONDS:g} s with"
        f" one of ours every {player.step} frames; average frame {player.bytes / max(1, player.sent):.0f} B;"
        f" lists {LISTS} (BENCH_NETWORK_LISTS)",
        f"consumer: {CONSUMER} in a local Lambda worker ({run.memory_mb} MB address-space limit), invoked once;"
        " CPU and RSS from /proc once a second",
    )
    kinds = " ".join(f"{k}:{v}" for k, v in sorted(result.items()) if k.startswith("applied"))
    rss_text = f"{median(rss[:third]) / 2**20:.0f} / {median(rss[-third:]) / 2**20:.0f}" if rss else "-"
    rows = [
        ["commits played / asked", f"{player.sent:,} in {played:.1f} s = {achieved:,.0f}/s (asked {RATE:,}/s)"],
        ["consumer result", run.error or str(result.get("status"))],
        ["frames seen by the consumer", f"{seen:,} of {player.sent:,} played"],
        ["applied (by kind)", kinds or "-"],
        ["verified commits", str(result.get("verified_commits", "-"))],
        ["lag p50 / p95", f"{result.get('lag_p50')} s / {lag} s"],
        ["CPU, filtered frames only", f"{filtered_cpu:.1f} s over {filtered_wall:.1f} s"],
        ["CPU, mixed run", f"{mixed_cpu:.1f} s over {mixed_wall:.1f} s = {wall_share:.0%} of one core"],
        ["CPU per second of stream", f"{total_cpu:.1f} s, {seen:,} frames: {cpu_share:.0%} of a core at {RATE:,}/s"],
        ["cost per filtered frame", f"{per_filtered * 1e6:.0f} µs CPU (others only; over all frames {overall:.0f} µs)"],
        ["cost per applied op", f"{per_applied * 1e3:.2f} ms CPU (the mixed run's CPU less its filtered frames')"],
        ["RSS (MB) first / last third", rss_text],
        ["our records applied exactly once", "; ".join(problems) or "yes (every commit of ours up to the checkpoint)"],
        ["ours not reached when the hold ended", f"{NETWORK.get('unread', 0):.0f} of {len(ours.commits)} (behind)"],
        ["load average (1 min) at the end", f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"],
    ]
    print(table(["", ""], rows, "ll"))
    caught_up = achieved >= 0.95 * RATE
    cpu_ok, rss_ok = cpu_share <= TARGET_CPU_SHARE, growth <= TARGET_RSS_GROWTH
    if not caught_up:
        _say(
            f"The relay could not play {RATE:,}/s on this machine ({achieved:,.0f}/s): the consumer's figures are at",
            "that rate; its sustainable rate is about (1 core x 50%) / cost per filtered frame"
            f" = {0.5 / max(per_filtered, 1e-9):,.0f} frames/s.",
        )
    ops = Counter(op for op, _ in run.calls)
    _say(
        f"consumer's DynamoDB requests (moto's request log): {len(run.calls)} ("
        + " ".join(f"{op}:{n}" for op, n in sorted(ops.items()))
        + f"), {len(run.calls) / max(1, applied):.2f} per applied op; its log lines: {run.log_bytes / 1024:.0f} KB"
    )
    NETWORK.update(rate=achieved, per_filtered=per_filtered, per_applied=per_applied, wall=played)
    NETWORK["applied_per_s"] = applied / measured_wall
    NETWORK["log_bytes"] = run.log_bytes
    writes = ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems")
    NETWORK["write_items"] = sum(n * (2 if op == "TransactWriteItems" else 1) for op, n in run.calls if op in writes)
    NETWORK["read_calls"] = sum(n for op, n in run.calls if op not in writes)
    return [
        (f"network firehose: relay played {RATE:,}/s ({achieved:,.0f}/s)", caught_up),
        (f"network firehose: lag p95 < {TARGET_LAG_P95:g} s ({lag} s)", lag is not None and lag < TARGET_LAG_P95),
        ("network firehose: each of our records applied exactly once", not problems and not run.error),
        (
            f"network firehose: consumer CPU <= {TARGET_CPU_SHARE:.0%} of one core ({cpu_share:.0%})",
            cpu_ok,
        ),
        (
            f"network firehose: RSS flat (last / first third {growth:.2f} <= {TARGET_RSS_GROWTH})",
            rss_ok,
        ),
    ]


# What section 10 prices (a month of the consumer at the measured rate).
NETWORK: dict[str, float] = {}

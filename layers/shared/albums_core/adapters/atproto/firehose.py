"""The relay's `com.atproto.sync.subscribeRepos`, through the atproto SDK: its websocket client
(reconnects, frame decoding), its message models and its CAR decoding. Only the consumer
function imports this module (the read functions never load the SDK).

The SDK's client runs in a thread of its own and only decodes and queues: the consumer applies
the queued events in batches in the calling thread, so slow writes never starve the socket.
The SDK does not track the cursor: each frame's seq is handed back to it with `update_params`,
or a reconnect would replay from the first cursor."""

from __future__ import annotations

import queue
import threading
import time
from collections import Counter, defaultdict
from typing import Any

import libipld
from atproto_client.models.com.atproto.sync import subscribe_repos
from atproto_firehose import FirehoseSubscribeReposClient, parse_subscribe_repos_message
from atproto_subscription.exceptions import FrameDecodingError, SubscriptionError

from albums_core.adapters.atproto import repo_proofs
from albums_core.domain.firehose_events import (
    COLLECTIONS,
    PREFIX,
    AccountChange,
    Commit,
    Event,
    IdentityChange,
    Info,
    RecordOp,
    RepoResync,
    Skipped,
    record_problem,
)
from albums_core.observability import logger

_KNOWN = {"#commit", "#identity", "#account", "#sync", "#info"}
# A consumer that falls this far behind makes the socket wait (the relay may then drop it).
_QUEUE_LIMIT = 20_000
# Between two connections that each failed at once or delivered nothing: from the first delay
# up to the last, doubling (the SDK's own backoff, for connections that end in an error, is
# capped at the same; its default of 64 s is a minute of a short invocation spent away).
_FIRST_BACKOFF_SECONDS = 0.5
_MAX_BACKOFF_SECONDS = 8.0
# A connection that lived this long, or delivered a frame, was not a failure.
_HEALTHY_SECONDS = 1.0


def _ours(path: Any) -> bool:
    return isinstance(path, str) and path.startswith(PREFIX) and path.split("/", 1)[0] in COLLECTIONS


def decode_message(message: Any) -> Event:
    """One message frame (header type + DAG-CBOR body, as the SDK decoded it) to our event.
    Commits that touch none of our collections are recognised from the raw op paths, before the
    SDK builds a model or decodes a CAR: that is what most of the network's events cost."""
    body = message.body if isinstance(message.body, dict) else {}
    kind = message.type
    seq = body.get("seq") if isinstance(body.get("seq"), int) else None
    if kind not in _KNOWN:
        return Skipped("unknown", seq)
    if kind == "#commit":
        ops = body.get("ops")
        if not isinstance(ops, list) or not any(isinstance(op, dict) and _ours(op.get("path")) for op in ops):
            return Skipped("filtered", seq)
    try:
        model = parse_subscribe_repos_message(message)
    except Exception:  # noqa: BLE001 - a frame the SDK's models refuse
        repo = body.get("repo")
        if kind == "#commit" and seq is not None and isinstance(repo, str):
            # Our collections are named in it, but it cannot be read: read the repository instead.
            return RepoResync(seq, repo, str(body.get("time", "")), "undecodable commit")
        return Skipped("undecodable", seq)
    if isinstance(model, subscribe_repos.Commit):
        return _commit(model)
    if isinstance(model, subscribe_repos.Identity):
        return IdentityChange(model.seq, model.did, model.time, model.handle)
    if isinstance(model, subscribe_repos.Account):
        return AccountChange(model.seq, model.did, model.time, bool(model.active), model.status)
    if isinstance(model, subscribe_repos.Sync):
        return RepoResync(model.seq, model.did, model.time, "sync")
    if isinstance(model, subscribe_repos.Info):
        return Info(model.name, model.message or "", seq)
    return Skipped("unknown", seq)


def _commit(model: Any) -> Event:
    # The blocks as sent (bytes by CID): the consumer checks them against their CIDs and the
    # signed commit before it applies anything; only our records' blocks are decoded here.
    try:
        blocks = repo_proofs.car_blocks(model.blocks) if model.blocks else {}
    except ValueError:  # a CAR that does not decode: the records are read from the PDS
        return RepoResync(model.seq, model.repo, model.time, "undecodable blocks")
    ops = []
    for op in model.ops:
        collection, _, rkey = op.path.partition("/")
        if collection not in COLLECTIONS or not rkey:
            continue
        cid = str(op.cid) if op.cid is not None else None
        if op.action == "delete":
            ops.append(RecordOp("delete", collection, rkey))
            continue
        raw = blocks.get(cid) if cid is not None else None
        try:
            value = libipld.decode_dag_cbor(raw) if raw is not None else None
        except ValueError:
            return RepoResync(model.seq, model.repo, model.time, "undecodable blocks")
        ops.append(
            RecordOp(
                op.action,
                collection,
                rkey,
                cid,
                value if isinstance(value, dict) else None,
                record_problem(collection, value),
            )
        )
    commit_cid = str(model.commit) if model.commit is not None else None
    return Commit(model.seq, model.repo, model.rev, model.time, tuple(ops), commit_cid, blocks)


class _Client(FirehoseSubscribeReposClient):
    """The SDK's client, counting what it otherwise swallows or retries silently."""

    def __init__(self, source: FirehoseSource, params: dict[str, Any], base_uri: str, recv_timeout: float) -> None:
        super().__init__(params, base_uri=base_uri, recv_timeout=recv_timeout)
        self._source = source
        self._max_reconnect_delay_sec = int(_MAX_BACKOFF_SECONDS)

    def _get_client(self) -> Any:
        connection = super()._get_client()
        self._source.count("connects")
        self._source.connected.set()
        return connection

    def _decode_frame(self, raw_frame: str | bytes) -> Any:
        began = time.perf_counter()
        try:
            return super()._decode_frame(raw_frame)
        finally:
            self._source.last_frame_seconds = time.perf_counter() - began

    def _handle_frame_decoding_error(self, exception: Exception) -> None:
        if isinstance(exception, SubscriptionError) and not isinstance(exception, FrameDecodingError):
            raise exception  # an error frame (FutureCursor, ConsumerTooSlow): the run handles it
        # The SDK passes over only the errors it raises itself and lets libipld's (bytes that
        # are not DAG-CBOR: a ValueError) end the connection: the reconnect, from the same
        # cursor, would get the same frame again, for ever. A frame not even its header can be
        # read from carries no seq: it is counted and passed over, like the SDK's own.
        self._source.count("undecodable")
        logger.warning("firehose frame not decoded", extra={"error": str(exception)[:200]})

    def _track_reconnection(self, connected_at: float | None) -> None:
        # The SDK escalates its backoff (up to 64 s) unless a connection lived a minute. A quiet
        # stream ends each connection at the receive timeout, and a relay may close connections
        # every few seconds while frames flow: neither is an outage, and every second spent
        # away is a second of events to catch up (or, with no cursor yet, lost). A connection
        # that delivered frames, or lived a while, is followed by another at once; only one
        # that failed at once or delivered nothing backs off.
        # The SDK calls this for every connection that ends, a clean close (after which its
        # start() returns) included: the source reads `healthy` to decide how soon to return.
        lived = connected_at is not None and time.monotonic() - connected_at >= _HEALTHY_SECONDS
        self._source.healthy = self._source.delivered_since_connect or lived
        if self._source.healthy:
            self._reconnect_no = 0
        else:
            super()._track_reconnection(connected_at)
        self._source.delivered_since_connect = False


class FirehoseSource:
    """Frames from `relay_url` (ws:// or wss://, without /xrpc), from `cursor` on (None: live)."""

    def __init__(self, relay_url: str, cursor: int | None, recv_timeout: float = 30.0) -> None:
        self.base_uri = relay_url.rstrip("/").removesuffix("/xrpc") + "/xrpc"
        self.cursor = cursor
        self.recv_timeout = recv_timeout
        self.events: queue.Queue[Event] = queue.Queue(_QUEUE_LIMIT)
        self.counts: Counter[str] = Counter()
        self.seconds: dict[str, float] = defaultdict(float)
        self.connected = threading.Event()
        self.delivered_since_connect = False
        self.healthy = False  # whether the last connection to end was a working one
        self.last_frame_seconds = 0.0
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._client: _Client | None = None
        self._thread: threading.Thread | None = None

    def count(self, name: str, n: int = 1) -> None:
        with self._lock:
            self.counts[name] += n

    def start(self) -> FirehoseSource:
        self._thread = threading.Thread(target=self._run, name="firehose", daemon=True)
        self._thread.start()
        return self

    def _params(self) -> dict[str, Any]:
        return {"cursor": self.cursor} if self.cursor is not None else {}

    def time(self, name: str, seconds: float) -> None:
        with self._lock:
            self.seconds[name] += seconds

    def _on_message(self, message: Any) -> None:
        began = time.perf_counter()
        try:
            event = decode_message(message)
        except Exception:  # noqa: BLE001 - never let one frame stop the stream
            logger.warning("firehose frame not decoded", exc_info=True)
            event = Skipped("undecodable")
        # What each kind of event costs to decode (the benchmark reads it): the frame itself
        # (the SDK, every frame) and then ours (filtered ones stop at their op paths).
        kind = "filtered" if isinstance(event, Skipped) and event.reason == "filtered" else "decoded"
        self.time(kind, time.perf_counter() - began)
        self.time(f"frame_{kind}", self.last_frame_seconds)
        self.count(f"frames_{kind}")
        self.delivered_since_connect = True
        while not self._stopped.is_set():
            try:
                self.events.put(event, timeout=0.5)
                break
            except queue.Full:
                continue
        if event.seq is not None and self._client is not None:
            self.cursor = event.seq
            self._client.update_params(self._params())

    def _run(self) -> None:
        backoff = _FIRST_BACKOFF_SECONDS
        while not self._stopped.is_set():
            self._client = _Client(self, self._params(), self.base_uri, self.recv_timeout)
            self.healthy = False
            try:
                self._client.start(self._on_message)
                # The relay closed the connection cleanly. After a working connection (a relay
                # that ends connections every so often, a redeploy), connect again at once: every
                # second away is a second of events to catch up. One that closes each connection
                # at once, before any frame, is failing: back off.
                self.count("closed")
                if self.healthy:
                    backoff = _FIRST_BACKOFF_SECONDS
                    continue
            except SubscriptionError as exc:
                name = _error_name(exc)
                self.count(f"error:{name}")
                logger.warning("firehose error frame", extra={"error": name})
                self.events.put(Info(name, str(exc)))
                if name == "FutureCursor":
                    # Our cursor is ahead of this relay (a reset relay, another relay): take the
                    # stream from now; the consumer checkpoints the new sequence.
                    self.cursor = None
            except Exception:  # noqa: BLE001 - anything else: log, wait, connect again
                self.count("error:client")
                logger.warning("firehose client failed", exc_info=True)
            if self._stopped.wait(backoff):
                return
            backoff = min(backoff * 2, _MAX_BACKOFF_SECONDS)

    def take(self, limit: int, wait: float) -> list[Event]:
        """Up to `limit` queued events, waiting at most `wait` seconds for the first one."""
        out: list[Event] = []
        try:
            out.append(self.events.get(timeout=wait))
        except queue.Empty:
            return out
        while len(out) < limit:
            try:
                out.append(self.events.get_nowait())
            except queue.Empty:
                break
        return out

    def stop(self, timeout: float = 3.0) -> None:
        self._stopped.set()
        if self._client is not None:
            self._client.stop()
        if self._thread is not None:
            self._thread.join(timeout)

    def wait_connected(self, timeout: float) -> bool:
        return self.connected.wait(timeout)


def _error_name(exc: SubscriptionError) -> str:
    error = exc.args[0] if exc.args else None
    name = getattr(error, "error", None)
    return str(name) if name else type(exc).__name__

"""Section 6: album deletions finished in the background. An album of more than
SYNC_DELETE_MAX_TRACKS tracks is deleted by the request (list record, album, a job item left
behind) and by the cleanup job the catalogue stream hands to ProcessCatalogueStreamFunction.
Calls and time per cleaned track, from the delete request to a drained stream, at 101 and 500
tracks, with cascade=false and cascade=true, against the real local PDS."""

from __future__ import annotations

import secrets
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from albums_core import bootstrap
from albums_core.adapters.atproto import xrpc
from albums_core.adapters.atproto.record_writes import MAX_WRITES
from albums_core.adapters.atproto.xrpc import PdsSession
from albums_core.adapters.aws_clients import client, dynamodb
from albums_core.adapters.dynamodb import keys
from albums_core.adapters.dynamodb.catalogue import CatalogueWriter
from albums_core.adapters.dynamodb.codec import to_item
from albums_core.adapters.dynamodb.session_store import pds_session
from albums_core.config import settings
from albums_core.domain.at_uri import AtUri
from albums_core.domain.models import Artist
from albums_core.domain.read_budget import ReadBudget
from albums_core.domain.records import LIST, TRACK, album_id_for, new_track
from albums_core.services import auth, cleanup
from albums_core.services.index_run import Indexer
from bench.common import Call, CallRecorder, function_logs, heading, ms, table, verdict
from bench.pds_proxy import CountingProxy, Seen
from bench.server_calls import ServerCall, ServerLog, requests
from bench.writes import XrpcRecorder
from local_runtime.stack import LocalStack

# Just over the synchronous limit (so it takes the cleanup path), and the list lexicon's maximum.
SIZES = (cleanup.SYNC_DELETE_MAX_TRACKS + 1, 500)
CASCADES = (False, True)
TARGET_RATIO = 1.2
# An account of its own, so the demo catalogue and section 4's account stay as they are.
HANDLE = "bench-cleaner.test"
CREATED_AT = "2026-02-01T12:00:00.000Z"


@dataclass
class Case:
    cascade: bool
    size: int
    title: str
    list_record: xrpc.Record
    records: list[xrpc.Record]
    # measured by clean()
    table_items: int = 0
    request: float = 0.0
    drain: float = 0.0
    in_pds: float = 0.0
    in_polling: float = 0.0
    pds: list[str] = field(default_factory=list)
    pds_in_request: int = 0
    # The PDS calls of the bench's process (the request), counted on its XRPC client, which the
    # proxy must see too; and every request the proxy saw, the job's in the worker included.
    pds_in_process: int = 0
    proxied: list[Seen] = field(default_factory=list)
    dynamodb: list[Call] = field(default_factory=list)
    dynamodb_in_request: int = 0
    # DynamoDB calls of the worker processes (the job, the stream records' handlers), from
    # moto's request log: one per API request.
    in_workers: list[ServerCall] = field(default_factory=list)
    other_aws: list[str] = field(default_factory=list)
    http_retries: int = 0
    delivered: int = 0
    dropped: int = 0
    problems: list[str] = field(default_factory=list)
    unaccounted: list[str] = field(default_factory=list)

    @property
    def album_id(self) -> str:
        return album_id_for(self.list_record.uri)

    @property
    def uris(self) -> list[str]:
        return [r.uri for r in self.records]

    @property
    def label(self) -> str:
        return f"cascade={str(self.cascade).lower()}, {self.size} tracks"

    @property
    def seconds(self) -> float:
        return self.request + self.drain

    @property
    def in_dynamodb(self) -> float:
        return sum(c.seconds for c in self.dynamodb)

    @property
    def in_dynamodb_request(self) -> float:
        return sum(c.seconds for c in self.dynamodb[: self.dynamodb_in_request])

    @property
    def in_transactions(self) -> float:
        return sum(c.seconds for c in self.dynamodb if c.operation == "TransactWriteItems")

    @property
    def worker_calls(self) -> list[ServerCall]:
        return list(requests(self.in_workers).values())

    @property
    def dynamodb_calls(self) -> int:
        return len(self.dynamodb) + len(self.worker_calls)

    @property
    def dynamodb_operations(self) -> list[str]:
        return [c.operation for c in self.dynamodb] + [f"{c.operation}*" for c in self.worker_calls]

    def batch_items(self, table_name: str) -> int:
        """Items the workers' BatchWriteItem calls named on the catalogue table."""
        return sum(
            c.items
            for c in self.in_workers
            if c.operation == "BatchWriteItem" and c.resource.endswith(f"table/{table_name}")
        )

    @property
    def items_read(self) -> int:
        return sum(c.items_read for c in self.dynamodb)

    @property
    def query_items_read(self) -> int:
        return sum(c.items_read for c in self.dynamodb if c.operation == "Query")

    def per_track(self, figure: float) -> float:
        return figure / self.size


def publish_album(pds: PdsSession, cascade: bool, size: int, name: str = "") -> Case:
    """`size` track records carrying the album's name and a list record of them, as an artist
    who already publishes on ATProto has them."""
    title = f"Cleanup Bench {name or ('Cascade' if cascade else 'Keep')} {size}"
    records: list[xrpc.Record] = []
    for start in range(0, size, MAX_WRITES):
        values = [
            {
                "$type": TRACK,
                "title": f"{title} track {n:03d}",
                "artist": "Bench Cleaner",
                "fileType": "mp3",
                "duration": 180 + n,
                "createdAt": CREATED_AT,
                "album": title,
            }
            for n in range(start, min(size, start + MAX_WRITES))
        ]
        out = pds.apply_writes(
            [{"$type": "com.atproto.repo.applyWrites#create", "collection": TRACK, "value": v} for v in values],
            swap_commit=None,
        )
        records += [xrpc.Record(str(r["uri"]), str(r["cid"]), v) for r, v in zip(out["results"], values, strict=True)]
    value = {
        "$type": LIST,
        "name": title,
        "listType": "album",
        "items": [{"subject": {"uri": r.uri, "cid": r.cid}} for r in records],
        "createdAt": CREATED_AT,
    }
    list_uri, list_cid = pds.create_record(LIST, value)
    return Case(cascade, size, title, xrpc.Record(list_uri, list_cid, value), records)


def index(artist: Artist, cases: list[Case]) -> dict[str, int]:
    """What sync_artist would write, written faster; returns what sync_artist then still changed.

    The indexer writes each new track with a one-action TransactWriteItems, and when moto
    deep-copied the whole table per action (before local_runtime/moto_main.py), 1,200 tracks
    took almost 4 minutes; the section's set-up writes them in bulk.
    Here the album items come from the indexer's own `_upsert_album`, the track items
    (`new_track`, `_track_item`, ids from the service's counter) go in with BatchWriteItem and
    the counters from `recount`. Then sync_artist runs as the check: it compares every record on
    the PDS with the catalogue and must find nothing to change."""
    repo = CatalogueWriter()
    # A run as Indexing.index starts one (a job's budget, no album busy); only its album upsert is used.
    budget = ReadBudget(settings().index_job_seconds)
    indexer = Indexer(artist, repo, bootstrap.pds_reader(), bootstrap.page_cache(), budget, set())
    for case in cases:
        album = indexer._upsert_album(None, case.list_record.uri, case.list_record, case.uris)
        out = repo.client.update_item(
            TableName=repo.table,
            Key=to_item(keys.track_id_counter()),
            UpdateExpression="ADD next_id :n",
            ExpressionAttributeValues={":n": {"N": str(case.size)}},
            ReturnValues="UPDATED_NEW",
        )
        last = int(out["Attributes"]["next_id"]["N"])
        ids = range(last - case.size + 1, last + 1)
        tracks = [
            new_track(i, artist.did, album.id, r.uri, r.cid, r.value) for i, r in zip(ids, case.records, strict=True)
        ]
        repo.batch_write([{"PutRequest": {"Item": to_item(repo._track_item(t))}} for t in tracks])
        repo.recount(album.id)
    return bootstrap.indexing(repo).sync_artist(artist)


class HttpRetries:
    """HTTP retries botocore made inside the calls of one client (a read timeout against a busy
    moto shows here: the call is counted once, its time includes the timeout)."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.count = 0
        self._id = f"bench-retries-{id(self)}"

    def _after(self, parsed: dict[str, Any], **_: Any) -> None:
        self.count += int((parsed.get("ResponseMetadata") or {}).get("RetryAttempts", 0))

    def __enter__(self) -> HttpRetries:
        self.client.meta.events.register("after-call.dynamodb", self._after, unique_id=self._id)
        return self

    def __exit__(self, *_: object) -> None:
        self.client.meta.events.unregister("after-call.dynamodb", self._after, unique_id=self._id)


def table_items(repo: CatalogueWriter) -> int:
    # moto counts the table's items live (DynamoDB updates ItemCount every few hours).
    return int(repo.client.describe_table(TableName=repo.table)["Table"]["ItemCount"])


def clean(stack: LocalStack, caller: auth.Caller, case: Case, proxy: CountingProxy, log: ServerLog) -> None:
    """The delete request, then the stream drained: every call, and the time of both. The caller's
    session names the counting proxy as its PDS, so the job (which keeps the session's PDS URL)
    sends its calls through it too, from the worker process that runs it."""
    pump = stack.stream_pump
    case.table_items = table_items(CatalogueWriter())
    pump.drain()  # nothing else in the stream: what is counted below is this deletion's
    delivered, dropped = pump.delivered, pump.dropped
    proxy.reset()
    offset = log.mark()
    with (
        function_logs(),
        XrpcRecorder() as pds,
        CallRecorder(dynamodb()) as ddb,
        HttpRetries(dynamodb()) as retries,
        CallRecorder(client("kms")) as kms,
        CallRecorder(client("sqs")) as sqs,
        CallRecorder(pump.streams) as streams,
        CallRecorder(pump.dynamodb) as describe,
    ):
        # The pump also polls in its own thread, under this lock: held, it keeps the stream's
        # records (the album's removal, the job) for after the request, so the split below is
        # exact (on AWS they come a batching window later too).
        admin = bootstrap.album_admin(caller)
        with pump._lock:
            started = time.perf_counter()
            out = admin.delete(case.album_id, case.cascade)
            requested = time.perf_counter()
            case.pds_in_request, case.dynamodb_in_request = len(proxy.seen), len(ddb.calls)
        # drain() takes the same lock: it returns once the job and every stream record it caused
        # are delivered, whichever thread ran them.
        pump.drain(timeout=600)
        drained = time.perf_counter()
    if out != {"deleted": True, "cascade": case.cascade}:
        raise RuntimeError(f"delete of the {case.size}-track album answered {out}")
    case.request, case.drain = requested - started, drained - requested
    case.pds_in_process, case.in_pds = len(pds.calls), pds.seconds()
    case.proxied = list(proxy.seen)
    case.pds = [s.nsid for s in case.proxied]
    case.dynamodb = list(ddb.calls)
    case.in_workers = log.since(offset)
    case.other_aws = [f"kms.{op}" for op in kms.operations] + [f"sqs.{op}" for op in sqs.operations]
    case.other_aws += [f"{c.action.split(':')[0]}.{c.operation}*" for c in requests(case.in_workers, "kms").values()]
    case.other_aws += [f"{c.action.split(':')[0]}.{c.operation}*" for c in requests(case.in_workers, "sqs").values()]
    case.http_retries = retries.count
    case.in_polling = streams.seconds + describe.seconds
    case.delivered, case.dropped = pump.delivered - delivered, pump.dropped - dropped
    with function_logs():
        case.problems = disagreements(case, caller.artist.did, str(caller.artist.pds_url))
    case.unaccounted = unaccounted(case, log)


def unaccounted(case: Case, log: ServerLog) -> list[str]:
    """Where the counts do not add up: every PDS call of the bench's process seen by the proxy
    too, every track record's write seen in an applyWrites, every track item's removal seen in
    the workers' batches, and the workers' calls in moto's log at all."""
    problems = []
    if case.pds_in_process != case.pds_in_request:
        problems.append(f"the proxy saw {case.pds_in_request} request calls, the client made {case.pds_in_process}")
    wanted = f"{'delete' if case.cascade else 'update'} {TRACK}"
    written = sum(w == wanted for s in case.proxied if s.status == 200 for w in s.writes)
    if written != case.size:
        problems.append(f"{written} of {case.size} track record writes ({wanted}) seen through the proxy")
    if not log.enabled:
        problems.append("moto's request log is off (ALBUMS_LOCAL_IAM_CALLS): the workers' calls are not counted")
        return problems
    items = case.batch_items(CatalogueWriter().table)
    # cascade=false: each track's standalone copy put, then the album's copy deleted (2 per
    # track); cascade=true: the item and its record guard deleted (1 or 2 per track).
    low, high = (case.size, 2 * case.size) if case.cascade else (2 * case.size, 2 * case.size)
    if not low <= items <= high:
        problems.append(f"the workers' BatchWriteItem named {items} items for {case.size} tracks")
    return problems


def disagreements(case: Case, did: str, pds_url: str) -> list[str]:
    """Where the PDS and DynamoDB disagree after the drain (none expected): a track left in the
    album's partition, the album, its list record or the job still there; a kept track not
    standalone with its record's CID, or its record still naming the album; a deleted track
    still on either side; a record dead-lettered."""
    repo = CatalogueWriter()
    at = AtUri.parse(case.list_record.uri)
    assert at is not None
    problems = []
    left = bootstrap.cleanup().remaining_tracks(case.album_id)
    if left:
        problems.append(f"{len(left)} tracks left in the album's partition")
    if repo.get_album(case.album_id) is not None:
        problems.append("album item still there")
    if xrpc.get_record(pds_url, did, LIST, at.rkey) is not None:
        problems.append("list record still there")
    jobs = repo._query_all(
        IndexName="gsi2",
        KeyConditionExpression="gsi2pk = :p",
        ExpressionAttributeValues={":p": {"S": f"JOBS#{did}"}},
    )
    if jobs:
        problems.append(f"{len(jobs)} jobs left ({', '.join(str(j.get('status')) for j in jobs)})")
    if case.dropped or case.other_aws.count("sqs.SendMessage"):
        problems.append("stream records dropped or dead-lettered")
    on_pds = {r.uri: r for r in xrpc.list_records(pds_url, did, TRACK)}
    local = {t.record_uri: t for t in repo.artist_tracks(did)}
    wrong: Counter[str] = Counter()
    for uri in case.uris:
        record, track = on_pds.get(uri), local.get(uri)
        if case.cascade:
            wrong["record still on the PDS"] += record is not None
            wrong["track still in DynamoDB"] += track is not None
            continue
        if record is None or track is None:
            wrong["kept track missing on the PDS or in DynamoDB"] += 1
            continue
        wrong["record still has `album`"] += "album" in record.value
        wrong["track item still in an album"] += track.album_id is not None
        wrong["track item's CID is not its record's"] += track.record_cid != record.cid
    problems += [f"{n} tracks: {what}" for what, n in wrong.items() if n]
    return problems


def _per_operation(names: list[str]) -> str:
    return " ".join(f"{op}:{n}" for op, n in sorted(Counter(names).items()))


def _time_per_operation(calls: list[Call]) -> str:
    spent: defaultdict[str, float] = defaultdict(float)
    for c in calls:
        spent[c.operation] += c.seconds
    return " ".join(f"{op}:{ms(s)}" for op, s in sorted(spent.items()))


def say(*lines: str) -> None:
    for line in lines:
        print(f"  {line}")


def run(stack: LocalStack) -> list[tuple[str, bool]]:
    assert stack.pds
    began = time.perf_counter()
    with function_logs():
        # The scheduled sweep (every 300 s here) would add its calls to the counts; nothing after
        # this section needs it (a sweep already running is waited for).
        stack.schedule_pump.stop()
        if stack.schedule_pump._thread:
            stack.schedule_pump._thread.join()
        # What earlier sections left in the stream, delivered now: the function's logs and metrics
        # go to the log file, not into the report.
        stack.stream_pump.drain(timeout=600)
    heading("6. Cleanups: album deletion in the background, calls and time per cleaned track (real local PDS)")
    password = secrets.token_urlsafe(12)
    started = time.perf_counter()
    proxy = CountingProxy(stack.pds.pds_url).start()
    log = ServerLog(getattr(stack, "_function_keys", {}))
    with function_logs():
        stack.pds.create_account(HANDLE, password)
        session, artist = bootstrap.auth().login(HANDLE, password)
        # Only the calls made with this session go through the proxy: publishing and indexing
        # below use the PDS itself.
        caller = auth.Caller(replace(session, pds_url=proxy.url), artist)
        pds = pds_session(session)
        warm_up = publish_album(pds, False, SIZES[0], "Warm-up")
        cases = [publish_album(pds, cascade, size) for cascade in CASCADES for size in SIZES]
        published = time.perf_counter() - started
        changed = index(artist, [warm_up, *cases])
        if any(changed.values()):
            raise RuntimeError(f"sync_artist found the bench's indexing different from its own: {changed}")
        repo = CatalogueWriter()
        for case in [warm_up, *cases]:
            loaded = repo.load_album(case.album_id)
            if loaded is None or len(loaded[1]) != case.size or loaded[0].track_count != case.size:
                raise RuntimeError(f"{case.title}: indexed {len(loaded[1]) if loaded else 0} of {case.size} tracks")
        stack.stream_pump.drain(timeout=600)
    indexed = time.perf_counter() - started - published
    # One discarded deletion first (the function's first invocation, first use of each code path),
    # then one deletion each (it takes the album apart), in the order of the tables.
    try:
        for case in [warm_up, *cases]:
            clean(stack, caller, case, proxy, log)
    finally:
        proxy.stop()

    say(
        f"account {HANDLE} on the local PDS: albums of {', '.join(str(c.size) for c in cases)} track records"
        " that carry",
        f"an `album` field, and their list records, published with applyWrites ({published:.1f} s); indexed"
        f" ({indexed:.1f} s):",
        "the items sync_artist writes, written with BatchWriteItem, then sync_artist found nothing to change",
        "delete = bootstrap.album_admin(caller).delete(album_id, cascade), then stack.stream_pump.drain() until the",
        "stream stays empty: the job and every stream record it causes run in ProcessCatalogueStreamFunction.",
        f"One deletion per row (it takes the album apart), after a discarded deletion of a {warm_up.size}-track album",
        "counted from the request to the drained stream, wherever the calls run (the request in this process; the",
        "job and the stream records' handlers in the function's worker processes): PDS calls at the counting proxy",
        "the caller's session names as its PDS, DynamoDB calls on the layer's client and in moto's request log",
    )
    print()
    rows = [
        [
            c.label,
            str(c.table_items),
            ms(c.request),
            ms(c.in_dynamodb_request),
            ms(c.drain),
            ms(c.in_dynamodb - c.in_dynamodb_request),
            ms(c.seconds),
            ms(c.in_pds),
            ms(c.in_polling),
            ms(c.per_track(c.seconds)),
            ms(c.per_track(c.seconds - c.in_dynamodb)),
        ]
        for c in cases
    ]
    headers = [
        "album deleted",
        "table items",
        "request",
        "DynamoDB",
        "drain",
        "DynamoDB",
        "total",
        "PDS",
        "polling",
        "total/track",
        "- DynamoDB",
    ]
    print(table(headers, rows, "lrrrrrrrrrr"))
    print()
    say(
        "ms. table items: the catalogue table's items before the request (moto's Query and TransactWriteItems cost",
        "grows with it). DynamoDB: time inside the layer's DynamoDB calls of the bench's process during the request,",
        "then during the drain (the workers' calls are counted, not timed). PDS: time with a PDS call of the bench's",
        "process in flight (the request's; parallel reads overlap). polling: the pump's own stream reads, standing",
        "for Lambda's event source mapping (not the service). total/track: (request + drain) / tracks; - DynamoDB:",
        "the same without the time inside DynamoDB calls",
    )
    print()
    rows = [
        [
            c.label,
            f"{len(c.pds)} ({c.pds_in_request})",
            f"{c.per_track(len(c.pds)):.3f}",
            f"{c.dynamodb_calls} ({c.dynamodb_in_request})",
            f"{c.per_track(c.dynamodb_calls):.3f}",
            str(c.items_read),
            f"{c.per_track(c.items_read):.2f}",
            str(c.delivered),
            "NO: " + "; ".join(c.problems) if c.problems else verdict(True),
            "NO: " + "; ".join(c.unaccounted) if c.unaccounted else verdict(True),
        ]
        for c in cases
    ]
    headers = [
        "album deleted",
        "PDS calls",
        "/track",
        "DynamoDB",
        "/track",
        "items read",
        "/track",
        "stream",
        "agree",
        "add up",
    ]
    print(table(headers, rows, "lrrrrrrrll"))
    print()
    say(
        "calls: all, wherever they ran (of which the request's, in the bench's process). PDS: every request through",
        "the counting proxy the caller's session names as its PDS (the job keeps that URL, so its worker's calls",
        "pass it too). DynamoDB: the request's on the layer's client + the workers' (the job, the stream records'",
        "handlers) from moto's own request log, one per API request (marked * below). items read: the request's",
        "only (moto's log does not carry them). stream: records delivered to the function. agree: after the drain,",
        "no track is left in the album's partition (Cleanup.remaining_tracks(...) == []); the album, its list record",
        "and the job are gone; every track record lost its `album` field and its item is standalone with the",
        "record's CID (cascade=false), or record and item are gone (cascade=true); nothing dropped or dead-lettered.",
        "add up: the proxy saw every PDS call the request's client made, one track record write",
        "per track in the applyWrites bodies, and the workers' BatchWriteItem named 2 items per track (put the",
        "standalone copy, delete the album's) or 1-2 (the item and its record guard, cascade=true)",
    )
    print()
    say("calls per operation (PDS by NSID, DynamoDB by API), and ms inside DynamoDB by API:")
    for c in cases:
        say(
            f"  {c.label:<26} PDS      {_per_operation(c.pds)}",
            f"  {'':<26} DynamoDB {_per_operation(c.dynamodb_operations)}",
            f"  {'':<26} ms       {_time_per_operation(c.dynamodb)}",
            f"  {'':<26} other    {_per_operation(c.other_aws) or '-'}; DynamoDB HTTP retries: {c.http_retries}",
        )

    ratios: dict[bool, dict[str, float]] = {}
    for cascade in CASCADES:
        small, large = (next(c for c in cases if c.cascade == cascade and c.size == s) for s in SIZES)

        def ratio(figure: Callable[[Case], float], small: Case = small, large: Case = large) -> float:
            return large.per_track(figure(large)) / small.per_track(figure(small))

        ratios[cascade] = {
            "pds": ratio(lambda c: len(c.pds)),
            "dynamodb": ratio(lambda c: c.dynamodb_calls),
            "wall": ratio(lambda c: c.seconds),
            "drain": ratio(lambda c: c.drain),
            "drain_rest": ratio(lambda c: c.drain - (c.in_dynamodb - c.in_dynamodb_request)),
            "rest": ratio(lambda c: c.seconds - c.in_dynamodb),
            "in_dynamodb": ratio(lambda c: c.in_dynamodb),
            "items": ratio(lambda c: c.items_read),
        }
    figures = [
        ("PDS calls", "pds", True),
        ("DynamoDB calls", "dynamodb", True),
        ("time (request + drain)", "wall", False),
        ("time - in DynamoDB", "rest", False),
        ("time in DynamoDB", "in_dynamodb", False),
        ("time, drain only", "drain", False),
        ("drain - in DynamoDB", "drain_rest", False),
        ("DynamoDB items read", "items", False),
    ]
    rows = []
    for name, key, target in figures:
        cells = [
            f"{ratios[c][key]:.2f}x" + (f"  {verdict(ratios[c][key] <= TARGET_RATIO)}" if target else "")
            for c in CASCADES
        ]
        rows.append([name, f"<= {TARGET_RATIO}x" if target else "-", *cells])
    print()
    say(f"per cleaned track, {SIZES[1]} tracks / {SIZES[0]} tracks:")
    print(table(["", "target", *(f"cascade={str(c).lower()}" for c in CASCADES)], rows, "llrr"))
    print()
    for cascade in CASCADES:
        r = ratios[cascade]
        name = f"cascade={str(cascade).lower()}"
        if r["wall"] <= TARGET_RATIO:
            say(
                f"{name}: the time per track is within {TARGET_RATIO}x too ({r['wall']:.2f}x): the request costs"
                " the same at both",
                f"sizes; the drain alone is {r['drain']:.2f}x.",
            )
        elif r["rest"] <= TARGET_RATIO:
            say(
                f"{name}: the time per track is {r['wall']:.2f}x, over {TARGET_RATIO}x because of moto: without"
                " the time",
                f"inside DynamoDB calls it is {r['rest']:.2f}x (moto does each item and each transaction action",
                "in Python: sections 3 and 4).",
            )
        else:
            say(
                f"{name}: the time per track is {r['wall']:.2f}x, over {TARGET_RATIO}x, and {r['rest']:.2f}x"
                " without the",
                "time inside DynamoDB calls: not moto's doing.",
            )
    transactions = "; ".join(
        f"{' / '.join(ms(c.in_transactions) for c in cases if c.cascade == cascade)} ms"
        f" (cascade={str(cascade).lower()})"
        for cascade in CASCADES
    )
    say(
        f"The request's TransactWriteItems (4 actions), at {SIZES[0]} / {SIZES[1]} tracks, took:",
        f"{transactions}.",
        "moto does each action in Python, one request at a time for its writes (local_runtime/moto_main.py), and one",
        "such call can wait behind the stream's or another worker's: that moves the wall-time ratio either way.",
        "time - in DynamoDB and the drain alone do not depend on it.",
    )
    if any(r["items"] > TARGET_RATIO for r in ratios.values()):
        read = {s: " / ".join(str(c.query_items_read) for c in cases if c.size == s) for s in SIZES}
        say(
            "DynamoDB items read per track grow with the album: before each batch of"
            f" {MAX_WRITES} tracks, run_job queries",
            "every remaining track of the album (remaining_tracks(...)[:batch]): N + (N -"
            f" {MAX_WRITES}) + ... items. Queries read",
            f"{read[SIZES[0]]} items at {SIZES[0]} tracks and {read[SIZES[1]]} at {SIZES[1]} (cascade=false / true,"
            " the request's load_album included).",
        )
    say(f"section 6 took {time.perf_counter() - began:.0f} s")
    summary: list[tuple[str, bool]] = []
    for cascade in CASCADES:
        for what, key in (("PDS", "pds"), ("DynamoDB", "dynamodb")):
            value = ratios[cascade][key]
            summary.append(
                (
                    f"cleanup cascade={str(cascade).lower()}: {what} calls per track,"
                    f" {SIZES[1]} / {SIZES[0]} tracks <= {TARGET_RATIO}x ({value:.2f}x)",
                    value <= TARGET_RATIO,
                )
            )
    summary.append(("cleanups: PDS and DynamoDB agree after every drain", all(not c.problems for c in cases)))
    summary.append(
        (
            "cleanups: the counts add up (every track's record write seen at the proxy, every track item's"
            " removal in the workers' calls)",
            all(not c.unaccounted for c in cases),
        )
    )
    return summary

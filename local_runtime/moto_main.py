"""`python -m local_runtime.moto_main -H 127.0.0.1 -p PORT`: moto's server, with changes to its
DynamoDB backend that keep a long-running local stack's memory bounded and its requests' cost
what DynamoDB's would grow with.

moto 5.2.5 makes a local stack die doing what the contract allows:

- `transact_write_items` deep-copies every table an action names, once per action, to roll
  back on failure: a 100-action transaction on a table of N items holds 100 copies of N items
  (and of the table's stream shard). Here a transaction snapshots only the items it touches and
  the stream shard's length, and rolls back exactly those.
- a table's `StreamShard` keeps every record ever written. DynamoDB keeps them 24 hours. Here
  the shard drops records older than that, and beyond `ALBUMS_LOCAL_STREAM_KEEP` records (10 000
  by default) it drops the oldest ones a GetRecords call has already returned; records no
  reader has seen stay until the 24 hours are up. Sequence numbers stay what they were.
- a `Query` of the table (not of an index) walks every item of the table; DynamoDB reads the
  one partition. Here it walks that partition's items only (same results, same order, same
  paging): a query's cost no longer grows with everything else the table holds. That view is
  the querying thread's own: scans answered meanwhile see the whole table.
- a `Query` of an index sorts every item of the table before it keeps the index partition's.
  Here it is shown only the items whose index key attributes are the ones asked for (same
  results, same order: moto sorts them by the index's keys).
- moto writes its answers with a model-driven serializer that visits every value of every item:
  most of a 100-item Query's time, and of the server's CPU while a stream is busy. The answers
  of the item operations and of `GetRecords` are written directly here (local_runtime/moto_answers.py).
- each call recorded for the IAM report (below) opened and closed its file: one handle here.

Writes to DynamoDB (and stream reads) take one lock, so a concurrent request never sees or
slips between the half of a transaction that a rollback would undo, and stream records of a
rolled-back transaction are never read (DynamoDB writes none for a cancelled transaction)."""

from __future__ import annotations

import base64
import bisect
import copy
import functools
import hashlib
import itertools
import json
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, TextIO

from moto.core.authorization import ActionAuthenticatorMixin
from moto.core.exceptions import AccessDeniedError, JsonRESTError
from moto.core.responses import ActionResult
from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import (
    ConditionalCheckFailed,
    MockValidationException,
    MultipleTransactionsException,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import StreamRecord, StreamShard, Table
from moto.dynamodb.responses import DynamoHandler
from moto.kms.utils import KEY_ID_LEN

from local_runtime import moto_answers

# The local runtime's own key (setup, pumps, tests): the account's root, allowed everything.
# Any other key is an IAM user's and gets what its policies grant (local_runtime/iam.py).
ROOT_KEYS = set(os.environ.get("ALBUMS_LOCAL_ROOT_KEYS", "testing").split(","))
RETENTION_SECONDS = 24 * 3600
KEEP_READ_RECORDS = int(os.environ.get("ALBUMS_LOCAL_STREAM_KEEP", "10000"))
TRANSACTION_ACTIONS = 100

_WRITES = threading.RLock()
# With ALBUMS_LOCAL_IAM_CALLS set, every authorised call of an IAM user's key is appended to
# "<that path>.keys" as [access key, action, resource, request number, API operation, items] (the
# last three let the benchmark count calls and batch items per request): the local stack names the functions
# (`python -m local_runtime.iam report`). Recorded here because each function runs in a process
# of its own; the server is the one place that sees them all.
_CALLS_PATH = os.environ.get("ALBUMS_LOCAL_IAM_CALLS")
_CALLS_LOCK = threading.Lock()
_REQUESTS = itertools.count(1)


@functools.cache
def _calls_file() -> TextIO:
    return open(f"{_CALLS_PATH}.keys", "a")  # open for the server's lifetime


def _record_call(key: str, action: str, arn: str, request: int = 0, operation: str = "", items: int = 1) -> None:
    if _CALLS_PATH:
        line = json.dumps([key, action, arn, request, operation, items]) + "\n"
        with _CALLS_LOCK:
            # One write of a whole line (readers leave a line without its newline for later).
            _calls_file().write(line)
            _calls_file().flush()


def _batch_items(handler: Any, arn: str) -> int:
    """The items of a BatchWriteItem or BatchGetItem that name `arn`'s table (1 for other calls)."""
    body: Any = handler.body
    if not isinstance(body, dict):
        try:
            body = json.loads(handler.raw_body or b"{}")
        except ValueError:
            return 1
    requested = body.get("RequestItems") if isinstance(body, dict) else None
    if not isinstance(requested, dict):
        return 1
    entry = requested.get(arn.rsplit("/", 1)[-1])
    return len(entry.get("Keys", [])) if isinstance(entry, dict) else len(entry or [])


def _serialised(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def locked(*args: Any, **kwargs: Any) -> Any:
        with _WRITES:
            return method(*args, **kwargs)

    return locked


# ---- the stream shard: bounded, sequence numbers kept ----------------------------------------


def _shard_state(shard: StreamShard) -> dict[str, Any]:
    """Per-shard bookkeeping, created on first use (the shard is moto's object)."""
    state: dict[str, Any] | None = getattr(shard, "_albums_state", None)
    if state is None:
        first = shard.starting_sequence_number
        state = {"next": first + len(shard.items), "added": [time.time()] * len(shard.items), "read_to": first - 1}
        shard._albums_state = state  # type: ignore[attr-defined]
    return state


def _seq(record: StreamRecord) -> int:
    return int(record.record["dynamodb"]["SequenceNumber"])


def _trim(shard: StreamShard, now: float) -> None:
    state = _shard_state(shard)
    drop = 0
    while drop < len(shard.items) and (
        now - state["added"][drop] > RETENTION_SECONDS
        or (len(shard.items) - drop > KEEP_READ_RECORDS and _seq(shard.items[drop]) <= state["read_to"])
    ):
        drop += 1
    if drop:
        del shard.items[:drop]
        del state["added"][:drop]
    # TRIM_HORIZON and describe_stream start here; LATEST is this plus len(items).
    shard.starting_sequence_number = _seq(shard.items[0]) if shard.items else state["next"]


def _shard_add(self: StreamShard, old: Item | None, new: Item | None) -> None:
    if self.table.lambda_event_source_mappings:  # moto's own Lambda delivery: unchanged
        _original_add(self, old, new)
        return
    with _WRITES:
        state = _shard_state(self)
        view = self.table.stream_specification["StreamViewType"]  # type: ignore[index]
        event = "INSERT" if old is None else "REMOVE" if new is None else "MODIFY"
        self.items.append(StreamRecord(self.table, view, event, old, new, state["next"]))
        state["added"].append(time.time())
        state["next"] += 1
        _trim(self, time.time())


def _shard_get(self: StreamShard, start: int, quantity: int) -> list[dict[str, Any]]:
    with _WRITES:
        state = _shard_state(self)
        _trim(self, time.time())
        # An iterator older than the trim horizon reads from the oldest record kept.
        first = bisect.bisect_left(self.items, start, key=_seq)
        records = [r.to_json() for r in self.items[first : first + quantity]]
        if records:
            state["read_to"] = max(state["read_to"], int(records[-1]["dynamodb"]["SequenceNumber"]))
        return records


def _truncate_stream(shard: StreamShard, first_seq: int) -> None:
    """Forget the records a rolled-back transaction wrote (from `first_seq` on: writes are
    serialised) and reuse their sequence numbers, as moto's whole-table rollback did."""
    state = _shard_state(shard)
    keep = bisect.bisect_left(shard.items, first_seq, key=_seq)
    del shard.items[keep:]
    del state["added"][keep:]
    state["next"] = first_seq
    shard.starting_sequence_number = _seq(shard.items[0]) if shard.items else first_seq


# ---- transactions: snapshot and roll back only the touched items ------------------------------


def _key_of(table: Table, op_type: str, op: dict[str, Any]) -> dict[str, Any]:
    if op_type != "Put":
        return dict(op["Key"])
    attrs = op["Item"]
    key = {table.hash_key_attr: attrs[table.hash_key_attr]}
    if table.range_key_attr is not None:
        key[table.range_key_attr] = attrs[table.range_key_attr]
    return key


def _restore(table: Table, key: dict[str, Any], before: Item | None) -> None:
    hash_value = DynamoType(key[table.hash_key_attr])
    range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
    if range_value is not None:
        bucket = table.items[hash_value]
        if before is None:
            bucket.pop(range_value, None)
            if not bucket:
                table.items.pop(hash_value, None)
        else:
            bucket[range_value] = before
    elif before is None:
        table.items.pop(hash_value, None)
    else:
        table.items[hash_value] = before  # type: ignore[assignment]


class _Undo:
    def __init__(self) -> None:
        self.items: list[tuple[Table, dict[str, Any], Item | None]] = []
        self.streams: dict[int, tuple[StreamShard, int]] = {}

    def remember(self, table: Table, key: dict[str, Any], current: Item | None) -> None:
        # A copy: update_item changes the stored Item in place.
        self.items.append((table, key, copy.deepcopy(current)))
        shard = table.stream_shard
        if shard is not None and id(shard) not in self.streams:
            self.streams[id(shard)] = (shard, _shard_state(shard)["next"])

    def roll_back(self) -> None:
        for table, key, before in reversed(self.items):
            _restore(table, key, before)
        for shard, first_seq in self.streams.values():
            _truncate_stream(shard, first_seq)


# DynamoDB's idempotency of TransactWriteItems, which moto lacks: botocore retries a call that
# timed out with the same ClientRequestToken, and DynamoDB answers a repeat of an applied call
# (for 10 minutes) as applied instead of running it again; the same token with other items is
# refused. Without it, a retry under load re-ran a transaction here and failed its conditions.
_TOKENS: dict[str, tuple[str, float]] = {}
_TOKEN_SECONDS = 600


def _idempotent(method: Callable[[DynamoHandler], Any]) -> Callable[[DynamoHandler], Any]:
    @functools.wraps(method)
    def handle(self: DynamoHandler) -> Any:
        token = self.body.get("ClientRequestToken")
        if not token:
            return method(self)
        items = json.dumps(self.body["TransactItems"], sort_keys=True, default=repr)  # binary values are bytes here
        digest = hashlib.sha256(items.encode()).hexdigest()
        with _WRITES:  # a retry waits for the call it repeats
            now = time.time()
            if len(_TOKENS) > 50_000:
                for old in [t for t, (_, at) in _TOKENS.items() if now - at >= _TOKEN_SECONDS]:
                    del _TOKENS[old]
            seen = _TOKENS.get(token)
            if seen is not None and now - seen[1] < _TOKEN_SECONDS:
                if seen[0] != digest:
                    raise JsonRESTError(
                        "IdempotentParameterMismatchException",
                        "ClientRequestToken was used before with other parameters",
                    )
                return ActionResult({"ConsumedCapacity": [], "ItemCollectionMetrics": {}})
            out = method(self)
            _TOKENS[token] = (digest, now)  # only once applied: a refused call may be tried again
            return out

    return handle


def _transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    if len(transact_items) > TRANSACTION_ACTIONS:
        raise TooManyTransactionsException()
    with _WRITES:
        undo = _Undo()
        seen: set[tuple[str, str]] = set()
        outcomes: list[tuple[str | None, str | None, dict[str, Any] | None]] = []
        for action in transact_items:
            if len(action) > 1:
                raise TransactWriteSingleOpException
            old_image: dict[str, Any] | None = None
            try:
                op_type, op = next(iter(action.items()))
                if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
                    raise ValueError("Unsupported transaction operation")
                table_name = op["TableName"]
                table = self.get_table(table_name)
                key = _key_of(table, op_type, op)
                target = (str(table_name), str(dict(sorted(key.items()))))
                if target in seen:
                    raise MultipleTransactionsException()
                seen.add(target)
                names, values = op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
                condition = op.get("ConditionExpression")
                current = self.get_item(table_name, key)
                if condition is not None and not get_filter_expression(condition, names, values).expr(current):
                    if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                        old_image = current.to_json()["Attributes"]
                    raise ConditionalCheckFailed(item=old_image)
                if op_type != "ConditionCheck":
                    undo.remember(table, key, current)
                common = {
                    "condition_expression": condition,
                    "expression_attribute_names": names,
                    "expression_attribute_values": values,
                }
                if op_type == "Put":
                    self.put_item(table_name, op["Item"], **common)
                elif op_type == "Delete":
                    self.delete_item(table_name, key, **common)
                elif op_type == "Update":
                    self.update_item(table_name, key, update_expression=op["UpdateExpression"], **common)
                outcomes.append((None, None, None))
            except (MultipleTransactionsException, MockValidationException):
                undo.roll_back()
                raise
            except ConditionalCheckFailed as err:
                outcomes.append(("ConditionalCheckFailed", str(err.message), old_image))
            except Exception as err:  # noqa: BLE001 - reported per action, as moto does
                outcomes.append((type(err).__name__, str(err), old_image))
        if any(code is not None for code, _, _ in outcomes):
            undo.roll_back()
            raise TransactionCanceledException(outcomes)


# ---- IAM: every call of a function's IAM user is checked against its policies ----------------
#
# moto checks S3 and SQS calls against the resource they name, but every other service against
# "*", and DynamoDB transactions as an action IAM does not have (dynamodb:TransactWriteItems).
# Here DynamoDB, KMS and SSM calls are checked as IAM evaluates them: per action and resource
# (a transaction: each item's own action on its table).

_TRANSACT_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}


def _access_key(headers: Any) -> str | None:
    auth = headers.get("Authorization") or ""
    if "Credential=" not in auth:
        return None
    return str(auth.split("Credential=", 1)[1].split("/", 1)[0])


def _requested(handler: Any) -> list[tuple[str, str]] | None:
    """(action, resource ARN) pairs a DynamoDB, KMS or SSM call needs; None: moto's own check."""
    service = getattr(handler, "service_name", None)
    if service not in ("dynamodb", "kms", "ssm"):
        return None
    action = str(handler._get_action())
    body: Any = handler.body
    if not isinstance(body, dict):
        try:
            body = json.loads(handler.raw_body or b"{}")
        except ValueError:
            body = {}
    region, account = handler.region, handler.current_account
    if service == "dynamodb":

        def table(name: str) -> str:
            return f"arn:aws:dynamodb:{region}:{account}:table/{name}"

        if action in ("TransactWriteItems", "TransactGetItems"):
            pairs = []
            for item in body.get("TransactItems", []):
                ((op, spec),) = item.items()
                pairs.append((_TRANSACT_ACTIONS.get(op, "GetItem"), table(spec.get("TableName", "*"))))
            return pairs
        if action in ("BatchWriteItem", "BatchGetItem"):
            return [(action, table(name)) for name in body.get("RequestItems", {})]
        if "TableName" not in body:
            return [(action, "*")]
        arn = table(body["TableName"])
        return [(action, f"{arn}/index/{body['IndexName']}" if body.get("IndexName") else arn)]
    if service == "kms":
        key = body.get("KeyId")
        if not key and body.get("CiphertextBlob"):
            # Decrypt names no key: IAM checks the key the ciphertext was made with.
            key = base64.b64decode(body["CiphertextBlob"])[:KEY_ID_LEN].decode("ascii", "replace")
        if not key:
            return [(action, "*")]
        try:
            from moto.kms.models import kms_backends

            return [(action, kms_backends[account][region].describe_key(key).arn)]
        except Exception:  # noqa: BLE001 - an unknown key: KMS answers NotFound after the check
            return [(action, f"arn:aws:kms:{region}:{account}:key/{key}")]
    names = body.get("Names") or ([body["Name"]] if "Name" in body else [])
    if not names:
        return [(action, "*")]
    return [(action, f"arn:aws:ssm:{region}:{account}:parameter/{str(n).lstrip('/')}") for n in names]


def _s3_delete_keys(handler: Any, bucket_arn: str) -> list[tuple[str, str]] | None:
    """DeleteObjects is authorised per key (s3:DeleteObject on bucket/key), as S3 does; moto
    checks s3:DeleteObject on the bucket itself, which a grant on `bucket/*` never covers."""
    if handler.data.get("Action") != "DeleteObject" or not handler.is_delete_keys():
        return None
    import xmltodict

    objects = xmltodict.parse(handler.body, strip_whitespace=False)["Delete"].get("Object", [])
    objects = objects if isinstance(objects, list) else [objects]
    return [("DeleteObject", f"{bucket_arn}/{o['Key']}") for o in objects]


def _authorize(self: Any, iam_request_cls: type, resource: str = "*") -> None:
    key = _access_key(self.headers)
    # The root key, and unsigned requests: POST forms (the S3 front checked their signature).
    if key is None or key in ROOT_KEYS:
        return
    from moto.iam.access_control import IAMRequest

    pairs = _requested(self) if iam_request_cls is IAMRequest else _s3_delete_keys(self, resource)
    path = self.raw_path + (f"?{self.uri.split('?', 1)[1]}" if "?" in self.uri else "")
    number, operation = next(_REQUESTS), str(self._get_action())
    for action, arn in pairs or [(self._get_action(), resource)]:
        request = iam_request_cls(
            account_id=self.current_account,
            method=self.method,
            path=path,
            data=self.data,
            body=self.raw_body,
            headers=self.headers,
            action=action,
        )
        request.check_signature()
        # "<service>:<action>", as IAM names it
        _record_call(key, request._action, arn, number, operation, _batch_items(self, arn) if _CALLS_PATH else 1)
        try:
            request.check_action_permitted(arn)
        except AccessDeniedError as denied:
            if iam_request_cls is not IAMRequest:
                raise
            # DynamoDB, KMS and SSM speak JSON: AWS answers them 400 AccessDeniedException.
            raise JsonRESTError("AccessDeniedException", f"{denied.message} on resource: {arn}") from None


_original_add = StreamShard.add
_original_query = Table.query
_original_all_items = Table.all_items
# The partition a Query of this thread walks: (table, its items). Per thread: the table object
# is shared by every request the server is answering at that moment.
_PARTITION_VIEW = threading.local()


def _all_items(self: Table) -> Any:
    view: tuple[Table, list[Item]] | None = getattr(_PARTITION_VIEW, "view", None)
    if view is not None and view[0] is self:
        return view[1]
    return _original_all_items(self)


def _partition_query(self: Table, hash_key: DynamoType | None, *args: Any, **kwargs: Any) -> Any:
    """moto's own query, shown only the items of the partition it asks for (base table only: an
    index's partitions are not stored apart: `_index_query`). Only this call sees that view: a
    Scan answered meanwhile on another thread walks the whole table."""
    index_name = args[6] if len(args) > 6 else kwargs.get("index_name")
    if index_name:
        return _index_query(self, hash_key, *args, **kwargs)
    if hash_key is None or not self.range_key_attr:
        return _original_query(self, hash_key, *args, **kwargs)
    with _WRITES:  # no write changes the partition meanwhile
        partition = self.items.get(hash_key)
        return _shown(self, list(partition.values()) if partition else [], hash_key, *args, **kwargs)


def _index_query(self: Table, hash_key: DynamoType | None, *args: Any, **kwargs: Any) -> Any:
    """moto's own index query, shown only the items whose index key attributes hold the values
    asked for (moto keeps exactly those, then sorts them by the index's keys and the table's: a
    total order, so the unsorted view changes no answer). Items are read under the write lock,
    so a write meanwhile cannot change the table while it is walked."""
    wanted: list[tuple[str, DynamoType]] = list(kwargs.get("hash_key_conditions") or [])
    if not wanted:
        return _original_query(self, hash_key, *args, **kwargs)
    with _WRITES:
        rows = (
            self.items.values()
            if not self.range_key_attr
            else itertools.chain.from_iterable(bucket.values() for bucket in self.items.values())
        )
        kept = [
            item
            for item in rows
            if isinstance(item, Item)
            and all((value := item.attrs.get(name)) and value == expected for name, expected in wanted)
        ]
    return _shown(self, kept, hash_key, *args, **kwargs)


def _shown(self: Table, items: list[Item], hash_key: DynamoType | None, *args: Any, **kwargs: Any) -> Any:
    """moto's own query, its walk of the table shown `items` only, on this thread."""
    _PARTITION_VIEW.view = (self, items)
    try:
        return _original_query(self, hash_key, *args, **kwargs)
    finally:
        _PARTITION_VIEW.view = None


def install() -> None:
    """Patch moto's DynamoDB backend in this process (idempotent)."""
    if getattr(DynamoDBBackend, "_albums_patched", False):
        return
    DynamoDBBackend.transact_write_items = _transact_write_items  # type: ignore[method-assign]
    DynamoHandler.transact_write_items = _idempotent(DynamoHandler.transact_write_items)  # type: ignore[method-assign,assignment]
    for name in ("put_item", "update_item", "delete_item"):
        setattr(DynamoDBBackend, name, _serialised(getattr(DynamoDBBackend, name)))
    StreamShard.add = _shard_add  # type: ignore[method-assign]
    Table.query = _partition_query  # type: ignore[method-assign]
    Table.all_items = _all_items  # type: ignore[method-assign]
    moto_answers.install()
    StreamShard.get = _shard_get  # type: ignore[method-assign]
    ActionAuthenticatorMixin._authenticate_and_authorize_action = _authorize  # type: ignore[method-assign]
    DynamoDBBackend._albums_patched = True  # type: ignore[attr-defined]


def main(argv: list[str] | None = None) -> None:
    install()
    from moto.server import main as serve

    serve(argv if argv is not None else sys.argv[1:])


if __name__ == "__main__":
    main()

"""One DynamoDB table's building blocks, shared by every store of the catalogue table (and the
sweep's TTL tables): transactions, Put and Delete actions, paged queries, the conditional
update, and batch reads and writes under one retry policy for what DynamoDB leaves unprocessed."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from albums_core.adapters.aws_clients import dynamodb
from albums_core.adapters.dynamodb.codec import from_item, to_item, to_value

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import (
        KeysAndAttributesTypeDef,
        TransactWriteItemTypeDef,
        UpdateItemInputTypeDef,
        WriteRequestTypeDef,
    )

    Action = TransactWriteItemTypeDef
else:
    Action = dict

MAX_TRANSACTION = 100  # actions in one TransactWriteItems
BATCH_GET_MAX = 100
BATCH_WRITE_MAX = 25
# The one retry policy of unprocessed batch keys and items: attempts, then RetriesExhausted.
BATCH_ATTEMPTS = 10


def _sleep(seconds: float) -> None:
    time.sleep(seconds)  # looked up at each call: tests replace time.sleep


def batch_backoff(attempt: int) -> float:
    return min(0.02 * 2**attempt, 1.0)


class RetriesExhausted(RuntimeError):
    """DynamoDB still left part of a batch unprocessed after every attempt (throttled)."""


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def refused_positions(exc: ClientError) -> set[int]:
    """The positions of a cancelled transaction's actions whose condition failed."""
    reasons: Sequence[Any] = exc.response.get("CancellationReasons") or []
    return {i for i, r in enumerate(reasons) if r.get("Code") == "ConditionalCheckFailed"}


def unchanged(attribute: str, value: str | None) -> dict[str, Any]:
    """The condition of a write that must find `attribute` as read (or the item absent)."""
    if value is None:
        return {"ConditionExpression": "attribute_not_exists(pk)"}
    return {"ConditionExpression": f"{attribute} = :was", "ExpressionAttributeValues": {":was": to_value(value)}}


class Table:
    """`name` on `client` (the container's client by default). Every transaction goes through
    `route` when given (the catalogue's facade: one seam where tests interleave other writers)."""

    def __init__(
        self,
        name: str,
        client: DynamoDBClient | None = None,
        *,
        route: Callable[[list[Action]], None] | None = None,
        max_transaction: int = MAX_TRANSACTION,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.name = name
        self.given_client = client
        self.route = route
        self.max_transaction = max_transaction
        self.sleep = sleep or _sleep

    @property
    def client(self) -> DynamoDBClient:
        return self.given_client or dynamodb()

    # ---- single items --------------------------------------------------------------------

    def get(self, key: dict[str, Any], consistent: bool = False) -> dict[str, Any] | None:
        """GetItem, decoded (None when absent)."""
        if consistent:
            out = self.client.get_item(TableName=self.name, Key=to_item(key), ConsistentRead=True)
        else:
            out = self.client.get_item(TableName=self.name, Key=to_item(key))
        item = out.get("Item")
        return from_item(item) if item else None

    def update_if(
        self,
        key: dict[str, Any],
        update: str,
        condition: str,
        values: dict[str, Any] | None = None,
        names: dict[str, str] | None = None,
        returning: bool = False,
    ) -> dict[str, Any] | None:
        """One conditional UpdateItem (`values` plain, encoded here): the item as written (empty
        unless `returning`), or None when the condition refused the write."""
        params: UpdateItemInputTypeDef = {
            "TableName": self.name,
            "Key": to_item(key),
            "UpdateExpression": update,
            "ConditionExpression": condition,
        }
        if values:
            params["ExpressionAttributeValues"] = {k: to_value(v) for k, v in values.items()}
        if names:
            params["ExpressionAttributeNames"] = names
        if returning:
            params["ReturnValues"] = "ALL_NEW"
        try:
            out = self.client.update_item(**params)
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return None
            raise
        return from_item(out["Attributes"]) if returning else {}

    # ---- transactions --------------------------------------------------------------------

    def put(self, item: dict[str, Any], condition: str | None = None, values: dict[str, Any] | None = None) -> Action:
        """A Put action of `item` (plain values), conditional when `condition` is given."""
        action: Action = {"Put": {"TableName": self.name, "Item": to_item(item)}}
        if condition:
            action["Put"]["ConditionExpression"] = condition
        if values:
            action["Put"]["ExpressionAttributeValues"] = values
        return action

    def delete_action(
        self, key: dict[str, Any], condition: str | None = None, values: dict[str, Any] | None = None
    ) -> Action:
        action: Action = {"Delete": {"TableName": self.name, "Key": to_item(key)}}
        if condition:
            action["Delete"]["ConditionExpression"] = condition
        if values:
            action["Delete"]["ExpressionAttributeValues"] = values
        return action

    def transact(self, actions: list[Action]) -> None:
        if self.route is not None:
            self.route(actions)
        else:
            self.send_transaction(actions)

    def send_transaction(self, actions: list[Action]) -> None:
        # The token makes botocore's retry of a timed-out call a no-op in DynamoDB instead of
        # a second application (counters ADDed twice).
        self.client.transact_write_items(TransactItems=actions, ClientRequestToken=uuid.uuid4().hex)

    def transact_in_batches(self, actions: list[Action], size: int = MAX_TRANSACTION) -> None:
        for start in range(0, len(actions), size):
            self.transact(actions[start : start + size])

    def transact_retrying(self, actions: list[Action], attempts: int = 5) -> None:
        """Unconditional writes: only a conflict with another transaction can cancel them."""
        for attempt in range(attempts):
            try:
                self.transact(actions)
                return
            except ClientError as exc:
                if error_code(exc) != "TransactionCanceledException" or attempt == attempts - 1:
                    raise
                self.sleep(0.05 * 2**attempt)

    # ---- queries -------------------------------------------------------------------------

    def query_pages(self, **params: Any) -> Iterator[list[dict[str, Any]]]:
        """A Query of the table, one decoded page (up to 1 MB) per DynamoDB call."""
        while True:
            out = self.client.query(TableName=self.name, **params)
            yield [from_item(i) for i in out.get("Items", [])]
            last = out.get("LastEvaluatedKey")
            if not last:
                return
            params["ExclusiveStartKey"] = last

    def query_all(self, **params: Any) -> list[dict[str, Any]]:
        return [item for page in self.query_pages(**params) for item in page]

    # ---- batches -------------------------------------------------------------------------

    def _until_processed(self, send: Callable[[], bool], what: str) -> None:
        """Call `send` (True when all it sent was processed) under the one retry policy."""
        for attempt in range(BATCH_ATTEMPTS):
            if send():
                return
            if attempt < BATCH_ATTEMPTS - 1:
                self.sleep(batch_backoff(attempt))
        raise RetriesExhausted(f"DynamoDB kept {what} of {self.name} unprocessed after {BATCH_ATTEMPTS} attempts")

    def batch_get(self, key_list: list[dict[str, Any]], consistent: bool = False) -> list[dict[str, Any]]:
        """BatchGetItem in chunks of 100, unprocessed keys retried: every item found, or
        RetriesExhausted (never a silently partial answer)."""
        found: list[dict[str, Any]] = []
        for start in range(0, len(key_list), BATCH_GET_MAX):
            chunk = key_list[start : start + BATCH_GET_MAX]
            request: dict[str, KeysAndAttributesTypeDef] = {
                self.name: {"Keys": [to_item(k) for k in chunk], "ConsistentRead": consistent}
            }

            def send() -> bool:
                nonlocal request
                out = self.client.batch_get_item(RequestItems=request)
                found.extend(from_item(i) for i in out.get("Responses", {}).get(self.name, []))
                request = dict(out.get("UnprocessedKeys") or {})  # type: ignore[arg-type]
                return not request

            self._until_processed(send, "keys")
        return found

    def batch_write(self, requests: Sequence[WriteRequestTypeDef]) -> None:
        """BatchWriteItem in chunks of 25, unprocessed items retried (each write is atomic on
        its own; for writes no counter depends on being whole); RetriesExhausted otherwise."""
        for start in range(0, len(requests), BATCH_WRITE_MAX):
            pending: dict[str, Sequence[WriteRequestTypeDef]] = {self.name: requests[start : start + BATCH_WRITE_MAX]}

            def send() -> bool:
                nonlocal pending
                out = self.client.batch_write_item(RequestItems=pending)
                pending = dict(out.get("UnprocessedItems") or {})  # type: ignore[arg-type]
                return not pending

            self._until_processed(send, "items")

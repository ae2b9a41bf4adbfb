"""The JSON of moto's DynamoDB item answers and stream reads, written directly.

moto 5.2.5 writes every answer with a serializer driven by the service's model, which visits
each value of each item through several layers of calls: of a Query of 100 items in process,
~74 of ~89 ms; while a stream is busy, most of the server's CPU (and the stream pump's reads
take it from the table's own requests, where in AWS the streams service is apart). The answers
moto gives with items (`DynamoResult`) and those of `GetRecords` are written here from the same
model, with the serializer's own rules: only the shape's members, none that is None, strings and
numbers as str, integers as int, doubles as float, binary in base64, timestamps in epoch seconds
to the millisecond. An attribute value (most of an answer) is converted by one small function
instead of the model walk.
tests/integration/test_moto_answers.py compares both servers' answers whole. Errors and every
other operation keep moto's serializer."""

from __future__ import annotations

import base64
import calendar
import json
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from botocore.model import Shape
from moto.core.responses import ActionContext, ActionResult
from moto.core.serialize import JSONSerializer
from moto.dynamodb.responses import DynamoResult
from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

# The operations moto answers with items (DynamoResult), and capacity, metrics, unprocessed keys.
# BatchWriteItem and TransactWriteItems answer with a plain ActionResult: moto's serializer.
ITEM_OPERATIONS = frozenset(
    {"GetItem", "Query", "Scan", "BatchGetItem", "PutItem", "UpdateItem", "DeleteItem", "TransactGetItems"}
)
_original_execute = DynamoResult.execute_result


def attribute_value(value: dict[str, Any]) -> dict[str, Any]:
    """An attribute value as the serializer writes it: binary in base64, strings and numbers as
    str (moto's legacy AttributeUpdates can store a raw value under S), nested values alike."""
    ((kind, inner),) = value.items()
    if kind in ("S", "N"):
        return {kind: _string(inner)}
    if kind in ("SS", "NS"):
        return {kind: [_string(v) for v in inner]}
    if kind == "B":
        return {kind: _base64(inner)}
    if kind == "BS":
        return {kind: [_base64(v) for v in inner]}
    if kind == "M":
        return {kind: {k: attribute_value(v) for k, v in inner.items()}}
    if kind == "L":
        return {kind: [attribute_value(v) for v in inner]}
    return value


def _string(value: Any) -> Any:
    return str(value) if value not in (None, {}, []) else value


def _base64(value: str | bytes) -> str:
    return base64.b64encode(value.encode() if isinstance(value, str) else value).decode()


def _epoch(when: datetime) -> int | float:
    """The serializer's unix timestamp: whole seconds, the milliseconds truncated."""
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    seconds = calendar.timegm(when.timetuple())
    return seconds + (when.microsecond // 1000) / 1000.0 if when.microsecond else seconds


def shaped(value: Any, shape: Shape) -> Any:
    """`value` as the JSON serializer writes it for `shape` (a structure's None members left out,
    a None elsewhere written as null, as the serializer does)."""
    if value is None:
        return None
    if shape.name == "AttributeValue":
        return attribute_value(value)
    kind = shape.type_name
    if kind == "structure":
        members = shape.members
        return {name: shaped(value[name], s) for name, s in members.items() if value.get(name) is not None}
    if kind == "list":
        return [shaped(v, shape.member) for v in value]
    if kind == "map":
        inner = shape.value
        skip_none = inner.type_name == "structure"
        return {k: shaped(v, inner) for k, v in value.items() if v is not None or not skip_none}
    if kind in ("integer", "long"):
        return int(value)
    if kind in ("double", "float"):
        return float(value)
    if kind == "blob":
        return _base64(value)
    if kind == "timestamp":
        return _epoch(value)
    if kind == "string" and value not in ({}, []):
        return str(value.value if isinstance(value, Enum) else value)
    return value


def _written(result: Any, context: ActionContext) -> Any:
    output = context.operation_model.output_shape
    body = shaped(result, output) if output is not None else {}
    return 200, {"Content-Type": "application/x-amz-json-1.0"}, json.dumps(body)


def _execute_result(self: DynamoResult, context: ActionContext) -> Any:
    if context.operation_model.name not in ITEM_OPERATIONS or context.serializer_class is not JSONSerializer:
        return _original_execute(self, context)
    return _written(self.result, context)


class _Shaped(ActionResult):
    """An answer written by `shaped` (the stream's records: their images, times and sizes)."""

    def execute_result(self, context: ActionContext) -> Any:
        return _written(self.result, context)


def _get_records(self: DynamoDBStreamsHandler) -> ActionResult:
    limit = self._get_param("Limit")
    return _Shaped(self.backend.get_records(self._get_param("ShardIterator"), 1000 if limit is None else limit))


def install() -> None:
    DynamoResult.execute_result = _execute_result  # type: ignore[method-assign,assignment]
    DynamoDBStreamsHandler.get_records = _get_records  # type: ignore[method-assign]

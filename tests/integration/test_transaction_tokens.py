"""The local moto keeps DynamoDB's idempotency of TransactWriteItems: a repeat of an applied
call with the same ClientRequestToken (botocore's retry of a call that timed out) is answered
as applied, not run again; the same token with other items is refused."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from albums_core.adapters.dynamodb.catalogue import CatalogueRepository


def put_new(repo: CatalogueRepository, pk: str) -> list[dict[str, Any]]:
    return [
        {
            "Put": {
                "TableName": repo.table,
                "Item": {"pk": {"S": pk}, "sk": {"S": "TOKEN"}},
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }
    ]


def test_a_repeat_with_the_same_token_is_answered_as_applied(repo: CatalogueRepository) -> None:
    items = put_new(repo, "TEST#token-1")
    repo.client.transact_write_items(TransactItems=items, ClientRequestToken="token-1")  # type: ignore[arg-type]
    # Run again, its condition would fail: the repeat is not run.
    repo.client.transact_write_items(TransactItems=items, ClientRequestToken="token-1")  # type: ignore[arg-type]
    with pytest.raises(ClientError) as refused:  # a new token is a new call
        repo.client.transact_write_items(TransactItems=items, ClientRequestToken="token-2")  # type: ignore[arg-type]
    assert refused.value.response["Error"]["Code"] == "TransactionCanceledException"


def test_the_same_token_with_other_items_is_refused(repo: CatalogueRepository) -> None:
    repo.client.transact_write_items(TransactItems=put_new(repo, "TEST#token-3"), ClientRequestToken="token-3")  # type: ignore[arg-type]
    with pytest.raises(ClientError) as refused:
        repo.client.transact_write_items(TransactItems=put_new(repo, "TEST#token-4"), ClientRequestToken="token-3")  # type: ignore[arg-type]
    assert refused.value.response["Error"]["Code"] == "IdempotentParameterMismatchException"


def test_a_refused_call_may_be_tried_again_with_its_token(repo: CatalogueRepository) -> None:
    items = put_new(repo, "TEST#token-5")
    repo.client.transact_write_items(TransactItems=items)  # type: ignore[arg-type]
    with pytest.raises(ClientError):
        repo.client.transact_write_items(TransactItems=items, ClientRequestToken="token-5")  # type: ignore[arg-type]
    repo.client.delete_item(TableName=repo.table, Key={"pk": {"S": "TEST#token-5"}, "sk": {"S": "TOKEN"}})
    repo.client.transact_write_items(TransactItems=items, ClientRequestToken="token-5")  # type: ignore[arg-type]


def test_a_transaction_with_binary_values_and_a_token(repo: CatalogueRepository) -> None:
    items = put_new(repo, "TEST#token-6")
    items[0]["Put"]["Item"]["blob"] = {"B": b"\x00\xff"}
    repo.client.transact_write_items(TransactItems=items, ClientRequestToken="token-6")  # type: ignore[arg-type]
    repo.client.transact_write_items(TransactItems=items, ClientRequestToken="token-6")  # type: ignore[arg-type]

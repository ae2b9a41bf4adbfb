"""Developer tokens in the sessions table: one item per account (the tokens' names and dates,
and the tokens themselves sealed together, so that checking a Subsonic md5 token costs one
KMS call whatever the count), one item per token by the SHA-256 of its text (who it belongs to,
for the password and apiKey checks), and the account of a handle (Subsonic's `u`)."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from albums_core.adapters.aws_clients import dynamodb
from albums_core.adapters.dynamodb import keys
from albums_core.adapters.dynamodb.codec import from_item, to_item, to_value
from albums_core.config import settings
from albums_core.domain.errors import ConcurrentUpdate
from albums_core.domain.models import TokenAccount

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import PutTypeDef, TransactWriteItemTypeDef

_SEALED = ("sealed_key", "sealed_nonce", "sealed_data")


class DynamoDeveloperTokens:
    """The `DeveloperTokenStore` port (albums_core.ports)."""

    def __init__(self, table: str | None = None, client: DynamoDBClient | None = None) -> None:
        self.table = table or settings().sessions_table
        self._client = client

    @property
    def client(self) -> DynamoDBClient:
        return self._client or dynamodb()

    def context(self, did: str) -> str:
        return keys.developer_tokens(did)

    def _get(self, key: str, consistent: bool = False) -> dict[str, Any] | None:
        out = self.client.get_item(TableName=self.table, Key={"session_key": {"S": key}}, ConsistentRead=consistent)
        item = out.get("Item")
        return from_item(item) if item else None

    def load(self, did: str, consistent: bool = False) -> TokenAccount | None:
        item = self._get(keys.developer_tokens(did), consistent)
        if item is None:
            return None
        sealed = {k: bytes(item[k]) for k in _SEALED if k in item}
        return TokenAccount(
            did=did,
            version=int(item.get("version", 0)),
            tokens=[dict(t) for t in item.get("tokens", [])],
            sealed=sealed if len(sealed) == len(_SEALED) else None,
            last_used={str(k): int(v) for k, v in (item.get("last_used") or {}).items()},
        )

    def owner_of(self, token_hash: str) -> tuple[str, str] | None:
        """(did, prefix) of the token with this hash, or None when there is none (revoked)."""
        item = self._get(keys.developer_token(token_hash))
        if item is None:
            return None
        return str(item["did"]), str(item["prefix"])

    def did_of_handle(self, handle: str) -> str | None:
        item = self._get(keys.developer_handle(handle))
        return str(item["did"]) if item else None

    def save(
        self,
        account: TokenAccount,
        handle: str | None = None,
        added: tuple[str, str] | None = None,
        removed: str | None = None,
    ) -> None:
        """The account's item as `account` says, if nobody changed it since it was read
        (`ConcurrentUpdate` otherwise); with the lookup item of a token `added` (hash, prefix)
        or `removed` (hash), and the handle's pointer, in one transaction."""
        key = keys.developer_tokens(account.did)
        item: dict[str, Any] = {
            "session_key": key,
            "kind": "developer_tokens",
            "did": account.did,
            "version": account.version + 1,
            "tokens": account.tokens,
            "last_used": account.last_used,
        }
        if account.sealed:
            item.update(account.sealed)
        put: PutTypeDef = {"TableName": self.table, "Item": to_item(item)}
        if account.version:
            put["ConditionExpression"] = "version = :v"
            put["ExpressionAttributeValues"] = {":v": to_value(account.version)}
        else:
            put["ConditionExpression"] = "attribute_not_exists(session_key)"
        actions: list[TransactWriteItemTypeDef] = [{"Put": put}]
        if added:
            token_hash, prefix = added
            lookup = {"session_key": keys.developer_token(token_hash), "did": account.did, "prefix": prefix}
            actions.append(
                {
                    "Put": {
                        "TableName": self.table,
                        "Item": to_item(lookup),
                        "ConditionExpression": "attribute_not_exists(session_key)",
                    }
                }
            )
        if removed:
            actions.append(
                {"Delete": {"TableName": self.table, "Key": {"session_key": {"S": keys.developer_token(removed)}}}}
            )
        if handle:
            pointer = {"session_key": keys.developer_handle(handle), "did": account.did}
            actions.append({"Put": {"TableName": self.table, "Item": to_item(pointer)}})
        try:
            self.client.transact_write_items(TransactItems=actions)
        except self.client.exceptions.TransactionCanceledException as exc:
            raise ConcurrentUpdate("the developer tokens changed meanwhile; try again") from exc
        account.version += 1

    def touch(self, did: str, prefix: str, when: int) -> None:
        """The token's last use, on the account's item: one UpdateItem, best effort."""
        # the account's tokens may be gone meanwhile: nothing to date then
        with contextlib.suppress(self.client.exceptions.ConditionalCheckFailedException):
            self.client.update_item(
                TableName=self.table,
                Key={"session_key": {"S": keys.developer_tokens(did)}},
                UpdateExpression="SET last_used.#p = :t",
                ConditionExpression="attribute_exists(last_used)",
                ExpressionAttributeNames={"#p": prefix},
                ExpressionAttributeValues={":t": to_value(when)},
            )

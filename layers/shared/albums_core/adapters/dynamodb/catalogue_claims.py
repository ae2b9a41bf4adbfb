"""Track claims. The album lease serializes the changes of one album, not of one track: two
albums attaching the same track would both pass. A claim item per track record names the one
album that may take it: "pending" (with a lease) from before the first PDS write, then "member"
in the very transaction that moves the track in (catalogue_membership.py)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import ClientError

from albums_core.adapters.dynamodb import keys
from albums_core.adapters.dynamodb.codec import to_item, to_value
from albums_core.adapters.dynamodb.table import Action, Table, error_code, refused_positions

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import PutTypeDef

_NAMES = {"#st": "claim_state", "#u": "claim_until", "#tk": "claim_token"}


def _condition_failed(exc: ClientError) -> bool:
    return error_code(exc) == "ConditionalCheckFailedException"


class Claims:
    def __init__(self, db: Table) -> None:
        self.db = db

    def _holds(self, claim: dict[str, Any]) -> bool:
        """Whether a membership claim still describes the catalogue: its track is in its album
        (claims are not released when a track leaves, so a stale one is recognised here)."""
        if claim.get("track_id") is None:
            return False
        key = keys.album_track(str(claim["album_id"]), int(claim["track_id"]))
        return self.db.get(key, consistent=True) is not None

    def _put_claim(self, put: dict[str, Any]) -> bool:
        """One conditional Put of a claim: False when its condition refused it."""
        try:
            self.db.client.put_item(**put)
            return True
        except ClientError as exc:
            if not _condition_failed(exc):
                raise
            return False

    def _pending_claim(self, did: str, album_id: str, uri: str, token: str, seconds: int) -> dict[str, Any]:
        """The Put of a pending claim: the record is free, this album's, or its claim lapsed."""
        now = int(time.time())
        item: dict[str, Any] = {**keys.track_claim(did, uri), "album_id": album_id, "record_uri": uri}
        item.update(claim_state="pending", claim_token=token, claim_until=now + seconds)
        return {
            "TableName": self.db.name,
            "Item": to_item(item),
            "ConditionExpression": "attribute_not_exists(pk) OR album_id = :me OR (#st = :p AND #u < :now)",
            "ExpressionAttributeNames": {"#st": _NAMES["#st"], "#u": _NAMES["#u"]},
            "ExpressionAttributeValues": {
                ":me": to_value(album_id),
                ":p": to_value("pending"),
                ":now": {"N": str(now)},
            },
        }

    def _claim_batch(self, did: str, album_id: str, uris: list[str], token: str, seconds: int) -> bool:
        """Up to 100 claims in one transaction: True when all were taken; False (none taken)
        when one is held (those are claimed one by one) or conflicting transactions persist."""
        for stalls in range(3):
            try:
                self.db.transact(
                    [{"Put": cast("PutTypeDef", self._pending_claim(did, album_id, u, token, seconds))} for u in uris]
                )
                return True
            except ClientError as exc:
                if error_code(exc) != "TransactionCanceledException":
                    raise
                if refused_positions(exc):
                    return False
                time.sleep(0.05 * 2**stalls)  # a conflicting transaction: later
        return False

    def _claim_one(self, did: str, album_id: str, uri: str, token: str, seconds: int) -> bool:
        key = keys.track_claim(did, uri)
        for _ in range(3):
            put = self._pending_claim(did, album_id, uri, token, seconds)
            if self._put_claim(put):
                return True
            current = self.db.get(key, consistent=True)
            if current is None:
                continue  # released meanwhile
            if current.get("claim_state") != "member" or self._holds(current):
                return False  # another album is attaching it, or has it
            # A stale membership (the track left that album): take it over, exactly it.
            stale = {
                **put,
                "ConditionExpression": "album_id = :z AND #st = :m AND track_id = :t",
                "ExpressionAttributeNames": {"#st": _NAMES["#st"]},
                "ExpressionAttributeValues": {
                    ":z": to_value(current["album_id"]),
                    ":m": to_value("member"),
                    ":t": to_value(current["track_id"]),
                },
            }
            if self._put_claim(stale):
                return True
        return False

    def claim_tracks(self, did: str, album_id: str, uris: list[str], token: str, seconds: int) -> list[str]:
        """Claim track records for an album before anything is written for them. Returns the
        URIs another album holds or is attaching; when there are any, the claims taken here
        are released again and nothing is claimed."""
        one_by_one: list[str] = []
        for start in range(0, len(uris), self.db.max_transaction):
            chunk = uris[start : start + self.db.max_transaction]
            if not self._claim_batch(did, album_id, chunk, token, seconds):
                one_by_one += chunk
        slow: dict[str, bool] = {}
        if one_by_one:
            with ThreadPoolExecutor(min(8, len(one_by_one))) as pool:
                taken = pool.map(lambda u: self._claim_one(did, album_id, u, token, seconds), one_by_one)
                slow = dict(zip(one_by_one, taken, strict=True))
        won = [slow.get(u, True) for u in uris]
        lost = [u for u, ok in zip(uris, won, strict=True) if not ok]
        if lost:
            self.release_claims(did, album_id, [u for u, ok in zip(uris, won, strict=True) if ok], token)
        return lost

    def release_claims(self, did: str, album_id: str, uris: list[str], token: str) -> None:
        """Drop pending claims this request took (never a membership, never another's)."""
        for uri in uris:
            try:
                self.db.client.delete_item(
                    TableName=self.db.name,
                    Key=to_item(keys.track_claim(did, uri)),
                    ConditionExpression="album_id = :me AND #st = :p AND #tk = :t",
                    ExpressionAttributeNames={"#st": _NAMES["#st"], "#tk": _NAMES["#tk"]},
                    ExpressionAttributeValues={
                        ":me": to_value(album_id),
                        ":p": to_value("pending"),
                        ":t": to_value(token),
                    },
                )
            except ClientError as exc:
                if not _condition_failed(exc):
                    raise

    def claim_membership_action(self, did: str, album_id: str, uri: str, track_id: int) -> Action:
        """The Update that turns this album's pending claim into the membership, in the
        transaction that moves the track in: it fails when the claim is not this album's."""
        return {
            "Update": {
                "TableName": self.db.name,
                "Key": to_item(keys.track_claim(did, uri)),
                "UpdateExpression": "SET #st = :m, track_id = :id REMOVE #u, #tk",
                "ConditionExpression": "album_id = :me",
                "ExpressionAttributeNames": dict(_NAMES),
                "ExpressionAttributeValues": {
                    ":m": to_value("member"),
                    ":id": to_value(track_id),
                    ":me": to_value(album_id),
                },
            }
        }

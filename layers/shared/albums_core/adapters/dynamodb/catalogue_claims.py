"""Track claims. The album lease serializes the changes of one album, not of one track: two
albums attaching the same track would both pass. A claim item per track record names the one
album that may take it: "pending" (with a lease) from before the first PDS write, then "member"
in the very transaction that moves the track in (catalogue_membership.py)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from botocore.exceptions import ClientError

from albums_core.adapters.dynamodb import keys
from albums_core.adapters.dynamodb.codec import to_item, to_value
from albums_core.adapters.dynamodb.table import Action, Table, error_code

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

    def _put_claim(self, item: dict[str, Any], condition: str, names: dict[str, str], values: dict[str, Any]) -> bool:
        """One conditional Put of a claim: False when its condition refused it."""
        try:
            self.db.client.put_item(
                TableName=self.db.name,
                Item=to_item(item),
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
            return True
        except ClientError as exc:
            if not _condition_failed(exc):
                raise
            return False

    def _claim_one(self, did: str, album_id: str, uri: str, token: str, seconds: int) -> bool:
        key = keys.track_claim(did, uri)
        for _ in range(3):
            now = int(time.time())
            item: dict[str, Any] = {**key, "album_id": album_id, "record_uri": uri, "claim_state": "pending"}
            item.update(claim_token=token, claim_until=now + seconds)
            free = "attribute_not_exists(pk) OR album_id = :me OR (#st = :p AND #u < :now)"
            values = {":me": to_value(album_id), ":p": to_value("pending"), ":now": {"N": str(now)}}
            if self._put_claim(item, free, {"#st": _NAMES["#st"], "#u": _NAMES["#u"]}, values):
                return True
            current = self.db.get(key, consistent=True)
            if current is None:
                continue  # released meanwhile
            if current.get("claim_state") != "member" or self._holds(current):
                return False  # another album is attaching it, or has it
            # A stale membership (the track left that album): take it over, exactly it.
            stale = "album_id = :z AND #st = :m AND track_id = :t"
            values = {
                ":z": to_value(current["album_id"]),
                ":m": to_value("member"),
                ":t": to_value(current["track_id"]),
            }
            if self._put_claim(item, stale, {"#st": _NAMES["#st"]}, values):
                return True
        return False

    def claim_tracks(self, did: str, album_id: str, uris: list[str], token: str, seconds: int) -> list[str]:
        """Claim track records for an album before anything is written for them. Returns the
        URIs another album holds or is attaching; when there are any, the claims taken here
        are released again and nothing is claimed."""
        if not uris:
            return []
        with ThreadPoolExecutor(min(8, len(uris))) as pool:
            won = list(pool.map(lambda u: self._claim_one(did, album_id, u, token, seconds), uris))
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

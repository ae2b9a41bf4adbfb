"""An album's names: its slug claim (unique per artist), the slug pointer under its artist's
handle (the read side's way in), the slugs it had before a rename (redirects), and the rename."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from botocore.exceptions import ClientError

from albums_core.adapters.dynamodb import keys
from albums_core.adapters.dynamodb.catalogue_albums import Albums
from albums_core.adapters.dynamodb.codec import to_item, to_value
from albums_core.adapters.dynamodb.page_cache import invalidate_album_cache
from albums_core.adapters.dynamodb.table import Action, Table, error_code
from albums_core.domain.errors import ConcurrentUpdate
from albums_core.domain.models import Album, Artist, Track

_THIS_ALBUM = "attribute_not_exists(pk) OR album_id = :me"


class Slugs:
    def __init__(self, db: Table, albums: Albums) -> None:
        self.db = db
        self.albums = albums

    def pointer_put(self, handle: str, slug: str, album_id: str, did: str) -> Action:
        return self.db.put({**keys.slug_pointer(handle, slug), "album_id": album_id, "artist_did": did})

    def slug_items(self, pk: str) -> dict[str, dict[str, Any]]:
        """The slug claims (under an artist) or pointers (under a handle) of a partition, by slug."""
        items = self.db.query_all(
            KeyConditionExpression="pk = :pk AND begins_with(sk, :s)",
            ExpressionAttributeValues={":pk": to_value(pk), ":s": to_value(keys.SLUG_PREFIX)},
            ConsistentRead=True,
        )
        return {keys.slug_of(i["sk"]): i for i in items}

    # ---- reads -----------------------------------------------------------------------------

    def find_album_by_slug(self, handle: str, slug: str) -> tuple[Artist, Album, list[Track]] | str | None:
        """Handle profile and slug pointer in one BatchGetItem, then the album partition. A
        slug that is no album's now but was one's before a rename: that album's current slug."""
        items = self.db.batch_get([keys.handle_profile(handle), keys.slug_pointer(handle, slug)])
        profile = next((i for i in items if i["sk"] == keys.PROFILE), None)
        pointer = next((i for i in items if i["sk"] != keys.PROFILE), None)
        if profile is not None and pointer is None:
            return self.current_slug(str(profile["did"]), slug)
        if profile is None or pointer is None or pointer.get("artist_did") != profile.get("did"):
            return None
        loaded = self.albums.load_album(pointer["album_id"])
        if loaded is None:
            return None
        album, tracks = loaded
        # A pointer left behind by a handle change or a rename must not serve another album.
        if album.artist_did != profile["did"] or album.slug != slug:
            return None
        return Artist.from_data(profile), album, tracks

    def current_slug(self, did: str, former: str) -> str | None:
        """The current slug of the artist's album that had the slug `former` before a rename
        (a GetItem, then the album's): None when no album had it, or that album is gone."""
        item = self.db.get(keys.former_slug(did, former))
        if not item:
            return None
        album = self.albums.get_album(str(item["album_id"]))
        if album is None or album.artist_did != did or album.slug == former:
            return None
        return album.slug

    def former_slugs(self, did: str, album_id: str) -> list[str]:
        """The slugs the album had before its renames and still holds."""
        items = self.db.query_all(
            KeyConditionExpression="pk = :pk AND begins_with(sk, :f)",
            ExpressionAttributeValues={
                ":pk": to_value(keys.artist_partition(did)),
                ":f": to_value(keys.FORMER_PREFIX),
            },
            ConsistentRead=True,
        )
        return sorted(keys.former_slug_of(i["sk"]) for i in items if i.get("album_id") == album_id)

    def slug_owner(self, did: str, slug: str) -> str | None:
        item = self.db.get(keys.slug_claim(did, slug), consistent=True)
        return str(item["album_id"]) if item else None

    # ---- claims ----------------------------------------------------------------------------

    def claim_slug(self, did: str, handle: str, slug: str, album_id: str) -> bool:
        """Claim (artist, slug) for an album; True when it is (now or already) that album's."""
        db = self.db
        claim = db.put({**keys.slug_claim(did, slug), "album_id": album_id}, _THIS_ALBUM, {":me": to_value(album_id)})
        try:
            db.transact([claim, self.pointer_put(handle, slug, album_id, did)])
            return True
        except ClientError as exc:
            if error_code(exc) == "TransactionCanceledException":
                return False
            raise

    def release_slug(self, did: str, handle: str, slug: str, album_id: str) -> None:
        """Drop a claim (and its pointer) only while it is still this album's."""
        db, mine = self.db, {":me": to_value(album_id)}
        try:
            db.transact(
                [
                    db.delete_action(keys.slug_claim(did, slug), "album_id = :me", mine),
                    db.delete_action(keys.slug_pointer(handle, slug), "album_id = :me", mine),
                ]
            )
        except ClientError as exc:
            if error_code(exc) != "TransactionCanceledException":
                raise

    # ---- renames ---------------------------------------------------------------------------

    def _rename_update(self, album: Album, title: str, slug: str, updated_at: str) -> Action:
        sort = keys.title_sort(title, album.id)
        values = {":t": title, ":s": slug, ":u": updated_at, ":g1": sort, ":g2": keys.album_by_artist_sort(sort)}
        return {
            "Update": {
                "TableName": self.db.name,
                "Key": to_item(keys.album(album.id)),
                "UpdateExpression": "SET title = :t, slug = :s, updated_at = :u, gsi1sk = :g1, gsi2sk = :g2",
                "ConditionExpression": "attribute_exists(pk)",
                "ExpressionAttributeValues": {k: to_value(v) for k, v in values.items()},
            }
        }

    def _slug_move(self, album: Album, handle: str, slug: str) -> list[Action]:
        """The new slug's claim and pointer in, the old ones out, the old slug a redirect."""
        db, did, mine = self.db, album.artist_did, {":me": to_value(album.id)}
        return [
            # Re-assert the new claim: a failed concurrent rename may have released it.
            db.put({**keys.slug_claim(did, slug), "album_id": album.id}, _THIS_ALBUM, mine),
            self.pointer_put(handle, slug, album.id, did),
            # Already gone when a concurrent rename of this album finished first.
            db.delete_action(keys.slug_claim(did, album.slug), _THIS_ALBUM, mine),
            db.delete_action(keys.slug_pointer(handle, album.slug), _THIS_ALBUM, mine),
            # The old slug redirects to the album; the new one is nobody's former slug any more.
            db.put({**keys.former_slug(did, album.slug), "album_id": album.id}),
            db.delete_action(keys.former_slug(did, slug)),
        ]

    def finish_rename(self, album: Album, handle: str, title: str, slug: str, updated_at: str) -> Album:
        """The album takes its new title and slug; the old slug's claim and pointer go, in one
        transaction (the new claim was taken before anything was written elsewhere). An update,
        not a put: counters changed meanwhile by others are kept."""
        actions = [self._rename_update(album, title, slug, updated_at)]
        if slug != album.slug:
            actions += self._slug_move(album, handle, slug)
        try:
            self.db.transact(actions)
        except ClientError as exc:
            if error_code(exc) == "TransactionCanceledException":
                raise ConcurrentUpdate() from exc  # the album went, or the new slug was taken meanwhile
            raise
        if slug != album.slug:
            # Every earlier slug's cached redirect names the slug the album just left.
            for former in self.former_slugs(album.artist_did, album.id):
                invalidate_album_cache(handle, former)
        return Album.from_data({**asdict(album), "title": title, "slug": slug, "updated_at": updated_at})

    def drop_former_slugs(self, did: str, album_id: str) -> list[str]:
        """A deleted album's former slugs go (each only while it is still that album's); the slugs."""
        slugs = self.former_slugs(did, album_id)
        for slug in slugs:
            try:
                self.db.client.delete_item(
                    TableName=self.db.name,
                    Key=to_item(keys.former_slug(did, slug)),
                    ConditionExpression="album_id = :me",
                    ExpressionAttributeValues={":me": to_value(album_id)},
                )
            except ClientError as exc:
                if error_code(exc) != "ConditionalCheckFailedException":
                    raise
        return slugs

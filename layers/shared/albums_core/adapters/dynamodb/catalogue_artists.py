"""The catalogue's artists: the artist item, its handle profile (HANDLE#<handle>, the read side's
way in by handle, with the album pointers under it), the claim of a handle at login, and the
indexing marks (synced_at, over_record_cap)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from albums_core.adapters.dynamodb import keys
from albums_core.adapters.dynamodb.codec import to_item, to_value
from albums_core.adapters.dynamodb.page_cache import invalidate_album_cache, invalidate_artist_cache
from albums_core.adapters.dynamodb.table import Action, Table, error_code, unchanged
from albums_core.domain.errors import ArtistNotFound, Conflict
from albums_core.domain.models import Artist
from albums_core.domain.records import iso_utc, now_iso

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import UpdateItemInputTypeDef

    from albums_core.adapters.dynamodb.catalogue_albums import Albums
    from albums_core.adapters.dynamodb.catalogue_slugs import Slugs
    from albums_core.adapters.dynamodb.catalogue_tracks import Tracks

_HANDLE_CLAIM_ATTEMPTS = 5


@dataclass
class _HandleClaim:
    """What one claim of a handle writes: `head` (the profiles) in its conditional transaction,
    then the album pointers (as many as fit there); the pages and profiles it changes."""

    slugs: Slugs
    head: list[Action]
    profiles: set[tuple[str, str]]
    puts: list[Action] = field(default_factory=list)
    deletes: list[Action] = field(default_factory=list)
    pages: set[tuple[str, str]] = field(default_factory=set)

    def put_pointer(self, handle: str, slug: str, album_id: str, did: str) -> None:
        self.puts.append(self.slugs.pointer_put(handle, slug, album_id, did))
        self.pages.add((handle, slug))

    def drop_pointer(self, handle: str, slug: str) -> None:
        self.deletes.append(self.slugs.db.delete_action(keys.slug_pointer(handle, slug)))
        self.pages.add((handle, slug))


class Artists:
    def __init__(self, db: Table, albums: Albums, slugs: Slugs, tracks: Tracks) -> None:
        self.db = db
        self.albums = albums
        self.slugs = slugs
        self.tracks = tracks

    # ---- reads -----------------------------------------------------------------------------

    def get_artist_by_handle(self, handle: str) -> Artist | None:
        item = self.db.get(keys.handle_profile(handle))
        return Artist.from_data(item) if item else None

    def get_artist(self, did: str) -> Artist | None:
        item = self.db.get(keys.artist(did))
        return Artist.from_data(item) if item else None

    def get_artists(self, dids: set[str]) -> dict[str, Artist]:
        items = self.db.batch_get([keys.artist(d) for d in sorted(dids)])
        return {i["did"]: Artist.from_data(i) for i in items}

    def _profile_item(self, key: dict[str, str]) -> Artist | None:
        item = self.db.get(key, consistent=True)
        return Artist.from_data(item) if item else None

    # ---- writes ----------------------------------------------------------------------------

    def put_artist(self, artist: Artist) -> None:
        """The artist item and its handle pointer (the read-side projection by handle), written
        blindly: for fixtures and benchmarks. Logins go through upsert_artist, which claims the
        pointer only from the holder it read."""
        data = asdict(artist)
        self.db.transact(
            [
                self.db.put({**keys.artist(artist.did), **data}),
                self.db.put({**keys.handle_profile(artist.handle), **data}),
            ]
        )

    def first_indexed(self, did: str) -> str | None:
        """The earliest `created_at` of the artist's albums and tracks: when an artist indexed
        before artists had their own times was first seen (None when it has neither)."""
        times = [iso_utc(a.created_at) for a in self.albums.artist_albums(did)]
        times += [iso_utc(t.created_at) for t in self.tracks.artist_tracks(did)]
        return min((t for t in times if t), default=None)

    def backfill_artist_times(self, artist: Artist) -> Artist:
        """An artist item written before artists had times gets them (its artist item and its
        handle profile, each only if it still has none); the artist as it then stands."""
        created = self.first_indexed(artist.did) or now_iso()
        for key in (keys.artist(artist.did), keys.handle_profile(artist.handle)):
            self.db.update_if(
                key,
                "SET created_at = :c, updated_at = if_not_exists(updated_at, :c)",
                "attribute_exists(pk) AND attribute_not_exists(created_at) AND did = :d",
                {":c": created, ":d": artist.did},
            )
        stored = self._profile_item(keys.artist(artist.did))
        if stored is not None and stored.handle == artist.handle and stored.created_at:
            return stored
        return replace(artist, created_at=created, updated_at=artist.updated_at or created)

    def upsert_artist(self, artist: Artist) -> None:
        """Write the artist and point HANDLE#<its handle> at it.

        `artist.handle` must be verified (it resolves to `artist.did`) or be the DID itself.
        The pointer is taken on the condition that its holder is still the one read here; a
        previous holder loses the name in the same transaction (its artist item and profile
        fall back to its DID, its album pointers move under HANDLE#<its did>), so a handle
        never names two artists. Retried from a fresh read when a concurrent write wins."""
        for _ in range(_HANDLE_CLAIM_ATTEMPTS):
            try:
                rest, pages, profiles = self._claim_handle(artist)
            except ClientError as exc:
                if error_code(exc) != "TransactionCanceledException":
                    raise
                continue
            # Outside the retry: a fresh read would find the claim done and skip these.
            size = self.db.max_transaction
            for start in range(0, len(rest), size):
                self.db.transact_retrying(rest[start : start + size])
            for handle, slug in sorted(pages):
                invalidate_album_cache(handle, slug)
            invalidate_artist_cache(profiles)
            return
        raise Conflict("the handle changed while logging in; try again")

    def _stamped(self, artist: Artist, old: Artist | None) -> Artist:
        """`artist` with its times: created when first indexed (kept ever after; an artist
        indexed before artists had times gets the earliest of its albums and tracks), updated
        when the item's content last changed."""
        content = replace(artist, created_at=None, updated_at=None)
        if old is None:
            created = artist.created_at or now_iso()
            return replace(artist, created_at=created, updated_at=created)
        created = old.created_at or self.first_indexed(artist.did) or now_iso()
        if replace(old, created_at=None, updated_at=None) == content:
            return replace(artist, created_at=created, updated_at=old.updated_at or created)
        return replace(artist, created_at=created, updated_at=now_iso())

    def _claim_handle(self, artist: Artist) -> tuple[list[Action], set[tuple[str, str]], set[tuple[str, str]]]:
        """One conditional transaction; returns the album pointer writes that did not fit in
        it, the (handle, slug) pages whose pointers change and the (did, handle) profiles."""
        me, name = artist.did, artist.handle
        old = self._profile_item(keys.artist(me))
        holder = self._profile_item(keys.handle_profile(name))
        artist = self._stamped(artist, old)
        # Unchanged only when the pointer is ours too: a holder re-verifying restores it.
        if old == artist and holder == artist:
            return [], set(), set()
        data = asdict(artist)
        head = [
            self._put_unchanged({**keys.artist(me), **data}, "handle", old.handle if old else None),
            self._put_unchanged({**keys.handle_profile(name), **data}, "did", holder.did if holder else None),
        ]
        claim = _HandleClaim(self.slugs, head, {(me, name)} | ({(me, old.handle)} if old else set()))
        if holder is None or holder.did != me or old is None or old.handle != name:
            self._point_name_at_us(claim, me, name)
        if holder is not None and holder.did != me:
            self._demote_previous_holder(claim, holder.did, name)
        if old is not None and old.handle != name:
            self._leave_old_handle(claim, me, old.handle)
        # Profiles (and as many album pointers as fit) in one transaction; a large catalogue's
        # remaining pointers follow. Readers match a pointer's artist_did against the profile,
        # so a pointer written late or left behind never serves another artist's album.
        pointers = claim.puts + claim.deletes
        room = self.db.max_transaction - len(claim.head)
        self.db.transact(claim.head + pointers[:room])
        return pointers[room:], claim.pages, claim.profiles

    def _put_unchanged(self, item: dict[str, Any], attribute: str, was: str | None) -> Action:
        return {"Put": {"TableName": self.db.name, "Item": to_item(item), **unchanged(attribute, was)}}  # type: ignore[typeddict-item]

    def _point_name_at_us(self, claim: _HandleClaim, me: str, name: str) -> None:
        """Our album pointers under the name are rebuilt from our slug claims (the source of
        truth); anything else there (another DID's, or stale) goes."""
        mine = {slug: str(c["album_id"]) for slug, c in self.slugs.slug_items(keys.artist_partition(me)).items()}
        for slug, album_id in mine.items():
            claim.put_pointer(name, slug, album_id, me)
        for slug in self.slugs.slug_items(keys.handle_partition(name)):
            if slug not in mine:
                claim.drop_pointer(name, slug)

    def _demote_previous_holder(self, claim: _HandleClaim, did: str, name: str) -> None:
        """The name resolves to us now, so its previous holder has no verified handle: its
        items fall back to its DID, its album pointers move under HANDLE#<its did>."""
        previous = self._profile_item(keys.artist(did))
        if previous is None or previous.handle != name:
            return
        fallback = replace(previous, handle=previous.did, updated_at=now_iso())
        claim.profiles |= {(previous.did, name), (previous.did, previous.did)}
        values = {":d": previous.did, ":n": name, ":u": fallback.updated_at}
        claim.head.append(
            {
                "Update": {
                    "TableName": self.db.name,
                    "Key": to_item(keys.artist(previous.did)),
                    "UpdateExpression": "SET handle = :d, updated_at = :u",
                    "ConditionExpression": "handle = :n",
                    "ExpressionAttributeValues": {k: to_value(v) for k, v in values.items()},
                }
            }
        )
        claim.head.append(self.db.put({**keys.handle_profile(previous.did), **asdict(fallback)}))
        for slug, slug_claim in self.slugs.slug_items(keys.artist_partition(previous.did)).items():
            claim.put_pointer(previous.did, slug, str(slug_claim["album_id"]), previous.did)

    def _leave_old_handle(self, claim: _HandleClaim, me: str, old_handle: str) -> None:
        if (old_holder := self._profile_item(keys.handle_profile(old_handle))) and old_holder.did == me:
            claim.head.append(
                self.db.delete_action(keys.handle_profile(old_handle), "did = :me", {":me": to_value(me)})
            )
        for slug, pointer in self.slugs.slug_items(keys.handle_partition(old_handle)).items():
            if pointer.get("artist_did") == me:
                claim.drop_pointer(old_handle, slug)

    # ---- what indexing notes on the artist -------------------------------------------------

    def mark_synced(self, did: str, stamp: str, must_exist: bool = True) -> None:
        """Note when the artist's repository was last indexed; ArtistNotFound when `must_exist`
        and the artist is not in the catalogue."""
        params: UpdateItemInputTypeDef = {
            "TableName": self.db.name,
            "Key": to_item(keys.artist(did)),
            "UpdateExpression": "SET synced_at = :n",
            "ExpressionAttributeValues": {":n": to_value(stamp)},
        }
        if must_exist:
            params["ConditionExpression"] = "attribute_exists(pk)"
        try:
            self.db.client.update_item(**params)
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                raise ArtistNotFound() from exc
            raise

    def mark_over_record_cap(self, did: str, collections: list[str], stamp: str) -> None:
        """Note that the artist's repository lists more records of `collections` than an
        indexing reads (PDS_LIST_MAX_RECORDS): what is past the cap is not in the catalogue.
        An artist gone meanwhile has nothing to mark."""
        self.db.update_if(
            keys.artist(did),
            "SET over_record_cap = :c, over_record_cap_at = :n",
            "attribute_exists(pk)",
            {":c": collections, ":n": stamp},
        )

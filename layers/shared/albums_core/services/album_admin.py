"""An artist managing their albums: every change lands on their PDS first (read-modify-write,
swap-guarded), then in the catalogue, then the cache is invalidated. A PDS failure answers
502 and leaves a state from which the same request, repeated, finishes the job."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import ClientError

from albums_core.adapters.atproto import syntax
from albums_core.adapters.atproto.record_writes import DELETE, Edit, apply_edits, keep, read_snapshot, write_records
from albums_core.adapters.atproto.xrpc import PdsSession, PdsUnavailable, SessionRevoked, XrpcError
from albums_core.adapters.dynamodb.catalogue import CatalogueWriter
from albums_core.adapters.dynamodb.page_cache import invalidate_album_cache
from albums_core.adapters.dynamodb.session_store import pds_session
from albums_core.domain.at_uri import AtUri
from albums_core.domain.errors import (
    AlbumNotFound,
    BadRequest,
    Conflict,
    Forbidden,
    InvalidSession,
    NotFound,
    Unprocessable,
    UpstreamFailure,
)
from albums_core.domain.models import Album, Track
from albums_core.domain.ordering import order_tracks
from albums_core.domain.records import LIST, TRACK, album_id_for, is_track_record, new_tid, new_track, now_iso, rkey_of
from albums_core.domain.slugs import slugify
from albums_core.domain.text_rules import clean_description, clean_title
from albums_core.domain.views import album_page
from albums_core.observability import logger, metrics
from albums_core.services import cleanup
from albums_core.services.auth import Caller, artist_guard

MAX_TRACKS = 500
# A DynamoDB transaction holds 100 actions; smaller ones finish well inside a timeout.
_MOVES_PER_TRANSACTION = 24
UNSET: Any = object()
# Longer than a function may run: a crashed request frees the album after this.
_LEASE_SECONDS = 60
TRACK_TAKEN = "track already belongs to another album"


@contextmanager
def pds_errors() -> Iterator[None]:
    """What the artist's PDS does wrong, as the API reports it."""
    try:
        yield
    except SessionRevoked as exc:
        raise InvalidSession() from exc
    except PdsUnavailable as exc:
        metrics.add_metric(name="PdsCallFailed", unit=MetricUnit.Count, value=1)
        logger.warning("PDS call failed", extra={"reason": str(exc)})
        raise UpstreamFailure("your PDS did not complete the change; repeat the request to finish it") from exc
    except XrpcError as exc:
        metrics.add_metric(name="PdsCallFailed", unit=MetricUnit.Count, value=1)
        logger.warning("PDS refused a call", extra={"status": exc.status, "error": exc.error})
        raise UpstreamFailure(f"your PDS refused the change ({exc.error}); repeat the request to finish it") from exc


@dataclass(frozen=True)
class AlbumCaller(Caller):
    """The caller of an album's endpoint, with the album the guard loaded: the request reads
    it once (the handler's `AlbumAdmin` takes it from here instead of loading it again)."""

    album: Album | None = None


def album_guard(message: str) -> Callable[[dict[str, Any]], Caller]:
    """The guard of an album's mutations: a session, then the album exists (404), then it is
    the caller's (403) - before the request's body or parameters are validated."""

    def guard(event: dict[str, Any]) -> Caller:
        caller = artist_guard(event)
        # API Gateway's own path parameters: the raw path carries the stage on a named stage.
        album = AlbumAdmin(caller).owned(str((event.get("pathParameters") or {}).get("ref") or ""), message)
        return AlbumCaller(caller.session, caller.artist, album)

    return guard


def _valid_album_id(album_id: str) -> bool:
    try:
        return str(uuid.UUID(album_id)) == album_id.lower() and len(album_id) == 36
    except (ValueError, AttributeError):
        return False


def _set_field(name: str, value: Any) -> Any:
    def change(record: dict[str, Any]) -> dict[str, Any]:
        record[name] = value
        return record

    return change


def _drop_field(name: str) -> Any:
    def change(record: dict[str, Any]) -> dict[str, Any]:
        record.pop(name, None)
        return record

    return change


def _delete(_: dict[str, Any]) -> Any:
    return DELETE


def _items(record: dict[str, Any]) -> list[Any]:
    items = record.get("items")
    return list(items) if isinstance(items, list) else []


def _item_uri(item: Any) -> str | None:
    subject = item.get("subject") if isinstance(item, dict) else None
    uri = subject.get("uri") if isinstance(subject, dict) else None
    return uri if isinstance(uri, str) else None


class AlbumAdmin:
    def __init__(self, caller: Caller, repo: CatalogueWriter | None = None, pds: PdsSession | None = None) -> None:
        self.caller = caller
        self.did = caller.artist.did
        self.handle = caller.artist.handle
        self.repo = repo or CatalogueWriter()
        self._pds = pds

    @property
    def pds(self) -> PdsSession:
        if self._pds is None:
            self._pds = pds_session(self.caller.session)
        return self._pds

    # ---- shared ----------------------------------------------------------------------------

    def owned(self, album_id: str, message: str) -> Album:
        known = getattr(self.caller, "album", None)
        if isinstance(known, Album) and known.id == album_id:
            # Loaded by the guard of this request (and checked there).
            album: Album | None = known
        else:
            album = self.repo.get_album(album_id) if _valid_album_id(album_id) else None
        if album is None:
            raise AlbumNotFound()
        if album.artist_did != self.did:
            raise Forbidden(message)
        return album

    @contextmanager
    def locked(self, album: Album) -> Iterator[Album]:
        """One multi-step change of an album at a time: concurrent ones get 409 instead of
        racing on the PDS and the slug claims. Yields the album as the lease found it."""
        token = uuid.uuid4().hex
        current = self.repo.lock_album(album.id, token, _LEASE_SECONDS)
        if current is None:
            raise Conflict("this album is being changed by another request; try again")
        try:
            yield current
        finally:
            self.repo.unlock_album(album.id, token)

    def metadata(self, album: Album) -> dict[str, Any]:
        loaded = self.repo.load_album(album.id)
        album, tracks = loaded if loaded else (album, [])
        return album_page(album, self.caller.artist, order_tracks(tracks, None, album.track_order))["metadata"]

    def _invalidate(self, *slugs: str) -> None:
        for slug in dict.fromkeys(slugs):
            invalidate_album_cache(self.handle, slug)

    def ensure_list_record(self, album: Album) -> Album:
        """The album's list record exists on the PDS (created at the key chosen up front)."""
        if album.list_cid:
            return album
        assert album.list_uri
        with pds_errors():
            record = self.pds.get_record(LIST, rkey_of(album.list_uri))
            if record is None:
                _, cid = self.pds.create_record(
                    LIST,
                    {
                        "$type": LIST,
                        "name": album.title,
                        "listType": "album",
                        "items": [],
                        "createdAt": album.created_at,
                    },
                    rkey=rkey_of(album.list_uri),
                )
            else:
                cid = record.cid
        return self.repo.set_album_fields(album, list_cid=cid)

    # ---- create ------------------------------------------------------------------------------

    def create(self, title: object, description: object = None) -> tuple[int, dict[str, Any]]:
        clean = clean_title(title)
        text = clean_description(description)
        slug = slugify(clean)
        existing = self.repo.slug_owner(self.did, slug)
        if existing is None:
            now = now_iso()
            list_uri = f"at://{self.did}/{LIST}/{new_tid()}"
            album = Album(
                id=album_id_for(list_uri),
                artist_did=self.did,
                slug=slug,
                title=clean,
                description=text,
                list_uri=list_uri,
                created_at=now,
                updated_at=now,
            )
            try:
                self.repo.create_album(album, self.handle)
                status = 201
            except Conflict:
                existing = self.repo.slug_owner(self.did, slug)
        if existing is not None:
            found = self.repo.get_album(existing)
            if found is None:
                raise Conflict("another of your albums already uses that name")
            album, status = found, 200
        album = self.ensure_list_record(album)
        self._invalidate(slug)
        if status == 201:
            metrics.add_metric(name="AlbumCreated", unit=MetricUnit.Count, value=1)
        return status, self.metadata(album)

    # ---- the mutations of an existing album: owner checked, then the album's lease ----------

    def _guarded(self, album_id: str, message: str, work: Any, *args: Any) -> Any:
        album = self.owned(album_id, message)
        with self.locked(album) as current:
            try:
                # The lease's update returned the album: no read of it after the lease.
                return work(current, *args)
            finally:
                # Also after a failure: the PDS may already show part of the change.
                self._invalidate(album.slug)

    def attach(self, album_id: str, uris: object) -> dict[str, Any]:
        return self._guarded(album_id, "you can only modify your own albums", self._attach, uris)

    def reorder(self, album_id: str, track_ids: object) -> dict[str, Any]:
        return self._guarded(album_id, "you can only modify your own albums", self._reorder, track_ids)

    def remove_track(self, album_id: str, track_id: int) -> dict[str, Any]:
        return self._guarded(album_id, "you can only modify your own albums", self._remove_track, track_id)

    def update(self, album_id: str, title: object = UNSET, description: object = UNSET) -> dict[str, Any]:
        return self._guarded(album_id, "you can only update your own albums", self._update, title, description)

    def delete(self, album_id: str, cascade: bool) -> dict[str, Any]:
        return self._guarded(album_id, "you can only delete your own albums", self._delete_album, cascade)

    # ---- membership ------------------------------------------------------------------------

    def _attach(self, album: Album, uris: object) -> dict[str, Any]:
        wanted = self._valid_track_uris(uris)
        loaded = self.repo.load_album(album.id)
        current = loaded[1] if loaded else []
        have = {t.record_uri for t in current}
        new = [u for u in wanted if u not in have]
        if not new:
            return self.metadata(album)
        if len(current) + len(new) > MAX_TRACKS:
            raise Unprocessable(f"track_uris: an album holds at most {MAX_TRACKS} tracks")
        local = {t.record_uri: t for t in self.repo.artist_tracks(self.did)}
        for uri in new:
            other = local.get(uri)
            if other is not None and other.album_id not in (None, album.id):
                raise Conflict(TRACK_TAKEN)
        with pds_errors():
            # Read once: the commit first, so the write below can swap against it unread.
            snapshot = read_snapshot(self.pds, new)
        records = snapshot.records
        for uri in new:
            record = records[uri]
            if record is None:
                raise NotFound(f"track record not found: {uri}")
            if not is_track_record(record.value):
                raise Unprocessable(f"track_uris: not a track record: {uri}")
        # Claimed before any PDS write: of two albums taking one track at once, the loser
        # writes nothing. A claim left by a failed request lapses with its lease.
        if self.repo.claim_tracks(self.did, album.id, new, uuid.uuid4().hex, _LEASE_SECONDS):
            raise Conflict(TRACK_TAKEN)
        album = self.ensure_list_record(album)
        assert album.list_uri
        published = {u: r.cid for u, r in records.items() if r is not None}

        def append(record: dict[str, Any]) -> dict[str, Any]:
            items = _items(record)
            listed = {_item_uri(i) for i in items}
            # Pinned by the write to the CID each track record gets in the same applyWrites.
            items += [{"subject": {"uri": u, "cid": published[u]}} for u in new if u not in listed]
            record["items"] = items
            record["updatedAt"] = now_iso()
            return record

        edits = [Edit(u, _set_field("album", album.title)) for u in new] + [Edit(album.list_uri, append)]
        with pds_errors():
            fresh = write_records(self.pds, edits, snapshot)
        listed = fresh.get(album.list_uri)
        list_cid = listed.cid if listed else None
        present = [u for u in new if fresh.get(u) is not None]
        # One counter update for every track the catalogue does not know yet.
        ids = iter(self.repo.reserve_track_ids(sum(1 for u in present if u not in local)))
        tracks = []
        for uri in present:
            record = fresh[uri]
            assert record is not None
            known = local.get(uri)
            track = new_track(known.id if known else next(ids), self.did, album.id, uri, record.cid, record.value)
            if known:
                track = replace(
                    track,
                    play_count=known.play_count,
                    like_count=known.like_count,
                    comment_count=known.comment_count,
                    image_id=known.image_id,
                    thumbnail_url=known.thumbnail_url,
                )
            tracks.append((known, track))
        self._move_in(album, tracks)
        order = [t.record_uri for t in order_tracks(current, None, album.track_order) if t.record_uri]
        album = self.repo.set_album_fields(
            album,
            list_cid=list_cid,
            track_order=order + [t.record_uri for _, t in tracks if t.record_uri],
            updated_at=now_iso(),
        )
        self._invalidate(album.slug)
        return self.metadata(album)

    def _valid_track_uris(self, uris: object) -> list[str]:
        if not isinstance(uris, list) or not uris:
            raise Unprocessable("track_uris: must be a non-empty list of AT-URIs")
        if len(uris) > MAX_TRACKS:
            raise Unprocessable(f"track_uris: at most {MAX_TRACKS}")
        seen: set[str] = set()
        for i, uri in enumerate(uris):
            # The SDK's syntax (DID, NSID, record key), then our parse of the same string.
            at = AtUri.parse(uri) if syntax.record_uri_parts(uri) else None
            if at is None:
                raise Unprocessable(f"track_uris[{i}]: not an AT-URI")
            if at.collection != TRACK:
                raise Unprocessable(f"track_uris[{i}]: not an {TRACK} record")
            if at.repo != self.did:
                raise Forbidden("you can only add your own tracks to your albums")
            if uri in seen:
                raise Unprocessable(f"track_uris[{i}]: listed twice")
            seen.add(uri)
        return list(uris)

    def _move_in(self, album: Album, tracks: list[tuple[Track | None, Track]]) -> None:
        for start in range(0, len(tracks), _MOVES_PER_TRANSACTION):
            batch = tracks[start : start + _MOVES_PER_TRANSACTION]
            actions = []
            for known, track in batch:
                if known is not None:
                    actions.append(self.repo.delete_track_action(known, must_exist=True))
                actions.append(self.repo.put_track(track, new=True))
                if track.record_uri:
                    actions.append(self.repo.claim_membership_action(self.did, album.id, track.record_uri, track.id))
            actions.append(
                self.repo.counter_action(album.id, len(batch), sum(t.play_count for _, t in batch), album.title)
            )
            try:
                self.repo._transact(actions)
            except ClientError as exc:
                # A replay of a batch that did land (its puts are conditional): verified below.
                if exc.response["Error"]["Code"] != "TransactionCanceledException":
                    raise
                loaded = self.repo.load_album(album.id)
                present = {t.id for t in (loaded[1] if loaded else [])}
                if not all(t.id in present for _, t in batch):
                    # Not a replay: a track moved elsewhere, or its claim lapsed and another
                    # album took it.
                    raise Conflict(TRACK_TAKEN) from exc
        self.repo.recount(album.id)

    def _reorder(self, album: Album, track_ids: object) -> dict[str, Any]:
        loaded = self.repo.load_album(album.id)
        tracks = {t.id: t for t in (loaded[1] if loaded else [])}
        if not isinstance(track_ids, list) or not all(
            isinstance(i, int) and not isinstance(i, bool) for i in track_ids
        ):
            raise Unprocessable("track_ids: must be a list of integers")
        if len(track_ids) > MAX_TRACKS:
            raise Unprocessable(f"track_ids: at most {MAX_TRACKS}")
        counts = Counter(track_ids)
        duplicates = sorted(i for i, n in counts.items() if n > 1)
        foreign = sorted(i for i in counts if i not in tracks)
        missing = sorted(set(tracks) - set(counts))
        if duplicates or foreign or missing:
            raise Unprocessable(
                "track_ids: must list every track of the album exactly once"
                f" (duplicates: {duplicates[:20]}, not in the album: {foreign[:20]}, missing: {missing[:20]})"
            )
        order: list[str] = [u for i in track_ids if (u := tracks[i].record_uri)]
        album = self.ensure_list_record(album)
        assert album.list_uri

        def reorder_items(record: dict[str, Any]) -> dict[str, Any]:
            items = _items(record)
            by_uri: dict[str, Any] = {}
            for item in items:
                uri = _item_uri(item)
                if uri and uri not in by_uri:
                    by_uri[uri] = item
            ours = set(order)
            record["items"] = [
                by_uri.get(u)
                or {"subject": {"uri": u, "cid": next(t.record_cid for t in tracks.values() if t.record_uri == u)}}
                for u in order
            ] + [i for i in items if _item_uri(i) not in ours]
            record["updatedAt"] = now_iso()
            return record

        # The tracks are read, not written: the list pins each by the CID its record has now.
        edits = [Edit(u, keep) for u in order] + [Edit(album.list_uri, reorder_items)]
        with pds_errors():
            cids = apply_edits(self.pds, edits)
        self.repo.set_track_cids(list(tracks.values()), cids)
        album = self.repo.set_album_fields(
            album, track_order=order, list_cid=cids[album.list_uri], updated_at=now_iso()
        )
        self._invalidate(album.slug)
        return self.metadata(album)

    def _remove_track(self, album: Album, track_id: int) -> dict[str, Any]:
        track = self.repo.find_track(track_id)
        if track is None or track.artist_did != self.did:
            raise NotFound("track not found")
        loaded = self.repo.load_album(album.id)
        in_album = next((t for t in (loaded[1] if loaded else []) if t.id == track_id), None)
        if in_album is None:
            raise BadRequest("track is not in this album")
        uri = in_album.record_uri

        def drop_item(record: dict[str, Any]) -> dict[str, Any]:
            record["items"] = [i for i in _items(record) if _item_uri(i) != uri]
            record["updatedAt"] = now_iso()
            return record

        edits = [Edit(uri, _drop_field("album"))] if uri else []
        if album.list_uri and album.list_cid:
            edits.append(Edit(album.list_uri, drop_item))
        with pds_errors():
            cids = apply_edits(self.pds, edits)
        standalone = replace(in_album, album_id=None, record_cid=cids.get(uri or "") or in_album.record_cid)
        self.repo._transact(
            [
                self.repo.delete_track_action(in_album),
                self.repo.put_track(standalone),
                self.repo.counter_action(album.id, -1, -in_album.play_count),
            ]
        )
        self.repo.recount(album.id)
        changes: dict[str, Any] = {"track_order": [u for u in album.track_order if u != uri], "updated_at": now_iso()}
        if album.list_uri and cids.get(album.list_uri):
            changes["list_cid"] = cids[album.list_uri]
        self.repo.set_album_fields(album, **changes)
        self._invalidate(album.slug)
        return {"removed": True, "track_id": track_id}

    # ---- title and description ---------------------------------------------------------------

    def _update(self, album: Album, title: object = UNSET, description: object = UNSET) -> dict[str, Any]:
        if title is UNSET and description is UNSET:
            raise Unprocessable("give a title and/or a description to change")
        new_title = clean_title(title) if title is not UNSET else album.title
        new_description = clean_description(description) if description is not UNSET else album.description
        old_slug = album.slug
        if new_title != album.title:
            album = self._rename(album, new_title)
        if new_description != album.description:
            album = self.repo.set_album_fields(album, description=new_description, updated_at=now_iso())
        self._invalidate(old_slug, album.slug)
        return self.metadata(album)

    def _rename(self, album: Album, title: str) -> Album:
        slug = slugify(title)
        if slug != album.slug and not self.repo.claim_slug(self.did, self.handle, slug, album.id):
            raise Conflict("another of your albums already uses that name")
        try:
            album = self.ensure_list_record(album)
            assert album.list_uri
            loaded = self.repo.load_album(album.id)
            tracks = loaded[1] if loaded else []

            def rename_list(record: dict[str, Any]) -> dict[str, Any]:
                if record.get("name") != title:
                    record["name"] = title
                    record["updatedAt"] = now_iso()
                return record

            edits = [Edit(t.record_uri, _set_field("album", title)) for t in tracks if t.record_uri]
            edits.append(Edit(album.list_uri, rename_list))
            with pds_errors():
                cids = apply_edits(self.pds, edits)
        except Exception:
            if slug != album.slug:
                self.repo.release_slug(self.did, self.handle, slug, album.id)
            raise
        self.repo.set_track_cids(tracks, cids)
        renamed = self.repo.finish_rename(album, self.handle, title, slug, now_iso())
        if album.list_uri and cids.get(album.list_uri):
            renamed = self.repo.set_album_fields(renamed, list_cid=cids[album.list_uri])
        metrics.add_metric(name="AlbumRenamed", unit=MetricUnit.Count, value=1)
        return renamed

    # ---- delete ------------------------------------------------------------------------------

    def _delete_in_background(self, album: Album, cascade: bool) -> dict[str, Any]:
        """A large album: its list record goes now (502 and nothing removed if that fails), the
        album leaves every read at once, and the cleanup job finishes the tracks."""
        if album.list_uri:
            with pds_errors():
                apply_edits(self.pds, [Edit(album.list_uri, _delete)])
        cleanup.hand_over(self.repo, album, self.handle, cascade, self.pds)
        metrics.add_metric(name="AlbumDeleted", unit=MetricUnit.Count, value=1)
        return {"deleted": True, "cascade": cascade}

    def _delete_album(self, album: Album, cascade: bool) -> dict[str, Any]:
        loaded = self.repo.load_album(album.id)
        tracks = loaded[1] if loaded else []
        if len(tracks) > cleanup.SYNC_DELETE_MAX_TRACKS:
            return self._delete_in_background(album, cascade)
        change = _delete if cascade else _drop_field("album")
        edits = [Edit(t.record_uri, change) for t in tracks if t.record_uri]
        if album.list_uri:
            edits.append(Edit(album.list_uri, _delete))  # last: the album stays whole until then
        with pds_errors():
            cids = apply_edits(self.pds, edits)
        self.repo.release_tracks(tracks, cascade, cids)
        self.repo.delete_album_items(album, self.handle)
        self._invalidate(album.slug)
        metrics.add_metric(name="AlbumDeleted", unit=MetricUnit.Count, value=1)
        return {"deleted": True, "cascade": cascade}

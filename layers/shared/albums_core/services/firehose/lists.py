"""Album list records applied from the commits that carry them, as tracks are (tracks.py), where
the commit and what is held decide what the indexer (services/index_run.py) would make of the
repository; everything else is the indexer's, as before.

The indexer gives each listed track to the first list (by createdAt) naming it, takes the title
from the list's name (its slug from the title, the first free one), the order from the items
(each URI once, only tracks it holds), ignores the items' CIDs, and makes tracks no list names
singles. With every list change applied as it comes, what is held already follows those rules,
so a list whose items are all tracks held of its artist, each a single or already the album's,
is decided by its commit alone: the album created or its CID and order changed, the named
singles moved in and the tracks it no longer names moved out (only when the artist has no
other album: another list might name them), in one conditional transaction. An existing album
is updated so only when its list version is the one this container last applied from a commit
(else its version may be newer than the commit: our API's, the indexer's). Not decided here
(the indexer reads the repository): an item not held (unknown, another artist's, not a track),
a track of another album, a rename, a slug another album holds, an album whose list version
someone else wrote, a list too long for one transaction, a deleted list, and any write that
finds an item not as held (a request's lease on the album: our own mutation coming back while
it is under way; the tombstone of an album our API deleted before its list's create commit
came: the record may be gone from the repository)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, replace

from albums_core.domain.at_uri import list_item_uris
from albums_core.domain.firehose_events import LIST, RecordOp, record_problem
from albums_core.domain.models import Album, Track
from albums_core.domain.records import album_id_for, album_of_list
from albums_core.domain.slugs import slugify
from albums_core.domain.text_rules import salvage_title
from albums_core.ports.firehose import FirehoseCatalogue
from albums_core.services.firehose.held import Held, HeldCatalogue
from albums_core.services.firehose.planning import BatchReport, RepoWork
from albums_core.services.index_run import UNTITLED

# Moves one transaction holds (adapters/dynamodb/catalogue_lists.py).
MAX_LIST_MOVES = 48
# Albums whose list version written from a commit is remembered (a few hundred bytes each).
APPLIED_ALBUMS = 10_000


class Undecided(Exception):
    """The commit alone does not decide this list: the indexer reads the repository."""

    written = 0  # lists of the batch applied before it
    refused = False  # a write refused: an item was not as held (changed since it was read)


@dataclass(frozen=True)
class _Change:
    before: Album | None
    after: Album
    moves: list[tuple[Track, Track]]


class ListIngest:
    def __init__(self, held: HeldCatalogue, catalogue: FirehoseCatalogue) -> None:
        self.held = held
        self.catalogue = catalogue
        # The list CID this container last wrote to each album from a commit. Only an album at
        # such a version is updated from the next commit of its list (commits of a repository
        # come in rev order): one our API or the indexer wrote may be newer than a commit still
        # on its way (an attach's echoes: the list created, then appended to), and applying the
        # older version would take the album back until the next echo.
        self._applied: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()

    def apply(self, entry: RepoWork, ops: list[RecordOp], report: BatchReport) -> None:
        """The batch's list ops (the last of each record), each applied or already there;
        Undecided at the first that is not (those before it are applied: the indexer, which
        writes only differences, finishes the batch)."""
        last: dict[str, RecordOp] = {}
        for op in ops:
            last[op.uri(entry.did)] = op
        stale = self.held.predates_batch(entry.did)
        try:
            own = self._apply(entry.did, last, report)
        except Undecided as why:
            # Once more on a fresh read: after a refused write, or when what decided was read
            # before this batch (our own API may have written since). Not for a list the commit
            # cannot decide on a copy read in this batch: the indexer's.
            if why.written or not (why.refused or stale):
                raise
            self.held.forget(entry.did)
            own = self._apply(entry.did, last, report)
        report.counts["applied"] += len(ops) - own
        if own:
            report.counts["applied_own"] += own

    def _apply(self, did: str, last: dict[str, RecordOp], report: BatchReport) -> int:
        """How many ops the catalogue already had (our own writes)."""
        own = written = 0
        for uri, op in last.items():
            held = self.held.held(did, albums=True)
            try:
                change = _decide(held, uri, op)
                if change is None:
                    own += 1
                    continue
                if change.before is not None and self._applied.get(change.before.id) != change.before.list_cid:
                    raise Undecided("the album's list version is not one this consumer applied")
                self._write(held, change)
            except Undecided as why:
                why.written = written
                raise
            written += 1
            report.counts["lists_applied"] += 1
        return own

    def _write(self, held: Held, change: _Change) -> None:
        assert held.artist is not None and held.albums is not None
        if not self.catalogue.apply_album_list(change.before, change.after, held.artist.handle, change.moves):
            self.held.forget(held.artist.did)
            why = Undecided("an item is not as held")
            why.refused = True
            raise why
        held.albums[change.after.id] = change.after
        with self._lock:  # repositories of a batch are applied in threads (ingest.py)
            self._applied[change.after.id] = change.after.list_cid or ""
            self._applied.move_to_end(change.after.id)
            while len(self._applied) > APPLIED_ALBUMS:
                self._applied.popitem(last=False)
        for _, track in change.moves:
            held.tracks[track.record_uri or ""] = track
        self.held.changed_album_page(held.artist.handle, change.after.slug)


def _decide(held: Held, uri: str, op: RecordOp) -> _Change | None:
    """What the list op changes (None: nothing, the album already has this version of it)."""
    assert held.albums is not None and held.artist is not None
    album_id = album_id_for(uri)
    before = held.albums.get(album_id)
    if op.action == "delete":
        if before is None:
            return None
        raise Undecided("a deleted list")
    if before is not None and before.list_cid == op.cid:
        return None  # our own write coming back, or a replay
    value = op.value or {}
    if op.problem is not None or record_problem(LIST, value) is not None:
        raise Undecided("not a valid album list")
    if before is not None and before.list_uri != uri:
        raise Undecided("the album is another list's")
    order = list_item_uris({"value": value})
    named = [_named(held, item, album_id) for item in order]
    leaving = [t for t in held.tracks.values() if t.album_id == album_id and t.record_uri not in set(order)]
    if leaving and any(a.id != album_id for a in held.albums.values()):
        raise Undecided("tracks leave the album while other albums may list them")
    moves = [(t, replace(t, album_id=album_id)) for t in named if t.album_id is None]
    moves += [(t, replace(t, album_id=None)) for t in leaving]
    if len(moves) > MAX_LIST_MOVES:
        raise Undecided("too many moves for one transaction")
    count, plays = len(named), sum(t.play_count for t in named)
    title = salvage_title(value.get("name")) or UNTITLED
    if before is None:
        return _Change(None, _new_album(held, uri, op, title, order, count, plays), moves)
    if title != before.title:
        raise Undecided("a rename")
    after = replace(
        before,
        list_cid=op.cid,
        track_order=order,
        track_count=count,
        total_plays=before.total_plays + sum(k.play_count if n.album_id else -k.play_count for k, n in moves),
        version=before.version + 1,
    )
    return _Change(before, after, moves)


def _named(held: Held, item: str, album_id: str) -> Track:
    track = held.tracks.get(item)
    if track is None:
        raise Undecided("an item is not a track held of the artist")
    if track.album_id not in (None, album_id):
        raise Undecided("a track of another album")
    return track


def _new_album(held: Held, uri: str, op: RecordOp, title: str, order: list[str], count: int, plays: int) -> Album:
    assert held.albums is not None and held.artist is not None
    slug = slugify(title)
    if any(a.slug == slug for a in held.albums.values()):
        raise Undecided("the slug is another album's")
    album = album_of_list(held.artist.did, uri, op.cid, op.value or {}, title, slug, order)
    return replace(album, track_count=count, total_plays=plays)

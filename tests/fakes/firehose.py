"""The ports of live ingestion (albums_core.ports.firehose) in memory, with the conditions their
adapters enforce: a track write refused when the item is not as read, one track item per record,
a lease held by one holder, a rev that never moves back. Each counts its `calls` (a DynamoDB or
PDS call of the adapter) so a test can check what a batch costs. The likes are in likes.py."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any

from albums_core.adapters.atproto.commit_verify import Refusal
from albums_core.adapters.atproto.identity import Identity, UnknownIdentity
from albums_core.adapters.atproto.xrpc import Listing, Record
from albums_core.domain.firehose_events import Commit, Lease, RepoStatus
from albums_core.domain.models import Album, Artist, Track
from albums_core.domain.read_budget import ReadBudget
from albums_core.domain.records import TRACK_RECORD_FIELDS
from tests.fakes.journal import Faults


class FakeFirehoseCatalogue:
    """Artists, albums (with their listing) and tracks; `before_write` runs before each track
    write (another writer changing the item in between)."""

    def __init__(self) -> None:
        self.artists: dict[str, Artist] = {}
        self.albums: dict[str, Album] = {}
        self.listed: set[str] = set()
        self.tracks: dict[int, Track] = {}
        self.gone: set[str] = set()  # albums our API deleted: their tombstones (jobs.hand_over)
        self.calls: Counter[str] = Counter()
        self.faults = Faults()
        self.before_write: Callable[[], None] | None = None
        self._ids = itertools.count(1000)

    def _call(self, name: str) -> None:
        self.calls[name] += 1
        self.faults.check(name)

    def _write(self, name: str) -> None:
        self._call(name)
        if self.before_write is not None:
            self.before_write()

    def where(self, track: Track) -> bool:
        """The track's item is where `track` says it is."""
        stored = self.tracks.get(track.id)
        return stored is not None and stored.album_id == track.album_id

    # ---- the port -------------------------------------------------------------------------------

    def get_artist(self, did: str) -> Artist | None:
        self._call("get_artist")
        return self.artists.get(did)

    def upsert_artist(self, artist: Artist) -> None:
        self._call("upsert_artist")
        self.artists[artist.did] = artist

    def artist_tracks(self, did: str) -> list[Track]:
        self._call("artist_tracks")
        # The order of the adapter's artist index: by creation time, then id.
        return sorted((t for t in self.tracks.values() if t.artist_did == did), key=lambda t: (t.created_at, t.id))

    def artist_albums(self, did: str) -> list[Album]:
        self._call("artist_albums")
        return [a for a in self.albums.values() if a.artist_did == did]

    def find_track(self, track_id: int) -> Track | None:
        self._call("find_track")
        return self.tracks.get(track_id)

    def reserve_track_ids(self, count: int) -> range:
        self._call("reserve_track_ids")
        first = next(self._ids)
        for _ in range(count - 1):
            next(self._ids)
        return range(first, first + count)

    def add_new_tracks(self, tracks: list[Track]) -> list[Track]:
        self._write("add_new_tracks")
        out = []
        for track in tracks:
            holder = next((t for t in self.tracks.values() if t.record_uri == track.record_uri), None)
            if holder is None:
                self.tracks[track.id] = track
            out.append(holder or track)
        return out

    def update_track_record(self, before: Track, after: Track) -> bool:
        self._write("update_track_record")
        stored = self.tracks.get(before.id)
        if stored is None or not self.where(before) or stored.record_cid != before.record_cid:
            return False
        fields = {name: value for name, value in asdict(after).items() if name in TRACK_RECORD_FIELDS}
        self.tracks[before.id] = replace(stored, **fields)
        return True

    def drop_track(self, track: Track) -> bool:
        self._write("drop_track")
        # The adapter's transaction updates the album's counters, so it fails whole when the
        # album item went (a deleted album whose cleanup has not reached the track yet).
        if not self.where(track) or (track.album_id and track.album_id not in self.albums):
            return False
        del self.tracks[track.id]
        if track.album_id:
            album = self.albums[track.album_id]
            self.albums[album.id] = replace(
                album, track_count=album.track_count - 1, total_plays=album.total_plays - track.play_count
            )
        return True

    def unlist_if_empty(self, album_id: str) -> None:
        self._call("unlist_if_empty")
        album = self.albums.get(album_id)
        if album is not None and album.track_count <= 0:
            self.listed.discard(album_id)

    def apply_album_list(
        self, before: Album | None, after: Album, handle: str, moves: list[tuple[Track, Track]]
    ) -> bool:
        self._write("apply_album_list")
        stored = self.albums.get(after.id)
        if before is None:
            taken = any(a.artist_did == after.artist_did and a.slug == after.slug for a in self.albums.values())
            if stored is not None or taken or after.id in self.gone:
                return False
        elif stored is None or (stored.version, stored.track_count) != (before.version, before.track_count):
            return False
        for known, _ in moves:
            here = self.tracks.get(known.id)
            if here is None or here.album_id != known.album_id or here.play_count != known.play_count:
                return False
        plays = after.total_plays - (before.total_plays if before else 0)
        base = stored or replace(after, track_count=0, total_plays=0)
        self.albums[after.id] = replace(after, track_count=after.track_count, total_plays=base.total_plays + plays)
        (self.listed.add if after.track_count > 0 else self.listed.discard)(after.id)
        for _, track in moves:
            self.tracks[track.id] = track
        return True

    # ---- for tests ------------------------------------------------------------------------------

    def add_album(self, album: Album, tracks: list[Track]) -> list[Track]:
        self.albums[album.id] = replace(album, track_count=len(tracks), total_plays=sum(t.play_count for t in tracks))
        if tracks:  # listed while it has tracks, as the adapter's create_album
            self.listed.add(album.id)
        return [self.add_track(replace(t, album_id=album.id)) for t in tracks]

    def add_track(self, track: Track) -> Track:
        stored = replace(track, id=track.id or next(self._ids))
        self.tracks[stored.id] = stored
        return stored

    def by_uri(self, uri: str) -> Track | None:
        return next((t for t in self.tracks.values() if t.record_uri == uri), None)


class FakeLeases:
    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.items: dict[str, dict[str, Any]] = {}
        self.calls = 0

    def acquire(self, source: str, holder: str, seconds: float) -> Lease | None:
        self.calls += 1
        item = self.items.setdefault(source, {})
        now = self.clock()
        if item.get("until", 0.0) >= now and item.get("holder") not in (None, holder):
            return None
        item.update(holder=holder, until=now + seconds)
        return Lease(holder, item.get("cursor"), now + seconds)

    def checkpoint(self, source: str, holder: str, cursor: int | None, seconds: float) -> bool:
        self.calls += 1
        item = self.items.get(source, {})
        if item.get("holder") != holder:
            return False
        item.update(until=self.clock() + seconds, cursor=cursor)
        return True

    def release(self, source: str, holder: str) -> None:
        self.calls += 1
        item = self.items.get(source, {})
        if item.get("holder") == holder:
            item.pop("holder")
            item.pop("until", None)


class FakeRepoStates:
    def __init__(self, catalogue: FakeFirehoseCatalogue) -> None:
        self.catalogue = catalogue
        self.states: dict[str, dict[str, Any]] = {}
        self.hidden_handles: set[str] = set()
        self.calls: Counter[str] = Counter()

    def repo_state(self, did: str) -> dict[str, Any]:
        self.calls["repo_state"] += 1
        return dict(self.states.get(did, {}))

    def set_repo_rev(self, did: str, rev: str) -> None:
        self.calls["set_repo_rev"] += 1
        state = self.states.setdefault(did, {})
        if state.get("rev") is None or state["rev"] < rev:
            state["rev"] = rev

    def set_hidden(self, did: str, hidden: bool, status: str | None) -> None:
        self.calls["set_hidden"] += 1
        state = self.states.setdefault(did, {})
        if hidden:
            state.update(hidden=True, account_status=status or "inactive")
        else:
            state.pop("hidden", None)
            state.pop("account_status", None)

    def hide_artist(self, artist: Artist) -> None:
        self.calls["hide_artist"] += 1
        self.hidden_handles.add(artist.handle)

    def unlist_album(self, album_id: str) -> None:
        self.calls["unlist_album"] += 1
        self.catalogue.listed.discard(album_id)

    def relist_album(self, album: Album) -> None:
        self.calls["relist_album"] += 1
        stored = self.catalogue.albums.get(album.id)
        if stored is not None and stored.track_count > 0:
            self.catalogue.listed.add(album.id)


class FakeRepoReads:
    """Repositories by DID: the accounts the PDS holds (`add_account`, or `put` of a record), their
    records by (collection, rkey), and what getRepoStatus answers (`statuses`, for a status other
    than active). `faults` raises the XRPC client's exceptions from `list_records`, `get_record`,
    `repo_status`."""

    def __init__(self) -> None:
        self.accounts: set[str] = set()
        self.records: dict[str, dict[tuple[str, str], Record]] = {}
        self.statuses: dict[str, RepoStatus] = {}
        self.faults = Faults()
        self.calls: list[tuple[str, str]] = []

    def add_account(self, did: str) -> None:
        """A repository the PDS holds, with no record yet."""
        self.accounts.add(did)

    def put(self, did: str, collection: str, rkey: str, value: dict[str, Any], cid: str | None = None) -> str:
        self.accounts.add(did)
        uri = f"at://{did}/{collection}/{rkey}"
        self.records.setdefault(did, {})[(collection, rkey)] = Record(uri, cid or f"bafy{rkey}", value)
        return uri

    def list_records(self, pds_url: str, did: str, collection: str, budget: ReadBudget | None = None) -> Listing:
        self.calls.append(("list_records", did))
        self.faults.check("list_records")
        if budget is not None and not budget.take_call():
            return Listing(complete=False, stopped=budget.spent or "calls")
        held = self.records.get(did, {})
        # Newest record key first, as a PDS lists a collection.
        return Listing([r for (c, _), r in sorted(held.items(), reverse=True) if c == collection], complete=True)

    def get_record(self, pds_url: str, did: str, collection: str, rkey: str) -> Record | None:
        self.calls.append(("get_record", did))
        self.faults.check("get_record")
        return self.records.get(did, {}).get((collection, rkey))

    def repo_status(self, pds_url: str, did: str) -> RepoStatus:
        self.calls.append(("repo_status", did))
        self.faults.check("repo_status")
        if did in self.statuses:
            return self.statuses[did]
        # A repository the PDS does not hold is answered RepoNotFound: the adapter's deleted.
        return RepoStatus(True, None) if did in self.accounts else RepoStatus(False, "deleted")


class FakeIdentities:
    def __init__(self) -> None:
        self.known: dict[str, Identity] = {}
        self.forgotten: list[tuple[str, ...]] = []
        self.faults = Faults()

    def add(self, did: str, handle: str, pds_url: str = "https://pds.example") -> Identity:
        self.known[did] = Identity(did, handle, pds_url)
        return self.known[did]

    def resolve(self, did: str) -> Identity:
        self.faults.check("resolve")
        if did not in self.known:
            raise UnknownIdentity(did)
        return self.known[did]

    def forget(self, *identifiers: str) -> None:
        self.forgotten.append(identifiers)


class FakePages:
    def __init__(self) -> None:
        self.dropped: list[tuple[str, str]] = []
        self.dropped_ids: list[str] = []

    def drop(self, handle: str, slug: str) -> None:
        self.dropped.append((handle, slug))

    def drop_by_id(self, album_id: str) -> None:
        self.dropped_ids.append(album_id)

    def drop_many(self, pages: set[tuple[str, str]], handles: dict[str, str]) -> None:
        self.dropped.extend(sorted(pages))
        self.dropped_ids.extend(sorted(handles))


@dataclass
class FakeIndexer:
    """Records each indexing; `outcome` is what it returns (counts, or an IndexOutcome)."""

    outcome: Any = None
    runs: list[str] | None = None
    jobs: list[tuple[str, str | None]] | None = None

    def __post_init__(self) -> None:
        self.runs = []
        self.jobs = []

    def index(self, artist: Artist, budget: ReadBudget) -> Any:
        assert self.runs is not None
        self.runs.append(artist.did)
        return self.outcome if self.outcome is not None else {}

    def request_backfill(self, artist: Artist, job_id: str | None = None) -> str | None:
        assert self.jobs is not None
        self.jobs.append((artist.did, job_id))
        return job_id or f"job-{len(self.jobs)}"


class FakeVerifier:
    """Every commit proves itself, but those whose seq is in `refuse`."""

    def __init__(self, refuse: dict[int, str] | None = None) -> None:
        self.refuse = refuse or {}
        self.checked: list[int] = []

    def check(self, commit: Commit) -> Refusal | None:
        self.checked.append(commit.seq)
        reason = self.refuse.get(commit.seq)
        return Refusal(reason, "refused by the fake") if reason else None

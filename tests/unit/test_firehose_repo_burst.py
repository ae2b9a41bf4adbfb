"""A batch's repositories are applied several at once (services/firehose/together.py): the album
lists of different artists, applied from their commits, each in a thread of its own (a burst of
lists one after another held up every like behind it on the whole network's stream, bench
section 9). A repository's ops keep their stream order, what each changed is counted once, and
a failure in one fails the batch only once the others have ended."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest

from albums_core.domain.firehose_events import LIST, TRACK, RecordOp
from albums_core.domain.models import Album, Track
from albums_core.services.firehose.together import REPO_WORKERS
from tests.fakes.firehose import FakeFirehoseCatalogue
from tests.unit.firehose_world import World, commit, create, delete, like, list_op, track, update

# A hang limit only: the repositories meet at the barrier at once, or never when run one by one.
HANG_SECONDS = 60.0


class MeetingCatalogue(FakeFirehoseCatalogue):
    """Once `meet` is armed, each album list write waits until `parties` of them are under way."""

    def __init__(self) -> None:
        super().__init__()
        self.meet: threading.Barrier | None = None
        self.threads: set[str] = set()

    def apply_album_list(
        self, before: Album | None, after: Album, handle: str, moves: list[tuple[Track, Track]]
    ) -> bool:
        if self.meet is not None:
            self.threads.add(threading.current_thread().name)
            self.meet.wait()
        return super().apply_album_list(before, after, handle, moves)


def test_the_lists_of_several_repositories_are_applied_at_once() -> None:
    catalogue = MeetingCatalogue()
    world = World(catalogue=catalogue)
    artists = [world.artist(f"lists{i}") for i in range(REPO_WORKERS)]
    world.ingest.apply([commit(a.did, create("t1", "One"), create("t2", "Two")) for a in artists])
    catalogue.meet = threading.Barrier(REPO_WORKERS, timeout=HANG_SECONDS)
    uris = {a.did: [f"at://{a.did}/{TRACK}/t1", f"at://{a.did}/{TRACK}/t2"] for a in artists}
    report = world.ingest.apply([commit(a.did, list_op("l1", *uris[a.did])) for a in artists])
    assert len(catalogue.threads) == REPO_WORKERS  # each in a thread of its own, together
    assert report.counts["lists_applied"] == REPO_WORKERS and world.indexer.runs == []
    assert report.counts["applied"] == REPO_WORKERS
    for a in artists:
        (album,) = [x for x in catalogue.albums.values() if x.artist_did == a.did]
        assert album.track_count == 2 and {world.track_of(a, r).album_id for r in ("t1", "t2")} == {album.id}  # type: ignore[union-attr]
    assert sorted(world.pages.dropped) == sorted((a.handle, "named") for a in artists)


def _batch(world: World, names: list[str]) -> list[object]:
    """Per artist, in stream order: two tracks created, one retitled, the other deleted, a list
    naming the first, a like of another artist's track; all interleaved across artists."""
    artists = [world.artist(name) for name in names]
    fan = artists[-1]
    first = world.catalogue.add_track(track(fan, "liked"))
    steps = [
        lambda a: commit(a.did, create("t1", "One"), create("t2", "Two")),
        lambda a: commit(a.did, update("t1", "One again", "bafyt1b")),
        lambda a: commit(a.did, delete(TRACK, "t2")),
        lambda a: commit(a.did, list_op("l1", f"at://{a.did}/{TRACK}/t1")),
        lambda a: commit(a.did, like(f"k-{a.handle}", first)),
    ]
    return [step(a) for step in steps for a in artists[:-1]]


def _state(world: World) -> list[tuple[str, str | None, int, bool]]:
    albums = {a.id: a for a in world.catalogue.albums.values()}
    out = []
    for t in world.catalogue.tracks.values():
        album = albums.get(t.album_id or "")
        listed = album is not None and album.track_count == 1
        out.append((str(t.record_uri).split("/", 2)[2], t.title, t.like_count, listed))
    return sorted(out)


@pytest.mark.parametrize("repositories", [2, REPO_WORKERS + 2])
def test_each_repositorys_ops_keep_their_order_and_are_counted_once(repositories: int) -> None:
    """The same commits in one batch (repositories at once) and in one batch per repository (one
    at a time) leave the same catalogue and the same counts."""
    names = [f"order{i}" for i in range(repositories)] + ["fan"]
    together, alone = World(), World()
    report = together.ingest.apply(_batch(together, names))  # type: ignore[arg-type]
    counts: dict[str, int] = {}
    events = _batch(alone, names)
    for repo in dict.fromkeys(e.repo for e in events):  # type: ignore[attr-defined]
        mine = [e for e in events if e.repo == repo]  # type: ignore[attr-defined]
        for name, n in alone.ingest.apply(mine).counts.items():  # type: ignore[arg-type]
            counts[name] = counts.get(name, 0) + n
    assert _state(together) == _state(alone)
    assert together.indexer.runs == [] and alone.indexer.runs == []
    (liked,) = [s for s in _state(together) if s[0].endswith("/liked")]
    assert liked[2] == repositories
    keep = ("applied", "tracks_created", "tracks_updated", "tracks_removed", "lists_applied", "likes_applied")
    assert {k: report.counts[k] for k in keep} == {k: counts.get(k, 0) for k in keep}
    assert report.counts["tracks_created"] == repositories and report.counts["lists_applied"] == repositories
    titles = [t.title for t in together.catalogue.tracks.values() if str(t.record_uri).endswith("/t1")]
    assert titles == ["One again"] * repositories  # the last op of the record, in stream order
    assert not any(t.record_uri and t.record_uri.endswith("/t2") for t in together.catalogue.tracks.values())


class FailingCatalogue(FakeFirehoseCatalogue):
    def __init__(self, failing: str) -> None:
        super().__init__()
        self.failing = failing

    def add_new_tracks(self, tracks: list[Track]) -> list[Track]:
        if tracks and tracks[0].artist_did == self.failing:
            raise RuntimeError("not this repository's fault")
        return super().add_new_tracks(tracks)


def test_a_failure_in_one_repository_fails_the_batch_once_the_others_are_applied() -> None:
    world = World()
    artists = [world.artist(f"fail{i}") for i in range(REPO_WORKERS)]
    catalogue = FailingCatalogue(artists[0].did)
    catalogue.artists = world.catalogue.artists
    world = replace(world, catalogue=catalogue)
    with pytest.raises(RuntimeError, match="not this repository's fault"):
        world.ingest.apply([commit(a.did, create("t1", "One")) for a in artists])
    # The others ended (their tracks written); the consumer applies the batch again event by
    # event, and their commits then change nothing.
    assert {t.artist_did for t in catalogue.tracks.values()} == {a.did for a in artists[1:]}
    catalogue.failing = ""
    for a in artists:
        world.ingest.apply([commit(a.did, create("t1", "One"))])
    assert sorted(t.artist_did for t in catalogue.tracks.values()) == sorted(a.did for a in artists)


def test_a_list_naming_another_repositorys_track_is_left_to_the_indexer() -> None:
    world = World()
    one, two = world.artist("cross1"), world.artist("cross2")
    world.ingest.apply([commit(two.did, create("t1", "Theirs"))])
    borrowed = RecordOp("create", LIST, "l1", "bafyl1", list_op("l1", f"at://{two.did}/{TRACK}/t1").value)
    report = world.ingest.apply([commit(one.did, create("t1", "Mine")), commit(one.did, borrowed)])
    assert world.indexer.runs == [one.did] and not report.counts.get("lists_applied")


def test_no_held_artist_is_let_go_during_a_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    """Threads apply several repositories at once: one artist's copy evicted by the others'
    reads mid-batch would be read again (lagging indexes) by the thread still using it."""
    from albums_core.services.firehose import held as held_module

    monkeypatch.setattr(held_module, "HELD_ARTISTS", 1)
    world = World()
    artists = [world.artist(f"ev{n}") for n in range(3)]
    world.ingest.apply([commit(a.did, create(f"t{n}", f"T{n}")) for n, a in enumerate(artists)])
    assert all(world.ingest.held.peek(a.did) is not None for a in artists)
    world.ingest.held.begin_batch()  # the next batch lets the oldest go
    assert [world.ingest.held.peek(a.did) is not None for a in artists].count(True) == 1


def test_held_artists_stay_bounded_outside_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    """A like re-read job (no batches) reads the artist of every like of a liker: what it holds
    is bounded as it reads, not only when a batch begins."""
    from albums_core.services.firehose import held as held_module
    from albums_core.services.firehose.held import HeldCatalogue

    monkeypatch.setattr(held_module, "HELD_ARTISTS", 2)
    world = World()
    held = HeldCatalogue(world.catalogue, world.pages)
    artists = [world.artist(f"bound{n}") for n in range(5)]
    for artist in artists:
        held.held(artist.did)
    assert [held.peek(a.did) is not None for a in artists] == [False, False, False, True, True]

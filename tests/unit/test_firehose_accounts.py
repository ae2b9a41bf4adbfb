"""Identity and account events (services/firehose/accounts.py), and a batch's planning
(planning.py), on the fakes."""

from __future__ import annotations

from albums_core.adapters.atproto.xrpc import PdsUnavailable, XrpcError
from albums_core.domain.firehose_events import (
    LIKE,
    MISSING_BLOCK,
    TRACK,
    AccountChange,
    IdentityChange,
    Info,
    RecordOp,
    RepoResync,
    RepoStatus,
    Skipped,
)
from albums_core.domain.models import Artist
from tests.unit.firehose_world import World, commit, create


def test_an_identity_change_moves_the_artist_to_the_verified_handle_and_drops_the_old_pages() -> None:
    world = World()
    artist = world.artist("moving")
    world.album(artist, "first", "m1")
    world.identities.add(artist.did, "moved.test", "https://new.pds.example")
    report = world.ingest.apply([IdentityChange(1, artist.did, "t", handle="hint.test")])
    assert report.counts["identity_changed"] == 1 and report.counts["applied"] == 1
    stored = world.catalogue.artists[artist.did]
    assert (stored.handle, stored.pds_url) == ("moved.test", "https://new.pds.example")
    assert world.pages.dropped == [("moving.test", "first")]
    # The cached identity is forgotten first, the event's handle only a hint.
    assert world.identities.forgotten == [(artist.did, "moving.test", "hint.test")]

    again = world.ingest.apply([IdentityChange(2, artist.did, "t")])
    assert again.counts["identity_unchanged"] == 1 and again.counts["applied"] == 0


def test_identity_events_of_unknown_unresolved_or_unreachable_dids_change_nothing() -> None:
    world = World()
    artist = world.artist("steady")
    del world.identities.known[artist.did]
    report = world.ingest.apply([IdentityChange(1, artist.did, "t"), IdentityChange(2, "did:plc:strangerxxxx", "t")])
    assert report.counts["skipped_identity_unresolved"] == 1 and report.counts["skipped_identity_unknown"] == 1
    world.identities.add(artist.did, "elsewhere.test")
    world.identities.faults.fail("resolve", lambda: PdsUnavailable("plc down"))
    assert world.ingest.apply([IdentityChange(3, artist.did, "t")]).counts["failed_identity"] == 1
    assert world.catalogue.artists[artist.did].handle == "steady.test"


def test_an_inactive_account_is_hidden_only_when_its_own_pds_says_so_and_comes_back() -> None:
    world = World()
    artist = world.artist("resting")
    album, _ = world.album(artist, "shown", "r1")
    # The relay says inactive, the account's PDS says active: nothing changes.
    report = world.ingest.apply([AccountChange(1, artist.did, "t", active=False, status="takendown")])
    assert report.counts["account_unchanged"] == 1 and album.id in world.catalogue.listed

    world.pds.statuses[artist.did] = RepoStatus(False, "deactivated")
    hidden = world.ingest.apply([AccountChange(2, artist.did, "t", active=False)])
    assert hidden.counts["accounts_hidden"] == 1
    assert world.repos.states[artist.did] == {"hidden": True, "account_status": "deactivated"}
    assert album.id not in world.catalogue.listed and "resting.test" in world.repos.hidden_handles
    assert ("resting.test", "shown") in world.pages.dropped

    world.pds.statuses[artist.did] = RepoStatus(True, None)
    back = world.ingest.apply([AccountChange(3, artist.did, "t", active=True)])
    assert back.counts["accounts_restored"] == 1 and album.id in world.catalogue.listed
    assert "hidden" not in world.repos.states[artist.did]


def test_an_account_whose_pds_cannot_answer_is_left_as_it_is() -> None:
    world = World()
    artist = world.artist("unsure")
    album, _ = world.album(artist, "kept", "u1")
    world.pds.faults.fail("repo_status", lambda: PdsUnavailable("down"))
    world.pds.faults.fail("repo_status", lambda: XrpcError(500, "InternalServerError"))
    for seq in (1, 2):
        assert world.ingest.apply([AccountChange(seq, artist.did, "t", active=False)]).counts["failed_account"] == 1
    assert album.id in world.catalogue.listed and artist.did not in world.repos.states
    del world.identities.known[artist.did]  # the DID names no one now: deleted
    gone = world.ingest.apply([AccountChange(3, artist.did, "t", active=False)])
    assert gone.counts["accounts_hidden"] == 1 and world.repos.states[artist.did]["account_status"] == "deleted"


def test_a_batch_is_planned_per_repository_verified_and_its_revs_recorded() -> None:
    world = World()
    artist = world.artist("planned")
    applied = commit(artist.did, create("p1", "Kept"))
    refused = commit(artist.did, create("p2", "Forged"))  # a later rev that does not prove itself
    world.verifier.refuse[refused.seq] = "bad_signature"
    report = world.ingest.apply(
        [
            Skipped("filtered", 1),
            Info("OutdatedCursor", "gone"),
            commit(artist.did),  # no op of ours
            applied,
            refused,
        ]
    )
    counts = report.counts
    assert (counts["seen"], counts["skipped_filtered"], counts["info_OutdatedCursor"]) == (5, 2, 1)
    assert (counts["verified_commits"], counts["unverified_bad_signature"]) == (1, 1)
    assert world.track_of(artist, "p2") is None and world.track_of(artist, "p1") is not None
    assert world.repos.states[artist.did]["rev"] == applied.rev
    # A replayed commit is skipped before it is verified.
    checked = list(world.verifier.checked)
    assert world.ingest.apply([applied]).counts["skipped_replayed"] == 1 and world.verifier.checked == checked
    assert len(report.lags) == 1


def test_a_missing_block_or_a_resync_has_the_repository_indexed() -> None:
    world = World()
    artist = world.artist("resynced")
    missing = commit(artist.did, RecordOp("create", TRACK, "m1", "bafym1", None, MISSING_BLOCK))
    assert world.ingest.apply([missing]).counts["indexings"] == 1
    assert world.ingest.apply([RepoResync(9, artist.did, "t", "sync")]).counts["resyncs"] == 1
    assert world.indexer.runs == [artist.did, artist.did]
    # An invalid like is skipped, counted, and changes nothing.
    bad = commit(artist.did, RecordOp("create", LIKE, "l1", "bafyl1", {"subject": 1}, "not a strong ref"))
    assert world.ingest.apply([bad]).counts["skipped_invalid"] == 1


def test_a_hidden_artists_albums_leave_the_listing_before_the_artist_leaves_the_reads() -> None:
    """Readers see the artist gone only once none of its albums is listed any more."""
    world = World()
    artist = world.artist("leaving")
    album, _ = world.album(artist, "last", "r1")
    seen_listed: list[bool] = []
    hide = world.repos.hide_artist

    def hide_and_look(who: Artist) -> None:
        seen_listed.append(album.id in world.catalogue.listed)
        hide(who)

    world.repos.hide_artist = hide_and_look  # type: ignore[method-assign,assignment]
    world.pds.statuses[artist.did] = RepoStatus(False, "deactivated")
    world.ingest.apply([AccountChange(1, artist.did, "t", active=False)])
    assert seen_listed == [False]

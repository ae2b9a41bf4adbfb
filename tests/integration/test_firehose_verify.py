"""Only commits that prove themselves are applied (issue 18, section 6): signed by the repository's
current key, each record block matching its CID, the MST leading from the signed root to each op.

Against moto, with the identity lookup injected: what is refused, counted, and what a refusal
leaves (the rev not advanced). Against the local PDS: a scripted relay's commits of an account
whose DID document (on the local PLC) names the tests' key: a forged one is not applied, one
signed after a key rotation is; and the PDS's own stream, real commits, verified and applied."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from atproto_subscription.frames import MessageFrame, MessageFrameHeader

from albums_core.adapters.atproto.commit_verify import CommitVerifier
from albums_core.adapters.atproto.firehose import decode_message
from albums_core.adapters.dynamodb.catalogue import CatalogueRepository, CatalogueWriter
from albums_core.adapters.dynamodb.firehose_state import FirehoseState
from albums_core.bootstrap import firehose
from albums_core.bootstrap.firehose import FirehoseWiring
from albums_core.domain.firehose_events import TRACK, Commit, Skipped
from albums_core.domain.models import Artist
from albums_core.services.firehose.consumer import ConsumerConfig
from albums_core.services.firehose.ingest import Ingest
from local_runtime.pds import LocalPds
from tests.integration.factory import make_artist
from tests.integration.test_firehose import Client, Running, eventually, handle
from tests.integration.test_firehose_relay import relayed_account
from tests.support.firehose_frames import DEFAULT_SIGNER, Op, Signer, block, signed_commit_body
from tests.support.relays import ScriptedRelay, commit, other_commit

_n = itertools.count(1)
_TID = "234567abcdefghijklmnopqrstuvwxyz"


def rev() -> str:
    """Increasing TIDs."""
    n = next(_n)
    return "3n3mo53i" + "".join(_TID[(n >> (5 * i)) & 31] for i in reversed(range(5)))


def track(title: str) -> dict[str, Any]:
    return {"$type": TRACK, "title": title, "artist": "A", "fileType": "mp3", "createdAt": "2026-12-01T00:00:00Z"}


def event(repo: str, ops: list[Op], at: str | None = None, **options: Any) -> Commit:
    body = signed_commit_body(next(_n), repo, at or rev(), ops, others=50, **options)
    decoded = decode_message(MessageFrame(MessageFrameHeader(t="#commit"), body))
    assert isinstance(decoded, Commit)
    return decoded


class Keys:
    def __init__(self, key: str, fresh: str | None = None) -> None:
        self.key, self.fresh = key, fresh or key
        self.calls: list[bool] = []

    def __call__(self, did: str, fresh: bool = False) -> str:
        self.calls.append(fresh)
        return self.fresh if fresh else self.key


def _indexer(artist: Artist, repo: CatalogueWriter, budget: Any) -> dict[str, int]:
    raise AssertionError("nothing here needs the repository read")


def _ingest(repo: CatalogueRepository, keys: Keys) -> tuple[Ingest, CatalogueWriter, Artist, CommitVerifier]:
    writer = CatalogueWriter(repo.table, repo.client)
    artist = make_artist(repo, f"vf{next(_n)}.test", pds_url="http://127.0.0.1:9")
    verifier = CommitVerifier(keys)
    ingest = firehose.ingest(FirehoseWiring.on(writer), index=_indexer, verifier=verifier)
    return ingest, writer, artist, verifier


def _titles(writer: CatalogueWriter, did: str) -> list[str]:
    return sorted(t.title for t in writer.artist_tracks(did))


def test_only_commits_that_prove_themselves_are_applied(repo: CatalogueRepository) -> None:
    ingest, writer, artist, _ = _ingest(repo, Keys(DEFAULT_SIGNER.did_key))
    did = artist.did
    named, _ = block(track("What the tree names"))
    _, sent = block(track("Sent instead"))
    valid = event(did, [("create", f"{TRACK}/3aaa", track("Valid"))])
    forged_rev = rev()
    batch = [
        valid,
        event(did, [("create", f"{TRACK}/3bbb", track("Forged"))], at=forged_rev, signer=Signer()),
        event(
            did,
            [("create", f"{TRACK}/3ccc", named)],
            tree={f"{TRACK}/3ccc": named},
            blocks=[(named, sent)],
        ),
        event(
            did,
            [("create", f"{TRACK}/3ddd", track("Not in the tree"))],
            tree={f"{TRACK}/3ddd": block(track("In the tree"))[0]},
        ),
        event(did, [("delete", f"{TRACK}/3aaa", None)], tree={f"{TRACK}/3aaa": block(track("Valid"))[0]}),
    ]
    report = ingest.apply(batch)
    assert _titles(writer, did) == ["Valid"]
    counts = report.counts
    assert (counts["verified_commits"], counts["unverified_commits"]) == (1, 4)
    assert counts["unverified_bad_signature"] == 1 and counts["unverified_bad_record_block"] == 1
    assert counts["unverified_bad_mst_path"] == 2 and counts["applied"] == 1
    # A refused commit does not move the repository's rev: the genuine commit of that rev applies.
    assert FirehoseState.on(writer).repos.repo_state(did)["rev"] == batch[0].rev
    genuine = ingest.apply([event(did, [("create", f"{TRACK}/3bbb", track("Genuine"))], at=forged_rev)])
    assert genuine.counts["verified_commits"] == 1 and _titles(writer, did) == ["Genuine", "Valid"]


def test_a_commit_signed_with_a_rotated_key_is_applied_after_one_fresh_read(repo: CatalogueRepository) -> None:
    rotated = Signer()
    keys = Keys(DEFAULT_SIGNER.did_key, fresh=rotated.did_key)
    ingest, writer, artist, verifier = _ingest(repo, keys)
    report = ingest.apply([event(artist.did, [("create", f"{TRACK}/3aaa", track("After rotation"))], signer=rotated)])
    assert report.counts["verified_commits"] == 1 and _titles(writer, artist.did) == ["After rotation"]
    assert keys.calls == [False, True] and verifier.rereads == 1


def test_filtered_and_replayed_events_are_never_verified(repo: CatalogueRepository) -> None:
    keys = Keys(DEFAULT_SIGNER.did_key)
    ingest, writer, artist, verifier = _ingest(repo, keys)
    valid = event(artist.did, [("create", f"{TRACK}/3aaa", track("Once"))])
    other = signed_commit_body(next(_n), artist.did, rev(), [("create", "app.bsky.feed.post/3abc", {"text": "x"})])
    filtered = decode_message(MessageFrame(MessageFrameHeader(t="#commit"), other))
    assert filtered == Skipped("filtered", other["seq"])
    ingest.apply([valid, filtered])
    assert verifier.checked == 1
    replayed = ingest.apply([valid, filtered])  # a reconnect replays them
    assert replayed.counts["skipped_replayed"] == 1 and verifier.checked == 1 and len(keys.calls) == 1
    assert _titles(writer, artist.did) == ["Once"]


# ---- against the local PDS and its PLC directory -------------------------------------------------


def _run(relay: ScriptedRelay, last: int) -> Any:
    source = ConsumerConfig(relay_url=relay.url).source_id
    running = Running(relay.url)
    try:
        eventually(lambda: (FirehoseState.on().leases.read_lease(source) or {}).get("cursor") == last)
        running.settle()  # longer than the checkpoint's interval: a batch in flight shows
    finally:
        report = running.stop()
        relay.stop()
    return report


def _path_cid(created: tuple[str, str]) -> tuple[str, str]:
    uri, cid = created
    return "/".join(uri.split("/")[-2:]), cid


def test_a_relay_forging_commits_changes_nothing_and_a_key_rotation_is_followed(pds_env: LocalPds) -> None:
    kit, owned = relayed_account(pds_env, "kit")
    genuine = _path_cid(kit.track("Genuine"))
    forged_record = {**track("Forged"), "artist": kit.handle}
    forged_cid = block(forged_record)[0]
    evil = Signer()
    frames = [
        commit(700, kit.did, rev(), [("create", genuine[0], genuine[1], {**track("Genuine"), "artist": kit.handle})]),
        commit(701, kit.did, rev(), [("create", f"{TRACK}/3forged22222", _cid_text(forged_cid), forged_record)], evil),
        other_commit(702),
    ]
    report = _run(ScriptedRelay(lambda cursor, n: frames), 702)
    assert report.status == "ok"
    assert report.counts["unverified_bad_signature"] == 1 and report.counts["verified_commits"] >= 1
    assert _titles(CatalogueWriter(), kit.did) == ["Genuine"]

    # The account rotates its key (a PLC update); the consumer holds the old one in its cache.
    rotated = Signer()
    owned.sign_with(rotated.did_key)
    after = _path_cid(kit.track("After rotation"))
    frames = [
        commit(
            800,
            kit.did,
            rev(),
            [("create", after[0], after[1], {**track("After rotation"), "artist": kit.handle})],
            rotated,
        ),
        commit(
            801,
            kit.did,
            rev(),
            [("create", f"{TRACK}/3oldkey22222", _cid_text(forged_cid), forged_record)],
            DEFAULT_SIGNER,  # the key it no longer has
        ),
        other_commit(802),
    ]
    report = _run(ScriptedRelay(lambda cursor, n: frames), 802)
    assert report.counts["verified_commits"] >= 1 and report.counts["unverified_bad_signature"] == 1
    assert _titles(CatalogueWriter(), kit.did) == ["After rotation", "Genuine"]


def test_the_local_pds_real_commits_verify_and_apply(pds_env: LocalPds) -> None:
    """The PDS's own stream: creates, an update, a like and deletes (MST absence proofs), signed
    by the PDS with the account's key: every one verified, none refused."""
    ivy, jo = Client(pds_env, handle("ivy")), Client(pds_env, handle("jo"))
    running = Running(pds_env.pds_url.replace("http://", "ws://"))
    try:
        one, two = ivy.track("One"), ivy.track("Two")
        ivy.session.put_record(TRACK, one[0].rsplit("/", 1)[1], {**track("One (edit)"), "artist": ivy.handle}, None)
        like = jo.like(two)
        jo.delete(like)
        ivy.delete(two[0])  # last in the stream
        eventually(lambda: _titles(CatalogueWriter(), ivy.did) == ["One (edit)"])
        # The checkpoint still for longer than its interval (1 s) and nothing queued: every
        # commit received is verified (a batch is verified whole before any of it is applied).
        running.settle()
    finally:
        report = running.stop()
    counts = report.counts
    assert counts["unverified_commits"] == 0, dict(counts)
    assert counts["verified_commits"] >= 6


def _cid_text(cid: bytes) -> str:
    from albums_core.adapters.atproto.repo_proofs import link

    return link(cid)


@pytest.fixture(autouse=True)
def _fresh_identities() -> Any:
    from albums_core.adapters.atproto import identity

    identity.clear_cache()
    yield
    identity.clear_cache()

"""Commits checked before they are applied (adapters/atproto/commit_verify.py, repo_proofs.py): the
signature against the repository's key (read again once on a mismatch: a rotation), each record
block against its CID, the MST path from the signed root to each op. Frames built by
tests/support/firehose_frames.py (a real MST, signed commits); the key lookup injected."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from atproto_subscription.frames import MessageFrame, MessageFrameHeader

from albums_core.adapters.atproto import identity, repo_proofs, syntax
from albums_core.adapters.atproto.commit_verify import CommitVerifier
from albums_core.adapters.atproto.firehose import decode_message
from albums_core.domain.firehose_events import TRACK, Commit
from tests.support.firehose_frames import DEFAULT_SIGNER, Op, Signer, block, mst, signed_commit_body

DID = "did:plc:abcdefghijklmnopqrstuvwx"
REV = "3n3mo53iplk2x"


def track(title: str) -> dict[str, Any]:
    return {"$type": TRACK, "title": title, "artist": "A", "fileType": "mp3"}


class Keys:
    """The identity lookup: `key` is what the container holds, `fresh` what the directory says now."""

    def __init__(self, key: str, fresh: str | None = None) -> None:
        self.key, self.fresh = key, fresh or key
        self.calls: list[tuple[str, bool]] = []

    def __call__(self, did: str, fresh: bool = False) -> str | None:
        self.calls.append((did, fresh))
        return self.fresh if fresh else self.key


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def event(ops: list[Op], **options: Any) -> Commit:
    """A decoded #commit (tests/support/firehose_frames.signed_commit_body; 200 other records
    in the tree unless told otherwise)."""
    options.setdefault("others", 200)
    decoded = decode_message(
        MessageFrame(MessageFrameHeader(t="#commit"), signed_commit_body(7, DID, REV, ops, **options))
    )
    assert isinstance(decoded, Commit)
    return decoded


OPS: list[Op] = [
    ("create", f"{TRACK}/3aaa", track("One")),
    ("update", f"{TRACK}/3bbb", track("Two")),
    ("delete", f"{TRACK}/3ccc", None),
]


def test_a_valid_commit_is_verified_with_the_held_key_only() -> None:
    keys = Keys(DEFAULT_SIGNER.did_key)
    verifier = CommitVerifier(keys)
    assert verifier.check(event(OPS)) is None
    assert keys.calls == [(DID, False)] and verifier.rereads == 0 and verifier.checked == 1


def test_a_forged_signature_is_refused_after_one_fresh_read_and_not_read_again_at_once() -> None:
    keys, clock = Keys(DEFAULT_SIGNER.did_key), Clock()
    verifier = CommitVerifier(keys, clock=clock)
    forged = event(OPS, signer=Signer())
    refusal = verifier.check(forged)
    assert refusal is not None and refusal.reason == "bad_signature"
    assert keys.calls == [(DID, False), (DID, True)]
    # Forged commits in a row do not make us read the document each time...
    clock.now += 30
    assert verifier.check(forged) is not None and keys.calls[2:] == [(DID, False)]
    # ...but a minute later a mismatch is worth a fresh read again.
    clock.now += 31
    assert verifier.check(forged) is not None and keys.calls[3:] == [(DID, False), (DID, True)]


def test_a_rotated_key_is_read_again_once_and_the_commit_applies() -> None:
    rotated = Signer()
    keys = Keys(DEFAULT_SIGNER.did_key, fresh=rotated.did_key)
    verifier = CommitVerifier(keys)
    assert verifier.check(event(OPS, signer=rotated)) is None
    assert keys.calls == [(DID, False), (DID, True)] and verifier.rereads == 1


def test_a_record_block_whose_bytes_are_not_its_cid_is_refused() -> None:
    named, _ = block(track("What the tree says"))
    _, other = block(track("What the relay sends"))
    commit = event(
        [("create", f"{TRACK}/3aaa", named)],
        tree={f"{TRACK}/3aaa": named},
        blocks=[(named, other)],
    )
    assert commit.ops[0].value == track("What the relay sends")  # decoded, but not to be applied
    refusal = CommitVerifier(Keys(DEFAULT_SIGNER.did_key)).check(commit)
    assert refusal is not None and refusal.reason == "bad_record_block"


@pytest.mark.parametrize(
    ("ops", "tree_of"),
    [
        # The signed tree holds another record at the op's path.
        ([("create", f"{TRACK}/3aaa", track("Sent"))], lambda: {f"{TRACK}/3aaa": block(track("Signed"))[0]}),
        # The signed tree holds nothing at the op's path.
        ([("create", f"{TRACK}/3aaa", track("Sent"))], lambda: {f"{TRACK}/3zzz": block(track("Other"))[0]}),
        # A delete of a record the signed tree still holds.
        ([("delete", f"{TRACK}/3aaa", None)], lambda: {f"{TRACK}/3aaa": block(track("Still here"))[0]}),
    ],
    ids=["other-cid", "absent", "delete-still-held"],
)
def test_an_op_the_signed_tree_does_not_hold_is_refused(ops: Any, tree_of: Any) -> None:
    refusal = CommitVerifier(Keys(DEFAULT_SIGNER.did_key)).check(event(ops, tree=tree_of()))
    assert refusal is not None and refusal.reason == "bad_mst_path"


def test_a_tree_node_missing_from_the_event_is_refused() -> None:
    commit = event(OPS)
    assert commit.blocks is not None
    # The root's node left out: the path to every op is unproven.
    signed, _, _ = repo_proofs.signed_commit(commit.blocks, str(commit.commit_cid))
    root = repo_proofs.link(signed["data"])
    missing = replace(commit, blocks={cid: data for cid, data in commit.blocks.items() if cid != root})
    refusal = CommitVerifier(Keys(DEFAULT_SIGNER.did_key)).check(missing)
    assert refusal is not None and refusal.reason == "bad_mst_path" and "not in the event's blocks" in refusal.detail


def test_an_event_whose_envelope_disagrees_with_the_signed_commit_is_refused() -> None:
    commit = event(OPS)
    verifier = CommitVerifier(Keys(DEFAULT_SIGNER.did_key))
    # An old signed commit replayed under a newer rev, or under another repository.
    for changed in (replace(commit, rev="3n3mo53iplk3a"), replace(commit, repo="did:plc:zzzzzzzzzzzzzzzzzzzzzzzz")):
        refusal = verifier.check(changed)
        assert refusal is not None and refusal.reason == "bad_commit"
    assert commit.blocks is not None
    tampered = {**commit.blocks, str(commit.commit_cid): commit.blocks[str(commit.commit_cid)] + b"\x00"}
    refusal = verifier.check(replace(commit, blocks=tampered))
    assert refusal is not None and refusal.reason == "bad_commit"
    refusal = verifier.check(replace(commit, blocks={}))
    assert refusal is not None and refusal.reason == "bad_commit"
    refusal = verifier.check(replace(commit, blocks=None, commit_cid=None))
    assert refusal is not None and refusal.reason == "no_commit"


def test_an_identity_that_does_not_resolve_or_cannot_be_read_is_no_verification() -> None:
    def unknown(did: str, fresh: bool = False) -> str:
        raise identity.UnknownIdentity(did)

    def down(did: str, fresh: bool = False) -> str:
        raise identity.IdentityUnavailable("PLC directory down")

    refusal = CommitVerifier(unknown).check(event(OPS))
    assert refusal is not None and refusal.reason == "unknown_identity"
    refusal = CommitVerifier(down).check(event(OPS))
    assert refusal is not None and refusal.reason == "identity_unavailable"
    # A document that did not come is not asked for at every commit (each ask may cost a timeout).
    asked: list[bool] = []

    def slow_host(did: str, fresh: bool = False) -> str:
        asked.append(fresh)
        raise identity.IdentityUnavailable("did:web host did not answer")

    clock = Clock()
    verifier = CommitVerifier(slow_host, clock=clock)
    for _ in range(5):
        refusal = verifier.check(event(OPS))
        assert refusal is not None and refusal.reason == "identity_unavailable"
    assert asked == [False]
    clock.now += 61
    assert verifier.check(event(OPS)) is not None and asked == [False, False]
    refusal = CommitVerifier(lambda did, fresh=False: None).check(event(OPS))
    assert refusal is not None and refusal.reason == "bad_signature"  # a document without a key


def test_the_tree_walk_finds_every_key_and_no_other() -> None:
    """Against trees of several levels: every key held is found with its CID, keys between,
    before and after them are absent."""
    cids = [block({"n": i})[0] for i in range(3)]
    records = {f"{TRACK}/3k{i * 2:011d}": cids[i % 3] for i in range(600)}
    root, nodes = mst(records)
    blocks = {repo_proofs.cid_of(data): data for _, data in nodes}
    held = {}
    for path in [*records, f"{TRACK}/3k{1:011d}", f"{TRACK}/3k{999:011d}", "a/before", "z/after"]:
        held[path] = repo_proofs.mst_lookup(blocks, repo_proofs.link(root), path, {})
    for path, cid in records.items():
        assert held[path] == repo_proofs.link(cid)
    assert [held[p] for p in (f"{TRACK}/3k{1:011d}", f"{TRACK}/3k{999:011d}", "a/before", "z/after")] == [None] * 4


def test_the_signing_key_is_read_from_the_did_document_as_the_sdk_reads_it() -> None:
    signer = Signer()
    assert syntax.signing_key(signer.document(DID)) == signer.did_key
    assert syntax.signing_key({**signer.document(DID), "verificationMethod": []}) is None

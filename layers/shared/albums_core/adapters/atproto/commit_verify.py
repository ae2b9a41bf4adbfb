"""A relay's `#commit` checked before it is applied: the relay is anyone's, the repository's own
signing key is the authority. A commit is applied only when
- its commit block hashes to the event's commit CID, names the event's repository and rev, and
  is signed by the key the repository's DID document holds now (`atproto_crypto`);
- for each op of ours, the MST under the signed data root leads to the op's record CID (a
  delete: to no record at that key), and a record block sent hashes to that CID.

The key comes from the identity cache; a signature that does not match it has the document read
once more (a key rotation since it was cached), at most once a minute per DID, so forged commits
cannot make us hammer the PLC directory; a DID whose document cannot be read is not asked for
again for a minute (its commits are refused meanwhile)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from albums_core.adapters.atproto import identity, repo_proofs, xrpc
from albums_core.domain.firehose_events import Commit, Refusal

# Between two forced reads of one DID's document (a mismatching signature).
_REREAD_SECONDS = 60.0
_REREADS_HELD = 10_000
# A DID whose document could not be read: its commits are refused without asking again for this long.
_UNRESOLVED_SECONDS = 60.0


def _signed_by(did_key: str | None, data: bytes, sig: bytes) -> bool:
    if did_key is None:
        return False
    from atproto_crypto.verify import verify_signature  # cryptography: loaded by the consumer only

    try:
        return bool(verify_signature(did_key, data, sig))
    except Exception:  # noqa: BLE001 - a key of a type we cannot use, a signature of no shape
        return False


class CommitVerifier:
    """`check(commit)` is None for a commit that proves itself, else the Refusal. Counts what it
    did (`checked`, `rereads`, `seconds`, of which `key_seconds` getting keys: the benchmark
    reads them)."""

    def __init__(
        self,
        signing_key: Callable[..., str | None] = identity.signing_key,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.signing_key = signing_key
        self.clock = clock
        self.checked = 0
        self.rereads = 0
        self.seconds = 0.0
        self.key_seconds = 0.0
        self._reread_at: dict[str, float] = {}
        self._unresolved: dict[str, tuple[float, Refusal]] = {}
        self._lock = threading.Lock()

    def check(self, commit: Commit) -> Refusal | None:
        began = time.perf_counter()
        try:
            return self._check(commit)
        finally:
            self.checked += 1
            self.seconds += time.perf_counter() - began

    def _check(self, commit: Commit) -> Refusal | None:
        blocks = commit.blocks
        if blocks is None or commit.commit_cid is None:
            return Refusal("no_commit", "the event carries no commit block")
        try:
            signed, unsigned, sig = repo_proofs.signed_commit(blocks, commit.commit_cid)
            if signed.get("did") != commit.repo or signed.get("rev") != commit.rev or signed.get("version") != 3:
                return Refusal("bad_commit", "the signed commit names another repository, rev or version")
            root = repo_proofs.link(signed.get("data"))
        except repo_proofs.Unproven as exc:
            return Refusal("bad_commit", str(exc))
        nodes: dict[str, repo_proofs.MstNode] = {}
        for op in commit.ops:
            key = f"{op.collection}/{op.rkey}"
            try:
                held = repo_proofs.mst_lookup(blocks, root, key, nodes)
            except repo_proofs.Unproven as exc:
                return Refusal("bad_mst_path", f"{key}: {exc}")
            expected = None if op.action == "delete" else op.cid
            if held != expected:
                return Refusal("bad_mst_path", f"{key}: the signed tree holds {held}, the op names {expected}")
            # A block left out is no claim (the record is read from the PDS); one sent must be it.
            if expected is not None and expected in blocks:
                try:
                    repo_proofs.sound_block(blocks, expected, "record block")
                except repo_proofs.Unproven as exc:
                    return Refusal("bad_record_block", f"{key}: {exc}")
        return self._signature(commit.repo, unsigned, sig)

    def _key(self, did: str, fresh: bool = False) -> str | None:
        began = time.perf_counter()
        try:
            return self.signing_key(did, fresh=fresh)
        finally:
            self.key_seconds += time.perf_counter() - began

    def _signature(self, did: str, unsigned: bytes, sig: bytes) -> Refusal | None:
        failed = self._unresolved.get(did)
        if failed is not None and self.clock() - failed[0] < _UNRESOLVED_SECONDS:
            return failed[1]
        refusal = self._signed(did, unsigned, sig)
        if refusal is not None and refusal.reason in ("unknown_identity", "identity_unavailable"):
            # A DID document that did not come (a did:web host that never answers) is not asked
            # for again at every commit: each ask may cost the whole fetch timeout.
            with self._lock:
                if len(self._unresolved) >= _REREADS_HELD:
                    self._unresolved.clear()
                self._unresolved[did] = (self.clock(), refusal)
        return refusal

    def _signed(self, did: str, unsigned: bytes, sig: bytes) -> Refusal | None:
        try:
            key = self._key(did)
            if _signed_by(key, unsigned, sig):
                return None
            if not self._may_reread(did):
                return Refusal("bad_signature", "not signed by the repository's key (read again lately)")
            self.rereads += 1
            fresh = self._key(did, fresh=True)
        except identity.UnknownIdentity:
            return Refusal("unknown_identity", "the repository's DID does not resolve")
        except (xrpc.PdsUnavailable, xrpc.XrpcError) as exc:
            return Refusal("identity_unavailable", f"the DID document could not be read: {exc}")
        if fresh != key and _signed_by(fresh, unsigned, sig):
            return None
        return Refusal("bad_signature", "not signed by the repository's key")

    def _may_reread(self, did: str) -> bool:
        now = self.clock()
        with self._lock:
            last = self._reread_at.get(did)
            if last is not None and now - last < _REREAD_SECONDS:
                return False
            if len(self._reread_at) >= _REREADS_HELD:
                self._reread_at.clear()
            self._reread_at[did] = now
        return True

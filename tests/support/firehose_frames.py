"""The bodies of `#commit` messages as a relay sends them (DAG-CBOR, the records in a CAR), for
the relays the integration tests script and for the decoder's unit tests. Pure: no sockets."""

from __future__ import annotations

import hashlib
from typing import Any

import libipld
from atproto_crypto.consts import SECP256K1_CURVE_ORDER, SECP256K1_JWT_ALG
from atproto_crypto.did import format_multikey
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

TIME = "2026-12-01T16:29:00.485Z"


def uvarint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def cid_bytes(cid: str) -> bytes:
    """The binary form of a CIDv1 (dag-cbor, sha2-256) given as a string, as a frame carries it."""
    parts = libipld.decode_cid(cid)
    digest = parts["hash"]["digest"]
    return b"\x01" + uvarint(parts["codec"]) + uvarint(parts["hash"]["code"]) + uvarint(len(digest)) + digest


def block(value: dict[str, Any]) -> tuple[bytes, bytes]:
    """A DAG-CBOR block and its binary CIDv1 (dag-cbor, sha2-256)."""
    data = bytes(libipld.encode_dag_cbor(value))
    return b"\x01\x71\x12\x20" + hashlib.sha256(data).digest(), data


def car(blocks: list[tuple[bytes, bytes]], root: bytes) -> bytes:
    # The header by hand: {"roots": [CID link], "version": 1} in DAG-CBOR (tag 42, 0x00 prefix).
    link = b"\x00" + root
    header = b"\xa2\x65roots\x81\xd8\x2a\x58" + bytes([len(link)]) + link + b"\x67version\x01"
    out = uvarint(len(header)) + header
    for cid, data in blocks:
        out += uvarint(len(cid) + len(data)) + cid + data
    return out


class Signer:
    """A repository signing key (secp256k1), as a PDS holds one: its `did:key` goes in the DID
    document, its signatures (low-S, r || s) on the commits."""

    def __init__(self) -> None:
        self._key = ec.generate_private_key(ec.SECP256K1())
        point = self._key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
        self.multikey = format_multikey(SECP256K1_JWT_ALG, point)
        self.did_key = f"did:key:{self.multikey}"

    def sign(self, data: bytes) -> bytes:
        r, s = decode_dss_signature(self._key.sign(data, ec.ECDSA(hashes.SHA256())))
        s = min(s, SECP256K1_CURVE_ORDER - s)
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    def document(self, did: str, pds_url: str = "https://pds.example.com", handle: str | None = None) -> dict[str, Any]:
        """A DID document naming this key as the repository's."""
        return {
            "@context": ["https://www.w3.org/ns/did/v1"],
            "id": did,
            "alsoKnownAs": [f"at://{handle}"] if handle else [],
            "verificationMethod": [
                {"id": f"{did}#atproto", "type": "Multikey", "controller": did, "publicKeyMultibase": self.multikey}
            ],
            "service": [{"id": "#atproto_pds", "type": "AtprotoPersonalDataServer", "serviceEndpoint": pds_url}],
        }


# Commits of the tests' relays are signed with this key unless told otherwise.
DEFAULT_SIGNER = Signer()


def _height(key: bytes) -> int:
    """A key's MST layer: leading zero bits of its sha2-256, counted in pairs."""
    zeros = 0
    for byte in hashlib.sha256(key).digest():
        if byte:
            zeros += 8 - byte.bit_length()
            break
        zeros += 8
    return zeros // 2


def _node(items: list[tuple[bytes, bytes]], layer: int, out: list[tuple[bytes, bytes]]) -> bytes:
    """The MST node at `layer` over `items` (sorted (key, CID)), its subtrees appended to `out`."""
    here = [i for i, (key, _) in enumerate(items) if _height(key) == layer]

    def below(part: list[tuple[bytes, bytes]]) -> bytes | None:
        return _node(part, layer - 1, out) if part else None

    entries = []
    previous = b""
    for n, i in enumerate(here):
        key, cid = items[i]
        shared = next(
            (n for n, (a, b) in enumerate(zip(previous, key, strict=False)) if a != b), min(len(previous), len(key))
        )
        end = here[n + 1] if n + 1 < len(here) else len(items)
        entries.append({"k": key[shared:], "p": shared, "t": below(items[i + 1 : end]), "v": cid})
        previous = key
    node_cid, data = block({"e": entries, "l": below(items[: here[0]] if here else items)})
    out.append((node_cid, data))
    return node_cid


def mst(records: dict[str, bytes]) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    """The Merkle search tree of a repository holding `records` (path -> binary record CID): its
    root CID and every node's block."""
    items = sorted((path.encode(), cid) for path, cid in records.items())
    out: list[tuple[bytes, bytes]] = []
    top = max((_height(key) for key, _ in items), default=0)
    return _node(items, top, out), out


def commit_body(
    seq: int,
    repo: str,
    rev: str,
    ops: list[dict[str, Any]],
    blocks: list[tuple[bytes, bytes]],
    signer: Signer | None = DEFAULT_SIGNER,
    tree: dict[str, bytes] | None = None,
) -> dict[str, Any]:
    """A `#commit` body: `ops` as the relay lists them, `blocks` the records its CAR carries
    (after the commit block and the repository's MST). The MST holds `tree` (path -> binary
    CID; by default what the ops create or update), the commit is signed by `signer`."""
    if tree is None:
        tree = {op["path"]: op["cid"] for op in ops if op["action"] != "delete" and op.get("cid")}
    root, nodes = mst(tree)
    unsigned = {"did": repo, "rev": rev, "version": 3, "data": root, "prev": None}
    signed = {**unsigned, "sig": (signer or Signer()).sign(bytes(libipld.encode_dag_cbor(unsigned)))}
    commit_cid, commit_data = block(signed)
    return {
        "seq": seq,
        "repo": repo,
        "rev": rev,
        "since": None,
        "time": TIME,
        "ops": ops,
        "blocks": car([(commit_cid, commit_data), *nodes, *blocks], commit_cid),
        "commit": commit_cid,
        "blobs": [],
        "rebase": False,
        "tooBig": False,
    }


Op = tuple[str, str, dict[str, Any] | bytes | None]


def signed_commit_body(
    seq: int,
    repo: str,
    rev: str,
    ops: list[Op],
    *,
    signer: Signer = DEFAULT_SIGNER,
    others: int = 0,
    tree: dict[str, bytes] | None = None,
    blocks: list[tuple[bytes, bytes]] | None = None,
) -> dict[str, Any]:
    """A #commit body of `ops` (action, path, the record, or only its binary CID: no block) in a
    repository whose MST also holds `others` records of another collection (a tree of several
    levels), or exactly `tree`; `blocks` replaces the records' blocks."""
    raw_ops, record_blocks = [], []
    for action, path, record in ops:
        cid = record if isinstance(record, bytes) else None
        if isinstance(record, dict):
            cid, data = block(record)
            record_blocks.append((cid, data))
        raw_ops.append({"action": action, "path": path, "cid": cid})
    if tree is None:
        filler = block({"$type": "app.bsky.feed.post", "text": "x"})[0]
        tree = {f"app.bsky.feed.post/3k{i:011d}": filler for i in range(others)}
        tree |= {op["path"]: op["cid"] for op in raw_ops if op["action"] != "delete" and op["cid"]}
    return commit_body(seq, repo, rev, raw_ops, record_blocks if blocks is None else blocks, signer=signer, tree=tree)

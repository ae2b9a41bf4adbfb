"""What a `#commit` event proves about a repository, checked from its bytes (no network): the
CAR's blocks as they were sent (the SDK's CAR decoding hands back decoded values and never checks
a block against its CID), each block's bytes against its CID, the signed commit object, and the
repository's Merkle search tree (MST) from the commit's data root down to a record key.

The MST (atproto.com/specs/repository): a node is `{l: link | null, e: [entry]}`, an entry
`{p: shared prefix length with the previous key of the node, k: the rest of the key, v: the
record's CID, t: link | null}`; keys are sorted within a node, `l` holds the keys before the
first entry and an entry's `t` the keys between it and the next. A walk from the root that
compares keys reaches the one place a key can be: its CID there, or a null link (absent).
libipld (the SDK's codec) decodes links as their binary CID, as it does bytes."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import libipld

# CIDv1, multicodec dag-cbor (0x71), multihash sha2-256 (0x12) of 32 bytes (0x20): what every
# block of a repository (commit, MST node, record) is named by.
_DAG_CBOR_SHA256 = b"\x01\x71\x12\x20"
# An MST's height is the number of leading zero bit pairs of a key's hash: a tree of any
# realistic size is a handful of levels, 128 is the most a sha2-256 allows.
_MAX_DEPTH = 128


class Unproven(ValueError):
    """The event does not prove what it claims (a block missing, a hash or a path wrong)."""


def _uvarint(data: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if at >= len(data) or shift > 63:
            raise ValueError("truncated varint")
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, at
        shift += 7


def _cid_end(data: bytes, at: int) -> int:
    """Where the binary CID starting at `at` ends."""
    if data[at : at + 2] == b"\x12\x20":  # CIDv0: a bare sha2-256 multihash
        return at + 34
    version, pos = _uvarint(data, at)
    if version != 1:
        raise ValueError(f"CID version {version}")
    _, pos = _uvarint(data, pos)  # codec
    _, pos = _uvarint(data, pos)  # multihash function
    length, pos = _uvarint(data, pos)
    if pos + length > len(data):
        raise ValueError("truncated CID")
    return pos + length


def car_blocks(data: bytes) -> dict[str, bytes]:
    """A CAR file's blocks as sent: their bytes by CID (text form). ValueError when it is not a CAR."""
    length, at = _uvarint(data, 0)
    if at + length > len(data):
        raise ValueError("truncated CAR header")
    header = libipld.decode_dag_cbor(data[at : at + length])
    if not isinstance(header, dict) or header.get("version") != 1:
        raise ValueError("not a CARv1 header")
    at += length
    blocks: dict[str, bytes] = {}
    while at < len(data):
        length, at = _uvarint(data, at)
        end = at + length
        if end > len(data) or length == 0:
            raise ValueError("truncated CAR block")
        cid_end = _cid_end(data, at)
        if cid_end > end:
            raise ValueError("CAR block shorter than its CID")
        blocks[libipld.encode_cid(data[at:cid_end])] = data[cid_end:end]
        at = end
    return blocks


def cid_of(data: bytes) -> str:
    """The CID (text form) a repository block of these bytes has."""
    return str(libipld.encode_cid(_DAG_CBOR_SHA256 + hashlib.sha256(data).digest()))


def link(value: Any) -> str:
    """A link's CID in text form (libipld decodes a link as the binary CID)."""
    if not isinstance(value, bytes):
        raise Unproven("a link that is not a CID")
    try:
        return str(libipld.encode_cid(value))
    except ValueError as exc:
        raise Unproven("a link that is not a CID") from exc


def sound_block(blocks: Mapping[str, bytes], cid: str, what: str) -> bytes:
    """The bytes of block `cid`, when they are there and hash to it."""
    data = blocks.get(cid)
    if data is None:
        raise Unproven(f"{what} {cid} is not in the event's blocks")
    if cid_of(data) != cid:
        raise Unproven(f"{what} {cid}: its bytes hash to another CID")
    return data


def signed_commit(blocks: Mapping[str, bytes], cid: str) -> tuple[dict[str, Any], bytes, bytes]:
    """The commit object of block `cid`, the bytes its signature covers (the object without `sig`,
    DAG-CBOR) and the signature."""
    try:
        commit = libipld.decode_dag_cbor(sound_block(blocks, cid, "commit block"))
    except ValueError as exc:
        if isinstance(exc, Unproven):
            raise
        raise Unproven("the commit block is not DAG-CBOR") from exc
    if not isinstance(commit, dict) or not isinstance(commit.get("sig"), bytes):
        raise Unproven("the commit block is not a signed commit")
    unsigned = {key: value for key, value in commit.items() if key != "sig"}
    return commit, bytes(libipld.encode_dag_cbor(unsigned)), commit["sig"]


MstNode = tuple[str | None, list[dict[str, Any]]]


def _node(blocks: Mapping[str, bytes], cid: str) -> MstNode:
    try:
        node = libipld.decode_dag_cbor(sound_block(blocks, cid, "MST node"))
    except ValueError as exc:
        if isinstance(exc, Unproven):
            raise
        raise Unproven(f"MST node {cid} is not DAG-CBOR") from exc
    if not isinstance(node, dict) or not isinstance(node.get("e"), list):
        raise Unproven(f"MST node {cid} is not a node")
    left = node.get("l")
    entries = node["e"]
    for entry in entries:
        if not (isinstance(entry, dict) and isinstance(entry.get("p"), int) and isinstance(entry.get("k"), bytes)):
            raise Unproven(f"MST node {cid} has a malformed entry")
    return (None if left is None else link(left)), entries


def mst_lookup(blocks: Mapping[str, bytes], root: str, key: str, nodes: dict[str, MstNode] | None = None) -> str | None:
    """The record CID the tree under `root` holds at `key` (`<collection>/<rkey>`), None when it
    holds none. Every node on the way must be among `blocks` and hash to its link: Unproven
    otherwise. `nodes` keeps the nodes checked, for the next key of the same commit."""
    checked = {} if nodes is None else nodes
    wanted = key.encode()
    cid: str | None = root
    for _ in range(_MAX_DEPTH):
        assert cid is not None
        if cid not in checked:
            checked[cid] = _node(blocks, cid)
        down, entries = checked[cid]
        previous = b""
        for index, entry in enumerate(entries):
            shared = entry["p"]
            if shared > len(previous) or (index == 0 and shared != 0):
                raise Unproven(f"MST node {cid}: a key prefix longer than the previous key")
            full = previous[:shared] + entry["k"]
            if index and full <= previous:
                raise Unproven(f"MST node {cid}: keys out of order")
            if full == wanted:
                return link(entry.get("v"))
            if full > wanted:
                break
            tree = entry.get("t")
            down = None if tree is None else link(tree)
            previous = full
        if down is None:
            return None
        cid = down
    raise Unproven("MST deeper than a tree can be")

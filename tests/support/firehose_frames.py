"""The bodies of `#commit` messages as a relay sends them (DAG-CBOR, the records in a CAR), for
the relays the integration tests script and for the decoder's unit tests. Pure: no sockets."""

from __future__ import annotations

import hashlib
from typing import Any

import libipld

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


def commit_body(
    seq: int, repo: str, rev: str, ops: list[dict[str, Any]], blocks: list[tuple[bytes, bytes]]
) -> dict[str, Any]:
    """A `#commit` body: `ops` as the relay lists them, `blocks` the records its CAR carries
    (after the commit block)."""
    commit_cid, commit_data = block({"did": repo, "rev": rev, "version": 3})
    return {
        "seq": seq,
        "repo": repo,
        "rev": rev,
        "since": None,
        "time": TIME,
        "ops": ops,
        "blocks": car([(commit_cid, commit_data), *blocks], commit_cid),
        "commit": commit_cid,
        "blobs": [],
        "rebase": False,
        "tooBig": False,
    }

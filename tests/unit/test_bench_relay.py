"""Section 9's relay (bench/network.py): frames encoded once before the run, each sent with its
own seq and the time it is sent written into it, still valid DAG-CBOR that decodes to them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import libipld
from bench.network import SEQ_BASE, _others, _play, template


class Socket:
    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def send(self, data: bytes) -> None:
        self.sent.append(data)


def _decode(data: bytes) -> tuple[dict[str, Any], dict[str, Any]]:
    header, body = libipld.decode_dag_cbor_multi(data)
    return header, body


def test_prebuilt_frames_carry_their_seq_and_send_time() -> None:
    others = [template(body) for body in _others(3)]
    ours = [template({**body, "repo": f"did:plc:ours{n}"}) for n, body in enumerate(_others(2))]
    socket = Socket()
    stats = _play(socket, others, ours, (4, 24, 10))
    assert stats["sent"] == 24 == len(socket.sent)
    decoded = [_decode(data) for data in socket.sent]
    assert all(header == {"op": 1, "t": "#commit"} for header, _ in decoded)
    assert [body["seq"] for _, body in decoded] == list(range(SEQ_BASE + 1, SEQ_BASE + 25))
    times = [datetime.fromisoformat(body["time"].replace("Z", "+00:00")) for _, body in decoded]
    assert times == sorted(times)
    # Ours at the middle of each step of the mixed phase, the others' bodies otherwise intact.
    mine = [body["seq"] for _, body in decoded if body["repo"].startswith("did:plc:ours")]
    assert mine == stats["seqs"] == [SEQ_BASE + 4 + 5 + 1, SEQ_BASE + 4 + 15 + 1]
    assert decoded[0][1]["ops"] == _decode(others[0][0])[1]["ops"]

"""Decoding the firehose's frames with the SDK (adapters/atproto/firehose.py) and the record
checks (domain/firehose_events.py): what a frame becomes, and that nothing in a frame, however
wrong, stops the stream."""

from __future__ import annotations

from typing import Any

import pytest
from atproto_subscription.frames import MessageFrame, MessageFrameHeader

from albums_core.adapters.atproto.firehose import decode_message
from albums_core.domain.firehose_events import (
    LIKE,
    LIST,
    TRACK,
    AccountChange,
    Commit,
    IdentityChange,
    Info,
    RepoResync,
    Skipped,
    newer,
    record_problem,
)
from tests.support.firehose_frames import TIME, block, commit_body

DID = "did:plc:abcdefghijklmnopqrstuvwx"
REV = "3n3mo53iplk2x"


def _frame(kind: str, body: dict[str, Any]) -> MessageFrame:
    return MessageFrame(MessageFrameHeader(t=kind), body)


def commit(ops: list[tuple[str, str, dict[str, Any] | None]], include: bool = True, seq: int = 7) -> MessageFrame:
    """A #commit frame; `ops` are (action, path, record); `include` False leaves the records'
    blocks out of the CAR."""
    raw_ops = []
    blocks = []
    for action, path, record in ops:
        op: dict[str, Any] = {"action": action, "path": path, "cid": None}
        if record is not None:
            cid, data = block(record)
            op["cid"] = cid
            if include:
                blocks.append((cid, data))
        raw_ops.append(op)
    return _frame("#commit", commit_body(seq, DID, REV, raw_ops, blocks))


def _nested(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(levels):
        value = {"in": value}
    return value


FULL_ITEM = {"subject": {"uri": f"at://{DID}/{TRACK}/3abcdefghijkl", "cid": "bafyrei" + "a" * 52}}
TRACK_RECORD = {"$type": TRACK, "title": "Song", "artist": "A", "fileType": "mp3", "createdAt": TIME}


def test_a_commit_of_a_track_is_decoded_with_its_record() -> None:
    event = decode_message(commit([("create", f"{TRACK}/3abc", TRACK_RECORD)]))
    assert isinstance(event, Commit) and (event.seq, event.repo, event.rev) == (7, DID, REV)
    (op,) = event.ops
    assert (op.action, op.collection, op.rkey, op.problem) == ("create", TRACK, "3abc", None)
    assert op.value == TRACK_RECORD and op.cid and op.cid.startswith("bafyrei")
    assert op.uri(DID) == f"at://{DID}/{TRACK}/3abc"


def test_other_collections_are_filtered_before_any_decoding() -> None:
    frame = commit([("create", "app.bsky.feed.post/3abc", {"$type": "app.bsky.feed.post", "text": "hi"})])
    frame.body["blocks"] = b"not a CAR at all"  # never looked at
    assert decode_message(frame) == Skipped("filtered", 7)


def test_only_our_ops_are_kept_and_a_delete_carries_no_record() -> None:
    event = decode_message(
        commit(
            [
                ("create", "app.bsky.feed.like/1", {"$type": "app.bsky.feed.like"}),
                ("delete", f"{LIST}/3xyz", None),
            ]
        )
    )
    assert isinstance(event, Commit)
    assert [(o.action, o.collection, o.value) for o in event.ops] == [("delete", LIST, None)]


def test_a_car_missing_the_record_block_is_flagged_not_fatal() -> None:
    event = decode_message(commit([("create", f"{TRACK}/3abc", TRACK_RECORD)], include=False))
    assert isinstance(event, Commit)
    assert event.ops[0].value is None and event.ops[0].problem == "no record in the commit's blocks"


def test_blocks_that_do_not_decode_mean_reading_the_repository() -> None:
    frame = commit([("create", f"{TRACK}/3abc", TRACK_RECORD)])
    frame.body["blocks"] = b"\xff\x00garbage"
    assert decode_message(frame) == RepoResync(7, DID, TIME, "undecodable blocks")


def test_a_commit_the_models_refuse_still_names_its_repository() -> None:
    frame = commit([("create", f"{TRACK}/3abc", TRACK_RECORD)])
    frame.body["rev"] = 12345  # not a TID
    assert decode_message(frame) == RepoResync(7, DID, TIME, "undecodable commit")


def test_a_frame_without_a_repository_is_skipped_as_undecodable() -> None:
    assert decode_message(_frame("#identity", {"seq": 3, "did": 5})) == Skipped("undecodable", 3)


def test_unknown_message_types_are_skipped() -> None:
    assert decode_message(_frame("#labels", {"seq": 9})) == Skipped("unknown", 9)


def test_identity_account_sync_and_info() -> None:
    assert decode_message(_frame("#identity", {"seq": 1, "did": DID, "time": TIME})) == IdentityChange(
        1, DID, TIME, None
    )
    account = decode_message(
        _frame("#account", {"seq": 2, "did": DID, "time": TIME, "active": False, "status": "deactivated"})
    )
    assert account == AccountChange(2, DID, TIME, False, "deactivated")
    sync = decode_message(_frame("#sync", {"seq": 3, "did": DID, "time": TIME, "rev": REV, "blocks": b""}))
    assert sync == RepoResync(3, DID, TIME, "sync")
    info = decode_message(_frame("#info", {"name": "OutdatedCursor", "message": "too old"}))
    assert info == Info("OutdatedCursor", "too old", None)


@pytest.mark.parametrize(
    ("collection", "value", "problem"),
    [
        (TRACK, TRACK_RECORD, None),
        (TRACK, {**TRACK_RECORD, "title": ""}, "track without a valid title"),
        (TRACK, {k: v for k, v in TRACK_RECORD.items() if k != "title"}, "track without a valid title"),
        (TRACK, {**TRACK_RECORD, "$type": LIST}, "$type disagrees with the collection"),
        (LIST, {"$type": LIST, "listType": "album", "items": []}, None),
        (LIST, {"$type": LIST, "listType": "playlist", "items": []}, "not an album list"),
        (LIST, {"$type": LIST, "listType": "album", "items": [{}] * 501}, "list with more than 500 items"),
        (LIST, {"$type": LIST, "listType": "album"}, "list without items"),
        (LIKE, {"$type": LIKE, "subject": {"uri": f"at://{DID}/{TRACK}/3abc", "cid": "bafy"}}, None),
        (
            LIKE,
            {"$type": LIKE, "subject": {"uri": f"at://{DID}/app.bsky.feed.post/3abc", "cid": "bafy"}},
            "like whose subject is not a strongRef to a track",
        ),
        (
            LIKE,
            {"$type": LIKE, "subject": {"uri": f"at://{DID}/{TRACK}/3abc"}},
            "like whose subject is not a strongRef to a track",
        ),
        (LIKE, {"$type": LIKE, "subject": "at://x"}, "like whose subject is not a strongRef to a track"),
        (TRACK, None, "no record in the commit's blocks"),
        # Records we will not store (issue 18.2): too large, or nested past DynamoDB's 32 levels.
        (TRACK, {**TRACK_RECORD, "supportGate": {"type": "any", "pad": "x" * 450_000}}, "larger than 128 KB"),
        (TRACK, {**TRACK_RECORD, "pad": ["x"] * 200_000}, "larger than 128 KB"),
        (TRACK, {**TRACK_RECORD, "pad": {str(i): i for i in range(40_000)}}, "larger than 128 KB"),
        (TRACK, {**TRACK_RECORD, "pad": b"\x00" * 70_000}, "larger than 128 KB"),
        (TRACK, {**TRACK_RECORD, "pad": _nested(40)}, "nested deeper than 32 levels"),
        (TRACK, {**TRACK_RECORD, "pad": _nested(30)}, None),
        (LIST, {"$type": LIST, "listType": "album", "items": [FULL_ITEM] * 500}, None),
    ],
)
def test_record_checks(collection: str, value: Any, problem: str | None) -> None:
    assert record_problem(collection, value) == problem


def test_revs_order_as_tids() -> None:
    assert newer("3n3mo53iplk2x", None)
    assert newer("3n3mo53iplk2y", "3n3mo53iplk2x")
    assert not newer("3n3mo53iplk2x", "3n3mo53iplk2x")
    assert not newer("3n3mo4zrhz22x", "3n3mo53iplk2x")

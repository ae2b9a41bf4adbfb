import pytest

from albums_core.domain.at_uri import AtUri, list_item_uris, record_url


def test_parse_at_uri() -> None:
    uri = AtUri.parse("at://did:plc:abc123/fm.plyr.list/3kabc")
    assert uri == AtUri("did:plc:abc123", "fm.plyr.list", "3kabc")


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "http://x",
        "at://did:plc:a/fm.plyr.list",
        "at://did:plc:a/fm.plyr.list/a/b",
        "at://alice/fm.plyr.list/x",
        "at://did:plc:a/notnsid/x",
        "at://did:plc:a/fm.plyr.list/..",
        "at://did:plc:a/fm.plyr.list/a b",
    ],
)
def test_malformed_uris(raw: str) -> None:
    assert AtUri.parse(raw) is None


def test_list_item_uris_keeps_order_and_drops_duplicates_and_junk() -> None:
    record = {
        "value": {
            "items": [
                {"subject": {"uri": "at://a/b.c.d/1"}},
                "junk",
                {"subject": {"uri": "at://a/b.c.d/2"}},
                {"subject": {"uri": "at://a/b.c.d/1"}},
                {"subject": {}},
                {"subject": {"uri": 5}},
            ]
        }
    }
    assert list_item_uris(record) == ["at://a/b.c.d/1", "at://a/b.c.d/2"]


@pytest.mark.parametrize("record", [None, {}, {"value": None}, {"value": {"items": "x"}}, []])
def test_list_item_uris_of_malformed_records(record: object) -> None:
    assert list_item_uris(record) == []


def test_record_url() -> None:
    url = record_url("https://pds.example/", "at://did:plc:abc/fm.plyr.track/3k")
    assert url == (
        "https://pds.example/xrpc/com.atproto.repo.getRecord?repo=did%3Aplc%3Aabc&collection=fm.plyr.track&rkey=3k"
    )
    assert record_url(None, "at://did:plc:abc/fm.plyr.track/3k") is None
    assert record_url("https://pds.example", None) is None


def test_a_track_record_is_read_into_our_models_shape_only() -> None:
    # Issue 18.2: anything a record holds beyond the lexicon's shape is dropped, not stored.
    from albums_core.domain.records import support_gate, track_fields

    uri = "at://did:plc:abcdefghijklmnopqrstuvwx/fm.plyr.track/3kabc"
    fields = track_fields(
        uri,
        "bafyreiabc",
        {
            "title": "\u200b\u202e",
            "supportGate": {"type": "supporters", "extra": ["x"] * 100},
            "features": [{"did": "did:plc:a", "handle": "a.test", "displayName": "A\u202e", "x": [1] * 9}] * 20,
            "duration": True,
            "audioBlob": {"ref": {"$link": "x" * 5000}},
        },
    )
    assert fields["title"] == "3kabc"
    assert fields["support_gate"] == {"type": "supporters"}
    assert fields["features"] == [{"did": "did:plc:a", "handle": "a.test", "displayName": "A"}] * 10
    assert fields["duration"] is None and fields["pds_blob_cid"] is None and fields["audio_storage"] is None
    for gate in ({"type": "x" * 65}, {"type": 3}, {"kind": "any"}, "any", {"type": " "}):
        assert support_gate(gate) is None
    assert support_gate({"type": "x" * 64}) == {"type": "x" * 64}

"""ATProto syntax by the SDK's own validators, loaded without the SDK's client (issue 11, item 4);
the read path's light parser never refuses what the SDK accepts."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from albums_core.adapters.atproto import syntax
from albums_core.domain.at_uri import AtUri
from albums_core.domain.handles import normalize_handle

DID = "did:plc:abcdefghijklmnopqrstuvwx"
VALID = [
    f"at://{DID}/fm.plyr.track/3kabcdefghij2",
    "at://did:web:example.com/fm.plyr.track/self",
    f"at://{DID}/fm.plyr.track/a~b:c",
    f"at://{DID}/com.example.fooBar/x",
]
INVALID = [
    f"at://{DID}/fm.plyr.track/..",
    f"at://{DID}/fm.plyr.track/a b",
    f"at://{DID}/fm.plyr/x",
    f"at://{DID}/fm.plyr.1track/x",
    f"at://{DID}/Fm.plyr.track/x",
    "at://did:plc:abc:/fm.plyr.track/x",
    "at://did:plc:ab%/fm.plyr.track/x",
    "at://did:plc:a_b/fm.plyr.track/x",
    "at://alice.test/fm.plyr.track/x",
    f"at://{DID}/fm.plyr.track/x#frag",
    f"at://{DID}/fm.plyr.track/x?q=1",
    f"at://{DID}/fm.plyr.track/" + "a" * 513,
    f"at://{DID}/fm.plyr.track/x/y",
    f"at://{DID}/fm.plyr.track",
    "",
]


@pytest.mark.parametrize("uri", VALID)
def test_valid_record_uris(uri: str) -> None:
    parts = syntax.record_uri_parts(uri)
    assert parts is not None and "/".join(parts) == uri[5:]
    assert AtUri.parse(uri) is not None  # the light parser accepts whatever the SDK accepts


@pytest.mark.parametrize("uri", INVALID)
def test_invalid_record_uris(uri: str) -> None:
    assert syntax.record_uri_parts(uri) is None


@pytest.mark.parametrize("handle", ["alice.test", "xn--caf-dma.example", "a.b-c.social", "A.Bsky.Social"])
def test_handles_both_accept(handle: str) -> None:
    assert syntax.is_handle(handle) and normalize_handle(handle) == handle.lower()


def test_dids_tids_and_keys() -> None:
    assert syntax.is_supported_did(DID) and syntax.is_supported_did("did:web:example.com")
    assert not syntax.is_supported_did("did:key:zQ3sh") and syntax.is_did("did:key:zQ3sh")
    assert not syntax.is_did("did:plc:") and not syntax.is_did(42)
    assert syntax.is_tid("3kabcdefghij2") and not syntax.is_tid("zzzzzzzzzzzzz")
    assert syntax.is_record_key("self") and not syntax.is_record_key("..")
    assert syntax.is_nsid("fm.plyr.track") and not syntax.is_nsid("fm.plyr")


def test_a_did_document_is_read_with_the_sdks_model() -> None:
    doc = {
        "id": DID,
        "alsoKnownAs": ["https://not-a-handle", "at://alice.example.com", "at://second.example.com"],
        "service": [
            {"id": "#other", "type": "AtprotoPersonalDataServer", "serviceEndpoint": "https://wrong.example"},
            {"id": f"{DID}#atproto_pds", "type": "AtprotoPersonalDataServer", "serviceEndpoint": "https://pds.example"},
        ],
    }
    assert syntax.is_did_document(doc, DID) and not syntax.is_did_document(doc, "did:plc:" + "b" * 24)
    assert syntax.pds_endpoint(doc) == "https://pds.example"
    assert syntax.document_handle(doc) == "alice.example.com"
    assert not syntax.is_did_document({"id": 5}, DID) and not syntax.is_did_document([], DID)
    assert syntax.pds_endpoint({"id": DID, "service": [{"id": "#atproto_pds"}]}) is None


def test_the_validators_load_without_the_sdks_client() -> None:
    """The SDK's client package costs over a second to import: only its validators' file is loaded."""
    probe = (
        "import sys, json; sys.path.insert(0, sys.argv[1]);"
        "from albums_core.adapters.atproto import syntax;"
        "assert syntax.is_tid('3kabcdefghij2');"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('atproto', 'atproto_client'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe, "layers/shared"], capture_output=True, text=True, timeout=60, check=True
    )
    assert json.loads(out.stdout) == []

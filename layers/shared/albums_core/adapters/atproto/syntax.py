"""ATProto syntax as the atproto SDK checks it (AT-URI, NSID, handle, DID, record key, TID),
and DID documents read with the SDK's model - for the write paths and identity resolution.

The SDK's strict string validators live in `atproto_client.models.string_formats`, whose package
imports the whole generated client first (1.4-2 s here, on every cold start). The module itself
needs only pydantic and `atproto_core.nsid`, so it is loaded from its file on its own (about
20 ms). The read functions never import this module: they keep the layer's light parsers
(`atproto_records.AtUri`, `handles`), and tests/unit/test_atproto_syntax.py checks that both
agree."""

from __future__ import annotations

import importlib.util
import sys
from functools import lru_cache
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

_MODULE = "albums_core.adapters.atproto._sdk_string_formats"
SUPPORTED_DID_METHODS = ("did:plc:", "did:web:")


class _Strict:
    """The validation context under which the SDK's validators check (its opt-in flag)."""

    context: ClassVar[dict[str, bool]] = {"strict_string_format": True}


@lru_cache(maxsize=1)
def _formats() -> ModuleType:
    spec = importlib.util.find_spec("atproto_client")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("the atproto SDK is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / "models" / "string_formats.py"
    loader_spec = importlib.util.spec_from_file_location(_MODULE, path)
    assert loader_spec is not None and loader_spec.loader is not None
    module = importlib.util.module_from_spec(loader_spec)
    sys.modules[_MODULE] = module
    loader_spec.loader.exec_module(module)
    return module


def _valid(name: str, value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        getattr(_formats(), name)(value, _Strict())
    except ValueError:
        return False
    return True


def is_at_uri(value: object) -> bool:
    return _valid("validate_at_uri", value)


def is_nsid(value: object) -> bool:
    return _valid("validate_nsid", value)


def is_handle(value: object) -> bool:
    return _valid("validate_handle", value)


def is_did(value: object) -> bool:
    return _valid("validate_did", value)


def is_record_key(value: object) -> bool:
    return _valid("validate_record_key", value)


def is_tid(value: object) -> bool:
    return _valid("validate_tid", value)


def is_supported_did(value: object) -> bool:
    """A valid DID of a method this service resolves."""
    return is_did(value) and str(value).startswith(SUPPORTED_DID_METHODS)


def record_uri_parts(value: object) -> tuple[str, str, str] | None:
    """(DID, collection, record key) of a record's AT-URI `at://<did>/<nsid>/<rkey>`, each valid
    by the SDK's rules; None for anything else (a handle authority, no record key, a query)."""
    if not is_at_uri(value):
        return None
    parts = str(value)[5:].split("/")
    if len(parts) != 3:
        return None
    did, collection, rkey = parts
    if not (is_did(did) and is_nsid(collection) and is_record_key(rkey)):
        return None
    return did, collection, rkey


# ---- DID documents, with the SDK's model ------------------------------------------------------


def _document(doc: object) -> Any:
    from atproto_core.did_doc import DidDocument
    from pydantic import ValidationError

    if not isinstance(doc, dict):
        return None
    try:
        return DidDocument.from_dict(doc)
    except (ValidationError, TypeError):
        return None


def is_did_document(doc: object, did: str) -> bool:
    parsed = _document(doc)
    return parsed is not None and parsed.get_did() == did


def pds_endpoint(doc: dict[str, Any]) -> str | None:
    """The document's `#atproto_pds` service endpoint (an http(s) URL), as the SDK reads it."""
    parsed = _document(doc)
    endpoint = parsed.get_pds_endpoint() if parsed is not None else None
    return endpoint if isinstance(endpoint, str) else None


def document_handle(doc: dict[str, Any]) -> str | None:
    """The handle the document claims: its first `at://` alias, as the SDK reads it."""
    parsed = _document(doc)
    handle = parsed.get_handle() if parsed is not None else None
    return handle if isinstance(handle, str) else None


def signing_key(doc: dict[str, Any]) -> str | None:
    """The repository's signing key (`#atproto` verification method) as a `did:key`, as the SDK
    reads it; None when the document names none it can read."""
    parsed = _document(doc)
    if parsed is None:
        return None
    try:
        key = parsed.get_did_key()
    except Exception:  # noqa: BLE001 - a key of a type or encoding the SDK does not know
        return None
    return key if isinstance(key, str) else None

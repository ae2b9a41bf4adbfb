"""The AWS SDK data the layer's clients load, trimmed for cold starts (issue 22 §6).

A botocore client's creation is most of a read function's first call: the default loader lists
every service botocore knows (~400 folders, twice) to check the name, parses endpoints.json
(1.2 MB, every service of every partition) and the service's model with its documentation.
`albums_core/adapters/botocore_data/` holds, for the services the layer calls and nothing else:
each model without its documentation strings, its endpoint rule set, paginators and waiters as
they are, endpoints.json with only these services, and botocore's small shared files. `aws_clients` loads from it alone.

Generated from the pinned botocore (requirements-dev.txt and the layer's requirements pin the
same version), gzip without timestamps so the bytes are reproducible:

    python -m tools.botocore_data           # writes the folder
    python -m tools.botocore_data --check   # fails when it differs from what the pin produces
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from pathlib import Path
from typing import Any

from botocore.exceptions import UnknownServiceError
from botocore.loaders import Loader

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "layers" / "shared" / "albums_core" / "adapters" / "botocore_data"
# Every service the layer makes a client for (tests/unit/test_aws_clients.py checks the calls).
SERVICES = ("dynamodb", "kms", "s3", "sqs", "ssm")
# Loaded for every client, whatever the service.
SHARED = ("_retry", "partitions", "sdk-default-configuration")
# Services of which the layer calls a few operations of many: only those are kept (with every
# shape they reach). SSM's model is 260 KB without its documentation, for Powertools Parameters'
# calls (bench section 1: list_albums reads the cursor key in its first call).
OPERATIONS = {"ssm": ("GetParameter", "GetParameters", "GetParametersByPath", "PutParameter")}


# botocore reads these parameters' documentation when it resolves an endpoint: kept.
_DOCUMENTATION_READ = "clientContextParams"


def _undocumented(node: Any) -> Any:
    """The model without its documentation strings (a member named so would be a dict): only
    `help()` and the SDK's doc builders read them, with `.get`."""
    if isinstance(node, dict):
        return {
            k: v if k == _DOCUMENTATION_READ else _undocumented(v)
            for k, v in node.items()
            if not (k in ("documentation", "documentationUrl") and isinstance(v, str))
        }
    if isinstance(node, list):
        return [_undocumented(v) for v in node]
    return node


def _shape_names(node: Any) -> set[str]:
    """The shapes a model node refers to (`{"shape": name}`), directly."""
    found: set[str] = set()
    if isinstance(node, dict):
        if isinstance(node.get("shape"), str):
            found.add(node["shape"])
        for value in node.values():
            found |= _shape_names(value)
    elif isinstance(node, list):
        for value in node:
            found |= _shape_names(value)
    return found


def _only(model: dict[str, Any], operations: tuple[str, ...]) -> dict[str, Any]:
    """The model with these operations alone and the shapes they reach."""
    kept = {name: model["operations"][name] for name in operations}
    shapes: set[str] = set()
    todo = _shape_names(kept)
    while todo:
        name = todo.pop()
        if name not in shapes:
            shapes.add(name)
            todo |= _shape_names(model["shapes"][name]) - shapes
    return {**model, "operations": kept, "shapes": {k: v for k, v in model["shapes"].items() if k in shapes}}


def _of(listing: dict[str, Any], key: str, operations: tuple[str, ...] | None) -> dict[str, Any]:
    """Paginators or waiters of the kept operations only."""
    if operations is None:
        return listing
    return {**listing, key: {k: v for k, v in listing[key].items() if v.get("operation", k) in operations}}


def _gz(data: Any) -> bytes:
    # In the model's own order: S3's serializer writes a structure's XML elements in member order.
    return gzip.compress(json.dumps(data, separators=(",", ":")).encode(), mtime=0)


def build() -> dict[str, bytes]:
    """Relative path -> bytes of every file of the folder."""
    loader = Loader()
    files: dict[str, bytes] = {}
    for service in SERVICES:
        version = loader.determine_latest_version(service, "service-2")
        model = loader.load_service_model(service, "service-2", version)
        operations = OPERATIONS.get(service)
        if operations:
            model = _only(model, operations)
        rules = loader.load_service_model(service, "endpoint-rule-set-1", version)
        files[f"{service}/{version}/service-2.json.gz"] = _gz(_undocumented(model))
        files[f"{service}/{version}/endpoint-rule-set-1.json.gz"] = _gz(rules)
        # Small, and without them `get_paginator`/`get_waiter` would fail on the trimmed folder.
        for extra, key in (("paginators-1", "pagination"), ("waiters-2", "waiters")):
            try:
                listing = _of(loader.load_service_model(service, extra, version), key, operations)
            except UnknownServiceError:  # botocore's answer when a service has none
                continue
            if listing[key]:
                files[f"{service}/{version}/{extra}.json.gz"] = _gz(listing)
    endpoints = loader.load_data("endpoints")
    for partition in endpoints["partitions"]:
        partition["services"] = {k: v for k, v in partition["services"].items() if k in SERVICES}
    files["endpoints.json.gz"] = _gz(endpoints)
    for name in SHARED:
        files[f"{name}.json.gz"] = _gz(loader.load_data(name))
    return files


def _on_disk() -> dict[str, bytes]:
    if not OUT.is_dir():
        return {}
    return {str(p.relative_to(OUT)): p.read_bytes() for p in OUT.rglob("*") if p.is_file()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when the folder is not what the pin produces")
    args = parser.parse_args(argv)
    wanted = build()
    if args.check:
        found = _on_disk()
        differ = sorted(k for k in wanted.keys() | found.keys() if wanted.get(k) != found.get(k))
        if differ:
            print(f"{OUT.relative_to(ROOT)} is stale ({', '.join(differ)}): run python -m tools.botocore_data")
            return 1
        return 0
    for path in OUT.rglob("*"):
        if path.is_file() and str(path.relative_to(OUT)) not in wanted:
            path.unlink()
    for name, data in wanted.items():
        target = OUT / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""template.yaml is the single source of truth: check what the code relies on."""

import json
from pathlib import Path

from local_runtime.resources import table_definitions
from local_runtime.template import ROOT, local_stack

STACK = local_stack()


def test_every_route_is_declared_with_and_without_trailing_slash() -> None:
    keys = {(r.method, r.path) for r in STACK.routes()}
    for method, path in list(keys):
        twin = path[:-1] if path.endswith("/") else path + "/"
        assert (method, twin) in keys, f"{method} {path} lacks its trailing-slash twin"


def test_one_variable_name_per_path_position() -> None:
    names: dict[int, set[str]] = {}
    for route in STACK.routes():
        for i, segment in enumerate(route.path.strip("/").split("/")):
            if segment.startswith("{"):
                names.setdefault(i, set()).add(segment)
    assert all(len(v) == 1 for v in names.values()), names


def test_functions_have_code_and_events() -> None:
    events = {p.name for p in (ROOT / "events").glob("*.json")}
    for logical, fn in STACK.functions().items():
        assert (fn.code_uri / "app.py").is_file(), logical
        folder = fn.code_uri.name
        assert any(e.startswith(folder + "_") for e in events), f"no events/ file for {logical}"


def test_events_are_valid_http_api_v2_payloads() -> None:
    for path in (ROOT / "events").glob("*.json"):
        event = json.loads(Path(path).read_text())
        if "Records" in event:  # a trigger's event
            assert all(r["eventSource"] in ("aws:s3", "aws:dynamodb") for r in event["Records"]), path
            continue
        if event.get("detail-type") == "Scheduled Event":
            continue
        assert event["version"] == "2.0" and "rawPath" in event and "requestContext" in event, path


def test_tables_have_the_keys_and_ttl_the_code_uses() -> None:
    tables = table_definitions(STACK)
    catalogue = tables["CatalogueTable"]["create"]
    assert {k["AttributeName"] for k in catalogue["KeySchema"]} == {"pk", "sk"}
    assert {i["IndexName"] for i in catalogue["GlobalSecondaryIndexes"]} >= {"gsi1", "gsi2", "gsi3", "by_image"}
    assert catalogue["StreamSpecification"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    for name in ("CacheTable", "SessionsTable"):
        assert tables[name]["ttl"] == {"AttributeName": "expires_at", "Enabled": True}


def test_layer_is_built_by_sam_and_used_by_every_function() -> None:
    layer = STACK.resources["SharedLayer"]
    assert layer["Metadata"]["BuildMethod"].startswith("python3")
    assert (ROOT / layer["Properties"]["ContentUri"] / "albums_core" / "__init__.py").is_file()
    assert STACK.raw["Globals"]["Function"]["Layers"] == [{"Ref": "SharedLayer"}]


def test_each_function_has_its_own_policies() -> None:
    for logical, res in STACK.of_type("AWS::Serverless::Function").items():
        assert res["Properties"].get("Policies"), logical

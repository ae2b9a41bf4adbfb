"""Every alarm in template.yaml watches a metric that exists: custom metrics against what the
code emits (its Powertools `add_metric` calls and the dimensions Powertools adds), AWS metrics
against the resource they name; every function has an error and a throttle alarm; the metrics
reach CloudWatch whatever the log level; the runbook covers every alarm."""

from __future__ import annotations

import ast
import copy
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from local_runtime.template import ROOT, load, local_stack

TEMPLATE = load()
CODE = [*sorted((ROOT / "layers" / "shared" / "albums_core").rglob("*.py")), *sorted(ROOT.glob("functions/*/app.py"))]
RUNBOOK = ROOT / "docs" / "RUNBOOK.md"

# The AWS metrics an alarm may name, with the dimension sets each is published under.
AWS_METRICS: dict[str, dict[str, list[frozenset[str]]]] = {
    "AWS/Lambda": {
        name: [frozenset(), frozenset({"FunctionName"})]
        for name in ("Errors", "Throttles", "Duration", "Invocations", "ConcurrentExecutions")
    },
    "AWS/SQS": {
        name: [frozenset({"QueueName"})]
        for name in ("ApproximateNumberOfMessagesVisible", "ApproximateAgeOfOldestMessage", "NumberOfMessagesSent")
    },
    # An HTTP API's metrics: by API and stage (by route only with DetailedMetricsEnabled).
    "AWS/ApiGateway": {
        name: [frozenset({"ApiId", "Stage"})]
        for name in ("Count", "4xx", "5xx", "Latency", "IntegrationLatency", "DataProcessed")
    },
    "AWS/DynamoDB": {
        name: [frozenset({"TableName"}), frozenset({"TableName", "GlobalSecondaryIndexName"})]
        for name in ("ReadThrottleEvents", "WriteThrottleEvents")
    },
}


@dataclass(frozen=True)
class Emitted:
    namespace: str
    service: str
    names: frozenset[str]
    cold_start: bool


def _literal_name(call: ast.Call) -> str | None:
    for kw in call.keywords:
        if kw.arg == "name":
            return kw.value.value if isinstance(kw.value, ast.Constant) else None
    if call.args and isinstance(call.args[0], ast.Constant):
        return str(call.args[0].value)
    return None


def emitted_metrics(sources: dict[Path, str] | None = None) -> Emitted:
    """What the code publishes: every `add_metric` name (literal names only, so this list is
    complete), Powertools' ColdStart when `capture_cold_start_metric=True`, under the Globals'
    namespace and service (Powertools' only default dimension)."""
    sources = sources if sources is not None else {p: p.read_text() for p in CODE}
    names: set[str] = set()
    cold_start = False
    for path, text in sources.items():
        for node in ast.walk(ast.parse(text)):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            attr = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            if attr in ("add_metric", "single_metric"):
                name = _literal_name(node)
                assert name, f"{path}: a metric whose name is not a literal: alarms cannot be checked against it"
                names.add(name)
            # Extra dimensions would change the metric an alarm must name: model them here first.
            assert attr not in ("add_dimension", "set_default_dimensions"), f"{path}: {attr} (see this test)"
            if attr == "log_metrics" and any(
                kw.arg == "capture_cold_start_metric" and getattr(kw.value, "value", False) for kw in node.keywords
            ):
                cold_start = True
    env = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    for logical, fn in _functions().items():
        overrides = fn["Properties"].get("Environment", {}).get("Variables", {})
        for key in ("POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_SERVICE_NAME"):
            assert key not in overrides, f"{logical} overrides {key}: its metrics would not be the alarms'"
    return Emitted(
        namespace=env["POWERTOOLS_METRICS_NAMESPACE"],
        service=env["POWERTOOLS_SERVICE_NAME"],
        names=frozenset(names | ({"ColdStart"} if cold_start else set())),
        cold_start=cold_start,
    )


def _functions(template: dict[str, Any] = TEMPLATE) -> dict[str, Any]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == "AWS::Serverless::Function"}


def alarms(template: dict[str, Any] = TEMPLATE) -> dict[str, dict[str, Any]]:
    return {k: v["Properties"] for k, v in template["Resources"].items() if v["Type"] == "AWS::CloudWatch::Alarm"}


def alarm_metrics(props: dict[str, Any]) -> list[dict[str, Any]]:
    """The metrics an alarm reads: its own, or those of its metric-math query."""
    if "MetricName" in props:
        return [{k: props.get(k) for k in ("Namespace", "MetricName", "Dimensions")}]
    return [q["MetricStat"]["Metric"] for q in props.get("Metrics", []) if "MetricStat" in q]


def _dims(metric: dict[str, Any]) -> dict[str, Any]:
    return {d["Name"]: d["Value"] for d in metric.get("Dimensions") or []}


def _resource_of(value: Any, template: dict[str, Any]) -> tuple[str, str] | None:
    """(logical id, type) a Ref or GetAtt names."""
    if isinstance(value, dict) and "Ref" in value:
        logical = value["Ref"]
    elif isinstance(value, dict) and "Fn::GetAtt" in value:
        logical = value["Fn::GetAtt"][0]
    else:
        return None
    res = template["Resources"].get(logical)
    return (logical, res["Type"]) if res else None


def metric_problems(template: dict[str, Any], emitted: Emitted) -> list[str]:
    problems = []
    for alarm, props in alarms(template).items():
        for metric in alarm_metrics(props):
            ns, name, dims = metric["Namespace"], metric["MetricName"], _dims(metric)
            where = f"{alarm}: {ns} {name} {dims}"
            if ns == emitted.namespace:
                if name not in emitted.names:
                    problems.append(f"{where}: the code emits no metric {name!r}")
                wanted = {"service", "function_name"} if name == "ColdStart" else {"service"}
                if set(dims) != wanted or dims.get("service") != emitted.service:
                    problems.append(f"{where}: the code emits it with {sorted(wanted)}, service={emitted.service}")
                continue
            known = AWS_METRICS.get(ns, {})
            if name not in known:
                problems.append(f"{where}: not a metric this test knows {ns} publishes")
                continue
            if frozenset(dims) not in known[name]:
                problems.append(f"{where}: {ns} publishes {name} by {[sorted(s) for s in known[name]]}")
                continue
            problems += _dimension_problems(where, ns, dims, template)
    return problems


def _dimension_problems(where: str, ns: str, dims: dict[str, Any], template: dict[str, Any]) -> list[str]:
    problems = []
    resources = template["Resources"]
    if "FunctionName" in dims and (_resource_of(dims["FunctionName"], template) or ("", ""))[1] != (
        "AWS::Serverless::Function"
    ):
        problems.append(f"{where}: FunctionName is not a Ref to a function")
    if "QueueName" in dims:
        value = dims["QueueName"]
        target = _resource_of(value, template)
        if not (target and target[1] == "AWS::SQS::Queue" and value.get("Fn::GetAtt", [None, None])[1] == "QueueName"):
            problems.append(f"{where}: QueueName is not a queue's GetAtt QueueName")
    if ns == "AWS/ApiGateway":
        target = _resource_of(dims["ApiId"], template)
        if not (target and target[1] == "AWS::Serverless::HttpApi" and "Ref" in dims["ApiId"]):
            problems.append(f"{where}: ApiId is not a Ref to the HttpApi")
        elif dims["Stage"] != resources[target[0]]["Properties"]["StageName"]:
            problems.append(f"{where}: Stage is not the HttpApi's StageName")
    if "TableName" in dims:
        target = _resource_of(dims["TableName"], template)
        if not (target and target[1] == "AWS::DynamoDB::Table" and "Ref" in dims["TableName"]):
            problems.append(f"{where}: TableName is not a Ref to a table")
        elif "GlobalSecondaryIndexName" in dims:
            indexes = {i["IndexName"] for i in resources[target[0]]["Properties"].get("GlobalSecondaryIndexes", [])}
            if dims["GlobalSecondaryIndexName"] not in indexes:
                problems.append(f"{where}: {target[0]} has no index {dims['GlobalSecondaryIndexName']!r}")
    return problems


def coverage_problems(template: dict[str, Any]) -> list[str]:
    """Every function has an error and a throttle alarm (Lambda's account-level metric covers
    all of them, a per-function one its function); every table and index a throttle alarm."""
    watched: set[tuple[str, str | None]] = set()
    throttled: set[tuple[str, str, str | None]] = set()
    for props in alarms(template).values():
        for metric in alarm_metrics(props):
            dims = _dims(metric)
            if metric["Namespace"] == "AWS/Lambda" and metric["MetricName"] in ("Errors", "Throttles"):
                fn = dims.get("FunctionName", {}).get("Ref") if dims else None
                watched.add((metric["MetricName"], fn))
            if metric["Namespace"] == "AWS/DynamoDB" and "TableName" in dims:
                kind = metric["MetricName"]
                throttled.add((kind, dims["TableName"].get("Ref"), dims.get("GlobalSecondaryIndexName")))
    problems = []
    for logical in _functions(template):
        for kind in ("Errors", "Throttles"):
            if (kind, None) not in watched and (kind, logical) not in watched:
                problems.append(f"{logical} has no {kind} alarm")
    for logical, res in template["Resources"].items():
        if res["Type"] != "AWS::DynamoDB::Table":
            continue
        indexes = [None, *(i["IndexName"] for i in res["Properties"].get("GlobalSecondaryIndexes", []))]
        for index in indexes:
            for kind in ("ReadThrottleEvents", "WriteThrottleEvents"):
                if (kind, logical, index) not in throttled:
                    problems.append(f"{logical} {index or '(table)'} has no {kind} alarm")
    return problems


# ---- the template as it is -----------------------------------------------------------------


def test_every_alarm_watches_a_metric_that_exists() -> None:
    emitted = emitted_metrics()
    assert {"FirehoseHeartbeat", "FirehoseLagSeconds", "CacheHit", "ColdStart"} <= emitted.names
    assert metric_problems(TEMPLATE, emitted) == []


def test_every_function_table_and_index_has_its_alarms() -> None:
    assert coverage_problems(TEMPLATE) == []


def test_every_alarm_says_what_to_do_and_notifies_the_topic() -> None:
    assert len(alarms()) >= 10
    for alarm, props in alarms().items():
        description = props["AlarmDescription"]
        text = description if isinstance(description, str) else description["Fn::Sub"]
        assert len(text) > 100 and "RUNBOOK" in text, alarm
        assert props["AlarmActions"] == [{"Ref": "AlarmTopic"}], alarm
        assert props["OKActions"] == [{"Ref": "AlarmTopic"}], alarm
        assert props["TreatMissingData"] in ("breaching", "notBreaching", "ignore", "missing"), alarm


def test_missing_data_is_chosen_for_what_a_missing_point_means() -> None:
    every = alarms()
    # The heartbeat is published every minute the lease is held: its absence is the failure.
    assert every["FirehoseHeartbeatAlarm"]["TreatMissingData"] == "breaching"
    assert every["FirehoseHeartbeatAlarm"]["ComparisonOperator"] == "LessThanThreshold"
    # The lag is published only when events were applied: no point is nothing to report.
    assert every["FirehoseLagAlarm"]["TreatMissingData"] == "notBreaching"
    assert every["FirehoseLagAlarm"]["Threshold"] == {"Ref": "FirehoseLagThresholdSeconds"}
    assert TEMPLATE["Parameters"]["FirehoseLagThresholdSeconds"]["Default"] == 60


def test_the_alarm_email_subscription_exists_only_when_an_address_is_given() -> None:
    sub = TEMPLATE["Resources"]["AlarmEmailSubscription"]
    assert sub["Condition"] == "HasAlarmEmail"
    assert TEMPLATE["Parameters"]["AlarmEmail"]["Default"] == ""
    assert not local_stack().condition("HasAlarmEmail")
    assert local_stack(overrides={"AlarmEmail": "ops@example.org"}).condition("HasAlarmEmail")


def test_the_dashboard_names_only_metrics_that_exist() -> None:
    stack = local_stack()
    body = json.loads(stack.resolve(stack.resources["OperationsDashboard"]["Properties"]["DashboardBody"]))
    emitted = emitted_metrics()
    seen = set()
    for widget in body["widgets"]:
        for row in widget.get("properties", {}).get("metrics", []):
            if isinstance(row[0], str) and row[0] == emitted.namespace:
                seen.add(row[1])
                assert row[1] in emitted.names, row
                assert row[2:4] == ["service", emitted.service], row
    assert {"CacheHit", "CacheMiss", "FirehoseLagSeconds", "FirehoseEventsSeen", "FirehoseHeartbeat"} <= seen
    titles = " ".join(w.get("properties", {}).get("title", "") for w in body["widgets"])
    signals = ("requests", "5xx", "Latency per route", "cache hit", "lag", "events per second", "Dead letters", "Cold")
    for signal in signals:
        assert signal.lower() in titles.lower(), signal


# ---- the checks catch what they are for -----------------------------------------------------


def test_a_renamed_metric_fails_the_check() -> None:
    sources = {p: p.read_text() for p in CODE}
    consumer = ROOT / "layers/shared/albums_core/services/firehose/consumer.py"
    sources[consumer] = sources[consumer].replace('name="FirehoseHeartbeat"', 'name="FirehoseAlive"')
    renamed = emitted_metrics(sources)
    assert "FirehoseHeartbeat" not in renamed.names
    assert any(p.startswith("FirehoseHeartbeatAlarm:") for p in metric_problems(TEMPLATE, renamed))


def test_a_wrong_dimension_or_resource_fails_the_check() -> None:
    emitted = emitted_metrics()
    broken = copy.deepcopy(TEMPLATE)
    lag = broken["Resources"]["FirehoseLagAlarm"]["Properties"]
    lag["Dimensions"] = [{"Name": "service", "Value": "albums"}, {"Name": "function_name", "Value": "x"}]
    queue = broken["Resources"]["CleanupDeadLettersAlarm"]["Properties"]
    queue["Dimensions"] = [{"Name": "QueueName", "Value": {"Fn::GetAtt": ["CatalogueTable", "Arn"]}}]
    latency = broken["Resources"]["AlbumPageLatencyAlarm"]["Properties"]
    latency["Dimensions"] = [{"Name": "FunctionName", "Value": {"Ref": "CatalogueTable"}}]
    rate = broken["Resources"]["Api5xxRateAlarm"]["Properties"]["Metrics"][1]["MetricStat"]["Metric"]
    rate["MetricName"] = "5XXError"  # the REST API's name, never published for an HTTP API
    problems = " | ".join(metric_problems(broken, emitted))
    for alarm in ("FirehoseLagAlarm", "CleanupDeadLettersAlarm", "AlbumPageLatencyAlarm", "Api5xxRateAlarm"):
        assert f"{alarm}:" in problems, alarm


def test_a_function_without_an_error_alarm_fails_the_check() -> None:
    broken = copy.deepcopy(TEMPLATE)
    del broken["Resources"]["FunctionErrorsAlarm"]
    problems = coverage_problems(broken)
    # The functions with their own alarm stay covered; every other one is named.
    assert "GetAlbumFunction has no Errors alarm" not in problems
    assert "ListAlbumsFunction has no Errors alarm" in problems
    broken["Resources"]["NewFunction"] = copy.deepcopy(broken["Resources"]["ListAlbumsFunction"])
    assert "NewFunction has no Errors alarm" in coverage_problems(broken)


# ---- metrics keep flowing whatever the log level ----------------------------------------------


def test_lambdas_log_filter_lets_embedded_metric_lines_through() -> None:
    """Lambda's ApplicationLogLevel filters JSON lines by their "level"; an EMF line has none,
    so Lambda counts it as INFO. Above INFO every metric would be dropped."""
    passes = {"TRACE", "DEBUG", "INFO"}
    config = TEMPLATE["Globals"]["Function"]["LoggingConfig"]
    assert config["LogFormat"] == "JSON" and config.get("ApplicationLogLevel", "INFO") in passes
    for logical, fn in _functions().items():
        level = fn["Properties"].get("LoggingConfig", {}).get("ApplicationLogLevel", "INFO")
        assert level in passes, f"{logical}: ApplicationLogLevel {level} drops its metrics"


_PROBE = """
import json
from aws_lambda_powertools.metrics import MetricUnit
from albums_core.observability import logger, metrics
logger.info("an info line")
logger.warning("a warning line")
logger.error("an error line")
metrics.add_metric(name="CacheHit", unit=MetricUnit.Count, value=1)
metrics.flush_metrics()
"""


def test_a_raised_application_log_level_quietens_logs_not_metrics() -> None:
    """With Lambda's filter at INFO (AWS_LAMBDA_LOG_LEVEL, which Powertools otherwise obeys over
    POWERTOOLS_LOG_LEVEL), POWERTOOLS_LOG_LEVEL=ERROR keeps only errors; the metric is printed."""
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT / "layers" / "shared"),
        "AWS_LAMBDA_LOG_LEVEL": "INFO",
        "POWERTOOLS_LOG_LEVEL": "ERROR",
    }
    out = subprocess.run(
        [sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, timeout=120, check=True
    ).stdout
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    messages = [line.get("message") for line in lines]
    assert "an error line" in messages
    assert "an info line" not in messages and "a warning line" not in messages
    emf = [line for line in lines if "_aws" in line]
    assert len(emf) == 1 and emf[0]["CacheHit"] == [1.0]
    assert "level" not in emf[0]  # INFO to Lambda's filter, which the template keeps at INFO


# ---- the runbook ------------------------------------------------------------------------------


def test_the_runbook_covers_every_alarm_and_the_readme_links_it() -> None:
    text = RUNBOOK.read_text()
    headings = set(re.findall(r"^### `?(\w+)`?", text, flags=re.MULTILINE))
    missing = sorted(set(alarms()) - headings)
    assert not missing, f"docs/RUNBOOK.md has no section for {missing}"
    for alarm in alarms():
        section = text.split(f"### `{alarm}`", 1)[1].split("\n### ", 1)[0]
        for part in ("**Means**", "**Look**", "**Recover**"):
            assert part in section, f"{alarm}: no {part}"
    assert "docs/RUNBOOK.md" in (ROOT / "README.md").read_text()


def test_the_local_runtime_leaves_the_operations_resources_out_and_says_so() -> None:
    from local_runtime.resources import not_emulated

    skipped = not_emulated(local_stack())
    assert skipped["AWS::CloudWatch::Alarm"] == len(alarms())
    assert {"AWS::CloudWatch::Dashboard", "AWS::SNS::Topic", "AWS::SNS::Subscription"} <= set(skipped)
    assert not {"AWS::DynamoDB::Table", "AWS::SQS::Queue", "AWS::Serverless::Function"} & set(skipped)


# ---- CacheHit: once a minute per container -------------------------------------------------------


def test_cache_hits_are_published_once_a_minute_with_the_hits_since(monkeypatch: pytest.MonkeyPatch) -> None:
    from albums_core import observability

    published: list[float] = []

    class Recorder:
        def add_metric(self, name: str, unit: Any, value: float) -> None:
            assert name == "CacheHit"
            published.append(value)

    monkeypatch.setattr(observability, "metrics", Recorder())
    now = [100.0]
    hits = observability.CacheHits(seconds=60, clock=lambda: now[0])
    hits.add()  # a container's first hit: at once
    for _ in range(5):
        now[0] += 10
        hits.add()
    assert published == [1]
    now[0] += 10  # 60 s after the first
    hits.add()
    assert published == [1, 6]
    every = observability.CacheHits(seconds=0, clock=lambda: now[0])
    every.add()
    every.add()
    assert published == [1, 6, 1, 1]


_HIT_PROBE = """
from albums_core.observability import cache_hits, logger, metrics
logger.info("an info line")
cache_hits.add()
metrics.flush_metrics()
"""


def test_the_cache_hit_metric_survives_a_raised_application_log_level() -> None:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT / "layers" / "shared"),
        "AWS_LAMBDA_LOG_LEVEL": "INFO",
        "POWERTOOLS_LOG_LEVEL": "ERROR",
    }
    out = subprocess.run(
        [sys.executable, "-c", _HIT_PROBE], env=env, capture_output=True, text=True, timeout=120, check=True
    ).stdout
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert [line.get("message") for line in lines if "message" in line] == []
    emf = [line for line in lines if "_aws" in line]
    assert len(emf) == 1 and emf[0]["CacheHit"] == [1.0] and "level" not in emf[0]

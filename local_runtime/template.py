"""template.yaml, read the way CloudFormation would for what the local runtime needs:
tables, bucket, functions with their environment, HttpApi routes."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"
_SHORT_TAGS = {"Ref": "Ref", "Condition": "Condition"}


class _CfnLoader(yaml.SafeLoader):
    pass


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    name = _SHORT_TAGS.get(suffix, f"Fn::{suffix}")
    return {name: value}


_CfnLoader.add_multi_constructor("!", _intrinsic)


def load(path: Path = TEMPLATE) -> dict[str, Any]:
    with path.open() as fh:
        return yaml.load(fh, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass


@dataclass
class Route:
    method: str
    path: str
    function: str
    # The integration timeout (the HttpApi event's TimeoutInMillis; HTTP API's default and maximum).
    timeout_ms: int = 30000

    @property
    def pattern(self) -> re.Pattern[str]:
        parts = []
        for segment in self.path.strip("/").split("/"):
            if segment.startswith("{") and segment.endswith("}"):
                name = segment[1:-1].rstrip("+")
                parts.append(f"(?P<{name}>[^/]+)")
            else:
                parts.append(re.escape(segment))
        trailing = "/" if self.path.endswith("/") and self.path != "/" else ""
        return re.compile("^/" + "/".join(parts) + trailing + "$")

    @property
    def literal_segments(self) -> int:
        return sum(1 for s in self.path.split("/") if s and not s.startswith("{"))


@dataclass
class Function:
    logical_id: str
    code_uri: Path
    handler: str
    environment: dict[str, str] = field(default_factory=dict)
    timeout: int = 10
    memory: int = 512
    reserved_concurrency: int | None = None


@dataclass
class Stack:
    """The template, resolved for one local stack."""

    name: str
    region: str
    parameters: dict[str, str]
    physical: dict[str, str]
    raw: dict[str, Any]
    # Where the AWS endpoints are (moto), for attributes that are URLs (an SQS queue's Ref).
    endpoint: str = "http://127.0.0.1:1"

    @property
    def resources(self) -> dict[str, Any]:
        return dict(self.raw["Resources"])

    def of_type(self, kind: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.resources.items() if v["Type"] == kind}

    def condition(self, name: str) -> bool:
        return bool(self.resolve(self.raw.get("Conditions", {})[name]))

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) != 1:
            return {k: self.resolve(v) for k, v in value.items()}
        ((key, arg),) = value.items()
        if key == "Ref":
            return self._ref(arg)
        if key == "Fn::Sub":
            text, extra = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))
            return re.sub(
                r"\$\{([^}]+)\}",
                lambda m: str(extra[m.group(1)] if m.group(1) in extra else self._sub(m.group(1))),
                text,
            )
        if key == "Fn::GetAtt":
            return self._getatt(arg[0], arg[1])
        if key == "Fn::If":
            return self.resolve(arg[1] if self.condition(arg[0]) else arg[2])
        if key == "Fn::Not":
            return not self.resolve(arg[0])
        if key == "Fn::Equals":
            left, right = self.resolve(arg[0]), self.resolve(arg[1])
            return str(left) == str(right)
        if key == "Fn::Select":
            return self.resolve(arg[1])[int(self.resolve(arg[0]))]
        if key == "Fn::Split":
            return str(self.resolve(arg[1])).split(arg[0])
        if key == "Fn::Join":
            return arg[0].join(str(v) for v in self.resolve(arg[1]))
        return {k: self.resolve(v) for k, v in value.items()}

    def _ref(self, name: str) -> Any:
        pseudo = {
            "AWS::Region": self.region,
            "AWS::StackName": self.name,
            "AWS::AccountId": "123456789012",
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
        }
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            if self.raw.get("Parameters", {}).get(name, {}).get("Type") == "CommaDelimitedList":
                return [v.strip() for v in self.parameters[name].split(",")]
            return self.parameters[name]
        if name in self.physical:
            if self.resources.get(name, {}).get("Type") == "AWS::SQS::Queue":
                return f"{self.endpoint}/123456789012/{self.physical[name]}"
            return self.physical[name]
        raise KeyError(f"unresolvable Ref {name}")

    def _sub(self, expr: str) -> str:
        if "." in expr:
            logical, attr = expr.split(".", 1)
            return self._getatt(logical, attr)
        return self._ref(expr)

    def _getatt(self, logical: str, attr: str) -> str:
        resource = self.resources[logical]
        physical = self.physical[logical]
        if resource["Type"] == "AWS::DynamoDB::Table" and attr == "Arn":
            return f"arn:aws:dynamodb:{self.region}:123456789012:table/{physical}"
        if resource["Type"] == "AWS::SQS::Queue":
            if attr == "Arn":
                return f"arn:aws:sqs:{self.region}:123456789012:{physical}"
            if attr == "QueueName":
                return physical
        if resource["Type"] == "AWS::DynamoDB::Table" and attr == "StreamArn":
            return f"arn:aws:dynamodb:{self.region}:123456789012:table/{physical}/stream/local"
        if resource["Type"] == "AWS::KMS::Key" and attr == "Arn":
            return f"arn:aws:kms:{self.region}:123456789012:{physical}"
        if resource["Type"] == "AWS::CloudFront::Distribution" and attr == "DomainName":
            return f"{physical.lower()}.cloudfront.net"
        if resource["Type"] == "AWS::S3::Bucket" and attr == "Arn":
            return f"arn:aws:s3:::{physical}"
        return f"{physical}.{attr}"

    def functions(self) -> dict[str, Function]:
        globals_ = self.raw.get("Globals", {}).get("Function", {})
        base_env = globals_.get("Environment", {}).get("Variables", {})
        result = {}
        for logical, res in self.of_type("AWS::Serverless::Function").items():
            props = res["Properties"]
            env = {**base_env, **props.get("Environment", {}).get("Variables", {})}
            result[logical] = Function(
                logical_id=logical,
                code_uri=ROOT / props["CodeUri"],
                handler=props.get("Handler", globals_.get("Handler", "app.lambda_handler")),
                environment={k: str(self.resolve(v)) for k, v in env.items()},
                timeout=int(props.get("Timeout", globals_.get("Timeout", 10))),
                memory=int(props.get("MemorySize", globals_.get("MemorySize", 512))),
                reserved_concurrency=(
                    int(self.resolve(props["ReservedConcurrentExecutions"]))
                    if "ReservedConcurrentExecutions" in props
                    else None
                ),
            )
        return result

    def stream_triggers(self) -> list[tuple[str, str, dict[str, Any]]]:
        """(function, table logical id, event properties) of every DynamoDB stream event."""
        triggers = []
        for logical, res in self.of_type("AWS::Serverless::Function").items():
            for event in res["Properties"].get("Events", {}).values():
                if event["Type"] == "DynamoDB":
                    props = event["Properties"]
                    triggers.append((logical, props["Stream"]["Fn::GetAtt"][0], props))
        return triggers

    def schedules(self) -> list[tuple[str, str]]:
        """(function, schedule expression) of every Schedule event."""
        return [
            (logical, event["Properties"]["Schedule"])
            for logical, res in self.of_type("AWS::Serverless::Function").items()
            for event in res["Properties"].get("Events", {}).values()
            if event["Type"] == "Schedule"
        ]

    def s3_triggers(self) -> list[tuple[str, str, list[str], str]]:
        """(function, bucket logical id, events, key prefix) of every S3 event in the template."""
        triggers = []
        for logical, res in self.of_type("AWS::Serverless::Function").items():
            for event in res["Properties"].get("Events", {}).values():
                if event["Type"] != "S3":
                    continue
                props = event["Properties"]
                events = props["Events"] if isinstance(props["Events"], list) else [props["Events"]]
                rules = props.get("Filter", {}).get("S3Key", {}).get("Rules", [])
                prefix = next((r["Value"] for r in rules if r["Name"].lower() == "prefix"), "")
                triggers.append((logical, props["Bucket"]["Ref"], events, prefix))
        return triggers

    def routes(self) -> list[Route]:
        routes = []
        for logical, res in self.of_type("AWS::Serverless::Function").items():
            for event in res["Properties"].get("Events", {}).values():
                if event["Type"] == "HttpApi":
                    props = event["Properties"]
                    timeout = int(self.resolve(props.get("TimeoutInMillis", 30000)))
                    routes.append(Route(props["Method"].upper(), props["Path"], logical, timeout))
        # API Gateway prefers the route with more literal segments (`/a/tracks` over `/a/{x}`).
        return sorted(routes, key=lambda r: -r.literal_segments)


def local_stack(
    name: str = "albums-local",
    region: str = "us-east-1",
    overrides: dict[str, str] | None = None,
    endpoint: str = "http://127.0.0.1:1",
) -> Stack:
    raw = load()
    params = {k: str(v.get("Default", "")) for k, v in raw.get("Parameters", {}).items()}
    params.update(overrides or {})
    physical = {}
    for logical, res in raw["Resources"].items():
        if res["Type"] == "AWS::S3::Bucket":
            physical[logical] = f"{name}-{logical}".lower()
        elif res["Type"] == "AWS::KMS::Key":
            physical[logical] = f"alias/{name}-{logical}"  # an alias works wherever a key id does
        else:
            physical[logical] = f"{name}-{logical}"
    stack = Stack(name=name, region=region, parameters=params, physical=physical, raw=raw, endpoint=endpoint)
    for logical, res in raw["Resources"].items():
        given = res.get("Properties", {}).get("BucketName") if res["Type"] == "AWS::S3::Bucket" else None
        if given is not None:
            physical[logical] = str(stack.resolve(given))
    return stack

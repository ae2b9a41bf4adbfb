"""IAM as deployed: each function's role policies, expanded from template.yaml the way `sam`
expands them (aws-sam-translator: SAM policy templates such as DynamoDBCrudPolicy become the
statements CloudFormation creates), resolved for the local stack, and given to one IAM user
per function on the local moto server. With those users' keys in a function's environment,
moto (through local_runtime/moto_main.py) answers AccessDenied to any call the template does
not grant, as AWS would.

    policies = function_policies(stack)                       # {logical id: [policy document]}
    keys = create_function_users(stack, session, endpoint)    # {logical id: {AWS_ACCESS_KEY_ID: ...}}

`keys` is what the worker host's `function_env` takes (see `function_env`)."""

from __future__ import annotations

import copy
import fnmatch
import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local_runtime.template import Stack

ACCOUNT = "123456789012"


def translate(stack: Stack) -> dict[str, Any]:
    """The template as CloudFormation receives it after the SAM transform."""
    import boto3
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    raw = copy.deepcopy(stack.raw)
    # As `sam package` leaves it: code uploaded, its local folder replaced by an S3 URI.
    for resource in raw["Resources"].values():
        props = resource.get("Properties", {})
        for uri in ("CodeUri", "ContentUri"):
            if isinstance(props.get(uri), str):
                props[uri] = f"s3://local-artifacts/{props[uri].strip('/')}"
    params = {**stack.parameters, "AWS::Region": stack.region, "AWS::AccountId": ACCOUNT}
    # The region comes from this session; managed policies are looked up by name only, and the
    # template names them by ARN: no IAM lookup.
    translator = Translator(None, Parser(), boto_session=boto3.session.Session(region_name=stack.region))
    return dict(translator.translate(raw, params, get_managed_policy_map=dict))


def _role_of(function: dict[str, Any]) -> str | None:
    role = function.get("Properties", {}).get("Role")
    if isinstance(role, dict) and "Fn::GetAtt" in role:
        target = role["Fn::GetAtt"]
        return str(target[0] if isinstance(target, list) else str(target).split(".")[0])
    return None


def _real_kms_arns(stack: Stack, session: Any | None, endpoint: str | None) -> dict[str, str]:
    """Locally a key is known by its alias: the ARN a grant names must be the key's own."""
    if session is None or not stack.of_type("AWS::KMS::Key"):
        return {}
    kms = session.client("kms", endpoint_url=endpoint)
    out = {}
    for logical in stack.of_type("AWS::KMS::Key"):
        alias_arn = stack.resolve({"Fn::GetAtt": [logical, "Arn"]})
        out[alias_arn] = kms.describe_key(KeyId=stack.physical[logical])["KeyMetadata"]["Arn"]
    return out


def function_policies(
    stack: Stack, session: Any | None = None, endpoint: str | None = None
) -> dict[str, list[dict[str, Any]]]:
    """Each function's inline role policies (what the template grants), resolved for `stack`,
    by the function's logical id. Managed policies (AWSLambdaBasicExecutionRole: CloudWatch
    Logs only) are left out: no function calls those APIs itself."""
    translated = translate(stack)
    resources = translated["Resources"]
    kms = _real_kms_arns(stack, session, endpoint)
    out: dict[str, list[dict[str, Any]]] = {}
    for logical in stack.functions():
        role = _role_of(resources.get(logical, {}))
        role_props = resources.get(role or "", {}).get("Properties", {})
        documents = [stack.resolve(p["PolicyDocument"]) for p in role_props.get("Policies", [])]
        text = json.dumps(documents)
        for alias_arn, key_arn in kms.items():
            text = text.replace(json.dumps(alias_arn)[1:-1], key_arn)
        out[logical] = json.loads(text)
    return out


def create_function_users(stack: Stack, session: Any, endpoint: str) -> dict[str, dict[str, str]]:
    """One IAM user per function on moto, with the function's policies; returns its keys as
    environment variables, by logical id. Call once the stack's resources exist."""
    iam = session.client("iam", endpoint_url=endpoint)
    keys: dict[str, dict[str, str]] = {}
    for logical, documents in function_policies(stack, session, endpoint).items():
        user = f"{logical}-{secrets.token_hex(4)}"
        iam.create_user(UserName=user)
        for n, document in enumerate(documents):
            # IAM takes a document without a Version as 2008-10-17 (no policy variables; ours use
            # none); moto refuses it, so it gets the current version.
            versioned = {"Version": "2012-10-17", **document}
            iam.put_user_policy(UserName=user, PolicyName=f"{logical}Policy{n}", PolicyDocument=json.dumps(versioned))
        key = iam.create_access_key(UserName=user)["AccessKey"]
        keys[logical] = {
            "AWS_ACCESS_KEY_ID": key["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"],
            # A Lambda role's credentials carry a session token; an IAM user's keys must not.
            "AWS_SESSION_TOKEN": "",
        }
    return keys


def function_env(keys: dict[str, dict[str, str]], s3_endpoint: str) -> dict[str, dict[str, str]]:
    """The per-function environment the worker host adds: the function's own keys and the
    local S3 front as its S3 endpoint."""
    return {logical: {**env, "AWS_ENDPOINT_URL_S3": s3_endpoint} for logical, env in keys.items()}


# ---- which grants are used --------------------------------------------------------------------


@dataclass(frozen=True)
class Grant:
    function: str
    action: str
    resource: str


def grants(policies: dict[str, list[dict[str, Any]]]) -> list[Grant]:
    out = []
    for function, documents in policies.items():
        for document in documents:
            for statement in document.get("Statement", []):
                if statement.get("Effect") != "Allow":
                    continue
                actions = statement.get("Action", [])
                resources = statement.get("Resource", [])
                for action in [actions] if isinstance(actions, str) else actions:
                    for resource in [resources] if isinstance(resources, str) else resources:
                        out.append(Grant(function, action, resource))
    return out


def unused_grants(policies: dict[str, list[dict[str, Any]]], calls: Iterable[tuple[str, str, str]]) -> list[Grant]:
    """Grants that no recorded (function, action, resource ARN) call used."""
    seen = list(calls)
    return [
        g
        for g in grants(policies)
        if not any(
            f == g.function and fnmatch.fnmatchcase(a, g.action) and fnmatch.fnmatchcase(r, g.resource)
            for f, a, r in seen
        )
    ]


# ---- the calls the functions make (the in-process host) ----------------------------------------

# IAM actions of the S3 API calls whose action is not named after them.
_S3_ACTIONS = {
    "HeadObject": "s3:GetObject",
    "ListObjectsV2": "s3:ListBucket",
    "ListObjects": "s3:ListBucket",
    "DeleteObjects": "s3:DeleteObject",
    "CopyObject": "s3:PutObject",
}
_TRANSACT = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}


def requested(service: str, operation: str, params: dict[str, Any], region: str) -> list[tuple[str, str]]:
    """The (IAM action, resource ARN) pairs an API call needs, as IAM evaluates them."""
    if service == "dynamodb":

        def table(name: str) -> str:
            return f"arn:aws:dynamodb:{region}:{ACCOUNT}:table/{name}"

        if operation in ("TransactWriteItems", "TransactGetItems"):
            return [
                (f"dynamodb:{_TRANSACT.get(op, 'GetItem')}", table(spec.get("TableName", "*")))
                for item in params.get("TransactItems", [])
                for op, spec in item.items()
            ]
        if operation in ("BatchWriteItem", "BatchGetItem"):
            return [(f"dynamodb:{operation}", table(name)) for name in params.get("RequestItems", {})]
        if "TableName" not in params:
            return [(f"dynamodb:{operation}", "*")]
        arn = table(params["TableName"])
        return [(f"dynamodb:{operation}", f"{arn}/index/{params['IndexName']}" if params.get("IndexName") else arn)]
    if service == "s3":
        action = _S3_ACTIONS.get(operation, f"s3:{operation}")
        bucket = params.get("Bucket", "*")
        if action == "s3:ListBucket" or ("Key" not in params and "Delete" not in params):
            return [(action, f"arn:aws:s3:::{bucket}")]
        keys = [o["Key"] for o in params.get("Delete", {}).get("Objects", [])] or [params.get("Key", "*")]
        return [(action, f"arn:aws:s3:::{bucket}/{key}") for key in keys]
    if service == "ssm":
        names = params.get("Names") or ([params["Name"]] if "Name" in params else [])
        return [(f"ssm:{operation}", f"arn:aws:ssm:{region}:{ACCOUNT}:parameter/{str(n).lstrip('/')}") for n in names]
    if service == "sqs":
        queue = str(params.get("QueueUrl", "*")).rsplit("/", 1)[-1]
        return [(f"sqs:{operation}", f"arn:aws:sqs:{region}:{ACCOUNT}:{queue}")]
    if service == "kms":
        key = str(params.get("KeyId", "*"))
        if not key.startswith("arn:") and key != "*":
            key = f"arn:aws:kms:{region}:{ACCOUNT}:{key if key.startswith('alias/') else f'key/{key}'}"
        return [(f"kms:{operation}", key)]
    return [(f"{service}:{operation}", "*")]


class CallLog:
    """Every AWS call the in-process functions make, as (function, IAM action, resource ARN):
    the host's invocations name the function, boto3's default session's clients report the
    calls. For the report of grants no call uses (`python -m local_runtime.iam report`)."""

    def __init__(self, stack: Stack) -> None:
        import contextvars

        self.stack = stack
        self.calls: set[tuple[str, str, str]] = set()
        self._current: contextvars.ContextVar[str | None] = contextvars.ContextVar("function", default=None)

    def install(self, host: Any) -> CallLog:
        import boto3

        invoke = host.invoke

        def invoke_recorded(logical_id: str, event: dict[str, Any]) -> Any:
            token = self._current.set(logical_id)
            try:
                return invoke(logical_id, event)
            finally:
                self._current.reset(token)

        host.invoke = invoke_recorded
        boto3.setup_default_session()
        boto3.DEFAULT_SESSION.events.register("before-parameter-build", self._record)
        return self

    def _record(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        function = self._current.get()
        # botocore builds a presigned POST through the CreateBucket model: no call is made.
        if function is None or model.name == "CreateBucket":
            return
        service = model.service_model.signing_name
        for action, resource in requested(service, model.name, params, self.stack.region):
            self.calls.add((function, action, resource))

    def write(self, path: Path) -> None:
        path.write_text("".join(json.dumps(list(c)) + "\n" for c in sorted(self.calls)))


def report(stack: Stack, calls: Iterable[tuple[str, str, str]]) -> str:
    """Grants no call used (by function and resource), and calls no grant covers (AccessDenied
    in AWS)."""
    seen = sorted(set(calls))
    policies = function_policies(stack)
    unused: dict[tuple[str, str], list[str]] = {}
    for g in unused_grants(policies, seen):
        unused.setdefault((g.function, g.resource), []).append(g.action)
    lines = [f"grants no recorded call used ({len(seen)} distinct calls recorded):"]
    lines += [f"  {function}: {resource}: {', '.join(actions)}" for (function, resource), actions in unused.items()]
    lines.append("calls no grant covers:")
    for function, action, resource in seen:
        if not any(
            fnmatch.fnmatchcase(action, g.action) and fnmatch.fnmatchcase(resource, g.resource)
            for g in grants({function: policies.get(function, [])})
        ):
            lines.append(f"  {function}: {action} on {resource}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """`python -m local_runtime.iam report CALLS.jsonl`: the report of a recorded run (the local
    stack records one when ALBUMS_LOCAL_IAM_CALLS names a file)."""
    import sys

    from local_runtime.template import local_stack

    args = argv if argv is not None else sys.argv[1:]
    if len(args) != 2 or args[0] != "report":
        print("usage: python -m local_runtime.iam report CALLS.jsonl", file=sys.stderr)
        return 2
    calls = [tuple(json.loads(line)) for line in Path(args[1]).read_text().splitlines() if line.strip()]
    print(report(local_stack(), calls))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

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


# ---- the calls the functions made (recorded by the moto launcher) ------------------------------


def write_calls(path: Path, function_keys: dict[str, str]) -> None:
    """The calls the moto launcher recorded by access key (`<path>.keys`), written to `path` as
    (function, IAM action, resource) lines, by the function whose key made them."""
    raw = Path(f"{path}.keys")
    lines = raw.read_text().splitlines() if raw.exists() else []
    calls = set()
    for line in lines:
        key, action, resource = json.loads(line)[:3]
        if key in function_keys:
            calls.add((function_keys[key], action, resource))
    path.write_text("".join(json.dumps(list(c)) + "\n" for c in sorted(calls)))
    raw.unlink(missing_ok=True)


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

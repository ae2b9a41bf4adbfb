"""Create the template's tables, bucket and parameters on an AWS endpoint (moto).

Not emulated (`not_emulated`): the alarms, their SNS topic and the dashboard (no metrics reach
them locally: the functions' embedded-metric lines are printed with their logs), CloudFront
(the gateway serves /covers itself), the bucket policy. Functions, the HttpApi and the layer
are the worker host's and the gateway's."""

from __future__ import annotations

import json
import secrets
from typing import Any

from local_runtime.template import Stack


def table_definitions(stack: Stack) -> dict[str, dict[str, Any]]:
    """create_table arguments of every AWS::DynamoDB::Table, by logical id, from the template."""
    out = {}
    for logical, res in stack.of_type("AWS::DynamoDB::Table").items():
        props = stack.resolve(res["Properties"])
        args: dict[str, Any] = {
            "TableName": stack.physical[logical],
            "AttributeDefinitions": props["AttributeDefinitions"],
            "KeySchema": props["KeySchema"],
            "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
        }
        if props.get("GlobalSecondaryIndexes"):
            args["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
        if props.get("StreamSpecification"):
            args["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
        out[logical] = {"create": args, "ttl": props.get("TimeToLiveSpecification")}
    return out


def create_tables(stack: Stack, dynamodb: Any) -> None:
    existing = set(dynamodb.list_tables().get("TableNames", []))
    for spec in table_definitions(stack).values():
        args = spec["create"]
        if args["TableName"] in existing:
            continue
        dynamodb.create_table(**args)
        if spec["ttl"]:
            dynamodb.update_time_to_live(TableName=args["TableName"], TimeToLiveSpecification=spec["ttl"])


def create_buckets(stack: Stack, s3: Any) -> None:
    existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    for logical in stack.of_type("AWS::S3::Bucket"):
        name = stack.physical[logical]
        if name not in existing:
            s3.create_bucket(Bucket=name)


def create_cursor_key(stack: Stack, ssm: Any) -> None:
    """The list-cursor signing key: generated at start locally, a SecureString as in AWS."""
    name = "/" + stack.parameters["CursorKeyParameterName"]
    ssm.put_parameter(Name=name, Value=secrets.token_urlsafe(32), Type="SecureString", Overwrite=True)


def create_oauth_client_keys(stack: Stack, ssm: Any) -> None:
    """The OAuth client's key set (used only outside local mode: locally the client is the
    loopback one), so the JWKS and client-metadata endpoints answer as deployed."""
    from tools.oauth_key import key_set

    name = "/" + stack.parameters["OAuthKeyParameterName"]
    ssm.put_parameter(Name=name, Value=json.dumps(key_set()), Type="SecureString", Overwrite=True)


def create_keys(stack: Stack, kms: Any) -> None:
    aliases = {a["AliasName"] for a in kms.list_aliases().get("Aliases", [])}
    for logical in stack.of_type("AWS::KMS::Key"):
        alias = stack.physical[logical]
        if alias not in aliases:
            key = kms.create_key(Description=f"{stack.name} {logical}")["KeyMetadata"]["KeyId"]
            kms.create_alias(AliasName=alias, TargetKeyId=key)


def create_queues(stack: Stack, sqs: Any) -> None:
    for logical in stack.of_type("AWS::SQS::Queue"):
        sqs.create_queue(QueueName=stack.physical[logical])


# What the local stack creates or runs from the template; every other type is left out.
EMULATED = frozenset(
    {
        "AWS::DynamoDB::Table",
        "AWS::S3::Bucket",
        "AWS::KMS::Key",
        "AWS::SQS::Queue",
        "AWS::Serverless::Function",
        "AWS::Serverless::HttpApi",
        "AWS::Serverless::LayerVersion",
    }
)


def not_emulated(stack: Stack) -> dict[str, int]:
    """The template's resource types the local stack leaves out, with how many of each."""
    counts: dict[str, int] = {}
    for res in stack.resources.values():
        if res["Type"] not in EMULATED:
            counts[res["Type"]] = counts.get(res["Type"], 0) + 1
    return dict(sorted(counts.items()))


def create_all(stack: Stack, session: Any, endpoint: str) -> None:
    create_tables(stack, session.client("dynamodb", endpoint_url=endpoint))
    create_buckets(stack, session.client("s3", endpoint_url=endpoint))
    create_cursor_key(stack, session.client("ssm", endpoint_url=endpoint))
    create_oauth_client_keys(stack, session.client("ssm", endpoint_url=endpoint))
    create_keys(stack, session.client("kms", endpoint_url=endpoint))
    create_queues(stack, session.client("sqs", endpoint_url=endpoint))

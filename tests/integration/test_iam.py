"""IAM as deployed (local_runtime/iam.py): each function's policies expanded from the template as
`sam` expands them, one moto IAM user per function, and a call the template does not grant
answered AccessDenied, as in AWS."""

from __future__ import annotations

import copy
import dataclasses
import json
from typing import Any

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

from albums_core.adapters.dynamodb.catalogue import CatalogueRepository
from local_runtime.iam import create_function_users, function_policies, grants, unused_grants
from local_runtime.lambda_host import LambdaHost
from local_runtime.processes import MotoServer
from local_runtime.stack import aws_session
from local_runtime.template import ROOT, Stack
from local_runtime.upload_front import UploadFront
from tests.integration.factory import make_album, make_artist

EVENT = json.loads((ROOT / "events" / "list_artist_albums_200.json").read_text())


def without_catalogue_read(stack: Stack, function: str) -> Stack:
    """A copy of the template in which `function` lost its DynamoDBReadPolicy on the catalogue."""
    raw = copy.deepcopy(stack.raw)
    props = raw["Resources"][function]["Properties"]
    props["Policies"] = [p for p in props["Policies"] if "DynamoDBReadPolicy" not in p]
    return dataclasses.replace(stack, raw=raw)


def as_function(keys: dict[str, str], service: str, url: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=keys["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=keys["AWS_SECRET_ACCESS_KEY"],
    )


def test_sam_policy_templates_are_expanded_and_resolved(stack: Stack) -> None:
    policies = function_policies(stack)
    assert set(policies) == set(stack.functions())
    table = f"arn:aws:dynamodb:us-east-1:123456789012:table/{stack.physical['CatalogueTable']}"
    listed = {(g.action, g.resource) for g in grants({"f": policies["ListArtistAlbumsFunction"]})}
    assert ("dynamodb:Query", table) in listed and ("dynamodb:Query", f"{table}/index/*") in listed
    assert not any(a.startswith("dynamodb:PutItem") for a, _ in listed)
    upload_url = {g.action for g in grants({"f": policies["CoverUploadUrlFunction"]})}
    assert "s3:PutObject" in upload_url  # a presigned POST is signed with the function's own keys


def test_a_grant_the_template_lacks_is_access_denied(aws_env: None, moto: MotoServer, stack: Stack) -> None:
    planted = without_catalogue_read(stack, "ListArtistAlbumsFunction")
    keys = create_function_users(planted, aws_session(stack.region), moto.url)["ListArtistAlbumsFunction"]
    table = stack.physical["CatalogueTable"]
    key = {":pk": {"S": "artist#did:plc:x"}}
    denied = as_function(keys, "dynamodb", moto.url)
    with pytest.raises(ClientError) as refused:
        denied.query(TableName=table, KeyConditionExpression="pk = :pk", ExpressionAttributeValues=key)
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"

    granted = create_function_users(stack, aws_session(stack.region), moto.url)["ListArtistAlbumsFunction"]
    allowed = as_function(granted, "dynamodb", moto.url)
    allowed.query(TableName=table, KeyConditionExpression="pk = :pk", ExpressionAttributeValues=key)
    # Granted on the catalogue only: another table is refused.
    with pytest.raises(ClientError) as other:
        allowed.get_item(TableName=stack.physical["SessionsTable"], Key={"pk": {"S": "x"}})
    assert other.value.response["Error"]["Code"] == "AccessDeniedException"


def test_a_function_without_its_grant_fails_as_in_aws(aws_env: None, moto: MotoServer, stack: Stack) -> None:
    repo = CatalogueRepository()
    make_album(repo, make_artist(repo, "aurora.test"), "Northern Lights", tracks=1)

    def invoke_with(template: Stack) -> dict[str, Any]:
        # A worker signs with its function's keys, as a Lambda container uses its role's.
        keys = create_function_users(template, aws_session(stack.region), moto.url)["ListArtistAlbumsFunction"]
        host = LambdaHost(stack, moto.url, function_env={"ListArtistAlbumsFunction": keys}, export_environment=False)
        try:
            return dict(host.invoke("ListArtistAlbumsFunction", copy.deepcopy(EVENT)))
        finally:
            host.close()

    assert invoke_with(stack)["statusCode"] == 200
    failed = invoke_with(without_catalogue_read(stack, "ListArtistAlbumsFunction"))
    # What the function answers in AWS when its role lacks the grant: an internal error.
    assert failed["statusCode"] == 500, failed
    assert "AccessDenied" not in failed["body"] and "Traceback" not in failed["body"]


def test_unused_grants_are_reported(stack: Stack) -> None:
    policies = {"ListAlbumsFunction": function_policies(stack)["ListAlbumsFunction"]}
    table = f"arn:aws:dynamodb:us-east-1:123456789012:table/{stack.physical['CatalogueTable']}"
    calls = [("ListAlbumsFunction", "dynamodb:Query", f"{table}/index/gsi1")]
    unused = {(g.action, g.resource) for g in unused_grants(policies, calls)}
    assert ("dynamodb:Query", f"{table}/index/*") not in unused
    assert ("dynamodb:Query", table) in unused and ("dynamodb:GetItem", table) in unused


def test_s3_through_the_front_with_function_keys(aws_env: None, moto: MotoServer, stack: Stack) -> None:
    keys = create_function_users(stack, aws_session(stack.region), moto.url)
    signer = keys["CoverUploadUrlFunction"]
    front = UploadFront(moto.url, {signer["AWS_ACCESS_KEY_ID"]: signer["AWS_SECRET_ACCESS_KEY"]}).start()
    try:
        bucket = stack.physical["CoversBucket"]
        s3 = boto3.client(
            "s3",
            endpoint_url=front.url,
            region_name="us-east-1",
            config=Config(signature_version="s3v4"),
            aws_access_key_id=signer["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=signer["AWS_SECRET_ACCESS_KEY"],
        )
        form = s3.generate_presigned_post(
            Bucket=bucket, Key="uploads/x/y", Conditions=[["starts-with", "$Content-Type", "image/"]]
        )
        sent = requests.post(
            form["url"], data={**form["fields"], "Content-Type": "image/png"}, files={"file": b"png"}, timeout=30
        )
        assert sent.status_code == 204, sent.text
        # A function the template grants no S3 write is refused by moto, through the front.
        reader = as_function(keys["ListAlbumsFunction"], "s3", front.url)
        with pytest.raises(ClientError) as refused:
            reader.put_object(Bucket=bucket, Key="images/z.png", Body=b"z")
        assert refused.value.response["Error"]["Code"] == "AccessDenied"
        assert (
            aws_session(stack.region)
            .client("s3", endpoint_url=moto.url)
            .get_object(Bucket=bucket, Key="uploads/x/y")["Body"]
            .read()
            == b"png"
        )
    finally:
        front.stop()


def test_kms_decrypt_is_checked_against_the_key_of_the_ciphertext(
    aws_env: None, moto: MotoServer, stack: Stack
) -> None:
    keys = create_function_users(stack, aws_session(stack.region), moto.url)
    root = aws_session(stack.region).client("kms", endpoint_url=moto.url)
    blob = root.generate_data_key(KeyId=stack.physical["SessionsKey"], KeySpec="AES_256")["CiphertextBlob"]
    as_function(keys["AuthMeFunction"], "kms", moto.url).decrypt(CiphertextBlob=blob)
    with pytest.raises(ClientError) as refused:
        as_function(keys["ListAlbumsFunction"], "kms", moto.url).decrypt(CiphertextBlob=blob)
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"


def test_the_calls_of_each_function_are_recorded_by_the_server_for_the_report(stack: Stack, tmp_path: Any) -> None:
    """Every function runs in its own process, so the moto launcher records the calls (by key) and
    the stack names the functions: the report lists a grant no call used and no ungranted call."""
    from local_runtime.iam import report, write_calls
    from local_runtime.resources import create_all

    calls = tmp_path / "calls.jsonl"
    server = MotoServer(env={"ALBUMS_LOCAL_IAM_CALLS": str(calls)}).start()
    try:
        create_all(stack, aws_session(stack.region), server.url)
        keys = create_function_users(stack, aws_session(stack.region), server.url)["ListArtistAlbumsFunction"]
        table = stack.physical["CatalogueTable"]
        as_function(keys, "dynamodb", server.url).query(
            TableName=table, KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": {"S": "x"}}
        )
    finally:
        server.stop()
    write_calls(calls, {keys["AWS_ACCESS_KEY_ID"]: "ListArtistAlbumsFunction"})
    recorded = [tuple(json.loads(line)) for line in calls.read_text().splitlines()]
    arn = f"arn:aws:dynamodb:us-east-1:123456789012:table/{table}"
    assert recorded == [("ListArtistAlbumsFunction", "dynamodb:Query", arn)]
    text = report(stack, recorded)
    unused = text.split("calls no grant covers:")[0]
    assert "ListArtistAlbumsFunction" in unused and "dynamodb:GetItem" in unused
    assert text.rstrip().endswith("calls no grant covers:")


def test_delete_objects_is_authorised_per_key_as_s3_does(aws_env: None, moto: MotoServer, stack: Stack) -> None:
    """s3:DeleteObject granted on `bucket/*` covers a DeleteObjects of those keys (moto alone
    checks the bucket ARN and refuses every key); a function without the grant is refused."""
    bucket = stack.physical["CoversBucket"]
    root = aws_session(stack.region).client("s3", endpoint_url=moto.url)
    keys = create_function_users(stack, aws_session(stack.region), moto.url)
    batch = {"Objects": [{"Key": "images/a.png"}, {"Key": "images/a-96.webp"}], "Quiet": True}
    for key in ("images/a.png", "images/a-96.webp"):
        root.put_object(Bucket=bucket, Key=key, Body=b"x")
    refused = as_function(keys["ListAlbumsFunction"], "s3", moto.url).delete_objects(Bucket=bucket, Delete=batch)
    assert {e["Code"] for e in refused["Errors"]} == {"AccessDenied"}
    assert root.list_objects_v2(Bucket=bucket)["KeyCount"] == 2
    done = as_function(keys["UploadAlbumCoverFunction"], "s3", moto.url).delete_objects(Bucket=bucket, Delete=batch)
    assert not done.get("Errors") and root.list_objects_v2(Bucket=bucket)["KeyCount"] == 0

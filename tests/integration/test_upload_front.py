"""The local S3 front (local_runtime/upload_front.py) checks presigned POST forms as S3 does,
before the object reaches moto; the forms are the service's own (cover_service.Covers.upload_form).

moto alone stores whatever a form carries, so every refusal here is the front's."""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import requests
from botocore.config import Config

from albums_core import bootstrap
from albums_core.adapters.aws_clients import client
from albums_core.adapters.dynamodb.catalogue import CatalogueWriter
from albums_core.domain.models import Album
from albums_core.services import covers as cover_service
from local_runtime.lambda_host import LambdaHost
from local_runtime.processes import MotoServer
from local_runtime.template import Stack
from local_runtime.upload_front import UploadFront
from tests.integration.conftest import reset_caches
from tests.integration.factory import make_album, make_artist
from tests.unit.test_covers import noise, padded_png

MB = 2**20


@pytest.fixture(scope="module")
def front(moto: MotoServer) -> Iterator[UploadFront]:
    running = UploadFront(moto.url, {"testing": "testing"}).start()
    yield running
    running.stop()


@pytest.fixture
def via_front(aws_env: None, front: UploadFront, monkeypatch: pytest.MonkeyPatch) -> UploadFront:
    """The functions' S3 endpoint is the front, as in the local stack."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", front.url)
    reset_caches()
    return front


@pytest.fixture
def albums(via_front: UploadFront) -> tuple[Album, Album]:
    writer = CatalogueWriter()
    mine = make_album(writer, make_artist(writer, "kenji.test"), "Mine")[0]
    theirs = make_album(writer, make_artist(writer, "aurora.test"), "Theirs")[0]
    return mine, theirs


def stored(prefix: str) -> list[str]:
    listed = client("s3").list_objects_v2(Bucket=os.environ["COVERS_BUCKET"], Prefix=prefix)
    return [o["Key"] for o in listed.get("Contents", [])]


def post(form: dict[str, Any], data: bytes, content_type: str | None = "image/png", **extra: str) -> requests.Response:
    fields = {**form["fields"], **extra}
    if content_type is not None:
        fields["Content-Type"] = content_type
    return requests.post(form["url"], data=fields, files={"file": ("c.png", data, content_type or "")}, timeout=60)


def refused(reply: requests.Response, status: int, code: str) -> None:
    assert reply.status_code == status, reply.text
    assert f"<Code>{code}</Code>" in reply.text, reply.text


def test_the_form_is_sigv4_and_points_at_the_front(albums: tuple[Album, Album], via_front: UploadFront) -> None:
    form = bootstrap.covers().upload_form(albums[0])
    assert form["url"] == f"{via_front.url}/{os.environ['COVERS_BUCKET']}"
    assert {"x-amz-algorithm", "x-amz-credential", "x-amz-date", "x-amz-signature", "policy"} <= set(form["fields"])
    assert "AWSAccessKeyId" not in form["fields"] and "signature" not in form["fields"]
    assert form["fields"]["x-amz-algorithm"] == "AWS4-HMAC-SHA256"


def test_a_good_upload_reaches_moto_and_the_trigger_attaches_it(
    albums: tuple[Album, Album], moto: MotoServer, stack: Stack
) -> None:
    mine = albums[0]
    form = bootstrap.covers().upload_form(mine)
    data = padded_png(2 * MB, base=noise((30, 20)))
    assert post(form, data).status_code == 204
    assert stored(f"uploads/{mine.id}/") == [form["key"]]
    event = {
        "Records": [
            {
                "eventSource": "aws:s3",
                "eventName": "ObjectCreated:Post",
                "s3": {
                    "bucket": {"name": os.environ["COVERS_BUCKET"]},
                    "object": {"key": form["key"], "size": len(data)},
                },
            }
        ]
    }
    out = LambdaHost(stack, moto.url).invoke("ProcessCoverUploadFunction", event)
    assert out == {"processed": {form["key"]: "attached"}}


def test_a_swapped_key_is_refused(albums: tuple[Album, Album]) -> None:
    mine, theirs = albums
    form = bootstrap.covers().upload_form(mine)
    reply = post(form, noise(), key=f"uploads/{theirs.id}/{'0' * 32}")
    refused(reply, 403, "AccessDenied")
    assert "Policy Condition failed" in reply.text
    assert stored("uploads/") == []


def test_an_oversize_file_is_refused(albums: tuple[Album, Album]) -> None:
    refused(post(bootstrap.covers().upload_form(albums[0]), padded_png(20 * MB + 1)), 400, "EntityTooLarge")
    assert stored("uploads/") == []


def test_an_empty_file_is_refused(albums: tuple[Album, Album]) -> None:
    refused(post(bootstrap.covers().upload_form(albums[0]), b""), 400, "EntityTooSmall")


@pytest.mark.parametrize("content_type", ["text/html", "application/octet-stream", None])
def test_a_content_type_not_an_image_is_refused(albums: tuple[Album, Album], content_type: str | None) -> None:
    refused(post(bootstrap.covers().upload_form(albums[0]), noise(), content_type), 403, "AccessDenied")
    assert stored("uploads/") == []


def test_an_expired_policy_is_refused(albums: tuple[Album, Album], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cover_service, "UPLOAD_URL_SECONDS", 1)
    form = bootstrap.covers().upload_form(albums[0])
    time.sleep(2.1)
    reply = post(form, noise())
    refused(reply, 403, "AccessDenied")
    assert "Policy expired" in reply.text
    assert stored("uploads/") == []


def test_a_tampered_policy_is_refused(albums: tuple[Album, Album]) -> None:
    form = bootstrap.covers().upload_form(albums[0])
    policy = json.loads(base64.b64decode(form["fields"]["policy"]))
    policy["conditions"] = [
        ["content-length-range", 1, 100 * MB] if isinstance(c, list) and c[0] == "content-length-range" else c
        for c in policy["conditions"]
    ]
    form["fields"]["policy"] = base64.b64encode(json.dumps(policy).encode()).decode()
    refused(post(form, padded_png(21 * MB)), 403, "SignatureDoesNotMatch")
    assert stored("uploads/") == []


def test_a_field_the_policy_does_not_name_is_refused(albums: tuple[Album, Album]) -> None:
    reply = post(bootstrap.covers().upload_form(albums[0]), noise(), acl="public-read")
    refused(reply, 403, "AccessDenied")
    assert "Extra input fields: acl" in reply.text


def test_an_unknown_access_key_is_refused(albums: tuple[Album, Album]) -> None:
    form = bootstrap.covers().upload_form(albums[0])
    form["fields"]["x-amz-credential"] = form["fields"]["x-amz-credential"].replace("testing/", "AKIAOTHER/", 1)
    refused(post(form, noise()), 403, "InvalidAccessKeyId")


def test_a_sigv2_form_is_refused_as_new_buckets_do(albums: tuple[Album, Album], via_front: UploadFront) -> None:
    sigv2 = boto3.client(
        "s3", endpoint_url=via_front.url, config=Config(signature_version="s3"), region_name="us-east-1"
    )
    key = f"uploads/{albums[0].id}/{'1' * 32}"
    form = sigv2.generate_presigned_post(
        Bucket=os.environ["COVERS_BUCKET"], Key=key, Conditions=[["starts-with", "$Content-Type", "image/"]]
    )
    refused(post(form, noise()), 400, "InvalidRequest")
    assert stored("uploads/") == []


def test_other_s3_calls_pass_through(via_front: UploadFront) -> None:
    s3 = client("s3")
    bucket = os.environ["COVERS_BUCKET"]
    s3.put_object(Bucket=bucket, Key="images/x.png", Body=b"abc", ContentType="image/png")
    assert s3.get_object(Bucket=bucket, Key="images/x.png")["Body"].read() == b"abc"
    s3.delete_object(Bucket=bucket, Key="images/x.png")
    assert stored("images/") == []

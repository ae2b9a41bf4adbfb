"""Presigned cover uploads through the running local stack: the form the service hands out is
SigV4 and points at the local S3 front, which refuses what S3 refuses (the front's own cases
are in tests/integration/test_upload_front.py)."""

from __future__ import annotations

import time
from typing import Any

from tests.e2e.conftest import Api
from tests.e2e.test_covers_api import (  # noqa: F401 - fixtures
    accepted,
    aurora,
    kenji,
    new_album,
    noise,
    post_to_s3,
    s3,
    upload,
    upload_form,
    uploads_of,
)


def test_the_form_is_sigv4_and_its_url_is_the_s3_front(api: Api, kenji: str) -> None:  # noqa: F811
    target = upload_form(api, new_album(api, kenji, "SigV4 Form"), kenji)
    assert target["url"].startswith(api.state["s3_endpoint_url"] + "/")
    assert target["fields"]["x-amz-algorithm"] == "AWS4-HMAC-SHA256"
    assert {"x-amz-credential", "x-amz-date", "x-amz-signature", "policy"} <= set(target["fields"])


def test_a_swapped_key_cannot_replace_another_artists_cover(
    api: Api,
    kenji: str,  # noqa: F811
    aurora: str,  # noqa: F811
    s3: Any,  # noqa: F811
) -> None:
    theirs = new_album(api, aurora, "Not Yours")
    cover = accepted(upload(api, theirs["id"], noise(), aurora))
    target = upload_form(api, new_album(api, kenji, "Key Swapper"), kenji)
    target["fields"]["key"] = f"uploads/{theirs['id']}/{'0' * 32}"
    sent = post_to_s3(target, noise())
    assert sent.status_code == 403 and "<Code>AccessDenied</Code>" in sent.text, sent.text
    time.sleep(1.5)  # what the S3 pump would have delivered by now
    assert uploads_of(s3, api, theirs) == []
    page = api.get(f"/albums/aurora.test/{theirs['slug']}")
    assert page.status == 200 and page.json()["metadata"]["image_url"] == cover["image_url"]

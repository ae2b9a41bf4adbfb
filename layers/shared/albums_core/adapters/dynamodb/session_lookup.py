"""Session lookup: who is calling. Sessions are keyed by the SHA-256 of their id, so the
table never holds a usable session id."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from albums_core.adapters.aws_clients import dynamodb
from albums_core.config import settings
from albums_core.domain.sessions import Viewer, session_key

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

COOKIE_NAME = "session_id"
SESSION_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{16,256}$")


def credentials_from(headers: Mapping[str, str] | None, cookies: Sequence[str] | None) -> str | None:
    """The session id the request carries: the `session_id` cookie first, else a Bearer token."""
    headers = {k.lower(): v for k, v in (headers or {}).items()}
    jar = list(cookies or [])
    if "cookie" in headers:
        jar.extend(headers["cookie"].split(";"))
    for pair in jar:
        name, _, value = pair.strip().partition("=")
        if name.strip() == COOKIE_NAME and value.strip():
            return value.strip()
    auth = headers.get("authorization", "")
    scheme, _, token = auth.strip().partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def lookup_viewer(session_id: str, client: DynamoDBClient | None = None, table: str | None = None) -> Viewer | None:
    """The session's viewer, or None when the id is malformed, unknown or expired (TTL
    deletion lags, so expiry is checked here)."""
    if not SESSION_ID_PATTERN.match(session_id):
        return None
    out = (client or dynamodb()).get_item(
        TableName=table or settings().sessions_table,
        Key={"session_key": {"S": session_key(session_id)}},
        ProjectionExpression="did, handle, expires_at",
    )
    item = out.get("Item")
    if not item:
        return None
    try:
        if int(item["expires_at"]["N"]) <= time.time():
            return None
        return Viewer(did=item["did"]["S"], handle=item.get("handle", {}).get("S"))
    except (KeyError, ValueError):
        return None

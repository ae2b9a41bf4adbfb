"""SSM parameters are kept for a max age, then read again: a rotated cursor key (or OAuth
client key set) reaches a warm container without a deploy. The clock Powertools' cache reads is
moved forward here; nothing waits."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import boto3
import pytest
from tools.oauth_key import key_set

from albums_core import config
from albums_core.adapters import cursor_signing, parameters
from albums_core.adapters.atproto import oauth_keys
from albums_core.adapters.aws_clients import client
from albums_core.domain.errors import InvalidCursor


class Clock:
    """Powertools' parameter cache asks `datetime.now()` whether a value has expired."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from aws_lambda_powertools.utilities.parameters import base

        self.shift = timedelta(0)
        clock = self

        class Shifted(datetime):
            @classmethod
            def now(cls, tz: object = None) -> Shifted:  # type: ignore[override]
                return datetime.now(tz) + clock.shift  # type: ignore[arg-type,return-value]

        monkeypatch.setattr(base, "datetime", Shifted)
        # The rotation's own clock (parameters.clock), moved with it.
        start = parameters.clock()
        monkeypatch.setattr(parameters, "clock", lambda: start + clock.shift.total_seconds())

    def advance(self, seconds: float) -> None:
        self.shift += timedelta(seconds=seconds)


def put(name: str, value: str) -> None:
    client("ssm").put_parameter(Name=name, Value=value, Type="SecureString", Overwrite=True)


def test_a_rotated_cursor_key_is_used_once_the_max_age_has_passed(
    aws_env: None, settings_env: pytest.MonkeyPatch
) -> None:
    clock = Clock(settings_env)
    settings_env.setenv("CURSOR_KEY_PARAMETER", "/test/cursor-key")
    put("/test/cursor-key", "first-key-0123456789")
    old = cursor_signing.encode_cursor({"a": "1"})
    assert cursor_signing.signing_key() == b"first-key-0123456789"

    put("/test/cursor-key", "second-key-0123456789")
    clock.advance(parameters.MAX_AGE_SECONDS - 1)
    assert cursor_signing.signing_key() == b"first-key-0123456789"  # kept: no SSM call per cursor
    clock.advance(2)
    assert cursor_signing.signing_key() == b"second-key-0123456789"
    assert cursor_signing.encode_cursor({"a": "1"}) != old  # signed with the new key


def test_a_refresh_ssm_cannot_answer_keeps_the_value_read_before(
    aws_env: None, settings_env: pytest.MonkeyPatch
) -> None:
    clock = Clock(settings_env)
    settings_env.setenv("CURSOR_KEY_PARAMETER", "/test/cursor-key")
    put("/test/cursor-key", "first-key-0123456789")
    assert cursor_signing.signing_key() == b"first-key-0123456789"
    # SSM answers an error from now on (a stock client: the layer's has only Parameters' calls).
    boto3.client("ssm").delete_parameter(Name="/test/cursor-key")
    clock.advance(parameters.MAX_AGE_SECONDS + 1)
    assert cursor_signing.signing_key() == b"first-key-0123456789"
    put("/test/cursor-key", "second-key-0123456789")  # answering again: the new value
    assert cursor_signing.signing_key() == b"second-key-0123456789"


def test_a_parameter_never_read_is_still_an_error(aws_env: None, settings_env: pytest.MonkeyPatch) -> None:
    from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

    with pytest.raises(GetParameterError):
        parameters.secret("/test/never-there")


def test_a_promoted_oauth_client_key_signs_once_the_max_age_has_passed(
    aws_env: None, settings_env: pytest.MonkeyPatch
) -> None:
    clock = Clock(settings_env)
    settings_env.setenv("OAUTH_KEY_PARAMETER", "/test/oauth-keys")
    config.settings.cache_clear()
    first = key_set()
    put("/test/oauth-keys", json.dumps(first))
    assert oauth_keys.client_keys()[0][0] == first["keys"][0]["kid"]

    promoted = key_set(key_set(first, "add"), "promote")
    put("/test/oauth-keys", json.dumps(promoted))
    assert oauth_keys.client_keys()[0][0] == first["keys"][0]["kid"]
    clock.advance(parameters.MAX_AGE_SECONDS + 1)
    assert [k for k, _, _ in oauth_keys.client_keys()] == [k["kid"] for k in promoted["keys"]]


POSITION = {"pk": "ALBUM#1", "sk": "ALBUM", "gsi1pk": "LISTED", "gsi1sk": "abc"}
FIELDS = frozenset(POSITION)


def test_a_cursor_of_the_page_before_a_rotation_is_accepted_while_the_rotation_is_fresh(
    aws_env: None, settings_env: pytest.MonkeyPatch
) -> None:
    clock = Clock(settings_env)
    settings_env.setenv("CURSOR_KEY_PARAMETER", "/test/cursor-key")
    put("/test/cursor-key", "first-key-0123456789")
    page_one = cursor_signing.encode_cursor(POSITION)  # the next_cursor of page one
    put("/test/cursor-key", "second-key-0123456789")
    clock.advance(parameters.MAX_AGE_SECONDS + 1)
    # Page two, asked of a container that has read the new key meanwhile.
    assert cursor_signing.decode_cursor(page_one, FIELDS) == POSITION
    assert cursor_signing.signing_key() == b"second-key-0123456789"
    # Not for ever: once the rotation is old, the replaced key is retired.
    clock.advance(cursor_signing.PREVIOUS_KEY_SECONDS)
    with pytest.raises(InvalidCursor):
        cursor_signing.decode_cursor(page_one, FIELDS)


def test_a_cursor_signed_with_a_key_newer_than_the_one_held_is_accepted(
    aws_env: None, settings_env: pytest.MonkeyPatch
) -> None:
    clock = Clock(settings_env)
    settings_env.setenv("CURSOR_KEY_PARAMETER", "/test/cursor-key")
    put("/test/cursor-key", "first-key-0123456789")
    assert cursor_signing.signing_key() == b"first-key-0123456789"  # held for the max age
    put("/test/cursor-key", "second-key-0123456789")
    # Page one came from a container that already signs with the new key.
    page_one = cursor_signing.encode_cursor(POSITION, b"second-key-0123456789")
    assert cursor_signing.decode_cursor(page_one, FIELDS) == POSITION  # read again, past the cache
    assert cursor_signing.signing_key() == b"second-key-0123456789"
    old = cursor_signing.encode_cursor(POSITION, b"first-key-0123456789")
    assert cursor_signing.decode_cursor(old, FIELDS) == POSITION  # and the old key's, still fresh
    # A cursor no key verifies reads the parameter again at most once per REFRESH_SECONDS.
    reads = []
    settings_env.setattr(parameters, "secret", _counting(parameters.secret, reads))
    forged = cursor_signing.encode_cursor(POSITION, b"forged-key-0123456789")
    for _ in range(3):
        with pytest.raises(InvalidCursor):
            cursor_signing.decode_cursor(forged, FIELDS)
    assert reads.count(True) == 0  # the last forced read was just now
    clock.advance(cursor_signing.REFRESH_SECONDS)
    for _ in range(3):
        with pytest.raises(InvalidCursor):
            cursor_signing.decode_cursor(forged, FIELDS)
    assert reads.count(True) == 1


def test_a_container_started_after_a_rotation_accepts_the_keys_the_parameter_lists(
    aws_env: None, settings_env: pytest.MonkeyPatch
) -> None:
    settings_env.setenv("CURSOR_KEY_PARAMETER", "/test/cursor-key")
    put("/test/cursor-key", "second-key-0123456789 first-key-0123456789")
    lagging = cursor_signing.encode_cursor(POSITION, b"first-key-0123456789")
    assert cursor_signing.decode_cursor(lagging, FIELDS) == POSITION
    assert cursor_signing.signing_key() == b"second-key-0123456789"


def _counting(secret: Any, reads: list[bool]) -> Any:
    def read(name: str, max_age: int = parameters.MAX_AGE_SECONDS, force: bool = False) -> str:
        reads.append(force)
        return str(secret(name, max_age, force))

    return read


def test_a_key_retired_from_the_list_is_not_accepted_again(aws_env: None, settings_env: pytest.MonkeyPatch) -> None:
    # A -> "B A" (B signs, A still accepted) -> "B" (A retired): the value replaced last is
    # "B A", whose signing key is B; A must not come back for another rotation window.
    clock = Clock(settings_env)
    settings_env.setenv("CURSOR_KEY_PARAMETER", "/test/cursor-key")
    put("/test/cursor-key", "second-key-0123456789 first-key-0123456789")
    retired = cursor_signing.encode_cursor(POSITION, b"first-key-0123456789")
    assert cursor_signing.decode_cursor(retired, FIELDS) == POSITION
    put("/test/cursor-key", "second-key-0123456789")
    clock.advance(parameters.MAX_AGE_SECONDS + 1)
    assert cursor_signing.signing_key() == b"second-key-0123456789"
    with pytest.raises(InvalidCursor):
        cursor_signing.decode_cursor(retired, FIELDS)

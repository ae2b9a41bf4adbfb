"""SSM parameters through Powertools Parameters: each value kept in the container for at most
MAX_AGE_SECONDS, then read again, so a rotated key (the cursor key, the OAuth client's keys)
reaches warm containers without a deploy."""

from __future__ import annotations

import time
from functools import cache

from aws_lambda_powertools.utilities.parameters import SSMProvider
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

from albums_core.adapters.aws_clients import client
from albums_core.observability import logger

MAX_AGE_SECONDS = 300
# The last value read of each parameter: served when a later read fails (SSM throttled or down),
# so a refresh never turns every warm container's requests into errors.
_last: dict[str, str] = {}
# The value each parameter had before its last change this container saw, and when it saw it.
_before: dict[str, tuple[str, float]] = {}
# When each parameter was last read past the cache (`refresh`).
_forced: dict[str, float] = {}
# Monotonic seconds (tests move it).
clock = time.monotonic


@cache
def _provider() -> SSMProvider:
    # Our client (its timeouts and retries, the local endpoint), not one Powertools makes.
    return SSMProvider(boto3_client=client("ssm"))


def secret(name: str, max_age: int = MAX_AGE_SECONDS, force: bool = False) -> str:
    """A SecureString's value, decrypted; read again once it is older than `max_age` seconds
    (the value read before is kept while SSM cannot answer), or now with `force`."""
    try:
        value = str(_provider().get(name, decrypt=True, max_age=max_age, force_fetch=force))
    except GetParameterError:
        if name not in _last:
            raise
        logger.warning(
            "SSM parameter could not be read again; the value read before is kept", extra={"parameter": name}
        )
        return _last[name]
    if name in _last and _last[name] != value:
        _before[name] = (_last[name], clock())
    _last[name] = value
    return value


def previous(name: str, hold_seconds: float) -> str | None:
    """The value `name` had before its last change, while this container saw that change less
    than `hold_seconds` ago (a rotation still fresh); None otherwise."""
    before = _before.get(name)
    return before[0] if before and clock() - before[1] < hold_seconds else None


def refresh(name: str, min_interval: float) -> str | None:
    """The value read past the cache, at most once per `min_interval` seconds (None when one
    was read more recently): a value another container already uses, without one SSM call
    per request that asks."""
    now = clock()
    if name in _forced and now - _forced[name] < min_interval:
        return None
    _forced[name] = now
    return secret(name, force=True)


def clear() -> None:
    """Forget every value and the client (tests: a new moto, a changed parameter)."""
    _last.clear()
    _before.clear()
    _forced.clear()
    if _provider.cache_info().currsize:
        _provider().clear_cache()
    _provider.cache_clear()

"""SSM parameters through Powertools Parameters: each value kept in the container for at most
MAX_AGE_SECONDS, then read again, so a rotated key (the cursor key, the OAuth client's keys)
reaches warm containers without a deploy."""

from __future__ import annotations

from functools import cache

from aws_lambda_powertools.utilities.parameters import SSMProvider

from albums_core.adapters.aws_clients import client

MAX_AGE_SECONDS = 300


@cache
def _provider() -> SSMProvider:
    # Our client (its timeouts and retries, the local endpoint), not one Powertools makes.
    return SSMProvider(boto3_client=client("ssm"))


def secret(name: str, max_age: int = MAX_AGE_SECONDS) -> str:
    """A SecureString's value, decrypted; read again once it is older than `max_age` seconds."""
    return str(_provider().get(name, decrypt=True, max_age=max_age))


def clear() -> None:
    """Forget every value and the client (tests: a new moto, a changed parameter)."""
    if _provider.cache_info().currsize:
        _provider().clear_cache()
    _provider.cache_clear()

"""SSM parameters through Powertools Parameters: each value kept in the container for at most
MAX_AGE_SECONDS, then read again, so a rotated key (the cursor key, the OAuth client's keys)
reaches warm containers without a deploy."""

from __future__ import annotations

from functools import cache

from aws_lambda_powertools.utilities.parameters import SSMProvider
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

from albums_core.adapters.aws_clients import client
from albums_core.observability import logger

MAX_AGE_SECONDS = 300
# The last value read of each parameter: served when a later read fails (SSM throttled or down),
# so a refresh never turns every warm container's requests into errors.
_last: dict[str, str] = {}


@cache
def _provider() -> SSMProvider:
    # Our client (its timeouts and retries, the local endpoint), not one Powertools makes.
    return SSMProvider(boto3_client=client("ssm"))


def secret(name: str, max_age: int = MAX_AGE_SECONDS) -> str:
    """A SecureString's value, decrypted; read again once it is older than `max_age` seconds
    (the value read before is kept while SSM cannot answer)."""
    try:
        value = str(_provider().get(name, decrypt=True, max_age=max_age))
    except GetParameterError:
        if name not in _last:
            raise
        logger.warning(
            "SSM parameter could not be read again; the value read before is kept", extra={"parameter": name}
        )
        return _last[name]
    _last[name] = value
    return value


def clear() -> None:
    """Forget every value and the client (tests: a new moto, a changed parameter)."""
    _last.clear()
    if _provider.cache_info().currsize:
        _provider().clear_cache()
    _provider.cache_clear()

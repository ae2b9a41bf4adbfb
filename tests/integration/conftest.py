"""moto in server mode, resources created from template.yaml, a loopback record server."""

from __future__ import annotations

import os
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from albums_core import bootstrap, config
from albums_core.adapters import aws_clients as aws
from albums_core.adapters import parameters
from albums_core.adapters.atproto import identity
from albums_core.adapters.dynamodb.catalogue import CatalogueRepository
from local_runtime.processes import MotoServer
from local_runtime.record_server import RecordServer, RecordStore
from local_runtime.resources import create_all
from local_runtime.stack import aws_session
from local_runtime.template import Stack, local_stack


def reset_caches() -> None:
    aws.client.cache_clear()
    config.settings.cache_clear()
    parameters.clear()
    identity.clear_cache()
    bootstrap.reset()


CLOSED = "http://127.0.0.1:9"  # identity lookups go nowhere unless a test starts the local PDS


@pytest.fixture(scope="session")
def stack() -> Stack:
    return local_stack(overrides={"PlcUrl": CLOSED, "HandleResolverUrl": CLOSED, "RelayUrl": "ws://127.0.0.1:9"})


@pytest.fixture(scope="session")
def moto() -> Iterator[MotoServer]:
    server = MotoServer().start()
    os.environ["AWS_ENDPOINT_URL"] = server.url
    reset_caches()
    yield server
    server.stop()
    os.environ.pop("AWS_ENDPOINT_URL", None)


class _CachedClients:
    """A boto3 session whose clients are made once: making the six clients cost about as much
    as the fifteen calls create_all sends with them (a quarter second a test, more under load)."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.made: dict[tuple[str, str], Any] = {}

    def client(self, name: str, endpoint_url: str) -> Any:
        if (name, endpoint_url) not in self.made:
            self.made[name, endpoint_url] = self.session.client(name, endpoint_url=endpoint_url)
        return self.made[name, endpoint_url]


@pytest.fixture(scope="session")
def setup_clients(stack: Stack) -> _CachedClients:
    return _CachedClients(aws_session(stack.region))


@pytest.fixture
def aws_env(moto: MotoServer, stack: Stack, setup_clients: _CachedClients) -> Iterator[None]:
    """Empty tables and bucket, made from template.yaml, for each test."""
    request = urllib.request.Request(f"{moto.url}/moto-api/reset", method="POST")
    urllib.request.urlopen(request, timeout=5).close()
    create_all(stack, setup_clients, moto.url)
    reset_caches()
    yield
    reset_caches()


@pytest.fixture(scope="session")
def record_server() -> Iterator[RecordServer]:
    server = RecordServer().start()
    yield server
    server.stop()


@pytest.fixture
def pds(record_server: RecordServer) -> RecordServer:
    record_server.store = RecordStore()
    return record_server


@pytest.fixture
def repo(aws_env: None) -> CatalogueRepository:
    return CatalogueRepository()


@pytest.fixture
def settings_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """Change a setting for one test: set the variable, the cached settings are re-read."""
    config.settings.cache_clear()
    bootstrap.reset()
    yield monkeypatch
    config.settings.cache_clear()
    bootstrap.reset()


# The real local PDS and the write side's fixtures (logged-in artists, a fault proxy).
from tests.integration.pds_fixture import local_pds  # noqa: E402, F401
from tests.integration.write_fixtures import alice, bob, faulty, pds_env  # noqa: E402, F401

"""Session fixture: one real local PDS + PLC (pds/start.mjs) with two accounts.

Wire it in with ``from tests.integration.pds_fixture import local_pds`` in a conftest.py (or
``pytest_plugins``). The first run on a machine installs Node 22 + @atproto/dev-env into the
cache (~1.5 min, see pds/install.sh); later runs start in about 2 s.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from local_runtime.pds import LocalPds

ACCOUNTS: list[dict[str, str]] = [
    {"handle": "alice.test", "password": "alice-pass-1234", "email": "alice@example.com"},
    {"handle": "bob.test", "password": "bob-pass-1234", "email": "bob@example.com"},
]


@pytest.fixture(scope="session")
def local_pds() -> Iterator[LocalPds]:
    pds = LocalPds().start(ACCOUNTS)
    try:
        yield pds
    finally:
        pds.stop()

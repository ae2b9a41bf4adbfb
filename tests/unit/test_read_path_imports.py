"""The read functions' init loads only what an anonymous read needs (issue 22 §6, bench section 1):
the mutation guards, the album admin and the services behind it, and the firehose's domain
types are imported by the functions that use them, not by every handler that imports bootstrap;
the ports (protocols) are not imported at run time by the read services."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Never needed by an anonymous album page, artist page or listing.
DEFERRED = (
    "albums_core.http.guards",
    "albums_core.services.album_admin",
    "albums_core.services.album_membership",
    "albums_core.services.auth",
    "albums_core.services.cleanup",
    "albums_core.services.covers",
    "albums_core.domain.cover_images",
    "albums_core.domain.firehose_events",
    # Protocols: the services name them for the type checker only.
    "albums_core.ports",
)

_PROBE = """
import json, sys
sys.path[:0] = [sys.argv[1], sys.argv[2]]
import app
wanted = json.loads(sys.argv[3])
print(json.dumps(sorted(m for m in wanted if m in sys.modules)))
"""


def _function_environment() -> dict[str, str]:
    from local_runtime.lambda_host import local_environment
    from local_runtime.template import local_stack

    stack = local_stack()
    env = dict(os.environ)
    env.update(local_environment(stack, "http://127.0.0.1:1"))
    for fn in stack.functions().values():
        env.update(fn.environment)
    return env


def _loaded(probe: str, function: str, modules: tuple[str, ...] | list[str]) -> list[str]:
    """Which of `modules` the probe leaves loaded in a fresh interpreter with the function's
    code, the layer and the function's environment (the probe prints them last)."""
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            probe,
            str(ROOT / "functions" / function),
            str(ROOT / "layers" / "shared"),
            json.dumps(modules),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=_function_environment(),
        cwd=ROOT,
        check=True,
    )
    return list(json.loads(out.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize("function", ["get_album", "list_albums", "list_artist_albums", "get_artist"])
def test_a_read_functions_init_does_not_load_the_write_side(function: str) -> None:
    assert _loaded(_PROBE, function, DEFERRED) == []


def test_the_mutation_guards_still_load_where_they_are_used() -> None:
    from albums_core import bootstrap

    assert callable(bootstrap.album_guard("album not found")) and callable(bootstrap.list_guard())


_WIRED_PROBE = """
import json, sys
sys.path[:0] = [sys.argv[1], sys.argv[2]]
import app
from albums_core import bootstrap
bootstrap.album_pages()
assert bootstrap.pds_reader().list_order(None, None) is None
print(json.dumps(sorted(m for m in json.loads(sys.argv[3]) if m in sys.modules)))
"""


def test_get_albums_wiring_does_not_load_the_xrpc_client() -> None:
    """What a cache miss wires (catalogue, page cache, the PDS reader): the list record is read
    through public_reads; the write path's XRPC client stays unloaded."""
    assert _loaded(_WIRED_PROBE, "get_album", [*DEFERRED, "albums_core.adapters.atproto.xrpc"]) == []

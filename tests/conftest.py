"""Environment shared by every test: the local stack's resource names, fake credentials, no
X-Ray daemon. Set before any albums_core module reads its settings."""

from __future__ import annotations

import os

from local_runtime.lambda_host import local_environment
from local_runtime.template import local_stack

_STACK = local_stack()
for _key, _value in {
    **local_environment(_STACK, "http://127.0.0.1:1"),
    **_STACK.functions()["GetAlbumFunction"].environment,
    **_STACK.functions()["ListAlbumsFunction"].environment,
}.items():
    os.environ[_key] = _value
# Tests talk to 127.0.0.1 only: identity lookups go to a closed loopback port unless a test
# points them at the local PDS.
os.environ["PLC_URL"] = "http://127.0.0.1:9"
os.environ["HANDLE_RESOLVER_URL"] = "http://127.0.0.1:9"
# Unit tests never reach AWS; integration tests point this at their moto server.
os.environ.pop("AWS_ENDPOINT_URL", None)

"""Rewriting DID documents on the local PLC directory, as their owners can.

An account created with a recovery key of ours (createAccount's `recoveryKey`) lists that key
first among its rotation keys, so we can sign PLC updates for it: e.g. make its document claim
a handle it does not own. Signing is done by tests/support/plc_ops.mjs with @did-plc/lib from
the local PDS's install."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local_runtime.pds import LocalPds, ensure_installed

_SCRIPT = Path(__file__).with_name("plc_ops.mjs")


def _run(config: dict[str, Any]) -> dict[str, Any]:
    home = ensure_installed()
    proc = subprocess.run(
        [str(home / "node" / "bin" / "node"), str(_SCRIPT), json.dumps({**config, "home": str(home)})],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"plc_ops.mjs failed: {proc.stderr[-2000:]}")
    out: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return out


@dataclass
class OwnedAccount:
    """An account on the local PDS whose DID document we can rewrite."""

    pds: LocalPds
    handle: str
    did: str
    password: str
    key: str

    def claim(self, *also_known_as: str) -> None:
        """Replace the document's alsoKnownAs (handles given bare, as `x.test`)."""
        _run(
            {
                "action": "aka",
                "plc_url": self.pds.plc_url,
                "did": self.did,
                "key": self.key,
                "also_known_as": [f"at://{h}" for h in also_known_as],
            }
        )

    def move_to(self, endpoint: str) -> None:
        """Point the document's PDS service (#atproto_pds) at `endpoint`."""
        _run(
            {"action": "endpoint", "plc_url": self.pds.plc_url, "did": self.did, "key": self.key, "endpoint": endpoint}
        )

    def sign_with(self, did_key: str) -> None:
        """Make `did_key` the repository's signing key (#atproto): commits signed with it verify
        (the PDS's own no longer do)."""
        _run(
            {"action": "signing", "plc_url": self.pds.plc_url, "did": self.did, "key": self.key, "signing_key": did_key}
        )


def create_owned_account(pds: LocalPds, handle: str, password: str) -> OwnedAccount:
    key = _run({"action": "keygen"})
    from local_runtime.pds import _xrpc_post

    res = _xrpc_post(
        pds.pds_url,
        "com.atproto.server.createAccount",
        {
            "handle": handle,
            "email": f"{handle.replace('.', '-')}@example.com",
            "password": password,
            "recoveryKey": key["did"],
        },
    )
    return OwnedAccount(pds, str(res["handle"]), str(res["did"]), password, str(key["key"]))

"""The OAuth client's keys, as the SSM SecureString holds them: {"keys": [P-256 private JWK, ...]}.
The first key signs client assertions; all of them are published at /.well-known/jwks.json.
Functions read the set again every few minutes (adapters/parameters.py, MAX_AGE_SECONDS), so a rotation needs no deploy:

    python -m tools.oauth_key                      # a new key set of one key
    python -m tools.oauth_key --add < keys.json    # 1. publish a new key (last: it does not sign yet)
    python -m tools.oauth_key --promote < keys.json  # 2. after > 5 minutes: the newest key signs
    python -m tools.oauth_key --drop-old < keys.json # 3. a day later: only the signing key is kept

Write each output with `aws ssm put-parameter --type SecureString --overwrite --name /<OAuthKeyParameterName>`.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import time
from typing import Any


def _b64url(number: int) -> str:
    return base64.urlsafe_b64encode(number.to_bytes(32, "big")).rstrip(b"=").decode("ascii")


def new_key() -> dict[str, str]:
    from cryptography.hazmat.primitives.asymmetric import ec

    private = ec.generate_private_key(ec.SECP256R1())
    numbers = private.private_numbers()
    return {
        "kty": "EC",
        "crv": "P-256",
        "kid": f"albums-{int(time.time() * 1000)}",
        "x": _b64url(numbers.public_numbers.x),
        "y": _b64url(numbers.public_numbers.y),
        "d": _b64url(numbers.private_value),
    }


def key_set(existing: dict[str, Any] | None = None, step: str = "") -> dict[str, Any]:
    """The key set after a rotation step: "" (a new set when there is none), "add", "promote"
    (the last key first) or "drop-old" (the first key only)."""
    keys = list((existing or {}).get("keys") or [])
    if step == "add":
        keys.append(new_key())
    elif step == "promote" and keys:
        keys.insert(0, keys.pop())
    elif step == "drop-old":
        keys = keys[:1]
    elif not keys:
        keys = [new_key()]
    return {"keys": keys}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    steps = parser.add_mutually_exclusive_group()
    for step in ("add", "promote", "drop-old"):
        steps.add_argument(f"--{step}", dest="step", action="store_const", const=step, help="read the set on stdin")
    args = parser.parse_args()
    existing = json.load(sys.stdin) if args.step else None
    print(json.dumps(key_set(existing, args.step or "")))


if __name__ == "__main__":
    main()

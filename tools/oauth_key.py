"""The OAuth client's keys, as the SSM SecureString holds them: {"keys": [P-256 private JWK, ...]}.
The first key signs client assertions; all of them are published at /.well-known/jwks.json.

    python -m tools.oauth_key                      # a new key set of one key
    python -m tools.oauth_key --rotate < old.json  # a new key first, the old ones kept (drop them later)
    python -m tools.oauth_key --drop-old < keys.json  # only the first (signing) key

Write the output with `aws ssm put-parameter --type SecureString --overwrite --name /<OAuthKeyParameterName>`.
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
        "kid": f"albums-{int(time.time())}",
        "x": _b64url(numbers.public_numbers.x),
        "y": _b64url(numbers.public_numbers.y),
        "d": _b64url(numbers.private_value),
    }


def key_set(existing: dict[str, Any] | None = None, rotate: bool = False, drop_old: bool = False) -> dict[str, Any]:
    keys = list((existing or {}).get("keys") or [])
    if drop_old:
        return {"keys": keys[:1]}
    if rotate or not keys:
        keys.insert(0, new_key())
    return {"keys": keys}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rotate", action="store_true", help="read the current set on stdin, put a new key first")
    parser.add_argument("--drop-old", action="store_true", help="read the current set on stdin, keep the first key")
    args = parser.parse_args()
    existing = json.load(sys.stdin) if args.rotate or args.drop_old else None
    print(json.dumps(key_set(existing, rotate=args.rotate, drop_old=args.drop_old)))


if __name__ == "__main__":
    main()

"""An OAuth grant (what a signed-in OAuth session holds) and the DPoP key helpers, in a leaf
module: the XRPC session, the OAuth client and the state store all use them. The libraries are
imported where used: the read functions import this module and never sign anything."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePrivateKey


@dataclass
class Grant:
    """An OAuth session's secrets and state (sealed at rest; the nonces are public values).
    The client id is the one the grant was made to: refreshes and revocation use it."""

    client_id: str
    issuer: str
    access_token: str
    refresh_token: str
    dpop_key_pem: str
    scope: str
    expires_at: float | None
    as_nonce: str = ""
    pds_nonce: str | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, raw: str | bytes) -> Grant:
        return cls(**json.loads(raw))

    def dpop_key(self) -> EllipticCurvePrivateKey:
        return load_pem(self.dpop_key_pem)


def pem(key: EllipticCurvePrivateKey) -> str:
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")


def load_pem(text: str) -> EllipticCurvePrivateKey:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = serialization.load_pem_private_key(text.encode("ascii"), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError("not an EC key")
    return key


def new_dpop_key() -> EllipticCurvePrivateKey:
    from atproto_oauth.dpop import DPoPManager

    return DPoPManager.generate_keypair()


def proof(method: str, url: str, key: EllipticCurvePrivateKey, nonce: str | None, access_token: str | None) -> str:
    """A DPoP proof (RFC 9449) for one request, `ath` bound to the access token when given."""
    from atproto_oauth.dpop import DPoPManager

    return DPoPManager.create_proof(
        method=method.upper(), url=url, private_key=key, nonce=nonce or None, access_token=access_token
    )


def dpop_proof(method: str, url: str, grant: Grant) -> str:
    return proof(method, url, grant.dpop_key(), grant.pds_nonce, grant.access_token)


def token_expiring(grant: Grant, margin: float = 30.0) -> bool:
    return grant.expires_at is not None and grant.expires_at - time.time() < margin

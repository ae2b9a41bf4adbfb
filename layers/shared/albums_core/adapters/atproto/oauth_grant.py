"""The DPoP key helpers of an OAuth grant (what a signed-in OAuth session holds; the domain owns
the `Grant` itself, domain/sessions.py, re-exported here), in a leaf module: the XRPC session,
the OAuth client and the state store all use them. The libraries are
imported where used: the read functions import this module and never sign anything."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from albums_core.domain.sessions import Grant

__all__ = ["Grant", "dpop_key", "dpop_proof", "load_pem", "new_dpop_key", "pem", "proof", "token_expiring"]

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePrivateKey


def dpop_key(grant: Grant) -> EllipticCurvePrivateKey:
    """The grant's DPoP key (kept as PEM in the sealed grant)."""
    return load_pem(grant.dpop_key_pem)


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
    return proof(method, url, dpop_key(grant), grant.pds_nonce, grant.access_token)


def token_expiring(grant: Grant, margin: float = 30.0) -> bool:
    return grant.expires_at is not None and grant.expires_at - time.time() < margin

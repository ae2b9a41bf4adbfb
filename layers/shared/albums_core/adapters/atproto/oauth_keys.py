"""Who this deployment is to an authorization server: its client id and redirect URI, its
metadata document and JWKS, and the client assertion it signs (`private_key_jwt`, ES256).

Production is a confidential client whose keys are in an SSM SecureString
(`OAUTH_KEY_PARAMETER`, JSON `{"keys": [private JWK, ...]}`: the first signs, all are
published, so a key is rotated by publishing a new one, making it the signing one once every
container has read it, and dropping the old one later: tools/oauth_key.py). The set is read
through adapters.parameters (a max age): a rotation reaches warm containers. In local mode
the client is the loopback development client (no key)."""

from __future__ import annotations

import base64
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from albums_core.adapters import parameters
from albums_core.config import ConfigurationError, settings

Key = tuple[str, Any, dict[str, str]]  # (kid, private key, public JWK)


@dataclass(frozen=True)
class ClientIdentity:
    client_id: str
    redirect_uri: str

    @property
    def loopback(self) -> bool:
        """The development client: public, no key."""
        return self.client_id.startswith("http://localhost")


def public_base(request_base: str = "") -> str:
    """The API's public base URL (stage included): PUBLIC_API_URL when the template sets one
    (a custom domain), else the one the request came in on."""
    base = settings().public_api_url or request_base.rstrip("/")
    if not base:
        raise RuntimeError("the API's public URL is unknown: set PUBLIC_API_URL")
    return base


def client_identity(request_base: str = "") -> ClientIdentity:
    cfg = settings()
    base = public_base(request_base)
    redirect = f"{base}/auth/callback"
    if cfg.local_mode:
        loopback = "http://localhost?" + urlencode({"redirect_uri": redirect, "scope": cfg.oauth_scope})
        return ClientIdentity(loopback, redirect)
    return ClientIdentity(f"{base}/oauth-client-metadata.json", redirect)


def _b64url_int(raw: str) -> int:
    return int.from_bytes(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)), "big")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def client_keys() -> tuple[Key, ...]:
    """Every configured client key, the signing one first."""
    from cryptography.hazmat.primitives.asymmetric import ec

    name = settings().oauth_key_parameter
    if not name:
        raise ConfigurationError("invalid function environment: OAUTH_KEY_PARAMETER is not set")
    keys = []
    for jwk in json.loads(parameters.secret(name))["keys"]:
        if jwk.get("kty") != "EC" or jwk.get("crv") != "P-256" or not jwk.get("kid") or not jwk.get("d"):
            raise ValueError("OAuth client keys must be P-256 EC private JWKs with a kid")
        private = ec.derive_private_key(_b64url_int(jwk["d"]), ec.SECP256R1())
        public = {k: jwk[k] for k in ("kty", "crv", "x", "y", "kid")}
        keys.append((str(jwk["kid"]), private, {**public, "use": "sig", "alg": "ES256"}))
    if not keys:
        raise ValueError("no OAuth client key configured")
    return tuple(keys)


def jwks() -> dict[str, Any]:
    cfg = settings()
    if cfg.local_mode and not cfg.oauth_key_parameter:
        return {"keys": []}
    return {"keys": [public for _, _, public in client_keys()]}


def client_metadata(request_base: str = "") -> dict[str, Any]:
    """The client metadata document of the production (confidential) client."""
    cfg = settings()
    base = public_base(request_base)
    return {
        "client_id": f"{base}/oauth-client-metadata.json",
        "client_name": "albums",
        "client_uri": cfg.frontend_url or base,
        "redirect_uris": [f"{base}/auth/callback"],
        "scope": cfg.oauth_scope,
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "application_type": "web",
        "token_endpoint_auth_method": "private_key_jwt",
        "token_endpoint_auth_signing_alg": "ES256",
        "jwks_uri": f"{base}/.well-known/jwks.json",
        "dpop_bound_access_tokens": True,
    }


def sign_es256(header: dict[str, Any], payload: dict[str, Any], key: Any) -> str:
    """A compact JWS, ES256 (the signature as r || s, 32 bytes each)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    signing_input = ".".join(_b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, payload))
    r, s = decode_dss_signature(key.sign(signing_input.encode("ascii"), ec.ECDSA(hashes.SHA256())))
    return f"{signing_input}.{_b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


def client_assertion(client_id: str, kid: str, key: Any, audience: str) -> str:
    """The confidential client's proof of its identity to the issuer `audience` (60 s)."""
    now = int(time.time())
    payload = {
        "iss": client_id,
        "sub": client_id,
        "aud": audience,
        "jti": secrets.token_urlsafe(16),
        "iat": now,
        "exp": now + 60,
    }
    return sign_es256({"alg": "ES256", "typ": "JWT", "kid": kid}, payload, key)

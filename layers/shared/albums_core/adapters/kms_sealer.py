"""Envelope encryption of session secrets: a fresh KMS data key per session, AES-256-GCM
for the payload, the session key as encryption context and associated data (a sealed
payload moved to another session does not open)."""

from __future__ import annotations

import os
from typing import Any

from albums_core.adapters.aws_clients import client
from albums_core.config import settings
from albums_core.domain.upstream import SealError


def seal(plaintext: bytes, context: str) -> dict[str, bytes]:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    out = client("kms").generate_data_key(
        KeyId=settings().kms_key_id, KeySpec="AES_256", EncryptionContext={"session": context}
    )
    nonce = os.urandom(12)
    data = AESGCM(out["Plaintext"]).encrypt(nonce, plaintext, context.encode("utf-8"))
    return {"sealed_key": out["CiphertextBlob"], "sealed_nonce": nonce, "sealed_data": data}


def unseal(item: dict[str, Any], context: str) -> bytes:
    from botocore.exceptions import ClientError
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    try:
        key = client("kms").decrypt(CiphertextBlob=bytes(item["sealed_key"]), EncryptionContext={"session": context})
        return AESGCM(key["Plaintext"]).decrypt(
            bytes(item["sealed_nonce"]), bytes(item["sealed_data"]), context.encode("utf-8")
        )
    except (KeyError, TypeError, ValueError, ClientError, InvalidTag) as exc:
        raise SealError(type(exc).__name__) from exc


class KmsSealer:
    """`seal` and `unseal` as the `Sealer` port (albums_core.ports) a service takes."""

    def seal(self, plaintext: bytes, context: str) -> dict[str, bytes]:
        return seal(plaintext, context)

    def unseal(self, item: dict[str, Any], context: str) -> bytes:
        return unseal(item, context)

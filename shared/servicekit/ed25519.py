"""Ed25519 keys as the services keep and publish them: PEM in and out, the public JWK, and
its RFC 7638 thumbprint as the kid. Shared by auth (token signing) and auction (signed bills)."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from jwt.algorithms import OKPAlgorithm

ALGORITHM = "EdDSA"
_PEM_BLOCK = re.compile(r"-----BEGIN ([A-Z ]+)-----.+?-----END \1-----", re.DOTALL)


def load_private_pem(pem: str) -> Ed25519PrivateKey:
    """Parse an Ed25519 private key PEM (literal `\\n` accepted, as env files write it)."""
    data = pem.strip().replace("\\n", "\n").encode()
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise ValueError("signing_key is not a readable PEM private key") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("signing_key must be an Ed25519 private key")
    return key


def private_pem(key: Ed25519PrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def load_public_pems(pems: str) -> list[Ed25519PublicKey]:
    """The public keys of one or more concatenated PEM blocks, each an Ed25519 private or
    public key (literal `\\n` accepted); blank text is no key."""
    text = pems.strip().replace("\\n", "\n")
    blocks = [m.group(0) for m in _PEM_BLOCK.finditer(text)]
    if text and not blocks:
        raise ValueError("previous_signing_keys holds no PEM block")
    keys = []
    for block in blocks:
        data = block.encode()
        loaded: object
        try:
            if "PRIVATE KEY" in block:
                loaded = serialization.load_pem_private_key(data, password=None)
            else:
                loaded = serialization.load_pem_public_key(data)
        except (ValueError, TypeError) as exc:
            raise ValueError("previous_signing_keys holds an unreadable PEM block") from exc
        if isinstance(loaded, Ed25519PrivateKey):
            loaded = loaded.public_key()
        if not isinstance(loaded, Ed25519PublicKey):
            raise ValueError("previous_signing_keys must hold Ed25519 keys")
        keys.append(loaded)
    return keys


def _public(key: Ed25519PrivateKey | Ed25519PublicKey) -> Ed25519PublicKey:
    return key.public_key() if isinstance(key, Ed25519PrivateKey) else key


def public_jwk(key: Ed25519PrivateKey | Ed25519PublicKey) -> dict[str, Any]:
    jwk: dict[str, Any] = OKPAlgorithm.to_jwk(_public(key), as_dict=True)
    return {"kty": jwk["kty"], "crv": jwk["crv"], "x": jwk["x"]}


def published_jwk(key: Ed25519PrivateKey | Ed25519PublicKey) -> dict[str, Any]:
    """The key as the JWKS lists it: its public part, kid (thumbprint), alg and use."""
    return {**public_jwk(key), "kid": thumbprint(key), "alg": ALGORITHM, "use": "sig"}


def thumbprint(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """RFC 7638 JWK thumbprint (SHA-256, base64url): a stable kid derived from the key."""
    canonical = json.dumps(public_jwk(key), sort_keys=True, separators=(",", ":")).encode()
    digest = hashlib.sha256(canonical).digest()
    return b64url(digest)


def b64url(data: bytes) -> str:
    """base64url without padding (RFC 7515 section 2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass(frozen=True)
class KeyPair:
    kid: str
    private_key: Ed25519PrivateKey

    @classmethod
    def of(cls, key: Ed25519PrivateKey) -> KeyPair:
        return cls(thumbprint(key), key)

    def jwk(self) -> dict[str, Any]:
        return {**public_jwk(self.private_key), "kid": self.kid, "alg": ALGORITHM, "use": "sig"}

"""Ed25519 signing keys: the configured one, or one generated once and kept in the database.

Rotation: the configured current key signs; previous keys (configured, private or public PEMs)
are only published in the JWKS, so tokens they signed verify until they expire. Every key's
kid is its RFC 7638 thumbprint, in the token header and in the JWKS alike."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from jwt.algorithms import OKPAlgorithm
from sqlalchemy.ext.asyncio import AsyncSession

from servicekit.db import Database

from . import repository

log = logging.getLogger(__name__)

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
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@dataclass(frozen=True)
class KeyPair:
    kid: str
    private_key: Ed25519PrivateKey

    @classmethod
    def of(cls, key: Ed25519PrivateKey) -> KeyPair:
        return cls(thumbprint(key), key)

    def jwk(self) -> dict[str, Any]:
        return {**public_jwk(self.private_key), "kid": self.kid, "alg": ALGORITHM, "use": "sig"}


class KeyRing:
    """The key tokens are signed with, and every public key the JWKS publishes: the signing
    key, the configured previous keys, and the generated keys not retired."""

    def __init__(self, configured_pem: str | None = None, previous_pems: str | None = None) -> None:
        self._configured = (
            KeyPair.of(load_private_pem(configured_pem)) if configured_pem is not None else None
        )
        self._previous = [published_jwk(key) for key in load_public_pems(previous_pems or "")]
        self._signing: KeyPair | None = None
        self._published: dict[str, dict[str, Any]] = {}

    @property
    def signing(self) -> KeyPair:
        if self._signing is None:
            raise RuntimeError("KeyRing.load() has not run")
        return self._signing

    async def load(self, db: Database) -> None:
        """Read the keys; without a configured key, generate one (once, under an advisory lock
        so concurrent replicas agree)."""
        async with db.sessionmaker.begin() as session:
            await self._load(session)

    async def _load(self, session: AsyncSession) -> None:
        if self._configured is None:
            active = await repository.active_signing_key(session)
            if active is None:
                await repository.lock_signing_key_generation(session)
                active = await repository.active_signing_key(session)  # a replica may have won
            if active is None:
                pair = KeyPair.of(Ed25519PrivateKey.generate())
                await repository.insert_signing_key(
                    session, pair.kid, ALGORITHM, private_pem(pair.private_key)
                )
                log.info("generated a signing key", extra={"kid": pair.kid})
                signing = pair
            else:
                signing = KeyPair(active.kid, load_private_pem(active.private_pem))
        else:
            signing = self._configured
        published = {signing.kid: signing.jwk()}
        for jwk in self._previous:
            published.setdefault(jwk["kid"], jwk)
        for row in await repository.published_signing_keys(session):
            if row.kid not in published:
                published[row.kid] = KeyPair(row.kid, load_private_pem(row.private_pem)).jwk()
        self._signing = signing
        self._published = published

    async def reload(self, db: Database) -> dict[str, Any]:
        """Re-read the keys (an unknown kid may be a replica's newer key); returns the JWKS."""
        await self.load(db)
        return self.jwks()

    def jwks(self) -> dict[str, Any]:
        return {"keys": list(self._published.values())}

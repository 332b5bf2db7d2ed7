"""Ed25519 signing keys: the configured one, or one generated once and kept in the database.

Rotation: the configured current key signs; previous keys (configured, private or public PEMs)
are only published in the JWKS, so tokens they signed verify until they expire. Every key's
kid is its RFC 7638 thumbprint, in the token header and in the JWKS alike."""

from __future__ import annotations

import logging
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.ext.asyncio import AsyncSession

from servicekit.db import Database
from servicekit.ed25519 import (
    ALGORITHM,
    KeyPair,
    load_private_pem,
    load_public_pems,
    private_pem,
    public_jwk,
    published_jwk,
    thumbprint,
)

from . import repository

log = logging.getLogger(__name__)

# Re-exported: the key helpers live in servicekit (auction signs its bills with them too).
__all__ = [
    "ALGORITHM",
    "KeyPair",
    "KeyRing",
    "load_private_pem",
    "load_public_pems",
    "private_pem",
    "public_jwk",
    "published_jwk",
    "thumbprint",
]


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

"""The key public bills are signed with: AUCTION_SIGNING_KEY, or one generated once and kept
in the database (as the auth service keeps its token key), loaded on first use."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.ext.asyncio import AsyncSession

from servicekit.db import Database
from servicekit.ed25519 import ALGORITHM, KeyPair, b64url, load_private_pem, private_pem

from . import repository

log = logging.getLogger(__name__)


class BillSigner:
    """Signs canonical bill documents; its JWKS lists the signing key and every other key in
    the database, so copies signed by an earlier generated key still verify."""

    def __init__(self, configured_pem: str | None = None) -> None:
        self._configured = (
            KeyPair.of(load_private_pem(configured_pem)) if configured_pem is not None else None
        )
        self._signing: KeyPair | None = None
        self._published: dict[str, dict[str, Any]] = {}
        self._lock = asyncio.Lock()

    async def ensure(self, db: Database) -> KeyPair:
        if self._signing is None:
            async with self._lock:
                if self._signing is None:
                    async with db.sessionmaker.begin() as session:
                        await self._load(session)
        assert self._signing is not None
        return self._signing

    async def _load(self, session: AsyncSession) -> None:
        signing = self._configured
        if signing is None:
            active = await repository.active_signing_key(session)
            if active is None:
                await repository.lock_signing_key_generation(session)
                active = await repository.active_signing_key(session)  # a replica may have won
            if active is None:
                signing = KeyPair.of(Ed25519PrivateKey.generate())
                await repository.insert_signing_key(
                    session, signing.kid, private_pem(signing.private_key)
                )
                log.info("generated a bill signing key", extra={"kid": signing.kid})
            else:
                signing = KeyPair(active.kid, load_private_pem(active.private_pem))
        published = {signing.kid: signing.jwk()}
        for row in await repository.signing_keys(session):
            published.setdefault(row.kid, KeyPair(row.kid, load_private_pem(row.private_pem)).jwk())
        self._signing = signing
        self._published = published

    async def sign(self, db: Database, message: bytes) -> dict[str, str]:
        """`{alg, kid, value}`: the Ed25519 signature of `message`, base64url."""
        pair = await self.ensure(db)
        return {"alg": ALGORITHM, "kid": pair.kid, "value": b64url(pair.private_key.sign(message))}

    async def jwks(self, db: Database) -> dict[str, Any]:
        await self.ensure(db)
        return {"keys": list(self._published.values())}

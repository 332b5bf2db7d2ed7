"""Token verification for the auth service's own routes (`/auth/me`).

The same TokenVerifier rules as trading and auction, but fed from the auth service's own key
ring: an unknown kid re-reads the keys from the database (rate-limited like a JWKS refetch)
instead of fetching the JWKS over HTTP from itself."""

from __future__ import annotations

import logging

from servicekit.db import Database
from servicekit.security import TokenVerifier

from .keys import KeyRing

log = logging.getLogger(__name__)


class LocalTokenVerifier(TokenVerifier):
    def __init__(self, keyring: KeyRing, db: Database, issuer: str, audience: str) -> None:
        super().__init__("", issuer, audience)
        self.keyring = keyring
        self.db = db

    async def _fetch(self) -> None:
        try:
            self.add_jwks(await self.keyring.reload(self.db))
        except Exception as exc:  # keep the cache as it was, like a failed JWKS fetch
            log.warning("signing keys reload failed", extra={"error": type(exc).__name__})

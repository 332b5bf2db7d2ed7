"""Token verification for the auth service's own routes (`/auth/me`).

The same TokenVerifier rules as trading and auction, but fed from the auth service's own key
ring: an unknown kid re-reads the keys from the database (rate-limited like a JWKS refetch)
instead of fetching the JWKS over HTTP from itself."""

from __future__ import annotations

from typing import Any

from servicekit.db import Database
from servicekit.security import TokenVerifier

from .keys import KeyRing


class LocalTokenVerifier(TokenVerifier):
    def __init__(self, keyring: KeyRing, db: Database, issuer: str, audience: str) -> None:
        super().__init__("", issuer, audience)
        self.keyring = keyring
        self.db = db

    async def _load_jwks(self) -> tuple[dict[str, Any], float | None]:
        # A failure keeps the keys as they were, like a failed JWKS fetch (TokenVerifier._fetch).
        return await self.keyring.reload(self.db), None

"""Failed-login throttling per email and per client address, counted in the database.

Each login first counts itself as an attempt for both keys, in its own short transaction, so
the count is visible to every replica at once and concurrent guesses cannot all slip under
the limit; a successful login gives its attempt back. Past `max_failures` in a window, the key
is refused with 429 until the window ends, right password or not.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Sequence
from datetime import timedelta

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession

from servicekit.db import Database
from servicekit.errors import TooManyRequests

from ..config import IpNetwork
from . import repository
from .repository import AttemptWindow

PURGE_EVERY = 1000  # logins between sweeps of expired counters


def client_address(request: Request, trusted_proxies: Sequence[IpNetwork]) -> str:
    """The direct peer, or the first X-Forwarded-For hop when the peer is a trusted proxy."""
    peer = request.client.host if request.client else ""
    try:
        peer_ip = ipaddress.ip_address(peer)
    except ValueError:
        return peer or "unknown"
    if not any(peer_ip in net for net in trusted_proxies):
        return str(peer_ip)
    forwarded = request.headers.get("x-forwarded-for", "")
    first = forwarded.split(",")[0].strip()
    try:
        return str(ipaddress.ip_address(first))
    except ValueError:
        return str(peer_ip)


def throttle_keys(email: str, address: str) -> list[str]:
    return [f"email:{email}"[:300], f"ip:{address}"[:300]]


class LoginThrottle:
    def __init__(self, db: Database, *, max_failures: int, window_seconds: int) -> None:
        self.db = db
        self.max_failures = max_failures
        self.window_seconds = window_seconds
        self._admitted = 0

    async def admit(self, keys: Sequence[str]) -> list[AttemptWindow]:
        """Count this attempt; 429 (with Retry-After) when a key is over its limit."""
        async with self.db.sessionmaker.begin() as session:
            windows = await repository.count_attempts(session, keys, self.window_seconds)
        self._admitted += 1
        if self._admitted % PURGE_EVERY == 0:
            await self.purge()
        blocked = [w for w in windows if w.attempts > self.max_failures]
        if blocked:
            window = timedelta(seconds=self.window_seconds)
            retry = max(
                math.ceil((w.window_start + window - w.now).total_seconds()) for w in blocked
            )
            raise TooManyRequests(
                "Too many failed login attempts, try again later",
                headers={"Retry-After": str(max(retry, 1))},
            )
        return windows

    async def succeeded(self, session: AsyncSession, windows: Sequence[AttemptWindow]) -> None:
        """The attempt was not a failure: take it back (commits with the login)."""
        await repository.uncount_attempts(session, windows)

    async def purge(self) -> None:
        """Drop counters whose window is long over."""
        async with self.db.sessionmaker.begin() as session:
            await repository.delete_stale_attempts(session, max(self.window_seconds, 3600))

"""Argon2id password hashing, off the event loop."""

from __future__ import annotations

import secrets

import anyio.to_thread
from pwdlib import PasswordHash
from pwdlib.exceptions import UnknownHashError
from pwdlib.hashers.argon2 import Argon2Hasher


class Passwords:
    def __init__(self, *, time_cost: int, memory_kib: int, parallelism: int) -> None:
        self._hasher = PasswordHash(
            (Argon2Hasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism),)
        )
        # Unknown emails are checked against this, so they cost the same Argon2 work.
        self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(24))

    async def hash(self, password: str) -> str:
        return await anyio.to_thread.run_sync(self._hasher.hash, password)

    async def verify(self, password: str, password_hash: str | None) -> tuple[bool, str | None]:
        """(matches, a new hash when the stored one used older parameters)."""
        if password_hash is None:
            await anyio.to_thread.run_sync(self._hasher.verify, password, self._dummy_hash)
            return False, None
        try:
            return await anyio.to_thread.run_sync(
                self._hasher.verify_and_update, password, password_hash
            )
        except UnknownHashError:
            return False, None

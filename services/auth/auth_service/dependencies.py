"""Request-scoped dependencies: the database session, the principal, and app-wide helpers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from servicekit.openapi import requires_access_token
from servicekit.security import Principal

from .config import Settings
from .errors import KeepChanges
from .tokens.keys import KeyRing
from .tokens.throttle import LoginThrottle
from .users.passwords import Passwords


async def _session(request: Request) -> AsyncIterator[AsyncSession]:
    """Commits on success, rolls back on error; a `KeepChanges` error commits first."""
    async with request.app.state.db.sessionmaker() as session:
        try:
            yield session
        except KeepChanges:
            await session.commit()
            raise
        except BaseException:
            await session.rollback()
            raise
        else:
            await session.commit()


@requires_access_token
async def _principal(request: Request) -> Principal:
    principal: Principal = await request.app.state.authenticator(request)
    return principal


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _passwords(request: Request) -> Passwords:
    passwords: Passwords = request.app.state.passwords
    return passwords


def _keyring(request: Request) -> KeyRing:
    keyring: KeyRing = request.app.state.keyring
    return keyring


def _throttle(request: Request) -> LoginThrottle:
    throttle: LoginThrottle = request.app.state.throttle
    return throttle


# scope="function": the commit runs before the response is sent (see servicekit.db).
SessionDep = Annotated[AsyncSession, Depends(_session, scope="function")]
PrincipalDep = Annotated[Principal, Depends(_principal)]
SettingsDep = Annotated[Settings, Depends(_settings)]
PasswordsDep = Annotated[Passwords, Depends(_passwords)]
KeyRingDep = Annotated[KeyRing, Depends(_keyring)]
ThrottleDep = Annotated[LoginThrottle, Depends(_throttle)]

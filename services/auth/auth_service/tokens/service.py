"""Login, refresh-token rotation with reuse detection, and logout."""

from __future__ import annotations

import hashlib
import logging
import secrets
import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from servicekit.db import Database
from servicekit.errors import Unauthorized

from ..config import Settings
from ..errors import KeepChanges
from ..users import repository as users_repository
from ..users.models import User
from ..users.passwords import Passwords
from ..users.schemas import normalize_email
from . import repository, signing
from .keys import KeyRing
from .throttle import LoginThrottle, throttle_keys

log = logging.getLogger(__name__)

INVALID_CREDENTIALS = "Invalid email or password"
INVALID_REFRESH_TOKEN = "Invalid refresh token"


class RefreshTokenReused(KeepChanges, Unauthorized):
    """A dead refresh token came back: the login is revoked, and that revocation commits."""

    message = INVALID_REFRESH_TOKEN


@dataclass(frozen=True)
class Issued:
    user: User
    access_token: str
    refresh_token: str
    csrf_token: str
    expires_in: int


def hash_refresh_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def _issue(
    session: AsyncSession,
    settings: Settings,
    keyring: KeyRing,
    user: User,
    sid: uuid.UUID,
    parent_id: int | None,
) -> Issued:
    refresh = secrets.token_urlsafe(32)
    await repository.insert_refresh_token(
        session,
        token_hash=hash_refresh_token(refresh),
        family_id=sid,
        user_id=user.id,
        parent_id=parent_id,
        ttl_seconds=settings.refresh_token_ttl_seconds,
    )
    common = {"issuer": settings.jwt_issuer, "audience": settings.jwt_audience, "sid": str(sid)}
    access = signing.access_token(
        keyring,
        user_id=user.id,
        roles=list(user.roles),
        ttl_seconds=settings.access_token_ttl_seconds,
        **common,
    )
    csrf = signing.csrf_token(
        keyring, user_id=user.id, ttl_seconds=settings.refresh_token_ttl_seconds, **common
    )
    return Issued(user, access, refresh, csrf, settings.access_token_ttl_seconds)


async def login(
    session: AsyncSession,
    *,
    settings: Settings,
    keyring: KeyRing,
    passwords: Passwords,
    throttle: LoginThrottle,
    email: str,
    password: str,
    address: str,
) -> Issued:
    email = normalize_email(email)
    attempts = await throttle.admit(throttle_keys(email, address))
    user = await users_repository.get_by_email(session, email)
    ok, new_hash = await passwords.verify(password, user.password_hash if user else None)
    if user is None or not ok:
        log.info("login failed", extra={"client": address})
        raise Unauthorized(INVALID_CREDENTIALS)
    if new_hash is not None:
        await users_repository.set_password_hash(session, user.id, new_hash)
    await throttle.succeeded(session, attempts)
    sid = await repository.create_login(session, user.id)
    log.info("login", extra={"user_id": user.id, "sid": str(sid)})
    return await _issue(session, settings, keyring, user, sid, parent_id=None)


async def refresh(
    session: AsyncSession, *, settings: Settings, keyring: KeyRing, token: str | None
) -> Issued:
    """Rotate: the presented token dies and a child of it is issued. A token that is already
    dead revokes its whole login (every token of the family): 401."""
    if not token:
        raise Unauthorized(INVALID_REFRESH_TOKEN)
    row = await repository.find_refresh_token(session, hash_refresh_token(token))
    if row is None:
        raise Unauthorized(INVALID_REFRESH_TOKEN)
    # The login's row lock orders this against concurrent refreshes and revocations.
    login_row = await repository.lock_login(session, row.family_id)
    if login_row is None or login_row.revoked_at is not None:
        raise Unauthorized(INVALID_REFRESH_TOKEN)
    if not await repository.mark_refresh_token_used(session, row.id):
        await session.refresh(row)
        if row.used_at is not None or row.revoked_at is not None:
            await repository.revoke_login(session, row.family_id)
            log.warning(
                "refresh token reused; login revoked",
                extra={"user_id": row.user_id, "sid": str(row.family_id)},
            )
            raise RefreshTokenReused()
        raise Unauthorized(INVALID_REFRESH_TOKEN)  # expired
    user = await users_repository.get_by_id(session, row.user_id)
    if user is None:
        raise Unauthorized(INVALID_REFRESH_TOKEN)
    return await _issue(session, settings, keyring, user, row.family_id, parent_id=row.id)


async def logout(session: AsyncSession, token: str | None) -> None:
    """Revoke the login the refresh token belongs to; unknown or missing tokens are fine."""
    if not token:
        return
    row = await repository.find_refresh_token(session, hash_refresh_token(token))
    if row is not None:
        await repository.revoke_login(session, row.family_id)
        log.info("logout", extra={"user_id": row.user_id, "sid": str(row.family_id)})


async def purge_finished_logins(db: Database, grace_seconds: int = 86_400) -> None:
    """Housekeeping at start: logins whose refresh tokens are all long expired."""
    async with db.sessionmaker.begin() as session:
        removed = await repository.delete_finished_logins(session, grace_seconds)
    if removed:
        log.info("purged finished logins", extra={"count": removed})

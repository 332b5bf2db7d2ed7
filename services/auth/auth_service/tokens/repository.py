"""SQL for logins, refresh tokens, throttling counters and signing keys."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, delete, func, literal, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from .models import LoginAttempt, LoginSession, RefreshToken, SigningKey

# Arbitrary constant: the advisory lock that serializes signing-key generation across replicas.
SIGNING_KEY_LOCK = 7_310_452_001


# --- signing keys -------------------------------------------------------------------------


async def active_signing_key(session: AsyncSession) -> SigningKey | None:
    stmt = select(SigningKey).where(SigningKey.active.is_(True)).limit(1)
    return (await session.execute(stmt)).scalar_one_or_none()


async def lock_signing_key_generation(session: AsyncSession) -> None:
    await session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": SIGNING_KEY_LOCK})


async def insert_signing_key(
    session: AsyncSession, kid: str, algorithm: str, private_pem: str
) -> None:
    session.add(SigningKey(kid=kid, algorithm=algorithm, private_pem=private_pem, active=True))
    await session.flush()


async def published_signing_keys(session: AsyncSession) -> Sequence[SigningKey]:
    stmt = (
        select(SigningKey)
        .where(SigningKey.retired_at.is_(None))
        .order_by(SigningKey.created_at, SigningKey.kid)
    )
    return (await session.execute(stmt)).scalars().all()


# --- logins and refresh tokens ------------------------------------------------------------


async def create_login(session: AsyncSession, user_id: int) -> uuid.UUID:
    sid = uuid.uuid4()
    session.add(LoginSession(id=sid, user_id=user_id))
    await session.flush()
    return sid


async def insert_refresh_token(
    session: AsyncSession,
    *,
    token_hash: str,
    family_id: uuid.UUID,
    user_id: int,
    parent_id: int | None,
    ttl_seconds: int,
) -> None:
    await session.execute(
        insert(RefreshToken).values(
            token_hash=token_hash,
            family_id=family_id,
            user_id=user_id,
            parent_id=parent_id,
            expires_at=func.now() + timedelta(seconds=ttl_seconds),
        )
    )


async def find_refresh_token(session: AsyncSession, token_hash: str) -> RefreshToken | None:
    stmt = select(RefreshToken).where(RefreshToken.token_hash == token_hash)
    return (await session.execute(stmt)).scalar_one_or_none()


async def lock_login(session: AsyncSession, sid: uuid.UUID) -> LoginSession | None:
    """Row-lock the login: refresh and revocation of one family run one after the other."""
    stmt = select(LoginSession).where(LoginSession.id == sid).with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def mark_refresh_token_used(session: AsyncSession, token_id: int) -> bool:
    """The rotation race settler: only one caller can turn a live token into a used one."""
    stmt = (
        update(RefreshToken)
        .where(
            RefreshToken.id == token_id,
            RefreshToken.used_at.is_(None),
            RefreshToken.revoked_at.is_(None),
            RefreshToken.expires_at > func.now(),
        )
        .values(used_at=func.now())
        .returning(RefreshToken.id)
    )
    return (await session.execute(stmt)).first() is not None


async def revoke_login(session: AsyncSession, sid: uuid.UUID) -> None:
    """Revoke the login and every refresh token of its family."""
    await session.execute(
        update(LoginSession)
        .where(LoginSession.id == sid, LoginSession.revoked_at.is_(None))
        .values(revoked_at=func.now())
    )
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == sid, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=func.now())
    )


async def delete_finished_logins(session: AsyncSession, grace_seconds: int) -> int:
    """Drop logins (and, by cascade, their tokens) whose every refresh token expired more
    than `grace_seconds` ago: nothing of them can be used or reused any more."""
    live = (
        select(RefreshToken.id)
        .where(
            RefreshToken.family_id == LoginSession.id,
            RefreshToken.expires_at > func.now() - timedelta(seconds=grace_seconds),
        )
        .exists()
    )
    result = await session.execute(
        delete(LoginSession).where(
            LoginSession.created_at < func.now() - timedelta(seconds=grace_seconds), ~live
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


# --- login throttling ---------------------------------------------------------------------


@dataclass(frozen=True)
class AttemptWindow:
    key: str
    attempts: int
    window_start: datetime
    now: datetime


async def count_attempts(
    session: AsyncSession, keys: Sequence[str], window_seconds: int
) -> list[AttemptWindow]:
    """Count one more attempt for each key, atomically (ON CONFLICT takes the row lock); a
    key whose window has passed starts a new one."""
    window = timedelta(seconds=window_seconds)
    current = LoginAttempt.window_start > func.now() - window
    stmt = (
        insert(LoginAttempt)
        .values([{"key": key, "window_start": func.now(), "failures": 1} for key in sorted(keys)])
        .on_conflict_do_update(
            index_elements=[LoginAttempt.key],
            set_={
                "failures": case((current, LoginAttempt.failures + 1), else_=literal(1)),
                "window_start": case((current, LoginAttempt.window_start), else_=func.now()),
            },
        )
        .returning(LoginAttempt.key, LoginAttempt.failures, LoginAttempt.window_start, func.now())
    )
    rows = (await session.execute(stmt)).all()
    return [AttemptWindow(r[0], r[1], r[2], r[3]) for r in rows]


async def uncount_attempts(session: AsyncSession, windows: Sequence[AttemptWindow]) -> None:
    """A successful login was not a failure: give back the attempt it counted."""
    for window in sorted(windows, key=lambda w: w.key):
        await session.execute(
            update(LoginAttempt)
            .where(
                LoginAttempt.key == window.key,
                LoginAttempt.window_start == window.window_start,
                LoginAttempt.failures > 0,
            )
            .values(failures=LoginAttempt.failures - 1)
        )


async def delete_stale_attempts(session: AsyncSession, older_than_seconds: int) -> None:
    await session.execute(
        delete(LoginAttempt).where(
            LoginAttempt.window_start < func.now() - timedelta(seconds=older_than_seconds)
        )
    )

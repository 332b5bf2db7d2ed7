"""SQL for users."""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from .models import User


async def insert_user(
    session: AsyncSession, *, email: str, name: str, password_hash: str, roles: list[str]
) -> User | None:
    """The new user, or None when the email is taken (also when a concurrent insert won)."""
    stmt = (
        insert(User)
        .values(email=email, name=name, password_hash=password_hash, roles=roles)
        .on_conflict_do_nothing(index_elements=[User.email])
        .returning(User)
    )
    return (await session.scalars(stmt)).one_or_none()


async def get_by_email(session: AsyncSession, email: str) -> User | None:
    return (await session.scalars(select(User).where(User.email == email))).one_or_none()


async def get_by_id(session: AsyncSession, user_id: int) -> User | None:
    return await session.get(User, user_id)


async def set_password_hash(session: AsyncSession, user_id: int, password_hash: str) -> None:
    await session.execute(
        update(User)
        .where(User.id == user_id)
        .values(password_hash=password_hash, updated_at=func.now())
    )

"""SQL of the public bill and the signing keys."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from ..bills.models import Bill
from ..bills.repository import BILL_LOAD
from .models import SigningKey

# Arbitrary constant: the advisory lock that serializes key generation across replicas.
SIGNING_KEY_LOCK = 7_310_452_003


async def active_signing_key(session: AsyncSession) -> SigningKey | None:
    stmt = select(SigningKey).where(SigningKey.active.is_(True)).limit(1)
    return (await session.execute(stmt)).scalar_one_or_none()


async def lock_signing_key_generation(session: AsyncSession) -> None:
    await session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": SIGNING_KEY_LOCK})


async def insert_signing_key(session: AsyncSession, kid: str, private_pem: str) -> None:
    session.add(SigningKey(kid=kid, private_pem=private_pem, active=True))
    await session.flush()


async def signing_keys(session: AsyncSession) -> Sequence[SigningKey]:
    stmt = select(SigningKey).order_by(SigningKey.created_at, SigningKey.kid)
    return (await session.execute(stmt)).scalars().all()


async def bill_by_code(db: AsyncSession, code: str) -> Bill | None:
    """One equality probe of the unique index: no scan whose time depends on the code."""
    stmt = select(Bill).options(*BILL_LOAD).where(Bill.verification_code == code)
    return (await db.execute(stmt)).unique().scalar_one_or_none()

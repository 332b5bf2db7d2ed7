"""Ledger SQL, and `post`: the one function that writes a balance row.

`post` moves the session's `balance` and appends the row with that balance in the same
unit of work, on a session row the caller holds locked (`SELECT ... FOR UPDATE`), so
`Σ amount = balance` holds after every request and no two writers interleave.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..replay.matching import round2
from ..sessions.models import TradingSession
from .models import Transaction, TransactionType


def post(
    db: AsyncSession,
    trading_session: TradingSession,
    kind: TransactionType,
    amount: Decimal,
    *,
    replay_ts: datetime,
    position_id: int | None = None,
) -> Transaction:
    """Book `amount` (rounded half up to cents) on a locked session's ledger."""
    booked = round2(amount)
    before = trading_session.balance if trading_session.balance is not None else Decimal(0)
    trading_session.balance = before + booked
    row = Transaction(
        session_id=trading_session.id,
        position_id=position_id,
        type=kind.value,
        amount=booked,
        balance_after=trading_session.balance,
        replay_ts=replay_ts,
    )
    db.add(row)
    return row


async def list_page(
    db: AsyncSession, session_id: int, *, kind: str | None, offset: int, limit: int
) -> tuple[Sequence[Transaction], int]:
    """One page, oldest first (id order), and the total."""
    cond = [Transaction.session_id == session_id]
    if kind is not None:
        cond.append(Transaction.type == kind)
    total = (await db.execute(select(func.count()).where(*cond))).scalar_one()
    rows = (
        await db.execute(
            select(Transaction).where(*cond).order_by(Transaction.id).offset(offset).limit(limit)
        )
    ).scalars()
    return list(rows), int(total)

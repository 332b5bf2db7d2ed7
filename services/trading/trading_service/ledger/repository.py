"""Ledger SQL, and `post`: the one function that writes a balance row.

`post` moves the session's `balance` and appends the row with that balance in the same
unit of work, on a session row the caller holds locked (`SELECT ... FOR UPDATE`), so
`Σ amount = balance` holds after every request and no two writers interleave.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

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


# --- hot reads on a `Database.reader()` connection (asyncpg, no ORM, no transaction) ---

# One page and the total in one statement: one row per transaction of the page, or one row of
# NULLs when the page is empty; the total on every row.
_PAGE = """
WITH page AS (
    SELECT id, session_id, position_id, type, amount, balance_after, replay_ts, created_at
    FROM transactions WHERE session_id = $1 AND ($2::text IS NULL OR type = $2)
    ORDER BY id OFFSET $3 LIMIT $4
)
SELECT t.total, p.*
FROM (SELECT count(*) AS total FROM transactions
      WHERE session_id = $1 AND ($2::text IS NULL OR type = $2)) t
LEFT JOIN page p ON true
ORDER BY p.id
"""

# What the account needs beyond the session row: the bid close of the current bar, the
# instrument's point and contract size, the pending orders' count, and one row per OPEN
# position (side, open price, volume, margin), or one row of NULLs when none is open.
_ACCOUNT = """
SELECT (SELECT close FROM candles
        WHERE instrument_id = $2 AND timeframe = $3 AND ts = $4) AS bid,
       i.point, i.contract_size,
       (SELECT count(*) FROM orders WHERE session_id = $1 AND status = 'PENDING') AS pending,
       p.side, p.open_price, p.volume, p.margin
FROM instruments i
LEFT JOIN positions p ON p.session_id = $1 AND p.status = 'OPEN'
WHERE i.id = $2
ORDER BY p.id
"""


async def page_rows(
    read: Any, session_id: int, *, kind: str | None, offset: int, limit: int
) -> list[Any]:
    """`list_page` as asyncpg Records (`total` on each), one round trip."""
    rows: list[Any] = await read.fetch(_PAGE, session_id, kind, offset, limit)
    return rows


async def account_rows(
    read: Any, session_id: int, *, instrument_id: int, timeframe: str, current_ts: Any
) -> list[Any]:
    """The account's inputs as asyncpg Records, one round trip."""
    rows: list[Any] = await read.fetch(_ACCOUNT, session_id, instrument_id, timeframe, current_ts)
    return rows

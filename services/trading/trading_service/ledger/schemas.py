"""The ledger's rows and the account (SPEC 3)."""

from __future__ import annotations

from pydantic import BaseModel

from ..sessions.schemas import FloatOut, TimestampOut
from .models import TransactionType

MAX_PAGE, MAX_LIMIT = 1_000_000, 100  # the list's `page` and `limit` bounds


class TransactionOut(BaseModel):
    id: int
    session_id: int
    position_id: int | None
    type: TransactionType
    amount: FloatOut
    balance_after: FloatOut
    replay_ts: TimestampOut
    created_at: TimestampOut


class TransactionList(BaseModel):
    transactions: list[TransactionOut]
    total: int
    page: int
    limit: int


class AccountOut(BaseModel):
    """The account marked at the current bar's close (BUY at the bid, SELL at the ask)."""

    session_id: int
    current_ts: TimestampOut | None
    balance: FloatOut
    equity: FloatOut
    unrealized_profit: FloatOut
    used_margin: FloatOut
    free_margin: FloatOut
    margin_level: FloatOut | None  # percent; null with no margin in use
    open_positions: int
    pending_orders: int

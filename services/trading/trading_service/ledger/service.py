"""The ledger's reads and the account view (SPEC 3). Rows are written only by
`ledger.repository.post`."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from ..orders import repository as orders_repo
from ..positions import repository as positions_repo
from ..positions import service as positions_service
from ..replay import matching as m
from ..sessions.dependencies import SessionView
from . import repository as repo
from .schemas import AccountOut, TransactionList, TransactionOut


async def list_transactions(
    db: AsyncSession, view: SessionView, *, kind: str | None, page: int, limit: int
) -> TransactionList:
    rows, total = await repo.list_page(
        db, view.row.id, kind=kind, offset=(page - 1) * limit, limit=limit
    )
    return TransactionList(
        transactions=[TransactionOut.model_validate(r, from_attributes=True) for r in rows],
        total=total,
        page=page,
        limit=limit,
    )


async def account(db: AsyncSession, view: SessionView) -> AccountOut:
    """Balance, equity and margin marked at the current bar's close (BUY at the bid close,
    SELL at the ask close)."""
    trading_session = view.row
    balance = (
        trading_session.balance
        if trading_session.balance is not None
        else trading_session.initial_balance
    )
    bid, costs = await positions_service.marks(db, view)
    open_rows: list[m.Exposure] = []
    if bid is not None:
        open_rows = list(await positions_repo.open_positions(db, trading_session.id))
    floating = m.unrealized(open_rows, bid, costs) if bid is not None and costs else Decimal(0)
    equity = balance + floating
    used = m.used_margin(open_rows)
    level = m.round2(equity / used * 100) if used > 0 else None
    return AccountOut(
        session_id=trading_session.id,
        current_ts=view.current_ts,
        balance=balance,
        equity=m.round2(equity),
        unrealized_profit=m.round2(floating),
        used_margin=used,
        free_margin=m.round2(equity - used),
        margin_level=level,
        open_positions=len(open_rows),
        pending_orders=await orders_repo.count_pending(db, trading_session.id),
    )

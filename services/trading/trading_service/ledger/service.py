"""The ledger's reads and the account view (SPEC 3). Rows are written only by
`ledger.repository.post`."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from servicekit.responses import dumps

from ..replay import engine
from ..replay import matching as m
from ..sessions.dependencies import SessionView
from . import repository as repo


async def list_transactions(
    read: Any, view: SessionView, *, kind: str | None, page: int, limit: int
) -> bytes:
    """`TransactionList`'s JSON, one page oldest first, in one statement on `read` (a
    reader connection)."""
    rows = await repo.page_rows(
        read, view.values["id"], kind=kind, offset=(page - 1) * limit, limit=limit
    )
    transactions = [
        {
            "id": r["id"],
            "session_id": r["session_id"],
            "position_id": r["position_id"],
            "type": r["type"],
            "amount": float(r["amount"]),
            "balance_after": float(r["balance_after"]),
            "replay_ts": r["replay_ts"],
            "created_at": r["created_at"],
        }
        for r in rows
        if r["id"] is not None
    ]
    return dumps(
        {"transactions": transactions, "total": rows[0]["total"], "page": page, "limit": limit}
    )


@dataclass(slots=True)
class _Open:
    """An OPEN position as the account's arithmetic sees it (`matching.Exposure`)."""

    side: str
    open_price: Decimal
    volume: Decimal
    margin: Decimal


async def account(read: Any, view: SessionView) -> bytes:
    """`AccountOut`'s JSON: balance, equity and margin marked at the current bar's close (BUY
    at the bid close, SELL at the ask close), in one statement on `read`."""
    values = view.values
    balance: Decimal = (
        values["balance"] if values["balance"] is not None else values["initial_balance"]
    )
    rows = await repo.account_rows(
        read,
        values["id"],
        instrument_id=values["instrument_id"],
        timeframe=values["timeframe"],
        current_ts=view.current_ts,
    )
    first = rows[0]
    bid: Decimal | None = first["bid"] if view.current_ts is not None else None
    open_rows: list[m.Exposure] = []
    floating = Decimal(0)
    if bid is not None:
        costs = engine.costs_from(values, first["point"], first["contract_size"])
        open_rows = [
            _Open(r["side"], r["open_price"], r["volume"], r["margin"])
            for r in rows
            if r["side"] is not None
        ]
        floating = m.unrealized(open_rows, bid, costs)
    equity = balance + floating
    used = m.used_margin(open_rows)
    level = m.round2(equity / used * 100) if used > 0 else None
    return dumps(
        {
            "session_id": values["id"],
            "current_ts": view.current_ts,
            "balance": float(balance),
            "equity": float(m.round2(equity)),
            "unrealized_profit": float(m.round2(floating)),
            "used_margin": float(used),
            "free_margin": float(m.round2(equity - used)),
            "margin_level": None if level is None else float(level),
            "open_positions": len(open_rows),
            "pending_orders": first["pending"],
        }
    )

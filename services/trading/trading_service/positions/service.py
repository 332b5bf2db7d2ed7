"""Positions: market orders, levels and closes on the current bar (SPEC 3, README "Trading
rules"), and the checks shared with pending orders.

Writes get their session locked with its clock materialized (`LockedSession`), so every
revealed bar was processed before a market price is taken; the fills themselves are made by
the engine's `Book`, which also re-plans the session's next event.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from servicekit.errors import BadRequest
from servicekit.responses import dumps

from ..candles import repository as candles_repo
from ..instruments.models import Instrument
from ..replay import engine
from ..replay import matching as m
from ..sessions.dependencies import LockedSessionView, SessionView
from ..sessions.service import field_error
from ..timeframes import Timeframe
from . import repository as repo
from .models import CloseReason, Position, PositionStatus, Side
from .schemas import PositionClose, PositionCreate, PositionOut, PositionUpdate

# --- checks shared with pending orders (422 naming the field) ---


def check_price(name: str, value: Decimal | None, instrument: Instrument) -> None:
    if value is not None and value % instrument.point != 0:
        raise field_error(
            ["body", name],
            f"{name} must be a multiple of the instrument's point {instrument.point}",
        )


def check_volume(volume: Decimal, instrument: Instrument, name: str = "volume") -> None:
    if volume % instrument.volume_step != 0:
        raise field_error(
            ["body", name],
            f"{name} {volume} is not a multiple of the instrument's volume_step "
            f"{instrument.volume_step}",
        )
    if not instrument.min_volume <= volume <= instrument.max_volume:
        raise field_error(
            ["body", name],
            f"{name} {volume} is outside the instrument's range "
            f"[{instrument.min_volume}, {instrument.max_volume}]",
        )


def check_levels(
    side: str, stop_loss: Decimal | None, take_profit: Decimal | None, reference: Decimal
) -> None:
    """SL and TP on the right side of `reference`: below and above it for a BUY, above and
    below it for a SELL."""
    buy = side == Side.BUY
    if stop_loss is not None and (stop_loss >= reference if buy else stop_loss <= reference):
        where = "below" if buy else "above"
        raise field_error(
            ["body", "stop_loss"], f"stop_loss of a {side} must be {where} {reference}"
        )
    if take_profit is not None and (take_profit <= reference if buy else take_profit >= reference):
        where = "above" if buy else "below"
        raise field_error(
            ["body", "take_profit"], f"take_profit of a {side} must be {where} {reference}"
        )


def size(
    book: engine.Book,
    *,
    volume: Decimal | None,
    risk_pct: Decimal | None,
    stop_loss: Decimal | None,
    entry: Decimal,
    bid: Decimal,
) -> Decimal:
    """The volume asked for, or the one `risk_pct` gives (422 below `min_volume`)."""
    instrument = book.instrument
    if volume is not None:
        check_volume(volume, instrument)
        return volume
    assert risk_pct is not None and stop_loss is not None  # the schema requires both
    sized = m.risk_volume(
        equity_now=book.equity(bid),
        risk_pct=risk_pct,
        entry=entry,
        stop_loss=stop_loss,
        costs=book.costs,
        volume_step=instrument.volume_step,
        max_volume=instrument.max_volume,
    )
    if sized < instrument.min_volume:
        raise field_error(
            ["body", "risk_pct"],
            f"risk_pct {risk_pct} of equity does not cover the loss at the stop of the "
            f"minimum volume {instrument.min_volume} (costs included)",
        )
    return sized


def check_margin(book: engine.Book, volume: Decimal, price: Decimal, bid: Decimal) -> None:
    need = m.margin(volume, price, book.costs)
    free = book.free_margin(bid)
    if need > free:
        raise field_error(
            ["body", "volume"],
            f"margin {need} exceeds the free margin {m.round2(free)}",
        )


# --- views ---


def _profit(
    status: str,
    side: str,
    open_price: Decimal,
    volume: Decimal,
    stored: Decimal | None,
    bid: Decimal | None,
    costs: m.Costs | None,
) -> Decimal:
    """A CLOSED position's realized profit; an OPEN one's marked at `bid` (the current bar's
    close, closing side), in cents."""
    if status == PositionStatus.CLOSED or bid is None or costs is None:
        return stored if stored is not None else Decimal(0)
    mark = m.mark_price(side, bid, costs)
    return m.round2(m.pnl(side, open_price, mark, volume, costs.contract_size))


def out(position: Position, *, bid: Decimal | None, costs: m.Costs | None) -> PositionOut:
    """The API view; an OPEN position is marked at `bid` (the current bar's close)."""
    profit = _profit(
        position.status,
        position.side,
        position.open_price,
        position.volume,
        position.profit,
        bid,
        costs,
    )
    return PositionOut(
        id=position.id,
        session_id=position.session_id,
        side=Side(position.side),
        volume=position.volume,
        open_price=position.open_price,
        open_ts=position.open_ts,
        stop_loss=position.stop_loss,
        take_profit=position.take_profit,
        status=PositionStatus(position.status),
        close_price=position.close_price,
        close_ts=position.close_ts,
        close_reason=position.close_reason,  # type: ignore[arg-type]
        commission=position.commission,
        profit=profit,
        net_profit=profit - position.commission,
        margin=position.margin,
        ambiguous=position.ambiguous,
        parent_id=position.parent_id,
        order_id=position.order_id,
        created_at=position.created_at,
        updated_at=position.updated_at,
    )


async def marks(db: AsyncSession, view: SessionView) -> tuple[Decimal | None, m.Costs | None]:
    """The bid close at the clock's current bar and the session's costs (None before start)."""
    if view.current_ts is None:
        return None, None
    instrument = await db.get_one(Instrument, view.row.instrument_id)
    bid = await candles_repo.bar_close(
        db, instrument.id, Timeframe(view.row.timeframe), view.current_ts
    )
    return bid, engine.costs_of(view.row, instrument)


def _float(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def position_json(p: Any, *, bid: Decimal | None, costs: m.Costs | None) -> dict[str, Any]:
    """`out()`'s JSON without the model, from a row's values (an asyncpg Record): the hot
    read's builder (`servicekit.responses`); a test holds the two equal."""
    profit = _profit(p["status"], p["side"], p["open_price"], p["volume"], p["profit"], bid, costs)
    return {
        "id": p["id"],
        "session_id": p["session_id"],
        "side": p["side"],
        "volume": float(p["volume"]),
        "open_price": float(p["open_price"]),
        "open_ts": p["open_ts"],
        "stop_loss": _float(p["stop_loss"]),
        "take_profit": _float(p["take_profit"]),
        "status": p["status"],
        "close_price": _float(p["close_price"]),
        "close_ts": p["close_ts"],
        "close_reason": p["close_reason"],
        "commission": float(p["commission"]),
        "profit": float(profit),
        "net_profit": float(profit - p["commission"]),
        "margin": float(p["margin"]),
        "ambiguous": p["ambiguous"],
        "parent_id": p["parent_id"],
        "order_id": p["order_id"],
        "created_at": p["created_at"],
        "updated_at": p["updated_at"],
    }


async def list_positions(
    read: Any, view: SessionView, *, status: str | None, page: int, limit: int
) -> bytes:
    """`PositionList`'s JSON: one page oldest first, OPEN ones marked at the current bar's
    close (before the start: unmarked), in one statement on `read` (a reader connection)."""
    values = view.values
    rows = await repo.page_marked(
        read,
        values["id"],
        status=status,
        offset=(page - 1) * limit,
        limit=limit,
        instrument_id=values["instrument_id"],
        timeframe=values["timeframe"],
        current_ts=view.current_ts,
    )
    first = rows[0]
    bid, costs = None, None
    if view.current_ts is not None:
        bid = first["bid"]
        costs = engine.costs_from(values, first["point"], first["contract_size"])
    positions = [position_json(r, bid=bid, costs=costs) for r in rows if r["id"] is not None]
    return dumps({"positions": positions, "total": first["total"], "page": page, "limit": limit})


async def get_position(db: AsyncSession, view: SessionView, position: Position) -> PositionOut:
    bid, costs = await marks(db, view)
    return out(position, bid=bid, costs=costs)


# --- writes on the current bar ---


async def _book(
    db: AsyncSession, view: LockedSessionView, doing: str
) -> tuple[engine.Book, Decimal]:
    view.require_started(doing)
    book = await engine.load(db, view.row)
    return book, await book.current_close()


async def open_position(
    db: AsyncSession, view: LockedSessionView, body: PositionCreate
) -> PositionOut:
    """A market order filled at the current bar's close (BUY at ask + slippage, SELL at
    bid - slippage)."""
    book, bid = await _book(db, view, "open a position")
    instrument, costs = book.instrument, book.costs
    check_price("stop_loss", body.stop_loss, instrument)
    check_price("take_profit", body.take_profit, instrument)
    # Levels against the side the position is valued on: a BUY's bid, a SELL's ask.
    check_levels(body.side, body.stop_loss, body.take_profit, m.mark_price(body.side, bid, costs))
    price = m.market_open_price(body.side, bid, costs)
    volume = size(
        book,
        volume=body.volume,
        risk_pct=body.risk_pct,
        stop_loss=body.stop_loss,
        entry=price,
        bid=bid,
    )
    check_margin(book, volume, price, bid)
    ts = view.row.current_ts
    assert ts is not None
    position = await book.open(
        body.side, volume, price, ts, stop_loss=body.stop_loss, take_profit=body.take_profit
    )
    await book.plan()
    await db.flush()
    return out(position, bid=bid, costs=costs)


def _require_open(position: Position) -> None:
    if position.status != PositionStatus.OPEN:
        raise BadRequest(f"Position {position.id} is {position.status}")


async def update_levels(
    db: AsyncSession, view: LockedSessionView, position: Position, body: PositionUpdate
) -> PositionOut:
    """New SL/TP, checked on the next base bar on; `null` removes a level."""
    book, bid = await _book(db, view, "change a position")
    _require_open(position)
    fields = body.model_fields_set
    stop_loss = body.stop_loss if "stop_loss" in fields else position.stop_loss
    take_profit = body.take_profit if "take_profit" in fields else position.take_profit
    check_price("stop_loss", stop_loss, book.instrument)
    check_price("take_profit", take_profit, book.instrument)
    check_levels(
        position.side, stop_loss, take_profit, m.mark_price(position.side, bid, book.costs)
    )
    position.stop_loss, position.take_profit = stop_loss, take_profit
    await book.plan()
    await db.flush()
    return out(position, bid=bid, costs=book.costs)


async def close_position(
    db: AsyncSession, view: LockedSessionView, position: Position, body: PositionClose
) -> PositionOut:
    """Close at the current bar's close (BUY at bid - slippage, SELL at ask + slippage), all
    of it or `volume` of it (the closed part becomes a new CLOSED position)."""
    book, bid = await _book(db, view, "close a position")
    _require_open(position)
    instrument = book.instrument
    price = m.market_close_price(position.side, bid, book.costs)
    ts = view.row.current_ts
    assert ts is not None
    volume = body.volume
    if volume is not None and volume != position.volume:
        check_volume(volume, instrument)
        if volume > position.volume:
            raise field_error(
                ["body", "volume"], f"volume {volume} is more than the position's {position.volume}"
            )
        if position.volume - volume < instrument.min_volume:
            raise field_error(
                ["body", "volume"],
                f"the remaining volume {position.volume - volume} would be below the "
                f"instrument's min_volume {instrument.min_volume}",
            )
        await book.close_part(position, volume, price, ts)
    else:
        book.close(position, price, ts, CloseReason.MANUAL)
    await book.plan()
    await db.flush()
    return out(position, bid=bid, costs=book.costs)

"""The trading engine: walks the events between two points of a session's base bars.

Event-driven, not a loop over bars: from the open positions and pending orders it derives
two bid thresholds and a stop-out line (`matching.thresholds`), asks the candle store for the
first base bar that crosses any of them (one ordered range scan), applies that bar exactly
(`Book.apply_bar`: orders, then SL/TP, then stop-out, README "Trading rules"), and repeats
from the next base bar. Revealing 100,000 quiet bars costs one query.

The caller holds the session row locked (`SELECT ... FOR UPDATE`) for the whole walk, so no
bar is processed twice. After a walk the session's `next_event_ts` says where the next thing
could happen (looked up to `HORIZON` past the walk's end), so reads of a RUNNING session
only settle, under the lock, once the clock passes it.

`Book` is also where the domain services open and close positions on the current bar
(market orders, manual closes): every fill, its ledger rows and its log entry are made here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ..candles import repository as candles_repo
from ..instruments.models import Instrument
from ..ledger import repository as ledger_repo
from ..ledger.models import TransactionType
from ..orders import repository as orders_repo
from ..orders.models import Order, OrderReason, OrderStatus
from ..positions import repository as positions_repo
from ..positions.models import CloseReason, Position, PositionStatus
from ..sessions.models import TradingSession
from ..timeframes import Timeframe
from . import matching as m
from .models import Fill, FillKind

# How far past a walk's end the next event is looked for (a recheck point beyond it).
HORIZON = timedelta(days=1)
_TICK = timedelta(microseconds=1)


def costs_of(trading_session: TradingSession, instrument: Instrument) -> m.Costs:
    return costs_from(
        {c: getattr(trading_session, c) for c in _COST_COLUMNS},
        instrument.point,
        instrument.contract_size,
    )


_COST_COLUMNS = ("spread_pts", "slippage_pts", "commission_per_fill", "leverage")


def costs_from(values: Mapping[str, Any], point: Decimal, contract_size: Decimal) -> m.Costs:
    """A session's costs from its row's values (a mapping) and its instrument's point and
    contract size."""
    return m.Costs(
        spread=values["spread_pts"] * point,
        slip=values["slippage_pts"] * point,
        contract_size=contract_size,
        commission=values["commission_per_fill"],
        leverage=values["leverage"],
    )


@dataclass
class Book:
    """A locked session's open positions and pending orders, oldest first, and the fills
    made through it."""

    db: AsyncSession
    trading_session: TradingSession
    instrument: Instrument
    costs: m.Costs
    positions: list[Position]
    orders: list[Order]
    fills: list[Fill] = field(default_factory=list)

    @property
    def timeframe(self) -> Timeframe:
        return Timeframe(self.trading_session.timeframe)

    @property
    def base(self) -> Timeframe:
        return Timeframe(self.instrument.base_timeframe)

    @property
    def balance(self) -> Decimal:
        balance = self.trading_session.balance
        return balance if balance is not None else self.trading_session.initial_balance

    def equity(self, bid: Decimal) -> Decimal:
        return m.equity(self.balance, self.positions, bid, self.costs)

    def free_margin(self, bid: Decimal) -> Decimal:
        return self.equity(bid) - m.used_margin(self.positions)

    async def current_close(self) -> Decimal:
        """C: the bid close of the session bar at `current_ts`."""
        ts = self.trading_session.current_ts
        assert ts is not None
        close = await candles_repo.bar_close(self.db, self.instrument.id, self.timeframe, ts)
        if close is None:  # the bar was deleted under a started session
            raise LookupError(f"no {self.timeframe} bar at {ts.isoformat()}")
        return close

    # --- fills ---

    def _log(
        self,
        kind: FillKind,
        *,
        price: Decimal,
        volume: Decimal,
        ts: datetime,
        position_id: int | None = None,
        order_id: int | None = None,
        reason: str | None = None,
    ) -> None:
        fill = Fill(
            session_id=self.trading_session.id,
            kind=kind.value,
            reason=reason,
            position_id=position_id,
            order_id=order_id,
            price=price,
            volume=volume,
            ts=ts,
            bar_ts=self.timeframe.floor(ts),
        )
        self.db.add(fill)
        self.fills.append(fill)

    def _commission(self, position: Position, ts: datetime) -> None:
        c = self.costs.commission
        if c > 0:
            position.commission = (position.commission or Decimal(0)) + c
            ledger_repo.post(
                self.db,
                self.trading_session,
                TransactionType.COMMISSION,
                -c,
                replay_ts=ts,
                position_id=position.id,
            )

    async def _new_position(
        self,
        side: str,
        volume: Decimal,
        price: Decimal,
        ts: datetime,
        *,
        stop_loss: Decimal | None,
        take_profit: Decimal | None,
        order_id: int | None,
        parent_id: int | None = None,
    ) -> Position:
        """An OPEN position row filled at `price` on `ts`, its margin set, flushed for its id."""
        position = Position(
            session_id=self.trading_session.id,
            order_id=order_id,
            parent_id=parent_id,
            side=side,
            status=PositionStatus.OPEN.value,
            volume=volume,
            open_price=price,
            open_ts=ts,
            stop_loss=stop_loss,
            take_profit=take_profit,
            margin=m.margin(volume, price, self.costs),
            commission=Decimal(0),
            ambiguous=False,
        )
        self.db.add(position)
        await self.db.flush()
        return position

    async def open(
        self,
        side: str,
        volume: Decimal,
        price: Decimal,
        ts: datetime,
        *,
        stop_loss: Decimal | None,
        take_profit: Decimal | None,
        order: Order | None = None,
    ) -> Position:
        """A new position filled at `price` on the bar `ts` (its commission booked)."""
        position = await self._new_position(
            side,
            volume,
            price,
            ts,
            stop_loss=stop_loss,
            take_profit=take_profit,
            order_id=order.id if order is not None else None,
        )
        self._commission(position, ts)
        self.positions.append(position)
        if order is None:
            self._log(FillKind.OPEN, price=price, volume=volume, ts=ts, position_id=position.id)
        else:
            order.status = OrderStatus.FILLED.value
            order.position_id = position.id
            order.filled_price = price
            order.filled_ts = ts
            order.closed_ts = ts
            self.orders.remove(order)
            self._log(
                FillKind.ORDER_FILLED,
                price=price,
                volume=volume,
                ts=ts,
                position_id=position.id,
                order_id=order.id,
            )
        return position

    def _book_close(
        self, position: Position, price: Decimal, ts: datetime, reason: CloseReason
    ) -> None:
        """The close fill's P&L (PROFIT row, also when 0) and commission, on `position`."""
        profit = m.round2(
            m.pnl(
                position.side, position.open_price, price, position.volume, self.costs.contract_size
            )
        )
        position.status = PositionStatus.CLOSED.value
        position.close_price = price
        position.close_ts = ts
        position.close_reason = reason.value
        position.profit = profit
        ledger_repo.post(
            self.db,
            self.trading_session,
            TransactionType.PROFIT,
            profit,
            replay_ts=ts,
            position_id=position.id,
        )
        self._commission(position, ts)

    def close(
        self,
        position: Position,
        price: Decimal,
        ts: datetime,
        reason: CloseReason,
        *,
        ambiguous: bool = False,
    ) -> None:
        """Close the whole position at `price` on the bar `ts`."""
        self._book_close(position, price, ts, reason)
        position.ambiguous = position.ambiguous or ambiguous
        self.positions.remove(position)
        self._log(
            FillKind.CLOSE,
            price=price,
            volume=position.volume,
            ts=ts,
            position_id=position.id,
            order_id=position.order_id,
            reason=reason.value,
        )

    async def close_part(
        self, position: Position, volume: Decimal, price: Decimal, ts: datetime
    ) -> Position:
        """Split `volume` off an open position and close it (MANUAL): the position keeps its
        id with the rest; the closed part is a new CLOSED position pointing at it."""
        part = await self._new_position(
            position.side,
            volume,
            position.open_price,
            position.open_ts,
            stop_loss=position.stop_loss,
            take_profit=position.take_profit,
            order_id=position.order_id,
            parent_id=position.id,
        )
        self._book_close(part, price, ts, CloseReason.MANUAL)
        position.volume = position.volume - volume
        position.margin = m.margin(position.volume, position.open_price, self.costs)
        self._log(
            FillKind.PARTIAL_CLOSE,
            price=price,
            volume=volume,
            ts=ts,
            position_id=position.id,
            order_id=position.order_id,
            reason=CloseReason.MANUAL.value,
        )
        return part

    def cancel(self, order: Order, ts: datetime, reason: OrderReason) -> None:
        order.status = OrderStatus.CANCELLED.value
        order.closed_ts = ts
        order.reason = reason.value
        self.orders.remove(order)

    def _reject(self, order: Order, price: Decimal, ts: datetime) -> None:
        order.status = OrderStatus.REJECTED.value
        order.closed_ts = ts
        order.reason = OrderReason.MARGIN.value
        self.orders.remove(order)
        self._log(
            FillKind.ORDER_REJECTED,
            price=price,
            volume=order.volume,
            ts=ts,
            order_id=order.id,
            reason=OrderReason.MARGIN.value,
        )

    # --- one base bar ---

    async def apply_bar(self, ts: datetime, bar: m.Ohlc) -> None:
        """Everything that happens on one base bar, in the rules' order."""
        spread = self.costs.spread
        held = list(self.positions)  # open before this bar: only their levels are checked
        for order in list(self.orders):
            price = m.order_fill_price(order.type, order.side, order.price, bar, spread)
            if price is None:
                continue
            need = m.margin(order.volume, price, self.costs)
            if need > self.free_margin(m.order_bid(order.side, price, spread)):
                self._reject(order, price, ts)
                continue
            await self.open(
                order.side,
                order.volume,
                price,
                ts,
                stop_loss=order.stop_loss,
                take_profit=order.take_profit,
                order=order,
            )
        for position in held:
            hit = m.level_hit(position, bar, spread)
            if hit is not None:
                self.close(
                    position, hit.price, ts, CloseReason(hit.reason), ambiguous=hit.ambiguous
                )
        extreme = m.stopped_out(self.balance, self.positions, bar, self.costs)
        if extreme is not None:
            for position in list(self.positions):
                price = m.market_close_price(position.side, extreme, self.costs)
                self.close(position, price, ts, CloseReason.STOP_OUT)

    # --- the walk ---

    def thresholds(self) -> m.Thresholds:
        return m.thresholds(
            self.balance,
            self.positions,
            self.positions,
            [(o.type, o.side, o.price) for o in self.orders],
            self.costs,
        )

    async def walk(
        self, start: datetime, end: datetime, *, stop_at_fill: bool = False
    ) -> datetime | None:
        """Process the base bars in [start, end), event by event. With `stop_at_fill`, stop
        after the first base bar on which something filled and return its open time (the
        caller processes the rest). Leaves `next_event_ts` set for what lies beyond."""
        horizon = end + HORIZON
        cursor = start
        while True:
            th = self.thresholds()
            if th.empty:
                self.trading_session.next_event_ts = None
                return None
            line = th.stop_out
            hit = await candles_repo.first_crossing(
                self.db,
                self.instrument.id,
                self.base,
                cursor,
                horizon,
                high_at=th.high_at,
                low_at=th.low_at,
                stop_out=(line.a, line.n, line.used) if line is not None else None,
            )
            if hit is None:
                self.trading_session.next_event_ts = horizon  # nothing before it: recheck there
                return None
            ts, o, h, lo = hit
            if ts >= end:
                self.trading_session.next_event_ts = ts
                return None
            before = len(self.fills)
            await self.apply_bar(ts, m.Ohlc(o, h, lo))
            cursor = ts + _TICK
            if stop_at_fill and len(self.fills) > before:
                self.trading_session.next_event_ts = cursor
                return ts

    async def plan(self) -> None:
        """After a change on the current bar (an order, a level, a fill): where the next
        event can be, from the first base bar after the current session bar."""
        ts = self.trading_session.current_ts
        assert ts is not None
        start = ts + self.timeframe.delta
        await self.walk(start, start)

    async def session_end(self) -> None:
        """The replay is over: every open position closes at C (SESSION_END, market closes)
        and every pending order is cancelled."""
        ts = self.trading_session.current_ts
        assert ts is not None
        if self.positions:
            bid = await self.current_close()
            for position in list(self.positions):
                price = m.market_close_price(position.side, bid, self.costs)
                self.close(position, price, ts, CloseReason.SESSION_END)
        for order in list(self.orders):
            self.cancel(order, ts, OrderReason.SESSION_END)
        self.trading_session.next_event_ts = None


async def load(db: AsyncSession, trading_session: TradingSession) -> Book:
    """The book of a session whose row the caller holds locked."""
    instrument = await db.get_one(Instrument, trading_session.instrument_id)
    positions = await positions_repo.open_positions(db, trading_session.id)
    orders = await orders_repo.pending(db, trading_session.id)
    return Book(
        db=db,
        trading_session=trading_session,
        instrument=instrument,
        costs=costs_of(trading_session, instrument),
        positions=list(positions),
        orders=list(orders),
    )


async def process(
    db: AsyncSession,
    trading_session: TradingSession,
    target: datetime,
    *,
    stop_at_fill: bool = False,
) -> datetime | None:
    """Process the base bars a locked session's clock reveals by moving from `current_ts`
    to `target` (both session bars). With `stop_at_fill`: stop at the first fill and return
    the session bar that holds it, with that whole bar processed; else None."""
    current = trading_session.current_ts
    assert current is not None
    if trading_session.next_event_ts is None:
        return None  # nothing open or pending: nothing can happen
    tf = Timeframe(trading_session.timeframe)
    end = target + tf.delta
    start = current + tf.delta
    if trading_session.next_event_ts >= end:
        return None  # the next possible event lies beyond what is revealed
    book = await load(db, trading_session)
    stopped = await book.walk(start, end, stop_at_fill=stop_at_fill)
    if stopped is None:
        await db.flush()
        return None
    bar = tf.floor(stopped)
    await book.walk(stopped + _TICK, bar + tf.delta)  # the rest of the revealed bar
    await db.flush()
    return bar


async def end_session(db: AsyncSession, trading_session: TradingSession) -> None:
    book = await load(db, trading_session)
    await book.session_end()
    await db.flush()

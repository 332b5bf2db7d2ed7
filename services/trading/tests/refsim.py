"""A plain, bar-by-bar reference simulator of the trading rules (README "Trading rules").

Written from the README only, to be compared with the real (event-driven) engine on random
sessions. No cleverness: every base bar is walked one by one, money is exact `Decimal`, and
whatever is stored is rounded half up to cents.

Choices where the README leaves room (the most literal reading each time):

1. The DEPOSIT row's `replay_ts` is the session's first `current_ts` (the bar `start` puts the
   clock on).
2. A partial close's PROFIT and COMMISSION rows belong (`position_id`) to the new CLOSED child
   position: the README makes that fill the child's own ("`commission` = its own close fill's
   commission, and its own profit").
3. A close volume `w` must be a multiple of `volume_step` within `[min_volume, max_volume]`
   (like any volume), `w > volume` is 422, `w == volume` is a full close (kind CLOSE), and a
   remaining volume below `min_volume` is 422. Closing a CLOSED position, cancelling an order
   that is not PENDING and patching a CLOSED position are 400 (wrong state); so is any of them
   on a session that is not RUNNING or PAUSED.
4. When a request is both in the wrong state (400) and malformed (422: a volume off the
   step, a level off the point grid), which answer wins is not said: `Ambiguous` (a test
   skips that action).
5. `PATCH` checks the side of the levels it sets (a non-null value in the body) against `C`
   (BUY: SL < C < TP, SELL: SL > C + spread > TP); a level it does not touch is not checked.
   When a level the PATCH leaves alone is already on the wrong side (possible only for a
   position an order opened on the last base bar of the current bar), the reading is unclear:
   `Ambiguous` again.
6. When the open is beyond both levels (only possible with SL >= TP for a BUY, or the SELL
   mirror), the stop-loss is taken, at the open, not flagged ambiguous.
7. A session bar of a timeframe above the base covers every base bar of its bucket, even those
   after `end_ts` (the session's last bar is the last whose open time is at or before
   `end_ts`; its close is its bucket's last base bar's close).
8. `step {until: "fill"}` stops after the session bar in which any fill happens while bars are
   revealed: an order FILLED or REJECTED, a stop-loss, a take-profit, a stop-out. The
   session-end closes are not such fills.
9. A pending order's margin check at placement is against the free margin at `C` (pending
   orders reserve no margin); risk sizing uses the equity at `C` exactly (not rounded).
10. The margin level is rounded half up to 2 decimals; money shown by the account (balance,
    equity, used and free margin) is round2 of the exact figure.
11. A REJECTED order keeps `position_id` null; `filled_price`/`filled_ts` are only defined for
    FILLED orders (a test should compare them only then).
12. The position a partial close leaves keeps its open fill's commission; after a full close
    it holds both fills' commissions.
13. `risk_pct` needs a `stop_loss`, and exactly one of `volume` and `risk_pct` is given
    (else 422); the volume it gives then goes through the margin check like any other.
14. Ids are a database identity: refsim numbers positions and orders 1, 2, ... in creation
    order (a partial close's child takes the next one); a test compares them by rank.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Any

EPOCH_MONDAY = datetime(2001, 1, 1, tzinfo=UTC)
CENT = Decimal("0.01")
ZERO = Decimal(0)

_UNSET: Any = object()


def round2(x: Decimal) -> Decimal:
    return x.quantize(CENT, rounding=ROUND_HALF_UP)


class RefError(Exception):
    """What the API answers with a 4xx: `status` is 400 (wrong state) or 422 (validation)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


class Ambiguous(Exception):
    """The action falls in a case the README does not decide; a test should not send it."""


@dataclass(frozen=True)
class InstrumentSpec:
    digits: int = 5
    point: Decimal = Decimal("0.00001")
    contract_size: Decimal = Decimal(100000)
    min_volume: Decimal = Decimal("0.01")
    volume_step: Decimal = Decimal("0.01")
    max_volume: Decimal = Decimal(100)


@dataclass(frozen=True)
class SessionSettings:
    initial_balance: Decimal
    leverage: Decimal
    spread_pts: int
    slippage_pts: int
    commission_per_fill: Decimal
    start_ts: datetime
    end_ts: datetime | None = None
    timeframe_seconds: int = 60


@dataclass(frozen=True)
class Bar:
    ts: datetime
    o: Decimal
    h: Decimal
    l: Decimal  # noqa: E741
    c: Decimal


@dataclass(frozen=True)
class SessionBar:
    ts: datetime
    base: tuple[Bar, ...]

    @property
    def c(self) -> Decimal:
        return self.base[-1].c


def bucket(ts: datetime, seconds: int) -> datetime:
    """Open time of the UTC bucket of `seconds` containing `ts` (aligned to 2001-01-01)."""
    offset = int((ts - EPOCH_MONDAY).total_seconds()) // seconds * seconds
    return EPOCH_MONDAY + timedelta(seconds=offset)


def session_bars(base: list[Bar], seconds: int) -> list[SessionBar]:
    groups: dict[datetime, list[Bar]] = {}
    for b in sorted(base, key=lambda b: b.ts):
        groups.setdefault(bucket(b.ts, seconds), []).append(b)
    return [SessionBar(ts, tuple(bars)) for ts, bars in sorted(groups.items())]


@dataclass
class Position:
    id: int
    side: str
    volume: Decimal
    open_price: Decimal
    open_ts: datetime
    stop_loss: Decimal | None
    take_profit: Decimal | None
    margin: Decimal
    status: str = "OPEN"
    close_price: Decimal | None = None
    close_ts: datetime | None = None
    close_reason: str | None = None
    commission: Decimal = ZERO
    profit: Decimal | None = None  # realized (round2) once CLOSED
    ambiguous: bool = False
    parent_id: int | None = None
    order_id: int | None = None


@dataclass
class Order:
    id: int
    type: str
    side: str
    volume: Decimal
    price: Decimal
    stop_loss: Decimal | None
    take_profit: Decimal | None
    status: str = "PENDING"
    position_id: int | None = None
    filled_price: Decimal | None = None
    filled_ts: datetime | None = None


@dataclass
class LedgerRow:
    type: str
    amount: Decimal
    balance_after: Decimal
    replay_ts: datetime
    position_id: int | None


@dataclass
class Event:
    kind: str  # OPEN | CLOSE | PARTIAL_CLOSE | ORDER_FILLED | ORDER_REJECTED
    reason: str | None
    price: Decimal | None
    volume: Decimal
    ts: datetime
    position_id: int | None = None
    order_id: int | None = None


@dataclass
class RefSim:
    spec: InstrumentSpec
    settings: SessionSettings
    base_bars: list[Bar]
    status: str = "DRAFT"
    balance: Decimal = ZERO
    current: int = -1  # index into `bars` of the session bar at current_ts
    positions: list[Position] = field(default_factory=list)
    orders: list[Order] = field(default_factory=list)
    ledger: list[LedgerRow] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.bars = session_bars(self.base_bars, self.settings.timeframe_seconds)
        end = self.settings.end_ts
        in_range = [
            i
            for i, b in enumerate(self.bars)
            if b.ts >= self.settings.start_ts and (end is None or b.ts <= end)
        ]
        self.first = in_range[0] if in_range else None
        upto = [i for i, b in enumerate(self.bars) if end is None or b.ts <= end]
        self.last = upto[-1] if upto else None

    # --- derived figures ---

    @property
    def pt(self) -> Decimal:
        return self.spec.point

    @property
    def spread(self) -> Decimal:
        return self.settings.spread_pts * self.spec.point

    @property
    def slip(self) -> Decimal:
        return self.settings.slippage_pts * self.spec.point

    @property
    def c(self) -> Decimal:
        return self.settings.commission_per_fill

    @property
    def current_ts(self) -> datetime | None:
        return None if self.current < 0 else self.bars[self.current].ts

    @property
    def C(self) -> Decimal:
        return self.bars[self.current].c

    def open_positions(self) -> list[Position]:
        return [p for p in self.positions if p.status == "OPEN"]

    def pending_orders(self) -> list[Order]:
        return [o for o in self.orders if o.status == "PENDING"]

    def margin_of(self, volume: Decimal, price: Decimal) -> Decimal:
        return round2(volume * self.spec.contract_size * price / self.settings.leverage)

    def pnl(self, side: str, open_price: Decimal, close: Decimal, volume: Decimal) -> Decimal:
        diff = close - open_price if side == "BUY" else open_price - close
        return diff * volume * self.spec.contract_size

    def unrealized(self, p: Position, bid: Decimal) -> Decimal:
        """Exact P&L of an open position with the market at `bid` (SELL marked at the ask)."""
        mark = bid if p.side == "BUY" else bid + self.spread
        return self.pnl(p.side, p.open_price, mark, p.volume)

    def equity_at(self, bid: Decimal) -> Decimal:
        return self.balance + sum((self.unrealized(p, bid) for p in self.open_positions()), ZERO)

    def used_margin(self) -> Decimal:
        return sum((p.margin for p in self.open_positions()), ZERO)

    def free_margin_at(self, bid: Decimal) -> Decimal:
        return self.equity_at(bid) - self.used_margin()

    def account(self) -> dict[str, Any]:
        equity = self.equity_at(self.C)
        used = self.used_margin()
        return {
            "balance": round2(self.balance),
            "equity": round2(equity),
            "used_margin": round2(used),
            "free_margin": round2(equity - used),
            "margin_level": None if used == 0 else round2(equity / used * 100),
            "open_positions": len(self.open_positions()),
        }

    def position_profit(self, p: Position) -> Decimal:
        """`profit` as the API shows it: realized, or unrealized at C, round2."""
        if p.status == "CLOSED":
            assert p.profit is not None
            return p.profit
        return round2(self.unrealized(p, self.C))

    def position(self, pid: int) -> Position:
        return self.positions[pid - 1]

    def order(self, oid: int) -> Order:
        return self.orders[oid - 1]

    # --- ledger and fills ---

    def _book(self, kind: str, amount: Decimal, ts: datetime, pid: int | None) -> None:
        self.balance += amount
        self.ledger.append(LedgerRow(kind, amount, self.balance, ts, pid))

    def _commission(self, p: Position, ts: datetime) -> None:
        if self.c > 0:
            p.commission += self.c
            self._book("COMMISSION", -self.c, ts, p.id)

    def _new_position(self, **kw: Any) -> Position:
        p = Position(id=len(self.positions) + 1, **kw)
        self.positions.append(p)
        return p

    def _close(
        self, p: Position, price: Decimal, ts: datetime, reason: str, ambiguous: bool = False
    ) -> None:
        p.status = "CLOSED"
        p.close_price = price
        p.close_ts = ts
        p.close_reason = reason
        p.ambiguous = p.ambiguous or ambiguous
        p.profit = round2(self.pnl(p.side, p.open_price, price, p.volume))
        self._book("PROFIT", p.profit, ts, p.id)
        self._commission(p, ts)
        self.events.append(Event("CLOSE", reason, price, p.volume, ts, position_id=p.id))

    def _market_close_price(self, side: str, bid: Decimal) -> Decimal:
        return bid - self.slip if side == "BUY" else bid + self.spread + self.slip

    # --- checks ---

    def _require_started(self) -> None:
        if self.status not in ("RUNNING", "PAUSED"):
            raise RefError(400, f"session is {self.status}")

    def _state_first(self, p: Position, malformed: bool) -> None:
        """400 for a session not RUNNING or PAUSED or a CLOSED position; when the body is
        also malformed (422) the README does not say which answer wins."""
        try:
            self._require_started()
            if p.status != "OPEN":
                raise RefError(400, "position is CLOSED")
        except RefError as exc:
            if malformed:
                raise Ambiguous("wrong state (400) and a malformed body (422)") from exc
            raise

    def _grid_ok(self, value: Decimal) -> bool:
        return value > 0 and value % self.pt == 0

    def _volume_ok(self, volume: Decimal) -> bool:
        s = self.spec
        return volume % s.volume_step == 0 and s.min_volume <= volume <= s.max_volume

    def _on_grid(self, value: Decimal, what: str) -> None:
        if not self._grid_ok(value):
            raise RefError(422, f"{what} must be a positive multiple of point")

    def _check_volume(self, volume: Decimal) -> None:
        if not self._volume_ok(volume):
            raise RefError(422, "volume off step or out of range")

    def _risk_volume(self, risk_pct: Decimal, entry: Decimal, sl: Decimal | None) -> Decimal:
        if sl is None:
            raise RefError(422, "risk_pct needs a stop_loss")
        if not ZERO < risk_pct <= 100:
            raise RefError(422, "risk_pct out of (0, 100]")
        d = abs(entry - sl)
        budget = self.equity_at(self.C) * risk_pct / 100 - 2 * self.c
        if d == 0:
            raise RefError(422, "stop_loss at the entry")
        s = self.spec
        steps = (budget / (s.contract_size * d * s.volume_step)).to_integral_value(ROUND_FLOOR)
        volume = min(steps * s.volume_step, s.max_volume)
        if volume < s.min_volume:
            raise RefError(422, "risk too small for min_volume")
        return volume

    def _sizing(
        self, volume: Decimal | None, risk_pct: Decimal | None, entry: Decimal, sl: Decimal | None
    ) -> Decimal:
        if (volume is None) == (risk_pct is None):
            raise RefError(422, "give volume or risk_pct")
        if volume is not None:
            self._check_volume(volume)
            return volume
        assert risk_pct is not None
        return self._risk_volume(risk_pct, entry, sl)

    def _check_levels_market(self, side: str, sl: Decimal | None, tp: Decimal | None) -> None:
        ref = self.C if side == "BUY" else self.C + self.spread
        if side == "BUY":
            if (sl is not None and not sl < ref) or (tp is not None and not tp > ref):
                raise RefError(422, "BUY levels on the wrong side of C")
        elif (sl is not None and not sl > ref) or (tp is not None and not tp < ref):
            raise RefError(422, "SELL levels on the wrong side of C + spread")

    # --- actions (mirroring the HTTP API) ---

    def start(self) -> None:
        if self.status != "DRAFT":
            raise RefError(400, "only a DRAFT session can be started")
        if self.first is None:
            raise RefError(400, "no bars in range")
        self.status = "RUNNING"
        self.current = self.first
        self._book("DEPOSIT", self.settings.initial_balance, self.bars[self.current].ts, None)
        if self.current == self.last:
            self._finish()

    def pause(self) -> None:
        if self.status != "RUNNING":
            raise RefError(400, "not running")
        self.status = "PAUSED"

    def open_position(
        self,
        side: str,
        volume: Decimal | None = None,
        stop_loss: Decimal | None = None,
        take_profit: Decimal | None = None,
        risk_pct: Decimal | None = None,
    ) -> Position:
        self._require_started()
        for v, name in ((stop_loss, "stop_loss"), (take_profit, "take_profit")):
            if v is not None:
                self._on_grid(v, name)
        self._check_levels_market(side, stop_loss, take_profit)
        C = self.C
        price = C + self.spread + self.slip if side == "BUY" else C - self.slip
        volume = self._sizing(volume, risk_pct, price, stop_loss)
        margin = self.margin_of(volume, price)
        if margin > self.free_margin_at(C):
            raise RefError(422, "not enough free margin")
        ts = self.bars[self.current].ts
        p = self._new_position(
            side=side,
            volume=volume,
            open_price=price,
            open_ts=ts,
            stop_loss=stop_loss,
            take_profit=take_profit,
            margin=margin,
        )
        self._commission(p, ts)
        self.events.append(Event("OPEN", None, price, volume, ts, position_id=p.id))
        return p

    def place_order(
        self,
        type: str,
        side: str,
        price: Decimal,
        volume: Decimal | None = None,
        stop_loss: Decimal | None = None,
        take_profit: Decimal | None = None,
        risk_pct: Decimal | None = None,
    ) -> Order:
        self._require_started()
        self._on_grid(price, "price")
        for v, name in ((stop_loss, "stop_loss"), (take_profit, "take_profit")):
            if v is not None:
                self._on_grid(v, name)
        if side == "BUY":
            if (stop_loss is not None and not stop_loss < price) or (
                take_profit is not None and not take_profit > price
            ):
                raise RefError(422, "pending BUY needs SL < price < TP")
        elif (stop_loss is not None and not stop_loss > price) or (
            take_profit is not None and not take_profit < price
        ):
            raise RefError(422, "pending SELL needs SL > price > TP")
        C = self.C
        ask = C + self.spread
        wrong = {
            ("LIMIT", "BUY"): price > ask,
            ("STOP", "BUY"): price < ask,
            ("LIMIT", "SELL"): price < C,
            ("STOP", "SELL"): price > C,
        }[(type, side)]
        if wrong:
            raise RefError(422, "order on the wrong side of the market")
        volume = self._sizing(volume, risk_pct, price, stop_loss)
        if self.margin_of(volume, price) > self.free_margin_at(C):
            raise RefError(422, "not enough free margin")
        o = Order(
            id=len(self.orders) + 1,
            type=type,
            side=side,
            volume=volume,
            price=price,
            stop_loss=stop_loss,
            take_profit=take_profit,
        )
        self.orders.append(o)
        return o

    def cancel_order(self, oid: int) -> Order:
        o = self.order(oid)
        self._require_started()
        if o.status != "PENDING":
            raise RefError(400, f"order is {o.status}")
        o.status = "CANCELLED"
        return o

    def close_position(self, pid: int, volume: Decimal | None = None) -> Position:
        p = self.position(pid)
        self._state_first(p, volume is not None and not self._volume_ok(volume))
        ts = self.bars[self.current].ts
        price = self._market_close_price(p.side, self.C)
        if volume is None or volume == p.volume:
            if volume is not None:
                self._check_volume(volume)
            self._close(p, price, ts, "MANUAL")
            return p
        self._check_volume(volume)
        if volume > p.volume:
            raise RefError(422, "close volume above the position's volume")
        rest = p.volume - volume
        if rest < self.spec.min_volume:
            raise RefError(422, "remaining volume below min_volume")
        p.volume = rest
        p.margin = self.margin_of(rest, p.open_price)
        child = self._new_position(
            side=p.side,
            volume=volume,
            open_price=p.open_price,
            open_ts=p.open_ts,
            stop_loss=p.stop_loss,
            take_profit=p.take_profit,
            margin=self.margin_of(volume, p.open_price),
            parent_id=p.id,
            order_id=p.order_id,
        )
        child.status = "CLOSED"
        child.close_price = price
        child.close_ts = ts
        child.close_reason = "MANUAL"
        child.profit = round2(self.pnl(p.side, p.open_price, price, volume))
        self._book("PROFIT", child.profit, ts, child.id)
        self._commission(child, ts)
        self.events.append(
            Event("PARTIAL_CLOSE", "MANUAL", price, volume, ts, position_id=child.id)
        )
        return p

    def patch_position(
        self, pid: int, stop_loss: Decimal | None = _UNSET, take_profit: Decimal | None = _UNSET
    ) -> Position:
        """Keys left out are untouched; None removes a level."""
        p = self.position(pid)
        sets = [v for v in (stop_loss, take_profit) if v is not _UNSET and v is not None]
        self._state_first(p, not all(self._grid_ok(v) for v in sets))
        new_sl = p.stop_loss if stop_loss is _UNSET else stop_loss
        new_tp = p.take_profit if take_profit is _UNSET else take_profit
        set_sl = None if stop_loss is _UNSET else stop_loss
        set_tp = None if take_profit is _UNSET else take_profit
        for v, name in ((set_sl, "stop_loss"), (set_tp, "take_profit")):
            if v is not None:
                self._on_grid(v, name)
        self._check_levels_market(p.side, set_sl, set_tp)
        try:
            self._check_levels_market(p.side, new_sl, new_tp)
        except RefError as exc:
            raise Ambiguous("a level the PATCH leaves alone is on the wrong side") from exc
        p.stop_loss, p.take_profit = new_sl, new_tp
        return p

    def step(self, n: int = 1) -> None:
        self._require_started()
        if n < 1:
            raise RefError(422, "bars must be at least 1")
        assert self.last is not None
        self._advance_to(min(self.current + n, self.last))

    def step_until_fill(self) -> None:
        self._require_started()
        assert self.last is not None
        self._advance_to(self.last, stop_on_fill=True)

    def seek(self, ts: datetime) -> None:
        self._require_started()
        current_ts = self.current_ts
        assert current_ts is not None and self.last is not None
        if ts < current_ts:
            raise RefError(422, "seek is forward only")
        target = self.current
        for i in range(self.current, self.last + 1):
            if self.bars[i].ts <= ts:
                target = i
        self._advance_to(target)

    def stop(self) -> None:
        self._require_started()
        self._finish()

    # --- the clock ---

    def _advance_to(self, target: int, stop_on_fill: bool = False) -> None:
        assert self.last is not None
        while self.current < target:
            self.current += 1
            before = len(self.events)
            for b in self.bars[self.current].base:
                self._process(b)
            if stop_on_fill and len(self.events) > before:
                break
        if self.current == self.last:
            self._finish()

    def _finish(self) -> None:
        ts = self.bars[self.current].ts
        for p in self.open_positions():
            self._close(p, self._market_close_price(p.side, self.C), ts, "SESSION_END")
        for o in self.pending_orders():
            o.status = "CANCELLED"
        self.status = "COMPLETED"

    def _trigger(self, o: Order, b: Bar) -> Decimal | None:
        sp, p = self.spread, o.price
        if (o.type, o.side) == ("LIMIT", "BUY"):
            if b.o + sp <= p:
                return b.o + sp
            return p if b.l + sp <= p else None
        if (o.type, o.side) == ("STOP", "BUY"):
            if b.o + sp >= p:
                return b.o + sp
            return p if b.h + sp >= p else None
        if (o.type, o.side) == ("LIMIT", "SELL"):
            if b.o >= p:
                return b.o
            return p if b.h >= p else None
        if b.o <= p:
            return b.o
        return p if b.l <= p else None

    def _sl_tp(self, p: Position, b: Bar) -> tuple[Decimal, str, bool] | None:
        """(fill price, reason, ambiguous) of a level hit on bar `b`, or None."""
        sp = ZERO if p.side == "BUY" else self.spread
        o, h, l = b.o + sp, b.h + sp, b.l + sp  # noqa: E741
        sl, tp = p.stop_loss, p.take_profit
        if p.side == "BUY":
            sl_open = sl is not None and o <= sl
            tp_open = tp is not None and o >= tp
            sl_hit = sl is not None and l <= sl
            tp_hit = tp is not None and h >= tp
        else:
            sl_open = sl is not None and o >= sl
            tp_open = tp is not None and o <= tp
            sl_hit = sl is not None and h >= sl
            tp_hit = tp is not None and l <= tp
        if sl_open:
            return o, "STOP_LOSS", False
        if tp_open:
            return o, "TAKE_PROFIT", False
        if sl_hit and tp_hit:
            assert sl is not None
            return sl, "STOP_LOSS", True
        if sl_hit:
            assert sl is not None
            return sl, "STOP_LOSS", False
        if tp_hit:
            assert tp is not None
            return tp, "TAKE_PROFIT", False
        return None

    def _process(self, b: Bar) -> None:
        open_before = self.open_positions()
        # 1. pending orders, oldest first
        for o in self.pending_orders():
            fill = self._trigger(o, b)
            if fill is None:
                continue
            bid = fill - self.spread if o.side == "BUY" else fill
            margin = self.margin_of(o.volume, fill)
            if margin > self.free_margin_at(bid):
                o.status = "REJECTED"
                self.events.append(
                    Event("ORDER_REJECTED", None, fill, o.volume, b.ts, order_id=o.id)
                )
                continue
            p = self._new_position(
                side=o.side,
                volume=o.volume,
                open_price=fill,
                open_ts=b.ts,
                stop_loss=o.stop_loss,
                take_profit=o.take_profit,
                margin=margin,
                order_id=o.id,
            )
            o.status = "FILLED"
            o.position_id = p.id
            o.filled_price = fill
            o.filled_ts = b.ts
            self._commission(p, b.ts)
            self.events.append(
                Event("ORDER_FILLED", None, fill, o.volume, b.ts, position_id=p.id, order_id=o.id)
            )
        # 2. stop-loss and take-profit of the positions open before this bar
        for p in open_before:
            if p.status != "OPEN":
                continue
            hit = self._sl_tp(p, b)
            if hit is not None:
                price, reason, ambiguous = hit
                self._close(p, price, b.ts, reason, ambiguous)
        # 3. stop-out
        still = self.open_positions()
        if not still:
            return
        n = sum(
            (p.volume * self.spec.contract_size * (1 if p.side == "BUY" else -1) for p in still),
            ZERO,
        )
        x = b.l if n >= 0 else b.h
        used = self.used_margin()
        if used > 0 and self.equity_at(x) < used / 2:
            for p in still:
                self._close(p, self._market_close_price(p.side, x), b.ts, "STOP_OUT")

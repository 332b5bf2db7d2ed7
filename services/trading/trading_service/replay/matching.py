"""The trading arithmetic, pure: fill prices, gaps, SL/TP and ambiguity, margin, equity, the
stop-out threshold and risk sizing (README "Trading rules"). No database, no I/O: the engine
and the domain services call it; the tests check it by hand.

Prices are bid prices unless named `ask`; everything is exact `Decimal`; money is rounded half
up to cents only by `round2`, where it is stored.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Protocol

BUY, SELL = "BUY", "SELL"
LIMIT, STOP = "LIMIT", "STOP"
STOP_LOSS, TAKE_PROFIT = "STOP_LOSS", "TAKE_PROFIT"

CENT = Decimal("0.01")
ZERO = Decimal(0)
STOP_OUT_LEVEL = Decimal("0.5")  # margin level (equity / used margin) below 50 %


def round2(value: Decimal) -> Decimal:
    """Money as stored: cents, half up (SPEC 3)."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class Costs:
    """A session's trading costs in price and money terms."""

    spread: Decimal  # spread_pts x point
    slip: Decimal  # slippage_pts x point
    contract_size: Decimal
    commission: Decimal  # per fill
    leverage: Decimal


@dataclass(frozen=True, slots=True)
class Ohlc:
    """One base bar's bid prices."""

    open: Decimal
    high: Decimal
    low: Decimal


class Exposure(Protocol):
    """What the arithmetic needs of an open position (the ORM row satisfies it)."""

    side: str
    volume: Decimal
    open_price: Decimal
    margin: Decimal


class Levels(Protocol):
    side: str
    stop_loss: Decimal | None
    take_profit: Decimal | None


def sign(side: str) -> int:
    return 1 if side == BUY else -1


# --- market fills ---


def market_open_price(side: str, bid: Decimal, costs: Costs) -> Decimal:
    """A market BUY fills at ask + slippage, a SELL at bid - slippage."""
    if side == BUY:
        return bid + costs.spread + costs.slip
    return bid - costs.slip


def market_close_price(side: str, bid: Decimal, costs: Costs) -> Decimal:
    """Closing does the reverse side: a BUY sells at bid - slippage, a SELL buys at ask +
    slippage."""
    if side == BUY:
        return bid - costs.slip
    return bid + costs.spread + costs.slip


def mark_price(side: str, bid: Decimal, costs: Costs) -> Decimal:
    """The price a position is valued at (its closing side, no slippage)."""
    return bid if side == BUY else bid + costs.spread


# --- money ---


def pnl(
    side: str, open_price: Decimal, close_price: Decimal, volume: Decimal, cs: Decimal
) -> Decimal:
    """Gross P&L, exact: price difference x volume x contract size."""
    return (close_price - open_price) * volume * cs * sign(side)


def margin(volume: Decimal, price: Decimal, costs: Costs) -> Decimal:
    """Margin = volume x contract size x price / leverage, in cents."""
    return round2(volume * costs.contract_size * price / costs.leverage)


def unrealized(positions: Iterable[Exposure], bid: Decimal, costs: Costs) -> Decimal:
    return sum(
        (
            pnl(p.side, p.open_price, mark_price(p.side, bid, costs), p.volume, costs.contract_size)
            for p in positions
        ),
        ZERO,
    )


def equity(balance: Decimal, positions: Iterable[Exposure], bid: Decimal, costs: Costs) -> Decimal:
    return balance + unrealized(positions, bid, costs)


def used_margin(positions: Iterable[Exposure]) -> Decimal:
    return sum((p.margin for p in positions), ZERO)


# --- pending orders ---


def order_fill_price(
    order_type: str, side: str, price: Decimal, bar: Ohlc, spread: Decimal
) -> Decimal | None:
    """Where a pending order fills on this bar, or None. A BUY is compared with the ask, a
    SELL with the bid; a bar that opens past the price fills at its open (better for a LIMIT,
    worse for a STOP)."""
    shift = spread if side == BUY else ZERO
    o, h, lo = bar.open + shift, bar.high + shift, bar.low + shift
    buy_below = (order_type == LIMIT) == (side == BUY)  # BUY LIMIT, SELL STOP: price at/below
    if buy_below:
        if o <= price:
            return o
        if lo <= price:
            return price
        return None
    if o >= price:
        return o
    if h >= price:
        return price
    return None


def order_bid(side: str, fill_price: Decimal, spread: Decimal) -> Decimal:
    """The bid at the moment an order fills (a BUY fills on the ask)."""
    return fill_price - spread if side == BUY else fill_price


# --- stop-loss and take-profit ---


@dataclass(frozen=True, slots=True)
class LevelHit:
    reason: str  # STOP_LOSS | TAKE_PROFIT
    price: Decimal
    ambiguous: bool


def level_hit(position: Levels, bar: Ohlc, spread: Decimal) -> LevelHit | None:
    """The SL or TP this bar fills, if any. A BUY's levels are checked against the bid, a
    SELL's against the ask. An open beyond a level fills that level at the open (the open is
    the bar's first price); otherwise a bar reaching both takes the stop-loss, flagged
    ambiguous."""
    sl, tp = position.stop_loss, position.take_profit
    if sl is None and tp is None:
        return None
    if position.side == BUY:
        o, h, lo = bar.open, bar.high, bar.low
        if sl is not None and o <= sl:
            return LevelHit(STOP_LOSS, o, False)
        if tp is not None and o >= tp:
            return LevelHit(TAKE_PROFIT, o, False)
        sl_hit = sl is not None and lo <= sl
        tp_hit = tp is not None and h >= tp
    else:
        o, h, lo = bar.open + spread, bar.high + spread, bar.low + spread
        if sl is not None and o >= sl:
            return LevelHit(STOP_LOSS, o, False)
        if tp is not None and o <= tp:
            return LevelHit(TAKE_PROFIT, o, False)
        sl_hit = sl is not None and h >= sl
        tp_hit = tp is not None and lo <= tp
    if sl_hit:
        assert sl is not None
        return LevelHit(STOP_LOSS, sl, tp_hit)
    if tp_hit:
        assert tp is not None
        return LevelHit(TAKE_PROFIT, tp, False)
    return None


# --- stop-out ---


def net_units(positions: Iterable[Exposure], cs: Decimal) -> Decimal:
    """Net exposure in units: + for BUY, - for SELL."""
    return sum((p.volume * cs * sign(p.side) for p in positions), ZERO)


def adverse_extreme(positions: Sequence[Exposure], bar: Ohlc, cs: Decimal) -> Decimal:
    """The bar's worst bid for the open positions together: its low when net long (or flat),
    its high when net short."""
    return bar.low if net_units(positions, cs) >= 0 else bar.high


def stopped_out(
    balance: Decimal, positions: Sequence[Exposure], bar: Ohlc, costs: Costs
) -> Decimal | None:
    """The adverse extreme (a bid) when the margin level there is below 50 %, else None."""
    used = used_margin(positions)
    if not positions or used <= 0:
        return None
    x = adverse_extreme(positions, bar, costs.contract_size)
    if equity(balance, positions, x, costs) < STOP_OUT_LEVEL * used:
        return x
    return None


@dataclass(frozen=True, slots=True)
class StopOutLine:
    """Equity as a line in the bid, `a + n x bid`, against used margin: the stop-out happens
    at the first bar whose adverse extreme `x` has 2(a + n x) < used."""

    a: Decimal
    n: Decimal
    used: Decimal


def stop_out_line(
    balance: Decimal, positions: Sequence[Exposure], costs: Costs
) -> StopOutLine | None:
    used = used_margin(positions)
    if not positions or used <= 0:
        return None
    cs = costs.contract_size
    a = balance
    for p in positions:
        units = p.volume * cs
        if p.side == BUY:
            a -= units * p.open_price
        else:
            a += units * (p.open_price - costs.spread)
    return StopOutLine(a=a, n=net_units(positions, cs), used=used)


# --- where the next event can be: thresholds on the bid high and low ---


@dataclass(frozen=True, slots=True)
class Thresholds:
    """The first bar with `high >= high_at` or `low <= low_at` (or past the stop-out line) is
    the first on which anything can happen; None: no such condition."""

    high_at: Decimal | None
    low_at: Decimal | None
    stop_out: StopOutLine | None

    @property
    def empty(self) -> bool:
        return self.high_at is None and self.low_at is None and self.stop_out is None


def _min(a: Decimal | None, b: Decimal) -> Decimal:
    return b if a is None else min(a, b)


def _max(a: Decimal | None, b: Decimal) -> Decimal:
    return b if a is None else max(a, b)


def thresholds(
    balance: Decimal,
    positions: Sequence[Exposure],
    levels: Iterable[Levels],
    orders: Iterable[tuple[str, str, Decimal]],
    costs: Costs,
) -> Thresholds:
    """Bid thresholds for the positions' SL/TP (`levels`), the pending orders ((type, side,
    price) each) and the stop-out. Exact: a bar crosses a threshold iff the rules above
    fill something on it (an open past a level also has its high or low past it)."""
    hi: Decimal | None = None
    lo: Decimal | None = None
    spread = costs.spread
    for p in levels:
        shift = ZERO if p.side == BUY else spread
        up, down = (p.take_profit, p.stop_loss) if p.side == BUY else (p.stop_loss, p.take_profit)
        if up is not None:
            hi = _min(hi, up - shift)
        if down is not None:
            lo = _max(lo, down - shift)
    for order_type, side, price in orders:
        shift = spread if side == BUY else ZERO
        if (order_type == LIMIT) == (side == BUY):
            lo = _max(lo, price - shift)
        else:
            hi = _min(hi, price - shift)
    return Thresholds(hi, lo, stop_out_line(balance, positions, costs))


# --- sizing by risk ---


def risk_volume(
    *,
    equity_now: Decimal,
    risk_pct: Decimal,
    entry: Decimal,
    stop_loss: Decimal,
    costs: Costs,
    volume_step: Decimal,
    max_volume: Decimal,
) -> Decimal:
    """The largest volume on the step whose loss at the stop (the entry-to-stop distance,
    which carries spread and slippage, plus both fills' commission) stays within
    `risk_pct` % of equity, capped at `max_volume`. Zero when nothing fits."""
    distance = abs(entry - stop_loss)
    budget = equity_now * risk_pct / 100 - 2 * costs.commission
    if distance <= 0 or budget <= 0:
        return ZERO
    steps = (budget / (distance * costs.contract_size * volume_step)).to_integral_value(
        rounding=ROUND_FLOOR
    )
    return min(steps * volume_step, max_volume)

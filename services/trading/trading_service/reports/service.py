"""Reports (SPEC 3 "Reports", README "Reports"): an immutable snapshot of a session at its
`current_ts`: the equity series, the closed trades and their statistics.

The equity series has one point per bar of the session's timeframe from its first bar to
`replay_ts`: the balance after every fill booked on bars up to and including that bar, plus
the unrealized P&L of the positions still open after it, marked at the bar's close on the
closing side (BUY at the bid, SELL at the ask), without slippage. Each point is computed
exactly, in integers, and turned into a float once: a drawdown starts where equity equals
its running peak exactly, and a one-ulp difference at a tie would move every duration.
"""

from __future__ import annotations

import csv
import io
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession

from servicekit.errors import BadRequest

from ..instruments.models import Instrument
from ..positions.models import Position, PositionStatus, Side
from ..replay import bars as replay_bars
from ..replay import engine
from ..sessions.dependencies import LockedSessionView, SessionView
from ..sessions.models import SessionStatus
from ..sessions.schemas import iso_z
from ..timeframes import Timeframe
from . import repository as repo
from . import stats as stats_module
from . import svg
from .models import Report
from .schemas import ReportList, ReportOut

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
_EXACT_FLOAT = 2**53


def _us(ts: datetime) -> int:
    return (ts - EPOCH) // _US


def _decimals(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def _scaled(value: Decimal, decimals: int) -> int:
    scaled = value.scaleb(decimals)
    assert scaled == scaled.to_integral_value(), (value, decimals)
    return int(scaled)


@dataclass(frozen=True)
class Series:
    index_ns: np.ndarray  # int64, bar open times
    equity: np.ndarray  # float64


def equity_series(
    times_us: list[int],
    closes: list[int],
    close_decimals: int,
    ledger: list[tuple[datetime, Decimal]],
    positions: list[Position],
    *,
    timeframe: Timeframe,
    contract_size: Decimal,
    spread: Decimal,
) -> Series:
    """The exact equity series (see the module's docstring)."""
    bt = np.asarray(times_us, dtype=np.int64)
    n = len(bt)

    def bar_of(ts: datetime) -> int:
        i = int(np.searchsorted(bt, _us(timeframe.floor(ts)), side="left"))
        return min(i, n - 1)

    cents = np.zeros(n, dtype=object)
    for replay_ts, amount in ledger:
        cents[bar_of(replay_ts)] += _scaled(amount, 2)
    balance = np.cumsum(cents) if n else cents

    units = [p.volume * contract_size for p in positions]
    u = max([_decimals(x) for x in units], default=0)
    prices = max([close_decimals, _decimals(spread), *(_decimals(p.open_price) for p in positions)])
    total = max(u + prices, 2)
    n_delta = np.zeros(n + 1, dtype=object)
    k_delta = np.zeros(n + 1, dtype=object)
    for position, unit in zip(positions, units, strict=True):
        sign = 1 if position.side == Side.BUY else -1
        shift = spread if position.side == Side.SELL else Decimal(0)
        signed_units = _scaled(unit, u) * sign
        k = signed_units * _scaled(shift - position.open_price, prices)
        entry = bar_of(position.open_ts)
        exit_ = bar_of(position.close_ts) if position.close_ts is not None else n
        n_delta[entry] += signed_units
        n_delta[exit_] -= signed_units
        k_delta[entry] += k
        k_delta[exit_] -= k
    net_units = np.cumsum(n_delta[:n]) if n else n_delta[:0]
    k_sum = np.cumsum(k_delta[:n]) if n else k_delta[:0]
    close_scaled = np.asarray(closes, dtype=object) * 10 ** (prices - close_decimals)
    exact = balance * 10 ** (total - 2) + (net_units * close_scaled + k_sum) * 10 ** (
        total - u - prices
    )
    divisor = 10**total
    if n and max(abs(int(exact.max())), abs(int(exact.min()))) < _EXACT_FLOAT and total <= 22:
        equity = np.asarray(exact, dtype=np.float64) / float(divisor)  # one rounding
    else:
        equity = np.array([int(v) / divisor for v in exact], dtype=np.float64)
    return Series(index_ns=bt * 1000, equity=equity)


def trade_rows(
    positions: list[Position], index_ns: np.ndarray, timeframe: Timeframe, contract_size: Decimal
) -> tuple[stats_module.Trades, list[dict[str, Any]]]:
    """The closed positions as backtesting.py's trades (by exit, then id), and as rows."""
    closed = sorted(
        (p for p in positions if p.status == PositionStatus.CLOSED),
        key=lambda p: (p.close_ts, p.id),
    )
    bt_us = index_ns // 1000
    n = len(bt_us)

    def bar_of(ts: datetime) -> int:
        return min(int(np.searchsorted(bt_us, _us(timeframe.floor(ts)), side="left")), n - 1)

    entry = np.array([bar_of(p.open_ts) for p in closed], dtype=np.int64)
    exit_ = np.array([bar_of(p.close_ts) for p in closed], dtype=np.int64)  # type: ignore[arg-type]
    size = np.array(
        [float(p.volume * contract_size * (1 if p.side == Side.BUY else -1)) for p in closed],
        dtype=np.float64,
    )
    trades = stats_module.Trades(
        size=size,
        entry_bar=entry,
        exit_bar=exit_,
        entry_price=np.array([float(p.open_price) for p in closed], dtype=np.float64),
        exit_price=np.array([float(p.close_price) for p in closed], dtype=np.float64),  # type: ignore[arg-type]
        pnl=np.array([float(p.profit - p.commission) for p in closed], dtype=np.float64),  # type: ignore[operator]
        commission=np.array([float(p.commission) for p in closed], dtype=np.float64),
        entry_time=index_ns[entry] if len(closed) else np.array([], dtype=np.int64),
        exit_time=index_ns[exit_] if len(closed) else np.array([], dtype=np.int64),
    )
    returns = trades.return_pct * 100
    rows = [
        {
            "id": p.id,
            "side": p.side,
            "volume": float(p.volume),
            "open_ts": iso_z(p.open_ts),
            "open_price": float(p.open_price),
            "close_ts": iso_z(p.close_ts),  # type: ignore[arg-type]
            "close_price": float(p.close_price),  # type: ignore[arg-type]
            "close_reason": p.close_reason,
            "commission": float(p.commission),
            "profit": float(p.profit),  # type: ignore[arg-type]
            "net_profit": float(p.profit - p.commission),  # type: ignore[operator]
            "return_pct": float(returns[i]),
            "duration_s": int((trades.exit_time[i] - trades.entry_time[i]) // stats_module.NS),
            "ambiguous": p.ambiguous,
            "parent_id": p.parent_id,
            "entry_bar": int(entry[i]),
            "exit_bar": int(exit_[i]),
        }
        for i, p in enumerate(closed)
    ]
    return trades, rows


def _stats_json(values: dict[str, Any]) -> dict[str, Any]:
    out = dict(values)
    for key in ("start", "end"):
        out[key] = iso_z(EPOCH + timedelta(microseconds=values[key] // 1000))
    return out


async def generate(db: AsyncSession, view: LockedSessionView) -> ReportOut:
    """Snapshot the locked, settled session at its current bar."""
    trading_session = view.row
    if trading_session.session_status == SessionStatus.DRAFT:
        raise BadRequest("Cannot report on a DRAFT session: start it first")
    current = trading_session.current_ts
    assert current is not None
    instrument = await db.get_one(Instrument, trading_session.instrument_id)
    first = await replay_bars.first_bar(db, trading_session)
    first = first if first is not None and first <= current else current
    tf = Timeframe(trading_session.timeframe)
    args = (instrument.id, tf.value, first, current)
    decimals = await repo.close_scale(db, *args)
    times_us, closes = await repo.bar_closes(db, *args, decimals)
    ledger = list(await repo.ledger_rows(db, trading_session.id))
    positions = list(await repo.positions(db, trading_session.id))
    costs = engine.costs_of(trading_session, instrument)
    series = equity_series(
        times_us,
        closes,
        decimals,
        ledger,
        positions,
        timeframe=tf,
        contract_size=instrument.contract_size,
        spread=costs.spread,
    )
    trades, rows = trade_rows(positions, series.index_ns, tf, instrument.contract_size)
    computed = stats_module.compute(
        series.index_ns, series.equity, trades, commissions=float(trades.commission.sum())
    )
    report = await repo.add(
        db,
        Report(
            session_id=trading_session.id,
            replay_ts=current,
            stats=_stats_json(computed),
            trades=rows,
            equity_index=zlib.compress(series.index_ns.tobytes(), 1),
            equity_values=zlib.compress(series.equity.tobytes(), 1),
        ),
    )
    return out(report)


def out(report: Report) -> ReportOut:
    return ReportOut(
        id=report.id,
        session_id=report.session_id,
        replay_ts=report.replay_ts,
        created_at=report.created_at,
        stats=report.stats,
        trades_csv=f"/reports/{report.id}/trades.csv",
        equity_svg=f"/reports/{report.id}/equity.svg",
    )


async def list_reports(db: AsyncSession, view: SessionView, *, page: int, limit: int) -> ReportList:
    rows, total = await repo.list_page(db, view.row.id, offset=(page - 1) * limit, limit=limit)
    return ReportList(reports=[out(r) for r in rows], total=total, page=page, limit=limit)


CSV_COLUMNS = (
    "id",
    "side",
    "volume",
    "open_ts",
    "open_price",
    "close_ts",
    "close_price",
    "close_reason",
    "commission",
    "profit",
    "net_profit",
    "return_pct",
    "duration_s",
    "ambiguous",
)


def trades_csv(report: Report) -> str:
    """One row per trade, RFC 4180 (CRLF line ends, quoting where needed)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in report.trades:
        writer.writerow(
            [str(row[c]).lower() if isinstance(row[c], bool) else row[c] for c in CSV_COLUMNS]
        )
    return buffer.getvalue()


def equity_svg(report: Report) -> str:
    index = np.frombuffer(zlib.decompress(report.equity_index), dtype=np.int64)
    equity = np.frombuffer(zlib.decompress(report.equity_values), dtype=np.float64)
    return svg.render(index, equity, report.stats, session_id=report.session_id)

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
from ..positions.models import PositionStatus, Side
from ..replay import bars as replay_bars
from ..replay import engine
from ..sessions.dependencies import LockedSessionView, SessionView
from ..sessions.models import SessionStatus
from ..sessions.schemas import iso_z
from ..timeframes import EPOCH_MONDAY, Timeframe
from . import repository as repo
from . import stats as stats_module
from . import svg
from .models import Report
from .schemas import ReportList, ReportOut

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ORIGIN_S = int((EPOCH_MONDAY - EPOCH).total_seconds())
_INT64_SAFE = 2**62
_EXACT_FLOAT = 2**53

# Columns of repository.position_rows.
ID, SIDE, STATUS, VOLUME, OPEN_PRICE, CLOSE_PRICE, REASON, COMMISSION, PROFIT = range(9)
AMBIGUOUS, PARENT, OPEN_S, CLOSE_S = 9, 10, 11, 12


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


def bars_of(bar_s: np.ndarray, seconds: np.ndarray, timeframe: Timeframe) -> np.ndarray:
    """The index of the session bar that holds each instant (epoch seconds), vectorised."""
    tf = timeframe.seconds
    floors = _ORIGIN_S + (np.floor(seconds).astype(np.int64) - _ORIGIN_S) // tf * tf
    return np.minimum(np.searchsorted(bar_s, floors, side="left"), len(bar_s) - 1)


def _accumulate(n: int, at: list[int], values: list[int]) -> np.ndarray:
    """Running sums of `values` added at bar indexes `at`: int64 when no partial sum can
    overflow it, else exact Python integers."""
    bound = sum(abs(v) for v in values)
    deltas = np.zeros(n + 1, dtype=np.int64 if bound < _INT64_SAFE else object)
    if values:
        np.add.at(deltas, np.asarray(at, dtype=np.int64), np.asarray(values, dtype=deltas.dtype))
    return np.cumsum(deltas[:n])


def equity_series(
    bar_s: np.ndarray,
    closes: np.ndarray,
    close_decimals: int,
    ledger: list[tuple[int, Decimal]],
    positions: list[Any],
    *,
    timeframe: Timeframe,
    contract_size: Decimal,
    spread: Decimal,
) -> Series:
    """The exact equity series (see the module's docstring): per bar, balance + N x close +
    K, with N (net units) and K (the open positions' constant part) step functions of the
    fills, all in integers at one decimal scale, turned into floats once."""
    n = len(bar_s)
    ledger_at = np.searchsorted(bar_s, np.array([b for b, _ in ledger], dtype=np.int64))
    balance = _accumulate(n, ledger_at.tolist(), [_scaled(a, 2) for _, a in ledger])

    units = [p[VOLUME] * contract_size for p in positions]
    u = max([_decimals(x) for x in units], default=0)
    prices = max(
        [close_decimals, _decimals(spread), *(_decimals(p[OPEN_PRICE]) for p in positions)]
    )
    total = max(u + prices, 2)
    open_at = bars_of(bar_s, np.array([p[OPEN_S] for p in positions], dtype=np.float64), timeframe)
    close_s = np.array(
        [p[CLOSE_S] if p[CLOSE_S] is not None else np.nan for p in positions], dtype=np.float64
    )
    closed = ~np.isnan(close_s)
    close_at = np.full(len(positions), n, dtype=np.int64)
    if closed.any():
        close_at[closed] = bars_of(bar_s, close_s[closed], timeframe)
    at: list[int] = []
    n_values: list[int] = []
    k_values: list[int] = []
    for i, (p, unit) in enumerate(zip(positions, units, strict=True)):
        sign = 1 if p[SIDE] == Side.BUY else -1
        shift = spread if p[SIDE] == Side.SELL else Decimal(0)
        signed = _scaled(unit, u) * sign
        k = signed * _scaled(shift - p[OPEN_PRICE], prices)
        at += [int(open_at[i]), int(close_at[i])]
        n_values += [signed, -signed]
        k_values += [k, -k]
    net_units = _accumulate(n, at, n_values)
    k_sum = _accumulate(n, at, k_values)
    scale_close = 10 ** (prices - close_decimals)
    scale_pos = 10 ** (total - u - prices)
    scale_bal = 10 ** (total - 2)
    bound = (
        (max(abs(int(net_units.max(initial=0))), abs(int(net_units.min(initial=0)))))
        * int(np.abs(closes).max(initial=0))
        * scale_close
        + max(abs(int(k_sum.max(initial=0))), abs(int(k_sum.min(initial=0))))
    ) * scale_pos + max(abs(int(balance.max(initial=0))), abs(int(balance.min(initial=0)))) * (
        scale_bal
    )
    if bound < _INT64_SAFE:
        exact = (
            balance.astype(np.int64) * scale_bal
            + (
                net_units.astype(np.int64) * (closes.astype(np.int64) * scale_close)
                + k_sum.astype(np.int64)
            )
            * scale_pos
        )
    else:
        exact = (
            balance.astype(object) * scale_bal
            + (
                net_units.astype(object) * (closes.astype(object) * scale_close)
                + k_sum.astype(object)
            )
            * scale_pos
        )
    divisor = 10**total
    if bound < _EXACT_FLOAT and total <= 22:
        equity = exact.astype(np.float64) / float(divisor)  # exact integer, one rounding
    else:
        equity = np.array([int(v) / divisor for v in exact], dtype=np.float64)
    return Series(index_ns=bar_s.astype(np.int64) * 1_000_000_000, equity=equity)


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


def _iso_all(seconds: list[float]) -> list[str]:
    """ISO 8601 `Z` strings of epoch seconds, vectorised (microseconds only when present)."""
    us = np.round(np.asarray(seconds, dtype=np.float64) * 1_000_000).astype(np.int64)
    whole = bool(np.all(us % 1_000_000 == 0))
    stamps = (us // 1_000_000).astype("datetime64[s]") if whole else us.astype("datetime64[us]")
    return [f"{x}Z" for x in np.datetime_as_string(stamps)]


def trades_of(
    positions: list[Any], series: Series, timeframe: Timeframe, contract_size: Decimal
) -> tuple[stats_module.Trades, bytes]:
    """The closed positions as backtesting.py's trades (by exit, then id), and their CSV
    (RFC 4180: CRLF line ends, quoting where needed)."""
    closed = sorted(
        (p for p in positions if p[STATUS] == PositionStatus.CLOSED),
        key=lambda p: (p[CLOSE_S], p[ID]),
    )
    bar_s = series.index_ns // 1_000_000_000
    entry = bars_of(bar_s, np.array([p[OPEN_S] for p in closed], dtype=np.float64), timeframe)
    exit_ = bars_of(bar_s, np.array([p[CLOSE_S] for p in closed], dtype=np.float64), timeframe)
    floats = np.array(
        [
            (
                float(p[VOLUME] * contract_size) * (1 if p[SIDE] == Side.BUY else -1),
                float(p[OPEN_PRICE]),
                float(p[CLOSE_PRICE]),
                float(p[PROFIT] - p[COMMISSION]),
                float(p[COMMISSION]),
            )
            for p in closed
        ],
        dtype=np.float64,
    ).reshape(-1, 5)
    trades = stats_module.Trades(
        size=floats[:, 0],
        entry_bar=entry.astype(np.int64),
        exit_bar=exit_.astype(np.int64),
        entry_price=floats[:, 1],
        exit_price=floats[:, 2],
        pnl=floats[:, 3],
        commission=floats[:, 4],
        entry_time=series.index_ns[entry],
        exit_time=series.index_ns[exit_],
    )
    returns = (trades.return_pct * 100).tolist()
    durations = ((trades.exit_time - trades.entry_time) // stats_module.NS).tolist()
    opened = _iso_all([p[OPEN_S] for p in closed])
    closed_at = _iso_all([p[CLOSE_S] for p in closed])
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    # Decimals from NUMERIC columns print as plain numerals (no exponent).
    writer.writerows(
        (
            p[ID],
            p[SIDE],
            p[VOLUME],
            opened[i],
            p[OPEN_PRICE],
            closed_at[i],
            p[CLOSE_PRICE],
            p[REASON],
            p[COMMISSION],
            p[PROFIT],
            p[PROFIT] - p[COMMISSION],
            repr(returns[i]),
            durations[i],
            "true" if p[AMBIGUOUS] else "false",
        )
        for i, p in enumerate(closed)
    )
    return trades, zlib.compress(buffer.getvalue().encode(), 6)


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
    span = (instrument.id, tf, first, current)
    decimals = instrument.digits
    times_s, closes, most = await repo.bar_closes(db, *span, decimals)
    if most > decimals:  # closes with more decimals than the instrument's digits
        decimals = most
        times_s, closes, _ = await repo.bar_closes(db, *span, decimals)
    bar_s, close_ints = np.asarray(times_s, dtype=np.int64), np.asarray(closes, dtype=np.int64)
    if len(bar_s) > 1 and not bool(np.all(np.diff(bar_s) > 0)):  # the subquery's order kept?
        order = np.argsort(bar_s, kind="stable")
        bar_s, close_ints = bar_s[order], close_ints[order]
    positions = list(await repo.position_rows(db, trading_session.id))
    series = equity_series(
        bar_s,
        close_ints,
        decimals,
        list(await repo.ledger_by_bar(db, trading_session.id, tf)),
        positions,
        timeframe=tf,
        contract_size=instrument.contract_size,
        spread=engine.costs_of(trading_session, instrument).spread,
    )
    trades, csv_bytes = trades_of(positions, series, tf, instrument.contract_size)
    computed = stats_module.compute(
        series.index_ns, series.equity, trades, commissions=float(trades.commission.sum())
    )
    report = await repo.add(
        db,
        Report(
            session_id=trading_session.id,
            replay_ts=current,
            stats=_stats_json(computed),
            trades_csv=csv_bytes,
            equity_index=zlib.compress(np.diff(series.index_ns, prepend=0).tobytes(), 1),
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


def trades_csv(report: Report) -> bytes:
    return zlib.decompress(report.trades_csv)


def equity_svg(report: Report) -> str:
    index = np.cumsum(np.frombuffer(zlib.decompress(report.equity_index), dtype=np.int64))
    equity = np.frombuffer(zlib.decompress(report.equity_values), dtype=np.float64)
    return svg.render(index, equity, report.stats, session_id=report.session_id)

"""A report's statistics, pure numpy: the figures backtesting.py 0.6.6 computes in
`_stats.compute_stats`, with its definitions, plus the MT4 money figures (SPEC 3, SPEC 8).

backtesting.py is AGPL and is never imported here: each rule below is re-derived from its
definition (README "Reports"), and the tests check the two agree on the same trades.

Inputs are the equity series (one float per session bar, computed exactly and turned into a
float once, indexed by the bars' open times) and the closed trades. Undefined or infinite
figures are None (JSON null), never NaN or Infinity; timestamps are numpy datetime64[ns]
(UTC), durations seconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

NS = 1_000_000_000
DAY_NS = 86_400 * NS

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Trades:
    """Closed trades, in the order backtesting.py lists them (by exit, then id)."""

    size: FloatArray  # +volume x contract size for a BUY, - for a SELL
    entry_bar: IntArray  # index into the equity series
    exit_bar: IntArray
    entry_price: FloatArray
    exit_price: FloatArray
    pnl: FloatArray  # net money P&L: profit - commission
    commission: FloatArray
    entry_time: IntArray  # ns since the epoch
    exit_time: IntArray

    def __len__(self) -> int:
        return len(self.pnl)

    @property
    def return_pct(self) -> FloatArray:
        """backtesting.py's `Trade.pl_pct`: the signed price return from entry to exit,
        less the trade's commission per unit of its entry value (a fraction, not %)."""
        gross = np.sign(self.size) * (self.exit_price / self.entry_price - 1)
        return gross - self.commission / (np.abs(self.size) * self.entry_price)


def _finite(value: Any) -> float | None:
    """A JSON-safe number: None for NaN and +-Infinity."""
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _seconds(ns: float | None, resolution_ns: int) -> float | None:
    """A duration in ns rounded up to the data's resolution (backtesting.py's
    `_round_timedelta`), in seconds; None when undefined."""
    if ns is None or not math.isfinite(ns):
        return None
    rounded = math.ceil(ns / resolution_ns) * resolution_ns if resolution_ns else ns
    return rounded / NS


def resolution_ns(index: IntArray) -> int:
    """backtesting.py's `_data_period(index)` (the median spacing of the last 100 bars),
    and pandas' `Timedelta.resolution_string` of it: the unit durations round up to."""
    tail = index[-100:]
    if len(tail) < 2:
        return 0
    period = int(np.median(np.diff(tail)))
    for unit in (DAY_NS, 3600 * NS, 60 * NS, NS, 1_000_000, 1_000, 1):
        if period % unit == 0:
            return unit
    return 1


def _period_days(index: IntArray) -> int:
    tail = index[-100:]
    if len(tail) < 2:
        return 0
    return int(np.median(np.diff(tail))) // DAY_NS


def _geometric_mean(returns: FloatArray) -> float:
    values = np.nan_to_num(returns, nan=0.0) + 1
    if np.any(values <= 0):
        return 0.0
    if len(values) == 0:
        return math.nan
    return float(np.exp(np.log(values).sum() / len(values)) - 1)


def drawdown_periods(dd: FloatArray, index: IntArray) -> tuple[FloatArray, FloatArray, bool]:
    """backtesting.py's `compute_drawdown_duration_peaks`: a drawdown runs from a bar at its
    running peak (dd == 0, exactly) to the next one, or to the last bar. Returns each
    period's duration (ns) and deepest dd, and whether there was any such period (without
    one, backtesting.py returns the dd values themselves in place of durations)."""
    zeros = np.flatnonzero(dd == 0)
    iloc = np.unique(np.r_[zeros, len(dd) - 1])
    prev, cur = iloc[:-1], iloc[1:]
    keep = cur > prev + 1
    prev, cur = prev[keep], cur[keep]
    if len(cur) == 0:
        return np.array([], dtype=np.float64), dd[dd != 0].astype(np.float64), False
    durations = (index[cur] - index[prev]).astype(np.float64)
    peaks = np.array([dd[p : c + 1].max() for p, c in zip(prev, cur, strict=True)])
    return durations, peaks, True


def _day_returns(index: IntArray, equity: FloatArray, period_days: int) -> FloatArray:
    """Equity at the last bar of each calendar day (each week ending Sunday for weekly
    bars) that has bars, as relative changes (pandas `resample(...).last().pct_change()`)."""
    if period_days == 7:
        days = (index // DAY_NS + 3) // 7  # epoch day 0 is a Thursday: weeks end on Sunday
    else:
        days = index // DAY_NS
    last = np.flatnonzero(np.r_[days[1:] != days[:-1], True])
    values = equity[last]
    if len(values) < 2:
        return np.array([], dtype=np.float64)
    return values[1:] / values[:-1] - 1


def compute(
    index: IntArray, equity: FloatArray, trades: Trades, *, commissions: float
) -> dict[str, Any]:
    """Every statistic of SPEC 3's list, from the equity series and the closed trades."""
    n_bars = len(index)
    assert n_bars == len(equity) and n_bars > 0
    resolution = resolution_ns(index)
    peak = np.maximum.accumulate(equity)
    dd = 1 - equity / peak
    durations, peaks, periods = drawdown_periods(dd, index)

    have_position = np.zeros(n_bars, dtype=np.int64)
    if len(trades):
        marks = np.zeros(n_bars + 1, dtype=np.int64)
        np.add.at(marks, trades.entry_bar, 1)
        np.add.at(marks, trades.exit_bar + 1, -1)
        have_position = (np.cumsum(marks[:-1]) > 0).astype(np.int64)

    period_days = _period_days(index)
    weekend = ((index // DAY_NS + 3) % 7) >= 5  # Saturday, Sunday (epoch day 0: Thursday)
    have_weekends = weekend.mean() > 2 / 7 * 0.6
    annual_days = {7: 52, 31: 12, 365: 1}.get(period_days, 365 if have_weekends else 252)
    day_returns = _day_returns(index, equity, period_days)
    # numpy scalars throughout, as backtesting.py computes: overflow gives inf, 0/0 NaN.
    with np.errstate(all="ignore"):
        growth = np.float64(1) + np.float64(_geometric_mean(day_returns))
        annualized = growth**annual_days - 1
        var = np.var(day_returns, ddof=1) if len(day_returns) > 1 else np.float64(np.nan)
        volatility = np.sqrt((var + growth**2) ** annual_days - growth ** (2 * annual_days))
        downside = (
            np.sqrt(np.mean(np.clip(day_returns, -np.inf, 0) ** 2))
            if len(day_returns)
            else np.float64(np.nan)
        )
        sortino = annualized / (downside * np.sqrt(annual_days))
    return_ann_pct = annualized * 100
    volatility_pct = volatility * 100
    max_dd = float(np.nan_to_num(dd.max()))

    returns = trades.return_pct
    pnl = trades.pnl
    n = len(trades)
    trade_ns = (trades.exit_time - trades.entry_time).astype(np.float64)
    wins, losses = pnl[pnl > 0], pnl[pnl < 0]
    gross_profit = float(wins.sum())
    gross_loss = float(losses.sum())
    streak_wins, streak_losses = _streaks(pnl)

    def ratio(num: float, den: float) -> float | None:
        """num / (den or NaN), as backtesting.py divides."""
        with np.errstate(all="ignore"):
            return _finite(np.float64(num) / (np.float64(den) if den else np.float64(np.nan)))

    stats: dict[str, Any] = {
        "start": int(index[0]),
        "end": int(index[-1]),
        "duration": (int(index[-1]) - int(index[0])) / NS,
        "exposure_time_pct": _finite(have_position.mean() * 100),
        "equity_final": _finite(equity[-1]),
        "equity_peak": _finite(equity.max()),
        "commissions": _finite(commissions),
        "return_pct": _finite((equity[-1] - equity[0]) / equity[0] * 100),
        "return_ann_pct": _finite(return_ann_pct),
        "volatility_ann_pct": _finite(volatility_pct),
        "sharpe_ratio": ratio(return_ann_pct, volatility_pct)
        if volatility_pct == volatility_pct
        else None,
        "sortino_ratio": _finite(sortino),
        "calmar_ratio": ratio(annualized, max_dd),
        "max_drawdown_pct": _finite(-max_dd * 100),
        "avg_drawdown_pct": _finite(-peaks.mean() * 100) if len(peaks) else None,
        "max_drawdown_duration": _seconds(durations.max(), resolution) if periods else None,
        "avg_drawdown_duration": _seconds(durations.mean(), resolution) if periods else None,
        "trades": n,
        "win_rate_pct": _finite((pnl > 0).mean() * 100) if n else None,
        "best_trade_pct": _finite(returns.max() * 100) if n else None,
        "worst_trade_pct": _finite(returns.min() * 100) if n else None,
        "avg_trade_pct": _finite(_geometric_mean(returns) * 100) if n else None,
        "max_trade_duration": _seconds(trade_ns.max(), resolution) if n else None,
        "avg_trade_duration": _seconds(trade_ns.mean(), resolution) if n else None,
        "profit_factor": ratio(
            float(returns[returns > 0].sum()), abs(float(returns[returns < 0].sum()))
        ),
        "expectancy_pct": _finite(returns.mean() * 100) if n else None,
        "sqn": ratio(math.sqrt(n) * float(pnl.mean()), float(pnl.std(ddof=1))) if n > 1 else None,
        "gross_profit": gross_profit,
        "gross_loss": gross_loss,
        "largest_win": float(wins.max()) if len(wins) else None,
        "largest_loss": float(losses.min()) if len(losses) else None,
        "max_consecutive_wins": streak_wins,
        "max_consecutive_losses": streak_losses,
        "profit_factor_money": ratio(gross_profit, abs(gross_loss)),
    }
    return stats


def _streaks(pnl: FloatArray) -> tuple[int, int]:
    """The longest runs of winning (pnl > 0) and losing (pnl < 0) trades, in order."""
    best = {1: 0, -1: 0}
    run_sign, run = 0, 0
    for value in np.sign(pnl).astype(np.int64):
        if value != 0 and value == run_sign:
            run += 1
        else:
            run_sign, run = int(value), 1 if value != 0 else 0
        if run_sign:
            best[run_sign] = max(best[run_sign], run)
    return best[1], best[-1]

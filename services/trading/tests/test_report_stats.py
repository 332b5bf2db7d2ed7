"""reports/stats.py agrees with backtesting.py 0.6.6's `compute_stats` on the same equity and
trades: every shared key to 1e-9 relative, counts and timestamps exactly (SPEC 3, SPEC 8)."""

from __future__ import annotations

import math
import random
import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest
from backtesting._stats import compute_stats

from trading_service.reports import stats

KEYS = {
    "exposure_time_pct": "Exposure Time [%]",
    "equity_final": "Equity Final [$]",
    "equity_peak": "Equity Peak [$]",
    "return_pct": "Return [%]",
    "return_ann_pct": "Return (Ann.) [%]",
    "volatility_ann_pct": "Volatility (Ann.) [%]",
    "sharpe_ratio": "Sharpe Ratio",
    "sortino_ratio": "Sortino Ratio",
    "calmar_ratio": "Calmar Ratio",
    "max_drawdown_pct": "Max. Drawdown [%]",
    "avg_drawdown_pct": "Avg. Drawdown [%]",
    "max_drawdown_duration": "Max. Drawdown Duration",
    "avg_drawdown_duration": "Avg. Drawdown Duration",
    "trades": "# Trades",
    "win_rate_pct": "Win Rate [%]",
    "best_trade_pct": "Best Trade [%]",
    "worst_trade_pct": "Worst Trade [%]",
    "avg_trade_pct": "Avg. Trade [%]",
    "max_trade_duration": "Max. Trade Duration",
    "avg_trade_duration": "Avg. Trade Duration",
    "profit_factor": "Profit Factor",
    "expectancy_pct": "Expectancy [%]",
    "sqn": "SQN",
}


def reference(index: np.ndarray, equity: np.ndarray, trades: stats.Trades) -> pd.Series:
    """backtesting.py's own computation on the same arrays."""
    idx = pd.DatetimeIndex(index.astype("datetime64[ns]"))
    df = pd.DataFrame(
        {
            "Size": trades.size,
            "EntryBar": trades.entry_bar,
            "ExitBar": trades.exit_bar,
            "EntryPrice": trades.entry_price,
            "ExitPrice": trades.exit_price,
            "PnL": trades.pnl,
            "Commission": trades.commission,
            "ReturnPct": trades.return_pct,
            "EntryTime": pd.to_datetime(trades.entry_time),
            "ExitTime": pd.to_datetime(trades.exit_time),
        }
    )
    df["Duration"] = df["ExitTime"] - df["EntryTime"]
    ohlc = pd.DataFrame({"Close": np.linspace(1, 2, len(index))}, index=idx)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas deprecations inside backtesting.py
        return compute_stats(df, equity, ohlc, None)


def as_ours(value: Any) -> Any:
    """backtesting.py's value as our JSON would carry it."""
    if isinstance(value, pd.Timedelta):
        return value.total_seconds()
    if isinstance(value, pd.Timestamp):
        return value.value
    if value is None or value is pd.NaT:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def assert_agree(ours: dict[str, Any], ref: pd.Series) -> None:
    for key, name in KEYS.items():
        expected = ref[name]
        if key.endswith("drawdown_duration") and not isinstance(expected, pd.Timedelta):
            expected = None  # backtesting.py puts a dd value there when no period closes
        expected = as_ours(expected)
        got = ours[key]
        if expected is None or got is None:
            assert got is None and expected is None, (key, got, expected)
        elif key in ("trades",) or key.endswith("duration"):
            assert got == expected, (key, got, expected)
        else:
            assert math.isclose(got, expected, rel_tol=1e-9, abs_tol=1e-12), (key, got, expected)
    assert ours["start"] == ref["Start"].value and ours["end"] == ref["End"].value
    assert ours["duration"] == ref["Duration"].total_seconds()


def random_case(
    rng: random.Random, n_bars: int, step_s: int, n_trades: int, *, wins: str = "any"
) -> tuple[np.ndarray, np.ndarray, stats.Trades]:
    start = np.datetime64("2024-01-01T00:00:00", "ns").astype(np.int64)
    gaps = [step_s if rng.random() > 0.1 else step_s * rng.randint(2, 50) for _ in range(n_bars)]
    index = start + np.cumsum([0, *gaps[:-1]]).astype(np.int64) * stats.NS
    equity = [10000.0]
    for _ in range(n_bars - 1):
        move = rng.choice([0.0, 0.0, rng.uniform(-50, 50)])
        equity.append(round(equity[-1] + move, 2))
    eq = np.array(equity)
    entries = sorted(rng.randrange(n_bars) for _ in range(n_trades))
    exits = [rng.randint(e, min(n_bars - 1, e + 40)) for e in entries]
    order = np.argsort(exits, kind="stable")
    size = np.array(
        [rng.choice([1, -1]) * rng.choice([1000, 5000, 100000]) for _ in entries], float
    )
    entry_price = np.array([round(rng.uniform(1.0, 1.2), 5) for _ in entries])
    exit_price = np.array([round(p * (1 + rng.uniform(-0.01, 0.01)), 5) for p in entry_price])
    commission = np.array([rng.choice([0.0, 7.0, 14.0]) for _ in entries])
    pnl = np.round(size * (exit_price - entry_price), 2) - commission
    if wins == "all":
        pnl = np.abs(pnl) + 1
    elif wins == "none":
        pnl = -np.abs(pnl) - 1
    trades = stats.Trades(
        size=size[order],
        entry_bar=np.array(entries, np.int64)[order],
        exit_bar=np.array(exits, np.int64)[order],
        entry_price=entry_price[order],
        exit_price=exit_price[order],
        pnl=pnl[order],
        commission=commission[order],
        entry_time=index[np.array(entries, np.int64)][order],
        exit_time=index[np.array(exits, np.int64)][order],
    )
    return index, eq, trades


@pytest.mark.parametrize("seed", range(40))
def test_random_series_agree_with_compute_stats(seed: int) -> None:
    rng = random.Random(seed)
    step = rng.choice([60, 300, 3600, 14400, 86400, 604800])
    n_bars = rng.choice([2, 3, 5, 50, 400, 3000])
    n_trades = rng.choice([0, 1, 2, 10, 60])
    wins = rng.choice(["any", "any", "all", "none"])
    index, equity, trades = random_case(rng, n_bars, step, n_trades, wins=wins)
    ours = stats.compute(index, equity, trades, commissions=float(trades.commission.sum()))
    assert_agree(ours, reference(index, equity, trades))


def test_flat_equity_and_no_trades_is_all_nulls_where_undefined() -> None:
    index = np.arange(10, dtype=np.int64) * 60 * stats.NS
    equity = np.full(10, 10000.0)
    empty = stats.Trades(
        *(
            np.array([], t)
            for t in (float, np.int64, np.int64, float, float, float, float, np.int64, np.int64)
        )
    )
    ours = stats.compute(index, equity, empty, commissions=0.0)
    assert_agree(ours, reference(index, equity, empty))
    assert ours["trades"] == 0 and ours["win_rate_pct"] is None and ours["sqn"] is None
    assert ours["max_drawdown_duration"] is None and ours["profit_factor"] is None

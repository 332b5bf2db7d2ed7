"""SPEC 7 "Reports" rows of `make bench`.

- Statistics: `trading_service.reports.stats.compute` on 10,000 trades over 100,000 M1 bars
  against backtesting.py 0.6.6's `backtesting._stats.compute_stats` on the same arrays, both in
  this process (synthetic, seeded data: an M1 index with weekend gaps, an equity random walk
  in cents, trades with entry and exit bars). backtesting.py gets its trades DataFrame built
  beforehand, so only `compute_stats` itself is timed. Both must agree on a few figures (the
  comparison would mean nothing otherwise). Target: ours ÷ backtesting.py ≤ 0.5.
- End to end: `POST /sessions/{id}/generate-report` through the gateway on an M1 session over
  a year of bars (imported through the API) with 10,000 closed trades. Opening and closing
  10,000 positions through the API would take far longer than the rest of the bench, so they
  are written straight into the trading database, as the engine writes them: the positions,
  their fills, the ledger (a COMMISSION per fill, a PROFIT per close, running balances) and the
  session's balance. Target: p50 ≤ 1 s.

backtesting.py is a dev dependency imported here only, never by a service; so is the trading
service's `stats` module (pure numpy).
"""

from __future__ import annotations

import asyncio
import math
import statistics
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import httpx
import numpy as np

from .bench_replay import Bars, instrument_with_bars, iso, new_trader

# --- row 1: the statistics, in-process ---

STATS_BARS = 100_000
STATS_TRADES = 10_000
STATS_SEED = 11
NS = 1_000_000_000
MINUTE_NS = 60 * NS
# The figures both sides must agree on (ours -> backtesting.py's name), to 1e-9 relative.
AGREE = {
    "trades": "# Trades",
    "return_pct": "Return [%]",
    "max_drawdown_pct": "Max. Drawdown [%]",
    "avg_drawdown_duration": "Avg. Drawdown Duration",
    "sharpe_ratio": "Sharpe Ratio",
    "win_rate_pct": "Win Rate [%]",
    "exposure_time_pct": "Exposure Time [%]",
    "sqn": "SQN",
}

# --- row 2: generate-report through the gateway ---

YEAR_BARS = 375_840  # M1 bars from Mon 2023-01-02 00:00 to Mon 2024-01-01 23:59 UTC
REPORT_TRADES = 10_000
REPORT_SEED = 13
CONTRACT_SIZE = 100_000
VOLUMES = (Decimal("0.01"), Decimal("0.1"), Decimal("0.5"), Decimal("1"))
BALANCE, LEVERAGE, SPREAD_PTS, SLIPPAGE_PTS, COMMISSION = 1_000_000, 100, 20, 5, 7
MAX_HOLD_BARS = 120
CENT = Decimal("0.01")
SVG_LIMIT = 200 * 1024


def round2(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * pct / 100
    lo, hi = math.floor(k), math.ceil(k)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def m1_index(n: int, start_ns: int) -> np.ndarray:
    """`n` M1 bar times (ns) from `start_ns`, market closed Friday 22:00 to Sunday 22:00 UTC
    (as bench.py's `m1_bars_csv`)."""
    minutes = start_ns + np.arange(n * 3 // 2 + 10_080, dtype=np.int64) * MINUTE_NS
    days = minutes // (86_400 * NS)
    weekday = (days + 3) % 7  # epoch day 0 is a Thursday; Monday is 0
    hour = (minutes // (3600 * NS)) % 24
    closed = ((weekday == 4) & (hour >= 22)) | (weekday == 5) | ((weekday == 6) & (hour < 22))
    return minutes[~closed][:n]


@dataclass(frozen=True)
class StatsCase:
    index: np.ndarray  # int64 ns
    equity: np.ndarray  # float64
    close: np.ndarray  # float64
    trades: Any  # trading_service.reports.stats.Trades


def stats_case(seed: int = STATS_SEED) -> StatsCase:
    import trading_service.reports.stats as stats

    rng = np.random.default_rng(seed)
    n = STATS_BARS
    index = m1_index(n, int(np.datetime64("2024-01-01T00:00:00", "ns").astype(np.int64)))
    # Equity: a random walk in whole cents, flat on a third of the bars (ties with the
    # running peak are what start and end drawdowns).
    steps = rng.integers(-2_000, 2_001, size=n)
    steps[rng.random(n) < 1 / 3] = 0
    steps[0] = 0
    equity = (10_000_000 + np.cumsum(steps)) / 100
    close = np.round(1.1 + np.cumsum(rng.normal(0, 0.00012, size=n)), 5)
    entries = np.sort(rng.integers(0, n - 1, size=STATS_TRADES))
    exits = np.minimum(entries + rng.integers(0, 60, size=STATS_TRADES), n - 1)
    order = np.argsort(exits, kind="stable")  # by exit, then id (ids in entry order)
    entries, exits = entries[order], exits[order]
    size = rng.choice([-1.0, 1.0], STATS_TRADES) * rng.choice([1e4, 5e4, 1e5], STATS_TRADES)
    entry_price, exit_price = close[entries], close[exits]
    commission = np.full(STATS_TRADES, 2.0 * COMMISSION)
    pnl = np.round(size * (exit_price - entry_price), 2) - commission
    trades = stats.Trades(
        size=size,
        entry_bar=entries.astype(np.int64),
        exit_bar=exits.astype(np.int64),
        entry_price=entry_price,
        exit_price=exit_price,
        pnl=pnl,
        commission=commission,
        entry_time=index[entries],
        exit_time=index[exits],
    )
    return StatsCase(index, equity, close, trades)


def _bt_inputs(case: StatsCase) -> tuple[Any, Any]:
    """backtesting.py's trades DataFrame and OHLC frame for `case` (as the service's tests
    build them in `test_report_stats.reference`)."""
    import pandas as pd

    t = case.trades
    trades_df = pd.DataFrame(
        {
            "Size": t.size,
            "EntryBar": t.entry_bar,
            "ExitBar": t.exit_bar,
            "EntryPrice": t.entry_price,
            "ExitPrice": t.exit_price,
            "PnL": t.pnl,
            "Commission": t.commission,
            "ReturnPct": t.return_pct,
            "EntryTime": pd.to_datetime(t.entry_time),
            "ExitTime": pd.to_datetime(t.exit_time),
        }
    )
    trades_df["Duration"] = trades_df["ExitTime"] - trades_df["EntryTime"]
    ohlc = pd.DataFrame(
        {"Close": case.close}, index=pd.DatetimeIndex(case.index.astype("datetime64[ns]"))
    )
    return trades_df, ohlc


def _comparable(value: Any) -> float | None:
    import pandas as pd

    if isinstance(value, pd.Timedelta):
        return float(value.total_seconds())
    if value is None or value is pd.NaT:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def time_stats(runs: int) -> tuple[list[float], list[float], dict[str, list[float | None]]]:
    """Seconds of each `compute` and each `compute_stats` on the same case, and the agreed
    figures (ours, backtesting.py's); raises when they disagree."""
    from backtesting._stats import compute_stats

    import trading_service.reports.stats as stats

    case = stats_case()
    commissions = float(case.trades.commission.sum())
    trades_df, ohlc = _bt_inputs(case)
    ours_s: list[float] = []
    bt_s: list[float] = []
    ours: dict[str, Any] = {}
    ref: Any = None
    for _ in range(runs):
        t0 = time.perf_counter()
        ours = stats.compute(case.index, case.equity, case.trades, commissions=commissions)
        ours_s.append(time.perf_counter() - t0)
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pandas deprecations inside backtesting.py
            t0 = time.perf_counter()
            ref = compute_stats(trades_df, case.equity, ohlc, None)
            bt_s.append(time.perf_counter() - t0)
    agreed: dict[str, list[float | None]] = {}
    for key, name in AGREE.items():
        got, expected = _comparable(ours[key]), _comparable(ref[name])
        if got is None or expected is None:
            same = got is None and expected is None
        else:
            same = math.isclose(got, expected, rel_tol=1e-9, abs_tol=1e-12)
        if not same:
            raise RuntimeError(f"stats disagree on {name}: ours {got}, backtesting.py {expected}")
        agreed[name] = [got, expected]
    if ours["trades"] != STATS_TRADES:
        raise RuntimeError(f"expected {STATS_TRADES:,} trades, got {ours['trades']}")
    return ours_s, bt_s, agreed


# --- row 2 ---


@dataclass(frozen=True)
class Seeded:
    positions: int
    transactions: int
    fills: int
    balance: Decimal


def _trade_plan(bars: Bars, first: int, last: int) -> list[dict[str, Any]]:
    """`REPORT_TRADES` closed positions between bars `first` and `last` (indices), seeded:
    random side and volume, opened at a bar's close and closed 1 to `MAX_HOLD_BARS` bars
    later at that bar's close."""
    rng = np.random.default_rng(REPORT_SEED)
    entries = np.sort(rng.integers(first, last, size=REPORT_TRADES))
    holds = rng.integers(1, MAX_HOLD_BARS + 1, size=REPORT_TRADES)
    exits = np.minimum(entries + holds, last)
    sides = rng.choice(["BUY", "SELL"], REPORT_TRADES)
    volumes = rng.integers(0, len(VOLUMES), size=REPORT_TRADES)
    plan = []
    for e, x, side, v in zip(entries, exits, sides, volumes, strict=True):
        volume = VOLUMES[int(v)]
        open_price = Decimal(f"{bars.close[int(e)]:.5f}")
        close_price = Decimal(f"{bars.close[int(x)]:.5f}")
        sign = 1 if side == "BUY" else -1
        plan.append(
            {
                "side": str(side),
                "volume": volume,
                "open_price": open_price,
                "open_ts": bars.ts[int(e)],
                "close_price": close_price,
                "close_ts": bars.ts[int(x)],
                "margin": round2(volume * CONTRACT_SIZE * open_price / LEVERAGE),
                "profit": round2((close_price - open_price) * volume * CONTRACT_SIZE * sign),
            }
        )
    return plan


async def settle_database(dsn: str) -> None:
    """VACUUM ANALYZE the database: bulk writes leave autovacuum and autoanalyze to do, which
    would otherwise run on the same cores during the measurements that follow (and the
    planner would meet the new rows without statistics)."""
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()


async def _seed_trades(dsn: str, session_id: int, plan: list[dict[str, Any]]) -> Seeded:
    """Write `plan`'s positions, fills and ledger rows for the session, and its balance, in
    one transaction, as the engine would have: a COMMISSION at each open, a PROFIT (also when
    0) then a COMMISSION at each close, in time order, each with the running balance."""
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction():
            row = await conn.fetchrow(
                "SELECT balance, session_status FROM trading_sessions WHERE id = $1 FOR UPDATE",
                session_id,
            )
            if row is None or row["balance"] is None:
                raise RuntimeError(f"session {session_id} is not started")
            balance: Decimal = row["balance"]
            ids = [
                r[0]
                for r in await conn.fetch(
                    "SELECT nextval(pg_get_serial_sequence('positions', 'id')) "
                    "FROM generate_series(1, $1)",
                    len(plan),
                )
            ]
            commission = Decimal(COMMISSION)
            positions = []
            fills = []
            # (time, 0 close | 1 open, position, 0 PROFIT | 1 COMMISSION, type, amount)
            events: list[tuple[datetime, int, int, int, str, Decimal]] = []
            for pid, p in zip(ids, plan, strict=True):
                positions.append(
                    (
                        pid,
                        session_id,
                        p["side"],
                        "CLOSED",
                        p["volume"],
                        p["open_price"],
                        p["open_ts"],
                        p["margin"],
                        2 * commission,
                        p["close_price"],
                        p["close_ts"],
                        "MANUAL",
                        p["profit"],
                        False,
                    )
                )
                for kind, price, ts, reason in (
                    ("OPEN", p["open_price"], p["open_ts"], None),
                    ("CLOSE", p["close_price"], p["close_ts"], "MANUAL"),
                ):
                    fills.append((session_id, kind, reason, pid, price, p["volume"], ts, ts))
                events.append((p["open_ts"], 1, pid, 1, "COMMISSION", -commission))
                events.append((p["close_ts"], 0, pid, 0, "PROFIT", p["profit"]))
                events.append((p["close_ts"], 0, pid, 1, "COMMISSION", -commission))
            events.sort(key=lambda e: e[:4])
            ledger = []
            for ts, _, pid, _, kind, amount in events:
                balance += amount
                ledger.append((session_id, pid, kind, amount, balance, ts))
            await conn.copy_records_to_table(
                "positions",
                records=positions,
                columns=[
                    "id",
                    "session_id",
                    "side",
                    "status",
                    "volume",
                    "open_price",
                    "open_ts",
                    "margin",
                    "commission",
                    "close_price",
                    "close_ts",
                    "close_reason",
                    "profit",
                    "ambiguous",
                ],
            )
            await conn.copy_records_to_table(
                "fills",
                records=fills,
                columns=[
                    "session_id",
                    "kind",
                    "reason",
                    "position_id",
                    "price",
                    "volume",
                    "ts",
                    "bar_ts",
                ],
            )
            await conn.copy_records_to_table(
                "transactions",
                records=ledger,
                columns=[
                    "session_id",
                    "position_id",
                    "type",
                    "amount",
                    "balance_after",
                    "replay_ts",
                ],
            )
            await conn.execute(
                "UPDATE trading_sessions SET balance = $2, updated_at = now() WHERE id = $1",
                session_id,
                balance,
            )
            total = await conn.fetchval(
                "SELECT sum(amount) FROM transactions WHERE session_id = $1", session_id
            )
            if total != balance:
                raise RuntimeError(f"ledger sums to {total}, the balance is {balance}")
        await conn.execute("ANALYZE positions; ANALYZE transactions; ANALYZE fills")
        return Seeded(len(positions), len(ledger), len(fills), balance)
    finally:
        await conn.close()


# --- the figures ---


@dataclass
class ReportFigures:
    stats_bars: int = STATS_BARS
    stats_trades: int = STATS_TRADES
    stats_runs: int = 0
    stats_ours_s: list[float] = field(default_factory=list)
    stats_bt_s: list[float] = field(default_factory=list)
    stats_agreed: dict[str, list[float | None]] = field(default_factory=dict)
    bars: int = 0
    import_seconds: float = 0.0
    seed_seconds: float = 0.0
    seeded_positions: int = 0
    seeded_transactions: int = 0
    seeded_fills: int = 0
    final_balance: float = 0.0
    runs: int = 0
    generate_s: list[float] = field(default_factory=list)
    client_cpu_s: list[float] = field(default_factory=list)
    report_trades: int = 0
    equity_final: float | None = None
    svg_bytes: int = 0
    trades_csv_bytes: int = 0

    @property
    def stats_ratio(self) -> float:
        return statistics.median(self.stats_ours_s) / statistics.median(self.stats_bt_s)

    @property
    def p50(self) -> float:
        return percentile(self.generate_s, 50)

    @property
    def p99(self) -> float:
        return percentile(self.generate_s, 99)

    def as_json(self) -> dict[str, Any]:
        """Every field, and the derived figures the table shows."""
        return {
            **asdict(self),
            "stats_ours_median_s": statistics.median(self.stats_ours_s),
            "stats_bt_median_s": statistics.median(self.stats_bt_s),
            "stats_ratio": self.stats_ratio,
            "generate_p50_s": self.p50,
            "generate_p99_s": self.p99,
        }

    def ratios(self) -> list[tuple[str, str]]:
        return [
            (
                f"reports: stats.compute ÷ backtesting.py compute_stats, {self.stats_trades:,} "
                f"trades over {self.stats_bars:,} bars (target ≤ 0.5)",
                f"{self.stats_ratio:.3f}",
            ),
            (
                f"reports: generate-report, {self.report_trades:,} trades over {self.bars:,} M1 "
                "bars (target p50 ≤ 1 s)",
                f"p50 {self.p50:.3f} s, p99 {self.p99:.3f} s",
            ),
        ]

    def table(self) -> list[str]:
        m = statistics.median
        ratio = self.stats_ratio
        p50 = self.p50
        agreed = ", ".join(f"{name} {v[0]:.6g}" for name, v in self.stats_agreed.items() if v[0])
        return [
            f"Reports (SPEC 7): statistics of {self.stats_trades:,} trades over "
            f"{self.stats_bars:,} M1 bars in-process, ours vs backtesting.py "
            f"compute_stats (median of {self.stats_runs} runs each); and POST "
            f"/sessions/{{id}}/generate-report through the gateway on an M1 session over "
            f"{self.bars:,} bars with {self.seeded_positions:,} closed trades ({self.runs} "
            "calls, a new report each)",
            "",
            "| reports | ours | backtesting.py | ours ÷ bt | target |",
            "| --- | ---: | ---: | ---: | --- |",
            f"| statistics, {self.stats_trades:,} trades / {self.stats_bars:,} bars | "
            f"{m(self.stats_ours_s) * 1000:.1f} ms | {m(self.stats_bt_s) * 1000:.1f} ms | "
            f"{ratio:.3f} | ≤ 0.5 {'met' if ratio <= 0.5 else 'NOT met'} |",
            f"| generate-report, {self.report_trades:,} trades / {self.bars:,} bars | "
            f"p50 {p50:.3f} s, p99 {self.p99:.3f} s | — | — | p50 ≤ 1 s "
            f"{'met' if p50 <= 1 else 'NOT met'} |",
            "",
            "Each run: statistics ours ms "
            + _list_ms(self.stats_ours_s)
            + ", backtesting.py ms "
            + _list_ms(self.stats_bt_s)
            + f"; both agree to 1e-9 on {agreed}. generate-report s "
            + "["
            + ", ".join(f"{v:.3f}" for v in self.generate_s)
            + f"]; client (this process) CPU during a call: at most "
            f"{max(self.client_cpu_s) * 1000:.0f} ms. The report: stats.trades "
            f"{self.report_trades:,}, equity_final {self.equity_final:,.2f} (the session's "
            f"balance {self.final_balance:,.2f}), equity.svg {self.svg_bytes / 1024:.1f} KiB "
            f"(limit 200 KiB), trades.csv {self.trades_csv_bytes / 2**20:.1f} MiB. Setup: import "
            f"{self.bars:,} bars {self.import_seconds:.1f} s; {self.seeded_positions:,} "
            f"positions, {self.seeded_fills:,} fills and {self.seeded_transactions:,} ledger "
            f"rows written by SQL in {self.seed_seconds:.1f} s.",
        ]


def _list_ms(values: list[float]) -> str:
    return "[" + ", ".join(f"{v * 1000:.1f}" for v in values) + "]"


def run_reports(
    http: httpx.Client,
    gw: str,
    admin_token: str,
    year_csv: str,
    trading_dsn: str,
    *,
    stats_runs: int,
    runs: int,
    log: Callable[[str], None] = print,
) -> ReportFigures:
    """Both rows: the statistics in-process, then the instrument, the import, a trader, the
    session, the seeded trades and the timed generate-report calls."""
    figures = ReportFigures(stats_runs=stats_runs, runs=runs)
    log(f"reports: statistics, {stats_runs} runs each side ...")
    figures.stats_ours_s, figures.stats_bt_s, figures.stats_agreed = time_stats(stats_runs)

    bars = Bars.from_csv(year_csv)
    figures.bars = len(bars.ts)
    log(f"reports: importing {len(bars.ts):,} M1 bars ...")
    inst, figures.import_seconds = instrument_with_bars(
        http, gw, admin_token, "BENCHREPORT", "report benchmark bars", year_csv
    )
    trader = new_trader(
        http, gw, "bench-report-trader@example.com", "bench-report-trader-password-1"
    )

    sess = trader.call(
        "POST",
        "/sessions",
        201,
        json={
            "instrument_id": inst["id"],
            "timeframe": "M1",
            "speed": "0.5x",
            "start_ts": iso(bars.ts[0]),
            "initial_balance": BALANCE,
            "leverage": LEVERAGE,
            "spread_pts": SPREAD_PTS,
            "slippage_pts": SLIPPAGE_PTS,
            "commission_per_fill": COMMISSION,
        },
    )
    sid = sess["id"]
    trader.call("POST", f"/sessions/{sid}/start")
    trader.call("POST", f"/sessions/{sid}/pause")
    last = iso(bars.ts[-1])
    out = trader.call("POST", f"/sessions/{sid}/seek", json={"ts": last})
    if out["current_ts"] != last:
        raise RuntimeError(f"seek ended at {out['current_ts']}, not {last}")

    log(f"reports: writing {REPORT_TRADES:,} closed positions and their ledger by SQL ...")
    plan = _trade_plan(bars, 1, len(bars.ts) - 1)
    t0 = time.perf_counter()
    seeded = asyncio.run(_seed_trades(trading_dsn, sid, plan))
    figures.seed_seconds = time.perf_counter() - t0
    figures.seeded_positions = seeded.positions
    figures.seeded_transactions = seeded.transactions
    figures.seeded_fills = seeded.fills
    figures.final_balance = float(seeded.balance)
    account = trader.call("GET", f"/sessions/{sid}/account")
    if Decimal(str(account["balance"])) != seeded.balance:
        raise RuntimeError(f"account balance {account['balance']} is not {seeded.balance}")

    # What the seeding wrote is vacuumed and analyzed now, not by autovacuum during the calls.
    asyncio.run(settle_database(trading_dsn))
    log(f"reports: {runs} generate-report calls ...")
    report: dict[str, Any] = {}
    for _ in range(runs):
        cpu0, t0 = time.process_time(), time.perf_counter()
        report = trader.call("POST", f"/sessions/{sid}/generate-report", 201)
        figures.generate_s.append(time.perf_counter() - t0)
        figures.client_cpu_s.append(time.process_time() - cpu0)
    figures.report_trades = int(report["stats"]["trades"])
    figures.equity_final = report["stats"]["equity_final"]
    if figures.report_trades != REPORT_TRADES:
        raise RuntimeError(f"the report has {figures.report_trades:,} trades")
    if figures.equity_final != figures.final_balance:
        raise RuntimeError(
            f"equity_final {figures.equity_final} is not the balance {figures.final_balance}"
        )
    svg = http.get(f"{gw}/reports/{report['id']}/equity.svg", headers=trader.headers)
    svg.raise_for_status()
    figures.svg_bytes = len(svg.content)
    if figures.svg_bytes >= SVG_LIMIT:
        raise RuntimeError(f"equity.svg is {figures.svg_bytes:,} bytes")
    csv = http.get(f"{gw}/reports/{report['id']}/trades.csv", headers=trader.headers)
    csv.raise_for_status()
    figures.trades_csv_bytes = len(csv.content)
    return figures

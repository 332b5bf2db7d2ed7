"""SPEC 7 "Replay" rows of `make bench`: one `POST /sessions/{id}/seek` over 100,000 M1 bars
through the gateway, against backtesting.py's `Backtest.run` in this process on the same bars
with the same trades.

- A ("far"): a PAUSED session holding 10 open positions whose SL/TP are far from the market and
  10 pending orders that never trigger; backtesting.py opens the same 10 trades (same SL/TP) on
  the first bar and places nothing else. Target: ours ÷ backtesting.py ≤ 0.1.
- B ("fills"): 10 positions with close SL/TP and a ladder of pending orders across the range
  the bars cover, each with close SL/TP, so that about 1,000 fills happen along the way (counted
  afterwards through the API); backtesting.py runs the same orders. For information.

Each of our repetitions uses a fresh session (seek is forward only) on one imported instrument;
backtesting.py runs as many times. Medians are reported. backtesting.py is a dev dependency
imported here only, never by a service.
"""

from __future__ import annotations

import statistics
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

SEEK_BARS = 100_000  # bars the seek reveals after the start bar
IMPORT_BARS = 110_000  # imported once; more than the seek needs
VOLUME = 0.01
CONTRACT_SIZE = 100_000
DIGITS = 5
POINT = 10**-DIGITS
BALANCE, LEVERAGE, SPREAD_PTS, SLIPPAGE_PTS, COMMISSION = 100_000, 100, 20, 5, 7
SESSION: dict[str, Any] = {
    "timeframe": "M1",
    "speed": "0.5x",  # a bar every 2 s while RUNNING; it is paused at once
    "initial_balance": BALANCE,
    "leverage": LEVERAGE,
    "spread_pts": SPREAD_PTS,
    "slippage_pts": SLIPPAGE_PTS,
    "commission_per_fill": COMMISSION,
}
FAR_PTS = 20_000  # 0.2: the bars never move that far from the start
CLOSE_PTS = 50  # SL/TP 0.0005 from the entry: hit within minutes
LADDER = 500  # pending orders of row B
LADDER_EDGE_PTS = 100  # keep the ladder this far inside the bars' range, so every order fills


@dataclass(frozen=True)
class Bars:
    ts: list[datetime]
    open: list[float]
    high: list[float]
    low: list[float]
    close: list[float]
    volume: list[int]

    @classmethod
    def from_csv(cls, text: str) -> Bars:
        cols: list[list[str]] = [[], [], [], [], [], []]
        for line in text.splitlines()[1:]:
            for col, value in zip(cols, line.split(","), strict=True):
                col.append(value)
        return cls(
            [datetime.fromisoformat(v.replace("Z", "+00:00")) for v in cols[0]],
            [float(v) for v in cols[1]],
            [float(v) for v in cols[2]],
            [float(v) for v in cols[3]],
            [float(v) for v in cols[4]],
            [int(v) for v in cols[5]],
        )

    def head(self, n: int) -> Bars:
        return Bars(
            self.ts[:n], self.open[:n], self.high[:n], self.low[:n], self.close[:n], self.volume[:n]
        )


def iso(ts: datetime) -> str:
    return ts.isoformat().replace("+00:00", "Z")


def price(points: int) -> float:
    return round(points * POINT, DIGITS)


def pts(value: float) -> int:
    return round(value / POINT)


# --- the trades, in points, from the start bar's close; the same for both sides ---


@dataclass(frozen=True)
class Trade:
    """A market position (price None) or a pending order at `price`."""

    side: str  # BUY | SELL
    stop_loss: int  # points
    take_profit: int
    price: int | None = None
    type: str | None = None  # LIMIT | STOP for a pending order

    def position_body(self) -> dict[str, Any]:
        return {
            "side": self.side,
            "volume": VOLUME,
            "stop_loss": price(self.stop_loss),
            "take_profit": price(self.take_profit),
        }

    def order_body(self) -> dict[str, Any]:
        assert self.price is not None and self.type is not None
        return {**self.position_body(), "type": self.type, "price": price(self.price)}


def far_plan(close: int) -> list[Trade]:
    """Row A: 10 positions (5 BUY, 5 SELL) and 10 pending orders, every level 0.2 away."""
    spread = SPREAD_PTS
    out = []
    for i in range(5):
        out.append(Trade("BUY", close - FAR_PTS - i, close + FAR_PTS + i))
        out.append(Trade("SELL", close + spread + FAR_PTS + i, close + spread - FAR_PTS - i))
    for i, (side, type_, at) in enumerate(
        [
            ("BUY", "LIMIT", close - FAR_PTS),
            ("BUY", "STOP", close + spread + FAR_PTS),
            ("SELL", "LIMIT", close + FAR_PTS),
            ("SELL", "STOP", close - FAR_PTS),
        ]
        * 3
    ):
        if i == 10:
            break
        at += i if at > close else -i
        sl, tp = (at - FAR_PTS // 2, at + FAR_PTS // 2)
        if side == "SELL":
            sl, tp = tp, sl
        out.append(Trade(side, sl, tp, at, type_))
    return out


def fills_plan(close: int, low: int, high: int) -> list[Trade]:
    """Row B: 10 positions with SL/TP 50 points away, and `LADDER` pending orders spread
    evenly over [low, high] (the bars' range, less an edge) but away from the start, BUY and
    SELL in turn, each with SL/TP 50 points from its price: each order fills when the bars
    cross its price and its position closes soon after."""
    spread = SPREAD_PTS
    out = []
    for i in range(5):
        out.append(Trade("BUY", close - CLOSE_PTS, close + CLOSE_PTS + i))
        out.append(Trade("SELL", close + spread + CLOSE_PTS, close + spread - CLOSE_PTS - i))
    lo, hi = low + LADDER_EDGE_PTS, high - LADDER_EDGE_PTS
    band = 2 * spread  # no order right at the market
    levels = [lo + (hi - lo) * k // (LADDER - 1) for k in range(LADDER)]
    for k, at in enumerate(levels):
        if abs(at - close) < band:
            at = close - band if at < close else close + spread + band
        side = "BUY" if k % 2 == 0 else "SELL"
        below = at < close
        type_ = ("LIMIT" if below else "STOP") if side == "BUY" else ("STOP" if below else "LIMIT")
        sl, tp = at - CLOSE_PTS, at + CLOSE_PTS
        if side == "SELL":
            sl, tp = tp, sl
        out.append(Trade(side, sl, tp, at, type_))
    return out


# --- backtesting.py, in this process ---


def backtesting_runs(bars: Bars, plan: list[Trade], runs: int) -> tuple[list[float], int]:
    """Seconds of each `Backtest.run` over `bars` with `plan` placed on the first bar, and
    the number of trades of the last run."""
    import pandas as pd
    from backtesting import Backtest, Strategy

    class PlanOnFirstBar(Strategy):
        plan: list[Trade] = []

        def init(self) -> None:
            self.placed = False

        def next(self) -> None:
            if self.placed:
                return
            self.placed = True
            size = round(VOLUME * CONTRACT_SIZE)
            for t in self.plan:
                place = self.buy if t.side == "BUY" else self.sell
                at = None if t.price is None else price(t.price)
                place(
                    size=size,
                    limit=at if t.type == "LIMIT" else None,
                    stop=at if t.type == "STOP" else None,
                    sl=price(t.stop_loss),
                    tp=price(t.take_profit),
                )

    data = pd.DataFrame(
        {
            "Open": bars.open,
            "High": bars.high,
            "Low": bars.low,
            "Close": bars.close,
            "Volume": bars.volume,
        },
        index=pd.DatetimeIndex(bars.ts),
    )
    bt = Backtest(
        data,
        PlanOnFirstBar,
        cash=float(BALANCE),
        # A rate of the price, applied to both sides of the mid: half ours, for the same
        # round-trip cost (ours: BUY at bid + spread, SELL at bid).
        spread=SPREAD_PTS * POINT / 2 / bars.close[0],
        commission=(float(COMMISSION), 0.0),  # cash per fill
        margin=1 / LEVERAGE,
        trade_on_close=False,
        hedging=True,
        exclusive_orders=False,
        finalize_trades=True,
    )
    seconds = []
    trades = 0
    for _ in range(runs):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t0 = time.perf_counter()
            stats = bt.run(plan=plan)
            seconds.append(time.perf_counter() - t0)
        trades = int(stats["# Trades"])
    return seconds, trades


# --- our side, through the gateway ---


class Api:
    def __init__(self, http: httpx.Client, base: str, token: str) -> None:
        self.http = http
        self.base = base
        self.headers = {"Authorization": f"Bearer {token}"}

    def call(self, method: str, path: str, expect: int = 200, **kwargs: Any) -> Any:
        r = self.http.request(method, f"{self.base}{path}", headers=self.headers, **kwargs)
        if r.status_code != expect:
            raise RuntimeError(f"{method} {path} -> {r.status_code}: {r.text[:500]}")
        return r.json() if r.content else None

    def total(self, path: str) -> int:
        return int(self.call("GET", f"{path}&limit=1")["total"])


@dataclass
class SeekRun:
    seconds: float
    client_cpu_s: float  # this process's CPU time during the seek: the client is idle
    open_positions: int
    closed_positions: int
    pending_orders: int
    filled_orders: int

    @property
    def fills(self) -> int:
        """Fills during the seek: each filled order opened a position, each close is one."""
        return self.filled_orders + self.closed_positions


def seek_run(
    api: Api,
    instrument_id: int,
    bars: Bars,
    plan_of: Callable[[int], list[Trade]],
    check_close: float,
) -> SeekRun:
    """A fresh session paused on the first bar, `plan_of(close)` placed, then one timed seek
    over `SEEK_BARS` bars."""
    sess = api.call(
        "POST",
        "/sessions",
        201,
        json={"instrument_id": instrument_id, "start_ts": iso(bars.ts[0]), **SESSION},
    )
    sid = sess["id"]
    api.call("POST", f"/sessions/{sid}/start")
    paused = api.call("POST", f"/sessions/{sid}/pause")
    if paused["current_ts"] != iso(bars.ts[0]):
        raise RuntimeError(f"session moved before the pause: {paused['current_ts']}")
    candle = api.call("GET", f"/sessions/{sid}/candles?limit=1")["candles"][-1]
    close = pts(float(candle["close"]))
    if close != pts(check_close):
        raise RuntimeError(f"start close {candle['close']} is not the imported {check_close}")
    for t in plan_of(close):
        if t.price is None:
            api.call("POST", f"/sessions/{sid}/positions", 201, json=t.position_body())
        else:
            api.call("POST", f"/sessions/{sid}/orders", 201, json=t.order_body())
    target = iso(bars.ts[SEEK_BARS])
    cpu0, t0 = time.process_time(), time.perf_counter()
    out = api.call("POST", f"/sessions/{sid}/seek", json={"ts": target})
    seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    if out["current_ts"] != target or out["session_status"] != "PAUSED":
        raise RuntimeError(f"seek ended at {out['current_ts']} {out['session_status']}")
    base = f"/sessions/{sid}"
    return SeekRun(
        seconds,
        cpu,
        api.total(f"{base}/positions?status=OPEN"),
        api.total(f"{base}/positions?status=CLOSED"),
        api.total(f"{base}/orders?status=PENDING"),
        api.total(f"{base}/orders?status=FILLED"),
    )


@dataclass
class ReplayFigures:
    bars: int = SEEK_BARS
    runs: int = 0  # row A, each side
    fill_runs: int = 0  # row B, each side
    import_seconds: float = 0.0
    far_ours_s: list[float] = field(default_factory=list)
    client_cpu_s: list[float] = field(default_factory=list)  # during our seeks, rows A and B
    far_bt_s: list[float] = field(default_factory=list)
    far_bt_trades: int = 0
    far_after: list[dict[str, int]] = field(default_factory=list)
    fills_ours_s: list[float] = field(default_factory=list)
    fills_counts: list[int] = field(default_factory=list)
    fills_bt_s: list[float] = field(default_factory=list)
    fills_bt_trades: int = 0
    fills_after: list[dict[str, int]] = field(default_factory=list)

    @staticmethod
    def median(values: list[float]) -> float:
        return statistics.median(values)

    def rows(self) -> list[str]:
        """The replay table's rows."""
        m = self.median
        far_r = m(self.far_ours_s) / m(self.far_bt_s)
        fills_r = m(self.fills_ours_s) / m(self.fills_bt_s)
        fills = f"{min(self.fills_counts):,} to {max(self.fills_counts):,}"
        if min(self.fills_counts) == max(self.fills_counts):
            fills = f"{self.fills_counts[0]:,}"
        return [
            f"| A: 10 positions + 10 pending, nothing hit | {m(self.far_ours_s):.3f} | "
            f"{m(self.far_bt_s):.3f} ({self.far_bt_trades} trades) | {far_r:.3f} | ≤ 0.1 "
            f"{'met' if far_r <= 0.1 else 'NOT met'} |",
            f"| B: {LADDER} orders + 10 positions, {fills} fills | {m(self.fills_ours_s):.3f} | "
            f"{m(self.fills_bt_s):.3f} ({self.fills_bt_trades} trades) | {fills_r:.3f} | "
            "information |",
        ]

    def ratios(self) -> list[tuple[str, str]]:
        m = self.median
        return [
            (
                f"replay A: seek {self.bars:,} M1 bars ÷ backtesting.py run (target ≤ 0.1)",
                f"{m(self.far_ours_s) / m(self.far_bt_s):.3f}",
            ),
            (
                f"replay B: seek {self.bars:,} M1 bars, {statistics.median(self.fills_counts):,.0f}"
                " fills ÷ backtesting.py run",
                f"{m(self.fills_ours_s) / m(self.fills_bt_s):.3f}",
            ),
        ]

    def table(self) -> list[str]:
        return [
            f"Replay (SPEC 7): one POST /sessions/{{id}}/seek over {self.bars:,} M1 bars through "
            "the gateway (a fresh PAUSED session each time) vs backtesting.py Backtest.run "
            f"in-process on the same bars with the same trades; seconds, median of {self.runs} "
            f"runs each (row A) and {self.fill_runs} (row B)",
            "",
            "| replay | ours s | backtesting.py s | ours ÷ bt | target |",
            "| --- | ---: | ---: | ---: | --- |",
            *self.rows(),
            "",
            "Each run, s: A ours " + _list(self.far_ours_s) + ", backtesting.py "
            f"{_list(self.far_bt_s)}; B ours {_list(self.fills_ours_s)} (fills "
            f"{', '.join(f'{n:,}' for n in self.fills_counts)}), backtesting.py "
            f"{_list(self.fills_bt_s)}. Client (this process) CPU during a seek: at most "
            f"{max(self.client_cpu_s) * 1000:.0f} ms, so the client is not the limit.",
        ]


def _list(values: list[float]) -> str:
    return "[" + ", ".join(f"{v:.3f}" for v in values) + "]"


def instrument_with_bars(
    http: httpx.Client, gw: str, admin_token: str, symbol: str, description: str, bars_csv: str
) -> tuple[dict[str, Any], float]:
    """A new M1 instrument (5 digits, 100,000 units a lot, 0.01 steps) with the CSV's bars
    imported through the gateway; returns it and the import's seconds."""
    admin = Api(http, gw, admin_token)
    inst: dict[str, Any] = admin.call(
        "POST",
        "/instruments",
        201,
        json={
            "symbol": symbol,
            "description": description,
            "digits": DIGITS,
            "contract_size": CONTRACT_SIZE,
            "min_volume": VOLUME,
            "volume_step": VOLUME,
            "max_volume": 100,
            "base_timeframe": "M1",
        },
    )
    t0 = time.perf_counter()
    r = http.post(
        f"{gw}/instruments/{inst['id']}/candles",
        headers={**admin.headers, "Content-Type": "text/csv"},
        content=bars_csv.encode(),
    )
    r.raise_for_status()
    return inst, time.perf_counter() - t0


def new_trader(http: httpx.Client, gw: str, email: str, password: str) -> Api:
    """A trader registered and logged in through the gateway (bearer token)."""
    http.post(
        f"{gw}/auth/register",
        json={"email": email, "password": password, "name": "Bench Trader", "roles": ["trader"]},
    ).raise_for_status()
    login = http.post(f"{gw}/auth/login", json={"email": email, "password": password})
    login.raise_for_status()
    return Api(http, gw, login.json()["access_token"])


def run_replay(
    http: httpx.Client,
    gw: str,
    admin_token: str,
    bars_csv: str,
    *,
    runs: int,
    fill_runs: int,
    log: Callable[[str], None] = print,
) -> ReplayFigures:
    """Everything: instrument, import, a trader, then rows A and B, ours and backtesting.py."""
    figures = ReplayFigures(runs=runs, fill_runs=fill_runs)
    bars = Bars.from_csv(bars_csv)
    if len(bars.ts) <= SEEK_BARS:
        raise ValueError(f"need more than {SEEK_BARS:,} bars, got {len(bars.ts):,}")
    log(f"replay: importing {len(bars.ts):,} M1 bars ...")
    inst, figures.import_seconds = instrument_with_bars(
        http, gw, admin_token, "BENCHREPLAY", "replay benchmark bars", bars_csv
    )
    trader = new_trader(http, gw, "bench-trader@example.com", "bench-trader-password-1")

    seek_bars = bars.head(SEEK_BARS + 1)  # the start bar and the 100,000 the seek reveals
    start_close = bars.close[0]
    low, high = pts(min(seek_bars.low[1:])), pts(max(seek_bars.high[1:]))
    close0 = pts(start_close)

    def far(close: int) -> list[Trade]:
        return far_plan(close)

    def ladder(close: int) -> list[Trade]:
        return fills_plan(close, low, high)

    log(f"replay A: {runs} seeks (10 positions + 10 pending, nothing hit) ...")
    for _ in range(runs):
        run = seek_run(trader, inst["id"], bars, far, start_close)
        figures.far_ours_s.append(run.seconds)
        figures.client_cpu_s.append(run.client_cpu_s)
        figures.far_after.append(_after(run))
        if run.fills or run.open_positions != 10 or run.pending_orders != 10:
            raise RuntimeError(f"row A: something was hit: {run}")
    log(f"replay A: {runs} backtesting.py runs ...")
    market_only = [t for t in far(close0) if t.price is None]  # it places nothing else
    figures.far_bt_s, figures.far_bt_trades = backtesting_runs(seek_bars, market_only, runs)

    log(f"replay B: {fill_runs} seeks ({LADDER} orders + 10 positions, close SL/TP) ...")
    for _ in range(fill_runs):
        run = seek_run(trader, inst["id"], bars, ladder, start_close)
        figures.fills_ours_s.append(run.seconds)
        figures.client_cpu_s.append(run.client_cpu_s)
        figures.fills_counts.append(run.fills)
        figures.fills_after.append(_after(run))
    log(f"replay B: {fill_runs} backtesting.py runs ...")
    figures.fills_bt_s, figures.fills_bt_trades = backtesting_runs(
        seek_bars, ladder(close0), fill_runs
    )
    return figures


def _after(run: SeekRun) -> dict[str, int]:
    return {
        "open_positions": run.open_positions,
        "closed_positions": run.closed_positions,
        "pending_orders": run.pending_orders,
        "filled_orders": run.filled_orders,
        "fills": run.fills,
    }

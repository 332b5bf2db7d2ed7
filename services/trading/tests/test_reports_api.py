"""SPEC 3 "Reports": a report agrees with backtesting.py 0.6.6's `compute_stats` on the same
trades and equity, rebuilt here from the API's own positions, ledger and candles (exactly, in
Decimal, turned into floats once); it is an immutable snapshot; its CSV and SVG read back."""

from __future__ import annotations

import csv
import io
import math
import random
import warnings
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from backtesting._stats import compute_stats

T0 = datetime(2024, 1, 1, tzinfo=UTC)  # Monday
MIN = timedelta(minutes=1)
CS = Decimal(100000)
SPREAD = Decimal("0.00020")

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


def iso(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse(ts: str) -> datetime:
    return datetime.fromisoformat(ts.replace("Z", "+00:00"))


def D(x: float | int | str) -> Decimal:
    return Decimal(str(x))


class Trader:
    def __init__(self, kit: Any, client: httpx.AsyncClient, user: int = 1) -> None:
        self.kit, self.client = kit, client
        self.h = kit.tokens.headers(user)
        self.sid = 0
        self.tf = timedelta(minutes=1)

    async def call(self, method: str, url: str, json: Any = None) -> httpx.Response:
        return await self.client.request(method, url, json=json, headers=self.h)

    async def ok(self, method: str, url: str, json: Any = None) -> Any:
        resp = await self.call(method, url, json)
        assert resp.status_code in (200, 201), resp.text
        return resp.json()

    async def session(
        self, rows: list[dict[str, Any]], timeframe: str = "M1", **over: object
    ) -> None:
        iid = await self.kit.instrument()
        await self.kit.store(iid, rows)
        over.setdefault("end_ts", None)
        over.setdefault("speed", "0.5x")
        self.sid = int((await self.kit.session(iid, timeframe=timeframe, **over))["id"])
        self.tf = {"M1": MIN, "M5": 5 * MIN, "H1": 60 * MIN}[timeframe]
        await self.ok("POST", f"/sessions/{self.sid}/start")
        await self.ok("POST", f"/sessions/{self.sid}/pause")

    async def finish(self) -> None:
        """Stop the session unless the replay already reached its end."""
        if (await self.ok("GET", f"/sessions/{self.sid}"))["session_status"] != "COMPLETED":
            await self.ok("POST", f"/sessions/{self.sid}/stop")

    async def all(self, what: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        page = 1
        while True:
            body = await self.ok("GET", f"/sessions/{self.sid}/{what}?limit=100&page={page}")
            out += body[what]
            if len(out) >= body["total"]:
                return out
            page += 1

    async def bars(self) -> list[dict[str, Any]]:
        body = await self.ok("GET", f"/sessions/{self.sid}/candles?limit=5000")
        return body["candles"]


def walk(seed: int, count: int, start: datetime = T0, vol: int = 12) -> list[dict[str, Any]]:
    """Random-walk M1 bid bars on the 5-digit grid, with some gaps between bars."""
    rng = random.Random(seed)
    price, rows, ts = 110_000, [], start
    for _ in range(count):
        o = price + (rng.randint(-30, 30) if rng.random() < 0.03 else rng.randint(-2, 2))
        c = o + rng.randint(-vol, vol)
        h, lo = max(o, c) + rng.randint(0, vol), min(o, c) - rng.randint(0, vol)
        rows.append(
            {
                "ts": ts,
                **{k: D(v) / 100000 for k, v in zip("ohlc", (o, h, lo, c), strict=True)},
                "v": 1,
            }
        )
        price = c
        ts += MIN if rng.random() > 0.02 else MIN * rng.randint(2, 30)
    return rows


async def trade_randomly(t: Trader, seed: int, steps: int) -> None:
    """Market orders with levels, pending orders, partial and full closes, between steps."""
    rng = random.Random(seed)
    for _ in range(steps):
        bars = await t.bars()
        if not bars or (await t.ok("GET", f"/sessions/{t.sid}"))["session_status"] != "PAUSED":
            return
        c = D(bars[-1]["close"])
        pt = D("0.00001")
        action = rng.random()
        if action < 0.35:
            side = rng.choice(["BUY", "SELL"])
            mark = c if side == "BUY" else c + SPREAD
            d1, d2 = pt * rng.randint(5, 60), pt * rng.randint(5, 60)
            body: dict[str, Any] = {"side": side, "volume": rng.choice([0.1, 0.3, 1.0])}
            if rng.random() < 0.8:
                body["stop_loss"] = float(mark - d1 if side == "BUY" else mark + d1)
            if rng.random() < 0.8:
                body["take_profit"] = float(mark + d2 if side == "BUY" else mark - d2)
            await t.call("POST", f"/sessions/{t.sid}/positions", body)
        elif action < 0.5:
            side, kind = rng.choice(["BUY", "SELL"]), rng.choice(["LIMIT", "STOP"])
            ref = c + SPREAD if side == "BUY" else c
            below = (kind == "LIMIT") == (side == "BUY")
            price = ref - pt * rng.randint(1, 40) if below else ref + pt * rng.randint(1, 40)
            await t.call(
                "POST",
                f"/sessions/{t.sid}/orders",
                {"type": kind, "side": side, "volume": 0.2, "price": float(price)},
            )
        elif action < 0.6:
            open_ = [p for p in await t.all("positions") if p["status"] == "OPEN"]
            if open_:
                p = rng.choice(open_)
                body = {"volume": 0.1} if p["volume"] > 0.15 and rng.random() < 0.6 else {}
                await t.call("POST", f"/positions/{p['id']}/close", body or None)
        await t.ok("POST", f"/sessions/{t.sid}/step", {"bars": rng.randint(1, 12)})


async def rebuild(t: Trader, replay_ts: str) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """The equity series and the trades from the API's own data, exactly (README "Reports")."""
    bars = [b for b in await t.bars() if b["ts"] <= replay_ts]
    session = await t.ok("GET", f"/sessions/{t.sid}")
    start = parse(session["start_ts"])
    bars = [b for b in bars if parse(b["ts"]) >= start]
    times = [parse(b["ts"]) for b in bars]

    def bar_of(ts: str) -> int:
        when = parse(ts)
        return max(i for i, b in enumerate(times) if b <= when)

    ledger = await t.all("transactions")
    positions = await t.all("positions")
    equity = []
    for i, b in enumerate(bars):
        balance = sum((D(r["amount"]) for r in ledger if bar_of(r["replay_ts"]) <= i), Decimal(0))
        close = D(b["close"])
        floating = Decimal(0)
        for p in positions:
            entry = bar_of(p["open_ts"])
            exit_ = bar_of(p["close_ts"]) if p["close_ts"] else len(bars)
            if entry <= i < exit_:
                sign = 1 if p["side"] == "BUY" else -1
                mark = close if p["side"] == "BUY" else close + SPREAD
                floating += sign * D(p["volume"]) * CS * (mark - D(p["open_price"]))
        equity.append(float(balance + floating))  # exact, then a float once
    closed = sorted(
        (p for p in positions if p["status"] == "CLOSED"), key=lambda p: (p["close_ts"], p["id"])
    )
    index = pd.DatetimeIndex([pd.Timestamp(x) for x in times]).tz_localize(None)
    rows = []
    for p in closed:
        size = float(D(p["volume"]) * CS * (1 if p["side"] == "BUY" else -1))
        entry, exit_ = bar_of(p["open_ts"]), bar_of(p["close_ts"])
        pnl = p["profit"] - p["commission"]
        entry_price, exit_price = p["open_price"], p["close_price"]
        ret = math.copysign(1, size) * (exit_price / entry_price - 1) - p["commission"] / (
            abs(size) * entry_price
        )
        rows.append(
            {
                "Size": size,
                "EntryBar": entry,
                "ExitBar": exit_,
                "EntryPrice": entry_price,
                "ExitPrice": exit_price,
                "PnL": pnl,
                "ReturnPct": ret,
                "EntryTime": index[entry],
                "ExitTime": index[exit_],
            }
        )
    trades = pd.DataFrame(
        rows,
        columns=[
            "Size",
            "EntryBar",
            "ExitBar",
            "EntryPrice",
            "ExitPrice",
            "PnL",
            "ReturnPct",
            "EntryTime",
            "ExitTime",
        ],
    )
    trades["Duration"] = trades["ExitTime"] - trades["EntryTime"]
    return np.asarray(index.values), np.array(equity), trades


def reference(index: np.ndarray, equity: np.ndarray, trades: pd.DataFrame) -> pd.Series:
    ohlc = pd.DataFrame({"Close": np.linspace(1, 2, len(index))}, index=pd.DatetimeIndex(index))
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return compute_stats(trades, equity, ohlc, None)


def assert_agrees(stats: dict[str, Any], ref: pd.Series) -> None:
    for key, name in KEYS.items():
        expected: Any = ref[name]
        if key.endswith("duration"):
            expected = expected.total_seconds() if isinstance(expected, pd.Timedelta) else None
        elif expected is not None and not (
            isinstance(expected, float) and not math.isfinite(expected)
        ):
            expected = float(expected)
        else:
            expected = None
        got = stats[key]
        if expected is None or got is None:
            assert got is None and expected is None, (key, got, expected)
        elif key == "trades" or key.endswith("duration"):
            assert got == expected, (key, got, expected)
        else:
            assert math.isclose(got, expected, rel_tol=1e-9, abs_tol=1e-9), (key, got, expected)
    assert stats["start"] == iso(ref["Start"].to_pydatetime().replace(tzinfo=UTC))
    assert stats["end"] == iso(ref["End"].to_pydatetime().replace(tzinfo=UTC))
    assert stats["duration"] == ref["Duration"].total_seconds()


def streaks(nets: list[float]) -> tuple[int, int]:
    best, run, last = {1: 0, -1: 0}, 0, 0
    for x in nets:
        sign = (x > 0) - (x < 0)
        run = run + 1 if sign and sign == last else (1 if sign else 0)
        last = sign
        if sign:
            best[sign] = max(best[sign], run)
    return best[1], best[-1]


async def generate(t: Trader) -> dict[str, Any]:
    return await t.ok("POST", f"/sessions/{t.sid}/generate-report")


@pytest.mark.parametrize(("seed", "timeframe"), [(1, "M1"), (2, "M5"), (3, "M1")])
async def test_a_report_agrees_with_backtesting_py_on_many_trades(
    kit: Any, client: httpx.AsyncClient, seed: int, timeframe: str
) -> None:
    """BUY and SELL, SL/TP, pending orders, partial closes, overlapping positions, and at the
    end SESSION_END: every shared statistic agrees with compute_stats."""
    t = Trader(kit, client)
    await t.session(walk(seed, 4000 if timeframe == "M5" else 1500), timeframe)
    await trade_randomly(t, seed, 60)
    mid = await generate(t)  # a RUNNING-time snapshot, checked against the data as it is now
    assert_agrees(mid["stats"], reference(*await rebuild(t, mid["replay_ts"])))
    await t.finish()
    report = await generate(t)
    positions = await t.all("positions")
    reasons = {p["close_reason"] for p in positions}
    assert {"STOP_LOSS", "TAKE_PROFIT", "SESSION_END"} <= reasons, reasons
    assert any(p["parent_id"] for p in positions), "a partial close"
    assert_agrees(report["stats"], reference(*await rebuild(t, report["replay_ts"])))
    assert report["stats"]["trades"] == len(positions) > 10


async def test_a_stop_out_report_and_the_money_figures(kit: Any, client: httpx.AsyncClient) -> None:
    """A stop-out among the trades; gross profit and loss, largest win and loss, streaks and
    the money profit factor from the trades' net P&L (MT4's figures)."""
    t = Trader(kit, client)
    rows = walk(7, 400, vol=30)
    await t.session(rows, initial_balance=1000, leverage=500)
    await t.ok(
        "POST",
        f"/sessions/{t.sid}/positions",
        {"side": "BUY", "volume": 0.1, "take_profit": 1.1015},
    )
    await t.ok("POST", f"/sessions/{t.sid}/step", {"bars": 30})
    await t.ok("POST", f"/sessions/{t.sid}/positions", {"side": "SELL", "volume": 3.5})
    await t.ok("POST", f"/sessions/{t.sid}/step", {"bars": 360})
    report = await generate(t)
    closed = sorted(
        (p for p in await t.all("positions") if p["status"] == "CLOSED"),
        key=lambda p: (p["close_ts"], p["id"]),
    )
    assert "STOP_OUT" in {p["close_reason"] for p in closed}, [p["close_reason"] for p in closed]
    assert_agrees(report["stats"], reference(*await rebuild(t, report["replay_ts"])))
    nets = [p["net_profit"] for p in closed]
    wins, losses = [x for x in nets if x > 0], [x for x in nets if x < 0]
    s = report["stats"]
    assert math.isclose(s["gross_profit"], sum(wins)) and math.isclose(s["gross_loss"], sum(losses))
    assert s["largest_win"] == (max(wins) if wins else None)
    assert s["largest_loss"] == (min(losses) if losses else None)
    expected_pf = sum(wins) / abs(sum(losses)) if losses else None
    assert s["profit_factor_money"] == pytest.approx(expected_pf), (s, nets)
    assert (s["max_consecutive_wins"], s["max_consecutive_losses"]) == streaks(nets)


async def test_no_trades_one_trade_all_wins_all_losses(kit: Any, client: httpx.AsyncClient) -> None:
    t = Trader(kit, client)
    await t.session(walk(11, 300))
    empty = await generate(t)
    s = empty["stats"]
    assert s["trades"] == 0
    for key in (
        "win_rate_pct",
        "best_trade_pct",
        "avg_trade_pct",
        "sqn",
        "profit_factor",
        "max_trade_duration",
        "largest_win",
    ):
        assert s[key] is None, key
    assert_agrees(s, reference(*await rebuild(t, empty["replay_ts"])))
    await t.ok("POST", f"/sessions/{t.sid}/positions", {"side": "BUY", "volume": 1})
    await t.ok("POST", f"/sessions/{t.sid}/step", {"bars": 20})
    pos = (await t.all("positions"))[0]
    await t.ok("POST", f"/positions/{pos['id']}/close")
    one = await generate(t)
    assert one["stats"]["trades"] == 1 and one["stats"]["sqn"] is None
    assert_agrees(one["stats"], reference(*await rebuild(t, one["replay_ts"])))
    # All wins, then all losses: only positions in profit (or at a loss) are closed; the
    # others stay open, and open positions are not trades.
    for want_win in (True, False):
        t2 = Trader(kit, client)
        await t2.session(walk(20 if want_win else 21, 900), commission_per_fill=0)
        for _ in range(12):
            await t2.ok("POST", f"/sessions/{t2.sid}/positions", {"side": "BUY", "volume": 1})
            await t2.ok("POST", f"/sessions/{t2.sid}/step", {"bars": 40})
            for p in await t2.all("positions"):
                if p["status"] == "OPEN" and p["profit"] != 0:
                    close = D(p["profit"]) - 5  # less the close's slippage (5 points)
                    if (close > 0) == want_win:
                        await t2.ok("POST", f"/positions/{p['id']}/close")
        report = await generate(t2)
        nets = [p["net_profit"] for p in await t2.all("positions") if p["status"] == "CLOSED"]
        assert nets and all((x > 0) == want_win for x in nets), nets
        s = report["stats"]
        assert s["win_rate_pct"] == (100.0 if want_win else 0.0)
        assert (s["profit_factor"] is None) == want_win  # no losing return to divide by
        assert_agrees(s, reference(*await rebuild(t2, report["replay_ts"])))


async def test_a_report_is_an_immutable_snapshot_with_the_accounts_equity(
    kit: Any, client: httpx.AsyncClient
) -> None:
    """equity_final is the account's equity at replay_ts; more trading afterwards changes
    neither the report nor its CSV nor its picture."""
    t = Trader(kit, client)
    await t.session(walk(5, 500))
    await trade_randomly(t, 5, 15)
    await t.ok("POST", f"/sessions/{t.sid}/positions", {"side": "SELL", "volume": 0.5})
    account = await t.ok("GET", f"/sessions/{t.sid}/account")
    report = await generate(t)
    assert report["replay_ts"] == account["current_ts"]
    assert report["stats"]["equity_final"] == pytest.approx(account["equity"], abs=0.005)
    rid = report["id"]
    before = [
        await t.call("GET", u)
        for u in (f"/reports/{rid}", f"/reports/{rid}/trades.csv", f"/reports/{rid}/equity.svg")
    ]
    await trade_randomly(t, 6, 10)
    await t.finish()
    after = [
        await t.call("GET", u)
        for u in (f"/reports/{rid}", f"/reports/{rid}/trades.csv", f"/reports/{rid}/equity.svg")
    ]
    assert [r.content for r in before] == [r.content for r in after]
    listed = await t.ok("GET", f"/sessions/{t.sid}/reports")
    assert (listed["total"], listed["reports"][0]["id"]) == (1, rid)


async def test_trades_csv_parses_back_to_the_reports_trades(
    kit: Any, client: httpx.AsyncClient
) -> None:
    t = Trader(kit, client)
    await t.session(walk(9, 800))
    await trade_randomly(t, 9, 30)
    await t.finish()
    report = await generate(t)
    resp = await t.call("GET", f"/reports/{report['id']}/trades.csv")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/csv")
    assert 'attachment; filename="' in resp.headers["content-disposition"]
    assert b"\r\n" in resp.content
    rows = list(csv.DictReader(io.StringIO(resp.content.decode("utf-8"))))
    closed = sorted(
        (p for p in await t.all("positions") if p["status"] == "CLOSED"),
        key=lambda p: (p["close_ts"], p["id"]),
    )
    assert [int(r["id"]) for r in rows] == [p["id"] for p in closed]
    for r, p in zip(rows, closed, strict=True):
        assert (r["side"], float(r["volume"]), float(r["open_price"]), r["open_ts"]) == (
            p["side"],
            p["volume"],
            p["open_price"],
            p["open_ts"],
        )
        assert (float(r["close_price"]), r["close_ts"], r["close_reason"]) == (
            p["close_price"],
            p["close_ts"],
            p["close_reason"],
        )
        assert (float(r["commission"]), float(r["profit"]), float(r["net_profit"])) == (
            p["commission"],
            p["profit"],
            p["net_profit"],
        )
        assert r["ambiguous"] == str(p["ambiguous"]).lower()
        assert int(r["duration_s"]) >= 0


async def test_equity_svg_is_xml_with_the_curve_and_its_markers(
    kit: Any, client: httpx.AsyncClient
) -> None:
    t = Trader(kit, client)
    await t.session(walk(4, 1200), "M5")
    await trade_randomly(t, 4, 30)
    report = await generate(t)
    resp = await t.call("GET", f"/reports/{report['id']}/equity.svg")
    assert resp.status_code == 200 and resp.headers["content-type"] == "image/svg+xml"
    assert len(resp.content) < 200_000
    root = ET.fromstring(resp.content)  # noqa: S314 (our own service's output)
    ns = "{http://www.w3.org/2000/svg}"
    assert root.tag == f"{ns}svg"
    texts = " ".join(x.text or "" for x in root.iter(f"{ns}text"))
    assert "return" in texts and "max drawdown" in texts and "peak" in texts
    assert root.find(f"{ns}polyline") is not None and root.find(f"{ns}polygon") is not None


async def test_report_access_and_state_rules(kit: Any, client: httpx.AsyncClient) -> None:
    t = Trader(kit, client)
    iid = await kit.instrument()
    await kit.store(iid, walk(3, 50))
    draft = (await kit.session(iid, end_ts=None))["id"]
    resp = await t.call("POST", f"/sessions/{draft}/generate-report")
    assert resp.status_code == 400, resp.text
    await t.ok("POST", f"/sessions/{draft}/start")
    report = await t.ok("POST", f"/sessions/{draft}/generate-report")
    other = kit.tokens.headers(2)
    for url in (
        f"/reports/{report['id']}",
        f"/reports/{report['id']}/trades.csv",
        f"/reports/{report['id']}/equity.svg",
        f"/sessions/{draft}/reports",
    ):
        assert (await client.get(url, headers=other)).status_code == 403
        assert (await client.get(url)).status_code == 401
        assert (await client.get(url, headers=kit.admin)).status_code == 200
    assert (
        await client.post(f"/sessions/{draft}/generate-report", headers=other)
    ).status_code == 403
    assert (await client.get("/reports/999999", headers=t.h)).status_code == 404
    h = {**t.h, "Idempotency-Key": "r-1"}
    first = await client.post(f"/sessions/{draft}/generate-report", headers=h)
    again = await client.post(f"/sessions/{draft}/generate-report", headers=h)
    assert first.json() == again.json()


async def test_closes_finer_than_the_instruments_digits_stay_exact(
    kit: Any, client: httpx.AsyncClient
) -> None:
    """Bars stored with 6 decimals on a 5-digit instrument: the equity series still uses the
    exact closes (the report asks for them at their own scale)."""
    rows = walk(31, 300)
    for i, r in enumerate(rows):
        bump = D("0.000003") * (i % 3)
        r.update(o=r["o"] + bump, h=r["h"] + bump + D("0.000003"), l=r["l"] + bump, c=r["c"] + bump)
    t = Trader(kit, client)
    await t.session(rows)
    await t.ok("POST", f"/sessions/{t.sid}/positions", {"side": "BUY", "volume": 1})
    await t.ok("POST", f"/sessions/{t.sid}/step", {"bars": 100})
    report = await generate(t)
    assert_agrees(report["stats"], reference(*await rebuild(t, report["replay_ts"])))
    account = await t.ok("GET", f"/sessions/{t.sid}/account")
    assert report["stats"]["equity_final"] == pytest.approx(account["equity"], abs=0.005)

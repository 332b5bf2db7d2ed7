"""The trading screens in Chromium through the real gateway (issue 12, trading part): a new
trader creates a session in the form (an API validation message on a field first), plays it,
buys with a stop-loss, sees its line, steps until the fill, sees the position closed and the
balance change, and reads the report with its equity picture. Then the replay screen's cost:
its first load's JavaScript, and the chart taking 5,000 bars and then 15 bars a second from
the stream without dropping frames, every streamed bar drawn and none ahead of the clock.

Instruments and candles are made through the API by the admin (devstack.testing), never the
UI: a trader cannot import candles.
"""

from __future__ import annotations

import math
import random
import re
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from devstack.stack import Stack
from devstack.testing import create_instrument, session_body

from .conftest import js_bytes_loaded, shoot, sign_in, sign_up

if TYPE_CHECKING:
    from .conftest import Problems, UserFactory

BAR0 = datetime(2024, 1, 2, tzinfo=UTC)  # a Tuesday: the bars are consecutive M1 minutes
HISTORY = 300  # bars before the flow's start_ts (visible from the first screen)
DROP_AT = HISTORY + 40  # from this bar on the price falls through the stop-loss
STOP_LOSS = 1.0975  # below every bar before DROP_AT, reached a few bars after it
PERF_HISTORY = 5000  # bars revealed before the performance run (the chart's first window)
JS_BUDGET = 300 * 1024  # the replay screen's first load, compressed
FRAME_GAP_MS = 50.0
FRAME_GAP_ALLOWANCE = 2  # gaps above FRAME_GAP_MS tolerated in a run (a busy 2-core box)


def ts(i: int) -> str:
    return (BAR0 + timedelta(minutes=i)).strftime("%Y-%m-%dT%H:%M:%SZ")


def minute_of(iso: str) -> int:
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return int((moment - BAR0).total_seconds()) // 60


def bars(count: int, seed: int, drop_at: int | None = None) -> list[dict[str, Any]]:
    """`count` M1 bars from BAR0 that look like a market: a slow swing around 1.1000 with
    noise (within 1.0988..1.1012), and from `drop_at` on a steady fall of 5 pips a bar."""
    rnd = random.Random(seed)
    out: list[dict[str, Any]] = []
    prev = 1.1
    for i in range(count):
        close = 1.1 + 0.0008 * math.sin(i / 15) + rnd.uniform(-0.0003, 0.0003)
        if drop_at is not None and i >= drop_at:
            close -= 0.0005 * (i - drop_at + 1)
        high = max(prev, close) + rnd.uniform(0, 0.0002)
        low = min(prev, close) - rnd.uniform(0, 0.0002)
        out.append(
            {
                "ts": ts(i),
                "open": round(prev, 5),
                "high": round(high, 5),
                "low": round(low, 5),
                "close": round(close, 5),
                "volume": 10,
            }
        )
        prev = close
    return out


@pytest.fixture(scope="module")
def flow_instrument(stack: Stack) -> tuple[int, str]:
    symbol = "TRUIUSD"  # fixed: the screenshots stay the same from run to run
    iid = create_instrument(stack, symbol, bars(HISTORY + 200, seed=12, drop_at=DROP_AT))
    return iid, symbol


@pytest.fixture(scope="module")
def flow_symbol(flow_instrument: tuple[int, str]) -> str:
    return flow_instrument[1]


@pytest.fixture(scope="module")
def flow_symbol_id(flow_instrument: tuple[int, str]) -> int:
    return flow_instrument[0]


@pytest.fixture(scope="module")
def perf_instrument(stack: Stack) -> int:
    return create_instrument(stack, "TRPFUSD", bars(PERF_HISTORY + 600, seed=7))


def api_get(page: Page, path: str) -> Any:
    """A read with the page's own cookie login (the app keeps it fresh)."""
    return page.evaluate(
        """async (path) => {
            const res = await fetch(path, {credentials: "same-origin"});
            if (!res.ok) throw new Error(`${path}: ${res.status}`);
            return res.json();
        }""",
        path,
    )


def screenshot(page: Page, name: str) -> None:
    """`shoot` without the toasts of the steps before (they fade in a few seconds anyway)."""
    page.evaluate("() => document.getElementById('toasts')?.replaceChildren()")
    shoot(page, name)


def chart(page: Page) -> Any:
    return page.locator(".tr-chart")


def bar_count(page: Page) -> int:
    return int(chart(page).get_attribute("data-bars") or 0)


def test_trader_creates_plays_trades_and_reports(
    page: Page, problems: Problems, flow_symbol: str
) -> None:
    # The first create is refused by the API (leverage 0): its message lands on the field.
    problems.expect(status=422, url=r"/sessions$")
    sign_up(page, "Tess Trader", f"tess-{uuid.uuid4().hex[:8]}@example.com", "replay the tape 1")

    page.get_by_role("link", name="Trading").first.click()
    expect(page).to_have_url("/trade")
    expect(page.get_by_text("No sessions yet.")).to_be_visible()
    form = page.locator("form.tr-form")
    form.get_by_label("Instrument").select_option(label=flow_symbol)
    form.get_by_label("Timeframe").select_option("M1")
    form.get_by_label("Speed (bars/s)").select_option("5x")
    form.get_by_label("Start (UTC)").fill(ts(HISTORY)[:16])
    form.get_by_label("Leverage (1:n)").fill("0")
    form.get_by_role("button", name="Create session").click()
    leverage = form.get_by_label("Leverage (1:n)")
    expect(leverage).to_have_attribute("aria-invalid", "true")
    expect(form.locator(".field-error")).to_have_text("Input should be greater than 0")
    screenshot(page, "trade-new-session-error")

    leverage.fill("100")
    form.get_by_role("button", name="Create session").click()
    expect(page).to_have_url(re.compile(r"/trade/sessions/\d+$"))
    session_id = int(page.url.rsplit("/", 1)[1])
    replay = page.locator(".tr-replay")
    expect(replay).to_have_attribute("data-status", "DRAFT")
    # A DRAFT shows the history before its start, and nothing from the start on.
    expect(chart(page)).to_have_attribute("data-bars", str(HISTORY))
    expect(chart(page)).to_have_attribute("data-last-ts", ts(HISTORY - 1))
    expect(page.get_by_text("Keys:")).to_be_visible()

    # Play: bars come from the stream; pause, and the chart holds what the API revealed.
    page.get_by_role("button", name="Start", exact=True).click()
    expect(replay).to_have_attribute("data-status", "RUNNING")
    page.wait_for_function(
        "(n) => Number(document.querySelector('.tr-chart').dataset.bars) >= n", arg=HISTORY + 3
    )
    page.get_by_role("button", name="Pause", exact=True).click()
    expect(replay).to_have_attribute("data-status", "PAUSED")
    current = api_get(page, f"/sessions/{session_id}")["current_ts"]
    expect(chart(page)).to_have_attribute("data-last-ts", current)
    assert bar_count(page) == minute_of(current) + 1
    taken = chart(page).get_attribute("data-taken-back")
    if taken:  # the stream ran ahead of the pause; the pause's clock took the bar back
        print(f"\npause: {taken} bar(s) the stream sent after the paused clock, taken back")

    # → steps one bar (the shortcut listed under the chart).
    page.keyboard.press("ArrowRight")
    expect(chart(page)).to_have_attribute("data-last-ts", ts(minute_of(current) + 1))

    # BUY with a stop-loss: the position, its SL on the chart, the commission off the balance.
    ticket = page.locator("form.tr-ticket")
    ticket.get_by_label("Volume (lots)").fill("0.10")
    ticket.get_by_label("Stop loss").fill(str(STOP_LOSS))
    ticket.locator("button.tr-buy").click()
    position = page.locator("[data-position]")
    expect(position).to_have_count(1)
    expect(position.locator("[data-field=stop_loss]")).to_have_text("1.09750")
    page.wait_for_function(
        "(p) => (document.querySelector('.tr-chart').dataset.lines || '').includes(p)",
        arg=f'"price":{STOP_LOSS}',
    )
    lines = chart(page).get_attribute("data-lines") or ""
    assert '"kind":"sl"' in lines and "SL #" in lines, lines
    balance = page.locator("[data-field=balance]")
    expect(balance).to_have_text("9,993.00")  # 10,000 less the 7.00 commission of the fill
    screenshot(page, "trade-replay")

    # Step until the fill: the stop-loss closes it; balance and chart follow.
    page.get_by_role("button", name="Step until fill").click()
    expect(page.locator("[data-position]")).to_have_count(0)
    closed = page.locator("[data-closed]")
    expect(closed).to_have_count(1)
    expect(closed.locator("[data-field=close_reason]")).to_have_text("Stop loss")
    expect(page.get_by_text("No open positions.")).to_be_visible()
    account = api_get(page, f"/sessions/{session_id}/account")
    assert account["balance"] < 9993.0 and account["open_positions"] == 0, account
    expect(balance).to_have_text(f"{account['balance']:,.2f}")
    after = api_get(page, f"/sessions/{session_id}")["current_ts"]
    assert minute_of(after) > DROP_AT, after  # the fill came from the fall, not before it
    expect(chart(page)).to_have_attribute("data-last-ts", after)
    expect(chart(page)).to_have_attribute("data-markers", "2")  # the BUY and its stop-loss
    assert "SL #" not in (chart(page).get_attribute("data-lines") or "")
    screenshot(page, "trade-replay-closed")

    # The report: statistics, the service's equity picture, the trade, the CSV.
    page.get_by_role("button", name="Generate report").click()
    expect(page).to_have_url(re.compile(rf"/trade/sessions/{session_id}/report\?report=\d+$"))
    equity = page.locator("img.tr-equity")
    expect(equity).to_be_visible()
    page.wait_for_function(
        "() => document.querySelector('img.tr-equity').complete "
        "&& document.querySelector('img.tr-equity').naturalWidth > 0"
    )
    expect(page.locator("[data-stat=trades] td")).to_have_text("1")
    expect(page.locator("[data-trade]")).to_have_count(1)
    expect(page.locator("[data-trade]")).to_contain_text("Stop loss")
    csv = page.get_by_role("link", name="Download CSV")
    assert (csv.get_attribute("href") or "").endswith("/trades.csv")
    screenshot(page, "trade-report")

    # Back to the list: the session is there, with its report.
    page.get_by_role("link", name="Trading").first.click()
    row = page.locator(f"[data-session='{session_id}']")
    expect(row).to_contain_text(flow_symbol)
    expect(row).to_contain_text("PAUSED")
    screenshot(page, "trade-sessions")


def test_pending_order_levels_and_partial_close(
    page: Page, make_user: UserFactory, stack: Stack, flow_symbol_id: int
) -> None:
    user = make_user()
    with httpx.Client(base_url=stack.gateway_url, headers=user.bearer, timeout=30) as api:
        body = session_body(flow_symbol_id, ts(HISTORY), ts(HISTORY + 199))
        sid = api.post("/sessions", json=body).json()["id"]
        for action in ("start", "pause"):
            assert api.post(f"/sessions/{sid}/{action}").status_code == 200
    sign_in(page, user.email, user.password, next_path=f"/trade/sessions/{sid}")
    expect(page.locator(".tr-replay")).to_have_attribute("data-status", "PAUSED")
    ticket = page.locator("form.tr-ticket")

    # A BUY LIMIT below the market: pending, drawn as a line, then cancelled.
    ticket.get_by_label("Order type").select_option("LIMIT")
    ticket.get_by_label("Price").fill("1.09500")
    # A bar arriving after the type was chosen keeps the pending label (it used to put the
    # market's BUY <ask> back, and the click below found no BUY LIMIT on a loaded machine).
    expect(chart(page)).to_have_attribute("data-last-ts", re.compile(r"^\d{4}-"))
    before = chart(page).get_attribute("data-last-ts") or ""
    page.get_by_role("button", name="Step 1", exact=True).click()
    expect(chart(page)).to_have_attribute("data-last-ts", ts(minute_of(before) + 1))
    expect(ticket.locator("button.tr-buy")).to_have_text("BUY LIMIT")
    expect(ticket.locator("button.tr-sell")).to_have_text("SELL LIMIT")
    ticket.get_by_role("button", name="BUY LIMIT").click()
    order = page.locator("[data-order]")
    expect(order).to_contain_text("BUY LIMIT 0.01 @ 1.09500")
    page.wait_for_function(
        "() => (document.querySelector('.tr-chart').dataset.lines || '').includes('BUY LIMIT')"
    )
    order.get_by_role("button", name="Cancel").click()
    expect(page.get_by_text("No pending orders.")).to_be_visible()

    # A market BUY of 0.20; a take-profit set on it; half closed, then the rest.
    ticket.get_by_label("Order type").select_option("MARKET")
    ticket.get_by_label("Volume (lots)").fill("0.20")
    ticket.locator("button.tr-buy").click()
    position = page.locator("[data-position]")
    expect(position).to_contain_text("BUY 0.20")
    position.get_by_role("button", name="Edit").click()
    levels = position.locator("form", has_text="Save levels")
    levels.get_by_label("Take profit").fill("1.11000")
    levels.get_by_role("button", name="Save levels").click()
    expect(position.locator("[data-field=take_profit]")).to_have_text("1.11000")
    assert "TP #" in (chart(page).get_attribute("data-lines") or "")
    position.get_by_role("button", name="Edit").click()
    partial = position.locator("form", has_text="Close part")
    partial.get_by_label("Close volume").fill("0.10")
    partial.get_by_role("button", name="Close part").click()
    expect(position).to_contain_text("BUY 0.10")
    expect(page.locator("[data-closed]")).to_have_count(1)
    position.get_by_role("button", name=re.compile(r"^Close position")).click()
    expect(page.get_by_text("No open positions.")).to_be_visible()
    expect(page.locator("[data-closed]")).to_have_count(2)
    account = api_get(page, f"/sessions/{sid}/account")
    expect(page.locator("[data-field=balance]")).to_have_text(f"{account['balance']:,.2f}")


FRAME_SAMPLER = """() => {
  const s = (window.__frames = { gaps: [], run: true, last: 0, long: [], work: [] });
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) if (s.run) s.long.push(e.duration);
  }).observe({ type: "longtask" });
  // What each frame's bars cost the replay screen's own code (chart.ts calls it).
  window.__replayChartProbe = (ms, bars) => s.run && s.work.push([ms, bars]);
  const tick = (t) => {
    if (s.last) s.gaps.push(t - s.last);
    s.last = t;
    if (s.run) requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
}"""
STOP_SAMPLER = """() => {
  window.__frames.run = false;
  window.__replayChartProbe = undefined;
  return window.__frames;
}"""


def play_and_sample(page: Page, sid: int, seconds: float) -> dict[str, Any]:
    """Play at 15x for `seconds` while sampling frames; pause; wait until the chart drew
    every bar the clock revealed. Returns the samples and the clock before and after."""
    before = minute_of(chart(page).get_attribute("data-last-ts") or "")
    taken_before = int(chart(page).get_attribute("data-taken-back") or 0)
    page.evaluate(FRAME_SAMPLER)
    started = time.monotonic()
    page.get_by_role("button", name="Play", exact=True).click()
    expect(page.locator(".tr-replay")).to_have_attribute("data-status", "RUNNING")
    page.wait_for_timeout(seconds * 1000)
    page.get_by_role("button", name="Pause", exact=True).click()
    expect(page.locator(".tr-replay")).to_have_attribute("data-status", "PAUSED")
    played = time.monotonic() - started
    current = api_get(page, f"/sessions/{sid}")["current_ts"]
    expect(chart(page)).to_have_attribute("data-last-ts", current)
    frames = page.evaluate(STOP_SAMPLER)  # after the last bars, which may trail the pause
    taken = int(chart(page).get_attribute("data-taken-back") or 0) - taken_before
    return {**frames, "played": played, "streamed": minute_of(current) - before, "taken": taken}


def describe(run: dict[str, Any]) -> str:
    gaps, work = run["gaps"], [ms for ms, _ in run["work"]]
    p95 = statistics.quantiles(gaps, n=20)[18]
    over = sum(1 for g in gaps if g > FRAME_GAP_MS)
    return (
        f"{run['streamed']} bars in {run['played']:.1f} s: {len(gaps)} frames, mean "
        f"{statistics.mean(gaps):.1f} ms, p95 {p95:.1f} ms, max {max(gaps):.1f} ms, {over} over "
        f"{FRAME_GAP_MS:.0f} ms; the chart's work in the {len(work)} frames that drew bars: "
        f"median {statistics.median(work) if work else 0:.2f} ms, max {max(work, default=0):.2f} "
        f"ms; long tasks: {[round(t) for t in run['long']]}; taken back: {run['taken']}"
    )


def test_replay_screen_first_load_and_chart_under_a_15x_stream(
    page: Page, make_user: UserFactory, stack: Stack, perf_instrument: int
) -> None:
    user = make_user()
    with httpx.Client(base_url=stack.gateway_url, headers=user.bearer, timeout=30) as api:
        body = session_body(perf_instrument, ts(PERF_HISTORY), ts(PERF_HISTORY + 599), speed="15x")
        created = api.post("/sessions", json=body)
        assert created.status_code == 201, created.text
        sid = created.json()["id"]
        for action in ("start", "pause"):
            r = api.post(f"/sessions/{sid}/{action}")
            assert r.status_code == 200, r.text
        at_load = minute_of(r.json()["current_ts"])

    sign_in(page, user.email, user.password)
    page.goto(f"/trade/sessions/{sid}")  # a document load: the screen's own first load
    expect(chart(page)).to_have_attribute("data-bars", "5000")  # the API's largest window
    expect(chart(page)).to_have_attribute("data-last-ts", ts(at_load))
    js = js_bytes_loaded(page)
    print(f"\nreplay screen first load: {js / 1024:.1f} KB of compressed JavaScript")
    assert js <= JS_BUDGET, f"{js} bytes of JavaScript"

    # 15 bars a second onto 5,000 for 3 s. Frame gaps measure the whole box: on a shared,
    # oversubscribed machine another process can stall a frame, so a failed run is played
    # once more (both are printed); the chart's own work per frame is checked in every run.
    runs = [play_and_sample(page, sid, 3.0)]
    print(f"15x stream, run 1: {describe(runs[0])}")
    if sum(1 for g in runs[0]["gaps"] if g > FRAME_GAP_MS) > FRAME_GAP_ALLOWANCE:
        runs.append(play_and_sample(page, sid, 3.0))
        print(f"15x stream, run 2: {describe(runs[1])}")

    # Every bar revealed reached the chart, in order, and none after the clock.
    streamed = sum(run["streamed"] for run in runs)
    assert bar_count(page) == 5000 + streamed
    for run in runs:
        assert run["streamed"] >= 30, f"only {run['streamed']} bars in {run['played']:.1f} s"
        assert len(run["gaps"]) >= 60, f"{len(run['gaps'])} frames in {run['played']:.1f} s"
        work = [ms for ms, _ in run["work"]]
        assert work and statistics.median(work) < 4.0, describe(run)  # a frame is 16.7 ms
        # Each bar drawn once (one taken back by a pause's clock is drawn again later).
        drawn = sum(bars for _, bars in run["work"])
        assert drawn == run["streamed"] + run["taken"], (drawn, describe(run))
    best = min(sum(1 for g in run["gaps"] if g > FRAME_GAP_MS) for run in runs)
    assert best <= FRAME_GAP_ALLOWANCE, [describe(run) for run in runs]
    screenshot(page, "trade-replay-5000")

"""SPEC 3 "Positions, transactions, account" and README "Trading rules": every price and amount
below is computed by hand in the test, from the instrument (5 digits, point 0.00001,
contract 100,000) and the session's costs (spread 20 pts = 0.00020, slippage 5 pts = 0.00005,
commission 7.00 per fill, leverage 100, balance 10,000 unless a test says otherwise)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

T0 = datetime(2024, 1, 1, tzinfo=UTC)  # a Monday
MIN = timedelta(minutes=1)
FLAT = ("1.10000", "1.10010", "1.09990", "1.10000")
OPENER = ("1.10000", "1.10080", "1.09950", "1.10050")  # bar 0: C = 1.10050, ask 1.10070


def ts(i: int, step: timedelta = MIN) -> str:
    return (T0 + i * step).strftime("%Y-%m-%dT%H:%M:%SZ")


class Desk:
    """One user's started, PAUSED session over given M1 bars (the wall clock never moves it)."""

    def __init__(self, kit: Any, client: httpx.AsyncClient) -> None:
        self.kit, self.client = kit, client
        self.h = kit.tokens.headers(1)
        self.sid: int = 0

    async def open(self, rows: list[tuple[str, str, str, str]], **overrides: object) -> Desk:
        iid = await self.kit.instrument()
        await self.kit.ohlc(iid, T0, rows)
        overrides.setdefault("speed", "0.5x")
        overrides.setdefault("end_ts", None)
        self.sid = int((await self.kit.session(iid, **overrides))["id"])
        await self.call("POST", f"/sessions/{self.sid}/start")
        await self.call("POST", f"/sessions/{self.sid}/pause")
        return self

    async def call(self, method: str, url: str, json: Any = None, expect: int = 200) -> Any:
        resp = await self.client.request(method, url, json=json, headers=self.h)
        assert resp.status_code == expect, resp.text
        return resp.json() if resp.content else None

    async def buy(self, expect: int = 201, **body: object) -> Any:
        return await self.call(
            "POST", f"/sessions/{self.sid}/positions", {"side": "BUY", **body}, expect
        )

    async def sell(self, expect: int = 201, **body: object) -> Any:
        return await self.call(
            "POST", f"/sessions/{self.sid}/positions", {"side": "SELL", **body}, expect
        )

    async def order(self, expect: int = 201, **body: object) -> Any:
        return await self.call("POST", f"/sessions/{self.sid}/orders", body, expect)

    async def step(self, n: int = 1) -> Any:
        return await self.call("POST", f"/sessions/{self.sid}/step", {"bars": n})

    async def position(self, pid: int) -> Any:
        return await self.call("GET", f"/positions/{pid}")

    async def ledger(self) -> list[tuple[str, float, float, str, int | None]]:
        rows = (await self.call("GET", f"/sessions/{self.sid}/transactions?limit=100"))[
            "transactions"
        ]
        return [
            (r["type"], r["amount"], r["balance_after"], r["replay_ts"], r["position_id"])
            for r in rows
        ]

    async def account(self) -> Any:
        return await self.call("GET", f"/sessions/{self.sid}/account")


@pytest.fixture
def desk(kit: Any, client: httpx.AsyncClient) -> Desk:
    return Desk(kit, client)


# --- market orders, closes, the ledger and the account ---


async def test_market_buy_fills_at_ask_plus_slippage_and_books_its_commission(desk: Desk) -> None:
    """BUY at C + spread + slippage = 1.10050 + 0.00020 + 0.00005; margin = 1 x 100,000 x
    1.10075 / 100; the ledger: DEPOSIT, then COMMISSION -7 on the position."""
    await desk.open([OPENER, FLAT])
    pos = await desk.buy(volume=1.0)
    assert (pos["side"], pos["volume"], pos["open_price"], pos["open_ts"]) == (
        "BUY",
        1.0,
        1.10075,
        ts(0),
    )
    assert (pos["status"], pos["commission"], pos["margin"], pos["ambiguous"]) == (
        "OPEN",
        7.0,
        1100.75,
        False,
    )
    # Open: marked at the bid close, (1.10050 - 1.10075) x 100,000 = -25.00.
    assert (pos["profit"], pos["net_profit"]) == (-25.0, -32.0)
    assert await desk.ledger() == [
        ("DEPOSIT", 10000.0, 10000.0, ts(0), None),
        ("COMMISSION", -7.0, 9993.0, ts(0), pos["id"]),
    ]
    acct = await desk.account()
    # equity 9993 - 25; free 9968 - 1100.75; level 9968 / 1100.75 x 100 = 905.5644..
    assert (acct["balance"], acct["equity"], acct["used_margin"]) == (9993.0, 9968.0, 1100.75)
    assert (acct["free_margin"], acct["margin_level"], acct["open_positions"]) == (
        8867.25,
        905.56,
        1,
    )


async def test_manual_close_sells_at_bid_minus_slippage(desk: Desk) -> None:
    """Closing a BUY sells at C - slippage = 1.10045: P&L (1.10045 - 1.10075) x 100,000 =
    -30.00; PROFIT row then COMMISSION row; balance 10,000 - 7 - 30 - 7."""
    await desk.open([OPENER, FLAT])
    pos = await desk.buy(volume=1.0)
    closed = await desk.call("POST", f"/positions/{pos['id']}/close")
    assert (closed["status"], closed["close_price"], closed["close_ts"]) == (
        "CLOSED",
        1.10045,
        ts(0),
    )
    assert (closed["close_reason"], closed["profit"], closed["commission"]) == (
        "MANUAL",
        -30.0,
        14.0,
    )
    assert closed["net_profit"] == -44.0
    assert (await desk.ledger())[2:] == [
        ("PROFIT", -30.0, 9963.0, ts(0), pos["id"]),
        ("COMMISSION", -7.0, 9956.0, ts(0), pos["id"]),
    ]
    assert (await desk.account())["balance"] == 9956.0


async def test_market_sell_fills_at_bid_minus_slippage_and_closes_at_ask_plus_slippage(
    desk: Desk,
) -> None:
    """SELL 0.5 at 1.10050 - 0.00005 = 1.10045; a bar later (C 1.10100) it buys back at
    1.10100 + 0.00020 + 0.00005 = 1.10125: (1.10045 - 1.10125) x 0.5 x 100,000 = -40.00."""
    await desk.open([OPENER, ("1.10050", "1.10110", "1.10040", "1.10100"), FLAT])
    pos = await desk.sell(volume=0.5)
    assert pos["open_price"] == 1.10045
    await desk.step()
    closed = await desk.call("POST", f"/positions/{pos['id']}/close")
    assert (closed["close_price"], closed["close_ts"], closed["profit"]) == (
        1.10125,
        ts(1),
        -40.0,
    )


# --- stop-loss and take-profit ---


async def test_buy_take_profit_fills_at_its_level_without_slippage(desk: Desk) -> None:
    """TP 1.10200 reached by bar 2's bid high (open below it): filled at 1.10200 on bar 2:
    (1.10200 - 1.10075) x 100,000 = 125.00."""
    await desk.open(
        [
            OPENER,
            ("1.10100", "1.10150", "1.10050", "1.10120"),
            ("1.10150", "1.10250", "1.10100", "1.10200"),
            FLAT,
        ]
    )
    pos = await desk.buy(volume=1.0, stop_loss=1.098, take_profit=1.102)
    await desk.step(3)
    got = await desk.position(pos["id"])
    assert (got["status"], got["close_reason"], got["close_price"], got["close_ts"]) == (
        "CLOSED",
        "TAKE_PROFIT",
        1.102,
        ts(2),
    )
    assert (got["profit"], got["ambiguous"]) == (125.0, False)
    assert (await desk.ledger())[2] == ("PROFIT", 125.0, 10118.0, ts(2), pos["id"])


async def test_buy_stop_loss_gapped_past_fills_at_the_open(desk: Desk) -> None:
    """Bar 1 opens at 1.09700, below the SL 1.09800: filled at the open, 1.09700:
    (1.09700 - 1.10075) x 100,000 = -375.00."""
    await desk.open([OPENER, ("1.09700", "1.09750", "1.09600", "1.09700"), FLAT])
    pos = await desk.buy(volume=1.0, stop_loss=1.098, take_profit=1.102)
    await desk.step()
    got = await desk.position(pos["id"])
    assert (got["close_reason"], got["close_price"], got["profit"], got["ambiguous"]) == (
        "STOP_LOSS",
        1.097,
        -375.0,
        False,
    )


async def test_sell_stop_loss_is_checked_against_the_ask(desk: Desk) -> None:
    """SELL at 1.10045 with SL 1.10200: bar 1's bid high 1.10190 stays below the SL, but its
    ask high 1.10210 reaches it: filled at 1.10200, (1.10045 - 1.10200) x 100,000 = -155.00."""
    await desk.open([OPENER, ("1.10000", "1.10190", "1.09950", "1.10100"), FLAT])
    pos = await desk.sell(volume=1.0, stop_loss=1.102, take_profit=1.099)
    await desk.step()
    got = await desk.position(pos["id"])
    assert (got["close_reason"], got["close_price"], got["close_ts"], got["profit"]) == (
        "STOP_LOSS",
        1.102,
        ts(1),
        -155.0,
    )


async def test_sell_take_profit_is_checked_against_the_ask(desk: Desk) -> None:
    """TP 1.09900: bar 1's bid low 1.09890 is below it but its ask low 1.09910 is not (no
    fill); bar 2's ask low 1.09890 is: filled at 1.09900, (1.10045 - 1.09900) x 100,000."""
    await desk.open(
        [
            OPENER,
            ("1.10000", "1.10010", "1.09890", "1.10000"),
            ("1.10000", "1.10010", "1.09870", "1.10000"),
            FLAT,
        ]
    )
    pos = await desk.sell(volume=1.0, stop_loss=1.102, take_profit=1.099)
    await desk.step()
    assert (await desk.position(pos["id"]))["status"] == "OPEN"
    await desk.step()
    got = await desk.position(pos["id"])
    assert (got["close_reason"], got["close_price"], got["close_ts"], got["profit"]) == (
        "TAKE_PROFIT",
        1.099,
        ts(2),
        145.0,
    )


async def test_one_base_bar_reaching_both_levels_takes_the_stop_loss_and_is_ambiguous(
    desk: Desk,
) -> None:
    """Bar 1 (open between the levels) reaches TP 1.10200 and SL 1.09800: the SL is taken at
    its level and the position is flagged ambiguous: (1.09800 - 1.10075) x 100,000."""
    await desk.open([OPENER, ("1.10000", "1.10300", "1.09700", "1.10000"), FLAT])
    pos = await desk.buy(volume=1.0, stop_loss=1.098, take_profit=1.102)
    await desk.step()
    got = await desk.position(pos["id"])
    assert (got["close_reason"], got["close_price"], got["profit"], got["ambiguous"]) == (
        "STOP_LOSS",
        1.098,
        -275.0,
        True,
    )


def _hour(special: dict[int, tuple[str, str, str, str]]) -> list[tuple[str, str, str, str]]:
    rows = [FLAT] * 120
    rows[59] = ("1.10000", "1.10060", "1.09990", "1.10050")  # H1 bar 0 closes at 1.10050
    for i, row in special.items():
        rows[i] = row
    return rows


@pytest.mark.parametrize(
    ("special", "reason", "price", "minute", "profit"),
    [
        # TP at 01:03, SL at 01:10: the H1 bar reaches both, its M1 bars say TP came first.
        (
            {
                63: ("1.10000", "1.10250", "1.09990", "1.10000"),
                70: ("1.10000", "1.10010", "1.09700", "1.10000"),
            },
            "TAKE_PROFIT",
            1.102,
            63,
            125.0,
        ),
        # The other way round: SL first, at 01:05.
        (
            {
                65: ("1.10000", "1.10010", "1.09700", "1.10000"),
                70: ("1.10000", "1.10250", "1.09990", "1.10000"),
            },
            "STOP_LOSS",
            1.098,
            65,
            -275.0,
        ),
    ],
)
async def test_an_h1_bar_reaching_both_levels_is_decided_by_its_m1_bars(
    desk: Desk,
    special: dict[int, tuple[str, str, str, str]],
    reason: str,
    price: float,
    minute: int,
    profit: float,
) -> None:
    """Intrabar resolution: an H1 session over M1 data checks the levels on the M1 bars in
    time order, so the fill is whichever level an M1 bar reached first, not ambiguous."""
    await desk.open(_hour(special), timeframe="H1")
    pos = await desk.buy(volume=1.0, stop_loss=1.098, take_profit=1.102)
    assert pos["open_price"] == 1.10075  # the H1 bar's close 1.10050 + 0.00025
    stepped = await desk.step()
    assert stepped["current_ts"] == ts(1, timedelta(hours=1))
    got = await desk.position(pos["id"])
    assert (got["close_reason"], got["close_price"], got["close_ts"]) == (reason, price, ts(minute))
    assert (got["profit"], got["ambiguous"]) == (profit, False)


# --- pending orders ---


async def test_buy_limit_fills_at_its_price_on_the_ask(desk: Desk) -> None:
    """BUY LIMIT 1.10000 (ask now 1.10070): bar 1's ask low 1.10010 does not reach it; bar 2
    opens on the ask at 1.10020 and its ask low 1.09990 does: filled at 1.10000 on bar 2."""
    await desk.open(
        [
            OPENER,
            ("1.10050", "1.10060", "1.09990", "1.10000"),
            ("1.10000", "1.10010", "1.09970", "1.09990"),
            FLAT,
        ]
    )
    order = await desk.order(type="LIMIT", side="BUY", volume=1.0, price=1.1, take_profit=1.103)
    assert (order["status"], order["placed_ts"], order["position_id"]) == ("PENDING", ts(0), None)
    await desk.step()
    assert (await desk.call("GET", f"/orders/{order['id']}"))["status"] == "PENDING"
    await desk.step()
    filled = await desk.call("GET", f"/orders/{order['id']}")
    assert (filled["status"], filled["filled_price"], filled["filled_ts"]) == (
        "FILLED",
        1.1,
        ts(2),
    )
    pos = await desk.position(filled["position_id"])
    assert (pos["side"], pos["open_price"], pos["open_ts"], pos["take_profit"]) == (
        "BUY",
        1.1,
        ts(2),
        1.103,
    )
    assert (pos["order_id"], pos["commission"]) == (order["id"], 7.0)
    assert (await desk.ledger())[1] == ("COMMISSION", -7.0, 9993.0, ts(2), pos["id"])


async def test_buy_limit_gapped_past_fills_at_the_better_ask_open(desk: Desk) -> None:
    """Bar 1 opens at bid 1.09900, ask 1.09920, below the BUY LIMIT 1.10000: filled at
    1.09920 (in the trader's favour)."""
    await desk.open([OPENER, ("1.09900", "1.09950", "1.09850", "1.09900"), FLAT])
    order = await desk.order(type="LIMIT", side="BUY", volume=1.0, price=1.1)
    await desk.step()
    filled = await desk.call("GET", f"/orders/{order['id']}")
    assert (filled["status"], filled["filled_price"]) == ("FILLED", 1.0992)


@pytest.mark.parametrize(
    ("bar1", "price"),
    [
        (("1.10000", "1.10010", "1.09850", "1.09900"), 1.099),  # reached inside: at the price
        (("1.09800", "1.09850", "1.09750", "1.09800"), 1.098),  # gapped through: at the open
    ],
)
async def test_sell_stop_fills_at_its_price_or_the_worse_open(
    desk: Desk, bar1: tuple[str, str, str, str], price: float
) -> None:
    """SELL STOP 1.09900 (bid now 1.10050) on the bid: at the price when bar 1 reaches it,
    at bar 1's open when it opens below it (against the trader)."""
    await desk.open([OPENER, bar1, FLAT])
    order = await desk.order(type="STOP", side="SELL", volume=1.0, price=1.099)
    await desk.step()
    filled = await desk.call("GET", f"/orders/{order['id']}")
    assert (filled["status"], filled["filled_price"], filled["filled_ts"]) == (
        "FILLED",
        price,
        ts(1),
    )


async def test_an_order_whose_margin_no_longer_fits_when_it_triggers_is_rejected(
    kit: Any, desk: Desk
) -> None:
    """Balance 1,000: a BUY LIMIT 0.8 at 1.10000 needs 880.00 (fits now); a market BUY 0.1
    then uses 110.08 (110.075 half up) and 7.00. When the order triggers (bid 1.09980) the
    free margin is 993 + (1.09980 - 1.10075) x 10,000 - 110.08 = 873.42 < 880: REJECTED,
    no position, no ledger row."""
    await desk.open(
        [
            OPENER,
            ("1.10050", "1.10060", "1.10040", "1.10050"),
            ("1.10000", "1.10010", "1.09970", "1.09990"),
            FLAT,
        ],
        initial_balance=1000,
    )
    order = await desk.order(type="LIMIT", side="BUY", volume=0.8, price=1.1)
    pos = await desk.buy(volume=0.1)
    assert pos["margin"] == 110.08
    await desk.step(2)
    got = await desk.call("GET", f"/orders/{order['id']}")
    assert (got["status"], got["reason"], got["position_id"], got["closed_ts"]) == (
        "REJECTED",
        "MARGIN",
        None,
        ts(2),
    )
    listed = await desk.call("GET", f"/sessions/{desk.sid}/positions")
    assert listed["total"] == 1
    assert [r[0] for r in await desk.ledger()] == ["DEPOSIT", "COMMISSION"]


async def test_cancel_answers_200_with_the_cancelled_order(desk: Desk) -> None:
    await desk.open([OPENER, ("1.09900", "1.09950", "1.09850", "1.09900"), FLAT])
    order = await desk.order(type="LIMIT", side="BUY", volume=1.0, price=1.1)
    cancelled = await desk.call("DELETE", f"/orders/{order['id']}")
    assert (cancelled["status"], cancelled["reason"], cancelled["closed_ts"]) == (
        "CANCELLED",
        "MANUAL",
        ts(0),
    )
    await desk.step()  # would have filled at the gapped open
    assert (await desk.call("GET", f"/orders/{order['id']}"))["status"] == "CANCELLED"
    await desk.call("DELETE", f"/orders/{order['id']}", expect=400)
    listed = await desk.call("GET", f"/sessions/{desk.sid}/orders?status=CANCELLED")
    assert (listed["total"], listed["page"], listed["limit"]) == (1, 1, 20)


# --- stop-out and the session's end ---


async def test_stop_out_at_the_first_base_bar_below_50_percent_at_its_adverse_extreme(
    desk: Desk,
) -> None:
    """Balance 1,000, leverage 500: BUY 1.0 at 1.10075 uses 220.15; balance 993. Equity at a
    bid x is 993 + (x - 1.10075) x 100,000; half the margin is 110.075. Bar 1's low 1.09193
    leaves 111.00 (kept); bar 2's low 1.09192 leaves 110.00: stopped out at that extreme as a
    market close, 1.09192 - 0.00005 = 1.09187: P&L -888.00; balance 993 - 888 - 7 = 98."""
    await desk.open(
        [
            OPENER,
            ("1.09500", "1.09510", "1.09193", "1.09300"),
            ("1.09300", "1.09310", "1.09192", "1.09250"),
            FLAT,
        ],
        initial_balance=1000,
        leverage=500,
    )
    pos = await desk.buy(volume=1.0)
    assert pos["margin"] == 220.15
    await desk.step()
    assert (await desk.position(pos["id"]))["status"] == "OPEN"
    await desk.step()
    got = await desk.position(pos["id"])
    assert (got["close_reason"], got["close_price"], got["close_ts"], got["profit"]) == (
        "STOP_OUT",
        1.09187,
        ts(2),
        -888.0,
    )
    assert (await desk.account())["balance"] == 98.0


async def test_the_session_end_closes_at_the_last_bar_close_and_cancels_orders(desk: Desk) -> None:
    """end_ts on bar 2: stepping past it completes the session; the BUY closes as a market
    close at bar 2's close 1.10100 - 0.00005 = 1.10095 (SESSION_END), the order is
    cancelled: (1.10095 - 1.10075) x 100,000 = 20.00."""
    await desk.open(
        [OPENER, FLAT, ("1.10000", "1.10110", "1.09990", "1.10100"), FLAT, FLAT],
        end_ts=ts(2),
    )
    pos = await desk.buy(volume=1.0)
    order = await desk.order(type="LIMIT", side="BUY", volume=1.0, price=1.095)
    done = await desk.step(5)
    assert (done["session_status"], done["current_ts"]) == ("COMPLETED", ts(2))
    got = await desk.position(pos["id"])
    assert (got["close_reason"], got["close_price"], got["close_ts"], got["profit"]) == (
        "SESSION_END",
        1.10095,
        ts(2),
        20.0,
    )
    got_order = await desk.call("GET", f"/orders/{order['id']}")
    assert (got_order["status"], got_order["reason"]) == ("CANCELLED", "SESSION_END")
    assert (await desk.account())["balance"] == 10000 - 7 + 20 - 7


async def test_stop_closes_every_position_at_session_end(desk: Desk) -> None:
    """`stop` from PAUSED: the SELL buys back at 1.10050 + 0.00025 = 1.10075 on the current
    bar: (1.10045 - 1.10075) x 100,000 = -30.00."""
    await desk.open([OPENER, FLAT])
    pos = await desk.sell(volume=1.0)
    await desk.call("POST", f"/sessions/{desk.sid}/stop")
    got = await desk.position(pos["id"])
    assert (got["close_reason"], got["close_price"], got["profit"]) == (
        "SESSION_END",
        1.10075,
        -30.0,
    )


# --- partial close, sizing by risk ---


async def test_partial_close_splits_off_a_closed_position(desk: Desk) -> None:
    """Close 0.4 of 1.0: a new CLOSED position (parent_id = the original, same open price
    and time, its own close commission), P&L (1.10045 - 1.10075) x 0.4 x 100,000 = -12.00;
    the original keeps its id with 0.6 and margin 0.6 x 100,000 x 1.10075 / 100 = 660.45."""
    await desk.open([OPENER, FLAT])
    pos = await desk.buy(volume=1.0)
    rest = await desk.call("POST", f"/positions/{pos['id']}/close", {"volume": 0.4})
    assert (rest["id"], rest["status"], rest["volume"], rest["margin"], rest["commission"]) == (
        pos["id"],
        "OPEN",
        0.6,
        660.45,
        7.0,
    )
    closed = (await desk.call("GET", f"/sessions/{desk.sid}/positions?status=CLOSED"))["positions"]
    assert len(closed) == 1
    part = closed[0]
    assert (part["parent_id"], part["volume"], part["open_price"], part["open_ts"]) == (
        pos["id"],
        0.4,
        1.10075,
        ts(0),
    )
    assert (part["close_price"], part["profit"], part["commission"], part["close_reason"]) == (
        1.10045,
        -12.0,
        7.0,
        "MANUAL",
    )
    assert (await desk.ledger())[2:] == [
        ("PROFIT", -12.0, 9981.0, ts(0), part["id"]),
        ("COMMISSION", -7.0, 9974.0, ts(0), part["id"]),
    ]
    # Each fill's commission belongs to one position: 7 + 7 = -(-7 - 7).
    everything = (await desk.call("GET", f"/sessions/{desk.sid}/positions"))["positions"]
    commissions = sum(r[1] for r in await desk.ledger() if r[0] == "COMMISSION")
    assert sum(p["commission"] for p in everything) == -commissions == 14.0
    await desk.call(
        "POST", f"/positions/{pos['id']}/close", {"volume": 0.005}, expect=422
    )  # off the step
    await desk.call("POST", f"/positions/{pos['id']}/close", {"volume": 0.7}, expect=422)


async def test_risk_pct_sizes_the_largest_volume_whose_loss_at_the_stop_fits(desk: Desk) -> None:
    """1 % of 10,000 = 100; the BUY enters at 1.10075, SL 1.09500: 0.00575 a unit, 5.75 per
    0.01 lot, plus 2 x 7 commission. 0.14 lots lose 80.50 + 14 = 94.50 <= 100; 0.15 would
    lose 100.25. A risk that cannot cover the minimum volume is 422."""
    await desk.open([OPENER, FLAT])
    pos = await desk.buy(risk_pct=1, stop_loss=1.095)
    assert pos["volume"] == 0.14
    await desk.buy(risk_pct=0.1, stop_loss=1.095, expect=422)  # 10 < 14 of commissions alone
    await desk.buy(risk_pct=1, expect=422)  # needs a stop_loss
    await desk.buy(risk_pct=1, volume=0.1, stop_loss=1.095, expect=422)  # one or the other
    order = await desk.order(type="LIMIT", side="SELL", risk_pct=1, price=1.102, stop_loss=1.1074)
    # Entry 1.10200, stop 1.10740: 5.40 per 0.01 lot; floor(86 / 5.40) = 15 lots of 0.01.
    assert order["volume"] == 0.15


# --- refusals: 422, 400, 403 ---


@pytest.mark.parametrize(
    "body",
    [
        {"side": "BUY", "volume": 0.015},  # off the 0.01 step
        {"side": "BUY", "volume": 0},
        {"side": "BUY", "volume": 100.01},  # above max_volume
        {"side": "BUY", "volume": 0.001},  # below min_volume
        {"side": "BUY", "volume": 1, "stop_loss": 1.1005},  # SL not below the bid 1.10050
        {"side": "BUY", "volume": 1, "take_profit": 1.1005},  # TP not above the bid
        {"side": "SELL", "volume": 1, "stop_loss": 1.1007},  # SL not above the ask 1.10070
        {"side": "SELL", "volume": 1, "take_profit": 1.1007},  # TP not below the ask
        {"side": "BUY", "volume": 1, "stop_loss": 1.099995},  # not a multiple of the point
        {"side": "BUY", "volume": "1"},  # a string, not a number
        {"side": "HOLD", "volume": 1},
        {"side": "BUY", "volume": 1, "extra": 1},
        {"side": "BUY", "volume": 10},  # margin 11,007.50 > free margin 10,000
    ],
)
async def test_a_bad_position_is_422_and_changes_nothing(desk: Desk, body: dict[str, Any]) -> None:
    await desk.open([OPENER, FLAT])
    await desk.call("POST", f"/sessions/{desk.sid}/positions", body, expect=422)
    assert (await desk.call("GET", f"/sessions/{desk.sid}/positions"))["total"] == 0
    assert [r[0] for r in await desk.ledger()] == ["DEPOSIT"]


@pytest.mark.parametrize(
    "body",
    [
        {"type": "LIMIT", "side": "BUY", "volume": 1, "price": 1.1008},  # above the ask 1.10070
        {"type": "STOP", "side": "BUY", "volume": 1, "price": 1.1006},  # below the ask
        {"type": "LIMIT", "side": "SELL", "volume": 1, "price": 1.1004},  # below the bid
        {"type": "STOP", "side": "SELL", "volume": 1, "price": 1.1006},  # above the bid
        {"type": "LIMIT", "side": "BUY", "volume": 1, "price": 1.1, "stop_loss": 1.1},
        {"type": "LIMIT", "side": "BUY", "volume": 1, "price": 1.1, "take_profit": 1.099},
        {"type": "MARKET", "side": "BUY", "volume": 1, "price": 1.1},
        {"type": "LIMIT", "side": "BUY", "volume": 10, "price": 1.1},  # margin 11,000 > 10,000
    ],
)
async def test_a_bad_order_is_422(desk: Desk, body: dict[str, Any]) -> None:
    await desk.open([OPENER, FLAT])
    await desk.call("POST", f"/sessions/{desk.sid}/orders", body, expect=422)
    assert (await desk.call("GET", f"/sessions/{desk.sid}/orders"))["total"] == 0


async def test_patch_moves_and_removes_levels_and_refuses_the_wrong_side(desk: Desk) -> None:
    await desk.open([OPENER, ("1.10000", "1.10300", "1.09700", "1.10000"), FLAT])
    pos = await desk.buy(volume=1.0, stop_loss=1.098, take_profit=1.102)
    url = f"/positions/{pos['id']}"
    await desk.call("PATCH", url, {"stop_loss": 1.1006}, expect=422)  # above the bid
    moved = await desk.call("PATCH", url, {"stop_loss": None})
    assert (moved["stop_loss"], moved["take_profit"]) == (None, 1.102)
    await desk.step()  # the bar reaches 1.10300: only the TP is left, not ambiguous
    got = await desk.position(pos["id"])
    assert (got["close_reason"], got["close_price"], got["ambiguous"]) == (
        "TAKE_PROFIT",
        1.102,
        False,
    )
    await desk.call("PATCH", url, {"take_profit": 1.2}, expect=400)  # closed
    await desk.call("POST", f"{url}/close", expect=400)


async def test_trading_outside_running_or_paused_is_400(kit: Any, desk: Desk) -> None:
    iid = await kit.instrument()
    await kit.ohlc(iid, T0, [OPENER, FLAT])
    draft = (await kit.session(iid, end_ts=None))["id"]
    await desk.call("POST", f"/sessions/{draft}/positions", {"side": "BUY", "volume": 1}, 400)
    body = {"type": "LIMIT", "side": "BUY", "volume": 1, "price": 1.1}
    await desk.call("POST", f"/sessions/{draft}/orders", body, 400)
    await desk.call("POST", f"/sessions/{draft}/start")
    await desk.call("POST", f"/sessions/{draft}/stop")
    await desk.call("POST", f"/sessions/{draft}/positions", {"side": "BUY", "volume": 1}, 400)


async def test_another_users_positions_orders_and_ledger_are_403(
    desk: Desk, client: httpx.AsyncClient, kit: Any
) -> None:
    await desk.open([OPENER, FLAT])
    pos = await desk.buy(volume=1.0)
    order = await desk.order(type="LIMIT", side="BUY", volume=1, price=1.1)
    other = kit.tokens.headers(2)
    for method, url in [
        ("GET", f"/sessions/{desk.sid}/positions"),
        ("POST", f"/sessions/{desk.sid}/positions"),
        ("GET", f"/sessions/{desk.sid}/orders"),
        ("GET", f"/sessions/{desk.sid}/transactions"),
        ("GET", f"/sessions/{desk.sid}/account"),
        ("GET", f"/positions/{pos['id']}"),
        ("PATCH", f"/positions/{pos['id']}"),
        ("POST", f"/positions/{pos['id']}/close"),
        ("GET", f"/orders/{order['id']}"),
        ("DELETE", f"/orders/{order['id']}"),
    ]:
        json = {} if method in ("PATCH",) else None
        if method == "POST" and url.endswith("positions"):
            json = {"side": "BUY", "volume": 1}
        resp = await client.request(method, url, json=json, headers=other)
        assert resp.status_code == 403, (method, url, resp.text)
        assert (await client.request(method, url, json=json)).status_code == 401
    assert (await client.get(f"/positions/{pos['id']}", headers=kit.admin)).status_code == 200
    for url in ("/positions/999999", "/orders/999999", "/sessions/999999/positions"):
        assert (await client.get(url, headers=desk.h)).status_code == 404


# --- step until fill, the ledger identity, idempotency ---


async def test_step_until_fill_stops_on_the_bar_of_the_fill(desk: Desk) -> None:
    """The TP 1.10200 is first reached on bar 5: "until fill" reveals up to bar 5 and the
    session stays PAUSED; the next "until fill" (nothing left to fill) runs to the end."""
    rows = [OPENER] + [FLAT] * 4 + [("1.10000", "1.10250", "1.09990", "1.10000")] + [FLAT] * 4
    await desk.open(rows)
    pos = await desk.buy(volume=1.0, take_profit=1.102)
    stopped = await desk.call("POST", f"/sessions/{desk.sid}/step", {"until": "fill"})
    assert (stopped["session_status"], stopped["current_ts"]) == ("PAUSED", ts(5))
    got = await desk.position(pos["id"])
    assert (got["close_reason"], got["close_ts"]) == ("TAKE_PROFIT", ts(5))
    done = await desk.call("POST", f"/sessions/{desk.sid}/step", {"until": "fill"})
    assert (done["session_status"], done["current_ts"]) == ("COMPLETED", ts(9))


async def test_the_ledger_sums_to_the_balance_after_every_request(desk: Desk) -> None:
    """Σ amount = balance, and initial_balance + Σ of the rows after the DEPOSIT = balance."""
    await desk.open([OPENER] + [("1.10000", "1.10300", "1.09700", "1.10000")] * 3 + [FLAT] * 3)

    async def check() -> None:
        rows = await desk.ledger()
        balance = (await desk.account())["balance"]
        assert round(sum(r[1] for r in rows), 2) == balance
        assert round(10000 + sum(r[1] for r in rows[1:]), 2) == balance
        assert rows[-1][2] == balance

    await check()
    a = await desk.buy(volume=1.0, stop_loss=1.098)
    await check()
    await desk.sell(volume=0.3, take_profit=1.099)
    await check()
    await desk.call("POST", f"/positions/{a['id']}/close", {"volume": 0.5})
    await check()
    await desk.step(2)
    await check()
    await desk.call("POST", f"/sessions/{desk.sid}/stop")
    await check()
    assert (await desk.account())["open_positions"] == 0


async def test_idempotency_key_replays_the_first_position(
    desk: Desk, client: httpx.AsyncClient
) -> None:
    await desk.open([OPENER, FLAT])
    h = {**desk.h, "Idempotency-Key": "pos-1"}
    url = f"/sessions/{desk.sid}/positions"
    first = await client.post(url, json={"side": "BUY", "volume": 1}, headers=h)
    again = await client.post(url, json={"side": "BUY", "volume": 1}, headers=h)
    assert (first.status_code, again.status_code) == (201, 201)
    assert first.json() == again.json()
    other = await client.post(url, json={"side": "BUY", "volume": 2}, headers=h)
    assert other.status_code == 422
    assert (await desk.call("GET", url))["total"] == 1


async def test_a_reimport_of_unrevealed_bars_is_what_the_engine_trades_on(
    desk: Desk, client: httpx.AsyncClient, kit: Any
) -> None:
    """The engine plans its next event from the stored bars; an admin re-import that changes
    a bar not yet revealed (bar 3 now reaches the TP) is what the replay then fills on."""
    await desk.open([OPENER] + [FLAT] * 6)
    pos = await desk.buy(volume=1.0, take_profit=1.102)
    iid = (await desk.call("GET", f"/sessions/{desk.sid}"))["instrument_id"]
    csv = f"timestamp,open,high,low,close,volume\n{ts(3)},1.10000,1.10250,1.09990,1.10000,1\n"
    resp = await client.post(
        f"/instruments/{iid}/candles",
        content=csv,
        headers={**kit.admin, "Content-Type": "text/csv"},
    )
    assert resp.status_code == 200, resp.text
    await desk.step(5)
    got = await desk.position(pos["id"])
    assert (got["close_reason"], got["close_price"], got["close_ts"]) == (
        "TAKE_PROFIT",
        1.102,
        ts(3),
    )


@pytest.mark.parametrize(
    ("url", "raw"),
    [
        ("positions", b'{"side": "BUY", "volume": NaN}'),
        ("positions", b'{"side": "BUY", "volume": Infinity}'),
        ("positions", b'{"side": "BUY", "volume": 1e308}'),
        ("positions", b'{"side": "BUY", "volume": 1e-30}'),
        ("positions", b'{"side": "BUY", "risk_pct": 1e-30, "stop_loss": 1.09}'),
        ("positions", b'{"side": "BUY", "volume": 1, "stop_loss": -1}'),
        ("positions", b'{"side": "BUY", "volume": 1, "take_profit": 1e400}'),
        ("positions", b'{"side": "BUY\\u0000", "volume": 1}'),
        ("positions", b'{"side": "BUY", "volume": true}'),
        ("positions", b"[]"),
        ("positions", b'{"side": "BUY", "volume": 1'),
        ("orders", b'{"type": "LIMIT", "side": "BUY", "volume": 1, "price": NaN}'),
        ("orders", b'{"type": "LIMIT", "side": "BUY", "volume": 1, "price": 0}'),
        ("orders", b'{"type": "LIMIT", "side": "BUY", "volume": 1, "price": 1e9}'),
        ("orders", b'{"type": "LIMIT", "side": "BUY", "volume": 1, "price": "1.1"}'),
    ],
)
async def test_hostile_bodies_are_a_clean_4xx_and_change_nothing(
    desk: Desk, client: httpx.AsyncClient, url: str, raw: bytes
) -> None:
    await desk.open([OPENER, FLAT])
    resp = await client.post(
        f"/sessions/{desk.sid}/{url}",
        content=raw,
        headers={**desk.h, "Content-Type": "application/json"},
    )
    assert resp.status_code in (400, 422), resp.text
    assert "detail" in resp.json()
    assert (await desk.call("GET", f"/sessions/{desk.sid}/positions"))["total"] == 0
    assert (await desk.call("GET", f"/sessions/{desk.sid}/orders"))["total"] == 0
    assert [r[0] for r in await desk.ledger()] == ["DEPOSIT"]

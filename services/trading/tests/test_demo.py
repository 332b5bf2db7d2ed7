"""Demo data (trading issue item 3): seeded on the first start only, deterministic, with
weekend closes, through the import's bulk path, so a new user can replay at once."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from devstack.testing import TokenFactory
from trading_service.candles.importer import HEADER, parse_csv
from trading_service.demo import DEMO_END, DEMO_START, INSTRUMENTS, generate, market_open, seed
from trading_service.timeframes import Timeframe


def test_market_hours_close_friday_22_to_sunday_22_utc() -> None:
    fri = datetime(2025, 12, 19, 21, 59, tzinfo=UTC)
    assert market_open(fri)
    assert not market_open(fri + timedelta(minutes=1))  # Friday 22:00
    assert not market_open(datetime(2025, 12, 20, 12, 0, tzinfo=UTC))  # Saturday
    assert not market_open(datetime(2025, 12, 21, 21, 59, tzinfo=UTC))  # Sunday before 22:00
    assert market_open(datetime(2025, 12, 21, 22, 0, tzinfo=UTC))
    assert not market_open(datetime(2025, 12, 25, 12, 0, tzinfo=UTC))  # Christmas
    assert not market_open(datetime(2024, 1, 1, 12, 0, tzinfo=UTC))  # New Year, a Monday
    assert market_open(datetime(2024, 1, 2, 0, 0, tzinfo=UTC))


def test_generator_is_deterministic_valid_and_closed_on_weekends() -> None:
    spec = INSTRUMENTS[0]
    start = DEMO_END - timedelta(days=15)
    a = generate(spec, start, DEMO_END)
    b = generate(spec, start, DEMO_END)
    lines = a.csv_lines()
    assert lines == b.csv_lines() and a.count == len(lines)
    # 15 days hold two weekends and Christmas: far fewer bars than minutes.
    assert 8000 < a.count < 15 * 1440
    # Every generated bar passes the import's own validation (grid, OHLC, no duplicates),
    # and prices carry the instrument's digits.
    parsed = parse_csv((",".join(HEADER) + "\n" + "".join(lines)).encode(), Timeframe.M1)
    assert parsed.errors == [] and parsed.count == a.count
    assert parsed.csv_lines() == lines
    assert all(len(line.split(",")[1].split(".")[1]) == spec.digits for line in lines)
    times = [datetime.fromisoformat(line.split(",", 1)[0]) for line in lines]
    assert all(market_open(t) for t in times)
    assert times == sorted(times)
    # Gaps exist beyond the closes (missing minutes when nothing traded).
    steps = {b - a for a, b in itertools.pairwise(times)}
    assert timedelta(minutes=2) in steps


async def test_seed_runs_once_and_a_new_user_can_read_bars_at_once(
    trading_db_url: str, client: httpx.AsyncClient, tokens: TokenFactory, trading_app: Any
) -> None:
    said: list[str] = []
    assert await seed(trading_db_url, days=8, say=said.append) is True
    assert any("EURUSD" in line for line in said)
    listing = (await client.get("/instruments", headers=tokens.headers(7))).json()
    symbols = {i["symbol"]: i for i in listing["instruments"]}
    assert set(symbols) == {"EURUSD", "GBPUSD", "XAUUSD"}
    assert symbols["EURUSD"]["digits"] == 5 and symbols["EURUSD"]["contract_size"] == 100000
    assert symbols["EURUSD"]["min_volume"] == 0.01 and symbols["EURUSD"]["max_volume"] == 100
    assert symbols["XAUUSD"]["digits"] == 2 and symbols["XAUUSD"]["contract_size"] == 100

    async with trading_app.state.db.engine.connect() as conn:
        counts = dict(
            (
                await conn.execute(
                    text(
                        "SELECT timeframe, count(*) FROM candles "
                        "WHERE instrument_id = :i GROUP BY timeframe"
                    ),
                    {"i": symbols["EURUSD"]["id"]},
                )
            ).all()
        )
        weekend = (
            await conn.execute(
                text(
                    "SELECT count(*) FROM candles WHERE timeframe = 'M1' AND ("
                    "extract(isodow FROM ts) = 6 OR (extract(isodow FROM ts) = 5 "
                    "AND extract(hour FROM ts) >= 22) OR (extract(isodow FROM ts) = 7 "
                    "AND extract(hour FROM ts) < 22))"
                )
            )
        ).scalar_one()
    assert set(counts) == {tf.value for tf in Timeframe}
    assert counts["M1"] > 5 * 1300 and counts["D1"] >= 6
    assert weekend == 0

    said.clear()
    assert await seed(trading_db_url, days=8, say=said.append) is False
    assert "nothing to do" in said[0]
    again = (await client.get("/instruments", headers=tokens.headers(7))).json()
    assert again["total"] == 3


# Seed 000, POST /sessions: the example request body, verbatim but for the instrument's id.
SEED_000_SESSION = {
    "instrument_id": 1,
    "timeframe": "H1",
    "speed": "1x",
    "start_ts": "2024-01-01T00:00:00Z",
    "end_ts": "2024-01-31T23:59:59Z",
    "initial_balance": 10000.0,
    "leverage": 100,
    "spread_pts": 20,
    "slippage_pts": 5,
    "commission_per_fill": 7.0,
}


@pytest.mark.slow
async def test_seed_000_example_session_starts_on_the_full_demo_data(
    trading_db_url: str, client: httpx.AsyncClient, tokens: TokenFactory, trading_app: Any
) -> None:
    """The demo data `make run` seeds spans 2024-01-01 to the end of 2025, so seed 000's own
    example session (January 2024, H1) can be created and started as the seed shows it."""
    assert await seed(trading_db_url, say=lambda _: None) is True
    listing = (await client.get("/instruments", headers=tokens.headers(7))).json()
    ids = {i["symbol"]: i["id"] for i in listing["instruments"]}
    async with trading_app.state.db.engine.connect() as conn:
        first, last = (
            await conn.execute(
                text(
                    "SELECT min(ts), max(ts) FROM candles WHERE instrument_id = :i "
                    "AND timeframe = 'M1'"
                ),
                {"i": ids["EURUSD"]},
            )
        ).one()
    assert DEMO_START <= first < DEMO_START + timedelta(days=2)  # 2024-01-01 is a holiday
    assert DEMO_END - timedelta(minutes=1) == last

    headers = tokens.headers(7)
    body = {**SEED_000_SESSION, "instrument_id": ids["EURUSD"]}
    created = await client.post("/sessions", json=body, headers=headers)
    assert created.status_code == 201, created.text
    session_id = created.json()["id"]
    started = await client.post(f"/sessions/{session_id}/start", headers=headers)
    assert started.status_code == 200, started.text
    assert started.json()["session_status"] == "RUNNING"
    assert started.json()["current_ts"] == "2024-01-02T00:00:00Z"  # the first H1 bar

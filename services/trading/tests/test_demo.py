"""Demo data (trading issue item 3): seeded on the first start only, deterministic, with
weekend closes, through the import's bulk path, so a new user can replay at once."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import text

from devstack.testing import TokenFactory
from trading_service.candles.importer import HEADER, parse_csv
from trading_service.demo import DEMO_END, INSTRUMENTS, generate, market_open, seed
from trading_service.timeframes import Timeframe


def test_market_hours_close_friday_22_to_sunday_22_utc() -> None:
    fri = datetime(2025, 12, 19, 21, 59, tzinfo=UTC)
    assert market_open(fri)
    assert not market_open(fri + timedelta(minutes=1))  # Friday 22:00
    assert not market_open(datetime(2025, 12, 20, 12, 0, tzinfo=UTC))  # Saturday
    assert not market_open(datetime(2025, 12, 21, 21, 59, tzinfo=UTC))  # Sunday before 22:00
    assert market_open(datetime(2025, 12, 21, 22, 0, tzinfo=UTC))
    assert not market_open(datetime(2025, 12, 25, 12, 0, tzinfo=UTC))  # Christmas


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


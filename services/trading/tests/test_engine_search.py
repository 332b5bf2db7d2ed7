"""The engine's search for the next event skips through stored D1 and H1 aggregates: it must
find exactly the base bar a plain scan of every base bar finds."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from trading_service.candles import repository as candles_repo
from trading_service.timeframes import Timeframe

T0 = datetime(2024, 1, 1, tzinfo=UTC)
MIN = timedelta(minutes=1)


@pytest.mark.in_process_only  # calls the candle store directly
async def test_skipping_search_finds_the_same_bar_as_a_plain_scan(
    kit: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(20261201)
    iid = await kit.instrument()
    rows, price = [], 110_000
    minute = 0
    while minute < 4 * 1440:  # four days of M1 with gaps (missing minutes, a quiet night)
        minute += 1 if rng.random() > 0.05 else rng.randint(2, 90)
        o = price + rng.randint(-3, 3)
        c = o + rng.randint(-8, 8)
        h, lo = max(o, c) + rng.randint(0, 6), min(o, c) - rng.randint(0, 6)
        price = c
        rows.append(
            {
                "ts": T0 + minute * MIN,
                **{k: Decimal(v) / 100_000 for k, v in zip("ohlc", (o, h, lo, c), strict=True)},
                "v": 1,
            }
        )
    await kit.store(iid, rows)
    highs = [r["h"] for r in rows]
    lows = [r["l"] for r in rows]
    cases = 0
    async with kit.app.state.db.sessionmaker() as s:
        for _ in range(60):
            start = T0 + rng.randint(0, 3 * 1440) * MIN + timedelta(seconds=rng.choice([0, 0, 30]))
            end = start + rng.randint(1, 3 * 1440) * MIN
            kind = rng.choice(["hi", "lo", "both", "stop_out_long", "stop_out_short"])
            hi = (
                rng.choice(highs) + Decimal(rng.randint(0, 3)) / 100_000
                if kind in ("hi", "both")
                else None
            )
            lo = (
                rng.choice(lows) - Decimal(rng.randint(0, 3)) / 100_000
                if kind in ("lo", "both")
                else None
            )
            stop_out = None
            if kind.startswith("stop_out"):
                # Equity = a + n x: stopped out when 2 (a + n x) < used, x below (long) or above
                # (short) a random price of the data.
                x = rng.choice(lows if kind.endswith("long") else highs)
                n = Decimal(100_000) if kind.endswith("long") else Decimal(-100_000)
                used = Decimal(1000)
                stop_out = (used / 2 - n * x, n, used)
            args = (s, iid, Timeframe.M1, start, end)
            kw: dict[str, Any] = {"high_at": hi, "low_at": lo, "stop_out": stop_out}
            skipping = await candles_repo.first_crossing(*args, **kw)
            with monkeypatch.context() as m:
                m.setattr(candles_repo, "_SKIP_LEVELS", ())
                plain = await candles_repo.first_crossing(*args, **kw)
            assert skipping == plain, (start, end, kind, hi, lo, stop_out)
            cases += plain is not None
    assert cases > 20  # most windows do hold a crossing: the comparison is not vacuous

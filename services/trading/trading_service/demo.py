"""Demo data for `make run`: real-looking instruments with M1 bars from 2024-01-01 to the end of
2025 each, seeded on the first start only (`python -m trading_service.demo`; a second run does
nothing).

The bars are synthetic, from a seeded numpy generator (the locked numpy version), so every
machine gets the same data:
geometric Brownian motion whose volatility drifts between calm and busy regimes, an intraday
pattern (quiet Asian hours, busy London/New York overlap), rare news jumps, missing minutes
when nothing traded, and the FX week: no bars from Friday 22:00 UTC to Sunday 22:00 UTC, with
a price gap over the weekend and the Christmas and New Year holidays closed. Prices are made
as integer ticks, so they are exact decimals of the instrument's digits. They are stored
through the import's bulk path (binary COPY of the bars and every timeframe's aggregates).

`TRADING_DEMO_BARS_DAYS` (or `seed(days=...)`) makes a shorter history ending at DEMO_END,
e.g. for tests.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import numpy as np
import numpy.typing as npt
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from servicekit.config import asyncpg_dsn
from servicekit.db import Database

from . import models  # noqa: F401  (every table registered)
from .candles import service as candles_service
from .candles.bulk import Bars, column
from .candles.importer import ParsedCandles
from .config import get_settings
from .instruments import repository as instruments_repo
from .instruments import service as instruments_service
from .instruments.schemas import InstrumentCreate
from .timeframes import Timeframe

# The history runs from New Year 2024 (seed 000's example session is January 2024) to the last
# Friday close before 2026: fixed, so the data is reproducible.
DEMO_START = datetime(2024, 1, 1, tzinfo=UTC)
DEMO_END = datetime(2025, 12, 26, 22, 0, tzinfo=UTC)
HOLIDAYS = frozenset({date(2024, 1, 1), date(2024, 12, 25), date(2025, 1, 1), date(2025, 12, 25)})
MINUTES_PER_YEAR = 260 * 24 * 60  # trading minutes in an FX year
_LOCK_KEY = 0x7472_6164_656D_6F  # "trademo": one seeder at a time


class DemoSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TRADING_DEMO_", extra="ignore")

    bars_days: int | None = None  # None: from DEMO_START


@dataclass(frozen=True)
class DemoInstrument:
    symbol: str
    description: str
    digits: int
    contract_size: Decimal
    min_volume: Decimal
    volume_step: Decimal
    max_volume: Decimal
    start_price: float
    annual_volatility: float
    ticks_per_minute: int
    seed: int


INSTRUMENTS: tuple[DemoInstrument, ...] = (
    DemoInstrument(
        "EURUSD", "Euro vs US Dollar", 5, Decimal(100000), Decimal("0.01"), Decimal("0.01"),
        Decimal(100), 1.0420, 0.075, 90, 1,
    ),
    DemoInstrument(
        "GBPUSD", "Great Britain Pound vs US Dollar", 5, Decimal(100000), Decimal("0.01"),
        Decimal("0.01"), Decimal(100), 1.2530, 0.085, 80, 2,
    ),
    DemoInstrument(
        "XAUUSD", "Gold vs US Dollar", 2, Decimal(100), Decimal("0.01"), Decimal("0.01"),
        Decimal(50), 2620.00, 0.160, 120, 3,
    ),
)  # fmt: skip

# Relative activity by UTC hour: Asia quiet, London open, London/New York overlap busiest.
ACTIVITY = (
    0.55, 0.5, 0.5, 0.5, 0.55, 0.6, 0.75, 1.1, 1.35, 1.3, 1.2, 1.15,
    1.35, 1.6, 1.7, 1.55, 1.3, 1.0, 0.85, 0.75, 0.65, 0.45, 0.4, 0.5,
)  # fmt: skip


def market_open(ts: datetime) -> bool:
    """FX hours: closed Friday 22:00 to Sunday 22:00 UTC, and on the listed holidays."""
    wd, h = ts.weekday(), ts.hour
    if wd == 5 or (wd == 4 and h >= 22) or (wd == 6 and h < 22):
        return False
    return ts.date() not in HOLIDAYS


def _open_minutes(start: datetime, end: datetime) -> npt.NDArray[np.int64]:
    """Unix seconds of the minutes in [start, end) when the market is open (see market_open)."""
    t = np.arange(int(start.timestamp()), int(end.timestamp()), 60, dtype=np.int64)
    day = t // 86400
    weekday, hour = (day + 3) % 7, t // 3600 % 24  # 1970-01-01 was a Thursday
    closed = (weekday == 5) | ((weekday == 4) & (hour >= 22)) | ((weekday == 6) & (hour < 22))
    holidays = [(d - date(1970, 1, 1)).days for d in HOLIDAYS]
    return t[~closed & ~np.isin(day, holidays)]


def generate(spec: DemoInstrument, start: datetime, end: datetime) -> ParsedCandles:
    """M1 bars with open times in [start, end), as a validated-by-construction import."""
    rng = np.random.default_rng(spec.seed)
    sigma = spec.annual_volatility / math.sqrt(MINUTES_PER_YEAR)
    k = 1 / (3 * 1440)  # the volatility regime reverts over about three trading days
    eta = 0.45 * math.sqrt(2 * k)  # stationary spread of the log-regime: about 0.45
    t = _open_minutes(start, end)
    n = len(t)
    activity = np.array(ACTIVITY)[t // 3600 % 24]
    shocks = (eta * rng.standard_normal(n)).tolist()
    log_regime = np.fromiter(
        itertools.accumulate(shocks, lambda x, e: x - k * x + e), dtype=np.float64, count=n
    )
    vol = sigma * activity * np.exp(log_regime)
    # The first bar after a weekend or holiday opens away from the last close.
    reopen = np.diff(t, prepend=t[:1]) > 60
    gaps = np.where(reopen, rng.normal(0.0, sigma * 25, n), 0.0)
    # A feed outage: a run of 3 to 25 missing minutes; quiet minutes trade less often.
    outage = np.zeros(n + 27, dtype=np.int64)
    starts = np.flatnonzero(rng.random(n) < 0.00004)
    np.add.at(outage, starts + 1, 1)
    np.add.at(outage, starts + 1 + rng.integers(3, 26, len(starts)), -1)
    traded = (np.cumsum(outage)[:n] == 0) & (rng.random(n) >= 0.03 * (1.6 - activity) / 1.6)
    ret = rng.normal(0.0, 1.0, n) * vol
    ret += np.where(rng.random(n) < 0.0002, rng.normal(0.0, sigma * 12, n), 0.0)  # news
    log_price = math.log(spec.start_price) + np.cumsum(np.where(traded, ret, 0.0) + gaps)
    ticks = 10.0**spec.digits
    close = np.maximum(np.rint(np.exp(log_price) * ticks).astype(np.int64), 2)[traded]
    # Each bar opens at the previous close (the last one before a gap, too).
    open_ = np.concatenate(([round(spec.start_price * ticks)], close[:-1]))
    wick = vol[traded] * open_
    high = np.rint(np.maximum(open_, close) + np.abs(rng.normal(0, 0.6, len(close))) * wick)
    low = np.rint(np.minimum(open_, close) - np.abs(rng.normal(0, 0.6, len(close))) * wick)
    high = np.maximum(high.astype(np.int64), np.maximum(open_, close))
    low = np.maximum(np.minimum(low.astype(np.int64), np.minimum(open_, close)), 1)
    volume = 1 + (
        spec.ticks_per_minute
        * (activity * np.exp(log_regime))[traded]
        * (0.4 + rng.random(len(close)))
    ).astype(np.int64)
    digits = np.full(len(close), spec.digits, dtype=np.uint8)
    return ParsedCandles.of(
        Bars(
            t[traded],
            column(open_, digits),
            column(high, digits),
            column(low, digits),
            column(close, digits),
            column(volume, np.zeros(len(close), dtype=np.uint8)),
        )
    )


async def _seed(
    s: AsyncSession, start: datetime, end: datetime, say: Callable[[str], None]
) -> bool:
    await s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
    if await instruments_repo.count(s) > 0:
        say("demo data: instruments already exist, nothing to do")
        return False
    for spec in INSTRUMENTS:
        began = time.perf_counter()
        instrument = await instruments_service.create(
            s,
            InstrumentCreate(
                symbol=spec.symbol,
                description=spec.description,
                digits=spec.digits,
                contract_size=spec.contract_size,
                min_volume=spec.min_volume,
                volume_step=spec.volume_step,
                max_volume=spec.max_volume,
                base_timeframe=Timeframe.M1,
            ),
        )
        bars = generate(spec, start, end)
        generated = time.perf_counter()
        result = await candles_service.store(s, instrument.id, bars, expected_tf=Timeframe.M1)
        say(
            f"demo data: {spec.symbol} id={instrument.id}: {result.imported} M1 bars "
            f"{result.first_ts:%Y-%m-%d %H:%M} .. {result.last_ts:%Y-%m-%d %H:%M} UTC, "
            f"aggregated to every timeframe (generated in {generated - began:.1f}s, "
            f"stored in {time.perf_counter() - generated:.1f}s)"
        )
    return True


async def seed(
    database_url: str | None = None,
    *,
    days: int | None = None,
    end: datetime = DEMO_END,
    say: Callable[[str], None] = print,
) -> bool:
    """Create the demo instruments and their bars unless any instrument exists; True if it did.

    One transaction: a failed run leaves nothing behind, and the next start tries again.
    """
    days = DemoSettings().bars_days if days is None else days
    if days is not None and days < 1:
        raise ValueError("days must be >= 1")
    start = DEMO_START if days is None else end - timedelta(days=days)
    url = asyncpg_dsn(database_url or get_settings().database_url)
    db = Database(url, pool_size=1, max_overflow=0)
    began = time.perf_counter()
    try:
        async with db.sessionmaker() as s, s.begin():
            created = await _seed(s, start, end, say)
    finally:
        await db.dispose()
    if created:
        say(f"demo data: done in {time.perf_counter() - began:.1f}s")
    return created


def main() -> None:
    asyncio.run(seed())


if __name__ == "__main__":
    main()

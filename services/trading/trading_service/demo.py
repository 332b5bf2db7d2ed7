"""Demo data for `make run`: real-looking instruments with a year of M1 bars each, seeded on
the first start only (`python -m trading_service.demo`; a second run does nothing).

The bars are synthetic, from a seeded generator, so every machine gets the same data:
geometric Brownian motion whose volatility drifts between calm and busy regimes, an intraday
pattern (quiet Asian hours, busy London/New York overlap), rare news jumps, missing minutes
when nothing traded, and the FX week: no bars from Friday 22:00 UTC to Sunday 22:00 UTC, with
a price gap over the weekend and the Christmas and New Year holidays closed. They are stored
through the import's bulk path (COPY, then aggregation to every timeframe).

`TRADING_DEMO_BARS_DAYS` (or `seed(days=...)`) makes a shorter history, e.g. for tests.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from servicekit.config import asyncpg_dsn
from servicekit.db import Database

from . import models  # noqa: F401  (every table registered)
from .candles import service as candles_service
from .candles.importer import ParsedCandles
from .config import get_settings
from .instruments import repository as instruments_repo
from .instruments import service as instruments_service
from .instruments.schemas import InstrumentCreate
from .timeframes import Timeframe

# The history ends on the last Friday close before 2026: fixed, so the data is reproducible.
DEMO_END = datetime(2025, 12, 26, 22, 0, tzinfo=UTC)
HOLIDAYS = frozenset({date(2024, 12, 25), date(2025, 1, 1), date(2025, 12, 25)})
MINUTES_PER_YEAR = 260 * 24 * 60  # trading minutes in an FX year
_LOCK_KEY = 0x7472_6164_656D_6F  # "trademo": one seeder at a time


class DemoSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TRADING_DEMO_", extra="ignore")

    bars_days: int = 364


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


def generate(spec: DemoInstrument, start: datetime, end: datetime) -> ParsedCandles:
    """M1 bars with open times in [start, end), as a validated-by-construction import."""
    rng = random.Random(spec.seed)
    gauss, rand = rng.gauss, rng.random
    sigma = spec.annual_volatility / math.sqrt(MINUTES_PER_YEAR)
    k = 1 / (3 * 1440)  # the volatility regime reverts over about three trading days
    eta = 0.45 * math.sqrt(2 * k)  # stationary spread of the log-regime: about 0.45
    digits = spec.digits
    fmt = f"{{:.{digits}f}}"
    tick = 10.0**-digits
    out = ParsedCandles()
    lines = out.lines
    price = spec.start_price
    log_regime = 0.0
    closed = False
    outage = 0
    minute = timedelta(minutes=1)
    ts = start
    while ts < end:
        if not market_open(ts):
            closed = True
            ts += minute
            continue
        activity = ACTIVITY[ts.hour]
        log_regime += -k * log_regime + eta * gauss(0.0, 1.0)
        vol = sigma * activity * math.exp(log_regime)
        if closed:
            # The first bar after a weekend or holiday opens away from the last close.
            price *= math.exp(gauss(0.0, sigma * 25))
            closed = False
        if outage:
            outage -= 1
            ts += minute
            continue
        if rand() < 0.00004:
            outage = rng.randint(3, 25)  # a feed outage: a run of missing minutes
        if rand() < 0.03 * (1.6 - activity) / 1.6:
            ts += minute  # nothing traded this minute (more often in quiet hours)
            continue
        ret = gauss(0.0, vol)
        if rand() < 0.0002:
            ret += gauss(0.0, sigma * 12)  # a news spike
        o = price
        c = o * math.exp(ret)
        wick = abs(vol) * o
        hi = max(o, c) + abs(gauss(0.0, 0.6)) * wick
        lo = min(o, c) - abs(gauss(0.0, 0.6)) * wick
        os_, cs = fmt.format(o), fmt.format(c)
        ro, rc = float(os_), float(cs)
        rh = max(round(hi, digits), ro, rc)
        rl = max(min(round(lo, digits), ro, rc), tick)
        volume = 1 + int(spec.ticks_per_minute * activity * math.exp(log_regime) * (0.4 + rand()))
        lines.append(f"{ts.isoformat()},{os_},{fmt.format(rh)},{fmt.format(rl)},{cs},{volume}\n")
        if out.first_ts is None:
            out.first_ts = ts
        out.last_ts = ts
        price = rc  # the next bar opens at this close
        ts += minute
    out.count = len(lines)
    return out


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
    if days < 1:
        raise ValueError("days must be >= 1")
    start = end - timedelta(days=days)
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

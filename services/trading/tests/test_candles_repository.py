"""The candle repository interface the replay depends on (candles/repository.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from trading_service.candles import repository as repo
from trading_service.candles.schemas import Bar
from trading_service.timeframes import Timeframe

T0 = datetime(2024, 1, 1, 0, 0, tzinfo=UTC)  # a Monday
H = timedelta(hours=1)
# H1 bars at 00:00..04:00, a gap (05:00, 06:00 missing), then 07:00..09:00.
H1_TIMES = [T0 + i * H for i in (0, 1, 2, 3, 4, 7, 8, 9)]


@pytest.fixture
async def s(trading_app) -> AsyncIterator[AsyncSession]:  # type: ignore[no-untyped-def]
    async with trading_app.state.db.sessionmaker() as session:
        await session.execute(
            text(
                "INSERT INTO instruments (symbol, digits, point, contract_size, min_volume, "
                "volume_step, max_volume, base_timeframe) "
                "VALUES ('REPO', 5, 0.00001, 100000, 0.01, 0.01, 100, 'M30')"
            )
        )
        rows = [
            {"tf": "H1", "ts": ts, "p": Decimal("1.1") + Decimal(i) / 1000}
            for i, ts in enumerate(H1_TIMES)
        ]
        # Base bars (M30) for the first two hours only: base_bars_between must read these.
        rows += [
            {"tf": "M30", "ts": T0 + i * timedelta(minutes=30), "p": Decimal("1.2") + i}
            for i in range(4)
        ]
        await session.execute(
            text(
                "INSERT INTO candles (instrument_id, timeframe, ts, open, high, low, close, volume)"
                " VALUES (1, :tf, :ts, :p, :p + 0.01, :p - 0.01, :p, 10)"
            ),
            rows,
        )
        await session.commit()
        yield session


async def test_latest_bars_are_the_most_recent_up_to_until_oldest_first(s: AsyncSession) -> None:
    bars = await repo.latest_bars(s, 1, Timeframe.H1, until_ts=T0 + 8 * H, limit=3)
    assert [b.ts for b in bars] == [T0 + 4 * H, T0 + 7 * H, T0 + 8 * H]
    assert isinstance(bars[0], Bar) and bars[0].open == Decimal("1.104")
    assert bars[0].high == Decimal("1.114") and bars[0].volume == 10


async def test_latest_bars_until_is_inclusive_and_before_is_exclusive(s: AsyncSession) -> None:
    bars = await repo.latest_bars(
        s, 1, Timeframe.H1, until_ts=T0 + 9 * H, limit=10, before=T0 + 3 * H
    )
    assert [b.ts for b in bars] == [T0, T0 + H, T0 + 2 * H]
    # until between bars: the bar opening at 05:00 does not exist, so 04:00 is the last.
    bars = await repo.latest_bars(s, 1, Timeframe.H1, until_ts=T0 + 6 * H, limit=2)
    assert [b.ts for b in bars] == [T0 + 3 * H, T0 + 4 * H]


async def test_latest_bars_other_timeframe_or_instrument_is_empty(s: AsyncSession) -> None:
    assert await repo.latest_bars(s, 1, Timeframe.H4, until_ts=T0 + 9 * H, limit=5) == []
    assert await repo.latest_bars(s, 2, Timeframe.H1, until_ts=T0 + 9 * H, limit=5) == []


async def test_bars_before_is_strictly_before(s: AsyncSession) -> None:
    bars = await repo.bars_before(s, 1, Timeframe.H1, before_ts=T0 + 7 * H, limit=2)
    assert [b.ts for b in bars] == [T0 + 3 * H, T0 + 4 * H]
    assert await repo.bars_before(s, 1, Timeframe.H1, before_ts=T0, limit=5) == []


async def test_bars_between_is_after_exclusive_until_inclusive(s: AsyncSession) -> None:
    bars = await repo.bars_between(s, 1, Timeframe.H1, T0 + 3 * H, T0 + 8 * H)
    assert [b.ts for b in bars] == [T0 + 4 * H, T0 + 7 * H, T0 + 8 * H]
    bars = await repo.bars_between(s, 1, Timeframe.H1, T0, T0 + 9 * H, limit=2)
    assert [b.ts for b in bars] == [T0 + H, T0 + 2 * H]


async def test_first_bar_at_or_after_skips_gaps_and_respects_until(s: AsyncSession) -> None:
    assert await repo.first_bar_at_or_after(s, 1, Timeframe.H1, T0 + 2 * H) == T0 + 2 * H
    assert await repo.first_bar_at_or_after(s, 1, Timeframe.H1, T0 + 5 * H) == T0 + 7 * H
    assert await repo.first_bar_at_or_after(
        s, 1, Timeframe.H1, T0 + 5 * H, until_ts=T0 + 7 * H
    ) == (T0 + 7 * H)
    assert (
        await repo.first_bar_at_or_after(s, 1, Timeframe.H1, T0 + 5 * H, until_ts=T0 + 6 * H)
        is None
    )
    assert await repo.first_bar_at_or_after(s, 1, Timeframe.H1, T0 + 10 * H) is None


async def test_last_bar_at_or_before(s: AsyncSession) -> None:
    assert await repo.last_bar_at_or_before(s, 1, Timeframe.H1, T0 + 6 * H) == T0 + 4 * H
    assert await repo.last_bar_at_or_before(s, 1, Timeframe.H1, T0 + 7 * H) == T0 + 7 * H
    assert await repo.last_bar_at_or_before(s, 1, Timeframe.H1, T0 - H) is None
    assert await repo.last_bar(s, 1, Timeframe.H1) == T0 + 9 * H
    assert await repo.last_bar(s, 1, Timeframe.D1) is None


async def test_nth_bar_after_counts_bars_not_hours(s: AsyncSession) -> None:
    # After 03:00: 04:00 (1st), 07:00 (2nd, across the gap), 08:00 (3rd).
    assert await repo.nth_bar_after(s, 1, Timeframe.H1, T0 + 3 * H, 1) == (T0 + 4 * H, False)
    assert await repo.nth_bar_after(s, 1, Timeframe.H1, T0 + 3 * H, 3) == (T0 + 8 * H, False)


async def test_nth_bar_after_end_reached(s: AsyncSession) -> None:
    # Exactly the remaining count: not flagged (the caller learns of the end next time).
    assert await repo.nth_bar_after(s, 1, Timeframe.H1, T0 + 7 * H, 2) == (T0 + 9 * H, False)
    # Fewer than n remain: the last existing one, flagged.
    assert await repo.nth_bar_after(s, 1, Timeframe.H1, T0 + 7 * H, 5) == (T0 + 9 * H, True)
    # None remain.
    assert await repo.nth_bar_after(s, 1, Timeframe.H1, T0 + 9 * H, 1) == (None, True)


async def test_nth_bar_after_until_caps(s: AsyncSession) -> None:
    assert await repo.nth_bar_after(s, 1, Timeframe.H1, T0 + 2 * H, 4, until_ts=T0 + 7 * H) == (
        T0 + 7 * H,
        True,
    )
    assert await repo.nth_bar_after(s, 1, Timeframe.H1, T0 + 4 * H, 1, until_ts=T0 + 6 * H) == (
        None,
        True,
    )
    with pytest.raises(ValueError):
        await repo.nth_bar_after(s, 1, Timeframe.H1, T0, 0)


async def test_count_bars_between(s: AsyncSession) -> None:
    assert await repo.count_bars_between(s, 1, Timeframe.H1, T0, T0 + 7 * H) == 5
    assert await repo.count_bars_between(s, 1, Timeframe.H1, T0 + 4 * H, T0 + 6 * H) == 0
    assert await repo.count_bars_between(s, 1, Timeframe.H1, T0 - H, T0) == 1


async def test_base_bars_between_reads_the_instruments_base_timeframe(s: AsyncSession) -> None:
    bars = await repo.base_bars_between(s, 1, T0 + timedelta(minutes=30), T0 + 2 * H)
    assert [b.ts for b in bars] == [T0 + timedelta(minutes=m) for m in (30, 60, 90)]
    assert bars[0].open == Decimal("2.2")
    assert await repo.base_bars_between(s, 1, T0 + 2 * H, T0 + 9 * H) == []


async def test_naive_timestamps_are_refused(s: AsyncSession) -> None:
    with pytest.raises(ValueError):
        await repo.last_bar_at_or_before(s, 1, Timeframe.H1, datetime(2024, 1, 1))

"""A per-process cache of bars for the event streams: runs of consecutive bars of one
(instrument, timeframe), read from the candle store a chunk at a time and shared by every
stream of the process, so a stream at playback speed reads no candle row itself.

A run is complete: it holds every bar with open time in (`lo`, `hi`] (`hi` None: every bar
after `lo`, as of the read). Candle writes notify the instruments they touched (migration
0006); `invalidate` then drops their runs, and a read that raced with the drop is not kept.
"""

from __future__ import annotations

import asyncio
import time
from bisect import bisect_right
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from ..candles import repository as candles_repo
from ..candles.schemas import Bar
from ..timeframes import Timeframe

CHUNK_BARS = 2000  # bars per read
MAX_BARS = 400_000  # per process; the least recently used runs go first


@dataclass
class _Run:
    lo: datetime  # exclusive
    hi: datetime | None  # inclusive; None: to the end of the data
    ts: list[datetime]
    bars: list[Bar]
    used: float = field(default_factory=time.monotonic)

    def holds(self, after: datetime) -> bool:
        """Whether the bar after `after` (or the end of the data) is known here."""
        return self.lo <= after and (self.hi is None or after < self.hi)


@dataclass
class _Key:
    runs: list[_Run] = field(default_factory=list)
    generation: int = 0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


SessionFactory = Callable[[], AbstractAsyncContextManager[AsyncSession]]


class BarCache:
    """Bars of (instrument, timeframe) in open-time order, read through `session()` (a short
    transaction of its own) or the caller's session."""

    def __init__(
        self, session: SessionFactory, *, chunk: int = CHUNK_BARS, max_bars: int = MAX_BARS
    ) -> None:
        self._session = session
        self._chunk = chunk
        self._max_bars = max_bars
        self._keys: dict[tuple[int, str], _Key] = {}
        self._generation = 0  # bumped by invalidate(None)
        self.reads = 0  # chunks read from the database

    def invalidate(self, instrument_id: int | None) -> None:
        """Drop the bars of an instrument (None: of every instrument)."""
        self._generation += 1
        for (iid, _), key in self._keys.items():
            if instrument_id is None or iid == instrument_id:
                key.runs.clear()
                key.generation += 1

    async def after(
        self,
        instrument_id: int,
        tf: Timeframe,
        after: datetime,
        n: int,
        *,
        until: datetime | None = None,
        db: AsyncSession | None = None,
    ) -> list[Bar]:
        """The first `n` bars with open time > `after` (and <= `until`), oldest first; fewer
        when the data ends."""
        key = self._keys.setdefault((instrument_id, tf.value), _Key())
        out: list[Bar] = []
        cursor = after
        while len(out) < n:
            run = next((r for r in key.runs if r.holds(cursor)), None)
            if run is None:
                await self._fill(key, instrument_id, tf, cursor, db)
                continue
            run.used = time.monotonic()
            i = bisect_right(run.ts, cursor)
            take = run.bars[i : i + n - len(out)]
            out.extend(take)
            if i + len(take) < len(run.bars):
                break  # got n
            if run.hi is None:
                break  # the end of the data
            cursor = run.hi
        if until is not None and out and out[-1].ts > until:
            out = [b for b in out if b.ts <= until]
        return out

    async def _fill(
        self, key: _Key, instrument_id: int, tf: Timeframe, after: datetime, db: AsyncSession | None
    ) -> None:
        """Read the chunk after `after` into a run (one reader per key; the others wait and
        find it). A read that an invalidation overtook is thrown away and done again."""
        async with key.lock:
            if any(r.holds(after) for r in key.runs):
                return
            while True:
                generation = (key.generation, self._generation)
                if db is not None:
                    bars = await self._read(db, instrument_id, tf, after)
                else:
                    async with self._session() as s:
                        bars = await self._read(s, instrument_id, tf, after)
                if generation == (key.generation, self._generation):
                    break
            self._add(key, after, bars)

    async def _read(
        self, s: AsyncSession, instrument_id: int, tf: Timeframe, after: datetime
    ) -> list[Bar]:
        self.reads += 1
        return await candles_repo.bars_between(
            s, instrument_id, tf, after, candles_repo.FAR_FUTURE, limit=self._chunk
        )

    def _add(self, key: _Key, after: datetime, bars: list[Bar]) -> None:
        hi = bars[-1].ts if len(bars) >= self._chunk else None
        run = _Run(after, hi, [b.ts for b in bars], bars)
        # Join a run that ends where this one starts (or starts where it ends).
        for other in list(key.runs):
            if other.hi is not None and other.hi == run.lo:
                key.runs.remove(other)
                run = _Run(other.lo, run.hi, other.ts + run.ts, other.bars + run.bars)
            elif run.hi is not None and other.lo == run.hi:
                key.runs.remove(other)
                run = _Run(run.lo, other.hi, run.ts + other.ts, run.bars + other.bars)
        key.runs.append(run)
        self._evict()

    def _evict(self) -> None:
        runs = [(r, k) for k in self._keys.values() for r in k.runs]
        total = sum(len(r.bars) for r, _ in runs)
        for run, key in sorted(runs, key=lambda x: x[0].used):
            if total <= self._max_bars:
                break
            key.runs.remove(run)
            total -= len(run.bars)

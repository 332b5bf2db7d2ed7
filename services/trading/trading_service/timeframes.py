"""Timeframes and their UTC bucket arithmetic (D1 at midnight, W1 on Monday)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum

# A Monday at midnight UTC: W1 buckets (and every shorter one) are aligned to it.
EPOCH_MONDAY = datetime(2001, 1, 1, tzinfo=UTC)


class Timeframe(StrEnum):
    M1 = "M1"
    M5 = "M5"
    M10 = "M10"
    M15 = "M15"
    M30 = "M30"
    H1 = "H1"
    H2 = "H2"
    H4 = "H4"
    D1 = "D1"
    W1 = "W1"

    @property
    def seconds(self) -> int:
        return _SECONDS[self]

    @property
    def delta(self) -> timedelta:
        return timedelta(seconds=_SECONDS[self])

    @property
    def pg_interval(self) -> str:
        """The interval literal for PostgreSQL's date_bin."""
        return f"{_SECONDS[self]} seconds"

    def floor(self, ts: datetime) -> datetime:
        """Open time of the bucket containing `ts` (UTC)."""
        if ts.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware")
        offset = int((ts - EPOCH_MONDAY).total_seconds()) // _SECONDS[self] * _SECONDS[self]
        return EPOCH_MONDAY + timedelta(seconds=offset)

    def on_grid(self, ts: datetime) -> bool:
        return self.floor(ts) == ts

    def at_or_above(self, other: Timeframe) -> bool:
        return _SECONDS[self] >= _SECONDS[other]


_SECONDS: dict[Timeframe, int] = {
    Timeframe.M1: 60,
    Timeframe.M5: 300,
    Timeframe.M10: 600,
    Timeframe.M15: 900,
    Timeframe.M30: 1800,
    Timeframe.H1: 3600,
    Timeframe.H2: 7200,
    Timeframe.H4: 14400,
    Timeframe.D1: 86400,
    Timeframe.W1: 604800,
}

ALL_TIMEFRAMES: tuple[Timeframe, ...] = tuple(Timeframe)


def aggregation_sources(base: Timeframe) -> dict[Timeframe, Timeframe]:
    """For each timeframe above `base` that can be built from it: the timeframe to build it from.

    Buckets nest (every timeframe is aligned to EPOCH_MONDAY), so a bar can be aggregated from
    any finer timeframe whose length divides its own; the coarsest such source is the cheapest.
    A timeframe that no source divides (M15 over M10 bars) is left out: it cannot be exact.
    """
    built: list[Timeframe] = [base]
    plan: dict[Timeframe, Timeframe] = {}
    for tf in ALL_TIMEFRAMES:
        if tf.seconds <= base.seconds:
            continue
        sources = [s for s in built if tf.seconds % s.seconds == 0]
        if sources:
            plan[tf] = max(sources, key=lambda s: s.seconds)
            built.append(tf)
    return plan


def available_timeframes(base: Timeframe) -> tuple[Timeframe, ...]:
    """Every timeframe whose bars exist for an instrument stored at `base`."""
    return (base, *aggregation_sources(base))

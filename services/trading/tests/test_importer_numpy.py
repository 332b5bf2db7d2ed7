"""The numpy CSV reader (the import's fast path) against the per-row Python rules it stands
in for: on files full of odd, bad and blank lines, both give the same errors (messages, rows,
lines) and the same bars, down to each value's display scale."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from trading_service.candles import importer
from trading_service.candles.importer import HEADER, ParsedCandles, parse_csv
from trading_service.timeframes import Timeframe

START = datetime(2024, 1, 2, tzinfo=UTC)

MUTATIONS: list[Callable[[str], str]] = [
    lambda r: r.replace(",1.1,", ",1.10000,"),
    lambda r: r.replace("Z", "+00:00"),
    lambda r: r.replace("Z", ""),  # naive: UTC
    lambda r: r.replace("T", " "),
    lambda r: r + ",9",  # 7 fields
    lambda r: r.rsplit(",", 1)[0],  # 5 fields
    lambda r: r.replace("1.2", "1.05"),  # high below open
    lambda r: r.replace(",1.0,", ",0,"),  # low not positive
    lambda r: r.replace(":00Z", ":30Z"),  # off the grid
    lambda r: r.replace("2024-01-02", "2024-02-30"),  # no such day
    lambda r: r.replace("2024", "0000"),
    lambda r: r.replace("1.1", "1.1E0"),  # exponents: the Python rules
    lambda r: r.replace("1.1", "1_1"),
    lambda r: r.replace("1.1", "\u0661.1"),  # another script's digit
    lambda r: "   ",  # blank
    lambda r: "",
    lambda r: r.replace("1.2", "1.2000000000000000000001"),  # wider than int64
    lambda r: r.replace(",5", ",-0"),
    lambda r: r.replace(",5", ",0.5"),
    lambda r: r.replace("1.2", "00000000000001.2"),
    lambda r: r.replace("1.2", ".2"),
    lambda r: r.replace("1.2", "2."),
    lambda r: r.replace(",1.1,", ",1.123456789012345,"),
    lambda r: r.replace(",5", ",999999999999999"),
    lambda r: r.replace(",5", ",1000000000000000"),  # volume too large
    lambda r: r.replace("1.2", "999999999999.9"),
    lambda r: r.replace("1.2", "12345678901234567890"),  # price too large
    lambda r: r.replace("1.0", "1.000000001"),
    lambda r: r.replace("1.1", "NaN"),
]


def by_rules(data: bytes, tf: Timeframe) -> ParsedCandles:
    """The file read line by line by the Python rules alone."""
    v = importer._Validator(tf)
    importer._rows_from_lines(v, data.decode("utf-8-sig"))
    return v.finish()


def bars(parsed: ParsedCandles) -> list[str]:
    return parsed.csv_lines()


@pytest.mark.parametrize("seed", range(4))
def test_numpy_reader_matches_the_row_rules(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(150):
        n = rng.randint(1, 40)
        rows = []
        for i in range(n):
            minute = rng.choice([i, i, i, rng.randint(0, n)])  # some duplicates, some disorder
            ts = (START + timedelta(minutes=minute)).strftime("%Y-%m-%dT%H:%M:%SZ")
            row = f"{ts},1.1,1.2,1.0,1.1,5"
            for _ in range(rng.choice([0, 0, 0, 1, 2])):
                row = rng.choice(MUTATIONS)(row)
            rows.append(row)
        sep = rng.choice(["\n", "\r\n"])
        text = ",".join(HEADER) + sep + sep.join(rows) + rng.choice(["", sep])
        data = text.encode()
        tf = rng.choice([Timeframe.M1, Timeframe.M1, Timeframe.M5])
        fast, reference = parse_csv(data, tf), by_rules(data, tf)
        assert fast.errors == reference.errors, text
        assert bars(fast) == bars(reference), text
        assert (fast.first_ts, fast.last_ts) == (reference.first_ts, reference.last_ts)


def test_numpy_reader_keeps_each_values_display_scale_and_sorts_by_time() -> None:
    data = (
        ",".join(HEADER) + "\n"
        "2024-01-02T00:01:00Z,1.10000,1.2,1.0,1.1,0.50\n"
        "2024-01-02T00:00:00+00:00,1.1,1.20,1,1.15,3\n"
    ).encode()
    parsed = parse_csv(data, Timeframe.M1)
    assert parsed.errors == []
    assert parsed.csv_lines() == [
        "2024-01-02T00:00:00Z,1.1,1.20,1,1.15,3\n",
        "2024-01-02T00:01:00Z,1.10000,1.2,1.0,1.1,0.50\n",
    ]

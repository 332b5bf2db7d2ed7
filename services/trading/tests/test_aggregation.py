"""Aggregation to every timeframe from stored M1 bars, against hand-computed bars (SPEC 3):
UTC buckets, D1 at midnight, W1 on Monday; open = first open, high = max, low = min,
close = last close, volume = sum; a bucket with no base bars does not exist."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from devstack.testing import TokenFactory
from trading_service.demo import DEMO_END, INSTRUMENTS, generate
from trading_service.timeframes import Timeframe

# (time, open, high, low, close, volume). 2024-01-05 is a Friday, 2024-01-08 a Monday.
M1_BARS: list[tuple[str, int, int, int, int, int]] = [
    ("2024-01-05T21:58:00Z", 10, 12, 9, 11, 1),  # Friday, before the weekend close
    ("2024-01-05T21:59:00Z", 11, 13, 10, 12, 2),
    ("2024-01-07T22:00:00Z", 15, 16, 14, 15, 3),  # Sunday reopen: gapped up
    ("2024-01-07T23:59:00Z", 15, 17, 15, 16, 4),
    ("2024-01-08T00:00:00Z", 16, 16, 13, 14, 5),  # Monday midnight: new D1 and new W1
    ("2024-01-08T00:04:00Z", 14, 15, 14, 15, 6),
    ("2024-01-08T00:05:00Z", 15, 18, 15, 17, 7),  # new M5
    ("2024-01-08T00:10:00Z", 17, 17, 12, 13, 8),  # new M10
    ("2024-01-08T00:15:00Z", 13, 14, 11, 12, 9),  # new M15
    ("2024-01-08T00:30:00Z", 12, 13, 12, 13, 10),  # new M30
    ("2024-01-08T01:00:00Z", 13, 20, 13, 19, 11),  # new H1
    ("2024-01-08T02:00:00Z", 19, 19, 8, 9, 12),  # new H2
    ("2024-01-08T04:00:00Z", 9, 10, 9, 10, 13),  # new H4
]

# Hand-computed. Friday's two bars and each Monday-after-01:00 bar recur at most timeframes.
FRI = (10, 13, 9, 12, 3)
SINGLES = [
    ("2024-01-08T01:00:00Z", 13, 20, 13, 19, 11),
    ("2024-01-08T02:00:00Z", 19, 19, 8, 9, 12),
    ("2024-01-08T04:00:00Z", 9, 10, 9, 10, 13),
]
EXPECTED: dict[str, list[tuple[Any, ...]]] = {
    "M5": [
        ("2024-01-05T21:55:00Z", *FRI),
        ("2024-01-07T22:00:00Z", 15, 16, 14, 15, 3),
        ("2024-01-07T23:55:00Z", 15, 17, 15, 16, 4),
        ("2024-01-08T00:00:00Z", 16, 16, 13, 15, 11),
        ("2024-01-08T00:05:00Z", 15, 18, 15, 17, 7),
        ("2024-01-08T00:10:00Z", 17, 17, 12, 13, 8),
        ("2024-01-08T00:15:00Z", 13, 14, 11, 12, 9),
        ("2024-01-08T00:30:00Z", 12, 13, 12, 13, 10),
        *SINGLES,
    ],
    "M10": [
        ("2024-01-05T21:50:00Z", *FRI),
        ("2024-01-07T22:00:00Z", 15, 16, 14, 15, 3),
        ("2024-01-07T23:50:00Z", 15, 17, 15, 16, 4),
        ("2024-01-08T00:00:00Z", 16, 18, 13, 17, 18),
        ("2024-01-08T00:10:00Z", 17, 17, 11, 12, 17),
        ("2024-01-08T00:30:00Z", 12, 13, 12, 13, 10),
        *SINGLES,
    ],
    "M15": [
        ("2024-01-05T21:45:00Z", *FRI),
        ("2024-01-07T22:00:00Z", 15, 16, 14, 15, 3),
        ("2024-01-07T23:45:00Z", 15, 17, 15, 16, 4),
        ("2024-01-08T00:00:00Z", 16, 18, 12, 13, 26),
        ("2024-01-08T00:15:00Z", 13, 14, 11, 12, 9),
        ("2024-01-08T00:30:00Z", 12, 13, 12, 13, 10),
        *SINGLES,
    ],
    "M30": [
        ("2024-01-05T21:30:00Z", *FRI),
        ("2024-01-07T22:00:00Z", 15, 16, 14, 15, 3),
        ("2024-01-07T23:30:00Z", 15, 17, 15, 16, 4),
        ("2024-01-08T00:00:00Z", 16, 18, 11, 12, 35),
        ("2024-01-08T00:30:00Z", 12, 13, 12, 13, 10),
        *SINGLES,
    ],
    "H1": [
        ("2024-01-05T21:00:00Z", *FRI),
        ("2024-01-07T22:00:00Z", 15, 16, 14, 15, 3),
        ("2024-01-07T23:00:00Z", 15, 17, 15, 16, 4),
        ("2024-01-08T00:00:00Z", 16, 18, 11, 13, 45),
        *SINGLES,
    ],
    "H2": [
        ("2024-01-05T20:00:00Z", *FRI),
        ("2024-01-07T22:00:00Z", 15, 17, 14, 16, 7),
        ("2024-01-08T00:00:00Z", 16, 20, 11, 19, 56),
        ("2024-01-08T02:00:00Z", 19, 19, 8, 9, 12),
        ("2024-01-08T04:00:00Z", 9, 10, 9, 10, 13),
    ],
    "H4": [
        ("2024-01-05T20:00:00Z", *FRI),
        ("2024-01-07T20:00:00Z", 15, 17, 14, 16, 7),
        ("2024-01-08T00:00:00Z", 16, 20, 8, 9, 68),
        ("2024-01-08T04:00:00Z", 9, 10, 9, 10, 13),
    ],
    "D1": [
        ("2024-01-05T00:00:00Z", *FRI),  # Friday; no Saturday bar exists
        ("2024-01-07T00:00:00Z", 15, 17, 14, 16, 7),  # Sunday's two hours
        ("2024-01-08T00:00:00Z", 16, 20, 8, 10, 81),
    ],
    "W1": [
        ("2024-01-01T00:00:00Z", 10, 17, 9, 16, 10),  # Mon 1 Jan week holds Friday and Sunday
        ("2024-01-08T00:00:00Z", 16, 20, 8, 10, 81),
    ],
}


def admin(tokens: TokenFactory) -> dict[str, str]:
    return tokens.headers(900, ["admin"])


async def make_instrument(client: httpx.AsyncClient, tokens: TokenFactory, base: str = "M1") -> int:
    body = {
        "symbol": f"AGG{base}",
        "digits": 0,
        "contract_size": 1,
        "min_volume": 1,
        "volume_step": 1,
        "max_volume": 10,
        "base_timeframe": base,
    }
    resp = await client.post("/instruments", json=body, headers=admin(tokens))
    assert resp.status_code == 201, resp.text
    return int(resp.json()["id"])


async def import_json(
    client: httpx.AsyncClient, tokens: TokenFactory, iid: int, bars: list[tuple[Any, ...]]
) -> dict[str, Any]:
    payload = [
        dict(zip(("ts", "open", "high", "low", "close", "volume"), b, strict=True)) for b in bars
    ]
    resp = await client.post(f"/instruments/{iid}/candles", json=payload, headers=admin(tokens))
    assert resp.status_code == 200, resp.text
    out: dict[str, Any] = resp.json()
    return out


async def read(
    client: httpx.AsyncClient, tokens: TokenFactory, iid: int, tf: str
) -> list[tuple[Any, ...]]:
    resp = await client.get(
        f"/instruments/{iid}/candles",
        params={"timeframe": tf, "from": "2000-01-01T00:00:00Z", "limit": 1000},
        headers=admin(tokens),
    )
    assert resp.status_code == 200, resp.text
    return [
        (c["ts"], c["open"], c["high"], c["low"], c["close"], c["volume"])
        for c in resp.json()["candles"]
    ]


@pytest.mark.parametrize("tf", list(EXPECTED))
async def test_every_timeframe_matches_hand_computed_bars(
    client: httpx.AsyncClient, tokens: TokenFactory, tf: str
) -> None:
    """Week boundary (Sunday -> Monday) and weekend gap included; the file's order is shuffled."""
    iid = await make_instrument(client, tokens)
    bars = list(M1_BARS)
    random.Random(7).shuffle(bars)
    await import_json(client, tokens, iid, bars)
    assert await read(client, tokens, iid, tf) == EXPECTED[tf]


async def test_base_bars_are_stored_as_given(
    client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    iid = await make_instrument(client, tokens)
    await import_json(client, tokens, iid, M1_BARS)
    assert await read(client, tokens, iid, "M1") == [tuple(b) for b in M1_BARS]


async def test_two_imports_merge_into_the_same_buckets(
    client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    """A second file whose bars fall into buckets the first file started re-aggregates them
    from every stored bar, not only the new file's."""
    iid = await make_instrument(client, tokens)
    await import_json(client, tokens, iid, M1_BARS[:6])  # up to Monday 00:04
    await import_json(client, tokens, iid, M1_BARS[6:])
    for tf, expected in EXPECTED.items():
        assert await read(client, tokens, iid, tf) == expected, tf


async def test_reimport_with_changed_close_updates_the_aggregates(
    client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    """Upsert on re-import: the changed bar replaces the stored one, and every bucket that
    holds it is recomputed (close of the buckets it ends, high of those it now tops)."""
    iid = await make_instrument(client, tokens)
    await import_json(client, tokens, iid, M1_BARS)
    changed = [
        ("2024-01-08T02:00:00Z", 19, 19, 8, 9.5, 12),  # close 9 -> 9.5
        ("2024-01-08T04:00:00Z", 9, 25, 9, 10, 13),  # high 10 -> 25
    ]
    result = await import_json(client, tokens, iid, changed)
    assert (result["imported"], result["inserted"], result["updated"]) == (2, 0, 2)
    h4 = dict((b[0], b[1:]) for b in await read(client, tokens, iid, "H4"))
    assert h4["2024-01-08T00:00:00Z"] == (16, 20, 8, 9.5, 68)
    assert h4["2024-01-08T04:00:00Z"] == (9, 25, 9, 10, 13)
    d1 = dict((b[0], b[1:]) for b in await read(client, tokens, iid, "D1"))
    assert d1["2024-01-08T00:00:00Z"] == (16, 25, 8, 10, 81)
    w1 = dict((b[0], b[1:]) for b in await read(client, tokens, iid, "W1"))
    assert w1["2024-01-08T00:00:00Z"] == (16, 25, 8, 10, 81)
    assert w1["2024-01-01T00:00:00Z"] == (10, 17, 9, 16, 10)  # untouched week
    m1 = await read(client, tokens, iid, "M1")
    assert len(m1) == len(M1_BARS)


async def test_higher_base_timeframe_builds_only_the_timeframes_above_it(
    client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    """An instrument stored at H1: D1 and W1 come from its H1 bars; M30 does not exist (422)."""
    iid = await make_instrument(client, tokens, base="H1")
    h1 = [
        ("2024-01-05T20:00:00Z", 10, 12, 9, 11, 1),
        ("2024-01-05T21:00:00Z", 11, 13, 10, 12, 2),
        ("2024-01-07T22:00:00Z", 15, 16, 14, 15, 3),
        ("2024-01-08T00:00:00Z", 16, 16, 13, 14, 5),
    ]
    await import_json(client, tokens, iid, h1)
    assert await read(client, tokens, iid, "H4") == [
        ("2024-01-05T20:00:00Z", 10, 13, 9, 12, 3),
        ("2024-01-07T20:00:00Z", 15, 16, 14, 15, 3),
        ("2024-01-08T00:00:00Z", 16, 16, 13, 14, 5),
    ]
    assert await read(client, tokens, iid, "W1") == [
        ("2024-01-01T00:00:00Z", 10, 16, 9, 15, 6),
        ("2024-01-08T00:00:00Z", 16, 16, 13, 14, 5),
    ]
    resp = await client.get(
        f"/instruments/{iid}/candles", params={"timeframe": "M30"}, headers=admin(tokens)
    )
    assert resp.status_code == 422


DIRECT = """
SELECT date_bin(make_interval(secs => :secs), ts, TIMESTAMPTZ '2001-01-01 00:00:00+00') AS b,
       (array_agg(open ORDER BY ts))[1], max(high), min(low),
       (array_agg(close ORDER BY ts DESC))[1], sum(volume)
FROM candles WHERE instrument_id = :iid AND timeframe = 'M1' GROUP BY b ORDER BY b
"""


async def assert_aggregates_match_base(app: Any, iid: int) -> None:
    """Every stored timeframe equals aggregating the M1 bars directly (not step by step)."""
    async with app.state.db.engine.connect() as conn:
        for tf in list(Timeframe)[1:]:
            direct = (await conn.execute(text(DIRECT), {"secs": tf.seconds, "iid": iid})).all()
            stored = (
                await conn.execute(
                    text(
                        "SELECT ts, open, high, low, close, volume FROM candles "
                        "WHERE instrument_id = :iid AND timeframe = :tf ORDER BY ts"
                    ),
                    {"iid": iid, "tf": tf.value},
                )
            ).all()
            assert [tuple(r) for r in stored] == [tuple(r) for r in direct], tf


async def test_stepwise_aggregation_equals_direct_aggregation_on_realistic_data(
    client: httpx.AsyncClient, tokens: TokenFactory, trading_app: Any
) -> None:
    """Two weeks of generated M1 data (gaps, a weekend, Christmas): M5 from M1, M10 from M5,
    ... W1 from D1 gives exactly what aggregating the M1 bars directly gives."""
    iid = await make_instrument(client, tokens)
    bars = generate(INSTRUMENTS[1], DEMO_END - timedelta(days=15), DEMO_END)
    body = "timestamp,open,high,low,close,volume\n" + "".join(bars.csv_lines())
    resp = await client.post(
        f"/instruments/{iid}/candles",
        content=body,
        headers={**admin(tokens), "Content-Type": "text/csv"},
    )
    assert resp.status_code == 200, resp.text
    await assert_aggregates_match_base(trading_app, iid)


async def test_concurrent_overlapping_imports_serialize_and_stay_consistent(
    client: httpx.AsyncClient, tokens: TokenFactory, trading_app: Any
) -> None:
    """Two imports of one instrument at once: the instrument row lock orders them, both
    succeed, and the aggregates reflect every stored bar."""
    iid = await make_instrument(client, tokens)
    start = datetime(2024, 1, 5, 20, 0, tzinfo=UTC)  # across the weekend into Monday

    def csv(first: int, count: int, bump: int) -> str:
        out = ["timestamp,open,high,low,close,volume"]
        for i in range(first, first + count):
            ts = start + timedelta(minutes=i * 7)
            p = 100 + (i * 37 + bump) % 50
            out.append(f"{ts:%Y-%m-%dT%H:%M:%SZ},{p},{p + 3},{p - 2},{p + 1},{i % 9}")
        return "\n".join(out)

    h = {**admin(tokens), "Content-Type": "text/csv"}
    a, b = await asyncio.gather(
        client.post(f"/instruments/{iid}/candles", content=csv(0, 600, 0), headers=h),
        client.post(f"/instruments/{iid}/candles", content=csv(300, 600, 11), headers=h),
    )
    assert a.status_code == 200 and b.status_code == 200, (a.text, b.text)
    assert a.json()["inserted"] + b.json()["inserted"] == 900
    await assert_aggregates_match_base(trading_app, iid)

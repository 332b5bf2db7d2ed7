"""Candle import (SPEC 3): CSV or JSON at the base timeframe, all or nothing, 422 naming the
row, upsert on re-import, admins only, a capped body, and a bulk path that keeps up."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from devstack.testing import TokenFactory
from trading_service.candles.config import import_max_bytes

HEADER = "timestamp,open,high,low,close,volume"
GOOD = [
    "2024-01-02T00:00:00Z,1.10000,1.10050,1.09950,1.10020,10",
    "2024-01-02T00:01:00Z,1.10020,1.10080,1.10010,1.10070,12",
    "2024-01-02T00:02:00Z,1.10070,1.10090,1.10000,1.10010,7",
]


def admin(tokens: TokenFactory) -> dict[str, str]:
    return tokens.headers(900, ["admin"])


def csv_headers(tokens: TokenFactory) -> dict[str, str]:
    return {**admin(tokens), "Content-Type": "text/csv"}


@pytest.fixture
async def iid(client: httpx.AsyncClient, tokens: TokenFactory) -> int:
    body = {
        "symbol": "EURUSD",
        "digits": 5,
        "contract_size": 100000,
        "min_volume": 0.01,
        "volume_step": 0.01,
        "max_volume": 100,
    }
    resp = await client.post("/instruments", json=body, headers=admin(tokens))
    assert resp.status_code == 201
    return int(resp.json()["id"])


async def stored(app: Any, tf: str = "M1") -> list[tuple[Any, ...]]:
    async with app.state.db.engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT ts, open, high, low, close, volume FROM candles "
                "WHERE timeframe = :tf ORDER BY ts"
            ),
            {"tf": tf},
        )
        return [tuple(r) for r in rows]


async def post_csv(
    client: httpx.AsyncClient, tokens: TokenFactory, iid: int, lines: list[str]
) -> httpx.Response:
    return await client.post(
        f"/instruments/{iid}/candles",
        content="\n".join(lines) + "\n",
        headers=csv_headers(tokens),
    )


async def test_csv_import_stores_bars_and_reports_counts(
    client: httpx.AsyncClient, tokens: TokenFactory, iid: int, trading_app: Any
) -> None:
    resp = await post_csv(client, tokens, iid, [HEADER, *GOOD])
    assert resp.status_code == 200, resp.text
    assert resp.json() == {
        "imported": 3,
        "inserted": 3,
        "updated": 0,
        "first_ts": "2024-01-02T00:00:00Z",
        "last_ts": "2024-01-02T00:02:00Z",
    }
    rows = await stored(trading_app)
    assert rows[0] == (
        datetime(2024, 1, 2, tzinfo=UTC),
        Decimal("1.10000"),
        Decimal("1.10050"),
        Decimal("1.09950"),
        Decimal("1.10020"),
        Decimal("10"),
    )
    assert len(rows) == 3
    # Aggregates are written in the same transaction.
    assert [r[4] for r in await stored(trading_app, "M5")] == [Decimal("1.10010")]


async def test_json_import_accepts_timestamp_or_ts_and_numbers_or_strings(
    client: httpx.AsyncClient, tokens: TokenFactory, iid: int, trading_app: Any
) -> None:
    first = {"open": 1.1, "high": 1.2, "low": 1.0, "close": 1.15, "volume": 3}
    second = {"open": "1.15", "high": "1.25", "low": "1.1", "close": "1.2", "volume": "0"}
    payload = [
        {"timestamp": "2024-01-02T00:00:00Z", **first},
        {"ts": "2024-01-02T00:01:00Z", **second},
    ]
    resp = await client.post(f"/instruments/{iid}/candles", json=payload, headers=admin(tokens))
    assert resp.status_code == 200, resp.text
    assert resp.json()["imported"] == 2
    rows = await stored(trading_app)
    assert [r[4] for r in rows] == [Decimal("1.15"), Decimal("1.2")]
    assert rows[1][5] == 0


async def test_timestamps_with_offsets_naive_or_unix_seconds_are_utc(
    client: httpx.AsyncClient, tokens: TokenFactory, iid: int, trading_app: Any
) -> None:
    lines = [
        HEADER,
        "2024-01-02T02:00:00+02:00,1.1,1.2,1.0,1.1,1",  # = 00:00Z
        "2024-01-02 00:01:00,1.1,1.2,1.0,1.1,1",  # naive: UTC
        f"{int(datetime(2024, 1, 2, 0, 2, tzinfo=UTC).timestamp())},1.1,1.2,1.0,1.1,1",
    ]
    resp = await post_csv(client, tokens, iid, lines)
    assert resp.status_code == 200, resp.text
    assert [r[0] for r in await stored(trading_app)] == [
        datetime(2024, 1, 2, 0, m, tzinfo=UTC) for m in range(3)
    ]


async def test_csv_with_one_bad_row_stores_nothing_and_names_that_row(
    client: httpx.AsyncClient, tokens: TokenFactory, iid: int, trading_app: Any
) -> None:
    """Done-when rule: a CSV with one bad row stores nothing and names that row."""
    start = datetime(2024, 1, 2, tzinfo=UTC)
    lines = [HEADER]
    for i in range(500):
        ts = (start + timedelta(minutes=i)).strftime("%Y-%m-%dT%H:%M:%SZ")
        lines.append(f"{ts},1.1,1.2,1.0,1.1,5")
    lines[301] = lines[301].replace(",1.2,", ",1.05,")  # data row 301: high below open
    resp = await post_csv(client, tokens, iid, lines)
    assert resp.status_code == 422, resp.text
    detail = resp.json()["detail"]
    assert len(detail) == 1
    assert detail[0]["row"] == 301 and detail[0]["line"] == 302
    assert "row 301 (line 302)" in detail[0]["msg"] and "high" in detail[0]["msg"]
    assert detail[0]["input"] == lines[301]
    assert await stored(trading_app) == []
    assert await stored(trading_app, "H1") == []


BAD_ROWS = [
    # (rule, bad data row, message fragment)
    ("high below max(open, close)", "2024-01-02T00:01:00Z,1.1,1.15,1.0,1.2,1", "high"),
    ("high below open", "2024-01-02T00:01:00Z,1.3,1.25,1.0,1.2,1", "high"),
    ("low above min(open, close)", "2024-01-02T00:01:00Z,1.1,1.3,1.15,1.2,1", "low"),
    ("low above close", "2024-01-02T00:01:00Z,1.2,1.3,1.15,1.1,1", "low"),
    ("non-positive price", "2024-01-02T00:01:00Z,1.1,1.2,0,1.1,1", "positive"),
    ("negative price", "2024-01-02T00:01:00Z,-1.1,1.2,-2,1.1,1", "positive"),
    ("off the grid", "2024-01-02T00:01:30Z,1.1,1.2,1.0,1.1,1", "grid"),
    ("fractional second", "2024-01-02T00:01:00.5Z,1.1,1.2,1.0,1.1,1", "grid"),
    ("duplicate timestamp", "2024-01-02T00:00:00Z,1.1,1.2,1.0,1.1,1", "duplicate"),
    ("unparsable price", "2024-01-02T00:01:00Z,abc,1.2,1.0,1.1,1", "open"),
    ("NaN price", "2024-01-02T00:01:00Z,NaN,1.2,1.0,1.1,1", "finite"),
    ("infinite price", "2024-01-02T00:01:00Z,1.1,Infinity,1.0,1.1,1", "finite"),
    ("unparsable timestamp", "yesterday,1.1,1.2,1.0,1.1,1", "timestamp"),
    ("negative volume", "2024-01-02T00:01:00Z,1.1,1.2,1.0,1.1,-1", "volume"),
    ("missing field", "2024-01-02T00:01:00Z,1.1,1.2,1.0,1.1", "6 fields"),
    ("extra field", "2024-01-02T00:01:00Z,1.1,1.2,1.0,1.1,1,9", "6 fields"),
    ("huge exponent", "2024-01-02T00:01:00Z,1E-90000,1.2,1E-90000,1.1,1", "decimals"),
    ("price too large", "2024-01-02T00:01:00Z,1E+13,1E+13,1.0,1.1,1", "below"),
    ("underscore digits", "2024-01-02T00:01:00Z,1_1,1.2,1.0,1.1,1", "open"),
    ("non-ASCII digits", "2024-01-02T00:01:00Z,\u0661.1,1.2,1.0,1.1,1", "open"),
]


@pytest.mark.parametrize(("rule", "bad", "fragment"), BAD_ROWS, ids=[r[0] for r in BAD_ROWS])
async def test_each_rejection_rule_names_the_row_and_stores_nothing(
    client: httpx.AsyncClient,
    tokens: TokenFactory,
    iid: int,
    trading_app: Any,
    rule: str,
    bad: str,
    fragment: str,
) -> None:
    lines = [HEADER, GOOD[0], bad, GOOD[2]]  # the bad one is data row 2, line 3
    resp = await post_csv(client, tokens, iid, lines)
    assert resp.status_code == 422, f"{rule}: {resp.text}"
    detail = resp.json()["detail"]
    assert detail[0]["row"] == 2 and detail[0]["line"] == 3, detail
    assert fragment in detail[0]["msg"], detail
    assert await stored(trading_app) == []


async def test_rejected_file_leaves_existing_bars_untouched(
    client: httpx.AsyncClient, tokens: TokenFactory, iid: int, trading_app: Any
) -> None:
    assert (await post_csv(client, tokens, iid, [HEADER, *GOOD])).status_code == 200
    before = await stored(trading_app)
    aggregates = await stored(trading_app, "M5")
    changed = GOOD[0].replace("1.10020,10", "1.10030,99")
    resp = await post_csv(client, tokens, iid, [HEADER, changed, "2024-01-02T00:05:00Z,x,1,1,1,1"])
    assert resp.status_code == 422 and resp.json()["detail"][0]["row"] == 2
    assert await stored(trading_app) == before
    assert await stored(trading_app, "M5") == aggregates


async def test_wrong_header_is_422(
    client: httpx.AsyncClient, tokens: TokenFactory, iid: int, trading_app: Any
) -> None:
    resp = await post_csv(client, tokens, iid, ["time,open,high,low,close,volume", GOOD[0]])
    assert resp.status_code == 422
    detail = resp.json()["detail"]
    assert detail[0]["line"] == 1 and "header" in detail[0]["msg"]
    assert await stored(trading_app) == []


async def test_header_only_or_empty_file_is_422(
    client: httpx.AsyncClient, tokens: TokenFactory, iid: int
) -> None:
    assert (await post_csv(client, tokens, iid, [HEADER])).status_code == 422
    empty = await client.post(
        f"/instruments/{iid}/candles", content=b"", headers=csv_headers(tokens)
    )
    assert empty.status_code == 422
    assert (await client.post(
        f"/instruments/{iid}/candles", json=[], headers=admin(tokens)
    )).status_code == 422  # fmt: skip


async def test_header_may_carry_a_bom_spaces_and_blank_lines_are_skipped(
    client: httpx.AsyncClient, tokens: TokenFactory, iid: int
) -> None:
    body = "\ufeff" + HEADER.replace(",", ", ") + "\r\n" + GOOD[0] + "\r\n\r\n" + GOOD[1] + "\r\n"
    resp = await client.post(
        f"/instruments/{iid}/candles", content=body.encode(), headers=csv_headers(tokens)
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["imported"] == 2


async def test_quoted_fields_cr_line_ends_and_exponents_are_read_exactly(
    client: httpx.AsyncClient, tokens: TokenFactory, iid: int, trading_app: Any
) -> None:
    quoted = [HEADER, '"2024-01-02T00:00:00Z","1.1","1.2","1.0","1.15","3"']
    assert (await post_csv(client, tokens, iid, quoted)).status_code == 200
    old_mac = "\r".join([HEADER, "2024-01-02T00:01:00Z,1.1,1.2,1.0,1.15,3"]) + "\r"
    resp = await client.post(
        f"/instruments/{iid}/candles", content=old_mac, headers=csv_headers(tokens)
    )
    assert resp.status_code == 200, resp.text
    exp = [HEADER, "2024-01-02T00:02:00Z,1.1E0,1.2,1.0E0,115E-2,3E1"]
    assert (await post_csv(client, tokens, iid, exp)).status_code == 200
    rows = await stored(trading_app)
    assert [r[4] for r in rows] == [Decimal("1.15")] * 3
    assert rows[2][1] == Decimal("1.1") and rows[2][5] == 30


async def test_many_bad_rows_are_reported_in_order_and_capped(
    client: httpx.AsyncClient, tokens: TokenFactory, iid: int
) -> None:
    lines = [HEADER] + [f"2024-01-02T00:{m:02d}:00Z,1.1,1.0,1.0,1.1,1" for m in range(50)]
    resp = await post_csv(client, tokens, iid, lines)
    assert resp.status_code == 422
    rows = [e["row"] for e in resp.json()["detail"]]
    assert rows == list(range(1, 21))


async def test_duplicates_name_both_rows_even_when_unsorted(
    client: httpx.AsyncClient, tokens: TokenFactory, iid: int
) -> None:
    lines = [HEADER, GOOD[2], GOOD[0], GOOD[1], GOOD[0]]
    resp = await post_csv(client, tokens, iid, lines)
    assert resp.status_code == 422
    (err,) = resp.json()["detail"]
    assert err["row"] == 4 and err["line"] == 5
    assert "first at row 2" in err["msg"]


T = "2024-01-02T00:00:00Z"


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        ([{"timestamp": T, "open": 1, "high": 1, "low": 1, "close": 1}], "volume"),
        ([{"open": 1, "high": 1, "low": 1, "close": 1, "volume": 1}], "timestamp"),
        ([[T, 1, 1, 1, 1, 1]], "object"),
        ([{"ts": T, "open": True, "high": 1, "low": 1, "close": 1, "volume": 1}], "open"),
        ([{"ts": T, "open": 2, "high": 1, "low": 1, "close": 1, "volume": 1}], "high"),
    ],
)
async def test_json_rows_are_validated_and_named(
    client: httpx.AsyncClient,
    tokens: TokenFactory,
    iid: int,
    trading_app: Any,
    payload: list[Any],
    fragment: str,
) -> None:
    good = {"ts": "2024-01-02T00:05:00Z", "open": 1, "high": 1, "low": 1, "close": 1, "volume": 1}
    resp = await client.post(
        f"/instruments/{iid}/candles", json=[good, *payload], headers=admin(tokens)
    )
    assert resp.status_code == 422, resp.text
    err = resp.json()["detail"][0]
    assert err["row"] == 2 and err["loc"] == ["body", 2]
    assert fragment in err["msg"]
    assert await stored(trading_app) == []


async def test_json_that_is_not_an_array_is_422_and_malformed_json_is_400(
    client: httpx.AsyncClient, tokens: TokenFactory, iid: int
) -> None:
    obj = await client.post(f"/instruments/{iid}/candles", json={"a": 1}, headers=admin(tokens))
    assert obj.status_code == 422
    assert obj.json()["detail"][0]["msg"] == "expected a JSON array of candles"
    # 50,000 keys (0.8 MB): refused from the first bytes, not after parsing them all.
    wide = json.dumps({f"k{i:05d}": i for i in range(50_000)}).encode()
    started = time.perf_counter()
    obj = await client.post(
        f"/instruments/{iid}/candles",
        content=wide,
        headers={**admin(tokens), "Content-Type": "application/json"},
    )
    assert obj.status_code == 422
    assert time.perf_counter() - started < 0.1
    bar = {"ts": 1_704_153_600, "open": 1, "high": 2, "low": 1, "close": 2, "volume": 5}
    obj = await client.post(
        f"/instruments/{iid}/candles", json={"candles": [bar]}, headers=admin(tokens)
    )
    assert obj.status_code == 200, obj.text
    assert obj.json()["imported"] == 1
    bad = await client.post(
        f"/instruments/{iid}/candles",
        content=b"[{",
        headers={**admin(tokens), "Content-Type": "application/json"},
    )
    assert bad.status_code == 400 and bad.json() == {"detail": "Malformed JSON body"}


async def test_reimport_is_an_upsert(
    client: httpx.AsyncClient, tokens: TokenFactory, iid: int, trading_app: Any
) -> None:
    """Re-importing an existing bar replaces it; new bars in the same file are inserted."""
    assert (await post_csv(client, tokens, iid, [HEADER, *GOOD])).status_code == 200
    changed = GOOD[1].replace("1.10070,12", "1.10060,30")
    new = "2024-01-02T00:03:00Z,1.10010,1.10020,1.10000,1.10015,4"
    resp = await post_csv(client, tokens, iid, [HEADER, changed, new])
    assert resp.status_code == 200
    body = resp.json()
    assert (body["imported"], body["inserted"], body["updated"]) == (2, 1, 1)
    rows = await stored(trading_app)
    assert len(rows) == 4
    assert rows[1][4:] == (Decimal("1.10060"), Decimal("30"))
    (m5,) = await stored(trading_app, "M5")
    assert m5[4] == Decimal("1.10015") and m5[5] == Decimal("10") + 30 + 7 + 4
    # The very same file again: every bar updated, nothing new.
    again = await post_csv(client, tokens, iid, [HEADER, changed, new])
    assert (again.json()["inserted"], again.json()["updated"]) == (0, 2)


async def test_grid_follows_the_instruments_base_timeframe(
    client: httpx.AsyncClient, tokens: TokenFactory, iid: int
) -> None:
    await client.put(f"/instruments/{iid}", json={"base_timeframe": "H1"}, headers=admin(tokens))
    resp = await post_csv(client, tokens, iid, [HEADER, GOOD[1]])  # 00:01 is off the H1 grid
    assert resp.status_code == 422 and "H1 grid" in resp.json()["detail"][0]["msg"]
    ok = await post_csv(client, tokens, iid, [HEADER, GOOD[0]])
    assert ok.status_code == 200


async def test_import_auth_and_unknown_instrument(
    client: httpx.AsyncClient, tokens: TokenFactory, iid: int
) -> None:
    body = "\n".join([HEADER, *GOOD])
    anon = await client.post(
        f"/instruments/{iid}/candles", content=body, headers={"Content-Type": "text/csv"}
    )
    assert anon.status_code == 401
    trader = await client.post(
        f"/instruments/{iid}/candles",
        content=body,
        headers={**tokens.headers(5), "Content-Type": "text/csv"},
    )
    assert trader.status_code == 403
    missing = await client.post(
        "/instruments/9999/candles", content=body, headers=csv_headers(tokens)
    )
    assert missing.status_code == 404


async def test_unsupported_content_type_is_415(
    client: httpx.AsyncClient, tokens: TokenFactory, iid: int
) -> None:
    resp = await client.post(
        f"/instruments/{iid}/candles",
        content=b"<xml/>",
        headers={**admin(tokens), "Content-Type": "application/xml"},
    )
    assert resp.status_code == 415 and "detail" in resp.json()


@pytest.mark.in_process_only  # overrides the app's limit in-process
async def test_body_over_the_cap_is_413_in_trading_format(
    client: httpx.AsyncClient, tokens: TokenFactory, iid: int, trading_app: Any
) -> None:
    trading_app.dependency_overrides[import_max_bytes] = lambda: 100
    try:
        body = "\n".join([HEADER, *GOOD]).encode()
        declared = await client.post(
            f"/instruments/{iid}/candles", content=body, headers=csv_headers(tokens)
        )
        assert declared.status_code == 413
        assert declared.json() == {"detail": "Request body exceeds 100 bytes"}

        async def chunks():  # type: ignore[no-untyped-def]
            for _ in range(10):
                yield b"x" * 50

        streamed = await client.post(
            f"/instruments/{iid}/candles", content=chunks(), headers=csv_headers(tokens)
        )
        assert streamed.status_code == 413
    finally:
        trading_app.dependency_overrides.pop(import_max_bytes, None)


@pytest.mark.slow
async def test_bulk_import_of_100k_m1_bars_is_fast(
    client: httpx.AsyncClient, tokens: TokenFactory, iid: int, trading_app: Any
) -> None:
    """The bulk path (COPY, then set-based aggregation): 100,000 M1 bars in one request."""
    start = datetime(2024, 1, 1, tzinfo=UTC)
    n = 100_000
    out = [HEADER]
    price = 110000
    for i in range(n):
        ts = start + timedelta(minutes=i)
        o = price
        price += (i * 7919) % 21 - 10
        hi, lo = max(o, price) + 3, min(o, price) - 3
        prices = ",".join(f"{p / 1e5:.5f}" for p in (o, hi, lo, price))
        out.append(f"{ts:%Y-%m-%dT%H:%M:%SZ},{prices},{i % 50}")
    body = ("\n".join(out) + "\n").encode()
    began = time.perf_counter()
    resp = await client.post(
        f"/instruments/{iid}/candles", content=body, headers=csv_headers(tokens)
    )
    elapsed = time.perf_counter() - began
    assert resp.status_code == 200, resp.text
    assert resp.json()["inserted"] == n
    # Generous: the machine is shared; a million bars is measured by `make bench`.
    assert elapsed < 60, f"{n} bars took {elapsed:.1f}s"
    async with trading_app.state.db.engine.connect() as conn:
        counts = dict(
            (
                await conn.execute(
                    text("SELECT timeframe, count(*) FROM candles GROUP BY timeframe")
                )
            ).all()
        )
    assert counts["M1"] == n
    assert counts["H1"] == -(-n // 60)
    assert counts["D1"] == -(-n // 1440)
    assert counts["W1"] == 10  # 69.4 days from a Monday


# --- A first import is stored while it is read (one COPY fed chunk by chunk) ---


def _m1_lines(n: int, start: datetime = datetime(2024, 1, 1, tzinfo=UTC)) -> list[str]:
    out = [HEADER]
    price = 110000
    for i in range(n):
        o = price
        price += (i * 7919) % 21 - 10
        hi, lo = max(o, price) + 3, min(o, price) - 3
        prices = ",".join(f"{p / 1e5:.5f}" for p in (o, hi, lo, price))
        out.append(f"{start + timedelta(minutes=i):%Y-%m-%dT%H:%M:%SZ},{prices},{i % 50}")
    return out


async def _everything(app: Any, instrument_id: int) -> list[tuple[Any, ...]]:
    async with app.state.db.engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT timeframe, ts, open::text, high::text, low::text, close::text, "
                "volume::text FROM candles WHERE instrument_id = :iid ORDER BY timeframe, ts"
            ),
            {"iid": instrument_id},
        )
        return [tuple(r) for r in rows]


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunks of ~64 lines, so a small file streams in many COPY batches."""
    from trading_service.candles import importer

    monkeypatch.setattr(importer, "_CHUNK_BYTES", 4096)


async def test_a_first_import_streamed_stores_what_the_validate_first_path_stores(
    client: httpx.AsyncClient,
    tokens: TokenFactory,
    iid: int,
    trading_app: Any,
    small_chunks: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from trading_service.candles import service

    lines = _m1_lines(3000)
    lines[1500] = lines[1500].replace(",1.1", ",1.10000", 1)  # another display scale
    resp = await post_csv(client, tokens, iid, lines)
    assert resp.status_code == 200, resp.text
    streamed = resp.json()
    monkeypatch.setattr(service, "stream_csv", lambda data, tf: None)
    other = await client.post(
        "/instruments",
        json={
            "symbol": "OTHER",
            "digits": 5,
            "contract_size": 100000,
            "min_volume": 0.01,
            "volume_step": 0.01,
            "max_volume": 100,
        },
        headers=admin(tokens),
    )
    other_id = other.json()["id"]
    resp = await post_csv(client, tokens, other_id, lines)
    assert resp.status_code == 200, resp.text
    assert resp.json() == streamed == {**streamed, "imported": 3000, "inserted": 3000, "updated": 0}
    mine, theirs = await _everything(trading_app, iid), await _everything(trading_app, other_id)
    assert len(mine) > 3000 and mine == theirs


async def test_a_bad_row_after_streamed_chunks_stores_nothing_and_is_named(
    client: httpx.AsyncClient, tokens: TokenFactory, iid: int, trading_app: Any, small_chunks: None
) -> None:
    """Chunks before the bad row were already in the COPY: it is abandoned, the file is
    validated whole, and the answer is the usual one."""
    lines = _m1_lines(2000)
    lines[1901] = lines[1901].split(",", 1)[0] + ",1.1,1.05,1.0,1.1,5"  # high below open
    resp = await post_csv(client, tokens, iid, lines)
    assert resp.status_code == 422, resp.text
    detail = resp.json()["detail"]
    assert [(d["row"], d["line"], d["type"]) for d in detail] == [(1901, 1902, "ohlc")]
    assert await _everything(trading_app, iid) == []


@pytest.mark.parametrize("kind", ["exponent", "unsorted", "duplicate"])
async def test_a_late_line_numpy_does_not_take_falls_back_to_validating_first(
    client: httpx.AsyncClient,
    tokens: TokenFactory,
    iid: int,
    trading_app: Any,
    small_chunks: None,
    kind: str,
) -> None:
    lines = _m1_lines(2000)
    if kind == "exponent":  # valid, but for the per-row rules: stored after all
        ts, rest = lines[1800].split(",", 1)
        lines[1800] = ts + "," + rest.replace(",", "E0,", 1)
    else:  # out of order across chunks: sorted, or rejected with both rows named
        lines[1700], lines[30] = lines[30], lines[1700]
        if kind == "duplicate":
            lines[1700] = lines[29].split(",", 1)[0] + "," + lines[1700].split(",", 1)[1]
    resp = await post_csv(client, tokens, iid, lines)
    if kind == "duplicate":
        assert resp.status_code == 422, resp.text
        assert [d["row"] for d in resp.json()["detail"]] == [1700]
        assert await _everything(trading_app, iid) == []
        return
    assert resp.status_code == 200, resp.text
    assert resp.json()["inserted"] == 2000
    rows = await _everything(trading_app, iid)
    assert sum(1 for r in rows if r[0] == "M1") == 2000
    assert sum(1 for r in rows if r[0] == "H1") == -(-2000 // 60)


async def test_a_streamed_import_notifies_the_stream_caches(
    client: httpx.AsyncClient, tokens: TokenFactory, iid: int, trading_db_url: str
) -> None:
    """The candles INSERT trigger fires for the COPY, as for any write."""
    import asyncio

    import asyncpg

    got: asyncio.Queue[str] = asyncio.Queue()
    conn = await asyncpg.connect(trading_db_url.replace("+asyncpg", ""))
    try:
        await conn.add_listener("trading_candles", lambda *args: got.put_nowait(args[3]))
        resp = await post_csv(client, tokens, iid, _m1_lines(500))
        assert resp.status_code == 200, resp.text
        assert await asyncio.wait_for(got.get(), 5) == str(iid)
    finally:
        await conn.close()

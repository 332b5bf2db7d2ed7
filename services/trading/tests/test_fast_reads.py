"""The hot read paths (issue 9) change no answer.

- `servicekit.fastpath`: GET /sessions/{id} and GET /sessions/{id}/candles answered before
  FastAPI's routing give the same status, body and headers as the routes themselves, for
  every case they take (DRAFT, PAUSED, RUNNING, limits) and every case they hand on (errors,
  `before`, odd queries, a clock that must be settled).
- The one-statement clock (`read_clocked` + `clock.reading_of`) agrees with the ORM path.
- Candles carry a content ETag: a repeat with If-None-Match is 304 without a body; a window
  the clock can no longer change (`before` <= current_ts) may be cached for a minute, the
  latest window is revalidated every time.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from servicekit.fastpath import FAST_READS
from trading_service.replay import clock
from trading_service.sessions.schemas import SessionOut, session_json

T0 = datetime(2024, 1, 1, tzinfo=UTC)  # Monday

in_process = pytest.mark.in_process_only
ANSWERED: list[bool] = []  # per `_both` call: did a fast read answer it


def _taken() -> float:
    return sum(
        s.value
        for metric in FAST_READS.collect()
        for s in metric.samples
        if s.name.endswith("_total") and s.labels["outcome"] == "answered"
    )


async def _both(client: httpx.AsyncClient, app: Any, url: str, **kw: Any) -> tuple[Any, Any]:
    """The same request answered with the fast reads on, then off (the routes alone); a
    200 with them on must have been answered by a fast read (or was handed on on purpose:
    the cases that say so)."""
    app.state.fast_reads = True
    before = _taken()
    fast = await client.get(url, **kw)
    ANSWERED.append(_taken() > before)
    app.state.fast_reads = False
    try:
        slow = await client.get(url, **kw)
    finally:
        app.state.fast_reads = True
    return fast, slow


def _same(fast: httpx.Response, slow: httpx.Response) -> None:
    assert fast.status_code == slow.status_code, (fast.text, slow.text)
    assert fast.content == slow.content
    for name in ("content-type", "etag", "cache-control", "www-authenticate"):
        assert fast.headers.get(name) == slow.headers.get(name), name


@pytest.fixture
async def setup(kit: Any) -> dict[str, Any]:
    iid = await kit.instrument()
    await kit.bars(iid, T0, 3 * 1440, timedelta(minutes=1))
    draft = await kit.session(iid, timeframe="M5")
    paused = await kit.session(iid, timeframe="M15")
    owner = kit.tokens.headers(1)
    await kit.client.post(f"/sessions/{paused['id']}/start", headers=owner)
    await kit.client.post(
        f"/sessions/{paused['id']}/seek", json={"ts": "2024-01-02T10:07:00Z"}, headers=owner
    )
    await kit.client.post(f"/sessions/{paused['id']}/pause", headers=owner)
    return {"iid": iid, "draft": draft["id"], "paused": paused["id"], "owner": owner}


@in_process
async def test_fast_session_reads_answer_as_the_route_does(
    kit: Any, setup: dict[str, Any], trading_app: Any
) -> None:
    owner, other = setup["owner"], kit.tokens.headers(2)
    cases = [
        (f"/sessions/{setup['draft']}", owner),
        (f"/sessions/{setup['paused']}", owner),
        (f"/sessions/{setup['paused']}", kit.admin),
        (f"/sessions/{setup['paused']}?unknown=1", owner),
        # handed on: 401, 403, 404 (missing, and past the id column's range)
        (f"/sessions/{setup['paused']}", {}),
        (f"/sessions/{setup['paused']}", {"Authorization": "Bearer nonsense"}),
        (f"/sessions/{setup['paused']}", other),
        ("/sessions/999999", owner),
        ("/sessions/99999999999999", owner),
    ]
    ANSWERED.clear()
    for url, headers in cases:
        fast, slow = await _both(kit.client, trading_app, url, headers=headers)
        _same(fast, slow)
    assert ANSWERED == [True] * 4 + [False] * 5


@in_process
async def test_fast_candle_reads_answer_as_the_route_does(
    kit: Any, setup: dict[str, Any], trading_app: Any
) -> None:
    owner = setup["owner"]
    base = f"/sessions/{setup['paused']}/candles"
    cases = [
        base,
        f"{base}?limit=1",
        f"{base}?limit=7",
        f"{base}?limit=5000",
        f"/sessions/{setup['draft']}/candles",
        # handed on: validation, `before`, repeated names
        f"{base}?limit=0",
        f"{base}?limit=5001",
        f"{base}?limit=07",
        f"{base}?limit=x",
        f"{base}?limit=3&limit=4",
        f"{base}?before=2024-01-02T09:00:00Z",
        f"{base}?before=2024-01-02T09:00:00Z&limit=3",
    ]
    ANSWERED.clear()
    for url in cases:
        fast, slow = await _both(kit.client, trading_app, url, headers=owner)
        _same(fast, slow)
    assert ANSWERED == [True] * 5 + [False] * 7
    fast, slow = await _both(kit.client, trading_app, base)  # no token: 401 either way
    _same(fast, slow)
    assert fast.status_code == 401


async def test_candles_json_is_the_stored_values_in_order(kit: Any, setup: dict[str, Any]) -> None:
    """The array PostgreSQL builds: oldest first, `Z` timestamps, the stored decimals as JSON
    numbers, nothing after current_ts (10:00 is the last M15 bar at 10:07)."""
    resp = await kit.client.get(
        f"/sessions/{setup['paused']}/candles?limit=2", headers=setup["owner"]
    )
    assert resp.status_code == 200
    body = resp.json()
    assert body["current_ts"] == "2024-01-02T10:00:00Z"
    assert [c["ts"] for c in body["candles"]] == ["2024-01-02T09:45:00Z", "2024-01-02T10:00:00Z"]
    stored = await kit.sql(
        "SELECT open, high, low, close, volume FROM candles WHERE instrument_id = :iid "
        "AND timeframe = 'M15' AND ts = '2024-01-02T10:00:00Z'",
        iid=setup["iid"],
    )
    candle = body["candles"][1]
    got = [Decimal(str(candle[k])) for k in ("open", "high", "low", "close", "volume")]
    assert got == list(stored[0])
    assert '"ts":"2024-01-02T10:00:00Z"' in resp.text


async def test_candles_revalidate_with_their_etag(kit: Any, setup: dict[str, Any]) -> None:
    owner = setup["owner"]
    url = f"/sessions/{setup['paused']}/candles?limit=10"
    first = await kit.client.get(url, headers=owner)
    etag = first.headers["etag"]
    assert first.headers["cache-control"] == "private, no-cache"  # the clock may move it
    again = await kit.client.get(url, headers={**owner, "If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    listed = await kit.client.get(url, headers={**owner, "If-None-Match": f'"x", W/{etag}'})
    assert listed.status_code == 304
    stale = await kit.client.get(url, headers={**owner, "If-None-Match": '"something-else"'})
    assert stale.status_code == 200
    assert stale.content == first.content

    # One more bar revealed: the window changed, so did its tag.
    await kit.client.post(f"/sessions/{setup['paused']}/step", headers=owner)
    moved = await kit.client.get(url, headers={**owner, "If-None-Match": etag})
    assert moved.status_code == 200
    assert moved.headers["etag"] != etag


async def test_history_windows_may_be_cached(kit: Any, setup: dict[str, Any]) -> None:
    owner = setup["owner"]
    base = f"/sessions/{setup['paused']}/candles?limit=3"
    past = await kit.client.get(f"{base}&before=2024-01-02T09:00:00Z", headers=owner)
    assert past.status_code == 200
    assert past.headers["cache-control"] == "private, max-age=60"
    # `before` after current_ts: the window still ends at the clock, which moves.
    ahead = await kit.client.get(f"{base}&before=2024-01-03T00:00:00Z", headers=owner)
    assert ahead.headers["cache-control"] == "private, no-cache"


async def test_one_statement_clock_agrees_with_the_orm_path(
    kit: Any, setup: dict[str, Any]
) -> None:
    """A RUNNING M1 clock at 2x whose anchor is 4.4 s old: floor(4.4 x 2) = 8 bars due, so
    current_ts moves from 10:07 to 10:15 (bars every minute), in both readings."""
    owner = setup["owner"]
    sid = setup["paused"]
    await kit.sql("UPDATE trading_sessions SET timeframe = 'M1' WHERE id = :id", id=sid)
    await kit.client.put(f"/sessions/{sid}", json={"speed": "2x"}, headers=owner)
    await kit.client.post(f"/sessions/{sid}/resume", headers=owner)
    await kit.sql(
        "UPDATE trading_sessions SET current_ts = '2024-01-02T10:07:00Z', "
        "anchor_at = clock_timestamp() - interval '4.4 seconds' WHERE id = :id",
        id=sid,
    )
    resp = await kit.client.get(f"/sessions/{sid}", headers=owner)
    assert resp.json()["current_ts"] == "2024-01-02T10:15:00Z"
    assert resp.json()["session_status"] == "RUNNING"


def test_reading_of_mirrors_read() -> None:
    """`clock.reading_of` from the statement's columns, by hand: 3 bars due and 3 found
    with more after: RUNNING on the third; fewer found than due: COMPLETED on the last one
    found; none found: COMPLETED where it stood; a bar due exactly at the end: COMPLETED."""
    at = datetime(2024, 1, 2, 10, tzinfo=UTC)
    later = at + timedelta(minutes=3)
    running = clock.reading_of("RUNNING", at, 3, 3, later, True)
    assert (running.status, running.current_ts, running.just_completed) == (
        "RUNNING",
        later,
        False,
    )
    short = clock.reading_of("RUNNING", at, 5, 3, later, None)
    assert (short.status, short.current_ts, short.just_completed) == ("COMPLETED", later, True)
    none = clock.reading_of("RUNNING", at, 5, 0, None, None)
    assert (none.status, none.current_ts, none.just_completed) == ("COMPLETED", at, True)
    end = clock.reading_of("RUNNING", at, 3, 3, later, False)
    assert (end.status, end.current_ts, end.just_completed) == ("COMPLETED", later, True)
    idle = clock.reading_of("PAUSED", at, 0, None, None, None)
    assert (idle.status, idle.current_ts) == ("PAUSED", at)


def test_session_json_is_session_out() -> None:
    """The fast builder writes what `SessionOut` writes, for integral and fractional
    leverage, a null end_ts and microsecond timestamps."""
    from trading_service.sessions.models import TradingSession

    for leverage, end in ((Decimal("100.0000"), None), (Decimal("1.5000"), T0)):
        row = TradingSession(
            id=7,
            user_id=3,
            instrument_id=2,
            timeframe="M5",
            session_status="PAUSED",
            speed="0.5x",
            start_ts=T0 - timedelta(days=1),
            end_ts=end,
            initial_balance=Decimal("10000.50"),
            leverage=leverage,
            spread_pts=20,
            slippage_pts=0,
            commission_per_fill=Decimal("0.00"),
            created_at=datetime(2026, 1, 1, 1, 2, 3, 456789, tzinfo=UTC),
            updated_at=datetime(2026, 1, 1, 1, 2, 4, tzinfo=UTC),
            current_ts=T0 - timedelta(hours=1),
        )
        from servicekit.responses import dumps

        values = {c.key: getattr(row, c.key) for c in TradingSession.__table__.columns}
        assert dumps(session_json(values)) == SessionOut.build(row).model_dump_json().encode()


@pytest.fixture
async def traded(kit: Any, setup: dict[str, Any]) -> dict[str, Any]:
    """The PAUSED session with a closed BUY (a COMMISSION, a PROFIT), an open SELL with
    levels, an open BUY, and a pending LIMIT far from the market."""
    owner, sid = setup["owner"], setup["paused"]
    first = await kit.client.post(
        f"/sessions/{sid}/positions", json={"side": "BUY", "volume": 1}, headers=owner
    )
    assert first.status_code == 201, first.text
    await kit.client.post(f"/sessions/{sid}/step", json={"bars": 3}, headers=owner)
    closed = await kit.client.post(f"/positions/{first.json()['id']}/close", headers=owner)
    assert closed.status_code == 200, closed.text
    for body in (
        {"side": "SELL", "volume": 0.5, "stop_loss": 1.2, "take_profit": 1.0},
        {"side": "BUY", "volume": 0.25},
    ):
        made = await kit.client.post(f"/sessions/{sid}/positions", json=body, headers=owner)
        assert made.status_code == 201, made.text
    order = await kit.client.post(
        f"/sessions/{sid}/orders",
        json={"type": "LIMIT", "side": "BUY", "volume": 1, "price": 1.05},
        headers=owner,
    )
    assert order.status_code == 201, order.text
    return setup


@in_process
async def test_fast_trading_reads_answer_as_the_routes_do(
    kit: Any, traded: dict[str, Any], trading_app: Any
) -> None:
    owner, sid, draft = traded["owner"], traded["paused"], traded["draft"]
    cases = []
    for name, extra in (
        ("positions", ["status=OPEN", "status=CLOSED", "status=open", "page=2&limit=1"]),
        ("transactions", ["type=COMMISSION", "type=PROFIT", "type=x", "limit=2&page=2"]),
        ("account", ["anything=1"]),
    ):
        base = f"/sessions/{sid}/{name}"
        cases += [base, f"/sessions/{draft}/{name}", *(f"{base}?{q}" for q in extra)]
        cases += [
            f"{base}?page=0",
            f"{base}?limit=101",
            f"{base}?page=01",
            f"{base}?limit=1&limit=2",
        ]
        cases += [f"{base}?page=99999", "/sessions/424242/" + name]
    ANSWERED.clear()
    for url in cases:
        fast, slow = await _both(kit.client, trading_app, url, headers=owner)
        _same(fast, slow)
        # A leading zero or a repeated name is the route's to read (it takes them).
        # (The account reads no parameters: it answers whatever the query holds.)
        plain = "/account" in url or ("=01" not in url and "limit=1&limit" not in url)
        assert ANSWERED[-1] == (fast.status_code == 200 and plain), url
    positions = (await kit.client.get(f"/sessions/{sid}/positions", headers=owner)).json()
    assert positions["total"] == 3
    assert [p["status"] for p in positions["positions"]] == ["CLOSED", "OPEN", "OPEN"]
    account = (await kit.client.get(f"/sessions/{sid}/account", headers=owner)).json()
    assert (account["open_positions"], account["pending_orders"]) == (2, 1)
    ledger = (await kit.client.get(f"/sessions/{sid}/transactions", headers=owner)).json()
    # DEPOSIT, then per fill a COMMISSION (4 fills: open, close, open, open) and one PROFIT.
    assert [t["type"] for t in ledger["transactions"]].count("COMMISSION") == 4
    assert ledger["total"] == 6


async def test_position_json_is_position_out(kit: Any, traded: dict[str, Any]) -> None:
    """The hot builder writes what `positions.service.out` writes, for open (marked) and
    closed positions, with and without levels."""
    from servicekit.responses import dumps
    from trading_service.positions import repository as positions_repo
    from trading_service.positions import service as positions_service
    from trading_service.positions.models import Position
    from trading_service.replay import matching as m

    costs = m.Costs(
        spread=Decimal("0.00020"),
        slip=Decimal("0.00005"),
        contract_size=Decimal(100000),
        commission=Decimal("7.00"),
        leverage=Decimal(100),
    )
    rows = await kit.sql(
        f"SELECT {positions_repo.COLUMNS} FROM positions WHERE session_id = :sid ORDER BY id",  # noqa: S608
        sid=traded["paused"],
    )
    assert len(rows) == 3
    for r in rows:
        values = dict(r._mapping)
        position = Position(**values)
        for bid in (None, Decimal("1.10123")):
            want = positions_service.out(position, bid=bid, costs=costs).model_dump_json()
            got = dumps(positions_service.position_json(values, bid=bid, costs=costs))
            assert got == want.encode()


@in_process
async def test_a_cached_window_never_outlives_a_candle_write(
    kit: Any, setup: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second read of an unchanged window comes from the process's cache (no candle
    query); any write to the instrument's bars (here an UPDATE by SQL, as a re-import would
    do) bumps its candle version in the same transaction, so the next read sees it."""
    from trading_service.replay import bars as replay_bars

    calls: list[int] = []
    real = replay_bars.visible_window_json

    async def counted(*args: Any, **kw: Any) -> str:
        calls.append(1)
        return await real(*args, **kw)

    monkeypatch.setattr(replay_bars, "visible_window_json", counted)
    owner, url = setup["owner"], f"/sessions/{setup['paused']}/candles?limit=3"
    first = await kit.client.get(url, headers=owner)
    again = await kit.client.get(url, headers=owner)
    assert again.content == first.content
    assert again.headers["etag"] == first.headers["etag"]
    assert len(calls) == 1  # the second came from the cache

    await kit.sql(
        "UPDATE candles SET close = 2.5 WHERE instrument_id = :iid AND timeframe = 'M15' "
        "AND ts = '2024-01-02T10:00:00Z'",
        iid=setup["iid"],
    )
    after = await kit.client.get(url, headers=owner)
    assert len(calls) == 2
    assert after.json()["candles"][-1]["close"] == 2.5
    assert after.headers["etag"] != first.headers["etag"]


async def test_every_candle_write_renews_a_version(kit: Any, setup: dict[str, Any]) -> None:
    """Migration 0007: a candle write that says which instrument it is for (as the
    service's writers do) gives that instrument a new version; one that does not (SQL by
    hand, TRUNCATE) renews the generation every window depends on. Never a value used
    before: one sequence, not reset with the tables."""
    iid = setup["iid"]
    seen: list[int] = []

    async def renewed(table: str) -> None:
        where = " WHERE instrument_id = :iid" if table == "candle_versions" else ""
        rows = await kit.sql(f"SELECT version FROM {table}{where}", iid=iid)  # noqa: S608
        seen.append(int(rows[0][0]))
        assert seen[-1] not in seen[:-1], table

    def tagged(statement: str) -> str:
        return (
            "DO $$ BEGIN PERFORM set_config('trading.candles_instrument', '"
            + str(iid)
            + "', true); "
            + statement
            + "; END $$"
        )

    await kit.sql("UPDATE candles_generation SET version = version")  # a generation to start
    await renewed("candles_generation")
    await kit.sql(
        tagged(f"INSERT INTO candles VALUES ({iid}, 'D1', '2030-01-01T00:00:00Z', 1, 1, 1, 1, 1)")  # noqa: S608
    )
    await renewed("candle_versions")
    await kit.sql(tagged(f"UPDATE candles SET volume = 2 WHERE instrument_id = {iid}"))  # noqa: S608
    await renewed("candle_versions")
    await kit.sql("UPDATE candles SET volume = 3 WHERE instrument_id = :iid", iid=iid)
    await renewed("candles_generation")
    await kit.sql(
        "DELETE FROM candles WHERE instrument_id = :iid AND ts = '2030-01-01T00:00:00Z'", iid=iid
    )
    await renewed("candles_generation")
    await kit.sql("TRUNCATE candles")
    await renewed("candles_generation")
    # Truncating the versions too (as the tests' cleanup does) restarts no sequence.
    await kit.sql("TRUNCATE candles, candle_versions RESTART IDENTITY")
    await kit.sql(
        tagged(f"INSERT INTO candles VALUES ({iid}, 'D1', '2030-01-01T00:00:00Z', 1, 1, 1, 1, 1)")  # noqa: S608
    )
    await renewed("candle_versions")


async def test_an_import_renews_its_instruments_version(kit: Any, setup: dict[str, Any]) -> None:
    """The import says which instrument it writes (`candles.repository.tag_writes`)."""
    iid = setup["iid"]
    before = await kit.sql(
        "SELECT version FROM candle_versions WHERE instrument_id = :iid", iid=iid
    )
    generation = await kit.sql("SELECT version FROM candles_generation")
    csv = "timestamp,open,high,low,close,volume\n2030-01-07T00:00:00Z,1.1,1.2,1.0,1.15,5\n"
    resp = await kit.client.post(
        f"/instruments/{iid}/candles",
        content=csv,
        headers={**kit.admin, "Content-Type": "text/csv"},
    )
    assert resp.status_code in (200, 201), resp.text
    after = await kit.sql("SELECT version FROM candle_versions WHERE instrument_id = :iid", iid=iid)
    assert (after[0][0] if after else 0) > (before[0][0] if before else 0)
    assert await kit.sql("SELECT version FROM candles_generation") == generation

"""Trading tests: a migrated database of their own, the app in-process, signed test tokens."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from devstack.testing import (
    TEST_AUDIENCE,
    TEST_ISSUER,
    PgCluster,
    TokenFactory,
    service_client,
    session_body,
)
from trading_service.config import Settings
from trading_service.main import ALEMBIC_INI, create_app
from trading_service.timeframes import Timeframe, available_timeframes


@pytest.fixture(scope="session")
def trading_db_url(pg_cluster: PgCluster) -> str:
    return pg_cluster.database("trading", ALEMBIC_INI, reuse=True)  # shared with gateway_stack


@pytest.fixture(scope="session")
async def trading_app(trading_db_url: str, tokens: TokenFactory):  # type: ignore[no-untyped-def]
    settings = Settings(
        database_url=trading_db_url,
        jwt_issuer=TEST_ISSUER,
        jwt_audience=TEST_AUDIENCE,
        jwks_url="http://127.0.0.1:9/unreachable",
        environment="test",
    )
    app = create_app(settings)
    app.state.verifier.add_jwks(tokens.jwks())
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def client(  # type: ignore[no-untyped-def]
    trading_app, request: pytest.FixtureRequest
) -> AsyncIterator[httpx.AsyncClient]:
    """In-process by default; through the real gateway with THROUGH_GATEWAY=1."""
    async with service_client(request, trading_app, "trading.test") as c:
        yield c


@pytest.fixture(autouse=True)
async def _clean_tables(trading_app) -> None:  # type: ignore[no-untyped-def]
    """Each test starts from empty tables (TRUNCATE is cheap at test sizes)."""
    async with trading_app.state.db.engine.begin() as conn:
        tables = [
            r[0]
            for r in await conn.execute(
                text(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                    "AND tablename <> 'alembic_version'"
                )
            )
        ]
        if tables:
            await conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))


# --- Sessions, lifecycle and replay clock (trading part B) ---


class ReplayKit:
    """What session tests need: instruments and candles written straight into their tables
    (base bars plus every aggregated timeframe, as the candle store keeps them), sessions
    through the API, and a RUNNING clock's anchor moved back in time (a fake clock)."""

    def __init__(self, client: httpx.AsyncClient, tokens: TokenFactory, app) -> None:  # type: ignore[no-untyped-def]
        self.client = client
        self.tokens = tokens
        self.app = app
        self.admin = tokens.headers(999_000, ["admin"])
        self._symbols = 0

    async def instrument(self, base_timeframe: str = "M1") -> int:
        self._symbols += 1
        rows = await self.sql(
            "INSERT INTO instruments (symbol, digits, point, contract_size, min_volume, "
            "volume_step, max_volume, base_timeframe) "
            "VALUES (:sym, 5, 0.00001, 100000, 0.01, 0.01, 100, :tf) RETURNING id",
            sym=f"TST{self._symbols}",
            tf=base_timeframe,
        )
        return int(rows[0][0])

    async def bars(
        self, instrument_id: int, start: datetime, count: int, step: timedelta
    ) -> list[datetime]:
        """Store `count` base bars from `start`, every `step`, and every timeframe aggregated
        from them (as the candle store keeps them); returns the base bars' open times."""
        times = [start + i * step for i in range(count)]
        rows = []
        for i, ts in enumerate(times):
            o = Decimal("1.10000") + Decimal(i % 97) / 100000
            c = o + Decimal((i % 7) - 3) / 100000
            hi, lo = max(o, c) + Decimal("0.00020"), min(o, c) - Decimal("0.00020")
            rows.append({"ts": ts, "o": o, "h": hi, "l": lo, "c": c, "v": 10 + i % 5})
        await self.store(instrument_id, rows)
        return times

    async def ohlc(
        self,
        instrument_id: int,
        start: datetime,
        rows: list[tuple[str, str, str, str]],
        step: timedelta = timedelta(minutes=1),
    ) -> list[datetime]:
        """Store exact base bars (open, high, low, close as decimal strings) from `start`,
        every `step`, with every timeframe aggregated from them; returns their open times."""
        times = [start + i * step for i in range(len(rows))]
        await self.store(
            instrument_id,
            [
                {
                    "ts": ts,
                    "o": Decimal(o),
                    "h": Decimal(h),
                    "l": Decimal(lo),
                    "c": Decimal(c),
                    "v": 1,
                }
                for ts, (o, h, lo, c) in zip(times, rows, strict=True)
            ],
        )
        return times

    async def store(self, instrument_id: int, rows: list[dict[str, Any]]) -> None:
        """Insert base bars (dicts with ts, o, h, l, c, v) and re-aggregate every timeframe."""
        base = (
            await self.sql(
                "SELECT base_timeframe FROM instruments WHERE id = :id", id=instrument_id
            )
        )[0][0]
        async with self.app.state.db.engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO candles (instrument_id, timeframe, ts, open, high, low, close, "
                    "volume) VALUES (:iid, :tf, :ts, :o, :h, :l, :c, :v)"
                ),
                [{"iid": instrument_id, "tf": base, **r} for r in rows],
            )
            for tf in available_timeframes(Timeframe(base))[1:]:
                await conn.execute(
                    text(
                        "INSERT INTO candles (instrument_id, timeframe, ts, open, high, low, "
                        "close, volume) SELECT instrument_id, :tf, "
                        "date_bin(make_interval(secs => :secs), ts, '2001-01-01T00:00:00Z'), "
                        "(array_agg(open ORDER BY ts))[1], max(high), min(low), "
                        "(array_agg(close ORDER BY ts DESC))[1], sum(volume) FROM candles "
                        "WHERE instrument_id = :iid AND timeframe = :base GROUP BY 1, 2, 3 "
                        "ON CONFLICT (instrument_id, timeframe, ts) DO UPDATE SET "
                        "open = EXCLUDED.open, high = EXCLUDED.high, low = EXCLUDED.low, "
                        "close = EXCLUDED.close, volume = EXCLUDED.volume"
                    ),
                    {"tf": tf.value, "secs": tf.seconds, "iid": instrument_id, "base": base},
                )

    def session_body(self, instrument_id: int, **overrides: object) -> dict[str, object]:
        window = {"start_ts": "2024-01-01T00:00:00Z", "end_ts": "2024-01-31T23:59:59Z"}
        return session_body(instrument_id, **{**window, **overrides})

    async def session(
        self, instrument_id: int, user_id: int = 1, **overrides: object
    ) -> dict[str, object]:
        resp = await self.client.post(
            "/sessions",
            json=self.session_body(instrument_id, **overrides),
            headers=self.tokens.headers(user_id),
        )
        assert resp.status_code == 201, resp.text
        out: dict[str, object] = resp.json()
        return out

    async def sql(self, statement: str, **params: object) -> list[Any]:
        async with self.app.state.db.engine.begin() as conn:
            result = await conn.execute(text(statement), params)
            return list(result) if result.returns_rows else []

    async def rewind_anchor(self, session_id: object, seconds: float) -> None:
        """Pretend a RUNNING clock was anchored `seconds` earlier (no sleeping in tests)."""
        await self.sql(
            "UPDATE trading_sessions SET anchor_at = anchor_at - make_interval(secs => :s) "
            "WHERE id = :id AND session_status = 'RUNNING'",
            s=seconds,
            id=session_id,
        )


@pytest.fixture
async def kit(client: httpx.AsyncClient, tokens: TokenFactory, trading_app) -> ReplayKit:  # type: ignore[no-untyped-def]
    return ReplayKit(client, tokens, trading_app)


# --- Event streams (GET /sessions/{id}/stream) ---


@pytest.fixture(scope="session")
async def live_trading_url(trading_app, request: pytest.FixtureRequest) -> AsyncIterator[str]:  # type: ignore[no-untyped-def]
    """A real HTTP server for streamed responses (httpx's ASGITransport buffers a whole body
    and never reports a disconnect); the real gateway with THROUGH_GATEWAY=1."""
    import asyncio
    import socket

    import uvicorn

    from devstack.testing import through_gateway

    if through_gateway():
        yield request.getfixturevalue("gateway_stack").gateway_url
        return
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        trading_app,
        lifespan="off",  # the app's lifespan already runs (trading_app)
        log_config=None,
        access_log=False,
        http="h11",
        ws="none",
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started and not task.done():  # noqa: ASYNC110 (uvicorn has only a flag)
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task
        sock.close()


@pytest.fixture
async def stream_client(live_trading_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client over real sockets, for `GET /sessions/{id}/stream`."""
    async with httpx.AsyncClient(base_url=live_trading_url, timeout=10) as c:
        yield c

"""Auction tests: a migrated database of their own, the app in-process, signed test tokens."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import text

from auction_service.config import Settings
from auction_service.main import ALEMBIC_INI, create_app
from devstack.testing import TEST_AUDIENCE, TEST_ISSUER, PgCluster, TokenFactory


@pytest.fixture(scope="session")
def auction_db_url(pg_cluster: PgCluster) -> str:
    return pg_cluster.database("auction", ALEMBIC_INI)


@pytest.fixture(scope="session")
async def auction_app(auction_db_url: str, tokens: TokenFactory):  # type: ignore[no-untyped-def]
    settings = Settings(
        database_url=auction_db_url,
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
async def client(auction_app) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    transport = httpx.ASGITransport(app=auction_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://auction.test") as c:
        yield c


@pytest.fixture(autouse=True)
async def _clean_tables(auction_app) -> None:  # type: ignore[no-untyped-def]
    """Each test starts from empty tables (TRUNCATE is cheap at test sizes)."""
    async with auction_app.state.db.engine.begin() as conn:
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

"""Auction tests: a migrated database of their own, the app in-process, signed test tokens."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, settings
from sqlalchemy import text

from auction_service.config import Settings
from auction_service.main import ALEMBIC_INI, create_app
from devstack.testing import TEST_AUDIENCE, TEST_ISSUER, PgCluster, TokenFactory, service_client


@pytest.fixture(scope="session")
def auction_db_url(pg_cluster: PgCluster) -> str:
    return pg_cluster.database("auction", ALEMBIC_INI, reuse=True)  # shared with gateway_stack


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
async def client(  # type: ignore[no-untyped-def]
    auction_app, request: pytest.FixtureRequest
) -> AsyncIterator[httpx.AsyncClient]:
    """In-process by default; through the real gateway with THROUGH_GATEWAY=1."""
    async with service_client(request, auction_app, "auction.test") as c:
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
            # ledger_entries refuses TRUNCATE by trigger; replica mode skips triggers (superuser).
            await conn.execute(text("SET LOCAL session_replication_role = replica"))
            await conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))


class AuctionApi:
    """Test helper: a commissioner's calls, with the envelope checked on every answer."""

    def __init__(self, client: httpx.AsyncClient, tokens: TokenFactory) -> None:
        self.client = client
        self.tokens = tokens

    def headers(self, user_id: int, roles: tuple[str, ...] = ("commissioner",)) -> dict[str, str]:
        return self.tokens.headers(user_id, list(roles))

    async def call(self, method: str, url: str, user_id: int = 1, **kw: Any) -> httpx.Response:
        headers = {**self.headers(user_id), **kw.pop("headers", {})}
        resp = await self.client.request(method, url, headers=headers, **kw)
        if resp.status_code != 204:
            body = resp.json()
            assert body["success"] is (resp.status_code < 400), body
            assert body["meta"]["timestamp"].endswith("Z"), body
            if resp.status_code >= 400:
                assert set(body["error"]) <= {"message", "code", "details"}, body
        return resp

    async def ok(
        self, method: str, url: str, user_id: int = 1, status: int = 200, **kw: Any
    ) -> Any:
        resp = await self.call(method, url, user_id, **kw)
        assert resp.status_code == status, resp.text
        return resp.json()["data"] if status != 204 else None

    async def masters(self, user_id: int = 1, suffix: str = "") -> dict[str, str]:
        """A category, product, farmer and buyer of this commissioner: their ids."""
        cat = await self.ok("POST", "/api/categories", user_id, 201, json={"name": "Veg" + suffix})
        prod = await self.ok(
            "POST",
            "/api/products",
            user_id,
            201,
            json={"name": "Tomatoes" + suffix, "category_id": cat["id"]},
        )
        farmer = await self.ok(
            "POST",
            "/api/farmers",
            user_id,
            201,
            json={"name": "John Farmer" + suffix, "phone": "+1234567890", "village": "Village"},
        )
        buyer = await self.ok(
            "POST",
            "/api/buyers",
            user_id,
            201,
            json={"name": "Jane Buyer" + suffix, "phone": "+0987654321"},
        )
        return {
            "category_id": cat["id"],
            "product_id": prod["id"],
            "farmer_id": farmer["id"],
            "buyer_id": buyer["id"],
        }

    async def session(self, user_id: int = 1, date: str | None = None) -> dict[str, Any]:
        body = {"date": date} if date else {}
        data: dict[str, Any] = await self.ok("POST", "/api/sessions", user_id, 201, json=body)
        return data

    async def item(
        self, session_id: str, m: dict[str, str], user_id: int = 1, **overrides: Any
    ) -> dict[str, Any]:
        body = {
            "farmer_id": m["farmer_id"],
            "product_id": m["product_id"],
            "buyer_id": m["buyer_id"],
            "unit": "KG",
            "quantity": 50.5,
            "final_price": 2525.0,
            **overrides,
        }
        data: dict[str, Any] = await self.ok(
            "POST", f"/api/sessions/{session_id}/items", user_id, 201, json=body
        )
        return data


@pytest.fixture
def api(client: httpx.AsyncClient, tokens: TokenFactory) -> AuctionApi:
    return AuctionApi(client, tokens)


def property_settings(examples: int) -> settings:
    """The money property tests' Hypothesis settings: `examples` per run (PROPERTY_EXAMPLES
    overrides), the same examples every run unless PROPERTY_RANDOM=1, no example database, no
    deadline (each example makes many requests)."""
    return settings(
        max_examples=int(os.environ.get("PROPERTY_EXAMPLES", str(examples))),
        deadline=None,
        database=None,
        derandomize=os.environ.get("PROPERTY_RANDOM") != "1",
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )

"""Issue 10, defect 1: one request must not stall a service. A body's cost is bounded before
pydantic sees it (`servicekit.bodies`), and a validation error lists at most 50 errors."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict

from servicekit.app import MAX_LISTED_ERRORS, detail_renderer, install_error_handlers
from servicekit.bodies import BodyGuard, BodyLimits
from servicekit.observability import RequestContextMiddleware

JSON = {"content-type": "application/json"}


class Order(BaseModel):
    model_config = ConfigDict(extra="forbid")
    volume: float
    tags: list[int] = []


def make_app(limits: BodyLimits = BodyLimits()) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app, detail_renderer)

    @app.post("/orders")
    async def create(order: Order) -> dict[str, Any]:
        return order.model_dump()

    @app.post("/import")
    async def bulk(body: list[dict[str, float]]) -> dict[str, int]:
        return {"n": len(body)}

    app.add_middleware(
        BodyGuard,
        render=detail_renderer,
        limits=limits,
        validation_status=422,
        validation_code="VALIDATION_ERROR",
        exempt=lambda method, path: path == "/import",
    )
    app.add_middleware(RequestContextMiddleware, service="test")
    return app


@pytest.fixture
async def client() -> Any:
    transport = httpx.ASGITransport(app=make_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        yield c


def wide(keys: int) -> bytes:
    """The defect's body: 50,000 unknown keys are 0.8 MB."""
    return json.dumps({"volume": 1, **{f"k{i:05d}": i for i in range(keys)}}).encode()


async def test_body_with_50000_unknown_keys_is_refused_at_once(client: httpx.AsyncClient) -> None:
    body = wide(50_000)
    assert 0.7e6 < len(body) < 1 << 20
    started = time.perf_counter()
    resp = await client.post("/orders", content=body, headers=JSON)
    elapsed = time.perf_counter() - started
    assert resp.status_code == 422
    assert resp.json() == {
        "detail": [
            {
                "loc": ["body"],
                "msg": "Body too complex: more than 10000 values in the body",
                "type": "too_complex",
            }
        ]
    }
    assert resp.headers["x-request-id"]
    assert len(resp.content) < 200
    # Before: 1.1-1.5 s. Now a parse and a length check: tens of ms on a loaded machine.
    assert elapsed < 0.25, elapsed


async def test_four_wide_bodies_at_once_do_not_freeze_other_requests(
    client: httpx.AsyncClient,
) -> None:
    body = wide(50_000)

    async def small() -> float:
        started = time.perf_counter()
        resp = await client.post("/orders", json={"volume": 0.5})
        assert resp.status_code == 200
        return time.perf_counter() - started

    results = await asyncio.gather(
        *(client.post("/orders", content=body, headers=JSON) for _ in range(4)), small()
    )
    assert all(r.status_code == 422 for r in results[:4])  # type: ignore[union-attr]
    assert results[4] < 0.5, results[4]  # before: 2-4 s


@pytest.mark.parametrize(
    ("raw", "loc", "msg"),
    [
        (
            b'{"volume": 1, "tags": ' + b"[" * 40 + b"]" * 40 + b"}",
            ["body", "tags", 0, 0],
            "nested deeper than 32 levels",
        ),
        (
            b'{"volume": 1, "tags": [' + b",".join([b"1"] * 1001) + b"]}",
            ["body", "tags"],
            "more than 1000 items in one array",
        ),
    ],
)
async def test_deep_and_long_bodies_are_refused(
    client: httpx.AsyncClient, raw: bytes, loc: list[Any], msg: str
) -> None:
    resp = await client.post("/orders", content=raw, headers=JSON)
    assert resp.status_code == 422, resp.text
    (err,) = resp.json()["detail"]
    assert err["msg"] == f"Body too complex: {msg}"
    assert err["loc"][:2] == loc[:2]


async def test_object_with_more_than_256_keys_is_refused(client: httpx.AsyncClient) -> None:
    raw = json.dumps({"volume": 1, **{f"k{i}": i for i in range(300)}}).encode()
    resp = await client.post("/orders", content=raw, headers=JSON)
    assert resp.status_code == 422
    assert resp.json()["detail"] == [
        {
            "loc": ["body"],
            "msg": "Body too complex: more than 256 keys in one object",
            "type": "too_complex",
        }
    ]


async def test_too_many_values_in_all_is_refused(client: httpx.AsyncClient) -> None:
    raw = json.dumps({"volume": 1, "x": [[1] * 100 for _ in range(101)]}).encode()  # 10,204 values
    resp = await client.post("/orders", content=raw, headers=JSON)
    assert resp.status_code == 422
    assert resp.json()["detail"][0]["msg"] == "Body too complex: more than 10000 values in the body"


async def test_nesting_past_the_parser_limit_is_the_malformed_body_error(
    client: httpx.AsyncClient,
) -> None:
    resp = await client.post("/orders", content=b"[" * 10_000 + b"]" * 10_000, headers=JSON)
    assert resp.status_code == 400
    assert resp.json() == {"detail": "There was an error parsing the body"}


async def test_body_over_one_mebibyte_is_413(client: httpx.AsyncClient) -> None:
    raw = b'{"volume": 1, "pad": "' + b"x" * (1 << 20) + b'"}'
    resp = await client.post("/orders", content=raw, headers=JSON)
    assert resp.status_code == 413
    assert resp.json() == {"detail": f"Request body larger than {1 << 20} bytes"}


async def test_body_without_content_length_over_the_limit_is_413(client: httpx.AsyncClient) -> None:
    async def chunks() -> Any:
        for _ in range(20):
            yield b"x" * 65_536

    resp = await client.post("/orders", content=chunks(), headers=JSON)
    assert resp.status_code == 413


async def test_valid_bodies_and_malformed_json_are_handled_as_before(
    client: httpx.AsyncClient,
) -> None:
    resp = await client.post("/orders", json={"volume": 0.5, "tags": list(range(1000))})
    assert resp.status_code == 200
    assert resp.json() == {"volume": 0.5, "tags": list(range(1000))}
    resp = await client.post("/orders", content=b"{bad", headers=JSON)
    assert resp.status_code == 400
    assert resp.json() == {"detail": "Malformed JSON body"}
    resp = await client.post("/orders", content=b"volume=1", headers={"content-type": "text/plain"})
    assert resp.status_code == 422


async def test_exempt_routes_take_large_bodies(client: httpx.AsyncClient) -> None:
    bars = [{"o": 1.0, "h": 2.0, "l": 0.5, "c": 1.5}] * 5_000
    resp = await client.post("/import", json=bars)
    assert resp.status_code == 200
    assert resp.json() == {"n": 5_000}


async def test_validation_errors_list_at_most_fifty(client: httpx.AsyncClient) -> None:
    raw = json.dumps({"volume": 1, **{f"k{i}": i for i in range(200)}}).encode()
    resp = await client.post("/orders", content=raw, headers=JSON)
    assert resp.status_code == 422
    assert MAX_LISTED_ERRORS == 50
    assert len(resp.json()["detail"]) == 50

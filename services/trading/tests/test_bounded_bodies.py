"""Issue 10, defect 1: one request must not stall the service. Wide, deep and long bodies sent
to any trading write are refused in milliseconds with a short 422, before validation."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from devstack.testing import TokenFactory

JSON = {"content-type": "application/json"}
WIDE = json.dumps({f"k{i:05d}": i for i in range(50_000)}).encode()  # 0.8 MB


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/sessions"),
        ("PUT", "/sessions/1"),
        ("POST", "/sessions/1/positions"),
        ("POST", "/sessions/1/orders"),
        ("POST", "/sessions/1/step"),
        ("POST", "/instruments"),
    ],
)
async def test_wide_bodies_are_refused_at_once(
    client: httpx.AsyncClient, tokens: TokenFactory, method: str, path: str
) -> None:
    started = time.perf_counter()
    resp = await client.request(
        method, path, content=WIDE, headers={**JSON, **tokens.headers(1, roles=["admin"])}
    )
    elapsed = time.perf_counter() - started
    assert resp.status_code == 422, resp.text[:300]
    assert resp.json() == {
        "detail": [
            {
                "loc": ["body"],
                "msg": "Body too complex: more than 10000 values in the body",
                "type": "too_complex",
            }
        ]
    }
    assert elapsed < 0.3, elapsed


async def test_the_candle_import_still_takes_large_bodies(
    client: httpx.AsyncClient, tokens: TokenFactory, kit: Any
) -> None:
    """The guard leaves the import alone: 2,000 bars of JSON pass the 1,000-item array cap."""
    iid = await kit.instrument()
    bars = [
        {
            "ts": 1_704_153_600 + 60 * i,
            "open": 1.1,
            "high": 1.2,
            "low": 1.0,
            "close": 1.15,
            "volume": 1,
        }
        for i in range(2_000)
    ]
    resp = await client.post(
        f"/instruments/{iid}/candles", json=bars, headers=tokens.headers(1, roles=["admin"])
    )
    assert resp.status_code == 200, resp.text[:300]
    assert resp.json()["imported"] == 2_000

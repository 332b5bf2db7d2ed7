"""The replay over bars imported through the public API (POST /instruments/{id}/candles):
the session's candles are exactly the stored bars up to current_ts, and nothing after."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

T0 = datetime(2024, 1, 1, tzinfo=UTC)


async def test_session_over_imported_csv_bars(kit: Any, client: httpx.AsyncClient) -> None:
    admin = kit.admin
    created = await client.post(
        "/instruments",
        json={
            "symbol": "EURUSD",
            "digits": 5,
            "contract_size": 100000,
            "min_volume": 0.01,
            "volume_step": 0.01,
            "max_volume": 100,
            "base_timeframe": "M1",
        },
        headers=admin,
    )
    assert created.status_code == 201, created.text
    iid = created.json()["id"]
    lines = ["timestamp,open,high,low,close,volume"]
    for i in range(6 * 60):  # six hours of M1
        ts = (T0 + timedelta(minutes=i)).strftime("%Y-%m-%dT%H:%M:%SZ")
        lines.append(
            f"{ts},1.1{i % 90:03d}0,1.1{i % 90 + 5:03d}0,1.0{i % 90:03d}0,1.1{i % 90:03d}0,1"
        )
    imported = await client.post(
        f"/instruments/{iid}/candles",
        content="\n".join(lines) + "\n",
        headers={**admin, "Content-Type": "text/csv"},
    )
    assert imported.status_code in (200, 201), imported.text

    h = kit.tokens.headers(1)
    session = await kit.session(
        iid, timeframe="H1", start_ts="2024-01-01T01:30:00Z", end_ts=None, speed="0.5x"
    )
    sid = session["id"]
    started = await client.post(f"/sessions/{sid}/start", headers=h)
    assert started.json()["current_ts"] == "2024-01-01T02:00:00Z"
    await client.post(f"/sessions/{sid}/pause", headers=h)
    stepped = await client.post(f"/sessions/{sid}/step", json={"bars": 2}, headers=h)
    assert stepped.json()["current_ts"] == "2024-01-01T04:00:00Z"

    mine = (await client.get(f"/sessions/{sid}/candles", headers=h)).json()
    raw = (
        await client.get(
            f"/instruments/{iid}/candles",
            params={"timeframe": "H1", "to": "2024-01-01T04:00:00Z"},
            headers=admin,
        )
    ).json()
    assert mine["candles"] == raw["candles"]
    assert [c["ts"] for c in mine["candles"]][-1] == "2024-01-01T04:00:00Z"
    assert len(mine["candles"]) == 5  # 00:00 .. 04:00; 05:00 is not revealed yet

    # The bar after the clock exists, and only the admin's raw read can see it.
    later = (
        await client.get(f"/instruments/{iid}/candles", params={"timeframe": "H1"}, headers=admin)
    ).json()
    assert later["candles"][-1]["ts"] == "2024-01-01T05:00:00Z"
    assert (
        await client.get(f"/instruments/{iid}/candles", params={"timeframe": "H1"}, headers=h)
    ).status_code == 403

    done = await client.post(f"/sessions/{sid}/step", json={"bars": 5}, headers=h)
    assert (done.json()["session_status"], done.json()["current_ts"]) == (
        "COMPLETED",
        "2024-01-01T05:00:00Z",
    )

    # An instrument a session uses cannot be deleted (the FK is RESTRICT).
    assert (await client.delete(f"/instruments/{iid}", headers=admin)).status_code == 409

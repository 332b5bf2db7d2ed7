"""SPEC 3, replay clock: `POST /sessions/{id}/step {until: "fill"}` reveals bars until the
next fill or the end (a replay's auto-pause), through the clock's one advance path."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

T0 = datetime(2024, 1, 1, tzinfo=UTC)
MIN = timedelta(minutes=1)


def bar(i: int) -> str:
    return (T0 + i * MIN).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
async def m1(kit: Any) -> int:
    """An instrument with 120 M1 bars from 2024-01-01T00:00Z."""
    iid: int = await kit.instrument()
    await kit.bars(iid, T0, 120, MIN)
    return iid


@pytest.fixture
def started(kit: Any, client: httpx.AsyncClient) -> Any:
    """A started session of user 1 (RUNNING at 0.5x, or PAUSED), returned with a poster."""

    async def make(iid: int, *, paused: bool = True, **overrides: object) -> Any:
        overrides.setdefault("speed", "0.5x")
        body = await kit.session(iid, **overrides)
        sid = body["id"]
        h = kit.tokens.headers(1)

        async def post(action: str, json: Any = None, expect: int = 200) -> dict[str, Any]:
            resp = await client.post(f"/sessions/{sid}/{action}", json=json, headers=h)
            assert resp.status_code == expect, resp.text
            out: dict[str, Any] = resp.json()
            return out

        await post("start")
        if paused:
            await post("pause")
        return sid, post

    return make


async def test_until_fill_without_fills_reveals_to_end_ts_and_completes(
    m1: int, started: Any
) -> None:
    """No fill can happen yet: "until fill" reveals to the last bar at or before end_ts and
    the session becomes COMPLETED."""
    _, post = await started(m1, end_ts="2024-01-01T01:00:30Z")
    done = await post("step", json={"until": "fill"})
    assert (done["session_status"], done["current_ts"]) == ("COMPLETED", bar(60))


async def test_until_fill_from_running_reveals_to_the_data_end(
    kit: Any, m1: int, started: Any
) -> None:
    """Without end_ts the end is the data's last bar; RUNNING works like PAUSED."""
    sid, post = await started(m1, paused=False, end_ts=None)
    done = await post("step", json={"until": "fill"})
    assert (done["session_status"], done["current_ts"]) == ("COMPLETED", bar(119))
    rows = await kit.sql("SELECT anchor_at FROM trading_sessions WHERE id = :id", id=sid)
    assert rows[0][0] is None


async def test_until_fill_on_a_one_bar_range_is_already_completed(m1: int, started: Any) -> None:
    """A range of one bar completes on start: step is then 400 (RUNNING or PAUSED only)."""
    _, post = await started(m1, paused=False, start_ts=bar(3), end_ts="2024-01-01T00:03:30Z")
    await post("step", json={"until": "fill"}, expect=400)


async def test_until_fill_with_a_fill_on_the_last_bar_completes(
    kit: Any, m1: int, started: Any, client: httpx.AsyncClient
) -> None:
    """A fill on the session's last bar: the clock reaches the end, so it completes. Bar i of
    the kit's data has bid high 1.10020 + i/100000 (+ 3 points when i % 7 = 6): a BUY's TP
    1.10050 is first reached by bar 27 (1.10027 + 0.00003 + 0.00020), the last bar."""
    sid, post = await started(m1, end_ts="2024-01-01T00:27:30Z")
    resp = await client.post(
        f"/sessions/{sid}/positions",
        json={"side": "BUY", "volume": 0.1, "take_profit": 1.1005},
        headers=kit.tokens.headers(1),
    )
    assert resp.status_code == 201, resp.text
    done = await post("step", json={"until": "fill"})
    assert (done["session_status"], done["current_ts"]) == ("COMPLETED", bar(27))
    got = (
        await client.get(f"/positions/{resp.json()['id']}", headers=kit.tokens.headers(1))
    ).json()
    assert (got["close_reason"], got["close_ts"]) == ("TAKE_PROFIT", bar(27))


@pytest.mark.parametrize(
    "body",
    [
        {"bars": 2, "until": "fill"},
        {"bars": 1, "until": "fill"},
        {"until": "tp"},
        {"until": "FILL"},
        {"until": None},
        {"until": 1},
        {"until": ["fill"]},
        {"until": "fill", "extra": 1},
    ],
)
async def test_step_body_is_bars_or_until_fill_else_422(
    m1: int, started: Any, body: object
) -> None:
    """The body is either {bars: n} or {until: "fill"}: both, or an unknown until, is 422."""
    _, post = await started(m1)
    before = await post("step", json={"bars": 1})
    await post("step", json=body, expect=422)
    after = await post("step", json={"bars": 1})
    assert after["current_ts"] == bar(int(before["current_ts"][14:16]) + 1)


@pytest.mark.parametrize("status", ["DRAFT", "COMPLETED", "ARCHIVED"])
async def test_until_fill_in_wrong_state_is_400(
    kit: Any, m1: int, client: httpx.AsyncClient, status: str
) -> None:
    """As for step: only RUNNING or PAUSED; else 400 and nothing changes."""
    sid = (await kit.session(m1))["id"]
    h = kit.tokens.headers(1)
    for action in {
        "DRAFT": [],
        "COMPLETED": ["start", "stop"],
        "ARCHIVED": ["start", "stop", "archive"],
    }[status]:
        assert (await client.post(f"/sessions/{sid}/{action}", headers=h)).status_code == 200
    before = (await client.get(f"/sessions/{sid}", headers=h)).json()
    resp = await client.post(f"/sessions/{sid}/step", json={"until": "fill"}, headers=h)
    assert resp.status_code == 400, resp.text
    assert (await client.get(f"/sessions/{sid}", headers=h)).json() == before


async def test_until_fill_access_rules(kit: Any, m1: int, client: httpx.AsyncClient) -> None:
    """Owner or admin: 401 without a token, 403 for another user, 404 for no session."""
    sid = (await kit.session(m1))["id"]
    assert (await client.post(f"/sessions/{sid}/start", headers=kit.tokens.headers(1))).is_success
    url = f"/sessions/{sid}/step"
    body = {"until": "fill"}
    assert (await client.post(url, json=body)).status_code == 401
    assert (await client.post(url, json=body, headers=kit.tokens.headers(2))).status_code == 403
    missing = await client.post("/sessions/999999/step", json=body, headers=kit.admin)
    assert missing.status_code == 404
    by_admin = await client.post(url, json=body, headers=kit.admin)
    assert by_admin.status_code == 200
    assert by_admin.json()["session_status"] == "COMPLETED"

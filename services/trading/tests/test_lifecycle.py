"""Seed 000, session lifecycle: start, pause, resume, stop, archive and PUT session_status."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

START = datetime(2024, 1, 1, tzinfo=UTC)
ACTIONS = ["start", "pause", "resume", "stop", "archive"]
# Seed 000 (with SPEC 8: stop from RUNNING or PAUSED, never from DRAFT).
ALLOWED = {
    ("DRAFT", "start"): "RUNNING",
    ("RUNNING", "pause"): "PAUSED",
    ("PAUSED", "resume"): "RUNNING",
    ("RUNNING", "stop"): "COMPLETED",
    ("PAUSED", "stop"): "COMPLETED",
    ("COMPLETED", "archive"): "ARCHIVED",
}
PATH_TO = {
    "DRAFT": [],
    "RUNNING": ["start"],
    "PAUSED": ["start", "pause"],
    "COMPLETED": ["start", "stop"],
    "ARCHIVED": ["start", "stop", "archive"],
}


@pytest.fixture
async def instrument(kit: Any) -> int:
    iid: int = await kit.instrument()
    await kit.bars(iid, START, 120, timedelta(minutes=1))
    return iid


async def _in_status(kit: Any, client: httpx.AsyncClient, iid: int, status: str) -> int:
    sid = int((await kit.session(iid, speed="0.5x"))["id"])
    for action in PATH_TO[status]:
        resp = await client.post(f"/sessions/{sid}/{action}", headers=kit.tokens.headers(1))
        assert resp.status_code == 200, resp.text
    assert (await _get(kit, client, sid))["session_status"] == status
    return sid


async def _get(kit: Any, client: httpx.AsyncClient, sid: int) -> dict[str, Any]:
    resp = await client.get(f"/sessions/{sid}", headers=kit.tokens.headers(1))
    assert resp.status_code == 200
    out: dict[str, Any] = resp.json()
    return out


async def test_the_whole_lifecycle(kit: Any, client: httpx.AsyncClient, instrument: int) -> None:
    """Seed: DRAFT -start-> RUNNING -pause-> PAUSED -resume-> RUNNING -stop-> COMPLETED
    -archive-> ARCHIVED, each 200 with the session."""
    sid = int((await kit.session(instrument))["id"])
    h = kit.tokens.headers(1)
    for action, status in [
        ("start", "RUNNING"),
        ("pause", "PAUSED"),
        ("resume", "RUNNING"),
        ("stop", "COMPLETED"),
        ("archive", "ARCHIVED"),
    ]:
        resp = await client.post(f"/sessions/{sid}/{action}", headers=h)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["session_status"] == status
        assert body["id"] == sid and body["user_id"] == 1
        assert (await _get(kit, client, sid))["session_status"] == status


@pytest.mark.parametrize("status", list(PATH_TO))
@pytest.mark.parametrize("action", ACTIONS)
async def test_lifecycle_endpoint_transitions_exactly_as_the_seed(
    kit: Any, client: httpx.AsyncClient, instrument: int, status: str, action: str
) -> None:
    """Seed: each lifecycle action from each status: the allowed ones are 200, every other
    is 400 (invalid state transition) and changes nothing."""
    sid = await _in_status(kit, client, instrument, status)
    before = await _get(kit, client, sid)
    resp = await client.post(f"/sessions/{sid}/{action}", headers=kit.tokens.headers(1))
    expected = ALLOWED.get((status, action))
    if expected is None:
        assert resp.status_code == 400, resp.text
        assert "Invalid state transition" in resp.json()["detail"]
        after = await _get(kit, client, sid)
        assert after["session_status"] == status
        assert after["updated_at"] == before["updated_at"]
    else:
        assert resp.status_code == 200, resp.text
        assert resp.json()["session_status"] == expected


async def test_stop_from_draft_is_400(kit: Any, client: httpx.AsyncClient, instrument: int) -> None:
    """SPEC 8: stop is allowed from RUNNING or PAUSED; from DRAFT it is 400."""
    sid = await _in_status(kit, client, instrument, "DRAFT")
    resp = await client.post(f"/sessions/{sid}/stop", headers=kit.tokens.headers(1))
    assert resp.status_code == 400
    assert resp.json()["detail"].startswith("Invalid state transition: cannot stop a DRAFT")


@pytest.mark.parametrize("status", list(PATH_TO))
@pytest.mark.parametrize("target", list(PATH_TO))
async def test_put_session_status_obeys_the_same_table(
    kit: Any, client: httpx.AsyncClient, instrument: int, status: str, target: str
) -> None:
    """SPEC 8: PUT with session_status obeys exactly the lifecycle transition table (a PUT
    to the current status is 400 as well: it is no transition)."""
    sid = await _in_status(kit, client, instrument, status)
    resp = await client.put(
        f"/sessions/{sid}", json={"session_status": target}, headers=kit.tokens.headers(1)
    )
    allowed = {(src, dst) for (src, _), dst in ALLOWED.items()}
    if (status, target) in allowed:
        assert resp.status_code == 200, resp.text
        assert resp.json()["session_status"] == target
        if target == "RUNNING":
            assert resp.json()["current_ts"] is not None  # PUT RUNNING starts the clock too
    else:
        assert resp.status_code == 400, resp.text
        assert "Invalid state transition" in resp.json()["detail"]
        assert (await _get(kit, client, sid))["session_status"] == status


async def test_put_with_status_and_speed_is_all_or_nothing(
    kit: Any, client: httpx.AsyncClient, instrument: int
) -> None:
    """A rejected transition in a PUT leaves the other fields unchanged too."""
    sid = await _in_status(kit, client, instrument, "DRAFT")
    resp = await client.put(
        f"/sessions/{sid}",
        json={"session_status": "PAUSED", "speed": "15x"},
        headers=kit.tokens.headers(1),
    )
    assert resp.status_code == 400
    assert (await _get(kit, client, sid))["speed"] == "0.5x"
    ok = await client.put(
        f"/sessions/{sid}",
        json={"session_status": "RUNNING", "speed": "15x"},
        headers=kit.tokens.headers(1),
    )
    assert ok.status_code == 200
    assert (ok.json()["session_status"], ok.json()["speed"]) == ("RUNNING", "15x")


@pytest.mark.parametrize("status", ["COMPLETED", "ARCHIVED"])
async def test_finished_sessions_keep_speed_and_end_ts(
    kit: Any, client: httpx.AsyncClient, instrument: int, status: str
) -> None:
    """A COMPLETED or ARCHIVED replay is final: PUT speed or end_ts is 400."""
    sid = await _in_status(kit, client, instrument, status)
    for body in ({"speed": "2x"}, {"end_ts": "2024-03-01T00:00:00Z"}):
        resp = await client.put(f"/sessions/{sid}", json=body, headers=kit.tokens.headers(1))
        assert resp.status_code == 400, resp.text


async def test_lifecycle_posts_ignore_a_body(
    kit: Any, client: httpx.AsyncClient, instrument: int
) -> None:
    """Seed: request body none; a client that sends one anyway is not refused."""
    sid = await _in_status(kit, client, instrument, "DRAFT")
    resp = await client.post(
        f"/sessions/{sid}/start", json={"anything": 1}, headers=kit.tokens.headers(1)
    )
    assert resp.status_code == 200
    resp = await client.post(
        f"/sessions/{sid}/pause",
        content=b"",
        headers={**kit.tokens.headers(1), "Content-Type": "application/json"},
    )
    assert resp.status_code == 200


@pytest.mark.parametrize("action", ACTIONS)
async def test_lifecycle_access_rules(
    kit: Any, client: httpx.AsyncClient, instrument: int, action: str
) -> None:
    """Seed: 401 not authenticated, 403 not the owner or admin, 404 session not found."""
    sid = await _in_status(kit, client, instrument, "DRAFT")
    assert (await client.post(f"/sessions/{sid}/{action}")).status_code == 401
    other = await client.post(f"/sessions/{sid}/{action}", headers=kit.tokens.headers(2))
    assert other.status_code == 403
    missing = await client.post(f"/sessions/{sid + 1000}/{action}", headers=kit.tokens.headers(1))
    assert missing.status_code == 404
    assert (await _get(kit, client, sid))["session_status"] == "DRAFT"


async def test_admin_drives_another_users_session(
    kit: Any, client: httpx.AsyncClient, instrument: int
) -> None:
    sid = await _in_status(kit, client, instrument, "DRAFT")
    admin = kit.tokens.headers(50, ["admin"])
    for action in ("start", "pause", "stop", "archive"):
        resp = await client.post(f"/sessions/{sid}/{action}", headers=admin)
        assert resp.status_code == 200, (action, resp.text)
    assert resp.json()["user_id"] == 1


async def test_start_without_bars_is_400(kit: Any, client: httpx.AsyncClient) -> None:
    """A session whose range holds no bar at its timeframe cannot start: 400, still DRAFT."""
    iid = await kit.instrument()
    await kit.bars(iid, START, 60, timedelta(minutes=1))
    sid = int(
        (await kit.session(iid, start_ts="2024-02-01T00:00:00Z", end_ts="2024-02-02T00:00:00Z"))[
            "id"
        ]
    )
    resp = await client.post(f"/sessions/{sid}/start", headers=kit.tokens.headers(1))
    assert resp.status_code == 400
    assert "no M1 bars" in resp.json()["detail"]
    assert (await _get(kit, client, sid))["session_status"] == "DRAFT"


async def test_delete_in_any_status(kit: Any, client: httpx.AsyncClient, instrument: int) -> None:
    for status in PATH_TO:
        sid = await _in_status(kit, client, instrument, status)
        resp = await client.delete(f"/sessions/{sid}", headers=kit.tokens.headers(1))
        assert resp.status_code == 204, status


async def test_seed_put_example_on_a_running_session(
    kit: Any, client: httpx.AsyncClient, instrument: int
) -> None:
    """Seed: PUT {session_status: PAUSED, speed: 2x, end_ts} on a RUNNING session -> 200 with
    all three applied (end_ts, then speed, then the transition, on the clock as of now)."""
    sid = await _in_status(kit, client, instrument, "RUNNING")
    resp = await client.put(
        f"/sessions/{sid}",
        json={"session_status": "PAUSED", "speed": "2x", "end_ts": "2024-02-01T23:59:59Z"},
        headers=kit.tokens.headers(1),
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert (body["session_status"], body["speed"], body["end_ts"]) == (
        "PAUSED",
        "2x",
        "2024-02-01T23:59:59Z",
    )
    assert await _get(kit, client, sid) == body

"""Seed 000, GET /sessions: pagination, sort allow-list, created_at date range, visibility."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
import pytest

from devstack.testing import TokenFactory


async def _make(kit: Any, n: int, user_id: int = 1, **overrides: object) -> list[int]:
    iid = await kit.instrument()
    return [int((await kit.session(iid, user_id=user_id, **overrides))["id"]) for _ in range(n)]


async def _set_created(kit: Any, sid: int, ts: str) -> None:
    await kit.sql(
        "UPDATE trading_sessions SET created_at = :ts WHERE id = :id",
        ts=datetime.fromisoformat(ts),
        id=sid,
    )


async def _ids(client: httpx.AsyncClient, headers: dict[str, str], **params: Any) -> list[int]:
    resp = await client.get("/sessions", params=params, headers=headers)
    assert resp.status_code == 200, resp.text
    return [s["id"] for s in resp.json()["sessions"]]


async def test_list_shape_and_defaults(kit: Any, client: httpx.AsyncClient) -> None:
    """Seed: {sessions, total, page, limit}; page 1, limit 20, sort created_at, order desc."""
    ids = await _make(kit, 25)
    resp = await client.get("/sessions", headers=kit.tokens.headers(1))
    assert resp.status_code == 200
    body = resp.json()
    assert set(body) == {"sessions", "total", "page", "limit"}
    assert (body["total"], body["page"], body["limit"]) == (25, 1, 20)
    assert [s["id"] for s in body["sessions"]] == sorted(ids, reverse=True)[:20]
    assert body["sessions"][0]["session_status"] == "DRAFT"


async def test_list_anonymous_is_401(client: httpx.AsyncClient) -> None:
    """Seed: GET /sessions 401 when not authenticated."""
    assert (await client.get("/sessions")).status_code == 401


async def test_non_admin_sees_only_own_sessions_admin_sees_all(
    kit: Any, client: httpx.AsyncClient
) -> None:
    mine = await _make(kit, 3, user_id=1)
    theirs = await _make(kit, 2, user_id=2)
    assert sorted(await _ids(client, kit.tokens.headers(1))) == mine
    assert sorted(await _ids(client, kit.tokens.headers(2))) == theirs
    admin = await client.get("/sessions", headers=kit.tokens.headers(9, ["admin"]))
    assert admin.json()["total"] == 5


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 101},  # seed: max 100
        {"limit": 0},
        {"limit": -1},
        {"limit": "x"},
        {"page": 0},
        {"page": -3},
        {"page": "one"},
        {"page": 10**30},
        {"sort": "password"},
        {"sort": "created_at; DROP TABLE trading_sessions"},
        {"sort": "user_id"},
        {"order": "up"},
        {"order": "DESC"},
        {"start_date": "last week"},
        {"end_date": "2024-02-30"},
        {"start_date": "2024-01-02", "end_date": "2024-01-01"},
        # Issue 10, defect 2: a date-only upper bound means "before the next midnight", and
        # 9999-12-31 has none (it was a 500); years past 9999 are not ISO dates at all.
        {"end_date": "9999-12-31"},
        {"end_date": "10000-01-01"},
        {"start_date": "0000-01-01"},
        {"end_date": "9999-12-31T23:59:59-05:00"},
    ],
)
async def test_bad_query_is_422(
    client: httpx.AsyncClient, tokens: TokenFactory, params: dict[str, Any]
) -> None:
    """limit 1..100, page >= 1, sort is an allow-list (never raw SQL), order asc|desc."""
    resp = await client.get("/sessions", params=params, headers=tokens.headers(1))
    assert resp.status_code == 422, resp.text
    assert isinstance(resp.json()["detail"], list)


async def test_limit_100_is_allowed(kit: Any, client: httpx.AsyncClient) -> None:
    """Seed: limit max 100."""
    await _make(kit, 3)
    resp = await client.get("/sessions", params={"limit": 100}, headers=kit.tokens.headers(1))
    assert resp.status_code == 200
    assert resp.json()["limit"] == 100


async def test_page_beyond_the_end_is_empty(kit: Any, client: httpx.AsyncClient) -> None:
    await _make(kit, 3)
    resp = await client.get(
        "/sessions", params={"page": 5, "limit": 2}, headers=kit.tokens.headers(1)
    )
    assert resp.json() == {"sessions": [], "total": 3, "page": 5, "limit": 2}


async def test_paging_is_stable_under_equal_sort_keys(kit: Any, client: httpx.AsyncClient) -> None:
    """SPEC 6: id breaks ties, so paging never skips or repeats a row."""
    ids = await _make(kit, 23)
    await kit.sql("UPDATE trading_sessions SET created_at = '2024-05-01T00:00:00Z'")
    for order in ("asc", "desc"):
        seen: list[int] = []
        for page in range(1, 6):
            seen += await _ids(client, kit.tokens.headers(1), page=page, limit=5, order=order)
        assert sorted(seen) == ids, order  # every row exactly once
        assert seen == sorted(ids, reverse=order == "desc")


@pytest.mark.parametrize(
    "sort",
    [
        "created_at",
        "updated_at",
        "start_ts",
        "end_ts",
        "id",
        "session_status",
        "timeframe",
        "speed",
        "instrument_id",
    ],
)
async def test_every_allowed_sort_field_works_both_ways(
    kit: Any, client: httpx.AsyncClient, sort: str
) -> None:
    iid = await kit.instrument()
    for i, (tf, speed) in enumerate([("H1", "10x"), ("M5", "0.5x"), ("D1", "2x")]):
        await kit.session(iid, timeframe=tf, speed=speed, start_ts=f"2024-01-0{i + 1}T00:00:00Z")
    asc = await _ids(client, kit.tokens.headers(1), sort=sort, order="asc")
    desc = await _ids(client, kit.tokens.headers(1), sort=sort, order="desc")
    assert sorted(asc) == [1, 2, 3]
    assert asc == desc[::-1]


async def test_speed_and_timeframe_sort_by_meaning(kit: Any, client: httpx.AsyncClient) -> None:
    """Speeds sort by bars per second and timeframes by length, not alphabetically."""
    iid = await kit.instrument()
    for tf, speed in [("H1", "10x"), ("M5", "0.5x"), ("D1", "2x"), ("M15", "15x")]:
        await kit.session(iid, timeframe=tf, speed=speed)
    resp = await client.get(
        "/sessions", params={"sort": "speed", "order": "asc"}, headers=kit.tokens.headers(1)
    )
    assert [s["speed"] for s in resp.json()["sessions"]] == ["0.5x", "2x", "10x", "15x"]
    resp = await client.get(
        "/sessions", params={"sort": "timeframe", "order": "asc"}, headers=kit.tokens.headers(1)
    )
    assert [s["timeframe"] for s in resp.json()["sessions"]] == ["M5", "M15", "H1", "D1"]


async def test_date_only_bounds_cover_whole_utc_days_inclusive(
    kit: Any, client: httpx.AsyncClient
) -> None:
    """SPEC 8: start_date/end_date filter created_at, both inclusive; a date means the whole
    UTC day."""
    ids = await _make(kit, 5)
    stamps = [
        "2024-03-09T23:59:59.999999Z",
        "2024-03-10T00:00:00Z",
        "2024-03-11T12:00:00Z",
        "2024-03-12T23:59:59.999999Z",
        "2024-03-13T00:00:00Z",
    ]
    for sid, ts in zip(ids, stamps, strict=True):
        await _set_created(kit, sid, ts)
    h = kit.tokens.headers(1)
    got = await _ids(client, h, start_date="2024-03-10", end_date="2024-03-12", order="asc")
    assert got == ids[1:4]
    assert await _ids(client, h, start_date="2024-03-12", end_date="2024-03-12") == [ids[3]]
    assert await _ids(client, h, start_date="2024-03-13", order="asc") == [ids[4]]
    assert await _ids(client, h, end_date="2024-03-09") == [ids[0]]
    total = (
        await client.get(
            "/sessions", params={"start_date": "2024-03-10", "end_date": "2024-03-12"}, headers=h
        )
    ).json()["total"]
    assert total == 3


async def test_datetime_bounds_are_inclusive_instants(kit: Any, client: httpx.AsyncClient) -> None:
    ids = await _make(kit, 3)
    for sid, ts in zip(
        ids, ["2024-03-10T10:00:00Z", "2024-03-10T11:00:00Z", "2024-03-10T12:00:00Z"], strict=True
    ):
        await _set_created(kit, sid, ts)
    h = kit.tokens.headers(1)
    got = await _ids(
        client, h, start_date="2024-03-10T11:00:00Z", end_date="2024-03-10T12:00:00Z", order="asc"
    )
    assert got == ids[1:]
    # An offset is honoured (12:00+01:00 is 11:00Z); no offset means UTC.
    got = await _ids(client, h, end_date="2024-03-10T12:00:00+01:00", order="asc")
    assert got == ids[:2]
    assert await _ids(client, h, start_date="2024-03-10T12:00:00") == [ids[2]]
    # An unencoded "+" arrives as a space: still read as the offset.
    resp = await client.get("/sessions?end_date=2024-03-10T12:00:00+01:00", headers=h)
    assert [s["id"] for s in resp.json()["sessions"]] == ids[:2][::-1]

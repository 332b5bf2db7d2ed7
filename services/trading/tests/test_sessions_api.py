"""Seed 000, Sessions API: create, get, update, delete, access rules and validation."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from devstack.testing import TokenFactory

SEED_FIELDS = {
    "id",
    "user_id",
    "instrument_id",
    "timeframe",
    "session_status",
    "speed",
    "start_ts",
    "end_ts",
    "initial_balance",
    "leverage",
    "spread_pts",
    "slippage_pts",
    "commission_per_fill",
    "created_at",
    "updated_at",
}
ISO_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")


# --- POST /sessions ---


async def test_create_is_201_draft_owned_by_the_caller(kit: Any, client: httpx.AsyncClient) -> None:
    """Seed: POST /sessions -> 201, session_status DRAFT, user_id is the caller's."""
    iid = await kit.instrument()
    resp = await client.post(
        "/sessions", json=kit.session_body(iid), headers=kit.tokens.headers(42)
    )
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert body["session_status"] == "DRAFT"
    assert body["user_id"] == 42
    assert body["instrument_id"] == iid
    assert isinstance(body["id"], int)


async def test_response_has_every_seed_field_with_seed_types(kit: Any) -> None:
    """Seed: integer ids, numbers for money (10000.0), ISO 8601 UTC timestamps with Z."""
    iid = await kit.instrument()
    body = await kit.session(iid, user_id=7)
    assert SEED_FIELDS <= set(body)
    assert body["timeframe"] == "M1"
    assert body["speed"] == "1x"
    assert body["start_ts"] == "2024-01-01T00:00:00Z"
    assert body["end_ts"] == "2024-01-31T23:59:59Z"
    assert body["initial_balance"] == 10000.0 and isinstance(body["initial_balance"], float)
    assert body["leverage"] == 100 and isinstance(body["leverage"], int)
    assert body["spread_pts"] == 20 and isinstance(body["spread_pts"], int)
    assert body["slippage_pts"] == 5 and isinstance(body["slippage_pts"], int)
    assert body["commission_per_fill"] == 7.0 and isinstance(body["commission_per_fill"], float)
    for field in ("created_at", "updated_at"):
        assert ISO_Z.match(body[field]), body[field]
    assert body["current_ts"] is None  # not started


async def test_end_ts_is_optional(kit: Any) -> None:
    """Seed: end_ts (optional)."""
    iid = await kit.instrument()
    body = await kit.session(iid, end_ts=None)
    assert body["end_ts"] is None


async def test_timestamps_with_offsets_are_stored_as_utc(kit: Any) -> None:
    iid = await kit.instrument()
    body = await kit.session(
        iid, start_ts="2024-01-01T02:00:00+02:00", end_ts="2024-01-02T00:00:00"
    )
    assert body["start_ts"] == "2024-01-01T00:00:00Z"
    assert body["end_ts"] == "2024-01-02T00:00:00Z"  # no offset: taken as UTC


async def test_money_is_rounded_to_cents_half_up(kit: Any) -> None:
    """SPEC 3: money is rounded to cents, half up, when stored."""
    iid = await kit.instrument()
    body = await kit.session(iid, initial_balance=100.005, commission_per_fill=0.125)
    assert body["initial_balance"] == 100.01
    assert body["commission_per_fill"] == 0.13


async def test_create_anonymous_is_401(kit: Any, client: httpx.AsyncClient) -> None:
    iid = await kit.instrument()
    resp = await client.post("/sessions", json=kit.session_body(iid))
    assert resp.status_code == 401
    assert resp.json() == {"detail": "Not authenticated"}


REQUIRED = [
    "instrument_id",
    "timeframe",
    "speed",
    "start_ts",
    "initial_balance",
    "leverage",
    "spread_pts",
    "slippage_pts",
    "commission_per_fill",
]


@pytest.mark.parametrize("field", REQUIRED)
async def test_every_required_field_missing_is_422(
    kit: Any, client: httpx.AsyncClient, field: str
) -> None:
    """Seed request schema: these fields are required (422 validation error)."""
    iid = await kit.instrument()
    body = kit.session_body(iid)
    del body[field]
    resp = await client.post("/sessions", json=body, headers=kit.tokens.headers(1))
    assert resp.status_code == 422, resp.text
    assert any(err["loc"][-1] == field for err in resp.json()["detail"])


INVALID = [
    ("timeframe", "H3"),  # enum M1|M5|M10|M15|M30|H1|H2|H4|D1|W1
    ("timeframe", "h1"),
    ("speed", "4x"),  # enum 0.5x|1x|2x|3x|5x|10x|15x
    ("speed", 1),
    ("start_ts", "yesterday"),
    ("start_ts", 1704067200),
    ("end_ts", "2024-13-01T00:00:00Z"),
    ("initial_balance", 0),  # positive number
    ("initial_balance", -5),
    ("initial_balance", 0.001),  # rounds to 0.00
    ("initial_balance", "10000"),
    ("initial_balance", True),
    ("leverage", 0),  # positive number
    ("leverage", -1),
    ("spread_pts", -1),  # non-negative integer
    ("spread_pts", 2.5),
    ("spread_pts", "20"),
    ("spread_pts", True),
    ("slippage_pts", -1),
    ("slippage_pts", 0.5),
    ("commission_per_fill", -0.01),  # non-negative number
    ("instrument_id", "abc"),
    ("instrument_id", 0),
    ("instrument_id", 10**30),
    ("spread_pts", 10**30),
    ("initial_balance", 1e300),
]


@pytest.mark.parametrize(("field", "value"), INVALID)
async def test_invalid_field_is_422(
    kit: Any, client: httpx.AsyncClient, field: str, value: object
) -> None:
    """Seed request schema: enums, positive / non-negative numbers, integers -> 422."""
    body = kit.session_body(await kit.instrument())
    body[field] = value
    resp = await client.post("/sessions", json=body, headers=kit.tokens.headers(1))
    assert resp.status_code == 422, resp.text
    assert isinstance(resp.json()["detail"], list)


async def test_zero_spread_slippage_commission_are_allowed(kit: Any) -> None:
    """Seed: spread/slippage non-negative integers, commission non-negative."""
    iid = await kit.instrument()
    body = await kit.session(iid, spread_pts=0, slippage_pts=0, commission_per_fill=0)
    assert (body["spread_pts"], body["slippage_pts"], body["commission_per_fill"]) == (0, 0, 0)


@pytest.mark.parametrize("end_ts", ["2024-01-01T00:00:00Z", "2023-12-31T23:59:59Z"])
async def test_end_ts_not_after_start_ts_is_422(
    kit: Any, client: httpx.AsyncClient, end_ts: str
) -> None:
    """SPEC 8: end_ts not after start_ts is 422."""
    iid = await kit.instrument()
    resp = await client.post(
        "/sessions", json=kit.session_body(iid, end_ts=end_ts), headers=kit.tokens.headers(1)
    )
    assert resp.status_code == 422, resp.text
    assert "end_ts must be after start_ts" in resp.text


async def test_unknown_instrument_is_422(kit: Any, client: httpx.AsyncClient) -> None:
    """SPEC 8: an unknown instrument_id is 422."""
    resp = await client.post(
        "/sessions", json=kit.session_body(123456), headers=kit.tokens.headers(1)
    )
    assert resp.status_code == 422, resp.text
    assert resp.json()["detail"][0]["loc"] == ["body", "instrument_id"]


async def test_timeframe_below_instruments_base_is_422(kit: Any, client: httpx.AsyncClient) -> None:
    """SPEC 3: a session's timeframe must be at or above the instrument's base_timeframe."""
    iid = await kit.instrument(base_timeframe="H1")
    resp = await client.post(
        "/sessions", json=kit.session_body(iid, timeframe="M5"), headers=kit.tokens.headers(1)
    )
    assert resp.status_code == 422, resp.text
    assert resp.json()["detail"][0]["loc"] == ["body", "timeframe"]
    ok = await client.post(
        "/sessions", json=kit.session_body(iid, timeframe="H4"), headers=kit.tokens.headers(1)
    )
    assert ok.status_code == 201, ok.text


async def test_timeframe_not_buildable_from_base_is_422(
    kit: Any, client: httpx.AsyncClient
) -> None:
    """M15 bars cannot be built exactly from M10 bars: no such bars exist to replay."""
    iid = await kit.instrument(base_timeframe="M10")
    resp = await client.post(
        "/sessions", json=kit.session_body(iid, timeframe="M15"), headers=kit.tokens.headers(1)
    )
    assert resp.status_code == 422, resp.text


async def test_unknown_fields_are_422(kit: Any, client: httpx.AsyncClient) -> None:
    """user_id and session_status are the server's: a body cannot set them."""
    iid = await kit.instrument()
    for extra in ({"user_id": 99}, {"session_status": "RUNNING"}):
        resp = await client.post(
            "/sessions", json=kit.session_body(iid, **extra), headers=kit.tokens.headers(1)
        )
        assert resp.status_code == 422, resp.text


@pytest.mark.parametrize("raw", [b'{"instrument_id": 1,', b"not json", b'{"a": }', b"\xff\xfe"])
async def test_malformed_json_is_400(
    client: httpx.AsyncClient, tokens: TokenFactory, raw: bytes
) -> None:
    """Seed: 400 Bad Request for invalid input that is not even JSON."""
    resp = await client.post(
        "/sessions",
        content=raw,
        headers={**tokens.headers(1), "Content-Type": "application/json"},
    )
    assert resp.status_code == 400, resp.text
    assert resp.json() == {"detail": "Malformed JSON body"}


async def test_body_that_is_not_an_object_is_422(
    client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    for body in ([], "x", 1, None):
        resp = await client.post("/sessions", json=body, headers=tokens.headers(1))
        assert resp.status_code == 422, resp.text


async def test_idempotency_key_replays_the_first_response(
    kit: Any, client: httpx.AsyncClient
) -> None:
    """SPEC 6: a retry with the same Idempotency-Key and body creates nothing new."""
    iid = await kit.instrument()
    headers = {**kit.tokens.headers(5), "Idempotency-Key": "create-1"}
    first = await client.post("/sessions", json=kit.session_body(iid), headers=headers)
    again = await client.post("/sessions", json=kit.session_body(iid), headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    listed = await client.get("/sessions", headers=kit.tokens.headers(5))
    assert listed.json()["total"] == 1
    other = await client.post("/sessions", json=kit.session_body(iid, speed="2x"), headers=headers)
    assert other.status_code == 422  # same key, different body


# --- GET /sessions/{id} ---


async def test_get_own_session(kit: Any, client: httpx.AsyncClient) -> None:
    iid = await kit.instrument()
    created = await kit.session(iid, user_id=3)
    resp = await client.get(f"/sessions/{created['id']}", headers=kit.tokens.headers(3))
    assert resp.status_code == 200
    assert resp.json() == created


async def test_get_another_users_session_is_403(kit: Any, client: httpx.AsyncClient) -> None:
    """Seed: 403 Forbidden, not the owner or admin."""
    iid = await kit.instrument()
    created = await kit.session(iid, user_id=3)
    resp = await client.get(f"/sessions/{created['id']}", headers=kit.tokens.headers(4))
    assert resp.status_code == 403
    assert resp.json() == {"detail": "Not the owner of this session"}


async def test_admin_gets_any_session(kit: Any, client: httpx.AsyncClient) -> None:
    """Seed: owner or admin."""
    iid = await kit.instrument()
    created = await kit.session(iid, user_id=3)
    resp = await client.get(f"/sessions/{created['id']}", headers=kit.tokens.headers(77, ["admin"]))
    assert resp.status_code == 200
    assert resp.json()["user_id"] == 3


@pytest.mark.parametrize("sid", ["999", "0", "-1", "99999999999", str(2**70)])
async def test_missing_session_is_404(
    client: httpx.AsyncClient, tokens: TokenFactory, sid: str
) -> None:
    """Seed: 404 Not Found, session not found (also for ids out of the column's range)."""
    for method in ("GET", "PUT", "DELETE"):
        kwargs: dict[str, Any] = {"json": {}} if method == "PUT" else {}
        resp = await client.request(method, f"/sessions/{sid}", headers=tokens.headers(1), **kwargs)
        assert resp.status_code == 404, (method, resp.text)
        assert resp.json() == {"detail": "Session not found"}


async def test_non_integer_id_is_422(client: httpx.AsyncClient, tokens: TokenFactory) -> None:
    resp = await client.get("/sessions/abc", headers=tokens.headers(1))
    assert resp.status_code == 422


async def test_anonymous_get_put_delete_are_401(kit: Any, client: httpx.AsyncClient) -> None:
    """Seed: 401 Unauthorized, not authenticated (before any lookup)."""
    iid = await kit.instrument()
    created = await kit.session(iid)
    for method in ("GET", "PUT", "DELETE"):
        resp = await client.request(method, f"/sessions/{created['id']}")
        assert resp.status_code == 401, method
    bad = {"Authorization": "Bearer not-a-token"}
    assert (await client.get(f"/sessions/{created['id']}", headers=bad)).status_code == 401


# --- PUT /sessions/{id} ---


async def test_put_changes_speed_and_end_ts(kit: Any, client: httpx.AsyncClient) -> None:
    """Seed: PUT {speed, end_ts} -> 200 with the new values and a new updated_at."""
    iid = await kit.instrument()
    created = await kit.session(iid)
    resp = await client.put(
        f"/sessions/{created['id']}",
        json={"speed": "2x", "end_ts": "2024-02-01T23:59:59Z"},
        headers=kit.tokens.headers(1),
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["speed"] == "2x"
    assert body["end_ts"] == "2024-02-01T23:59:59Z"
    assert body["updated_at"] > created["updated_at"]
    assert body["created_at"] == created["created_at"]
    again = await client.get(f"/sessions/{created['id']}", headers=kit.tokens.headers(1))
    assert again.json() == body


async def test_put_end_ts_null_clears_it(kit: Any, client: httpx.AsyncClient) -> None:
    iid = await kit.instrument()
    created = await kit.session(iid)
    resp = await client.put(
        f"/sessions/{created['id']}", json={"end_ts": None}, headers=kit.tokens.headers(1)
    )
    assert resp.status_code == 200
    assert resp.json()["end_ts"] is None


async def test_put_empty_body_changes_nothing(kit: Any, client: httpx.AsyncClient) -> None:
    iid = await kit.instrument()
    created = await kit.session(iid)
    resp = await client.put(f"/sessions/{created['id']}", json={}, headers=kit.tokens.headers(1))
    assert resp.status_code == 200
    assert resp.json() == created


@pytest.mark.parametrize(
    "body",
    [
        {"speed": "7x"},
        {"speed": None},
        {"session_status": "DONE"},
        {"session_status": None},
        {"end_ts": "never"},
        {"end_ts": "2023-12-31T00:00:00Z"},  # before start_ts
        {"end_ts": "2024-01-01T00:00:00Z"},  # equal to start_ts
        {"timeframe": "H1"},  # not updatable
    ],
)
async def test_put_invalid_is_422(
    kit: Any, client: httpx.AsyncClient, body: dict[str, Any]
) -> None:
    """Seed: PUT 422 validation error (and SPEC 8: end_ts not after start_ts)."""
    iid = await kit.instrument()
    created = await kit.session(iid)
    resp = await client.put(f"/sessions/{created['id']}", json=body, headers=kit.tokens.headers(1))
    assert resp.status_code == 422, resp.text
    unchanged = await client.get(f"/sessions/{created['id']}", headers=kit.tokens.headers(1))
    assert unchanged.json() == created


async def test_put_malformed_json_is_400(kit: Any, client: httpx.AsyncClient) -> None:
    """Seed: PUT 400 Bad Request, invalid input."""
    iid = await kit.instrument()
    created = await kit.session(iid)
    resp = await client.put(
        f"/sessions/{created['id']}",
        content=b'{"speed": "2x"',
        headers={**kit.tokens.headers(1), "Content-Type": "application/json"},
    )
    assert resp.status_code == 400


async def test_put_another_users_session_is_403(kit: Any, client: httpx.AsyncClient) -> None:
    iid = await kit.instrument()
    created = await kit.session(iid, user_id=1)
    resp = await client.put(
        f"/sessions/{created['id']}", json={"speed": "2x"}, headers=kit.tokens.headers(2)
    )
    assert resp.status_code == 403
    admin = await client.put(
        f"/sessions/{created['id']}",
        json={"speed": "2x"},
        headers=kit.tokens.headers(9, ["admin"]),
    )
    assert admin.status_code == 200
    assert admin.json()["user_id"] == 1  # an admin's edit keeps the owner


# --- DELETE /sessions/{id} ---


async def test_delete_is_204_then_404(kit: Any, client: httpx.AsyncClient) -> None:
    """Seed: DELETE -> 204 No Content."""
    iid = await kit.instrument()
    created = await kit.session(iid)
    resp = await client.delete(f"/sessions/{created['id']}", headers=kit.tokens.headers(1))
    assert resp.status_code == 204
    assert resp.content == b""
    gone = await client.get(f"/sessions/{created['id']}", headers=kit.tokens.headers(1))
    assert gone.status_code == 404


async def test_delete_another_users_session_is_403(kit: Any, client: httpx.AsyncClient) -> None:
    iid = await kit.instrument()
    created = await kit.session(iid, user_id=1)
    resp = await client.delete(f"/sessions/{created['id']}", headers=kit.tokens.headers(2))
    assert resp.status_code == 403
    still = await client.get(f"/sessions/{created['id']}", headers=kit.tokens.headers(1))
    assert still.status_code == 200
    admin = await client.delete(
        f"/sessions/{created['id']}", headers=kit.tokens.headers(9, ["admin"])
    )
    assert admin.status_code == 204


@pytest.mark.in_process_only  # /openapi.json is the service's own, not routed by the gateway
async def test_openapi_documents_the_error_statuses(client: httpx.AsyncClient) -> None:
    """Every error status a route answers appears in its OpenAPI `responses`."""
    doc = (await client.get("/openapi.json")).json()
    paths = doc["paths"]
    assert {"400", "401", "422"} <= set(paths["/sessions"]["post"]["responses"])
    assert {"401", "403", "404"} <= set(paths["/sessions/{session_id}"]["get"]["responses"])
    assert {"400", "401", "403", "404", "422"} <= set(
        paths["/sessions/{session_id}"]["put"]["responses"]
    )
    for action in ("start", "pause", "resume", "stop", "archive", "step", "seek"):
        responses = paths[f"/sessions/{{session_id}}/{action}"]["post"]["responses"]
        assert {"200", "400", "401", "403", "404"} <= set(responses), action


async def test_hostile_inputs_are_4xx_never_5xx(kit: Any, client: httpx.AsyncClient) -> None:
    """A 500 is a bug: out-of-range timestamps and numbers are clear 4xx answers."""
    iid = await kit.instrument()
    await kit.bars(iid, datetime(2024, 1, 1, tzinfo=UTC), 30, timedelta(minutes=1))
    sid = (await kit.session(iid))["id"]
    h = kit.tokens.headers(1)
    assert (await client.post(f"/sessions/{sid}/start", headers=h)).status_code == 200
    extreme = [
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59-01:00",
        "9999-12-31T23:59:59Z",
        "1899-12-31T23:59:59Z",
        "2024-01-01T00:00:00+25:00",
        "\u0000",
    ]
    calls = []
    for ts in extreme:
        calls += [
            client.put(f"/sessions/{sid}", json={"end_ts": ts}, headers=h),
            client.post(f"/sessions/{sid}/seek", json={"ts": ts}, headers=h),
            client.get(f"/sessions/{sid}/candles", params={"before": ts}, headers=h),
            client.get("/sessions", params={"start_date": ts}, headers=h),
            client.post("/sessions", json=kit.session_body(iid, start_ts=ts), headers=h),
        ]
    calls += [
        client.post(f"/sessions/{sid}/step", json={"bars": 2**70}, headers=h),
        client.get(f"/sessions/{sid}/candles", params={"limit": 2**70}, headers=h),
        client.get("/sessions", params={"page": 2**70}, headers=h),
        client.post("/sessions", json=kit.session_body(iid, leverage=1e-9), headers=h),
        client.post("/sessions", json=kit.session_body(iid, leverage=10**6), headers=h),
    ]
    for resp in [await c for c in calls]:
        assert 400 <= resp.status_code < 500, (resp.request.url, resp.text)

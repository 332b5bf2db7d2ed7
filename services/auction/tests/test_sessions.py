"""Seed 003, Sessions API: every rule and example of sections 1-5 has a test named after it."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

ISO_MS_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
SESSION_KEYS = {"id", "date", "commissioner_id", "status", "created_at", "updated_at", "_count"}


# --- 2. Create Session ---
async def test_create_session_returns_seed_shape_201(api: Any) -> None:
    """Create: 201, ACTIVE, the seed's fields, _count zeroes, dates with ms and Z."""
    resp = await api.call("POST", "/api/sessions", 7, json={"date": "2025-08-03T10:00:00.000Z"})
    assert resp.status_code == 201
    body = resp.json()
    assert set(body) == {"success", "data", "meta"}
    data = body["data"]
    assert SESSION_KEYS <= set(data)
    assert data["date"] == "2025-08-03T10:00:00.000Z"
    assert data["commissioner_id"] == "7"
    assert data["status"] == "ACTIVE"
    assert data["_count"] == {"auction_items": 0, "bills": 0}
    for key in ("date", "created_at", "updated_at"):
        assert ISO_MS_Z.match(data[key]), data[key]
    assert ISO_MS_Z.match(body["meta"]["timestamp"])


async def test_create_session_date_defaults_to_now(api: Any) -> None:
    """Rule: if no date is provided, the current date/time is used (time kept)."""
    before = datetime.now(UTC)
    data = await api.ok("POST", "/api/sessions", 1, 201, json={})
    after = datetime.now(UTC)
    when = datetime.fromisoformat(data["date"].replace("Z", "+00:00"))
    assert before.replace(microsecond=0) <= when <= after
    assert data["status"] == "ACTIVE"


async def test_create_session_without_body_defaults_to_now(api: Any) -> None:
    """The body itself is optional."""
    resp = await api.call("POST", "/api/sessions", 1)
    assert resp.status_code == 201, resp.text


async def test_create_session_second_active_same_date_is_409(api: Any) -> None:
    """Rule: only one active session per commissioner per date (seed's 409 message)."""
    await api.session(1, "2025-08-03T06:00:00.000Z")
    resp = await api.call("POST", "/api/sessions", 1, json={"date": "2025-08-03T18:00:00.000Z"})
    assert resp.status_code == 409
    err = resp.json()["error"]
    assert err == {"message": "An active session already exists for this date", "code": "CONFLICT"}


async def test_one_active_rule_compares_utc_dates(api: Any) -> None:
    """The one-active rule compares UTC calendar dates: 23:30Z and 00:30Z next day differ;
    an offset time is converted to UTC first."""
    await api.session(1, "2025-08-03T23:30:00Z")
    await api.session(1, "2025-08-04T00:30:00Z")
    # 2025-08-05T01:00+05:30 is 2025-08-04T19:30Z: the 4th is taken.
    resp = await api.call("POST", "/api/sessions", 1, json={"date": "2025-08-05T01:00:00+05:30"})
    assert resp.status_code == 409


async def test_one_active_rule_is_per_commissioner(api: Any) -> None:
    """Another commissioner may have their own active session on the same date."""
    await api.session(1, "2025-08-03T10:00:00Z")
    await api.session(2, "2025-08-03T10:00:00Z")


async def test_completed_session_does_not_block_new_active_one(api: Any) -> None:
    """Only ACTIVE sessions count: after completing, a new session for that date is fine."""
    m = await api.masters()
    s = await api.session(1, "2025-08-03T10:00:00Z")
    await api.item(s["id"], m)
    await api.ok("PUT", f"/api/sessions/{s['id']}", 1, json={"status": "COMPLETED"})
    await api.session(1, "2025-08-03T12:00:00Z")


async def test_create_session_invalid_date_is_400(api: Any) -> None:
    resp = await api.call("POST", "/api/sessions", 1, json={"date": "not-a-date"})
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "VALIDATION_ERROR"
    assert resp.json()["error"]["details"]


# --- 1. List Sessions ---
async def test_list_sessions_seed_shape_and_defaults(api: Any) -> None:
    """List: data with _count on every session; meta page=1, limit=10, total, totalPages."""
    m = await api.masters()
    s = await api.session(1, "2025-08-03T10:00:00.000Z")
    await api.item(s["id"], m)
    resp = await api.call("GET", "/api/sessions", 1)
    assert resp.status_code == 200
    body = resp.json()
    assert body["meta"]["page"] == 1
    assert body["meta"]["limit"] == 10
    assert body["meta"]["total"] == 1
    assert body["meta"]["totalPages"] == 1
    assert ISO_MS_Z.match(body["meta"]["timestamp"])
    [row] = body["data"]
    assert SESSION_KEYS <= set(row)
    assert row["_count"] == {"auction_items": 1, "bills": 0}


async def test_list_sessions_filter_by_status(api: Any) -> None:
    """`GET /api/sessions?status=ACTIVE` returns only active sessions."""
    m = await api.masters()
    done = await api.session(1, "2025-08-01T10:00:00Z")
    await api.item(done["id"], m)
    await api.ok("PUT", f"/api/sessions/{done['id']}", 1, json={"status": "COMPLETED"})
    active = await api.session(1, "2025-08-02T10:00:00Z")
    rows = await api.ok("GET", "/api/sessions?status=ACTIVE", 1)
    assert [r["id"] for r in rows] == [active["id"]]
    rows = await api.ok("GET", "/api/sessions?status=COMPLETED&page=1&limit=50", 1)
    assert [r["id"] for r in rows] == [done["id"]]


async def test_list_sessions_date_range_whole_days_inclusive(api: Any) -> None:
    """`startDate=2025-08-01&endDate=2025-08-31`: both bounds inclusive, whole UTC days."""
    ids = {}
    for d in (
        "2025-07-31T23:59:59Z",
        "2025-08-01T00:00:00Z",
        "2025-08-31T23:59:59Z",
        "2025-09-01T00:00:00Z",
    ):
        ids[d] = (await api.session(1, d))["id"]
    rows = await api.ok("GET", "/api/sessions?startDate=2025-08-01&endDate=2025-08-31", 1)
    assert {r["id"] for r in rows} == {ids["2025-08-01T00:00:00Z"], ids["2025-08-31T23:59:59Z"]}
    rows = await api.ok(
        "GET", "/api/sessions?startDate=2025-08-01T00:00:01Z&endDate=2025-09-01T00:00:00Z", 1
    )
    assert {r["id"] for r in rows} == {ids["2025-08-31T23:59:59Z"], ids["2025-09-01T00:00:00Z"]}


async def test_list_sessions_default_sort_is_date_desc(api: Any) -> None:
    """sortBy defaults to 'date', sortOrder to 'desc'; sortOrder=asc reverses."""
    a = await api.session(1, "2025-08-01T10:00:00Z")
    c = await api.session(1, "2025-08-03T10:00:00Z")
    b = await api.session(1, "2025-08-02T10:00:00Z")
    rows = await api.ok("GET", "/api/sessions", 1)
    assert [r["id"] for r in rows] == [c["id"], b["id"], a["id"]]
    rows = await api.ok("GET", "/api/sessions?sortBy=date&sortOrder=asc", 1)
    assert [r["id"] for r in rows] == [a["id"], b["id"], c["id"]]
    rows = await api.ok("GET", "/api/sessions?sortBy=created_at&sortOrder=asc", 1)
    assert [r["id"] for r in rows] == [a["id"], c["id"], b["id"]]
    rows = await api.ok("GET", "/api/sessions?sortBy=updated_at&sortOrder=desc", 1)
    assert [r["id"] for r in rows] == [b["id"], c["id"], a["id"]]


async def test_list_sessions_pagination_is_stable(api: Any) -> None:
    """page/limit with totalPages; equal sort keys are broken by id: no row skipped or
    repeated across pages."""
    created = [await api.session(1, f"2025-08-{d:02d}T10:00:00Z") for d in range(1, 26)]
    seen = []
    for page in (1, 2, 3):
        resp = await api.call("GET", f"/api/sessions?page={page}&limit=10&sortBy=date", 1)
        body = resp.json()
        assert body["meta"] == {
            **body["meta"],
            "page": page,
            "limit": 10,
            "total": 25,
            "totalPages": 3,
        }
        seen += [r["id"] for r in body["data"]]
    assert sorted(seen) == sorted(s["id"] for s in created)
    assert len(set(seen)) == 25
    rows = await api.ok("GET", "/api/sessions?page=20&limit=20&sortBy=created_at", 1)
    assert rows == []


async def test_list_sessions_limit_max_100(api: Any) -> None:
    """limit max 100: 100 is accepted, 101 is a 400 VALIDATION_ERROR."""
    assert (await api.call("GET", "/api/sessions?limit=100", 1)).status_code == 200
    resp = await api.call("GET", "/api/sessions?limit=101", 1)
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "VALIDATION_ERROR"


async def test_list_sessions_bad_query_params_are_400(api: Any) -> None:
    """Invalid page, limit, sortBy, sortOrder, status or dates: 400 VALIDATION_ERROR."""
    for query in (
        "page=0",
        "page=abc",
        "limit=0",
        "sortBy=name",
        "sortOrder=up",
        "status=OPEN",
        "startDate=yesterday",
        "endDate=2025-13-01",
    ):
        resp = await api.call("GET", f"/api/sessions?{query}", 1)
        assert resp.status_code == 400, (query, resp.text)
        err = resp.json()["error"]
        assert err["code"] == "VALIDATION_ERROR"
        assert err["details"], query


async def test_list_sessions_only_own(api: Any) -> None:
    await api.session(1, "2025-08-01T10:00:00Z")
    await api.session(2, "2025-08-01T10:00:00Z")
    rows = await api.ok("GET", "/api/sessions", 2)
    assert len(rows) == 1 and rows[0]["commissioner_id"] == "2"


# --- 3. Get Session Details ---
async def test_session_detail_includes_items_bills_count_summary(api: Any) -> None:
    """Detail: auction_items with farmer, product with category, buyer; bills; _count;
    summary (SPEC 4)."""
    m = await api.masters()
    s = await api.session(1, "2025-08-03T10:00:00.000Z")
    await api.item(s["id"], m, quantity=10.5, final_price=50.0)
    data = await api.ok("GET", f"/api/sessions/{s['id']}", 1)
    assert SESSION_KEYS <= set(data)
    [item] = data["auction_items"]
    assert item["quantity"] == 10.5 and item["unit"] == "KG" and item["final_price"] == 50.0
    assert item["farmer"]["name"] == "John Farmer" and item["farmer"]["village"] == "Village"
    assert item["product"]["name"] == "Tomatoes"
    assert item["product"]["category"] == {"id": m["category_id"], "name": "Veg"}
    assert item["buyer"] == {**item["buyer"], "id": m["buyer_id"], "name": "Jane Buyer"}
    assert data["bills"] == []
    assert data["_count"] == {"auction_items": 1, "bills": 0}
    assert data["summary"]["total_amount"] == 50.0


async def test_session_detail_summary_totals(api: Any) -> None:
    """Summary: total amount, commission, billed/unbilled, quantity per unit, distinct
    farmers and buyers, per-product totals; exact decimals."""
    m1 = await api.masters(1, "1")
    m2 = await api.masters(1, "2")
    s = await api.session(1, "2025-08-03T10:00:00Z")
    await api.item(s["id"], m1, unit="KG", quantity=10.1, final_price=0.1)
    await api.item(s["id"], m1, unit="KG", quantity=0.2, final_price=0.2)
    await api.item(s["id"], m2, unit="BAG", quantity=3, final_price=100.05)
    summary = (await api.ok("GET", f"/api/sessions/{s['id']}", 1))["summary"]
    assert summary["total_items"] == 3
    assert summary["total_amount"] == 100.35
    assert summary["total_commission"] == 0
    assert summary["billed_amount"] == 0
    assert summary["unbilled_amount"] == 100.35
    assert summary["quantity_by_unit"] == {"KG": 10.3, "BAG": 3}
    assert summary["farmers_count"] == 2
    assert summary["buyers_count"] == 2
    per = {p["product_name"]: p for p in summary["products"]}
    assert per["Tomatoes1"]["amount"] == 0.3
    assert per["Tomatoes1"]["quantity_by_unit"] == {"KG": 10.3}
    assert per["Tomatoes1"]["items_count"] == 2
    assert per["Tomatoes2"]["amount"] == 100.05


async def test_session_detail_not_found(api: Any) -> None:
    """Seed: 'Session not found' / NOT_FOUND, also for an id that is not a UUID."""
    for sid in ("6f1c1b1e-8a4e-4d0b-9a53-0d7e8f7b2c11", "nope"):
        resp = await api.call("GET", f"/api/sessions/{sid}", 1)
        assert resp.status_code == 404
        assert resp.json()["error"] == {"message": "Session not found", "code": "NOT_FOUND"}


async def test_other_commissioners_session_is_404_everywhere(api: Any) -> None:
    """Another commissioner's session: detail, update, delete, items: all 404."""
    m = await api.masters(1)
    s = await api.session(1, "2025-08-03T10:00:00Z")
    item = await api.item(s["id"], m)
    sid = s["id"]
    calls = [
        ("GET", f"/api/sessions/{sid}", None),
        ("PUT", f"/api/sessions/{sid}", {"status": "COMPLETED"}),
        ("DELETE", f"/api/sessions/{sid}", None),
        ("GET", f"/api/sessions/{sid}/items", None),
        (
            "POST",
            f"/api/sessions/{sid}/items",
            {k: m[k] for k in ("farmer_id", "product_id", "buyer_id")}
            | {"unit": "KG", "quantity": 1, "final_price": 1},
        ),
        ("GET", f"/api/sessions/{sid}/items/{item['id']}", None),
        ("PUT", f"/api/sessions/{sid}/items/{item['id']}", {"quantity": 2}),
        ("DELETE", f"/api/sessions/{sid}/items/{item['id']}", None),
    ]
    for method, url, body in calls:
        resp = await api.call(method, url, 2, json=body)
        assert resp.status_code == 404, (method, url, resp.text)
        assert resp.json()["error"]["code"] == "NOT_FOUND"
    # Nothing changed for the owner.
    data = await api.ok("GET", f"/api/sessions/{sid}", 1)
    assert data["status"] == "ACTIVE" and data["_count"]["auction_items"] == 1


# --- 4. Update Session ---
async def test_update_session_complete_with_items(api: Any) -> None:
    """Update: status COMPLETED with items; response has _count and a newer updated_at."""
    m = await api.masters()
    s = await api.session(1, "2025-08-03T10:00:00Z")
    await api.item(s["id"], m)
    data = await api.ok("PUT", f"/api/sessions/{s['id']}", 1, json={"status": "COMPLETED"})
    assert data["status"] == "COMPLETED"
    assert data["_count"] == {"auction_items": 1, "bills": 0}
    assert data["updated_at"] > s["updated_at"]
    assert data["created_at"] == s["created_at"]


async def test_cannot_complete_session_without_items(api: Any) -> None:
    """Rule: cannot change status to COMPLETED without auction items (seed's 409)."""
    s = await api.session(1, "2025-08-03T10:00:00Z")
    resp = await api.call("PUT", f"/api/sessions/{s['id']}", 1, json={"status": "COMPLETED"})
    assert resp.status_code == 409
    assert resp.json()["error"] == {
        "message": "Cannot complete session without any auction items",
        "code": "CONFLICT",
    }


async def test_reopen_completed_session(api: Any) -> None:
    """Rule: can change from COMPLETED back to ACTIVE (corrections)."""
    m = await api.masters()
    s = await api.session(1, "2025-08-03T10:00:00Z")
    await api.item(s["id"], m)
    await api.ok("PUT", f"/api/sessions/{s['id']}", 1, json={"status": "COMPLETED"})
    data = await api.ok("PUT", f"/api/sessions/{s['id']}", 1, json={"status": "ACTIVE"})
    assert data["status"] == "ACTIVE"


async def test_reopen_conflicts_with_other_active_session_same_date(api: Any) -> None:
    """Reopening a COMPLETED session when another ACTIVE one has its date: 409, and the
    session stays COMPLETED."""
    m = await api.masters()
    s = await api.session(1, "2025-08-03T10:00:00Z")
    await api.item(s["id"], m)
    await api.ok("PUT", f"/api/sessions/{s['id']}", 1, json={"status": "COMPLETED"})
    await api.session(1, "2025-08-03T15:00:00Z")
    resp = await api.call("PUT", f"/api/sessions/{s['id']}", 1, json={"status": "ACTIVE"})
    assert resp.status_code == 409
    assert resp.json()["error"]["message"] == "An active session already exists for this date"
    assert (await api.ok("GET", f"/api/sessions/{s['id']}", 1))["status"] == "COMPLETED"


async def test_redate_active_session_onto_taken_date_is_409(api: Any) -> None:
    """Re-dating an ACTIVE session onto a date with another ACTIVE session: 409."""
    await api.session(1, "2025-08-03T10:00:00Z")
    other = await api.session(1, "2025-08-04T10:00:00Z")
    resp = await api.call(
        "PUT", f"/api/sessions/{other['id']}", 1, json={"date": "2025-08-03T20:00:00Z"}
    )
    assert resp.status_code == 409
    assert resp.json()["error"]["message"] == "An active session already exists for this date"
    data = await api.ok(
        "PUT", f"/api/sessions/{other['id']}", 1, json={"date": "2025-08-05T09:30:00.000Z"}
    )
    assert data["date"] == "2025-08-05T09:30:00.000Z"


async def test_update_session_bad_status_or_null_is_400(api: Any) -> None:
    """Status values only ACTIVE/COMPLETED; null status or date: 400 VALIDATION_ERROR."""
    s = await api.session(1, "2025-08-03T10:00:00Z")
    for body in ({"status": "CLOSED"}, {"status": None}, {"date": None}, {"date": "x"}):
        resp = await api.call("PUT", f"/api/sessions/{s['id']}", 1, json=body)
        assert resp.status_code == 400, (body, resp.text)
        assert resp.json()["error"]["code"] == "VALIDATION_ERROR"


async def test_update_session_not_found(api: Any) -> None:
    resp = await api.call(
        "PUT", "/api/sessions/6f1c1b1e-8a4e-4d0b-9a53-0d7e8f7b2c11", 1, json={"status": "ACTIVE"}
    )
    assert resp.status_code == 404
    assert resp.json()["error"] == {"message": "Session not found", "code": "NOT_FOUND"}


# --- 5. Delete Session ---
async def test_delete_empty_session(api: Any) -> None:
    """Delete: 200 {message: 'Session deleted successfully'}; then 404."""
    s = await api.session(1, "2025-08-03T10:00:00Z")
    data = await api.ok("DELETE", f"/api/sessions/{s['id']}", 1)
    assert data == {"message": "Session deleted successfully"}
    assert (await api.call("GET", f"/api/sessions/{s['id']}", 1)).status_code == 404


async def test_cannot_delete_session_with_items(api: Any) -> None:
    """Rule: cannot delete a session with auction items (seed's exact 409 message)."""
    m = await api.masters()
    s = await api.session(1, "2025-08-03T10:00:00Z")
    await api.item(s["id"], m)
    resp = await api.call("DELETE", f"/api/sessions/{s['id']}", 1)
    assert resp.status_code == 409
    assert resp.json()["error"] == {
        "message": "Cannot delete session with auction items. Please remove all auction "
        "items first.",
        "code": "CONFLICT",
    }


async def test_delete_session_not_found(api: Any) -> None:
    resp = await api.call("DELETE", "/api/sessions/6f1c1b1e-8a4e-4d0b-9a53-0d7e8f7b2c11", 1)
    assert resp.status_code == 404
    assert resp.json()["error"]["message"] == "Session not found"


# --- Usage example: the whole workflow ---
async def test_seed_workflow_create_add_complete_detail_reopen(api: Any) -> None:
    """Seed usage example: create, add items, complete, get detail, reopen."""
    m = await api.masters()
    s = await api.session(1, "2025-08-03T10:00:00.000Z")
    await api.item(s["id"], m)
    done = await api.ok("PUT", f"/api/sessions/{s['id']}", 1, json={"status": "COMPLETED"})
    assert done["status"] == "COMPLETED"
    detail = await api.ok("GET", f"/api/sessions/{s['id']}", 1)
    assert len(detail["auction_items"]) == 1
    again = await api.ok("PUT", f"/api/sessions/{s['id']}", 1, json={"status": "ACTIVE"})
    assert again["status"] == "ACTIVE"

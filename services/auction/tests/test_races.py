"""Issue item 3: one ACTIVE session per commissioner per UTC date, settled by the database
under real concurrency; item writes never slip into a session being completed."""

from __future__ import annotations

import asyncio
from typing import Any


async def test_20_parallel_creates_same_date_one_201_rest_409(api: Any) -> None:
    """20 parallel creates for one commissioner and date: exactly one 201, nineteen 409s,
    zero 5xx."""
    answers = await asyncio.gather(
        *(
            api.call("POST", "/api/sessions", 3, json={"date": f"2025-08-03T{h:02d}:00:00Z"})
            for h in range(20)
        )
    )
    codes = sorted(a.status_code for a in answers)
    assert codes == [201] + [409] * 19, codes
    for a in answers:
        if a.status_code == 409:
            assert a.json()["error"]["message"] == "An active session already exists for this date"
    assert len(await api.ok("GET", "/api/sessions", 3)) == 1


async def test_parallel_reopens_one_wins(api: Any) -> None:
    """Several COMPLETED sessions of one date reopened at once: one ACTIVE, the rest 409."""
    m = await api.masters(4)
    ids = []
    for _ in range(5):
        s = await api.session(4, "2025-08-03T10:00:00Z")
        await api.item(s["id"], m, user_id=4)
        await api.ok("PUT", f"/api/sessions/{s['id']}", 4, json={"status": "COMPLETED"})
        ids.append(s["id"])
    answers = await asyncio.gather(
        *(api.call("PUT", f"/api/sessions/{sid}", 4, json={"status": "ACTIVE"}) for sid in ids)
    )
    assert sorted(a.status_code for a in answers) == [200] + [409] * 4
    assert len(await api.ok("GET", "/api/sessions?status=ACTIVE", 4)) == 1


async def test_parallel_redates_onto_one_date_one_wins(api: Any) -> None:
    """ACTIVE sessions re-dated onto the same date at once: one wins, the rest 409."""
    ids = [(await api.session(5, f"2025-08-{d:02d}T10:00:00Z"))["id"] for d in range(1, 7)]
    answers = await asyncio.gather(
        *(
            api.call("PUT", f"/api/sessions/{sid}", 5, json={"date": "2025-09-01T08:00:00Z"})
            for sid in ids
        )
    )
    assert sorted(a.status_code for a in answers) == [200] + [409] * 5


async def test_items_racing_completion_never_land_in_completed_session(api: Any) -> None:
    """Item adds racing a completion: each add is 201 (before) or 409 (after); every
    201 item is in the session, and the session ends COMPLETED; zero 5xx."""
    m = await api.masters(6)
    s = await api.session(6, "2025-08-03T10:00:00Z")
    await api.item(s["id"], m, user_id=6)
    body = {
        **{k: m[k] for k in ("farmer_id", "product_id", "buyer_id")},
        "unit": "KG",
        "quantity": 1,
        "final_price": 1,
    }
    url = f"/api/sessions/{s['id']}/items"
    calls = [api.call("POST", url, 6, json=body) for _ in range(10)]
    calls.insert(5, api.call("PUT", f"/api/sessions/{s['id']}", 6, json={"status": "COMPLETED"}))
    answers = await asyncio.gather(*calls)
    assert all(a.status_code < 500 for a in answers)
    assert answers[5].status_code == 200
    adds = answers[:5] + answers[6:]
    assert all(a.status_code in (201, 409) for a in adds)
    created = sum(a.status_code == 201 for a in adds)
    detail = await api.ok("GET", f"/api/sessions/{s['id']}", 6)
    assert detail["status"] == "COMPLETED"
    assert detail["_count"]["auction_items"] == 1 + created


async def test_delete_racing_item_add_is_409_not_500(api: Any) -> None:
    """Deleting a session while an item is added: either the delete wins (item 404) or the
    add wins (delete 409); never a 500."""
    m = await api.masters(7)
    for _ in range(5):
        s = await api.session(7, "2025-08-03T10:00:00Z")
        body = {
            **{k: m[k] for k in ("farmer_id", "product_id", "buyer_id")},
            "unit": "KG",
            "quantity": 1,
            "final_price": 1,
        }
        add, delete = await asyncio.gather(
            api.call("POST", f"/api/sessions/{s['id']}/items", 7, json=body),
            api.call("DELETE", f"/api/sessions/{s['id']}", 7),
        )
        assert (add.status_code, delete.status_code) in ((201, 409), (404, 200)), (
            add.text,
            delete.text,
        )
        if add.status_code == 201:
            await api.ok(
                "DELETE", f"/api/sessions/{s['id']}/items/{add.json()['data']['id']}", 7, 204
            )
            await api.ok("DELETE", f"/api/sessions/{s['id']}", 7)

"""A session's date is an ISO 8601 string (seed 003, as trading's timestamps are): a JSON number
was read as Unix seconds, so the hostile corpus's {"date": -0} made a session dated
1970-01-01 (tests/e2e/test_hostile_corpus.py, issue 10)."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.mark.parametrize("date", [0, -0.0, 1_700_000_000, 1.5])
async def test_a_session_date_that_is_a_number_is_400(api: Any, date: float) -> None:
    resp = await api.call("POST", "/api/sessions", 1, json={"date": date})
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"]["code"] == "VALIDATION_ERROR"
    s = await api.session(1, "2025-08-03T10:00:00Z")
    resp = await api.call("PUT", f"/api/sessions/{s['id']}", 1, json={"date": date})
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"]["code"] == "VALIDATION_ERROR"
    await api.ok("DELETE", f"/api/sessions/{s['id']}", 1)

"""Seed 003 'Error Handling' and issue item 1: the envelope on every response, success and
error, with the seed's codes and statuses."""

from __future__ import annotations

import re
from typing import Any

import pytest

from devstack.testing import TokenFactory, through_gateway

ISO_MS_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
ID = "6f1c1b1e-8a4e-4d0b-9a53-0d7e8f7b2c11"

# Every /api route of this part (and part B's), with a method.
ROUTES = [
    ("GET", "/api/sessions"),
    ("POST", "/api/sessions"),
    ("GET", f"/api/sessions/{ID}"),
    ("PUT", f"/api/sessions/{ID}"),
    ("DELETE", f"/api/sessions/{ID}"),
    ("GET", f"/api/sessions/{ID}/items"),
    ("POST", f"/api/sessions/{ID}/items"),
    ("GET", f"/api/sessions/{ID}/items/{ID}"),
    ("PUT", f"/api/sessions/{ID}/items/{ID}"),
    ("DELETE", f"/api/sessions/{ID}/items/{ID}"),
    *[
        (method, url)
        for path in ("categories", "products", "farmers", "buyers")
        for method, url in (
            ("GET", f"/api/{path}"),
            ("POST", f"/api/{path}"),
            ("GET", f"/api/{path}/{ID}"),
            ("PUT", f"/api/{path}/{ID}"),
            ("DELETE", f"/api/{path}/{ID}"),
        )
    ],
]


def assert_error(resp: Any, status: int, code: str) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"success", "error", "meta"}
    assert body["success"] is False
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert set(body["error"]) <= {"message", "code", "details"}
    assert ISO_MS_Z.match(body["meta"]["timestamp"])
    assert resp.headers["content-type"].startswith("application/json")
    assert resp.headers.get("x-request-id")
    err: dict[str, Any] = body["error"]
    return err


async def test_success_envelope_single_and_list(api: Any) -> None:
    """success: {success: true, data, meta: {timestamp}}; lists add page, limit, total,
    totalPages."""
    resp = await api.call("POST", "/api/categories", 1, json={"name": "Veg"})
    body = resp.json()
    assert set(body) == {"success", "data", "meta"} and body["success"] is True
    assert set(body["meta"]) == {"timestamp"}
    assert ISO_MS_Z.match(body["meta"]["timestamp"])
    body = (await api.call("GET", "/api/categories", 1)).json()
    assert set(body["meta"]) == {"timestamp", "page", "limit", "total", "totalPages"}
    assert body["meta"]["totalPages"] == 1


@pytest.mark.parametrize(("method", "url"), ROUTES)
async def test_unauthorized_401_on_every_route(client: Any, method: str, url: str) -> None:
    """UNAUTHORIZED (401) without a valid token, in the envelope."""
    resp = await client.request(method, url)
    assert_error(resp, 401, "UNAUTHORIZED")
    resp = await client.request(method, url, headers={"Authorization": "Bearer garbage"})
    assert_error(resp, 401, "UNAUTHORIZED")


@pytest.mark.parametrize(("method", "url"), ROUTES)
async def test_forbidden_403_for_non_commissioner(
    client: Any, tokens: TokenFactory, method: str, url: str
) -> None:
    """FORBIDDEN (403): a user without the commissioner role (trader, admin) is refused."""
    for roles in (["trader"], ["admin"], []):
        resp = await client.request(method, url, headers=tokens.headers(5, roles))
        assert_error(resp, 403, "FORBIDDEN")


async def test_expired_token_is_401(client: Any, tokens: TokenFactory) -> None:
    token = tokens.token(1, ["commissioner"], ttl=-60)
    resp = await client.get("/api/sessions", headers={"Authorization": f"Bearer {token}"})
    assert_error(resp, 401, "UNAUTHORIZED")


async def test_not_found_404_unknown_routes(api: Any) -> None:
    """NOT_FOUND (404) for unknown routes, enveloped (paths outside /api are not the auction
    service's behind the gateway)."""
    urls = ["/api/nope", "/api/sessions/x/y/z"] + ([] if through_gateway() else ["/nothing"])
    for url in urls:
        resp = await api.client.get(url, headers=api.headers(1))
        assert_error(resp, 404, "NOT_FOUND")


async def test_method_not_allowed_405_under_api(api: Any) -> None:
    """405 under /api, enveloped."""
    for method, url in (
        ("PATCH", "/api/sessions"),
        ("DELETE", "/api/farmers"),
        ("POST", f"/api/sessions/{ID}"),
    ):
        resp = await api.client.request(method, url, headers=api.headers(1))
        assert_error(resp, 405, "METHOD_NOT_ALLOWED")


async def test_validation_error_400_malformed_json(api: Any) -> None:
    """VALIDATION_ERROR (400) for a malformed JSON body."""
    for path in ("/api/sessions", "/api/farmers"):
        resp = await api.client.post(
            path,
            content=b'{"name": ',
            headers={**api.headers(1), "content-type": "application/json"},
        )
        assert_error(resp, 400, "VALIDATION_ERROR")


async def test_validation_error_400_body_with_details(api: Any) -> None:
    """VALIDATION_ERROR (400) for an invalid body, with details naming the field."""
    resp = await api.client.post("/api/farmers", json={"name": 1}, headers=api.headers(1))
    err = assert_error(resp, 400, "VALIDATION_ERROR")
    assert err["details"][0]["loc"] == ["body", "name"]
    resp = await api.client.post("/api/farmers", json=[1, 2], headers=api.headers(1))
    assert_error(resp, 400, "VALIDATION_ERROR")


async def test_validation_error_400_bad_query_params(api: Any) -> None:
    """VALIDATION_ERROR (400) for bad query parameters."""
    for url in ("/api/sessions?page=-1", "/api/farmers?limit=1000", "/api/buyers?active=perhaps"):
        resp = await api.client.get(url, headers=api.headers(1))
        err = assert_error(resp, 400, "VALIDATION_ERROR")
        assert err["details"][0]["loc"][0] == "query"


async def test_conflict_409_envelope(api: Any) -> None:
    """CONFLICT (409) in the envelope (the seed's one-active rule)."""
    await api.session(1, "2025-08-03T10:00:00Z")
    resp = await api.client.post(
        "/api/sessions", json={"date": "2025-08-03T11:00:00Z"}, headers=api.headers(1)
    )
    assert_error(resp, 409, "CONFLICT")


@pytest.mark.in_process_only
async def test_openapi_documents_error_statuses(client: Any) -> None:
    """Every route's error statuses are in the OpenAPI document (responses=); the public
    routes (no login: `security: []`) have no 401/403 and document the gateway's 429."""
    doc = (await client.get("/openapi.json")).json()
    for path, ops in doc["paths"].items():
        if not path.startswith("/api/"):
            continue
        for op in ops.values():
            if path.startswith("/api/public/"):
                assert op["security"] == [], path
                assert "429" in op["responses"] and "401" not in op["responses"], path
                continue
            assert {"400", "401", "403"} <= set(op["responses"]), (path, op["summary"])
    post = doc["paths"]["/api/sessions"]["post"]["responses"]
    assert {"201", "409"} <= set(post)
    assert "204" in doc["paths"]["/api/sessions/{sessionId}/items/{itemId}"]["delete"]["responses"]

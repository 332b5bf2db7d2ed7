"""A stopped service gives a clean JSON 503 with Retry-After at the gateway, in its own format,
while every other route keeps working (SPEC section 5); only idempotent requests are retried."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import httpx

from devstack.stack import Stack

if TYPE_CHECKING:
    from .conftest import User, UserFactory


def test_stopped_trading_is_json_503_and_others_keep_serving(
    gw: httpx.Client, stack: Stack, make_user: UserFactory
) -> None:
    user: User = make_user(("trader", "commissioner"))
    stack.stop_service("trading")
    try:
        for method, path in [("GET", "/sessions"), ("POST", "/sessions"), ("GET", "/reports/1")]:
            rid = f"down-{uuid.uuid4().hex}"
            resp = gw.request(method, path, headers={**user.bearer, "X-Request-ID": rid}, json={})
            assert resp.status_code == 503, resp.text
            assert resp.headers["retry-after"] == "1"
            assert resp.headers["content-type"] == "application/json"
            assert resp.json() == {
                "detail": "The trading service is unavailable, try again shortly"
            }
            assert resp.headers["x-request-id"] == rid
            assert resp.headers["x-frame-options"] == "DENY"
        # The other services do not notice.
        assert gw.get("/api/sessions", headers=user.bearer).status_code == 200
        assert gw.get("/auth/me", headers=user.bearer).status_code == 200
        health = gw.get("/healthz")
        assert health.status_code == 503
        assert health.json()["services"] == {
            "auth": "ok",
            "trading": health.json()["services"]["trading"],
            "auction": "ok",
            "web": "ok",
        }
        assert health.json()["services"]["trading"] != "ok"
    finally:
        stack.start_service("trading")
    assert gw.get("/sessions", headers=user.bearer).status_code == 200
    assert gw.get("/healthz").status_code == 200


def test_stopped_auction_is_503_in_the_auction_envelope(
    gw: httpx.Client, stack: Stack, make_user: UserFactory
) -> None:
    user: User = make_user(("trader", "commissioner"))
    stack.stop_service("auction")
    try:
        resp = gw.get("/api/sessions", headers=user.bearer)
        assert resp.status_code == 503
        body = resp.json()
        assert body["success"] is False
        assert body["error"] == {
            "message": "The auction service is unavailable, try again shortly",
            "code": "SERVICE_UNAVAILABLE",
        }
        assert body["meta"]["timestamp"].endswith("Z")
        assert gw.get("/sessions", headers=user.bearer).status_code == 200
    finally:
        stack.start_service("auction")
    assert gw.get("/api/sessions", headers=user.bearer).status_code == 200


def _attempts(stack: Stack, method: str) -> float:
    """Requests Traefik sent to the auction service that ended in 502, for one method (over
    both load balancers behind its failover: the replicas and, when none is ready, any)."""
    metrics = httpx.get(stack.metrics_url, timeout=10).text
    prefix = "traefik_service_requests_total{"
    services = ('service="auction-replicas@file"', 'service="auction-any@file"')
    total = 0.0
    for line in metrics.splitlines():
        if (
            line.startswith(prefix)
            and f'method="{method}"' in line
            and any(service in line for service in services)
            and 'code="502"' in line
        ):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_only_idempotent_requests_are_retried(gw: httpx.Client, stack: Stack) -> None:
    """GET/PUT/DELETE are tried 3 times on connection errors; POST and PATCH once.
    (Counted with Traefik's own per-service request metric.)"""
    stack.stop_service("auction")
    try:
        tries = {}
        for method in ("GET", "PUT", "DELETE", "POST", "PATCH"):
            before = _attempts(stack, method)
            resp = gw.request(method, "/api/sessions/x")
            assert resp.status_code == 503
            assert resp.json()["error"]["code"] == "SERVICE_UNAVAILABLE"
            tries[method] = _attempts(stack, method) - before
    finally:
        stack.start_service("auction")
    assert tries == {"GET": 3, "PUT": 3, "DELETE": 3, "POST": 1, "PATCH": 1}

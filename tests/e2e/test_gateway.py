"""The gateway itself (SPEC section 5): routes by path, security headers, body limit,
/healthz, request ids, metrics on an internal entrypoint."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest

from devstack.stack import Stack

ONE_MIB = 1024 * 1024


def test_healthz_is_200_when_every_service_is_ready(gw: httpx.Client) -> None:
    resp = gw.get("/healthz")
    assert resp.status_code == 200, resp.text
    assert resp.json() == {
        "status": "ok",
        "services": {"auth": "ok", "trading": "ok", "auction": "ok", "web": "ok"},
    }


def served_by(service: str) -> set[str]:
    """The load balancers behind a service's failover (gateway/dynamic.yml): the access log
    names the one that answered, its health-checked replicas or, when none is ready, any."""
    return {f"{service}-replicas@file", f"{service}-any@file"}


def _access_entry(stack: Stack, rid: str) -> dict[str, object]:
    for line in reversed(stack.access_log.read_text().splitlines()):
        entry = json.loads(line)
        if entry.get("request_X-Request-Id") == rid:
            return dict(entry)
    raise AssertionError(f"no access log entry for {rid}")


@pytest.mark.parametrize(
    ("path", "owner"),
    [
        ("/sessions", "trading"),
        ("/sessions/1/candles", "trading"),
        ("/instruments", "trading"),
        ("/instruments/1", "trading"),
        ("/positions/1", "trading"),
        ("/reports/1", "trading"),
        ("/orders/1", "trading"),
        ("/api/sessions", "auction"),
        ("/api/farmers", "auction"),
        ("/auth/me", "auth"),
        ("/auth/.well-known/jwks.json", "auth"),
    ],
)
def test_routes_by_path_to_the_owner_without_stripping(
    gw: httpx.Client, stack: Stack, path: str, owner: str
) -> None:
    """SPEC section 5's table: the owner gets the path unchanged (no prefix stripping)."""
    rid = f"route-{uuid.uuid4().hex}"
    resp = gw.get(path, headers={"X-Request-ID": rid})
    assert resp.headers["x-request-id"] == rid
    entry = _access_entry(stack, rid)
    assert entry["ServiceName"] in served_by(owner)
    assert entry["ServiceURL"] == stack.service_url(owner)
    assert entry["RequestPath"] == path
    assert resp.status_code != 502


@pytest.mark.parametrize(
    ("path", "owner"),
    [("/sessions", "trading"), ("/api/sessions", "auction"), ("/auth/me", "auth")],
)
def test_anonymous_calls_get_each_service_own_401(gw: httpx.Client, path: str, owner: str) -> None:
    resp = gw.get(path)
    assert resp.status_code == 401, resp.text
    if owner == "auction":
        body = resp.json()
        assert body["success"] is False and body["error"]["code"] == "UNAUTHORIZED"
    else:
        assert resp.json() == {"detail": "Not authenticated"}


# /docs is the web app's API reference now (issue 12); /docsX and /openapi.json stay nobody's.
@pytest.mark.parametrize(
    "path", ["/sessionsX", "/apix/sessions", "/authz", "/metrics", "/docsX", "/openapi.json"]
)
def test_paths_no_service_owns_are_a_json_404(gw: httpx.Client, path: str) -> None:
    """`Path(/sessions) || PathPrefix(/sessions/)`: /sessionsX is not trading's."""
    resp = gw.get(path)
    assert resp.status_code == 404
    assert resp.json() == {"detail": "Not found"}


ENCODED = ["%25", "%2F", "%2f", "%00", "%3B", "%3F", "%23", "%5C"]


@pytest.mark.parametrize("encoded", ENCODED)
@pytest.mark.parametrize(
    ("method", "template", "owner"),
    [
        ("GET", "/sessions/1{}", "trading"),
        ("POST", "/sessions/1{}/step", "trading"),
        ("GET", "/api/farmers/x{}y", "auction"),
        ("DELETE", "/api/sessions/{}", "auction"),
        ("GET", "/auth/me{}", "auth"),
        ("POST", "/auth/login{}", "auth"),
        ("GET", "/nowhere{}", "none"),
    ],
)
def test_encoded_separators_in_paths_get_json_in_the_owner_format(
    gw: httpx.Client, encoded: str, method: str, template: str, owner: str
) -> None:
    """Issue 10, defect 3: Traefik answered these with its own empty 400 (no Content-Type, no
    X-Request-ID, no security headers). Now the owner of the path answers a JSON 404 in its
    format, before routing, so gateway and service never see two different paths."""
    resp = gw.request(method, template.format(encoded), headers={"X-Request-ID": "enc-1"})
    assert resp.status_code == 404, resp.text
    assert resp.headers["content-type"].startswith("application/json")
    assert resp.headers["x-request-id"] == "enc-1"
    assert resp.headers["x-frame-options"] == "DENY"
    assert resp.headers["x-content-type-options"] == "nosniff"
    body = resp.json()
    if owner == "auction":
        assert body["success"] is False and body["error"]["code"] == "NOT_FOUND"
    elif owner == "none":
        assert body == {"detail": "Not found"}
    else:
        assert body["detail"].startswith("No resource at this path")


def test_security_headers_on_every_response(gw: httpx.Client) -> None:
    for path in ("/healthz", "/sessions", "/api/sessions", "/auth/.well-known/jwks.json"):
        headers = gw.get(path).headers
        assert headers["x-frame-options"] == "DENY"
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer"
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert "server" not in headers


def test_body_over_1_mib_is_413_at_the_gateway_in_each_service_format(gw: httpx.Client) -> None:
    big = b"x" * (ONE_MIB + 1)
    headers = {"Content-Type": "application/json"}
    trading = gw.post("/sessions", content=big, headers=headers)
    assert trading.status_code == 413
    assert trading.json() == {"detail": "Request body too large"}
    auction = gw.post("/api/sessions", content=big, headers=headers)
    assert auction.status_code == 413
    body = auction.json()
    assert body["success"] is False
    assert body["error"]["code"] == "PAYLOAD_TOO_LARGE"
    assert body["meta"]["timestamp"].endswith("Z")
    login = gw.post("/auth/login", content=big, headers=headers)
    assert login.status_code == 413
    assert login.json() == {"detail": "Request body too large"}


def test_body_of_exactly_1_mib_reaches_the_service(gw: httpx.Client, stack: Stack) -> None:
    rid = f"mib-{uuid.uuid4().hex}"
    resp = gw.post(
        "/sessions",
        content=b" " * ONE_MIB,
        headers={"Content-Type": "application/json", "X-Request-ID": rid},
    )
    assert resp.status_code != 413
    entry = _access_entry(stack, rid)
    assert entry["ServiceName"] in served_by("trading")  # trading answered, not the gateway
    assert entry["RequestContentSize"] == ONE_MIB


def test_candle_import_route_accepts_bodies_over_1_mib(gw: httpx.Client, stack: Stack) -> None:
    """POST /instruments/{id}/candles has a larger limit (a year of M1 bars is ~30 MB)."""
    csv = b"timestamp,open,high,low,close,volume\n" + b"2024-01-01T00:00:00Z,1,1,1,1,1\n" * 70_000
    assert len(csv) > 2 * ONE_MIB
    rid = f"candles-{uuid.uuid4().hex}"
    resp = gw.post(
        "/instruments/1/candles",
        content=csv,
        headers={"Content-Type": "text/csv", "X-Request-ID": rid},
    )
    assert resp.status_code != 413
    entry = _access_entry(stack, rid)
    assert entry["RouterName"] == "trading-candle-import@file"
    assert entry["ServiceName"] in served_by("trading")
    # The same size anywhere else is refused.
    assert gw.post("/instruments/1", content=csv).status_code == 413


def test_request_id_passes_through_gateway_and_is_logged(gw: httpx.Client, stack: Stack) -> None:
    rid = f"e2e-{uuid.uuid4().hex}"
    resp = gw.get("/sessions", headers={"X-Request-ID": rid})
    assert resp.headers["x-request-id"] == rid
    generated = gw.get("/api/sessions")
    service_rid = generated.headers["x-request-id"]
    assert len(service_rid) == 32

    entries = [json.loads(line) for line in stack.access_log.read_text().splitlines() if line]
    mine = [e for e in entries if e.get("request_X-Request-Id") == rid]
    assert mine and mine[-1]["downstream_X-Request-Id"] == rid
    assert mine[-1]["RouterName"].startswith("trading-read")
    assert any(e.get("downstream_X-Request-Id") == service_rid for e in entries)
    trading_log = (stack.logs_dir / "trading.log").read_text()
    assert rid in trading_log  # the service's own log line carries the same id


def test_access_log_is_json_without_headers_or_query(gw: httpx.Client, stack: Stack) -> None:
    marker = uuid.uuid4().hex
    gw.get(f"/sessions?token={marker}", headers={"Authorization": f"Bearer {marker}"})
    lines = stack.access_log.read_text().splitlines()
    entries = [json.loads(line) for line in lines if line]
    assert entries and all("RequestPath" in e for e in entries)
    assert marker not in stack.access_log.read_text()
    assert not any(k.lower().endswith(("authorization", "cookie")) for e in entries for k in e)


def test_prometheus_metrics_on_the_internal_entrypoint(gw: httpx.Client, stack: Stack) -> None:
    gw.get("/sessions")
    resp = httpx.get(stack.metrics_url, timeout=10)
    assert resp.status_code == 200
    assert "traefik_router_requests_total" in resp.text
    assert 'router="trading-read@file"' in resp.text
    assert gw.get("/metrics").status_code == 404  # not on the client entrypoint

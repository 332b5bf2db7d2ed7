"""No password or token ever appears in a log line: every process's output and Traefik's
access log are read after every other e2e test ran (conftest sorts this module last)."""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING

import httpx

from devstack.postgres import EmbeddedPostgres
from devstack.stack import Stack
from devstack.testing import PgCluster

if TYPE_CHECKING:
    from .conftest import ClientFactory, Secrets


def test_no_password_or_token_in_any_log(
    client_factory: ClientFactory,
    source_ip: str,
    stack: Stack,
    secrets_seen: Secrets,
    pg_cluster: PgCluster,
) -> None:
    # One more full flow whose every secret is known: register, a failed and a good login
    # (JSON and form-looking bodies), cookie and bearer calls, refresh, a token in the query.
    c = client_factory(source_ip)
    email = f"logs-{uuid.uuid4().hex[:8]}@example.com"
    password = f"pw-{uuid.uuid4().hex}"
    wrong = f"wrong-{uuid.uuid4().hex}"
    secrets_seen.add(password, wrong)
    assert (
        c.post(
            "/auth/register",
            json={"email": email, "password": password, "name": "Logs", "roles": ["commissioner"]},
        ).status_code
        == 201
    )
    bad = c.post("/auth/register", json={"email": "not-an-email", "password": password})
    assert bad.status_code == 422
    assert password not in bad.text  # validation errors never echo the input
    assert c.post("/auth/login", json={"email": email, "password": wrong}).status_code == 401
    login = c.post("/auth/login", json={"email": email, "password": password})
    assert login.status_code == 200
    body = login.json()
    secrets_seen.add(body["access_token"], body["refresh_token"])
    secrets_seen.add(*(cookie.value for cookie in c.cookies.jar))
    bearer = {"Authorization": f"Bearer {body['access_token']}"}
    c.get("/api/sessions")  # with the cookies
    c.post("/api/sessions", json={}, headers={"X-CSRF-Token": c.cookies["csrf_token"]})
    httpx.get(f"{stack.gateway_url}/sessions?access_token={body['access_token']}", headers=bearer)
    refreshed = c.post("/auth/refresh")
    assert refreshed.status_code == 200
    secrets_seen.add(refreshed.json()["access_token"], refreshed.json()["refresh_token"])
    secrets_seen.add(*(cookie.value for cookie in c.cookies.jar))
    c.post("/auth/logout")

    logs = sorted(stack.logs_dir.glob("*.log"))
    names = {p.name for p in logs}
    assert {"auth.log", "trading.log", "auction.log", "traefik.log", "access.log"} <= names
    assert {"gateway-aux.log", "migrate-auth.log"} <= names
    # The logs did record this flow (so the check below looks at real traffic).
    access = stack.access_log.read_text()
    assert "/auth/login" in access and "/auth/refresh" in access
    assert email not in access  # bodies are never logged either
    for entry in map(json.loads, access.splitlines()):
        assert not any("authorization" in k.lower() or "cookie" in k.lower() for k in entry)

    if isinstance(pg_cluster.server, EmbeddedPostgres):  # the database server's log too
        logs.append(pg_cluster.server.data_dir / "postgres.log")

    secrets = {s for s in secrets_seen.values if len(s) >= 8}
    assert len(secrets) > 10
    for path in logs:
        text = path.read_text(errors="replace")
        leaked = [s[:12] + "..." for s in secrets if s in text]
        assert not leaked, f"{path.name} contains secrets: {leaked}"

"""No password or token is ever written to the logs."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import httpx
import pytest

from servicekit.logging import JsonFormatter

Call = Callable[..., Awaitable[httpx.Response]]
SECRET_PASSWORD = "s3cret-Passw0rd-for-logs"


async def test_no_password_or_token_in_log_output(
    client: httpx.AsyncClient, register: Call, login: Call, caplog: pytest.LogCaptureFixture
) -> None:
    """Register, login (failed and good), me, refresh, reuse, logout: neither the password
    nor any token appears in any log record, raw or formatted."""
    caplog.set_level(logging.DEBUG)
    assert (await register(password=SECRET_PASSWORD)).status_code == 201
    assert (await register(password=SECRET_PASSWORD + "x", name="Dup")).status_code == 409
    assert (await login(password=SECRET_PASSWORD + "-wrong")).status_code == 401
    logged_in = await login(password=SECRET_PASSWORD)
    assert logged_in.status_code == 200
    assert (await client.get("/auth/me")).status_code == 200
    refreshed = await client.post("/auth/refresh")
    assert refreshed.status_code == 200
    reuse = await client.post(
        "/auth/refresh", json={"refresh_token": logged_in.json()["refresh_token"]}
    )
    assert reuse.status_code == 401
    assert (await client.post("/auth/logout")).status_code == 204

    secrets = {SECRET_PASSWORD, SECRET_PASSWORD + "x", SECRET_PASSWORD + "-wrong"}
    for resp in (logged_in, refreshed):
        secrets.add(resp.json()["access_token"])
        secrets.add(resp.json()["refresh_token"])
        secrets.add(resp.cookies["csrf_token"])

    assert caplog.records, "expected the requests to be logged"
    formatter = JsonFormatter("auth")
    for record in caplog.records:
        raw = f"{record.getMessage()} {record.__dict__!r}"
        formatted = formatter.format(record)
        for secret in secrets:
            assert secret not in raw, record.name
            assert secret not in formatted, record.name

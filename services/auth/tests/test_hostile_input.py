"""A 500 is a bug: NUL bytes, lone surrogates and odd headers are clear 4xx answers."""

from __future__ import annotations

import httpx
import pytest

JSON = {"content-type": "application/json"}


@pytest.mark.parametrize(
    ("path", "raw", "status"),
    [
        (
            "/auth/register",
            rb'{"email":"a@example.com","password":"password1","name":"A\u0000B"}',
            422,
        ),
        (
            "/auth/register",
            rb'{"email":"a@example.com","password":"password1","name":"A\ud800"}',
            422,
        ),
        (
            "/auth/register",
            rb'{"email":"a\u0000@example.com","password":"password1","name":"A"}',
            422,
        ),
        (
            "/auth/register",
            rb'{"email":"a@example.com","password":"pass\ud800word","name":"A"}',
            422,
        ),
        ("/auth/login", rb'{"email":"a\u0000@example.com","password":"password1"}', 422),
        ("/auth/login", rb'{"email":"a\ud800@example.com","password":"password1"}', 422),
        ("/auth/login", rb'{"email":"a@example.com","password":"pass\ud800word"}', 422),
        ("/auth/login", rb'{"email":"a@example.com","password":"pass\u0000word"}', 401),
        ("/auth/refresh", rb'{"refresh_token":"a\u0000b"}', 401),
        ("/auth/refresh", rb'{"refresh_token":"a\ud800b"}', 422),
        ("/auth/logout", rb'{"refresh_token":"a\u0000b"}', 204),
        ("/auth/login", b"[]", 422),
        ("/auth/login", b"null", 422),
    ],
)
async def test_hostile_bodies_are_4xx(
    client: httpx.AsyncClient, path: str, raw: bytes, status: int
) -> None:
    resp = await client.post(path, content=raw, headers=JSON)
    assert resp.status_code == status, resp.text


@pytest.mark.parametrize("forwarded", [b"\xff", b"1.2.3.4, ::zz", b"", b",,,", b"x" * 2000])
async def test_odd_forwarded_for_headers_are_harmless(
    client: httpx.AsyncClient, forwarded: bytes
) -> None:
    resp = await client.post(
        "/auth/login",
        json={"email": "a@example.com", "password": "password1"},
        headers={"X-Forwarded-For": forwarded},
    )
    assert resp.status_code == 401

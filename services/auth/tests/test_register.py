"""POST /auth/register: SPEC section 2 rules for users."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from auth_service.users.passwords import Passwords

Register = Callable[..., Awaitable[httpx.Response]]
PASSWORD = "correct horse battery"  # the conftest's default password


async def test_register_returns_201_user_with_default_role_trader(register: Register) -> None:
    """201 user {id, email, name, roles, created_at}; roles default to ["trader"]."""
    resp = await register(email="ann@example.com", name="Ann")
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert set(body) >= {"id", "email", "name", "roles", "created_at"}
    assert isinstance(body["id"], int)
    assert body["email"] == "ann@example.com"
    assert body["name"] == "Ann"
    assert body["roles"] == ["trader"]
    assert "password" not in body and "password_hash" not in body


async def test_created_at_is_iso8601_utc_with_z(register: Register) -> None:
    """Timestamps are ISO 8601 in UTC with `Z`."""
    created_at = (await register()).json()["created_at"]
    assert created_at.endswith("Z")
    assert datetime.fromisoformat(created_at).utcoffset() is not None


@pytest.mark.parametrize(
    "roles", [["trader"], ["commissioner"], ["trader", "commissioner"], ["commissioner", "trader"]]
)
async def test_register_roles_may_hold_trader_and_or_commissioner(
    register: Register, roles: list[str]
) -> None:
    """`roles` may hold trader and/or commissioner."""
    resp = await register(roles=roles)
    assert resp.status_code == 201, resp.text
    assert resp.json()["roles"] == roles


async def test_register_duplicate_roles_are_collapsed(register: Register) -> None:
    resp = await register(roles=["trader", "trader"])
    assert resp.status_code == 201
    assert resp.json()["roles"] == ["trader"]


@pytest.mark.parametrize(
    "roles", [["admin"], ["trader", "admin"], ["superuser"], [], "trader", [1]]
)
async def test_register_admin_or_unknown_role_is_422(register: Register, roles: object) -> None:
    """`admin` is never self-assigned (422); unknown roles and an empty list are 422 too."""
    resp = await register(roles=roles)
    assert resp.status_code == 422, resp.text
    assert resp.json()["detail"][0]["loc"][:2] == ["body", "roles"]


@pytest.mark.parametrize(
    ("length", "status"), [(0, 422), (7, 422), (8, 201), (1024, 201), (1025, 422)]
)
async def test_register_password_is_8_to_1024_chars(
    register: Register, length: int, status: int
) -> None:
    """Password 8..1024 characters."""
    resp = await register(password="p" * length)
    assert resp.status_code == status, resp.text


async def test_register_password_length_counts_characters_not_bytes(register: Register) -> None:
    resp = await register(password="é" * 8)  # 16 bytes in UTF-8, 8 characters
    assert resp.status_code == 201


@pytest.mark.parametrize(
    "email",
    [
        "",
        "plainaddress",
        "@example.com",
        "ann@",
        "ann@example",
        "ann@@example.com",
        "ann example@example.com",
        "ann@exa mple.com",
        "ann@-example.com",
        "ann@example..com",
        ".ann@example.com",
        "ann.@example.com",
        "ann@example.c",
        "a" * 65 + "@example.com",
        "ann@" + "a" * 250 + ".com",
        "ann@exam\nple.com",
        None,
        42,
    ],
)
async def test_register_bad_email_is_422(register: Register, email: object) -> None:
    """The email format is validated: 422."""
    resp = await register(email=email)
    assert resp.status_code == 422, resp.text
    assert resp.json()["detail"][0]["loc"][:2] == ["body", "email"]


@pytest.mark.parametrize(
    "email", ["a.b+tag@example.co.uk", "o'brien@sub.example.org", "x@xn--bcher-kva.example"]
)
async def test_register_accepts_usual_email_forms(register: Register, email: str) -> None:
    assert (await register(email=email)).status_code == 201


@pytest.mark.parametrize(
    "body",
    [
        {"email": "ann@example.com", "password": PASSWORD},
        {"email": "ann@example.com", "name": "Ann"},
        {"password": PASSWORD, "name": "Ann"},
        {"email": "ann@example.com", "password": PASSWORD, "name": "   "},
        {"email": "ann@example.com", "password": PASSWORD, "name": "x" * 201},
        {"email": "ann@example.com", "password": PASSWORD, "name": "Ann", "is_admin": True},
    ],
)
async def test_register_missing_or_bad_fields_are_422(
    client: httpx.AsyncClient, body: dict[str, object]
) -> None:
    """Validation errors are 422 (missing fields, blank name, unknown fields)."""
    resp = await client.post("/auth/register", json=body)
    assert resp.status_code == 422, resp.text


async def test_register_malformed_json_is_a_clear_4xx(client: httpx.AsyncClient) -> None:
    resp = await client.post(
        "/auth/register", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert resp.status_code == 400
    assert resp.json() == {"detail": "Malformed JSON body"}


async def test_validation_error_does_not_echo_the_password(register: Register) -> None:
    resp = await register(password="short1", roles=["admin"])
    assert resp.status_code == 422
    assert "short1" not in resp.text


async def test_register_email_is_stored_lower_case(register: Register) -> None:
    """Email unique, case-insensitive: stored normalized to lower case."""
    resp = await register(email="  Ann.Smith@Example.COM ")
    assert resp.status_code == 201
    assert resp.json()["email"] == "ann.smith@example.com"


async def test_register_taken_email_is_409_case_insensitively(register: Register) -> None:
    """409 on a taken email, whatever its case."""
    assert (await register(email="ann@example.com")).status_code == 201
    for email in ("ann@example.com", "ANN@example.com", "Ann@Example.Com"):
        resp = await register(email=email)
        assert resp.status_code == 409, resp.text
        assert resp.json() == {"detail": "Email already registered"}


async def test_concurrent_duplicate_registration_gives_one_201_and_409s(
    register: Register, auth_app: FastAPI
) -> None:
    """Email uniqueness is settled by the database: one 201, the rest 409, never 500."""
    emails = ["race@example.com", "RACE@example.com", "Race@Example.com"] * 3
    responses = await asyncio.gather(*(register(email=e) for e in emails))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * (len(emails) - 1)
    async with auth_app.state.db.engine.connect() as conn:
        count = (await conn.execute(text("SELECT count(*) FROM users"))).scalar_one()
    assert count == 1


async def test_password_is_stored_as_argon2id_hash(register: Register, auth_app: FastAPI) -> None:
    """Passwords are hashed with Argon2id; the plain text is stored nowhere."""
    await register(password=PASSWORD)
    async with auth_app.state.db.engine.connect() as conn:
        stored = (await conn.execute(text("SELECT password_hash FROM users"))).scalar_one()
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored


async def test_production_hash_parameters_are_argon2id_defaults() -> None:
    """The default settings hash with argon2-cffi's profile (m=64 MiB, t=3, p=4)."""
    from auth_service.config import Settings

    defaults = Settings()
    passwords = Passwords(
        time_cost=defaults.password_hash_time_cost,
        memory_kib=defaults.password_hash_memory_kib,
        parallelism=defaults.password_hash_parallelism,
    )
    hashed = await passwords.hash(PASSWORD)
    assert hashed.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert await passwords.verify(PASSWORD, hashed) == (True, None)
    assert (await passwords.verify("wrong password", hashed))[0] is False

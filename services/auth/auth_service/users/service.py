"""Registration, lookup and the admin account created at start."""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession

from servicekit.db import Database
from servicekit.errors import Conflict, Unauthorized

from . import repository
from .models import ADMIN_ROLES, User
from .passwords import Passwords
from .schemas import RegisterIn, normalize_email, validate_email

log = logging.getLogger(__name__)


async def register(session: AsyncSession, passwords: Passwords, data: RegisterIn) -> User:
    password_hash = await passwords.hash(data.password)
    user = await repository.insert_user(
        session,
        email=data.email,
        name=data.name,
        password_hash=password_hash,
        roles=list(data.roles),
    )
    if user is None:
        raise Conflict("Email already registered")
    log.info("user registered", extra={"user_id": user.id})
    return user


async def current_user(session: AsyncSession, user_id: int) -> User:
    user = await repository.get_by_id(session, user_id)
    if user is None:
        raise Unauthorized("Invalid token")  # the account is gone
    return user


async def bootstrap_admin(
    db: Database, passwords: Passwords, *, email: str, password: str, name: str
) -> None:
    """Create the admin account once; restarts and concurrent replicas leave it as it is."""
    email = validate_email(normalize_email(email))
    password_hash = await passwords.hash(password)
    async with db.sessionmaker.begin() as session:
        created = await repository.insert_user(
            session, email=email, name=name, password_hash=password_hash, roles=list(ADMIN_ROLES)
        )
        if created is not None:
            log.info("admin account created", extra={"user_id": created.id})
            return
        existing = await repository.get_by_email(session, email)
        if existing is not None and "admin" not in existing.roles:
            # Promoting an account someone else registered would hand them admin rights.
            log.warning(
                "admin_email belongs to an existing non-admin account; not promoted",
                extra={"user_id": existing.id},
            )

"""The auction database: its own MetaData and declarative base."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, func, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from servicekit.db import make_metadata
from servicekit.idempotency import idempotency_table

metadata = make_metadata()


class Base(DeclarativeBase):
    metadata = metadata


idempotency_keys = idempotency_table(metadata)


def uuid_pk() -> Mapped[uuid.UUID]:
    """A UUID primary key, generated client-side (and by the server for raw inserts)."""
    return mapped_column(
        UUID(as_uuid=True),
        primary_key=True,
        default=uuid.uuid4,
        server_default=text("gen_random_uuid()"),
    )


class Timestamps:
    """created_at/updated_at on every table (timestamptz, set by the database)."""

    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now(), onupdate=func.now()
    )


def violated_constraint(exc: BaseException) -> str | None:
    """The constraint an IntegrityError names (asyncpg puts it on the driver's exception)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        name = getattr(current, "constraint_name", None)
        if isinstance(name, str):
            return name
        current = getattr(current, "orig", None) or current.__cause__
    return None

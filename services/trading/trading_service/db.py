"""The trading database: its own MetaData and declarative base."""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase

from servicekit.db import make_metadata
from servicekit.idempotency import Idempotency, idempotency_table

metadata = make_metadata()


class Base(DeclarativeBase):
    metadata = metadata


idempotency_keys = idempotency_table(metadata)
# Every creating POST of the service honours Idempotency-Key through it (SPEC 6).
idempotency = Idempotency(idempotency_keys)

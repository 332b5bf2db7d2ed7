"""The auth database: its own MetaData and declarative base."""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase

from servicekit.db import make_metadata

metadata = make_metadata()


class Base(DeclarativeBase):
    metadata = metadata

"""Imports every model module, so the metadata is complete for Alembic and the app."""

from . import db  # noqa: F401

"""Imports every model module, so the metadata is complete for Alembic and the app."""

from . import db  # noqa: F401
from .tokens import models as tokens_models  # noqa: F401
from .users import models as users_models  # noqa: F401

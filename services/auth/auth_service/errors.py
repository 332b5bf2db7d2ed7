"""Auth errors render as FastAPI does: `{"detail": ...}`; validation is 422."""

from __future__ import annotations

from servicekit.app import detail_renderer as render_error
from servicekit.errors import ServiceError

__all__ = ["KeepChanges", "render_error"]


class KeepChanges(ServiceError):
    """Mixin for errors whose writes must still commit (e.g. revoking a login on refresh-token
    reuse): the session dependency commits, then the error is rendered."""

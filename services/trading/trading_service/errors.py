"""Trading errors render as FastAPI does: `{"detail": ...}`; validation is 422."""

from servicekit.app import detail_renderer as render_error

__all__ = ["render_error"]

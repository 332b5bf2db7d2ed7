"""One error base class for every service; each service renders it in its own format."""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    status_code: int = 400
    code: str = "BAD_REQUEST"
    message: str = "Bad request"

    def __init__(
        self,
        message: str | None = None,
        *,
        details: Any = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.message = message or self.message
        self.details = details
        if code is not None:
            self.code = code
        self.headers = headers
        super().__init__(self.message)


class BadRequest(ServiceError):
    status_code, code, message = 400, "BAD_REQUEST", "Bad request"


class Unauthorized(ServiceError):
    status_code, code, message = 401, "UNAUTHORIZED", "Not authenticated"

    def __init__(self, message: str | None = None, **kw: Any) -> None:
        kw.setdefault("headers", {"WWW-Authenticate": "Bearer"})
        super().__init__(message, **kw)


class Forbidden(ServiceError):
    status_code, code, message = 403, "FORBIDDEN", "Forbidden"


class NotFound(ServiceError):
    status_code, code, message = 404, "NOT_FOUND", "Not found"


class Conflict(ServiceError):
    status_code, code, message = 409, "CONFLICT", "Conflict"


class Unprocessable(ServiceError):
    status_code, code, message = 422, "VALIDATION_ERROR", "Validation error"


class TooManyRequests(ServiceError):
    status_code, code, message = 429, "TOO_MANY_REQUESTS", "Too many requests"


class ServiceUnavailable(ServiceError):
    status_code, code, message = 503, "SERVICE_UNAVAILABLE", "Service temporarily unavailable"


def is_database_unavailable(exc: BaseException) -> bool:
    """True when an exception means the database cannot be reached (answer 503, not 500)."""
    import asyncpg
    from sqlalchemy import exc as sa_exc

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, sa_exc.DBAPIError) and current.connection_invalidated:
            return True
        if isinstance(current, (sa_exc.TimeoutError, ConnectionError, TimeoutError, OSError)):
            return True
        if isinstance(
            current,
            (
                asyncpg.exceptions.CannotConnectNowError,
                asyncpg.exceptions.ConnectionDoesNotExistError,
                asyncpg.exceptions.AdminShutdownError,
                asyncpg.exceptions.TooManyConnectionsError,
                asyncpg.exceptions.InterfaceError,
            ),
        ):
            return True
        current = current.__cause__ or current.__context__
    return False

"""The seed's envelope: `{success: false, error: {message, code, details?}, meta: {timestamp}}`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from starlette.responses import JSONResponse, Response

from servicekit.errors import BadRequest


def now_iso() -> str:
    """ISO 8601 UTC with milliseconds and `Z`, as the seed shows timestamps."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def render_error(
    request: Request | None,
    status: int,
    code: str,
    message: str,
    details: Any = None,
    headers: dict[str, str] | None = None,
) -> Response:
    error: dict[str, Any] = {"message": message, "code": code}
    if details is not None:
        error["details"] = details
    body = {"success": False, "error": error, "meta": {"timestamp": now_iso()}}
    return JSONResponse(body, status_code=status, headers=headers)


class ValidationFailed(BadRequest):
    """400 VALIDATION_ERROR raised by a service (a rule pydantic cannot see, e.g. a missing
    or inactive master); `details` names the fields."""

    code = "VALIDATION_ERROR"
    message = "Validation error"


def field_error(field: str, msg: str, location: str = "body") -> ValidationFailed:
    """One-field validation error, shaped like the request-validation details."""
    return ValidationFailed(details=[{"loc": [location, field], "msg": msg, "type": "value_error"}])

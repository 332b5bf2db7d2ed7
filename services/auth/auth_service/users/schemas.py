"""Request and response bodies of the users domain."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    WithJsonSchema,
    field_validator,
)

from servicekit.text import plain_text

from .models import SELF_ASSIGNABLE_ROLES


def _utc_z(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


UtcDateTime = Annotated[
    datetime,
    PlainSerializer(_utc_z, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}, mode="serialization"),
]

_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LOCAL = re.compile(rf"^{_ATEXT}(?:\.{_ATEXT})*$")
_LABEL = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
_TLD = re.compile(r"^(?:[A-Za-z]{2,63}|xn--[A-Za-z0-9-]{1,59})$")


def normalize_email(value: str) -> str:
    """Addresses are compared and stored lower-case."""
    return value.strip().lower()


def validate_email(value: str) -> str:
    """A practical address check (RFC 5321 lengths, dot-atom local part, DNS host name)."""
    local, at, domain = value.rpartition("@")
    if not at or not local or not domain or len(value) > 254 or len(local) > 64:
        raise ValueError("value is not a valid email address")
    labels = domain.split(".")
    if (
        not _LOCAL.match(local)
        or len(labels) < 2
        or not all(_LABEL.match(label) for label in labels)
        or not _TLD.match(labels[-1])
    ):
        raise ValueError("value is not a valid email address")
    return value


def _normalize(value: object) -> object:
    return normalize_email(value) if isinstance(value, str) else value


Email = Annotated[str, BeforeValidator(_normalize), AfterValidator(validate_email)]
Password = Annotated[str, Field(min_length=8, max_length=1024)]
Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(plain_text),
]
SelfAssignableRole = Literal["trader", "commissioner"]


def _default_roles() -> list[SelfAssignableRole]:
    return ["trader"]


class RegisterIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Email
    password: Password
    name: Name
    roles: list[SelfAssignableRole] = Field(
        default_factory=_default_roles, min_length=1, max_length=len(SELF_ASSIGNABLE_ROLES)
    )

    @field_validator("roles")
    @classmethod
    def _dedupe(cls, value: list[SelfAssignableRole]) -> list[SelfAssignableRole]:
        return list(dict.fromkeys(value))


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    name: str
    roles: list[str]
    created_at: UtcDateTime

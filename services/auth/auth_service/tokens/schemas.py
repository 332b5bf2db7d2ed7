"""Request and response bodies of the tokens domain."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from servicekit.text import plain_text

from ..users.schemas import UserOut


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Not format-checked: a malformed address is just an unknown one (the same 401).
    email: Annotated[str, Field(min_length=1, max_length=320), AfterValidator(plain_text)]
    password: str = Field(min_length=1, max_length=1024)


class RefreshIn(BaseModel):
    """Clients that do not keep cookies send the refresh token in the body."""

    model_config = ConfigDict(extra="forbid")

    refresh_token: str | None = Field(default=None, min_length=1, max_length=512)


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int
    refresh_token: str
    user: UserOut


class JwksOut(BaseModel):
    keys: list[dict[str, Any]]

"""Request and response bodies of the tokens domain."""

from __future__ import annotations

from typing import Annotated, Literal

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


class Jwk(BaseModel):
    """A public signing key (RFC 8037: Ed25519 as an OKP key)."""

    kty: Literal["OKP"]
    crv: Literal["Ed25519"]
    x: str = Field(description="The public key, base64url without padding")
    kid: str = Field(description="Its RFC 7638 thumbprint, the `kid` of the tokens it signs")
    alg: Literal["EdDSA"]
    use: Literal["sig"]


class JwksOut(BaseModel):
    keys: list[Jwk]

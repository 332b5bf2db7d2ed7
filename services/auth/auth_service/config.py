"""Auth settings, read from `AUTH_*` environment variables."""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import Annotated, Any

from pydantic import SecretStr, field_validator, model_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from servicekit.config import ServiceSettings

# Loopback and private ranges: Traefik (or a compose network) sits in front of the service.
DEFAULT_TRUSTED_PROXIES = [
    "127.0.0.0/8",
    "::1/128",
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "fc00::/7",
]

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="AUTH_", extra="ignore")

    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/auth"

    cookie_secure: bool = True
    access_token_ttl_seconds: int = 900
    refresh_token_ttl_seconds: int = 1_209_600
    # PEM of an Ed25519 private key; without it a key is generated once and kept in the database.
    signing_key: SecretStr | None = None
    # Rotation: PEMs (concatenated; private or public Ed25519) of earlier signing keys, still
    # published in the JWKS (never signing) so their tokens verify until they expire.
    previous_signing_keys: SecretStr | None = None
    # The JWKS's Cache-Control max-age: trading and auction refetch it after this many seconds,
    # so a key removed from it stops verifying there within this time.
    jwks_max_age_seconds: int = 300
    admin_email: str | None = None
    admin_password: SecretStr | None = None
    admin_name: str = "Administrator"
    login_max_failures: int = 10
    login_window_seconds: int = 60
    # CIDRs whose X-Forwarded-For is believed; a comma-separated list or a JSON array.
    trusted_proxies: Annotated[list[str], NoDecode] = DEFAULT_TRUSTED_PROXIES
    # Argon2id cost; the defaults are argon2-cffi's (RFC 9106 low-memory profile).
    password_hash_time_cost: int = 3
    password_hash_memory_kib: int = 65536
    password_hash_parallelism: int = 4

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_proxies(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                import json

                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _check_proxies(cls, value: list[str]) -> list[str]:
        for cidr in value:
            ipaddress.ip_network(cidr, strict=False)  # raises ValueError on garbage
        return value

    @field_validator("admin_email")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None

    @model_validator(mode="after")
    def _check_auth(self) -> Settings:
        if self.access_token_ttl_seconds < 1 or self.refresh_token_ttl_seconds < 1:
            raise ValueError("token lifetimes must be positive")
        if self.login_max_failures < 1 or self.login_window_seconds < 1:
            raise ValueError("login throttling limits must be positive")
        if self.admin_password is not None and not (
            8 <= len(self.admin_password.get_secret_value()) <= 1024
        ):
            raise ValueError("admin_password must be 8..1024 characters (the register rule)")
        if self.signing_key is not None:
            from .tokens.keys import load_private_pem

            load_private_pem(self.signing_key.get_secret_value())  # fail at start, not at login
        if self.previous_signing_keys is not None:
            from .tokens.keys import load_public_pems

            load_public_pems(self.previous_signing_keys.get_secret_value())
        if self.jwks_max_age_seconds < 1:
            raise ValueError("jwks_max_age_seconds must be positive")
        return self

    @property
    def trusted_proxy_networks(self) -> list[IpNetwork]:
        return [ipaddress.ip_network(cidr, strict=False) for cidr in self.trusted_proxies]


@lru_cache
def get_settings() -> Settings:
    return Settings()

"""Auction settings, read from `AUCTION_*` environment variables."""

from __future__ import annotations

from functools import lru_cache

from pydantic import SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from servicekit.config import ServiceSettings
from servicekit.ed25519 import load_private_pem


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="AUCTION_", extra="ignore")

    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/auction"
    # The Ed25519 private key (PEM) public bills are signed with; without it the service
    # generates one on first use and keeps it in its database (table signing_keys).
    signing_key: SecretStr | None = None
    # Where farmers reach the gateway: the printed bill's QR code is
    # `{public_base_url}/api/public/bills/{code}`.
    public_base_url: str = "http://127.0.0.1:8080"

    @model_validator(mode="after")
    def _check_auction(self) -> Settings:
        if self.signing_key is not None:
            load_private_pem(self.signing_key.get_secret_value())  # fail at start, not at use
        if not self.public_base_url.startswith(("http://", "https://")):
            raise ValueError("public_base_url must be an http(s) URL")
        self.public_base_url = self.public_base_url.rstrip("/")
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()

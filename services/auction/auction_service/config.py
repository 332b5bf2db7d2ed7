"""Auction settings, read from `AUCTION_*` environment variables."""

from __future__ import annotations

from functools import lru_cache

from pydantic_settings import SettingsConfigDict

from servicekit.config import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="AUCTION_", extra="ignore")

    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/auction"


@lru_cache
def get_settings() -> Settings:
    return Settings()

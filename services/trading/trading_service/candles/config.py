"""Candle import settings (`TRADING_` prefix, like the service's own Settings)."""

from __future__ import annotations

from functools import lru_cache

from pydantic_settings import BaseSettings, SettingsConfigDict


class CandleSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TRADING_", extra="ignore")

    # The gateway lets the import route through with a larger limit than 1 MiB; this is the
    # service's own cap (a million M1 bars as CSV is about 60 MiB).
    candle_import_max_bytes: int = 256 * 1024 * 1024


@lru_cache
def get_candle_settings() -> CandleSettings:
    return CandleSettings()


def import_max_bytes() -> int:
    """Dependency (overridable in tests): the largest accepted import body."""
    return get_candle_settings().candle_import_max_bytes

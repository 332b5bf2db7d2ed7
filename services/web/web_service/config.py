"""Web settings, read from `WEB_*` environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

from servicekit.drain import DEFAULT_DRAIN_SECONDS

# services/web/web_service/config.py -> the repository's web/dist (also the image's layout:
# /app/services/web and /app/web/dist).
DEFAULT_DIST_DIR = Path(__file__).resolve().parents[3] / "web" / "dist"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="WEB_", extra="ignore")

    environment: str = "development"
    # The build's output (web/build.mjs): index.html, assets/, manifest.json.
    dist_dir: Path = DEFAULT_DIST_DIR
    log_level: str = "INFO"
    # On SIGTERM: seconds of /readyz 503 while still serving, before shutting down.
    drain_seconds: float = DEFAULT_DRAIN_SECONDS


@lru_cache
def get_settings() -> Settings:
    return Settings()

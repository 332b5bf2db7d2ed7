"""Settings base: each service subclasses it with its own env prefix."""

from __future__ import annotations

from pydantic import field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .drain import DEFAULT_DRAIN_SECONDS


def asyncpg_dsn(value: str) -> str:
    """Force the asyncpg driver whatever scheme the operator wrote."""
    for prefix in (
        "postgresql+asyncpg://",
        "postgresql+psycopg://",
        "postgresql://",
        "postgres://",
    ):
        if value.startswith(prefix):
            return "postgresql+asyncpg://" + value[len(prefix) :]
    raise ValueError("DATABASE_URL must be a PostgreSQL URL (postgresql://...)")


class ServiceSettings(BaseSettings):
    """Common settings; subclasses set `model_config = SettingsConfigDict(env_prefix=...)`."""

    model_config = SettingsConfigDict(extra="ignore")

    environment: str = "development"
    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
    # Per process. The ORM pool serves writes and transactions; no overflow: a connection
    # opened (and closed) per request at peaks costs more than waiting for a pooled one.
    db_pool_size: int = 20
    db_max_overflow: int = 0
    # Plain asyncpg connections for hot one-statement reads (`Database.reader()`).
    db_read_pool_size: int = 10
    log_level: str = "INFO"
    # Token verification (trading, auction); auth uses the same values to sign.
    jwt_issuer: str = "http://127.0.0.1:8080/auth"
    jwt_audience: str = "marketplace"
    jwks_url: str = "http://127.0.0.1:8001/auth/.well-known/jwks.json"
    allowed_origins: list[str] = ["http://127.0.0.1:8080", "http://localhost:8080"]
    # On SIGTERM: seconds of /readyz 503 while still serving, before shutting down (drain.py).
    drain_seconds: float = DEFAULT_DRAIN_SECONDS

    @field_validator("database_url")
    @classmethod
    def _force_asyncpg(cls, value: str) -> str:
        return asyncpg_dsn(value)

    @property
    def is_development(self) -> bool:
        return self.environment in {"development", "test"}

    @model_validator(mode="after")
    def _check(self) -> ServiceSettings:
        if self.db_pool_size < 1 or self.db_read_pool_size < 1:
            raise ValueError("db_pool_size and db_read_pool_size must be >= 1")
        return self

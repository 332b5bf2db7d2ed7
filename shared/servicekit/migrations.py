"""Alembic glue shared by every service's `migrations/env.py`, and a programmatic upgrade."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from .config import asyncpg_dsn


def _do_run(connection: Connection, metadata: MetaData) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        compare_type=True,
        transaction_per_migration=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async(url: str, metadata: MetaData) -> None:
    engine = create_async_engine(url, poolclass=pool.NullPool)
    async with engine.connect() as conn:
        await conn.run_sync(_do_run, metadata)
    await engine.dispose()


def run_env(metadata: MetaData, default_url: str) -> None:
    """Body of env.py: the URL comes from `-x url=...`, the config, or the service settings."""
    cfg = context.config
    url = (
        context.get_x_argument(as_dictionary=True).get("url")
        or cfg.attributes.get("url")
        or default_url
    )
    url = asyncpg_dsn(url)
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    connection = cfg.attributes.get("connection")
    if connection is not None:
        _do_run(connection, metadata)
        return
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(_run_async(url, metadata))
        return
    # Called from code already inside an event loop (a test fixture): use a worker thread.
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, _run_async(url, metadata)).result()


def alembic_config(alembic_ini: Path, url: str | None = None) -> Config:
    cfg = Config(str(alembic_ini))
    cfg.set_main_option("script_location", str(alembic_ini.parent / "migrations"))
    if url:
        cfg.attributes["url"] = url
    return cfg


def upgrade(alembic_ini: Path, url: str, revision: str = "head") -> None:
    """Run `alembic upgrade` in-process (not from a running event loop)."""
    command.upgrade(alembic_config(alembic_ini, url), revision)

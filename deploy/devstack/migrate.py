"""`make migrate`: `alembic upgrade head` on each service's database.

    python -m devstack.migrate [auth] [trading] [auction]

The URL is the service's `<SERVICE>_DATABASE_URL` (read by its Settings class), so this is the
same migration the containers run on start and the launcher runs before starting a service.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("auth", "trading", "auction")


def alembic_ini(service: str) -> Path:
    return REPO_ROOT / "services" / service / "alembic.ini"


def database_url(service: str) -> str:
    """The URL the service itself would use (its Settings class reads the environment)."""
    config = importlib.import_module(f"{service}_service.config")
    url: str = config.Settings().database_url
    return url


def redact_url(url: str) -> str:
    """postgresql+asyncpg://user:secret@host/db -> postgresql+asyncpg://user:***@host/db"""
    scheme, sep, rest = url.partition("://")
    creds, at, host = rest.rpartition("@")
    if not at or ":" not in creds:
        return url
    user = creds.split(":", 1)[0]
    return f"{scheme}{sep}{user}:***@{host}"


def migrate(service: str, url: str | None = None) -> None:
    from servicekit.migrations import upgrade

    url = url or database_url(service)
    print(f"migrating {service}: {redact_url(url)}", flush=True)
    upgrade(alembic_ini(service), url)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("services", nargs="*", metavar="SERVICE", help=", ".join(SERVICES))
    args = parser.parse_args(argv)
    unknown = sorted(set(args.services) - set(SERVICES))
    if unknown:
        parser.error(f"unknown service(s): {', '.join(unknown)}")
    for service in args.services or SERVICES:
        migrate(service)
    return 0


if __name__ == "__main__":
    sys.exit(main())

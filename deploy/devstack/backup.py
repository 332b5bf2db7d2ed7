"""`make backup` / `make restore`: the embedded stack's databases (auth, trading, auction),
dumped and restored with the embedded server's own pg_dump and pg_restore.

    python -m devstack.backup backup [--data-dir .data]
    python -m devstack.backup restore [BACKUP] [--data-dir .data] [--force]

A backup is a folder `<data dir>/backups/<UTC time>/` (mode 0700: it holds password hashes and
the signing key): `<db>.dump` per database (`pg_dump -Fc`), the logins that go with the auth
database (`credentials.json`) and `manifest.json`: each dump's size and SHA-256, and each table's
row count and content checksum, counted in the very snapshot pg_dump read.

Both work whether `make run` is running or not: when no server runs on the data directory they
start the embedded one on a free port for the duration and stop it again.

Restore checks every dump's SHA-256 first, restores each database into a scratch database,
checks every table against the manifest, and only when all three match swaps them in for the
stack's databases (dropping those). It refuses while any client is connected to the databases,
as the services of `make run` are: stop `make run` first, or pass `--force` (`FORCE=1`) to
disconnect them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

import asyncpg

from .launcher import DEFAULT_DATA_DIR, save_credentials
from .postgres import EmbeddedPostgres, embedded_bin_dir, wait_for
from .stack import SERVICES

FORMAT = 1
MANIFEST = "manifest.json"
CREDENTIALS = "credentials.json"
SCRATCH_SUFFIX = "__restoring"
SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

# Rows are compared as text across clusters: pin every setting that changes how a value prints.
STABLE_OUTPUT = {
    "TimeZone": "UTC",
    "DateStyle": "ISO, YMD",
    "IntervalStyle": "postgres",
    "extra_float_digits": "1",
    "bytea_output": "hex",
}
TABLES_SQL = """
SELECT format('%I.%I', n.nspname, c.relname) AS name
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r' AND n.nspname <> 'information_schema' AND n.nspname !~ '^pg_'
ORDER BY 1
"""
# Order-free (no sort of a million-row table): the sum of the first 64 bits of each row's md5.
FIGURES_SQL = """
SELECT count(*) AS rows,
       coalesce(sum(('x' || left(md5(t::text), 16))::bit(64)::bigint), 0)::text AS checksum
FROM {table} AS t
"""
CLIENTS_SQL = """
SELECT datname, coalesce(nullif(application_name, ''), host(client_addr), 'local') AS client,
       count(*) AS n
FROM pg_stat_activity
WHERE datname = ANY($1::text[]) AND backend_type = 'client backend' AND pid <> pg_backend_pid()
GROUP BY 1, 2 ORDER BY 1, 2
"""


class BackupError(RuntimeError):
    """A backup or restore could not be done; the message says why and what to do."""


class Interrupted(Exception):
    """SIGINT, SIGTERM or SIGHUP: unwind, stopping a server started here."""


class Signals:
    """The command line's SIGINT/SIGTERM/SIGHUP: the first one raises Interrupted, later ones
    are ignored (make forwards TERM to a group that already got it), and while `held()` the
    raise waits until the block is done, so a server is never left half started or half
    stopped."""

    def __init__(self) -> None:
        self.holding = False
        self.pending: str | None = None

    def install(self) -> None:
        for sig in SIGNALS:
            signal.signal(sig, self._handle)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        for sig in SIGNALS:
            signal.signal(sig, signal.SIG_IGN)
        name = signal.Signals(signum).name
        if self.holding:
            self.pending = name
            return
        raise Interrupted(name)

    @contextmanager
    def held(self) -> Iterator[None]:
        self.holding = True
        try:
            yield
        finally:
            self.holding = False
            pending, self.pending = self.pending, None
            if pending is not None:
                raise Interrupted(pending)


SIGNAL_HANDLING = Signals()


def default_data_dir() -> Path:
    """The data directory `make run` uses (DATA_DIR, else .data)."""
    return Path(os.environ.get("DATA_DIR", DEFAULT_DATA_DIR))


# ---- the server ----
@contextmanager
def embedded_server(data_dir: Path, *, create: bool = False) -> Iterator[EmbeddedPostgres]:
    """The stack's embedded server: the running one, else started on a free port for the
    duration and stopped after (a new cluster is made only with `create`)."""
    pg = EmbeddedPostgres(data_dir / "postgres")
    port = pg.running_port()
    if port is not None:
        pg.port = port
        try:
            wait_for(pg.dsn(), timeout=10)
        except Exception as exc:
            raise BackupError(
                f"PostgreSQL runs on {pg.pgdata} (port {port}) but does not answer: {exc}"
            ) from exc
        yield pg
        return
    if not create and not (pg.pgdata / "PG_VERSION").exists():
        raise BackupError(
            f"no embedded PostgreSQL in {pg.data_dir}: nothing to back up "
            "(`make run` creates it; DATA_DIR or --data-dir names another data directory)"
        )
    try:
        with SIGNAL_HANDLING.held():
            print(f"starting the embedded PostgreSQL of {data_dir} for the duration", flush=True)
            try:
                pg.start()
            except subprocess.CalledProcessError as exc:
                raise BackupError(
                    f"the embedded PostgreSQL failed to start: {exc.stderr or exc.stdout}; "
                    f"see {pg.data_dir / 'postgres.log'}"
                ) from exc
        wait_for(pg.dsn())
        yield pg
    finally:
        with SIGNAL_HANDLING.held():
            pg.stop()
            print("stopped the embedded PostgreSQL again.", flush=True)


async def connect(dsn: str) -> Any:
    return await asyncpg.connect(dsn, server_settings=STABLE_OUTPUT, timeout=10)


async def run_tool(name: str, *args: str) -> None:
    """One of the embedded server's client programs; its stderr becomes the error."""
    proc = await asyncio.create_subprocess_exec(
        str(embedded_bin_dir() / name),
        *args,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        _, err = await proc.communicate()
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        raise
    if proc.returncode != 0:
        message = err.decode(errors="replace").strip()
        raise BackupError(f"{name} failed (exit {proc.returncode}): {message}")


async def table_figures(conn: Any) -> dict[str, dict[str, Any]]:
    """Every table of the database: its row count and its content checksum."""
    figures: dict[str, dict[str, Any]] = {}
    for table in await conn.fetch(TABLES_SQL):
        # The name comes quoted from format('%I.%I'), never from input.
        row = await conn.fetchrow(FIGURES_SQL.format(table=table["name"]))
        figures[table["name"]] = {"rows": row["rows"], "checksum": row["checksum"]}
    return figures


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")


def summary(tables: dict[str, dict[str, Any]]) -> str:
    rows = sum(int(figures["rows"]) for figures in tables.values())
    return f"{len(tables)} tables, {rows} rows"


# ---- backup ----
def backup(data_dir: Path) -> Path:
    """Dump the three databases into a new `<data_dir>/backups/<UTC time>/`; its path."""
    root = data_dir / "backups"
    with embedded_server(data_dir) as pg:
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
        target = _new_folder(root, datetime.now(UTC))
        # Written under a hidden name and renamed when complete: a folder without the dot is
        # always a whole backup.
        partial = root / f".{target.name}.partial"
        partial.mkdir(mode=0o700)
        try:
            server_version, tables = asyncio.run(_dump_all(pg, partial))
            databases = {}
            for db in SERVICES:
                dump = partial / f"{db}.dump"
                databases[db] = {
                    "file": dump.name,
                    "bytes": dump.stat().st_size,
                    "sha256": sha256_of(dump),
                    "tables": tables[db],
                }
                size = human_size(dump.stat().st_size)
                print(f"  {db:<8} {summary(tables[db])}, {size}", flush=True)
            manifest = {
                "format": FORMAT,
                "created_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
                "server_version": server_version,
                "databases": databases,
            }
            credentials = data_dir / CREDENTIALS
            if credentials.exists():
                shutil.copy2(credentials, partial / CREDENTIALS)
            (partial / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
            for path in partial.iterdir():
                path.chmod(0o600)
            partial.rename(target)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
    return target


def _new_folder(root: Path, now: datetime) -> Path:
    base = now.strftime("%Y%m%dT%H%M%SZ")
    name, n = base, 1
    while (root / name).exists() or (root / f".{name}.partial").exists():
        n += 1
        name = f"{base}-{n}"
    return root / name


async def _dump_all(
    pg: EmbeddedPostgres, folder: Path
) -> tuple[str, dict[str, dict[str, dict[str, Any]]]]:
    """The server's version and, per database, the figures of the tables its dump holds."""
    conn = await connect(pg.dsn())
    try:
        server_version: str = await conn.fetchval("SHOW server_version")
    finally:
        await conn.close()
    return server_version, {db: await _dump(pg, db, folder / f"{db}.dump") for db in SERVICES}


async def _dump(pg: EmbeddedPostgres, db: str, path: Path) -> dict[str, dict[str, Any]]:
    try:
        conn = await connect(pg.dsn(db))
    except asyncpg.InvalidCatalogNameError as exc:
        raise BackupError(
            f"the embedded server has no {db} database (does {db.upper()}_DATABASE_URL point "
            "make run elsewhere? back that one up with its own pg_dump)"
        ) from exc
    try:
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            snapshot = await conn.fetchval("SELECT pg_export_snapshot()")
            # pg_dump reads the exported snapshot while the figures are counted in it.
            dump = asyncio.ensure_future(
                run_tool(
                    "pg_dump",
                    "--format=custom",
                    f"--snapshot={snapshot}",
                    f"--file={path}",
                    f"--dbname={pg.dsn(db)}",
                )
            )
            try:
                tables = await table_figures(conn)
            except BaseException:
                dump.cancel()
                with contextlib.suppress(BaseException):
                    await dump
                raise
            await dump
    finally:
        await conn.close()
    return tables


# ---- restore ----
def latest_backup(root: Path) -> Path:
    found = sorted(
        p
        for p in (root.iterdir() if root.is_dir() else [])
        if p.is_dir() and not p.name.startswith(".") and (p / MANIFEST).exists()
    )
    if not found:
        raise BackupError(
            f"no backup in {root}: run `make backup` first, or name one (make restore BACKUP=...)"
        )
    return found[-1]


def read_manifest(folder: Path) -> dict[str, Any]:
    """The backup's manifest, once every dump it lists has the SHA-256 it records."""
    path = folder / MANIFEST
    if not path.is_file():
        raise BackupError(f"{folder} is not a backup: it has no {MANIFEST}")
    try:
        manifest: dict[str, Any] = json.loads(path.read_text())
        if manifest["format"] != FORMAT:
            raise BackupError(f"{path} has format {manifest['format']}, this tool reads {FORMAT}")
        databases = manifest["databases"]
        if sorted(databases) != sorted(SERVICES):
            raise BackupError(f"{path} lists {sorted(databases)}, not {list(SERVICES)}")
        for db, entry in databases.items():
            dump = folder / f"{db}.dump"
            if not dump.is_file():
                raise BackupError(f"{dump} is missing (nothing was restored)")
            if sha256_of(dump) != entry["sha256"] or dump.stat().st_size != entry["bytes"]:
                raise BackupError(
                    f"{dump} is damaged: its SHA-256 is not the manifest's (nothing was restored)"
                )
            if not isinstance(entry["tables"], dict):
                raise TypeError(f"{db}: tables is not an object")
    except (ValueError, KeyError, TypeError) as exc:
        raise BackupError(f"{path} is not a valid manifest ({type(exc).__name__}: {exc})") from exc
    return manifest


def restore(data_dir: Path, folder: Path | None = None, *, force: bool = False) -> Path:
    """Restore a backup (default: the latest) into the stack's databases; its path."""
    folder = (folder or latest_backup(data_dir / "backups")).resolve()
    manifest = read_manifest(folder)
    with embedded_server(data_dir, create=True) as pg:
        asyncio.run(_restore_all(pg, folder, manifest, force=force))
    credentials = folder / CREDENTIALS
    if credentials.exists():
        # The logins that match the restored auth database's users.
        save_credentials(data_dir, json.loads(credentials.read_text()))
    return folder


async def _restore_all(
    pg: EmbeddedPostgres, folder: Path, manifest: dict[str, Any], *, force: bool
) -> None:
    admin = await connect(pg.dsn())
    scratch: dict[str, str] = {}
    try:
        await _refuse_if_connected(admin, list(SERVICES), force=force)
        try:
            for db in SERVICES:
                scratch[db] = db + SCRATCH_SUFFIX
                await _restore_one(pg, admin, folder / f"{db}.dump", scratch[db])
                tables = await _verified(pg, db, scratch[db], manifest["databases"][db]["tables"])
                print(f"  {db:<8} {summary(tables)}, every table as in the backup", flush=True)
            with SIGNAL_HANDLING.held():  # never stop half-way through the swap
                await _swap(admin, scratch, force=force)
        except BaseException:
            for name in scratch.values():
                with contextlib.suppress(Exception):
                    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            raise
    finally:
        await admin.close()


async def _restore_one(pg: EmbeddedPostgres, admin: Any, dump: Path, name: str) -> None:
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
    await run_tool(
        "pg_restore",
        "--no-owner",  # the restoring superuser owns everything, as it did when dumped
        "--single-transaction",
        "--exit-on-error",
        f"--dbname={pg.dsn(name)}",
        str(dump),
    )


async def _verified(
    pg: EmbeddedPostgres, db: str, name: str, expected: dict[str, dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    conn = await connect(pg.dsn(name))
    try:
        found = await table_figures(conn)
    finally:
        await conn.close()
    problems = [
        f"{table}: backup {expected.get(table)}, restored {found.get(table)}"
        for table in sorted(expected.keys() | found.keys())
        if expected.get(table) != found.get(table)
    ]
    if problems:
        raise BackupError(
            f"{db}: the restored tables differ from the manifest (nothing was replaced): "
            + "; ".join(problems[:5])
        )
    return found


async def _refuse_if_connected(admin: Any, databases: list[str], *, force: bool) -> str:
    """Who is connected to the databases (empty: nobody); an error unless `force`."""
    clients = await admin.fetch(CLIENTS_SQL, databases)
    who = ", ".join(f"{c['n']} x {c['client']} on {c['datname']}" for c in clients)
    if clients and not force:
        raise BackupError(
            f"the databases are in use ({who}): stop `make run` (Ctrl-C) and restore again, "
            "or pass --force (make restore FORCE=1) to disconnect them"
        )
    return who


async def _swap(admin: Any, scratch: dict[str, str], *, force: bool) -> None:
    """Replace each live database by its restored scratch copy."""
    live = [
        db
        for db in scratch
        if await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", db)
    ]
    # No new connection from here on; then none may remain, unless forced out.
    for db in live:
        await admin.execute(f'ALTER DATABASE "{db}" ALLOW_CONNECTIONS false')
    try:
        clients = await _refuse_if_connected(admin, live, force=force)
    except BackupError:
        for db in live:
            await admin.execute(f'ALTER DATABASE "{db}" ALLOW_CONNECTIONS true')
        raise
    if clients:
        note = "restart make run: its services cached the old data"
        print(f"  disconnected {clients}; {note}", flush=True)
    for db, name in scratch.items():
        await admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        await admin.execute(f'ALTER DATABASE "{name}" RENAME TO "{db}"')


# ---- command line ----
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devstack.backup",
        description="Back up or restore the databases of the embedded stack (make run).",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    make_backup = commands.add_parser(
        "backup", help="dump auth, trading and auction into <data dir>/backups/<UTC time>/"
    )
    make_restore = commands.add_parser(
        "restore", help="restore a backup into the stack's databases, replacing them"
    )
    make_restore.add_argument(
        "backup", nargs="?", type=Path, help="a backup folder (default: the latest)"
    )
    make_restore.add_argument(
        "--force",
        action="store_true",
        help="restore even while clients (the services of make run) are connected: they are "
        "disconnected",
    )
    for sub in (make_backup, make_restore):
        sub.add_argument(
            "--data-dir", type=Path, default=default_data_dir(), help="default: DATA_DIR or .data"
        )
    args = parser.parse_args(argv)

    SIGNAL_HANDLING.install()
    data_dir: Path = args.data_dir.resolve()
    try:
        if args.command == "backup":
            print(f"backing up the databases of {data_dir} ...", flush=True)
            folder = backup(data_dir)
            print(f"backup written to {folder}", flush=True)
        else:
            source = args.backup.resolve() if args.backup else None
            print(f"restoring into {data_dir} ...", flush=True)
            folder = restore(data_dir, source, force=args.force)
            print(f"restored {folder} into {data_dir}", flush=True)
    except BackupError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 1
    except Interrupted as exc:
        print(f"error: interrupted ({exc}): nothing is left running", file=sys.stderr, flush=True)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())

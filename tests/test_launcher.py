"""The launcher's and gateway-aux's own rules, without starting the stack (tests/e2e does)."""

from __future__ import annotations

import argparse
import importlib.util
import json
import signal
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from devstack.launcher import (
    DEFAULT_ADMIN_EMAIL,
    StopSignals,
    _Stop,
    database_urls_from_env,
    load_credentials,
    parse_replicas,
    replicas_from_env,
)
from devstack.stack import (
    AUX_SERVER,
    ManagedProcess,
    Ports,
    Stack,
    StackError,
    traefik_static_config,
)


def test_credentials_are_created_once_kept_and_private(tmp_path: Path) -> None:
    """Admin login: defaults admin@example.com with a random password, stored 0600."""
    first = load_credentials(tmp_path, env={})
    path = tmp_path / "credentials.json"
    assert path.stat().st_mode & 0o777 == 0o600
    assert first["admin"]["email"] == DEFAULT_ADMIN_EMAIL
    assert len(first["admin"]["password"]) >= 16
    assert {"trader", "commissioner"} <= set(first)
    assert first["trader"]["password"] != first["commissioner"]["password"]
    again = load_credentials(tmp_path, env={})
    assert again == first  # the second run keeps the first run's logins
    other = load_credentials(tmp_path / "elsewhere", env={})
    assert other["admin"]["password"] != first["admin"]["password"]


def test_admin_from_the_environment_wins_and_replaces_the_stale_one(tmp_path: Path) -> None:
    """Issue 10, defect 7: with ADMIN_PASSWORD set, credentials.json kept the generated password
    the auth service was never given. The file now records the login in use (mode 0600)."""
    generated = load_credentials(tmp_path, env={})["admin"]
    env = {"ADMIN_EMAIL": "boss@example.com", "ADMIN_PASSWORD": "s3cret-password"}
    creds = load_credentials(tmp_path, env=env)
    assert creds["admin"] == {"email": "boss@example.com", "password": "s3cret-password"}
    path = tmp_path / "credentials.json"
    stored = json.loads(path.read_text())
    assert stored["admin"] == {"email": "boss@example.com", "password": "s3cret-password"}
    assert generated["password"] not in path.read_text()
    assert path.stat().st_mode & 0o777 == 0o600
    # A later run without the variables keeps that login rather than inventing another.
    assert load_credentials(tmp_path, env={})["admin"] == stored["admin"]


def test_only_the_first_stop_signal_interrupts_the_launcher() -> None:
    """Defect 8: a second Ctrl-C, or make's forwarded TERM, must not interrupt the cleanup."""
    signals = StopSignals()
    with pytest.raises(_Stop):
        signals.handle(signal.SIGTERM, None)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGTERM):
        assert signals.handle(sig, None) is None  # ignored, however many arrive


def test_database_urls_from_the_environment_replace_the_embedded_server() -> None:
    env = {
        "AUTH_DATABASE_URL": "postgresql://a@db/auth",
        "TRADING_DATABASE_URL": "postgresql://t@db/trading",
        "AUCTION_DATABASE_URL": "",
    }
    assert database_urls_from_env(env) == {
        "auth": "postgresql://a@db/auth",
        "trading": "postgresql://t@db/trading",
    }


def test_ports_default_and_come_from_the_environment() -> None:
    assert Ports() == Ports(
        gateway=8080, auth=8001, trading=8002, auction=8003, aux=8081, metrics=8082, web=8004
    )
    ports = Ports.from_env({"GATEWAY_PORT": "9090", "TRADING_PORT": "9002"})
    assert (ports.gateway, ports.trading, ports.auth) == (9090, 9002, 8001)
    with pytest.raises(StackError, match="GATEWAY_PORT"):
        Ports.from_env({"GATEWAY_PORT": "http"})
    free = Ports.free()
    assert len({getattr(free, name) for name in Ports.ENV_NAMES}) == len(Ports.ENV_NAMES)


def test_replicas_get_ports_of_their_own_and_the_gateway_balances_over_all(
    tmp_path: Path,
) -> None:
    stack = Stack(tmp_path, Ports(), replicas={"trading": 3, "auction": 1})
    assert stack.replica_names("trading") == ["trading", "trading-2", "trading-3"]
    assert stack.replica_names("auth") == ["auth"]
    env = stack.gateway_env()
    assert env["TRADING_URL"] == "http://127.0.0.1:8002"  # gateway-aux checks the first
    assert env["TRADING_URLS"] == (
        "http://127.0.0.1:8002,http://127.0.0.1:8102,http://127.0.0.1:8202"
    )
    assert env["AUCTION_URLS"] == env["AUCTION_URL"] == "http://127.0.0.1:8003"
    chosen = Stack(tmp_path, Ports(), replicas={"trading": 2}, replica_ports={"trading": [9999]})
    assert chosen.service_urls("trading") == ["http://127.0.0.1:8002", "http://127.0.0.1:9999"]
    with pytest.raises(StackError, match="replicas"):
        Stack(tmp_path, Ports(), replicas={"trading": 0})


def test_an_exited_replica_is_started_again_but_a_crash_loop_stops_everything(
    tmp_path: Path,
) -> None:
    """What the launcher does every second (Stack.restart_exited)."""
    stack = Stack(tmp_path, Ports(), replicas={"trading": 2})
    crash = [sys.executable, "-c", "import sys; sys.exit(3)"]
    replica = ManagedProcess("trading-2", crash, {}, tmp_path / "trading-2.log", tmp_path)
    stack.processes["trading-2"] = replica
    replica.start()
    assert replica.wait(10)
    replica.started_at -= 60  # it had served a minute
    assert stack.restart_exited() == ["trading-2"]
    assert replica.wait(10) and replica.returncode == 3
    with pytest.raises(StackError, match="trading-2 exited with code 3"):
        stack.restart_exited()  # exited again within 5 s of its start
    aux = ManagedProcess("gateway-aux", crash, {}, tmp_path / "aux.log", tmp_path)
    stack.processes = {"gateway-aux": aux}
    aux.start()
    assert aux.wait(10)
    aux.started_at -= 60
    with pytest.raises(StackError, match="gateway-aux exited"):
        stack.restart_exited()  # only service replicas are restarted


def test_replicas_from_the_flag_and_the_environment() -> None:
    assert parse_replicas("trading=2,auction=2") == {"trading": 2, "auction": 2}
    assert parse_replicas("") == {}
    for bad in ("trading", "trading=0", "bank=2", "trading=two"):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_replicas(bad)
    env = {"TRADING_REPLICAS": "3", "AUTH_REPLICAS": ""}
    assert replicas_from_env(env) == {"trading": 3}


def test_local_traefik_listens_on_loopback_only(tmp_path: Path) -> None:
    config = traefik_static_config(Ports(gateway=9999, metrics=9998), tmp_path / "a.log")
    assert config["entryPoints"]["web"]["address"] == "127.0.0.1:9999"
    assert config["entryPoints"]["metrics"]["address"] == "127.0.0.1:9998"
    assert config["accessLog"]["filePath"] == str(tmp_path / "a.log")


def test_services_are_wired_to_one_issuer_and_the_local_jwks(tmp_path: Path) -> None:
    stack = Stack(
        tmp_path,
        Ports(gateway=9080, auth=9001),
        admin_email="a@example.com",
        admin_password="password1",
        env={"TRADING_LOG_LEVEL": "DEBUG"},
    )
    stack.resolved_urls = {"trading": "postgresql://x@h/trading"}
    trading = stack.service_env("trading")
    auth = stack.service_env("auth")
    assert trading["TRADING_JWT_ISSUER"] == auth["AUTH_JWT_ISSUER"] == "http://127.0.0.1:9080/auth"
    assert trading["TRADING_JWKS_URL"] == "http://127.0.0.1:9001/auth/.well-known/jwks.json"
    assert trading["TRADING_DATABASE_URL"] == "postgresql://x@h/trading"
    assert trading["TRADING_LOG_LEVEL"] == "DEBUG"  # explicit env wins
    assert json.loads(trading["TRADING_ALLOWED_ORIGINS"])[0] == "http://127.0.0.1:9080"
    assert auth["AUTH_COOKIE_SECURE"] == "false"
    assert auth["AUTH_ADMIN_EMAIL"] == "a@example.com"
    assert "AUTH_ADMIN_PASSWORD" not in trading  # only auth gets the admin password


# ---- gateway-aux ----


@pytest.fixture(scope="module")
def aux() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gateway_aux_server", AUX_SERVER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _serve(handler: type[BaseHTTPRequestHandler]) -> tuple[ThreadingHTTPServer, str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def _ready(status: int) -> type[BaseHTTPRequestHandler]:
    class Ready(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(status if self.path == "/readyz" else 404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Ready


@pytest.fixture
def aux_url(aux: ModuleType) -> Iterator[tuple[str, dict[str, list[str]]]]:
    from concurrent.futures import ThreadPoolExecutor

    fakes = {
        "auth": _serve(_ready(200)),
        "trading": _serve(_ready(200)),
        "auction": _serve(_ready(503)),
        "web": _serve(_ready(200)),
    }
    aux.Handler.urls = {name: [url] for name, (_, url) in fakes.items()}
    aux.Handler.timeout_s = 1.0
    aux.Handler.pool = ThreadPoolExecutor(max_workers=4)
    server, url = _serve(aux.Handler)
    yield url, aux.Handler.urls
    server.shutdown()
    for fake, _ in fakes.values():
        fake.shutdown()
    aux.Handler.pool.shutdown()


def test_aux_healthz_is_503_unless_every_service_is_ready(
    aux: ModuleType, aux_url: tuple[str, dict[str, list[str]]]
) -> None:
    url, urls = aux_url
    resp = httpx.get(f"{url}/healthz", headers={"X-Request-ID": "hz-1"})
    assert resp.status_code == 503
    assert resp.json() == {
        "status": "unavailable",
        "services": {"auth": "ok", "trading": "ok", "auction": "status 503", "web": "ok"},
    }
    assert resp.headers["x-request-id"] == "hz-1"
    aux.Handler.urls = {**urls, "auction": urls["auth"]}
    assert httpx.get(f"{url}/healthz").status_code == 200
    aux.Handler.urls = {**urls, "auction": ["http://127.0.0.1:9"]}  # nothing listens
    body = httpx.get(f"{url}/healthz").json()
    assert body["services"]["auction"].startswith("unreachable")
    # Replicas: one ready is enough (the gateway routes around the others), none is not.
    aux.Handler.urls = {**urls, "auction": ["http://127.0.0.1:9", *urls["auth"]]}
    assert httpx.get(f"{url}/healthz").status_code == 200
    aux.Handler.urls = {**urls, "auction": ["http://127.0.0.1:9", *urls["auction"]]}
    body = httpx.get(f"{url}/healthz").json()
    assert body["services"]["auction"].startswith("unreachable")


def test_aux_reads_each_service_replicas(aux: ModuleType) -> None:
    env = {
        "AUTH_URL": "http://a:8000/",
        "TRADING_URL": "http://t:8000",
        "TRADING_URLS": "http://t:8000, http://t:8100",
    }
    assert aux.service_urls(env) == {
        "auth": ["http://a:8000"],
        "trading": ["http://t:8000", "http://t:8100"],
    }


def test_aux_error_pages_use_each_service_format(
    aux_url: tuple[str, dict[str, list[str]]],
) -> None:
    url, _ = aux_url
    trading = httpx.post(f"{url}/errors/trading/502")
    assert trading.status_code == 502
    assert trading.json() == {"detail": "The trading service is unavailable, try again shortly"}
    assert trading.headers["retry-after"] == "1"
    auction = httpx.get(f"{url}/errors/auction/413")
    assert auction.status_code == 413
    body = auction.json()
    assert body["success"] is False
    assert body["error"] == {"message": "Request body too large", "code": "PAYLOAD_TOO_LARGE"}
    assert body["meta"]["timestamp"].endswith("Z")
    assert httpx.get(f"{url}/errors/auth/504").json()["detail"].startswith("The auth service")
    assert httpx.get(f"{url}/errors/nobody/502").status_code == 404
    assert httpx.get(f"{url}/anything").json() == {"detail": "Not found"}
    assert httpx.get(f"{url}/livez").status_code == 200


def test_aux_reads_request_bodies_so_a_kept_alive_connection_stays_in_step(
    aux_url: tuple[str, dict[str, list[str]]],
) -> None:
    """Traefik reuses its connections to gateway-aux. A POST with a body to a path no service
    owns left the body unread, and its bytes became the next request's line: the next client,
    on the same connection, got a 501 (found by tests/browser/test_web_serving.py)."""
    url, _ = aux_url
    with httpx.Client(base_url=url, limits=httpx.Limits(max_connections=1)) as client:
        for _ in range(3):
            posted = client.post("/signin", json={"email": "x@example.com", "pad": "y" * 5000})
            assert posted.status_code == 404
            assert posted.json() == {"detail": "Not found"}
            assert client.get("/nowhere").json() == {"detail": "Not found"}
        big = client.post("/nowhere", content=b"z" * (2 * 1024 * 1024))
        assert big.status_code == 404
        assert big.headers["connection"] == "close"
        assert client.get("/livez").status_code == 200

"""`make run`: the whole system on this machine, from one command.

Starts an embedded PostgreSQL under `.data/postgres` (unless AUTH_DATABASE_URL,
TRADING_DATABASE_URL and AUCTION_DATABASE_URL are given), migrates, seeds demo data on the
first start, builds the web app when its sources changed, starts the three services, the web
app's server, gateway-aux and Traefik, waits until the gateway's
/healthz is 200, prints the URLs and logins, and on Ctrl-C (or SIGTERM) stops everything.

Logins live in `.data/credentials.json` (mode 0600): the admin (ADMIN_EMAIL/ADMIN_PASSWORD,
recorded there when given, else admin@example.com with a password generated on the first run),
a demo trader and a demo commissioner (registered through the gateway on the first run). After
start the admin login is tried, and a note says so if the account has another password.
Logs: `.data/logs/`.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Any

import httpx

from .stack import REPO_ROOT, SERVICES, Ports, Stack, StackError

DEFAULT_DATA_DIR = REPO_ROOT / ".data"
DEFAULT_ADMIN_EMAIL = "admin@example.com"
DEMO_USERS = {
    "trader": {"email": "trader@example.com", "name": "Demo Trader", "roles": ["trader"]},
    "commissioner": {
        "email": "commissioner@example.com",
        "name": "Demo Commissioner",
        "roles": ["commissioner"],
    },
}


def _password() -> str:
    return secrets.token_urlsafe(15)


def load_credentials(data_dir: Path, env: dict[str, str] | None = None) -> dict[str, Any]:
    """The logins of this data directory, created on the first run and kept (mode 0600).

    ADMIN_EMAIL/ADMIN_PASSWORD from the environment win over the stored admin and replace it
    in the file, which so never shows a password the auth service was not given."""
    env = dict(os.environ if env is None else env)
    path = data_dir / "credentials.json"
    creds: dict[str, Any] = {}
    if path.exists():
        creds = json.loads(path.read_text())
    admin = creds.setdefault("admin", {})
    admin.setdefault("email", DEFAULT_ADMIN_EMAIL)
    admin.setdefault("password", _password())
    for key, user in DEMO_USERS.items():
        entry = creds.setdefault(key, {})
        entry.setdefault("email", user["email"])
        entry.setdefault("password", _password())
        entry.setdefault("registered", False)
    if env.get("ADMIN_EMAIL") and env.get("ADMIN_PASSWORD"):
        # The file records the login the auth service is given, never a stale one (defect 7).
        creds["admin"] = {"email": env["ADMIN_EMAIL"], "password": env["ADMIN_PASSWORD"]}
    save_credentials(data_dir, creds)
    return creds


def save_credentials(data_dir: Path, creds: dict[str, Any]) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "credentials.json"
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(creds, fh, indent=2)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def register_demo_users(gateway_url: str, data_dir: Path, creds: dict[str, Any]) -> list[str]:
    """POST /auth/register through the gateway for each demo user not registered yet."""
    notes = []
    with httpx.Client(base_url=gateway_url, timeout=15.0) as client:
        for key, user in DEMO_USERS.items():
            entry = creds[key]
            if entry.get("registered"):
                continue
            body = {
                "email": entry["email"],
                "password": entry["password"],
                "name": user["name"],
                "roles": user["roles"],
            }
            try:
                resp = client.post("/auth/register", json=body)
            except httpx.HTTPError as exc:
                notes.append(f"could not register the demo {key}: {type(exc).__name__}")
                continue
            if resp.status_code == 201:
                entry["registered"] = True
            elif resp.status_code == 409:
                # Registered by an earlier run whose credentials file was lost: keep going.
                entry["registered"] = True
                notes.append(f"demo {key} {entry['email']} already existed (password unknown)")
            else:
                notes.append(f"registering the demo {key} answered {resp.status_code}")
        admin = creds["admin"]
        try:
            login = client.post("/auth/login", json=admin)
        except httpx.HTTPError as exc:
            notes.append(f"could not check the admin login: {type(exc).__name__}")
        else:
            if login.status_code == 401:
                # The account exists from an earlier run; ADMIN_PASSWORD only sets a new one.
                notes.append(
                    f"the admin {admin['email']} exists with another password: ADMIN_PASSWORD "
                    "is used only when the account is created"
                )
    stored = json.loads((data_dir / "credentials.json").read_text())
    for key in DEMO_USERS:
        stored[key]["registered"] = creds[key].get("registered", False)
    save_credentials(data_dir, stored)
    return notes


def _reachable(client: httpx.Client, url: str) -> bool:
    try:
        return client.get(url).status_code == 200
    except httpx.HTTPError:
        return False


def api_docs(stack: Stack) -> dict[str, str]:
    """Each service's API reference: the web app's /docs/<service> through the gateway (its
    OpenAPI document reachable there), else the service's own /docs."""
    docs = {}
    with httpx.Client(timeout=3.0) as client:
        for name in SERVICES:
            page = f"{stack.gateway_url}/docs/{name}"
            if _reachable(client, f"{page}/openapi.json"):
                docs[name] = page
            else:
                docs[name] = f"{stack.service_url(name)}/docs"
    return docs


def banner(stack: Stack, creds: dict[str, Any], notes: list[str]) -> str:
    docs = api_docs(stack)
    lines = [
        "",
        "=" * 72,
        f"  Web app       {stack.gateway_url}/   (sign up, or sign in with a login below)",
        f"  Gateway       {stack.gateway_url}   (health: {stack.gateway_url}/healthz)",
    ]
    lines += [f"  {name + ' API':<13} {url}" for name, url in docs.items()]
    for name in SERVICES:
        if len(urls := stack.service_urls(name)) > 1:
            lines.append(f"  {name + ' x' + str(len(urls)):<13} {', '.join(urls)}")
    lines += [
        f"  Metrics       {stack.metrics_url} (Traefik); /metrics on each service",
        f"  Logs          {stack.logs_dir}/  (access.log = gateway access log)",
        "",
        f"  admin         {creds['admin']['email']} / {creds['admin']['password']}",
    ]
    for key in DEMO_USERS:
        lines.append(f"  {key:<13} {creds[key]['email']} / {creds[key]['password']}")
    lines += [f"  note: {n}" for n in notes]
    lines += [
        f"  (logins are kept in {stack.data_dir / 'credentials.json'})",
        "",
        "  Ctrl-C stops everything.",
        "=" * 72,
    ]
    return "\n".join(lines)


def parse_replicas(text: str) -> dict[str, int]:
    """`trading=2,auction=2` -> {"trading": 2, "auction": 2}."""
    replicas = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, count = item.partition("=")
        if name not in SERVICES or not count.isdigit() or int(count) < 1:
            raise argparse.ArgumentTypeError(
                f"{item!r}: expected <service>=<count>, a service of {', '.join(SERVICES)}"
            )
        replicas[name] = int(count)
    return replicas


def replicas_from_env(env: dict[str, str] | None = None) -> dict[str, int]:
    """AUTH_REPLICAS, TRADING_REPLICAS, AUCTION_REPLICAS."""
    env = dict(os.environ if env is None else env)
    given = [
        f"{n}={env[f'{n.upper()}_REPLICAS']}" for n in SERVICES if env.get(f"{n.upper()}_REPLICAS")
    ]
    return parse_replicas(",".join(given))


def database_urls_from_env(env: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ if env is None else env)
    urls = {n: env.get(f"{n.upper()}_DATABASE_URL", "") for n in SERVICES}
    return {n: url for n, url in urls.items() if url}


class _Stop(Exception):
    pass


class StopSignals:
    """Ctrl-C, `kill`, a closing terminal: the first of them interrupts the launcher (raises
    `_Stop` in the main thread); every later one is ignored, so a second Ctrl-C, or the TERM
    that `make` forwards after the process group's own, can never interrupt the cleanup."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

    def __init__(self) -> None:
        self.stopping = False

    def handle(self, signum: int, frame: FrameType | None) -> None:
        if self.stopping:
            return
        self.stopping = True
        raise _Stop

    def install(self) -> None:
        for sig in self.SIGNALS:
            signal.signal(sig, self.handle)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the whole system locally.")
    default_dir = Path(os.environ.get("DATA_DIR", DEFAULT_DATA_DIR))
    parser.add_argument("--data-dir", type=Path, default=default_dir, help="default: .data")
    parser.add_argument("--no-demo", action="store_true", help="skip the demo data")
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds to wait for health")
    parser.add_argument(
        "--replicas",
        type=parse_replicas,
        default={},
        metavar="SERVICE=N,...",
        help="uvicorn processes per service behind the gateway, e.g. trading=2,auction=2 "
        "(default: *_REPLICAS, else 1); replica i listens on the service's port + 100*(i-1)",
    )
    args = parser.parse_args(argv)
    try:
        replicas = {**replicas_from_env(), **args.replicas}
    except argparse.ArgumentTypeError as exc:
        parser.error(f"*_REPLICAS: {exc}")

    data_dir: Path = args.data_dir.resolve()
    creds = load_credentials(data_dir)
    stack = Stack(
        data_dir,
        Ports.from_env(),
        database_urls=database_urls_from_env(),
        seed_demo=not args.no_demo,
        admin_email=creds["admin"]["email"],
        admin_password=creds["admin"]["password"],
        start_timeout=args.timeout,
        replicas=replicas,
    )

    # Ctrl-C, `kill`, or the terminal closing: all stop everything (PostgreSQL included).
    signals = StopSignals()
    signals.install()
    code = 0
    try:
        print(f"starting (data: {data_dir}, logs: {stack.logs_dir}) ...", flush=True)
        stack.start()
        notes = register_demo_users(stack.gateway_url, data_dir, creds)
        print(banner(stack, creds, notes), flush=True)
        while True:
            # A service replica that exits is started again (the gateway's health check keeps
            # it out meanwhile); anything else exiting, or a crash loop, stops everything.
            for name in stack.restart_exited():
                print(
                    f"{name} exited; started it again (log: {stack.logs_dir}/{name}.log)",
                    flush=True,
                )
            time.sleep(1)
    except _Stop:
        print("\nstopping ...", flush=True)
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        code = 1
    finally:
        signals.stopping = True  # from here on no signal interrupts: cleanup always runs
        stack.stop()
        print("stopped; nothing left running.", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())

"""`make run` (python -m devstack.launcher) started twice in a row on one data directory:
its own embedded PostgreSQL keeps the users of the first run; Ctrl-C leaves nothing running."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import IO

import httpx
import pytest

from devstack.stack import Ports, port_in_use

REPO_ROOT = Path(__file__).resolve().parents[2]
READY_LINE = "Ctrl-C stops everything."


class Launcher:
    """The launcher as a user runs it, in a process group of its own."""

    def __init__(self, data_dir: Path, ports: Ports, log: Path) -> None:
        env = {k: v for k, v in os.environ.items() if not k.endswith("_DATABASE_URL")}
        env.update({Ports.ENV_NAMES[name]: str(getattr(ports, name)) for name in Ports.ENV_NAMES})
        env.pop("ADMIN_EMAIL", None)
        env.pop("ADMIN_PASSWORD", None)
        self.log = log
        self._out: IO[bytes] = log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "devstack.launcher", "--data-dir", str(data_dir), "--no-demo"],
            cwd=REPO_ROOT,
            env=env,
            stdout=self._out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 150.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.log.read_text(errors="replace")
            if READY_LINE in text.rsplit("starting (data:", 1)[-1]:
                return text
            if self.proc.poll() is not None:
                pytest.fail(f"launcher exited with {self.proc.returncode}:\n{text[-3000:]}")
            time.sleep(0.3)
        self.interrupt()
        pytest.fail(f"launcher not ready in {timeout}s:\n{self.log.read_text()[-3000:]}")

    def interrupt(self) -> int:
        """Ctrl-C, as a terminal sends it; returns the exit code."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGINT)
        try:
            code = self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            code = self.proc.wait(timeout=10)
        self._out.close()
        return code


def _assert_nothing_running(ports: Ports, data_dir: Path) -> None:
    for name in Ports.ENV_NAMES:
        assert not port_in_use(getattr(ports, name)), f"{name} port still open"
    pid_file = data_dir / "postgres" / "pgdata" / "postmaster.pid"
    if pid_file.exists():  # only a stale file may remain: its server must be gone
        pid = int(pid_file.read_text().split()[0])
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


@pytest.mark.slow
def test_make_run_twice_keeps_the_users_of_the_first_run(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    ports = Ports.free()
    gateway = f"http://127.0.0.1:{ports.gateway}"
    email = f"kept-{uuid.uuid4().hex[:8]}@example.com"
    password = f"pw-{uuid.uuid4().hex}"

    first = Launcher(data_dir, ports, tmp_path / "run1.log")
    try:
        banner = first.wait_ready()
        creds = json.loads((data_dir / "credentials.json").read_text())
        assert (data_dir / "credentials.json").stat().st_mode & 0o777 == 0o600
        assert creds["admin"]["email"] == "admin@example.com"
        assert creds["admin"]["password"] in banner  # printed at start
        assert creds["trader"]["registered"] and creds["commissioner"]["registered"]
        assert gateway in banner
        reg = httpx.post(
            f"{gateway}/auth/register",
            json={"email": email, "password": password, "name": "Kept"},
            timeout=30,
        )
        assert reg.status_code == 201, reg.text
    finally:
        assert first.interrupt() == 0, first.log.read_text()[-3000:]
    assert "stopped; nothing left running." in first.log.read_text()
    _assert_nothing_running(ports, data_dir)

    second = Launcher(data_dir, ports, tmp_path / "run2.log")
    try:
        banner = second.wait_ready()
        assert json.loads((data_dir / "credentials.json").read_text()) == creds
        assert creds["admin"]["password"] in banner  # the same admin login as the first run
        with httpx.Client(base_url=gateway, timeout=30) as c:
            kept = c.post("/auth/login", json={"email": email, "password": password})
            assert kept.status_code == 200, kept.text
            assert kept.json()["user"]["email"] == email
            for who in ("admin", "trader", "commissioner"):
                login = c.post(
                    "/auth/login",
                    json={"email": creds[who]["email"], "password": creds[who]["password"]},
                )
                assert login.status_code == 200, (who, login.text)
            admin = c.post(
                "/auth/login",
                json={"email": creds["admin"]["email"], "password": creds["admin"]["password"]},
            )
            assert "admin" in admin.json()["user"]["roles"]
    finally:
        assert second.interrupt() == 0, second.log.read_text()[-3000:]
    _assert_nothing_running(ports, data_dir)

"""`make run` (python -m devstack.launcher) started twice in a row on one data directory:
its own embedded PostgreSQL keeps the users of the first run; Ctrl-C leaves nothing running,
and so does SIGTERM to the process group of `make` (defect 8: make forwards the TERM, so the
launcher receives two)."""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import IO

import httpx
import pytest

from devstack.postgres import EmbeddedPostgres
from devstack.stack import Ports, port_in_use

REPO_ROOT = Path(__file__).resolve().parents[2]
READY_LINE = "Ctrl-C stops everything."


class Launcher:
    """The launcher as a user runs it, in a process group of its own; with `argv`, under
    another parent (e.g. make) in that group."""

    def __init__(
        self,
        data_dir: Path,
        ports: Ports,
        log: Path,
        argv: list[str] | None = None,
        stdout: int | None = None,
    ) -> None:
        env = {k: v for k, v in os.environ.items() if not k.endswith("_DATABASE_URL")}
        env.update({Ports.ENV_NAMES[name]: str(getattr(ports, name)) for name in Ports.ENV_NAMES})
        env.pop("ADMIN_EMAIL", None)
        env.pop("ADMIN_PASSWORD", None)
        self.log = log
        self._out: IO[bytes] = log.open("ab")
        launcher = [sys.executable, "-m", "devstack.launcher", "--data-dir", str(data_dir)]
        self.proc = subprocess.Popen(
            argv or [*launcher, "--no-demo"],
            cwd=REPO_ROOT,
            env=env,
            stdout=self._out if stdout is None else stdout,
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


class HeldPipe:
    """A stdout pipe copied to a log file, which the test can stop reading and fill up: a
    process writing to it then blocks in that write (as on a stalled terminal), so a signal
    is sure to arrive in the middle of what it does next."""

    def __init__(self, log: Path) -> None:
        self.read_fd, self.write_fd = os.pipe()
        self._log = log.open("ab")
        self._reading = threading.Event()
        self._reading.set()
        self._idle = threading.Event()
        self._done = False
        self._thread = threading.Thread(target=self._copy, daemon=True)
        self._thread.start()

    def _copy(self) -> None:
        while not self._done:
            if not self._reading.is_set():
                self._idle.set()
                self._reading.wait()
                continue
            ready, _, _ = select.select([self.read_fd], [], [], 0.05)
            if ready:
                data = os.read(self.read_fd, 65536)
                self._log.write(data.replace(b"\0", b""))  # the filler is NUL bytes
                self._log.flush()

    def hold(self) -> None:
        """Stop reading, and fill what the pipe can hold."""
        self._idle.clear()
        self._reading.clear()
        assert self._idle.wait(5)
        # A description of its own: O_NONBLOCK on the shared one would reach the writers.
        fill = os.open(f"/proc/self/fd/{self.write_fd}", os.O_WRONLY | os.O_NONBLOCK)
        try:
            with contextlib.suppress(BlockingIOError):
                while True:
                    os.write(fill, b"\0" * 4096)
        finally:
            os.close(fill)

    def release(self) -> None:
        self._reading.set()

    def close(self) -> None:
        self._done = True
        self._reading.set()
        self._thread.join(5)
        os.close(self.read_fd)
        os.close(self.write_fd)
        self._log.close()


def _processes() -> dict[int, tuple[int, str, str]]:
    """pid -> (process group, state, command line) of every process on this machine."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue  # gone meanwhile
        fields = stat.rsplit(")", 1)[1].split()  # after "pid (comm)": state, ppid, pgrp, ...
        found[int(entry.name)] = (int(fields[2]), fields[0], cmdline)
    return found


def _of_this_run(ports: Ports, data_dir: Path) -> list[str]:
    """Live processes of one run: PostgreSQL and Traefik name the data directory in their
    command lines, the services their ports, gateway-aux its script."""
    marks = [
        str(data_dir),
        *(f"--port {getattr(ports, n)}" for n in ("auth", "trading", "auction", "web")),
    ]
    return [
        f"{pid} {cmdline}"
        for pid, (_, state, cmdline) in _processes().items()
        if state != "Z" and any(mark in cmdline for mark in marks)
    ]


@pytest.mark.slow
def test_sigterm_to_the_process_group_of_make_run_leaves_nothing_running(tmp_path: Path) -> None:
    """Defect 8: `kill -- -PGID` on `make run` (a supervisor, a closing terminal). GNU make
    forwards the TERM to the launcher, which so receives two or more in a row; the cleanup
    must run anyway and stop PostgreSQL too."""
    data_dir = tmp_path / "data"
    ports = Ports.free()
    # `make run`'s recipe without its `install` prerequisite (the environment exists).
    makefile = tmp_path / "Makefile"
    makefile.write_text(
        f"run:\n\t{sys.executable} -m devstack.launcher --data-dir {data_dir} --no-demo\n"
    )
    output = HeldPipe(tmp_path / "make.log")
    run = Launcher(
        data_dir,
        ports,
        tmp_path / "make.log",
        ["make", "--no-print-directory", "-f", str(makefile)],
        stdout=output.write_fd,
    )
    try:
        run.wait_ready()
        _terminate_the_group_and_check(run, output, ports, data_dir)
    finally:
        # Whatever the outcome, this test leaves no server behind.
        output.release()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(run.proc.pid, signal.SIGKILL)
        EmbeddedPostgres(data_dir / "postgres").stop()
        run.proc.wait(timeout=10)
        run._out.close()
        output.close()


def _terminate_the_group_and_check(
    run: Launcher, output: HeldPipe, ports: Ports, data_dir: Path
) -> None:
    group = run.proc.pid  # make leads the group; the launcher is its child in it
    launchers = [
        pid
        for pid, (pgrp, _, cmd) in _processes().items()
        if pgrp == group and "devstack.launcher" in cmd
    ]
    assert len(launchers) == 1, launchers
    assert _of_this_run(ports, data_dir), "the stack's processes were not found"
    # Its output stalls, so the launcher's first line after the TERM ("stopping ...") blocks
    # and make's forwarded TERM arrives while it unwinds, every time; then more TERMs (a
    # supervisor insisting, Ctrl-C pressed again) before the output flows again.
    output.hold()
    os.killpg(group, signal.SIGTERM)
    for _ in range(5):
        time.sleep(0.1)
        with contextlib.suppress(ProcessLookupError):
            os.kill(launchers[0], signal.SIGTERM)
    output.release()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and any(
        state != "Z" for pid, (_, state, _) in _processes().items() if pid == launchers[0]
    ):
        time.sleep(0.2)
    time.sleep(0.3)  # the last of its output reaches the log
    log = run.log.read_text()
    assert "stopped; nothing left running." in log, log[-3000:]
    assert "Traceback" not in log, log[-3000:]  # no signal interrupted the cleanup
    assert _of_this_run(ports, data_dir) == []
    _assert_nothing_running(ports, data_dir)

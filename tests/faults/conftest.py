"""Faults under load (issue 10): the real stack (Traefik, gateway-aux, three uvicorn processes)
on a durable embedded PostgreSQL of its own, so a test may restart PostgreSQL or the auth
service without touching any other suite. The e2e suite's client and user fixtures are reused
as they are, against this stack (`stack` below overrides the e2e one for this folder).

Every test here runs clients for seconds to a minute and prints its figures (`-s`); they are
marked `faults` and run by `make test-faults`, not by `make test`.
"""

from __future__ import annotations

import asyncio
import bisect
import shutil
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from auth_service.tokens.keys import private_pem
from devstack import testing
from devstack.stack import Ports, Stack
from devstack.testing import create_instrument, m1_bar

_e2e = testing.e2e_fixtures("_faults_e2e_fixtures")
# The e2e fixtures, bound here to this folder's `stack`.
secrets_seen = _e2e.secrets_seen
signing_key = _e2e.signing_key
client_factory = _e2e.client_factory
source_ip = _e2e.source_ip
gw = _e2e.gw
make_user = _e2e.make_user
ADMIN_EMAIL = _e2e.ADMIN_EMAIL
ADMIN_PASSWORD = _e2e.ADMIN_PASSWORD

# Keys the verifiers refetch after 2 s (a removed key stops verifying within that), a login
# rate limit the tests' many logins from one address never reach, and cheap password hashing.
FAULT_ENV = {
    "AUTH_JWKS_MAX_AGE_SECONDS": "2",
    "GATEWAY_AUTH_RATE_AVERAGE": "1000",
    "GATEWAY_AUTH_RATE_BURST": "1000",
    "AUTH_PASSWORD_HASH_TIME_COST": "1",
    "AUTH_PASSWORD_HASH_MEMORY_KIB": "8192",
}
BARS = 300  # M1 bars of the test instrument, from 2024-01-01 00:00 UTC
SESSION_START = "2024-01-01T00:00:00Z"
SESSION_END = "2024-01-01T04:59:00Z"


@pytest.fixture(scope="session")
def stack(signing_key: Ed25519PrivateKey, secrets_seen: Any) -> Iterator[Stack]:
    """The whole system with its own durable embedded PostgreSQL (`stack.postgres`). Its data
    directory is outside pytest's basetemp, which every concurrent pytest run resets to mode
    0700 (the PostgreSQL user could then no longer reach its data directory)."""
    key = private_pem(signing_key)
    secrets_seen.add(key.splitlines()[1])
    data_dir = Path(tempfile.mkdtemp(prefix="faults-stack-"))
    s = Stack(
        data_dir,
        Ports.free(),
        env={"AUTH_SIGNING_KEY": key, **FAULT_ENV},
        seed_demo=False,
        admin_email=ADMIN_EMAIL,
        admin_password=ADMIN_PASSWORD,
        start_timeout=120,
    )
    try:
        s.start()
        yield s
    finally:
        s.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


@dataclass(frozen=True)
class World:
    instrument_id: int


@pytest.fixture(scope="session")
def world(stack: Stack) -> World:
    """An instrument with BARS M1 bars, created through the gateway by the admin."""
    bars = [
        m1_bar(f"2024-01-01T{i // 60:02d}:{i % 60:02d}:00Z", 1.1 + (i % 50) / 100000)
        for i in range(BARS)
    ]
    return World(create_instrument(stack, "FLTUSD", bars))


def session_body(world: World) -> dict[str, Any]:
    """A trading session over the test instrument's bars."""
    return testing.session_body(world.instrument_id, SESSION_START, SESSION_END)


# A pending BUY LIMIT far below the market (bars near 1.1): accepted on a PAUSED session,
# never filled, no margin used, so a client can place as many as it likes.
PENDING_ORDER = {"type": "LIMIT", "side": "BUY", "volume": 0.01, "price": 1.0}


# ---- load and its figures ---------------------------------------------------------------------


def service_of(path: str) -> str:
    if path.startswith("/api/"):
        return "auction"
    if path.startswith("/auth/"):
        return "auth"
    return "trading"


def error_format_problem(service: str, resp: httpx.Response) -> str | None:
    """None when an error response is JSON in the routed service's own format."""
    if not resp.headers.get("content-type", "").startswith("application/json"):
        return f"content-type {resp.headers.get('content-type')!r}"
    try:
        body = resp.json()
    except ValueError:
        return "a body that is not JSON"
    if service == "auction":
        ok = (
            isinstance(body, dict)
            and body.get("success") is False
            and isinstance(body.get("error"), dict)
            and isinstance(body["error"].get("code"), str)
            and isinstance(body["error"].get("message"), str)
            and isinstance(body.get("meta", {}).get("timestamp"), str)
        )
    else:
        ok = isinstance(body, dict) and isinstance(body.get("detail"), str)
    return None if ok else f"body {str(body)[:200]}"


@dataclass
class Outcome:
    t: float  # monotonic time the answer arrived
    service: str
    method: str
    status: int  # 0: no HTTP answer (connection error, timeout)
    latency: float
    problem: str | None = None  # set when a non-2xx answer is not the expected 503


@dataclass
class Recorder:
    """Every answer the clients got, with the time it arrived."""

    outcomes: list[Outcome] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    async def call(
        self,
        client: httpx.AsyncClient,
        method: str,
        path: str,
        *,
        allow_503: bool = True,
        **kw: Any,
    ) -> httpx.Response | None:
        """One request; a 503 counts as expected (when allowed) only with Retry-After and
        in the service's error format."""
        service = service_of(path)
        sent = time.monotonic()
        try:
            resp = await client.request(method, path, **kw)
        except httpx.HTTPError as exc:
            now = time.monotonic()
            self.outcomes.append(
                Outcome(now, service, method, 0, now - sent, f"no answer: {exc!r}")
            )
            return None
        now = time.monotonic()
        problem = None
        if resp.status_code == 503 and allow_503:
            if not resp.headers.get("retry-after"):
                problem = "503 without Retry-After"
            else:
                problem = error_format_problem(service, resp)
        elif not resp.is_success:
            problem = f"{resp.status_code} {resp.text[:200]}"
        self.outcomes.append(Outcome(now, service, method, resp.status_code, now - sent, problem))
        return resp

    def ok_times(self, service: str | None = None) -> list[float]:
        return sorted(
            o.t
            for o in self.outcomes
            if 200 <= o.status < 300 and (service is None or o.service == service)
        )

    def rate(self, start: float, end: float, service: str | None = None) -> float:
        """2xx answers per second in [start, end)."""
        times = self.ok_times(service)
        n = bisect.bisect_left(times, end) - bisect.bisect_left(times, start)
        return n / (end - start)

    def median_rate(self, start: float, end: float, step: float = 0.05) -> float:
        """The median 2xx rate of the 1 s windows inside [start, end): a baseline that one
        lucky or unlucky second does not move (1 s rates on 2 shared cores vary by ±20 %)."""
        rates = []
        w = start
        while w + 1.0 <= end + 1e-9:
            rates.append(self.rate(w, w + 1.0))
            w += step
        return statistics.median(rates) if rates else 0.0

    def per_second(self, start: float, end: float, service: str | None = None) -> list[int]:
        """2xx answers in each whole second from `start`, for the figures."""
        return [
            round(self.rate(start + i, start + i + 1, service)) for i in range(int(end - start))
        ]

    def first_full_window(
        self, threshold: float, start: float, deadline: float, step: float = 0.05
    ) -> float | None:
        """The end of the first 1 s window starting at or after `start` whose rate reaches
        `threshold`, or None when no window ending by `deadline` does."""
        w = start
        while w + 1.0 <= deadline + 1e-9:
            if self.rate(w, w + 1.0) >= threshold:
                return w + 1.0
            w += step
        return None

    def statuses(self) -> Counter[int]:
        return Counter(o.status for o in self.outcomes)

    def problems(self) -> list[str]:
        return [
            f"{o.service} {o.method} {o.status}: {o.problem}" for o in self.outcomes if o.problem
        ]


Worker = Callable[[httpx.AsyncClient, int], Awaitable[None]]


async def run_until(
    stop: asyncio.Event, workers: list[Worker], base_url: str, request_timeout: float = 10.0
) -> None:
    """Each worker loops on its own client (its own connections) until `stop` is set."""

    async def loop(worker: Worker) -> None:
        async with httpx.AsyncClient(base_url=base_url, timeout=request_timeout) as client:
            n = 0
            while not stop.is_set():
                await worker(client, n)
                n += 1

    await asyncio.gather(*(loop(w) for w in workers))


def figures(title: str, rows: dict[str, Any]) -> str:
    """The test's figures, printed (pytest -s) and put in its assertion messages."""
    text = title + ": " + "; ".join(f"{k} {v}" for k, v in rows.items())
    print(f"\n[faults] {text}")
    return text


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


User = _e2e.User
UserFactory = _e2e.UserFactory


@pytest.fixture
async def api(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    """The test's own calls (setup, probes) on the gateway, beside the load's clients."""
    async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=30) as client:
        yield client

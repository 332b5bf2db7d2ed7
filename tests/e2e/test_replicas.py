"""Two replicas of trading and of auction behind the real Traefik (issue 10, "Replicas").

Traefik balances round robin, so consecutive requests land on different replicas: requests
carry an X-Request-ID of their own and the gateway's access log tells which replica
(`ServiceURL`) served each. What one process wrote, the other serves right: the replay clock
(read through the gateway from both), fills, streams, idempotency keys and bill numbers (each
half sent to one replica by its own address, so which one wrote and which one read is certain
even while a health check briefly takes one out of the rotation).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import os
import signal
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import yaml

from devstack import testing
from devstack.stack import DYNAMIC_CONFIG, Stack, free_ports, traefik_binary
from devstack.testing import create_instrument, m1_bar

if TYPE_CHECKING:
    from .conftest import ClientFactory, StackFactory, User, UserFactory

REPLICAS = {"trading": 2, "auction": 2}
BAR0 = datetime(2024, 1, 1, tzinfo=UTC)
BARS = 240  # M1 bars from BAR0: 1.2 for the first hour, 1.1 for the second, then 1.3


@pytest.fixture(scope="module")
def stack(start_stack: StackFactory) -> Iterator[Stack]:
    """This module's own stack: two uvicorn processes each for trading and auction."""
    with start_stack("replicas", replicas=REPLICAS) as s:
        in_rotation(s)
        yield s


def in_rotation(stack: Stack, timeout: float = 20.0) -> None:
    """Wait until Traefik routes to every replica. The stack is up once each process answers,
    but Traefik's own health check (every second) may not have put the second one in the
    rotation yet; a test of the rotation that starts before that sees only one."""
    probes = {"trading": "/instruments", "auction": "/api/sessions"}
    with httpx.Client(base_url=stack.gateway_url, timeout=10) as client:
        call = Traced(client, {})
        for service, path in probes.items():
            want, seen = set(stack.service_urls(service)), set[str]()
            deadline = time.monotonic() + timeout
            while seen != want:
                assert time.monotonic() < deadline, f"{service}: only {seen} of {want} in rotation"
                rids = [
                    call("GET", path)[1] for _ in range(2 * len(want))
                ]  # 401s: served all the same
                seen |= set(served_by(stack, rids)) & want
                time.sleep(0.1)


def ts(minute: int) -> str:
    return (BAR0 + timedelta(minutes=minute)).strftime("%Y-%m-%dT%H:%M:%SZ")


def minute_of(value: str) -> int:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return int((moment - BAR0).total_seconds()) // 60


@pytest.fixture(scope="module")
def instrument_id(stack: Stack) -> int:
    """BARS M1 bars from BAR0: 1.2 for the first hour, 1.1 for the second, then 1.3."""
    prices = [1.2 if i < 60 else 1.1 if i < 120 else 1.3 for i in range(BARS)]
    return create_instrument(stack, "RPLUSD", [m1_bar(ts(i), p) for i, p in enumerate(prices)])


def session_body(instrument_id: int, speed: str = "1x") -> dict[str, Any]:
    return testing.session_body(instrument_id, ts(0), ts(BARS - 1), speed=speed)


class Traced:
    """A gateway client whose every request carries an X-Request-ID of its own, so the access
    log tells which replica served it."""

    def __init__(self, client: httpx.Client, headers: dict[str, str]) -> None:
        self.client = client
        self.headers = headers

    def __call__(self, method: str, path: str, **kw: Any) -> tuple[httpx.Response, str]:
        rid = f"rpl-{uuid.uuid4().hex}"
        headers = {**self.headers, "X-Request-ID": rid, **kw.pop("headers", {})}
        return self.client.request(method, path, headers=headers, **kw), rid


def served_by(stack: Stack, rids: list[str], timeout: float = 10.0) -> list[str]:
    """The replica URL (Traefik's ServiceURL) that answered each request, in order."""
    deadline = time.monotonic() + timeout
    while True:
        found: dict[str, str] = {}
        for line in stack.access_log.read_text().splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            rid = entry.get("request_X-Request-Id")
            if rid in rids:
                found[rid] = entry.get("ServiceURL", "")
        if len(found) == len(rids) or time.monotonic() > deadline:
            return [found.get(rid, "missing") for rid in rids]
        time.sleep(0.2)  # Traefik writes a line when its request ends


@pytest.fixture
def trader(make_user: UserFactory) -> User:
    return make_user(("trader",))


@pytest.fixture
def traced(client_factory: ClientFactory, trader: User) -> Traced:
    return Traced(client_factory(), trader.bearer)


@pytest.fixture
def replicas(stack: Stack) -> Iterator[dict[str, httpx.Client]]:
    """A client on each replica's own address (`trading`, `trading-2`, `auction`, ...)."""
    clients = {
        replica: httpx.Client(base_url=stack.replica_url(replica), timeout=30)
        for service in REPLICAS
        for replica in stack.replica_names(service)
    }
    yield clients
    for client in clients.values():
        client.close()


def test_consecutive_requests_alternate_between_the_replicas(
    stack: Stack, client_factory: ClientFactory, make_user: UserFactory
) -> None:
    """Round robin over each service's replicas: ten requests in a row, each on the other."""
    user = make_user(("trader", "commissioner"))
    call = Traced(client_factory(), user.bearer)
    for service, path in (("trading", "/instruments"), ("auction", "/api/sessions")):
        rids = []
        for _ in range(10):
            resp, rid = call("GET", path)
            assert resp.status_code == 200, resp.text
            rids.append(rid)
        servers = served_by(stack, rids)
        assert set(servers) == set(stack.service_urls(service)), servers
        # Each request on the other replica, but where a slow health check (a loaded
        # machine) took one out of the rotation for a second.
        switches = sum(a != b for a, b in itertools.pairwise(servers))
        assert switches >= 6, servers


def test_the_replay_clock_read_from_both_replicas_never_goes_back_nor_shows_a_bar_early(
    stack: Stack, traced: Traced, instrument_id: int
) -> None:
    """A RUNNING session at 10 bars a second, its clock and its candles read alternately from
    the two replicas for 3 s: current_ts never goes back, and no answer holds a bar the time
    since the start had not revealed yet (bars revealed = floor(elapsed * speed))."""
    created, _ = traced("POST", "/sessions", json=session_body(instrument_id, "10x"))
    assert created.status_code == 201, created.text
    sid = created.json()["id"]
    sent = time.monotonic()
    started, _ = traced("POST", f"/sessions/{sid}/start")
    assert started.status_code == 200, started.text
    clocks: list[int] = []
    rids: list[str] = []
    while time.monotonic() - sent < 3.0:
        read, rid = traced("GET", f"/sessions/{sid}")
        due = math.floor((time.monotonic() - sent) * 10)
        assert read.status_code == 200, read.text
        assert read.json()["session_status"] == "RUNNING"
        clock = minute_of(read.json()["current_ts"])
        assert clock <= due, f"bar {clock} shown early: only {due} were due"
        clocks.append(clock)
        rids.append(rid)
        candles, rid = traced("GET", f"/sessions/{sid}/candles", params={"limit": 500})
        due = math.floor((time.monotonic() - sent) * 10)
        assert candles.status_code == 200, candles.text
        last = minute_of(candles.json()["candles"][-1]["ts"])
        assert last == minute_of(candles.json()["current_ts"]) and clocks[-1] <= last <= due
        clocks.append(last)
        rids.append(rid)
        time.sleep(0.05)
    assert clocks == sorted(clocks), clocks  # never backwards, whichever replica answered
    assert clocks[-1] >= 10, clocks  # it did move: 3 s at 10 bars a second
    servers = served_by(stack, rids)
    assert Counter(servers).keys() == set(stack.service_urls("trading")), Counter(servers)


def test_a_fill_and_a_stream_cross_replicas(
    traced: Traced, trader: User, replicas: dict[str, httpx.Client], instrument_id: int
) -> None:
    """An order placed on one replica fills when the session steps on the other, and a stream
    held open on one replica sends the bars and the fill that a step on the other caused."""
    one, other = replicas["trading"], replicas["trading-2"]
    auth = trader.bearer
    created, _ = traced("POST", "/sessions", json=session_body(instrument_id))
    sid = created.json()["id"]
    assert traced("POST", f"/sessions/{sid}/start")[0].status_code == 200
    paused, _ = traced("POST", f"/sessions/{sid}/pause")
    assert paused.json()["session_status"] == "PAUSED", paused.text
    at = minute_of(paused.json()["current_ts"])
    assert at < 50

    # The market is at 1.2 until 01:00, then 1.1: a BUY LIMIT at 1.15 fills at 01:00's ask
    # open (1.1 + 20 points of spread).
    limit = {"type": "LIMIT", "side": "BUY", "volume": 0.01, "price": 1.15}
    order = one.post(f"/sessions/{sid}/orders", json=limit, headers=auth)
    assert order.status_code == 201, order.text
    step = other.post(f"/sessions/{sid}/step", json={"bars": 70}, headers=auth)
    assert step.status_code == 200, step.text
    filled = one.get(f"/orders/{order.json()['id']}", headers=auth)
    assert filled.json()["status"] == "FILLED", filled.text
    assert filled.json()["filled_ts"] == ts(60)
    assert float(filled.json()["filled_price"]) == pytest.approx(1.1002, abs=1e-9)

    # From 02:00 the market is at 1.3: a BUY STOP at 1.25 fills at 02:00's ask open.
    stop = {"type": "STOP", "side": "BUY", "volume": 0.01, "price": 1.25}
    second = other.post(f"/sessions/{sid}/orders", json=stop, headers=auth)
    assert second.status_code == 201, second.text
    events: list[tuple[str, dict[str, Any]]] = []
    connected = threading.Event()
    last_bar = minute_of(step.json()["current_ts"]) + 60

    def listen() -> None:
        with one.stream("GET", f"/sessions/{sid}/stream", headers=auth) as resp:
            assert resp.status_code == 200
            name = ""
            for line in resp.iter_lines():
                if line.startswith("event: "):
                    name = line[7:]
                elif line.startswith("data: "):
                    events.append((name, json.loads(line[6:])))
                    connected.set()
                    if name == "bar" and minute_of(events[-1][1]["ts"]) >= last_bar:
                        return

    with ThreadPoolExecutor(1) as pool:
        listening = pool.submit(listen)
        assert connected.wait(15), "the stream sent nothing"
        step2 = other.post(f"/sessions/{sid}/step", json={"bars": 60}, headers=auth)
        assert step2.status_code == 200, step2.text
        assert minute_of(step2.json()["current_ts"]) == last_bar
        listening.result(timeout=30)
    bars = [minute_of(data["ts"]) for name, data in events if name == "bar"]
    assert bars == list(range(last_bar - 59, last_bar + 1)), bars  # each bar once, in order
    fills = [data for name, data in events if name == "fill"]
    assert [(f["order_id"], f["bar_ts"]) for f in fills] == [(second.json()["id"], ts(120))]


def test_an_idempotency_key_holds_across_replicas(
    trader: User, replicas: dict[str, httpx.Client], instrument_id: int
) -> None:
    """The same key replayed on the other replica answers the stored response; the same key
    sent at once by eight clients, four on each replica, creates one session."""
    one, other = replicas["trading"], replicas["trading-2"]
    body = session_body(instrument_id)
    headers = {**trader.bearer, "Idempotency-Key": f"rpl-{uuid.uuid4().hex}"}
    first = one.post("/sessions", json=body, headers=headers)
    again = other.post("/sessions", json=body, headers=headers)
    assert first.status_code == again.status_code == 201, again.text
    assert again.json() == first.json()

    before = one.get("/sessions", headers=trader.bearer).json()["total"]
    headers = {**trader.bearer, "Idempotency-Key": f"rpl-{uuid.uuid4().hex}"}
    barrier = threading.Barrier(8)

    def send(n: int) -> httpx.Response:
        barrier.wait()
        return (one, other)[n % 2].post("/sessions", json=body, headers=headers)

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(send, range(8)))
    statuses = Counter(resp.status_code for resp in answers)
    assert set(statuses) <= {201, 409} and statuses[201] >= 1, statuses
    assert len({resp.json()["id"] for resp in answers if resp.status_code == 201}) == 1
    assert other.get("/sessions", headers=trader.bearer).json()["total"] == before + 1


def test_bills_generated_in_parallel_on_both_replicas_are_numbered_without_gaps(
    client_factory: ClientFactory,
    make_user: UserFactory,
    replicas: dict[str, httpx.Client],
) -> None:
    """Eight farmers billed at once, four on each replica: BILL-001 to BILL-008, each once."""
    commissioner = make_user(("commissioner",))
    call = Traced(client_factory(), commissioner.bearer)

    def data(method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        resp, _ = call(method, path, json=body)
        assert resp.status_code == 201, resp.text
        result: dict[str, Any] = resp.json()["data"]
        return result

    category = data("POST", "/api/categories", {"name": "Veg"})
    product = data("POST", "/api/products", {"name": "Tomatoes", "category_id": category["id"]})
    buyer = data("POST", "/api/buyers", {"name": "Jane Buyer", "phone": "+0987654321"})
    auction_session = data("POST", "/api/sessions", {})
    farmers = [
        data("POST", "/api/farmers", {"name": f"Farmer {i}", "phone": "+1234567890"})
        for i in range(8)
    ]
    for farmer in farmers:
        item = {
            "farmer_id": farmer["id"],
            "product_id": product["id"],
            "buyer_id": buyer["id"],
            "unit": "KG",
            "quantity": 10,
            "final_price": 100.0,
        }
        data("POST", f"/api/sessions/{auction_session['id']}/items", item)
    barrier = threading.Barrier(8)

    def bill(n: int) -> httpx.Response:
        replica = replicas[("auction", "auction-2")[n % 2]]
        path = f"/api/sessions/{auction_session['id']}/bills"
        barrier.wait()
        return replica.post(path, json={"farmer_id": farmers[n]["id"]}, headers=commissioner.bearer)

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(bill, range(8)))
    assert [resp.status_code for resp in answers] == [201] * 8, [r.text for r in answers]
    numbers = sorted(resp.json()["data"]["bill_number"] for resp in answers)
    assert numbers == [f"BILL-{n:03d}" for n in range(1, 9)]
    listed = replicas["auction-2"].get("/api/bills", headers=commissioner.bearer).json()
    assert sorted(b["bill_number"] for b in listed["data"]) == numbers


# ---- graceful drain ---------------------------------------------------------------------------


def server_up(stack: Stack, url: str) -> bool | None:
    """Traefik's health-check verdict on one trading replica (its own metric), None unknown."""
    metrics = httpx.get(stack.metrics_url, timeout=10).text
    wanted = f'service="trading-replicas@file",url="{url}"'
    for line in metrics.splitlines():
        if line.startswith("traefik_service_server_up{") and wanted in line:
            return line.rsplit(" ", 1)[1] == "1"
    return None


def wait_for(condition: Any, timeout: float) -> float:
    """Seconds until `condition()` held (polled every 0.1 s); fails after `timeout`."""
    start = time.monotonic()
    while not condition():
        assert time.monotonic() - start < timeout, f"not within {timeout}s"
        time.sleep(0.1)
    return time.monotonic() - start


@dataclass
class Load:
    """Clients reading and writing through the gateway until told to stop."""

    stack: Stack
    headers: dict[str, str]
    session_id: int
    clients: int = 8
    stop: threading.Event = field(default_factory=threading.Event)
    counts: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)

    async def _client(self, n: int) -> None:
        order = {"type": "LIMIT", "side": "BUY", "volume": 0.01, "price": 1.0}  # never fills
        async with httpx.AsyncClient(
            base_url=self.stack.gateway_url, headers=self.headers, timeout=30
        ) as client:
            for i in itertools.count(n):
                if self.stop.is_set():
                    return
                method = "POST" if i % 2 else "GET"
                try:
                    if method == "POST":
                        path = f"/sessions/{self.session_id}/orders"
                        resp = await client.post(path, json=order)
                    else:
                        resp = await client.get(f"/sessions/{self.session_id}")
                except httpx.HTTPError as exc:
                    self.failures.append(f"{method}: {exc!r}")
                    continue
                self.counts[method] += 1
                if resp.status_code not in (200, 201):
                    self.failures.append(f"{method}: {resp.status_code} {resp.text[:200]}")

    def run(self) -> None:
        async def main() -> None:
            await asyncio.gather(*(self._client(n) for n in range(self.clients)))

        asyncio.run(main())


def test_a_replica_told_to_stop_drains_without_failing_a_request(
    stack: Stack, traced: Traced, trader: User, instrument_id: int
) -> None:
    """Eight clients write (POST, never retried by the gateway) and read through the gateway
    while each trading replica in turn gets SIGTERM, drains, exits and is started again by
    `Stack.restart_exited` (what the launcher does every second): not one request fails.
    The draining replica's /readyz is 503 at once and Traefik's health check takes it out
    of the rotation within about a second, well before it stops."""
    created, _ = traced("POST", "/sessions", json=session_body(instrument_id))
    sid = created.json()["id"]
    assert traced("POST", f"/sessions/{sid}/start")[0].status_code == 200
    assert traced("POST", f"/sessions/{sid}/pause")[0].json()["session_status"] == "PAUSED"
    for url in stack.service_urls("trading"):
        wait_for(lambda url=url: server_up(stack, url), 10)
    load = Load(stack, trader.bearer, sid)
    figures: dict[str, Any] = {}
    started = time.monotonic()
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(load.run)
        try:
            time.sleep(2)
            for replica in stack.replica_names("trading"):
                url = stack.replica_url(replica)
                process = stack.processes[replica]
                sent = time.monotonic()
                process.signal(signal.SIGTERM)
                time.sleep(0.2)
                ready = httpx.get(f"{url}/readyz", timeout=5)
                assert (ready.status_code, ready.json()) == (503, {"status": "draining"})
                assert ready.headers["connection"] == "close"
                figures[f"{replica} out of rotation s"] = round(
                    wait_for(lambda url=url: server_up(stack, url) is False, 10), 1
                )
                assert process.wait(30), f"{replica} did not stop"
                figures[f"{replica} drain s"] = round(time.monotonic() - sent, 1)
                assert process.returncode is not None
                assert stack.restart_exited() == [replica]
                stack.wait_ready(replica)
                back = wait_for(lambda url=url: server_up(stack, url), 15)
                figures[f"{replica} back in rotation s"] = round(back, 1)
                time.sleep(1.5)  # both serve again before the other one stops
        finally:
            load.stop.set()
            running.result(timeout=60)
    figures["seconds"] = round(time.monotonic() - started, 1)
    figures["requests"] = sum(load.counts.values())
    figures["writes"] = load.counts["POST"]
    figures["failed"] = len(load.failures)
    text = "drain under load: " + "; ".join(f"{k} {v}" for k, v in figures.items())
    print(f"\n[replicas] {text}")
    assert load.failures == [], f"{text}: {load.failures[:10]}"
    assert load.counts["POST"] >= 50 and load.counts["GET"] >= 50, text
    for replica in stack.replica_names("trading"):
        # The drain (3 s by default) ran in full, and the shutdown after it was quick.
        assert 3.0 <= figures[f"{replica} drain s"] <= 10.0, text
        assert figures[f"{replica} out of rotation s"] < 3.0, text


# ---- the routing file's server lists ---------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "servers"),
    [
        # compose: one URL per service
        ({"TRADING_URL": "http://10.0.0.1:8000"}, ["http://10.0.0.1:8000"]),
        # the launcher's replicas: the list wins over the single URL
        (
            {
                "TRADING_URL": "http://10.0.0.1:8000",
                "TRADING_URLS": "http://10.0.0.1:8000,http://10.0.0.2:8000",
            },
            ["http://10.0.0.1:8000", "http://10.0.0.2:8000"],
        ),
    ],
)
def test_the_real_traefik_renders_each_service_s_servers_from_the_environment(
    tmp_path: Path, env: dict[str, str], servers: list[str]
) -> None:
    """gateway/dynamic.yml's template, as the real Traefik renders it: the replicas' load
    balancer (health-checked on /readyz every second) and its unchecked fallback both hold the
    servers of `TRADING_URLS`, else of `TRADING_URL`."""
    web, api = free_ports(2)
    static = tmp_path / "traefik.yml"
    static.write_text(
        yaml.safe_dump(
            {
                "entryPoints": {
                    "web": {"address": f"127.0.0.1:{web}"},
                    "traefik": {"address": f"127.0.0.1:{api}"},
                },
                "api": {"insecure": True},
                "providers": {"file": {"filename": str(DYNAMIC_CONFIG)}},
            }
        )
    )
    others = {n: "http://127.0.0.1:9" for n in ("AUTH_URL", "AUCTION_URL", "GATEWAY_AUX_URL")}
    clean = {k: v for k, v in os.environ.items() if not k.endswith(("_URL", "_URLS"))}
    traefik = subprocess.Popen(
        [traefik_binary(), f"--configFile={static}"],
        env={**clean, **others, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{api}/api/http/services"
        found: dict[str, Any] = {}

        def loaded() -> bool:
            try:
                listed = httpx.get(url, timeout=2).json()
            except (httpx.HTTPError, ValueError):
                return False
            found.update({s["name"]: s for s in listed})
            return "trading-any@file" in found

        wait_for(loaded, 20)
        replicas, fallback = found["trading-replicas@file"], found["trading-any@file"]
        assert [s["url"] for s in replicas["loadBalancer"]["servers"]] == servers
        assert [s["url"] for s in fallback["loadBalancer"]["servers"]] == servers
        check = replicas["loadBalancer"]["healthCheck"]
        assert (check["path"], check["interval"]) == ("/readyz", "1s")
        assert "healthCheck" not in fallback["loadBalancer"]
        assert found["trading@file"]["failover"] == {
            "service": "trading-replicas",
            "fallback": "trading-any",
        }
    finally:
        traefik.terminate()
        traefik.wait(10)

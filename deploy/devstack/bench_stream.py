"""The event-stream row of `make bench`: N concurrent `GET /sessions/{id}/stream` at 15x on one
trading process, from ONE client process (asyncio over raw sockets: the client is cheap, and
its CPU share, time.process_time over the window, is shown).

Each session is started and paused before its stream opens, then resumed: the resume's
response gives the clock's anchor (`updated_at`, the instant `anchor_at` was set) and its bar
(`current_ts`), so bar k after it is due at `anchor + k / speed` exactly as the server counts
(`replay/clock.py`), and the stream's n-th bar event is bar n (every bar, in order). Lateness
is a bar's arrival (this host's wall clock, the database's too when the stack is local) less
its due time. The service's `trading_session_stream_queries_total` counter (from its
/metrics) gives the database statements spent by the streams during the run. Afterwards each
session's candles are read back and compared with what its stream delivered.

`python -m devstack.bench_stream` starts a stack of its own (as `make bench` does) and prints
the table; `run_streams` is what `bench.py` calls with its own stack.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

SPEED = "15x"
RATE = 15  # bars a second at SPEED
TARGET_P99_MS = 250.0
TARGET_QUERIES = 1.0  # per stream per second
IMPORT_BARS = 30_000  # M1 bars of the instrument made when none is given
METRIC = "trading_session_stream_queries_total"


def _iso(ts: datetime) -> str:
    return ts.isoformat().replace("+00:00", "Z")


def _parse(ts: str) -> datetime:
    return datetime.fromisoformat(ts.replace("Z", "+00:00"))


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return math.nan
    k = (len(ordered) - 1) * pct / 100
    lo, hi = math.floor(k), math.ceil(k)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


@dataclass
class StreamFigures:
    streams: int = 0
    speed: str = SPEED
    seconds: float = 0.0  # the measured window
    opened: int = 0  # streams that answered 200 and sent their state
    bars: int = 0  # bar events delivered in the window
    due: int = 0  # bars due in the window by the anchors (each stream's own)
    missing: int = 0  # due more than 1 s before the end, not delivered
    in_order: bool = True  # each stream: strictly increasing, no repeat
    matches_candles: bool = True  # each stream's bars == the session's candles after the anchor
    early: int = 0  # bars that arrived before they were due (look-ahead; must be 0)
    late_p50_ms: float = 0.0
    late_p99_ms: float = 0.0
    late_max_ms: float = 0.0
    queries: float = 0.0  # stream statements during the window (the service's counter)
    open_queries: float = 0.0  # stream statements while the streams opened and resumed
    client_cpu_s: float = 0.0
    errors: list[str] = field(default_factory=list)

    @property
    def queries_per_stream_s(self) -> float:
        return self.queries / max(1, self.streams) / max(self.seconds, 1e-9)

    @property
    def client_cpu_pct(self) -> float:
        return 100.0 * self.client_cpu_s / max(self.seconds, 1e-9)

    def rows(self) -> list[str]:
        p99_ok = self.late_p99_ms <= TARGET_P99_MS
        q_ok = self.queries_per_stream_s <= TARGET_QUERIES
        ok = "in order" if self.in_order and self.matches_candles else "OUT OF ORDER / WRONG"
        return [
            f"| {self.streams} streams at {self.speed}, {self.seconds:.0f} s | "
            f"{self.bars:,} of {self.due:,} due ({self.missing} missing), {ok} | "
            f"{self.late_p50_ms:.0f} / {self.late_p99_ms:.0f} "
            f"({'met' if p99_ok else 'NOT met'}) | {self.early} | "
            f"{self.queries_per_stream_s:.3f} ({'met' if q_ok else 'NOT met'}) | "
            f"{self.client_cpu_pct:.0f}% |",
        ]

    def ratios(self) -> list[tuple[str, str]]:
        return [
            (
                f"stream: p99 lateness of {self.streams} streams at {self.speed}, ms "
                f"(target ≤ {TARGET_P99_MS:.0f})",
                f"{self.late_p99_ms:.0f}",
            ),
            (
                f"stream: database statements per stream per second (target ≤ {TARGET_QUERIES})",
                f"{self.queries_per_stream_s:.3f}",
            ),
        ]

    def table(self) -> list[str]:
        lines = [
            f"Event streams (GET /sessions/{{id}}/stream): {self.streams} concurrent streams at "
            f"{self.speed} on one trading process, one asyncio client process over raw "
            f"sockets; lateness = arrival - due time (anchor + k / speed), ms",
            "",
            "| streams | bars delivered | lateness p50 / p99 ms (≤ 250) | early | "
            "queries / stream / s (≤ 1) | client CPU |",
            "| --- | --- | ---: | ---: | ---: | ---: |",
            *self.rows(),
            "",
            f"Max lateness {self.late_max_ms:.0f} ms. Opening and resuming the streams cost "
            f"{self.open_queries / max(1, self.streams):.1f} statements each, not counted in "
            f"the window. Client CPU {self.client_cpu_s:.2f} s over {self.seconds:.1f} s "
            f"({self.client_cpu_pct:.0f}% of one core): the client is not the limit.",
        ]
        if self.errors:
            lines.append(f"Errors ({len(self.errors)}): {'; '.join(self.errors[:5])}")
        return lines

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["queries_per_stream_s"] = self.queries_per_stream_s
        out["client_cpu_pct"] = self.client_cpu_pct
        return out


# --- the client: one asyncio task per stream, raw HTTP/1.1 ---


@dataclass
class _Stream:
    session_id: int
    anchor: datetime | None = None  # set by the resume
    anchor_ts: datetime | None = None
    received: list[tuple[float, str]] = field(default_factory=list)  # (wall time, bar ts)
    opened: asyncio.Event = field(default_factory=asyncio.Event)
    error: str | None = None


async def _read_stream(
    host: str, port: int, path: str, token: str, stream: _Stream, stop: asyncio.Event
) -> None:
    writer = None
    try:
        reader, writer = await asyncio.open_connection(host, port, limit=1 << 20)
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
            "Accept: text/event-stream\r\n\r\n".encode()
        )
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        if not head.startswith("HTTP/1.1 200"):
            stream.error = head.splitlines()[0]
            stream.opened.set()
            return
        chunked = "transfer-encoding: chunked" in head.lower()
        buffer = b""
        while not stop.is_set():
            if chunked:
                size = int((await reader.readuntil(b"\r\n")).strip(), 16)
                if size == 0:
                    break
                data = await reader.readexactly(size + 2)
                buffer += data[:-2]
            else:
                data = await reader.read(65536)
                if not data:
                    break
                buffer += data
            at = time.time()
            *blocks, buffer = buffer.split(b"\n\n")
            for block in blocks:
                if b"event: bar" in block:
                    line = block.split(b"\n", 1)[0]  # `id: <bar ts>` comes first
                    stream.received.append((at, line[4:].decode()))
                elif b"event: state" in block:
                    stream.opened.set()
                elif b"event: error" in block or b"event: deleted" in block:
                    stream.error = block.decode()[:200]
    except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
        if not stop.is_set():
            stream.error = repr(exc)
    finally:
        stream.opened.set()
        if writer is not None:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


def _metric(http: httpx.Client, metrics_url: str | None) -> float:
    if metrics_url is None:
        return math.nan
    for line in http.get(metrics_url).text.splitlines():
        if line.startswith(f"{METRIC} "):
            return float(line.split()[1])
    return 0.0


def run_streams(
    http: httpx.Client,
    gateway_or_service_url: str,
    token: str,
    instrument_id: int | None,
    *,
    streams: int = 500,
    seconds: float = 20.0,
    metrics_url: str | None = None,
    admin_token: str | None = None,
    log: Callable[[str], None] = print,
) -> StreamFigures:
    """`streams` sessions of the token's user at 15x on `instrument_id` (None: a new M1
    instrument with `IMPORT_BARS` bars, imported with `admin_token`, default `token`), a
    stream open on each, all resumed, then `seconds` of playback measured."""
    base = gateway_or_service_url.rstrip("/")
    auth = {"Authorization": f"Bearer {token}"}

    def call(method: str, path: str, expect: int = 200, **kw: Any) -> Any:
        r = http.request(method, f"{base}{path}", headers=auth, **kw)
        if r.status_code != expect:
            raise RuntimeError(f"{method} {path} -> {r.status_code}: {r.text[:300]}")
        return r.json() if r.content else None

    start = datetime(2023, 1, 2, tzinfo=UTC)
    if instrument_id is None:
        from .bench import m1_bars_csv
        from .bench_replay import instrument_with_bars

        csv, start, _ = m1_bars_csv(IMPORT_BARS, start, seed=11)
        log(f"stream: importing {IMPORT_BARS:,} M1 bars ...")
        inst, _ = instrument_with_bars(
            http, base, admin_token or token, "BENCHSTREAM", "stream benchmark bars", csv
        )
        instrument_id = int(inst["id"])
    else:
        first = http.get(
            f"{base}/instruments/{instrument_id}/candles",
            params={"timeframe": "M1", "limit": 1, "from": _iso(start)},
            headers=auth,
        )
        if first.status_code == 200 and first.json().get("candles"):
            start = _parse(first.json()["candles"][0]["ts"])

    log(f"stream: creating, starting and pausing {streams} sessions at {SPEED} ...")
    body = {
        "instrument_id": instrument_id,
        "timeframe": "M1",
        "speed": SPEED,
        "start_ts": _iso(start),
        "initial_balance": 10_000,
        "leverage": 100,
        "spread_pts": 0,
        "slippage_pts": 0,
        "commission_per_fill": 0,
    }
    ids = []
    for _ in range(streams):
        sid = call("POST", "/sessions", 201, json=body)["id"]
        call("POST", f"/sessions/{sid}/start")
        call("POST", f"/sessions/{sid}/pause")
        ids.append(sid)

    figures = StreamFigures(streams=streams)
    url = urlsplit(base)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    prefix = url.path.rstrip("/")

    async def play() -> list[_Stream]:
        stop = asyncio.Event()
        state = [_Stream(sid) for sid in ids]
        tasks = [
            asyncio.create_task(
                _read_stream(host, port, f"{prefix}/sessions/{s.session_id}/stream", token, s, stop)
            )
            for s in state
        ]
        await asyncio.wait_for(asyncio.gather(*(s.opened.wait() for s in state)), 60)
        figures.opened = sum(s.error is None for s in state)
        log(f"stream: {figures.opened} streams open; resuming every session ...")
        before = _metric(http, metrics_url)

        async with httpx.AsyncClient(base_url=base, headers=auth, timeout=30) as client:

            async def resume(s: _Stream) -> None:
                r = await client.post(f"/sessions/{s.session_id}/resume")
                r.raise_for_status()
                out = r.json()
                s.anchor, s.anchor_ts = _parse(out["updated_at"]), _parse(out["current_ts"])

            sem = asyncio.Semaphore(8)

            async def limited(s: _Stream) -> None:
                async with sem:
                    await resume(s)

            await asyncio.gather(*(limited(s) for s in state))
        await asyncio.sleep(0.5)  # the resume notifications are read
        opened = await asyncio.to_thread(_metric, http, metrics_url)
        figures.open_queries = opened - before
        log(f"stream: measuring {seconds:.0f} s ...")
        cpu0, t0, wall0 = time.process_time(), time.monotonic(), time.time()
        for s in state:  # the window starts now: earlier bars are not counted
            s.received = [r for r in s.received if r[0] >= wall0]
        await asyncio.sleep(seconds)
        figures.seconds = time.monotonic() - t0
        figures.client_cpu_s = time.process_time() - cpu0
        figures.queries = await asyncio.to_thread(_metric, http, metrics_url) - opened
        window.extend([wall0, wall0 + figures.seconds])
        stop.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        return state

    window: list[float] = []  # wall-clock bounds of the measured window
    state = asyncio.run(play())
    wall0, wall1 = window

    log("stream: checking every stream against its session's candles ...")
    late: list[float] = []
    for s in state:
        if s.error is not None:
            figures.errors.append(f"session {s.session_id}: {s.error}")
        if s.anchor is None or s.anchor_ts is None:
            continue
        candles = call("GET", f"/sessions/{s.session_id}/candles", params={"limit": 5000})
        after = [_parse(c["ts"]) for c in candles["candles"] if _parse(c["ts"]) > s.anchor_ts]
        index = {ts: k for k, ts in enumerate(after, start=1)}  # bar k after the anchor
        got = [_parse(ts) for _, ts in s.received]
        if got != sorted(set(got)):
            figures.in_order = False
        for at, ts in s.received:
            k = index.get(_parse(ts))
            if k is None:  # a bar the session's candles do not show: look-ahead or wrong
                figures.matches_candles = False
                continue
            due = s.anchor + timedelta(microseconds=math.ceil(k * 1_000_000 / RATE))
            lateness = at - due.timestamp()
            late.append(lateness)
            if lateness < 0:
                figures.early += 1
        # Bars due inside the window: those with due time in [wall0, wall1].
        k_lo = math.ceil((wall0 - s.anchor.timestamp()) * RATE)
        k_hi = math.floor((wall1 - s.anchor.timestamp()) * RATE)
        k_hi_missing = math.floor((wall1 - 1.0 - s.anchor.timestamp()) * RATE)
        figures.due += max(0, k_hi - k_lo + 1)
        have = {index.get(_parse(ts)) for _, ts in s.received}
        figures.missing += sum(1 for k in range(max(1, k_lo), k_hi_missing + 1) if k not in have)
        if got and after and got != after[index[got[0]] - 1 : index[got[0]] - 1 + len(got)]:
            figures.matches_candles = False  # a gap or a bar that differs
    figures.bars = len(late)
    if late:
        figures.late_p50_ms = 1000 * statistics.median(late)
        figures.late_p99_ms = 1000 * percentile(late, 99)
        figures.late_max_ms = 1000 * max(late)
    return figures


def main(argv: list[str] | None = None) -> int:
    from .bench import login
    from .bench_replay import new_trader
    from .stack import Ports, Stack

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument(
        "--direct", action="store_true", help="to the trading service, not through the gateway"
    )
    args = parser.parse_args(argv)
    data_dir = Path(tempfile.mkdtemp(prefix="bench-stream-"))
    admin_email, admin_password = "bench-admin@example.com", "bench-admin-password-1"
    stack = Stack(
        data_dir,
        Ports.free(),
        seed_demo=False,
        admin_email=admin_email,
        admin_password=admin_password,
    )
    try:
        print(f"starting the stack in {data_dir} ...", flush=True)
        stack.start()
        gw = stack.gateway_url
        with httpx.Client(timeout=600) as http:
            admin = login(http, gw, admin_email, admin_password)
            trader = new_trader(http, gw, "bench-streamer@example.com", "bench-streamer-pass-1")
            token = trader.headers["Authorization"].removeprefix("Bearer ")
            url = stack.service_url("trading") if args.direct else gw
            figures = run_streams(
                http,
                url,
                token,
                None,
                streams=args.streams,
                seconds=args.seconds,
                metrics_url=stack.service_url("trading") + "/metrics",
                admin_token=admin,
                log=lambda text: print(text, flush=True),
            )
    finally:
        stack.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
    print("\n" + "\n".join(figures.table()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

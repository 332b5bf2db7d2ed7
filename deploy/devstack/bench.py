"""`make bench`: the SPEC section 7 benchmarks that exist so far, measured in one run on this
machine and printed as a table of ratios.

The HTTP rows time the hot reads against raw-asyncpg baselines (`bench_raw.py`) side by side:
`GET /sessions/{id}` for a DRAFT, a PAUSED and a RUNNING session, the 500-bar candles window,
and positions, account and transactions (the baseline runs the service's own statements);
the import row adds the trading process's peak RSS. The streams rows (`bench_stream.py`)
hold 500 event streams at 15x open from one asyncio client.

The whole stack runs as `make run` runs it (one uvicorn process per service, Traefik, a durable
embedded PostgreSQL), on free ports and a throwaway data directory. Load comes from `wrk`
(Debian's package; installed with apt-get when missing and allowed), one thread, so the
client takes as little of the 2 cores as possible; the client's own CPU use is measured and
printed next to each figure, to show it is not the bottleneck.

The replay rows (`bench_replay.py`) time single `seek` requests through the gateway against
backtesting.py's `Backtest.run` on the same bars in this process. The reports rows
(`bench_reports.py`) time the statistics against backtesting.py's `compute_stats` in this
process, and `generate-report` through the gateway on a year of M1 bars with 10,000 closed
trades. `--only http|streams|replay|reports` runs just those, for quick iterations; the full
table comes from a run without it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import random
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from .bench_replay import IMPORT_BARS, ReplayFigures, new_trader, run_replay
from .bench_reports import YEAR_BARS, ReportFigures, run_reports, settle_database
from .bench_stream import StreamFigures, run_streams
from .stack import HOST, REPO_ROOT, ManagedProcess, Ports, Stack, port_in_use

RESULTS_DIR = REPO_ROOT / "bench-results"
CHILD_READS = ("positions", "account", "transactions")


@dataclass
class LoadResult:
    name: str
    url: str
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    requests: int
    non_2xx: int
    errors: int
    client_cpu_pct: float  # of one core, over the run

    def row(self) -> str:
        return (
            f"| {self.name} | {self.requests_per_s:,.0f} | {self.p50_ms:.2f} | "
            f"{self.p99_ms:.2f} | {self.client_cpu_pct:.0f}% |"
        )


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("installing wrk (Debian package) ...", flush=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "wrk"],
            check=False,
            env=env,
            stdout=subprocess.DEVNULL,
        )
        if shutil.which("wrk") is None:
            subprocess.run(
                ["apt-get", "update", "-qq"], check=False, env=env, stdout=subprocess.DEVNULL
            )
            subprocess.run(
                ["apt-get", "install", "-y", "-qq", "wrk"],
                check=False,
                env=env,
                stdout=subprocess.DEVNULL,
            )
        found = shutil.which("wrk")
        if found:
            return found
    raise SystemExit(
        "make bench needs wrk: `apt-get install wrk` (Debian/Ubuntu) or your "
        "system's package manager"
    )


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if not match:
        raise ValueError(f"unexpected wrk latency {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def run_wrk(
    wrk: str,
    name: str,
    url: str,
    *,
    seconds: int,
    connections: int,
    headers: dict[str, str] | None = None,
) -> LoadResult:
    argv = [wrk, "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s"]
    for key, value in (headers or {}).items():
        argv += ["-H", f"{key}: {value}"]
    argv.append(url)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    out = subprocess.run(argv, check=True, capture_output=True, text=True).stdout
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    non2xx_m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    err_m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = sum(int(g) for g in err_m.groups()) if err_m else 0
    return LoadResult(
        name,
        url,
        rps,
        p50,
        p99,
        total,
        int(non2xx_m.group(1)) if non2xx_m else 0,
        errors,
        100.0 * cpu / wall,
    )


def m1_bars_csv(count: int, start: datetime, seed: int = 7) -> tuple[str, datetime, datetime]:
    """`count` M1 bid bars from `start`, market closed Friday 22:00 to Sunday 22:00 UTC."""
    rng = random.Random(seed)
    lines = ["timestamp,open,high,low,close,volume"]
    ts = start
    price = 1.10000
    first = last = start
    minute = timedelta(minutes=1)
    while len(lines) <= count:
        wd, hour = ts.weekday(), ts.hour
        closed = (wd == 4 and hour >= 22) or wd == 5 or (wd == 6 and hour < 22)
        if not closed:
            open_ = price
            close = max(0.5, open_ + rng.gauss(0, 0.00012))
            high = max(open_, close) + abs(rng.gauss(0, 0.00005))
            low = min(open_, close) - abs(rng.gauss(0, 0.00005))
            lines.append(
                f"{ts.isoformat().replace('+00:00', 'Z')},{open_:.5f},{high:.5f},"
                f"{low:.5f},{close:.5f},{rng.randint(1, 500)}"
            )
            if len(lines) == 2:
                first = ts
            last = ts
            price = close
        ts += minute
    return "\n".join(lines) + "\n", first, last


def peak_rss_mb(proc: Any) -> float | None:
    """The process's peak resident set (VmHWM) so far, in MiB (Linux; None elsewhere)."""
    try:
        status = Path(f"/proc/{proc.pid}/status").read_text()
    except (OSError, AttributeError):
        return None
    match = re.search(r"VmHWM:\s+(\d+) kB", status)
    return round(int(match.group(1)) / 1024, 1) if match else None


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * pct / 100
    lo, hi = math.floor(k), math.ceil(k)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def login(http: httpx.Client, gw: str, email: str, password: str) -> str:
    r = http.post(f"{gw}/auth/login", json={"email": email, "password": password})
    r.raise_for_status()
    token: str = r.json()["access_token"]
    return token


def http_runs(
    stack: Stack, http: httpx.Client, token: str, wrk: str, args: argparse.Namespace
) -> tuple[list[LoadResult], dict[str, Any]]:
    """The import, the H1 session over a year and the wrk runs against it."""
    gw = stack.gateway_url
    trading = stack.service_url("trading")
    auth = {"Authorization": f"Bearer {token}"}
    results: list[LoadResult] = []
    figures: dict[str, Any] = {}
    inst = http.post(
        f"{trading}/instruments",
        headers=auth,
        json={
            "symbol": "BENCH",
            "description": "benchmark bars",
            "digits": 5,
            "contract_size": 100000,
            "min_volume": 0.01,
            "volume_step": 0.01,
            "max_volume": 100,
            "base_timeframe": "M1",
        },
    )
    inst.raise_for_status()
    instrument_id = inst.json()["id"]

    print(f"generating {args.bars:,} M1 bars ...", flush=True)
    csv_text, first_ts, last_ts = m1_bars_csv(args.bars, datetime(2023, 1, 2, tzinfo=UTC))
    body = csv_text.encode()
    print(f"importing {args.bars:,} M1 bars ({len(body) / 2**20:.0f} MiB CSV) ...", flush=True)
    t0 = time.perf_counter()
    imp = http.post(
        f"{trading}/instruments/{instrument_id}/candles",
        headers={**auth, "Content-Type": "text/csv"},
        content=body,
    )
    import_s = time.perf_counter() - t0
    imp.raise_for_status()
    figures["import_bars"] = args.bars
    figures["import_seconds"] = round(import_s, 2)
    figures["import_bars_per_s"] = round(args.bars / import_s)
    figures["import_peak_rss_mb"] = peak_rss_mb(stack.processes["trading"].proc)

    # Sessions at H1 over the first year of data: PAUSED at its end with trades made
    # (positions, ledger, a pending order), DRAFT, and RUNNING at 1x.
    year_end = min(first_ts + timedelta(days=365), last_ts - timedelta(days=2))
    session_body = {
        "instrument_id": instrument_id,
        "timeframe": "H1",
        "speed": "1x",
        "start_ts": first_ts.isoformat(),
        "end_ts": (year_end + timedelta(days=30)).isoformat(),
        "initial_balance": 10000,
        "leverage": 100,
        "spread_pts": 20,
        "slippage_pts": 5,
        "commission_per_fill": 7,
    }

    def new_session() -> int:
        made = http.post(f"{trading}/sessions", headers=auth, json=session_body)
        made.raise_for_status()
        sid: int = made.json()["id"]
        return sid

    def act(path: str, **kw: Any) -> Any:
        r = http.post(f"{trading}{path}", headers=auth, **kw)
        r.raise_for_status()
        return r.json() if r.content else None

    session_id = new_session()
    act(f"/sessions/{session_id}/start")
    act(f"/sessions/{session_id}/seek", json={"ts": (year_end - timedelta(days=1)).isoformat()})
    act(f"/sessions/{session_id}/pause")
    # Ten positions opened a bar apart, four of them closed, and a pending order that never
    # fills: the positions page, the ledger and the account all have rows to show.
    opened = []
    for i in range(10):
        side = "BUY" if i % 2 == 0 else "SELL"
        opened.append(
            act(f"/sessions/{session_id}/positions", json={"side": side, "volume": 0.1})["id"]
        )
        act(f"/sessions/{session_id}/step")
    for pid in opened[:4]:
        act(f"/positions/{pid}/close")
    act(
        f"/sessions/{session_id}/orders",
        json={"type": "LIMIT", "side": "BUY", "volume": 0.1, "price": 0.5},
    )
    draft_id = new_session()
    running_id = new_session()
    act(f"/sessions/{running_id}/start")
    act(f"/sessions/{running_id}/seek", json={"ts": (year_end - timedelta(days=90)).isoformat()})
    check = http.get(f"{trading}/sessions/{session_id}/candles?limit=500", headers=auth)
    check.raise_for_status()
    figures["candles_returned"] = len(check.json()["candles"])

    # The bulk writes above are vacuumed and analyzed now, not by autovacuum during the runs.
    raw_dsn = trading_dsn(stack)
    asyncio.run(settle_database(raw_dsn))

    # The raw-asyncpg baseline, served by uvicorn exactly like the service.
    raw_port = Ports.free().aux
    raw = ManagedProcess(
        "bench-raw",
        [
            sys.executable,
            "-m",
            "uvicorn",
            "devstack.bench_raw:app",
            "--host",
            HOST,
            "--port",
            str(raw_port),
            "--no-access-log",
        ],
        {**os.environ, "BENCH_RAW_DSN": raw_dsn},
        stack.logs_dir / "bench-raw.log",
        REPO_ROOT,
    )
    try:
        raw.start()
        deadline = time.monotonic() + 30
        while not port_in_use(raw_port):
            if time.monotonic() > deadline or not raw.running:
                raise SystemExit(f"baseline server did not start: {raw.log_tail()}")
            time.sleep(0.2)

        s, c = args.seconds, args.connections
        raw_url = f"http://{HOST}:{raw_port}"
        path = f"/sessions/{session_id}"
        print("load runs (wrk, 1 thread) ...", flush=True)

        def run(name: str, url: str, *, conns: int = c, authed: bool = True) -> None:
            results.append(
                run_wrk(
                    wrk, name, url, seconds=s, connections=conns, headers=auth if authed else None
                )
            )

        run("client ceiling: baseline 404 (no DB)", f"{raw_url}/nothing", authed=False)
        run("raw asyncpg GET /sessions/{id}", f"{raw_url}{path}", authed=False)
        run("service GET /sessions/{id} DRAFT (direct)", f"{trading}/sessions/{draft_id}")
        run("service GET /sessions/{id} PAUSED (direct)", f"{trading}{path}")
        run("service GET /sessions/{id} RUNNING (direct)", f"{trading}/sessions/{running_id}")
        run("gateway GET /sessions/{id} PAUSED", f"{gw}{path}")
        run("candles limit=500 H1 (direct, 4 conns)", f"{trading}{path}/candles?limit=500", conns=4)
        run("candles limit=500 H1 (gateway, 4 conns)", f"{gw}{path}/candles?limit=500", conns=4)
        for child in CHILD_READS:
            run(
                f"raw asyncpg GET /sessions/{{id}}/{child}",
                f"{raw_url}{path}/{child}",
                authed=False,
            )
            run(f"service GET /sessions/{{id}}/{child} (direct)", f"{trading}{path}/{child}")
    finally:
        raw.stop()
    return results, figures


def trading_dsn(stack: Stack) -> str:
    """The trading database's DSN for asyncpg itself (no SQLAlchemy driver suffix)."""
    return stack.resolved_urls["trading"].replace("postgresql+asyncpg://", "postgresql://")


def first_run_seconds() -> float:
    """A first `make run`: a fresh data directory, the stack started as the launcher starts
    it (PostgreSQL initialised, migrations, the demo data seeded, the services and the
    gateway up) until the gateway answers healthy."""
    data_dir = Path(tempfile.mkdtemp(prefix="bench-first-run-"))
    stack = Stack(data_dir, Ports.free(), seed_demo=True)
    try:
        start = time.perf_counter()
        stack.start()
        return round(time.perf_counter() - start, 1)
    finally:
        stack.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


def http_report(
    results: list[LoadResult],
    figures: dict[str, Any],
    replay: ReplayFigures | None,
    reports: ReportFigures | None,
    streams: StreamFigures | None,
) -> tuple[list[str], list[str]]:
    """The wrk table and the ratios (with the replay and reports rows' ratios); the runs
    with errors."""
    by = {r.name: r for r in results}
    paused = by["service GET /sessions/{id} PAUSED (direct)"]
    gateway = by["gateway GET /sessions/{id} PAUSED"]
    candles = by["candles limit=500 H1 (direct, 4 conns)"]
    bad = [r.name for r in results[1:] if r.non_2xx or r.errors]
    fastest = max(r.requests_per_s for r in results[1:])
    raw_name = "raw asyncpg GET /sessions/{id}"

    def rate(name: str) -> float:
        return by[name].requests_per_s

    def child_ratio(child: str) -> float:
        service = rate(f"service GET /sessions/{{id}}/{child} (direct)")
        return service / rate(f"raw asyncpg GET /sessions/{{id}}/{child}")

    ratios = [
        *(
            (
                f"service ÷ raw asyncpg, GET /sessions/{{id}} {state} req/s (target ≥ 0.5)",
                f"{rate(f'service GET /sessions/{{id}} {state} (direct)') / rate(raw_name):.2f}",
            )
            for state in ("DRAFT", "PAUSED", "RUNNING")
        ),
        *(
            (
                f"service ÷ raw asyncpg (same statements), GET /sessions/{{id}}/{child} req/s "
                "(target ≥ 0.4)",
                f"{child_ratio(child):.2f}",
            )
            for child in CHILD_READS
        ),
        (
            "gateway ÷ direct, GET /sessions/{id} req/s",
            f"{gateway.requests_per_s / paused.requests_per_s:.2f}",
        ),
        ("client ceiling ÷ fastest measured run", f"{results[0].requests_per_s / fastest:.2f}"),
        (
            f"import {figures['import_bars']:,} M1 bars (target ≥ 200,000 bars/s, ≤ 300 MB)",
            f"{figures['import_seconds']} s = {figures['import_bars_per_s']:,} bars/s, "
            f"peak RSS {figures.get('import_peak_rss_mb')} MB",
        ),
        *(
            [
                (
                    "first `make run` (demo data 2024-01-01..2025-12-26) until healthy "
                    "(target ≤ 40 s)",
                    f"{figures['first_run_s']} s",
                )
            ]
            if "first_run_s" in figures
            else []
        ),
        (
            "candles?limit=500 at H1 over a year of M1 (direct, 4 conns; target p99 ≤ 10 ms)",
            f"p50 {candles.p50_ms:.1f} ms, p99 {candles.p99_ms:.1f} ms",
        ),
        *(streams.ratios() if streams else []),
        *(replay.ratios() if replay else []),
        *(reports.ratios() if reports else []),
    ]
    lines = [
        "| run | req/s | p50 ms | p99 ms | wrk CPU |",
        "| --- | ---: | ---: | ---: | ---: |",
        *[r.row() for r in results],
        "",
        "| ratio | value |",
        "| --- | ---: |",
        *[f"| {name} | {value} |" for name, value in ratios],
    ]
    return lines, bad


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="duration of each load run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--bars", type=int, default=1_000_000, help="M1 bars to import")
    parser.add_argument(
        "--only",
        choices=["http", "streams", "replay", "reports"],
        help="run only these rows, for quick iterations (the full table needs a full run)",
    )
    parser.add_argument("--streams", type=int, default=500, help="concurrent event streams")
    parser.add_argument(
        "--stream-seconds", type=float, default=20.0, help="measured window of the streams"
    )
    parser.add_argument(
        "--replay-runs", type=int, default=5, help="repetitions of replay row A, each side"
    )
    parser.add_argument(
        "--replay-fill-runs", type=int, default=3, help="repetitions of replay row B, each side"
    )
    parser.add_argument(
        "--reports-stats-runs",
        type=int,
        default=7,
        help="repetitions of the reports statistics row, each side",
    )
    parser.add_argument(
        "--reports-runs", type=int, default=7, help="generate-report calls of the reports row"
    )
    args = parser.parse_args(argv)

    full = args.only is None
    http_rows = args.only in (None, "http")
    wrk = ensure_wrk() if http_rows else ""
    data_dir = Path(tempfile.mkdtemp(prefix="bench-"))
    ports = Ports.free()
    admin_email, admin_password = "bench-admin@example.com", "bench-admin-password-1"
    stack = Stack(
        data_dir, ports, seed_demo=False, admin_email=admin_email, admin_password=admin_password
    )
    results: list[LoadResult] = []
    figures: dict[str, Any] = {}
    replay: ReplayFigures | None = None
    reports: ReportFigures | None = None
    streams: StreamFigures | None = None
    first_run: float | None = None
    try:
        if http_rows:
            print("a first `make run` with the demo data ...", flush=True)
            first_run = first_run_seconds()
        print(f"starting the stack in {data_dir} ...", flush=True)
        stack.start()
        gw = stack.gateway_url
        with httpx.Client(timeout=600) as http:
            if http_rows:
                token = login(http, gw, admin_email, admin_password)
                results, figures = http_runs(stack, http, token, wrk, args)
                figures["first_run_s"] = first_run
            if args.only in (None, "streams"):
                trader = new_trader(http, gw, "bench-streamer@example.com", "bench-streamer-1")
                streams = run_streams(
                    http,
                    gw,
                    trader.headers["Authorization"].removeprefix("Bearer "),
                    None,
                    streams=args.streams,
                    seconds=args.stream_seconds,
                    metrics_url=stack.service_url("trading") + "/metrics",
                    admin_token=login(http, gw, admin_email, admin_password),
                    log=lambda text: print(text, flush=True),
                )
            if args.only in (None, "replay"):
                replay_csv, _, _ = m1_bars_csv(IMPORT_BARS, datetime(2023, 1, 2, tzinfo=UTC))
                replay = run_replay(
                    http,
                    gw,
                    login(http, gw, admin_email, admin_password),
                    replay_csv,
                    runs=args.replay_runs,
                    fill_runs=args.replay_fill_runs,
                    log=lambda text: print(text, flush=True),
                )
            if args.only in (None, "reports"):
                print(f"reports: generating {YEAR_BARS:,} M1 bars (a year) ...", flush=True)
                year_csv, _, _ = m1_bars_csv(YEAR_BARS, datetime(2023, 1, 2, tzinfo=UTC))
                reports = run_reports(
                    http,
                    gw,
                    login(http, gw, admin_email, admin_password),
                    year_csv,
                    trading_dsn(stack),
                    stats_runs=args.reports_stats_runs,
                    runs=args.reports_runs,
                    log=lambda text: print(text, flush=True),
                )
    finally:
        stack.stop()
        shutil.rmtree(data_dir, ignore_errors=True)

    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    load = f"; wrk -t1 -c{args.connections} -d{args.seconds}s" if http_rows else ""
    lines = [f"Benchmarks, {when}, {machine}{load}", ""]
    bad: list[str] = []
    if http_rows:
        http_lines, bad = http_report(results, figures, replay, reports, streams)
        lines += [*http_lines, ""]
    for part in (streams, replay, reports):
        if part is not None:
            lines += [*part.table(), ""]
    if bad:
        lines.append(f"\nWARNING: non-2xx or socket errors in: {', '.join(bad)}")
    report = "\n".join(lines)
    print("\n" + report)
    RESULTS_DIR.mkdir(exist_ok=True)
    name = "latest" if full else f"latest-{args.only}"
    (RESULTS_DIR / f"{name}.md").write_text(report + "\n")
    (RESULTS_DIR / f"{name}.json").write_text(
        json.dumps(
            {
                "when": when,
                "machine": machine,
                "figures": figures,
                "runs": [asdict(r) for r in results],
                "replay": asdict(replay) if replay is not None else None,
                "reports": reports.as_json() if reports is not None else None,
                "streams": streams.as_json() if streams is not None else None,
            },
            indent=2,
        )
    )
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())

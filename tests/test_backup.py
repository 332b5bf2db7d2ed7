"""`make backup` / `make restore` (python -m devstack.backup, as the Makefile runs it).

The round trip: a running stack (the one `make run` starts) filled through the real APIs is
backed up, then restored into a fresh data directory, where every table holds the same rows.
The rest on a small cluster: the server is started only for the duration, a damaged dump
changes nothing, connected clients stop a restore unless forced. Each table is compared by its
row count and a digest of its sorted rows, computed here independently of the tool.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from devstack.launcher import load_credentials, register_demo_users
from devstack.postgres import EmbeddedPostgres, create_database
from devstack.stack import SERVICES, Ports, Stack
from devstack.testing import session_body

REPO_ROOT = Path(__file__).resolve().parents[1]
Contents = dict[str, tuple[int, str]]  # table -> (rows, sha256 of its sorted row texts)


def cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """The command the Makefile runs (`make backup`, `make restore`)."""
    env = {k: v for k, v in os.environ.items() if k != "DATA_DIR"}
    return subprocess.run(
        [sys.executable, "-m", "devstack.backup", *map(str, args)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )


def server(data_dir: Path) -> EmbeddedPostgres:
    return EmbeddedPostgres(data_dir / "postgres")


@contextmanager
def data_root() -> Iterator[Path]:
    """A folder for data directories with a cluster: outside pytest's 0700 basetemp, which the
    server's unprivileged user could not enter when the tests run as root."""
    root = Path(tempfile.mkdtemp(prefix="backup-test-"))
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def contents(dsn: str) -> Contents:
    """Every table of the database: its row count and the SHA-256 of its sorted rows."""

    async def read() -> Contents:
        conn = await asyncpg.connect(dsn, server_settings={"TimeZone": "UTC"})
        try:
            tables = await conn.fetch(
                "SELECT schemaname, tablename FROM pg_tables"
                " WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
            )
            found = {}
            for schema, table in tables:
                rows = await conn.fetch(f'SELECT t::text FROM "{schema}"."{table}" AS t')  # noqa: S608
                texts = sorted(row[0] for row in rows)
                digest = hashlib.sha256("\n".join(texts).encode()).hexdigest()
                found[f"{schema}.{table}"] = (len(texts), digest)
            return found
        finally:
            await conn.close()

    return asyncio.run(read())


def everything(pg: EmbeddedPostgres) -> dict[str, Contents]:
    return {db: contents(pg.dsn(db)) for db in SERVICES}


def manifest_rows(folder: Path) -> dict[str, dict[str, int]]:
    manifest = json.loads((folder / "manifest.json").read_text())
    return {
        db: {table: figures["rows"] for table, figures in entry["tables"].items()}
        for db, entry in manifest["databases"].items()
    }


def row_counts(found: dict[str, Contents]) -> dict[str, dict[str, int]]:
    return {db: {t: rows for t, (rows, _) in tables.items()} for db, tables in found.items()}


def backup_folder(result: subprocess.CompletedProcess[str]) -> Path:
    assert result.returncode == 0, result.stdout + result.stderr
    line = result.stdout.strip().splitlines()[-1]
    assert line.startswith("backup written to "), result.stdout
    return Path(line.removeprefix("backup written to "))


# ---- the round trip of a running stack ----
def fill_through_the_apis(gateway: str, creds: dict[str, Any]) -> None:
    """A trader's replay session with a closed position and a report; a commissioner's
    masters, auction session, lot and bill; logins and refresh tokens in auth."""

    def login(c: httpx.Client, who: str) -> dict[str, str]:
        resp = c.post("/auth/login", json={k: creds[who][k] for k in ("email", "password")})
        assert resp.status_code == 200, resp.text
        return {"Authorization": f"Bearer {resp.json()['access_token']}"}

    with httpx.Client(base_url=gateway, timeout=60) as c:
        trader = login(c, "trader")
        instruments = c.get("/instruments", headers=trader).json()["instruments"]
        eurusd = next(i for i in instruments if i["symbol"] == "EURUSD")
        body = session_body(eurusd["id"], "2025-12-26T00:00:00Z", "2025-12-26T12:00:00Z")
        session = c.post("/sessions", json=body, headers=trader)
        assert session.status_code == 201, session.text
        sid = session.json()["id"]
        for path, payload in [(f"/sessions/{sid}/start", None), (f"/sessions/{sid}/pause", None)]:
            assert c.post(path, json=payload, headers=trader).status_code == 200
        assert c.post(f"/sessions/{sid}/step", json={"bars": 3}, headers=trader).status_code == 200
        opened = c.post(
            f"/sessions/{sid}/positions",
            json={"side": "BUY", "volume": eurusd["min_volume"]},
            headers=trader,
        )
        assert opened.status_code == 201, opened.text
        assert c.post(f"/sessions/{sid}/step", json={"bars": 5}, headers=trader).status_code == 200
        closed = c.post(f"/positions/{opened.json()['id']}/close", json={}, headers=trader)
        assert closed.status_code == 200, closed.text
        report = c.post(f"/sessions/{sid}/generate-report", headers=trader)
        assert report.status_code == 201, report.text

        boss = login(c, "commissioner")

        def create(path: str, payload: dict[str, Any]) -> str:
            resp = c.post(path, json=payload, headers=boss)
            assert resp.status_code == 201, resp.text
            return str(resp.json()["data"]["id"])

        category = create("/api/categories", {"name": "Vegetables"})
        lot = {
            "product_id": create("/api/products", {"name": "Tomatoes", "category_id": category}),
            "farmer_id": create("/api/farmers", {"name": "John Farmer", "phone": "+1234567890"}),
            "buyer_id": create("/api/buyers", {"name": "Jane Buyer", "phone": "+0987654321"}),
            "unit": "KG",
            "quantity": 50.5,
            "final_price": 2525.0,
        }
        auction = create("/api/sessions", {"date": "2025-08-03T10:00:00.000Z"})
        create(f"/api/sessions/{auction}/items", lot)
        create(f"/api/sessions/{auction}/bills", {"farmer_id": lot["farmer_id"]})


def demo_stack(data_dir: Path, creds: dict[str, Any]) -> Stack:
    """`make run`'s stack with two days of demo bars instead of two years."""
    return Stack(
        data_dir,
        Ports.free(),
        env={"TRADING_DEMO_BARS_DAYS": "2"},
        admin_email=creds["admin"]["email"],
        admin_password=creds["admin"]["password"],
        start_timeout=180,
    )


@pytest.fixture
def data_dirs() -> Iterator[Path]:
    with data_root() as root:
        yield root


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_running_stack_backed_up_restores_every_row_into_a_fresh_data_directory(
    data_dirs: Path,
) -> None:
    source_dir, fresh_dir = data_dirs / "source", data_dirs / "fresh"
    creds = load_credentials(source_dir, env={})
    stack = demo_stack(source_dir, creds)
    try:
        stack.start()
        assert register_demo_users(stack.gateway_url, source_dir, creds) == []
        fill_through_the_apis(stack.gateway_url, creds)
        assert stack.postgres is not None
        before = everything(stack.postgres)

        # The running stack's own server is used (none is started) and the services go on.
        result = cli("backup", "--data-dir", source_dir)
        folder = backup_folder(result)
        assert "starting the embedded PostgreSQL" not in result.stdout
        assert folder.parent == source_dir / "backups"
        assert folder.stat().st_mode & 0o777 == 0o700
        assert {p.name for p in folder.iterdir()} == {
            "auth.dump",
            "trading.dump",
            "auction.dump",
            "credentials.json",
            "manifest.json",
        }
        assert all(p.stat().st_mode & 0o777 == 0o600 for p in folder.iterdir())
        assert manifest_rows(folder) == row_counts(before)
        assert httpx.get(f"{stack.gateway_url}/healthz", timeout=30).status_code == 200

        # The services hold connections: a restore is refused and changes nothing.
        refused = cli("restore", "--data-dir", source_dir)
        assert refused.returncode == 1, refused.stdout + refused.stderr
        assert "the databases are in use" in refused.stderr
        assert "stop `make run`" in refused.stderr
        assert everything(stack.postgres) == before
    finally:
        stack.stop()
    assert server(source_dir).running_port() is None

    try:
        restored = cli("restore", "--data-dir", fresh_dir, folder)
        assert restored.returncode == 0, restored.stdout + restored.stderr
        assert "starting the embedded PostgreSQL" in restored.stdout
        assert restored.stdout.strip().endswith(f"restored {folder} into {fresh_dir}")
        assert server(fresh_dir).running_port() is None  # stopped again
        restored_creds = fresh_dir / "credentials.json"
        assert json.loads(restored_creds.read_text()) == creds
        assert restored_creds.stat().st_mode & 0o777 == 0o600

        pg = server(fresh_dir).start()
        try:
            after = everything(pg)
        finally:
            pg.stop()
        assert after == before
        # The APIs reached every service: these tables were filled, and came back.
        filled = {
            db: {t for t, (rows, _) in tables.items() if rows} for db, tables in after.items()
        }
        assert {"public.users", "public.signing_keys", "public.refresh_tokens"} <= filled["auth"]
        assert {"public.candles", "public.positions", "public.fills"} <= filled["trading"]
        assert {"public.auction_items", "public.bills", "public.bill_items"} <= filled["auction"]
        assert after["auth"]["public.users"][0] == 3  # admin, trader, commissioner
    finally:
        server(fresh_dir).stop()  # only if a step above failed half-way


# ---- a small cluster: the server started for the duration, damage, clients, errors ----
ODD_ROWS = """
CREATE SCHEMA extra;
CREATE TABLE odd (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text, at timestamptz,
    amount numeric(20, 8), ratio float8, blob bytea, doc jsonb, tags text[]
);
INSERT INTO odd (name, at, amount, ratio, blob, doc, tags) VALUES
    ('plain', '2025-12-26 21:59:00+00', 1234.56789012, 0.1, '\\x00ff', '{"a": [1, 2]}', '{x,y}'),
    (E'tab\\there\\nnew line \u2603 \u202e', '1970-01-01 00:00:00+00', -0.00000001, 'NaN', '',
     'null', '{}'),
    (NULL, 'infinity', NULL, '-Infinity', NULL, NULL, NULL);
CREATE TABLE "Mixed Case" (n bigint);
INSERT INTO "Mixed Case" SELECT generate_series(1, 1000);
CREATE TABLE extra.notes (body text);
INSERT INTO extra.notes VALUES ('one'), ('two');
"""
SMALL_ROWS = {"extra.notes": 2, 'public."Mixed Case"': 1000, "public.odd": 3}


@pytest.fixture(scope="module")
def small() -> Iterator[tuple[Path, Path, Any]]:
    """A stopped stack's data directory (three databases with odd values) and the CLI's
    backup of it: (data dir, backup folder, the backup command's result)."""
    with data_root() as data_dir:
        pg = server(data_dir).start()
        try:
            for db in SERVICES:
                create_database(pg.dsn(), db)
                asyncio.run(_execute(pg.dsn(db), ODD_ROWS))
        finally:
            pg.stop()
        try:
            result = cli("backup", "--data-dir", data_dir)
            yield data_dir, backup_folder(result), result
        finally:
            server(data_dir).stop()  # only if the command died with its server running


async def _execute(dsn: str, sql: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def test_backup_of_a_stopped_stack_starts_the_server_only_for_the_duration(
    small: tuple[Path, Path, Any],
) -> None:
    data_dir, folder, result = small
    assert f"starting the embedded PostgreSQL of {data_dir} for the duration" in result.stdout
    assert "stopped the embedded PostgreSQL again." in result.stdout
    assert server(data_dir).running_port() is None
    assert manifest_rows(folder) == {db: SMALL_ROWS for db in SERVICES}
    manifest = json.loads((folder / "manifest.json").read_text())
    for db in SERVICES:
        dump = folder / f"{db}.dump"
        assert dump.read_bytes()[:5] == b"PGDMP"  # pg_dump's custom format
        entry = manifest["databases"][db]
        assert entry["bytes"] == dump.stat().st_size
        assert entry["sha256"] == hashlib.sha256(dump.read_bytes()).hexdigest()
        assert entry["tables"]["public.odd"]["checksum"] != "0"
    assert not (folder / "credentials.json").exists()  # this directory has none


def test_a_damaged_dump_is_refused_before_anything_is_touched(
    small: tuple[Path, Path, Any], tmp_path: Path
) -> None:
    data_dir, folder, _ = small
    damaged = tmp_path / "damaged"
    shutil.copytree(folder, damaged)
    dump = damaged / "trading.dump"
    data = bytearray(dump.read_bytes())
    data[len(data) // 2] ^= 0xFF
    dump.write_bytes(bytes(data))
    result = cli("restore", "--data-dir", data_dir, damaged)
    assert result.returncode == 1
    assert f"error: {dump} is damaged" in result.stderr
    assert "nothing was restored" in result.stderr
    assert "starting the embedded PostgreSQL" not in result.stdout  # the server was never up


async def test_restore_replaces_changed_data_and_disconnects_clients_only_when_forced(
    small: tuple[Path, Path, Any],
) -> None:
    data_dir, folder, _ = small
    pg = server(data_dir).start()  # as make run's: the restore must leave it running
    try:
        before = await asyncio.to_thread(everything, pg)
        await _execute(pg.dsn("trading"), "INSERT INTO odd (name) VALUES ('after the backup')")
        await _execute(pg.dsn("auction"), 'DELETE FROM "Mixed Case" WHERE n > 10')
        changed = await asyncio.to_thread(everything, pg)
        held = await asyncpg.connect(
            pg.dsn("auction"), server_settings={"application_name": "held-by-test"}
        )
        try:
            refused = await asyncio.to_thread(cli, "restore", "--data-dir", data_dir, folder)
            assert refused.returncode == 1
            assert "1 x held-by-test on auction" in refused.stderr
            assert "pass --force (make restore FORCE=1)" in refused.stderr
            assert await held.fetchval('SELECT count(*) FROM "Mixed Case"') == 10
            assert await asyncio.to_thread(everything, pg) == changed

            forced = await asyncio.to_thread(
                cli, "restore", "--data-dir", data_dir, folder, "--force"
            )
            assert forced.returncode == 0, forced.stdout + forced.stderr
            assert "disconnected 1 x held-by-test on auction" in forced.stdout
            assert "starting the embedded PostgreSQL" not in forced.stdout
            with pytest.raises((asyncpg.PostgresError, asyncpg.InterfaceError, OSError)):
                await held.fetchval("SELECT 1")
        finally:
            await held.close(timeout=5)
        assert server(data_dir).running_port() == pg.port
        assert await asyncio.to_thread(everything, pg) == before
        conn = await asyncpg.connect(pg.dsn("trading"))
        try:  # the identity's sequence came back too: no id of the backup's rows is reused
            assert await conn.fetchval("SELECT nextval(pg_get_serial_sequence('odd', 'id'))") > 3
            names = [r[0] for r in await conn.fetch("SELECT datname FROM pg_database ORDER BY 1")]
            # No scratch database left behind.
            assert names == ["auction", "auth", "postgres", "template0", "template1", "trading"]
        finally:
            await conn.close()
    finally:
        pg.stop()


def test_a_terminated_backup_stops_the_server_it_started_and_keeps_no_half_backup(
    small: tuple[Path, Path, Any],
) -> None:
    """TERM to the process group while the server starts, and once more to the process, as
    make forwards it: the start runs to its end, then the server is stopped again."""
    data_dir, folder, _ = small
    env = {k: v for k, v in os.environ.items() if k != "DATA_DIR"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "devstack.backup", "backup", "--data-dir", str(data_dir)],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("starting the embedded PostgreSQL"):
                break
        os.killpg(proc.pid, signal.SIGTERM)
        os.kill(proc.pid, signal.SIGTERM)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        server(data_dir).stop()  # only if the command failed to
    assert proc.returncode == 130, out + err
    assert "stopped the embedded PostgreSQL again." in out
    assert "error: interrupted (SIGTERM): nothing is left running" in err
    assert server(data_dir).running_port() is None
    assert [p.name for p in (data_dir / "backups").iterdir()] == [folder.name]


def test_clear_errors_and_a_non_zero_exit_without_a_cluster_or_a_backup(tmp_path: Path) -> None:
    nothing = cli("backup", "--data-dir", tmp_path)
    assert nothing.returncode == 1
    assert f"error: no embedded PostgreSQL in {tmp_path / 'postgres'}" in nothing.stderr
    none_yet = cli("restore", "--data-dir", tmp_path)
    assert none_yet.returncode == 1
    assert f"error: no backup in {tmp_path / 'backups'}: run `make backup` first" in none_yet.stderr
    not_one = cli("restore", "--data-dir", tmp_path, tmp_path)
    assert not_one.returncode == 1
    assert f"error: {tmp_path} is not a backup: it has no manifest.json" in not_one.stderr
    assert list(tmp_path.iterdir()) == []  # no cluster made, nothing written

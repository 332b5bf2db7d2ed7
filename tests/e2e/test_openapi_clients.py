"""Issue 10, defect 4: a client generated from each service's OpenAPI document works.

openapi-python-client (pinned in the dev group) generates a package from the document each
service serves at /openapi.json; the test imports the three packages and runs a flow through
the real gateway with nothing but their own models and auth settings (bearer): register and
log in, an admin's instrument and candle import, a trading session stepped by `{bars: 2}` and
by `{until: "fill"}` alone, and an auction master and session.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from devstack.stack import SERVICES, Stack

GENERATOR = Path(sys.executable).with_name("openapi-python-client")
# The generated code is imported as it is: no formatter run after generation.
CONFIG = "post_hooks: []\n"
START = datetime(2024, 1, 2, tzinfo=UTC)  # a Tuesday: 20 M1 bars from 00:00 to 00:19
BARS = 20


def _generate(stack: Stack, out: Path) -> dict[str, Path]:
    """A package `<service>_client` per service, generated at once (a few seconds each)."""
    (out / "config.yml").write_text(CONFIG)
    procs: dict[str, subprocess.Popen[bytes]] = {}
    for name in SERVICES:
        doc = httpx.get(f"{stack.service_url(name)}/openapi.json", timeout=10)
        assert doc.status_code == 200, doc.text
        (out / f"{name}.json").write_bytes(doc.content)
        argv = [str(GENERATOR), "generate", "--path", str(out / f"{name}.json")]
        argv += ["--meta", "none", "--output-path", str(out / f"{name}_client")]
        argv += ["--config", str(out / "config.yml")]
        procs[name] = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    for proc in procs.values():
        output, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0, output.decode()
        text = output.decode()
        # Everything a client needs is generated; the generator only skips what it cannot
        # express at all (an SVG response, a text/csv body: the JSON import stays).
        problems = [
            line
            for line in text.splitlines()
            if line.startswith(("Unable", "Cannot parse", "Unsupported"))
            and "image/svg+xml" not in line
            and "text/csv" not in line
        ]
        assert not problems, text
    return {name: out / f"{name}_client" for name in SERVICES}


@pytest.fixture(scope="module")
def clients(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The three generated packages, imported; removed from sys.modules afterwards."""
    out = tmp_path_factory.mktemp("openapi-clients")
    _generate(stack, out)
    sys.path.insert(0, str(out))
    try:
        yield {name: _Package(f"{name}_client") for name in SERVICES}
    finally:
        sys.path.remove(str(out))
        packages = {f"{name}_client" for name in SERVICES}
        for module in [m for m in sys.modules if m.split(".")[0] in packages]:
            del sys.modules[module]


class _Package:
    """`pkg.api("sessions", "create_session")`: an operation's module (named by its
    operationId); `pkg.model("SessionCreate")`: a generated model class."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.root = importlib.import_module(name)
        self.models = importlib.import_module(f"{name}.models")

    def api(self, tag: str, operation: str) -> Any:
        return importlib.import_module(f"{self.name}.api.{tag}.{operation}")

    def model(self, name: str) -> Any:
        return getattr(self.models, name)

    def client(self, gateway: str, source_ip: str, token: str | None = None) -> Any:
        transport = httpx.HTTPTransport(local_address=source_ip)
        args = {"base_url": gateway, "httpx_args": {"transport": transport}}
        if token is None:
            return self.root.Client(**args, raise_on_unexpected_status=True)
        # The generated client's own auth setting: `Authorization: Bearer <token>`.
        return self.root.AuthenticatedClient(**args, token=token, raise_on_unexpected_status=True)


def _login(auth: _Package, public: Any, email: str, password: str) -> str:
    login = auth.api("tokens", "login").sync(
        client=public, body=auth.model("LoginIn")(email=email, password=password)
    )
    assert isinstance(login, auth.model("TokenOut")), login
    return str(login.access_token)


def test_generated_clients_run_a_flow_through_the_gateway(
    stack: Stack, clients: dict[str, _Package], source_ip: str
) -> None:
    auth, trading, auction = clients["auth"], clients["trading"], clients["auction"]
    public = auth.client(stack.gateway_url, source_ip)

    # auth: register (both roles, by the generated enum's member names), then log in
    email, password = f"gen-{uuid.uuid4().hex[:12]}@example.com", f"pw-{uuid.uuid4().hex}"
    roles = auth.model("RegisterInRolesItem")
    user = auth.api("users", "register").sync(
        client=public,
        body=auth.model("RegisterIn")(
            email=email,
            password=password,
            name="Generated",
            roles=[roles.TRADER, roles.COMMISSIONER],
        ),
    )
    assert isinstance(user, auth.model("UserOut")), user
    assert user.email == email and sorted(user.roles) == ["commissioner", "trader"]
    token = _login(auth, public, email, password)
    me = auth.api("users", "me").sync(client=auth.client(stack.gateway_url, source_ip, token))
    assert me.id == user.id
    jwks = auth.api("tokens", "jwks").sync(client=public)
    assert {(k.kty, k.crv, k.alg, k.use) for k in jwks.keys} == {("OKP", "Ed25519", "EdDSA", "sig")}

    # trading, as the admin: an instrument and 20 M1 bars through the JSON import
    admin = trading.client(
        stack.gateway_url,
        source_ip,
        _login(auth, public, stack.admin_email, stack.admin_password),
    )
    symbol = f"GEN{uuid.uuid4().hex[:8].upper()}"
    instrument = trading.api("instruments", "create_instrument").sync(
        client=admin,
        body=trading.model("InstrumentCreate")(
            symbol=symbol,
            digits=5,
            contract_size=100000,
            min_volume=0.01,
            volume_step=0.01,
            max_volume=100,
        ),
        idempotency_key=f"gen-{uuid.uuid4().hex}",
    )
    assert instrument.symbol == symbol
    bar = trading.model("ImportCandlesJsonCandleBarIn")
    bars = [
        bar(
            timestamp=START + timedelta(minutes=i),
            open_=1.1,
            high=1.2,
            low=1.0,
            close=1.15,
            volume=10,
        )
        for i in range(BARS)
    ]
    imported = trading.api("candles", "import_candles").sync(
        instrument_id=instrument.id, client=admin, body=bars
    )
    assert (imported.imported, imported.inserted, imported.updated) == (BARS, BARS, 0)
    assert (imported.first_ts, imported.last_ts) == (START, START + timedelta(minutes=BARS - 1))

    # trading, as the new user: create, start, pause, step {bars: 2}, step {until: "fill"}
    api = trading.client(stack.gateway_url, source_ip, token)
    sessions = "sessions"
    created = trading.api(sessions, "create_session").sync(
        client=api,
        body=trading.model("SessionCreate")(
            instrument_id=instrument.id,
            timeframe=trading.model("Timeframe").M1,
            speed=trading.model("Speed").X0_5,
            start_ts=START,
            initial_balance=10000.0,
            leverage=100,
            spread_pts=0,
            slippage_pts=0,
            commission_per_fill=0.0,
        ),
        idempotency_key=f"gen-{uuid.uuid4().hex}",
    )
    status = trading.model("SessionStatus")
    assert created.session_status == status.DRAFT and created.user_id == user.id
    started = trading.api(sessions, "start_session").sync(session_id=created.id, client=api)
    assert started.session_status == status.RUNNING
    paused = trading.api(sessions, "pause_session").sync(session_id=created.id, client=api)
    assert paused.session_status == status.PAUSED
    # 0.5x reveals a bar every 2 s while RUNNING: the pause froze the clock where it was
    assert START <= paused.current_ts <= START + timedelta(minutes=2)
    step = trading.api(sessions, "step_session")
    stepped = step.sync(session_id=created.id, client=api, body=trading.model("StepBars")(bars=2))
    assert stepped.current_ts == paused.current_ts + timedelta(minutes=2)
    until = trading.model("StepUntilFill")(until=trading.model("StepUntilFillUntil").FILL)
    assert until.to_dict() == {"until": "fill"}  # alone: no `bars` default goes with it
    ended = step.sync(session_id=created.id, client=api, body=until)
    # no order can fill: every bar up to the data's end, and the session is over
    assert ended.current_ts == START + timedelta(minutes=BARS - 1)
    assert ended.session_status == status.COMPLETED
    read = trading.api(sessions, "get_session").sync(session_id=created.id, client=api)
    assert read.to_dict() == ended.to_dict()

    # auction: a farmer (master) and a session, as the same user (a commissioner too)
    floor = auction.client(stack.gateway_url, source_ip, token)
    farmer = auction.api("farmers", "create_farmer").sync(
        client=floor,
        body=auction.model("FarmerCreate")(name="Ravi", village="Nashik"),
        idempotency_key=f"gen-{uuid.uuid4().hex}",
    )
    assert farmer.success is True and farmer.data.name == "Ravi"
    assert isinstance(farmer.data.id, uuid.UUID)
    day = datetime(2025, 8, 3, 10, tzinfo=UTC)
    auction_session = auction.api("sessions", "create_session").sync(
        client=floor,
        body=auction.model("SessionCreate")(date=day),
        idempotency_key=f"gen-{uuid.uuid4().hex}",
    )
    assert auction_session.data.status.value == "ACTIVE"
    assert auction_session.data.date == day
    got = auction.api("sessions", "get_session").sync(id=str(auction_session.data.id), client=floor)
    assert got.data.id == auction_session.data.id and got.data.commissioner_id == str(user.id)

"""Schemathesis over the three OpenAPI documents, every request through the real gateway
(issue 10, "Fuzzing in the suite").

Each document is loaded from its service (the gateway routes no /openapi.json: the documents
list the gateway's own paths, unprefixed) and every generated request goes to the gateway,
authenticated as a trader and commissioner (an admin for the admin-only instrument writes).
Bounded and repeatable: a fixed seed, a fixed number of examples per operation and of stateful
scenarios, no example database. The checks are the issue's: no 5xx, and status code, content
type and body conform to the document; any failure fails the test.

Each stateful scenario starts from an empty world: a user of its own (so its own commissioner
data and trading sessions) and none of the instruments earlier scenarios created. Hypothesis
replays the choices of earlier scenarios as the prefix of new ones and requires every replayed
draw to match; when a list answer depended on what earlier scenarios had left behind, a link
resolved in one run and not in the next, and the run died with FlakyStrategyDefinition.
"""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import httpx
import hypothesis
import jwt
import pytest
import requests
import schemathesis
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from requests.adapters import HTTPAdapter
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from devstack.stack import SERVICES, Stack

if TYPE_CHECKING:
    from schemathesis.schemas import BaseSchema

    from .conftest import Secrets, UserFactory

SEED = 20261201
EXAMPLES_PER_OPERATION = 10
STATEFUL_SCENARIOS = 25
STATEFUL_STEPS = 6
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


class _SourceAddressAdapter(HTTPAdapter):
    """Connections from one loopback address of the test's own: the gateway's and auth's
    per-address throttles then never count the fuzzer's requests against another test."""

    def __init__(self, source_ip: str) -> None:
        self._source = (source_ip, 0)
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["source_address"] = self._source
        super().init_poolmanager(*args, **kwargs)


class _Bearer(requests.auth.AuthBase):
    """The user's token on every request; the admin's on instrument writes (admin-only)."""

    def __init__(self, user_token: str, admin_token: str) -> None:
        self.user_token = user_token
        self.admin_token = admin_token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        path = request.path_url
        admin_only = request.method not in ("GET", "HEAD", "OPTIONS") and (
            path == "/instruments" or path.startswith(("/instruments/", "/instruments?"))
        )
        token = self.admin_token if admin_only else self.user_token
        request.headers["Authorization"] = f"Bearer {token}"
        return request


@pytest.fixture
def admin_token(stack: Stack, source_ip: str, secrets_seen: Secrets) -> str:
    """The admin's access token (instrument writes are admin-only)."""
    with httpx.Client(
        base_url=stack.gateway_url,
        transport=httpx.HTTPTransport(local_address=source_ip),
        timeout=30.0,
    ) as c:
        login = c.post(
            "/auth/login", json={"email": stack.admin_email, "password": stack.admin_password}
        )
    assert login.status_code == 200, login.text
    token: str = login.json()["access_token"]
    secrets_seen.add(token)
    return token


def _fuzz_session(source_ip: str, user_token: str, admin_token: str) -> requests.Session:
    session = requests.Session()
    session.mount("http://", _SourceAddressAdapter(source_ip))
    session.auth = _Bearer(user_token, admin_token)
    return session


@pytest.fixture
def fuzz_session(
    make_user: UserFactory, source_ip: str, admin_token: str
) -> Iterator[requests.Session]:
    """A requests session bound to this test's source address, authenticated as a registered
    trader and commissioner."""
    user = make_user(roles=("trader", "commissioner"))
    with _fuzz_session(source_ip, user.access_token, admin_token) as session:
        yield session


SessionFactory = Callable[[], requests.Session]
# Above the ids auth gives the suite's registered users, inside PostgreSQL's integer.
_scenario_subjects = itertools.count(1_000_000_000)


@pytest.fixture
def scenario_sessions(
    stack: Stack,
    source_ip: str,
    admin_token: str,
    signing_key: Ed25519PrivateKey,
    secrets_seen: Secrets,
) -> Iterator[SessionFactory]:
    """Makes requests sessions like `fuzz_session`'s, each as a trader and commissioner no
    request has seen before, so with no data of its own yet.

    Their tokens are signed with the auth service's own key (the stack's AUTH_SIGNING_KEY,
    under its published kid) for a new subject, as auth signs them: trading and auction know a
    user only by the token. Registering a user per scenario instead costs two Argon2id hashes,
    0.4 to 3 s on the 2-core test machine, more than the scenario's own calls."""
    with httpx.Client(
        base_url=stack.gateway_url,
        transport=httpx.HTTPTransport(local_address=source_ip),
        timeout=30.0,
    ) as c:
        keys = c.get("/auth/.well-known/jwks.json").json()["keys"]
    assert len(keys) == 1, keys
    kid = keys[0]["kid"]
    made: list[requests.Session] = []

    def make() -> requests.Session:
        now = int(time.time())
        claims = {
            "iss": stack.issuer,
            "aud": "marketplace",
            "sub": str(next(_scenario_subjects)),
            "roles": ["trader", "commissioner"],
            "iat": now,
            "exp": now + 900,
            "jti": uuid.uuid4().hex,
            "sid": uuid.uuid4().hex,
        }
        token = jwt.encode(
            claims, signing_key, algorithm="EdDSA", headers={"typ": "at+jwt", "kid": kid}
        )
        secrets_seen.add(token)
        session = _fuzz_session(source_ip, token, admin_token)
        made.append(session)
        return session

    yield make
    for session in made:
        session.close()


@pytest.fixture(params=SERVICES)
def api_schema(request: pytest.FixtureRequest, stack: Stack) -> BaseSchema:
    """One service's document; generated requests go to the gateway."""
    config = schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "base-url": stack.gateway_url,
            "generation": {
                "max-examples": EXAMPLES_PER_OPERATION,
                "database": "none",
                # The session authenticates every request; generated credentials would only
                # test the auth scheme against garbage (tests/e2e/test_tokens.py does that).
                "with-security-parameters": False,
            },
            "phases": {"stateful": {"max-steps": STATEFUL_STEPS}},
            # Under the gateway's per-address limit on login/register (10/s, burst 20): its
            # 429 would answer in place of the service under test.
            "operations": [{"include-path-regex": "^/auth/(login|register)$", "rate-limit": "8/s"}],
        }
    )
    url = f"{stack.service_url(request.param)}/openapi.json"
    return schemathesis.openapi.from_url(url, config=config)


@pytest.fixture(autouse=True)
def _node_id_for_schemathesis(request: pytest.FixtureRequest) -> None:
    """schemathesis 4.32's lazy loader reads and writes `Node._nodeid`, which pytest 9.2 no
    longer has; the attribute it expects, so it can name each operation's subtest."""
    request.node._nodeid = request.node.nodeid


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
def test_every_operation_conforms_through_the_gateway(case: Any, fuzz_session: Any) -> None:
    """Examples, coverage and random inputs per operation: no 5xx, no non-conformance."""
    case.call_and_validate(session=fuzz_session, checks=CHECKS)


@pytest.mark.parametrize("api_schema", ["trading", "auction"], indirect=True)
def test_stateful_sequences_conform_through_the_gateway(
    api_schema: BaseSchema, scenario_sessions: SessionFactory, stack: Stack
) -> None:
    """Chains of calls along the links schemathesis infers (a created id reused by the
    operations that take it): no 5xx, no non-conformance. Not auth: nothing in its answers
    feeds another of its operations (a login needs the password a registration sent).

    Every scenario runs as a user of its own and removes the instruments (global, admin
    data) it created, so what the API answers depends only on the scenario's own calls:
    Hypothesis replays earlier scenarios' choices and needs the same answers to draw the same
    way (see the module docstring)."""

    class Workflow(api_schema.as_state_machine()):  # type: ignore[misc]
        def setup(self) -> None:
            # Made at the first call: scenarios without steps need no user.
            self.session: requests.Session | None = None
            self.created_instruments: list[int] = []

        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            if self.session is None:
                self.session = scenario_sessions()
            return {"session": self.session}

        def after_call(self, response: Any, case: Any) -> None:
            super().after_call(response, case)
            if case.operation.label == "POST /instruments" and response.status_code == 201:
                self.created_instruments.append(response.json()["id"])

        def validate_response(
            self, response: Any, case: Any, additional_checks: Any = None, **kwargs: Any
        ) -> None:
            case.validate_response(response, checks=CHECKS, transport_kwargs=kwargs)

        def teardown(self) -> None:
            if self.session is not None and self.created_instruments:
                _remove_instruments(self.session, stack.gateway_url, self.created_instruments)
            super().teardown()

    hypothesis.seed(SEED)(Workflow)
    Workflow.run(
        settings=hypothesis.settings(
            max_examples=STATEFUL_SCENARIOS,
            stateful_step_count=STATEFUL_STEPS,
            deadline=None,
            database=None,
            phases=[hypothesis.Phase.generate],
            suppress_health_check=list(hypothesis.HealthCheck),
        )
    )


def _remove_instruments(session: requests.Session, base_url: str, ids: list[int]) -> None:
    """Delete the scenario's instruments, and first its user's sessions (an instrument in use
    is 409). Only this scenario's user holds sessions, so nothing else is touched."""
    page = session.get(f"{base_url}/sessions", params={"limit": 100})
    assert page.status_code == 200, page.text
    for trading_session in page.json()["sessions"]:
        gone = session.delete(f"{base_url}/sessions/{trading_session['id']}")
        assert gone.status_code == 204, gone.text
    for instrument_id in ids:
        gone = session.delete(f"{base_url}/instruments/{instrument_id}")
        assert gone.status_code in (204, 404), gone.text

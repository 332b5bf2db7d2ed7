"""Schemathesis over the three OpenAPI documents, every request through the real gateway
(issue 10, "Fuzzing in the suite").

Each document is loaded from its service (the gateway routes no /openapi.json: the documents
list the gateway's own paths, unprefixed) and every generated request goes to the gateway,
authenticated as a registered trader and commissioner (an admin for the admin-only instrument
writes). Bounded and repeatable: a fixed seed, a fixed number of examples per operation and of
stateful scenarios, no example database. The checks are the issue's: no 5xx, and status code,
content type and body conform to the document; any failure fails the test.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import httpx
import hypothesis
import pytest
import requests
import schemathesis
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
def fuzz_session(
    stack: Stack, make_user: UserFactory, source_ip: str, secrets_seen: Secrets
) -> Iterator[requests.Session]:
    """A requests session bound to this test's source address, authenticated."""
    user = make_user(roles=("trader", "commissioner"))
    with httpx.Client(
        base_url=stack.gateway_url,
        transport=httpx.HTTPTransport(local_address=source_ip),
        timeout=30.0,
    ) as c:
        login = c.post(
            "/auth/login", json={"email": stack.admin_email, "password": stack.admin_password}
        )
    assert login.status_code == 200, login.text
    admin_token = login.json()["access_token"]
    secrets_seen.add(admin_token)
    session = requests.Session()
    adapter = _SourceAddressAdapter(source_ip)
    session.mount("http://", adapter)
    session.auth = _Bearer(user.access_token, admin_token)
    with session:
        yield session


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
    api_schema: BaseSchema, fuzz_session: Any
) -> None:
    """Chains of calls along the links schemathesis infers (a created id reused by the
    operations that take it): no 5xx, no non-conformance. Not auth: nothing in its answers
    feeds another of its operations (a login needs the password a registration sent)."""

    class Workflow(api_schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"session": fuzz_session}

        def validate_response(
            self, response: Any, case: Any, additional_checks: Any = None, **kwargs: Any
        ) -> None:
            case.validate_response(response, checks=CHECKS, transport_kwargs=kwargs)

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

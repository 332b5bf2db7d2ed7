"""A fixed hostile-input corpus against every write route of the three services, through the
real gateway, authenticated (issue 10, "Fuzzing in the suite").

The routes come from the services' OpenAPI documents (every POST/PUT/PATCH/DELETE), so a new
route is covered without touching this file. Each request must be answered with a clean 4xx in
the routed service's error format (trading and auth `{"detail": ...}`, auction the seed's
envelope with one of the seed's codes), as JSON, with an `X-Request-ID`, within 100 ms; and
after the whole corpus nothing has changed (the lists and records the user can read are the
same as before).

What the corpus holds:
- values put into the body's fields of the matching kind (numbers into numeric fields, strings
  into string fields, dates into date fields): 1e309, 10**400 as an integer literal, -0, 20,000
  digit numbers, NaN/Infinity, NUL and control characters, a bidi override (U+202E), lone
  surrogates escaped in JSON, impossible dates (0000-00-00, year 10000, February 30);
- whole bodies: 10,000 nested arrays or objects, 50,000 keys (0.8 MB), bad UTF-8, empty bodies,
  wrong Content-Types;
- path ids: encoded separators (%25 %2F %00 %3B %3F %23 %5C), overlong UTF-8, a 4,000
  character segment, huge numbers, dates;
- date query parameters of the read routes (0000-00-00, 9999-12-31, year 10000).

Body cases go to real resources (a DRAFT trading session, an instrument, the auction masters, a
session, a lot and a bill of the user's own), so the body is what gets judged; routes without a
body get ids that exist nowhere, so nothing a route does without reading its body can happen.
"""

from __future__ import annotations

import json
import math
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from devstack.stack import SERVICES, Stack
from devstack.testing import create_instrument, m1_bar, session_body

if TYPE_CHECKING:
    from .conftest import ClientFactory, Secrets, User, UserFactory

LIMIT_MS = 100.0
# A request over the limit is sent again (twice at most, its best time counts) when it took less
# than this: a scheduling stall on a loaded 2-core machine does not repeat, slow work does.
NOISE_CEILING_MS = 5 * LIMIT_MS
SEED_ERROR_CODES = {"VALIDATION_ERROR", "UNAUTHORIZED", "FORBIDDEN", "NOT_FOUND", "CONFLICT"}
WRITE_METHODS = ("post", "put", "patch", "delete")
# The gateway limits login/register per client address (10/s, burst 20); the corpus stays under.
PACED_PATHS = {"/auth/login": 0.125, "/auth/register": 0.125}
NO_SUCH_INT = 2_000_000_000
NO_SUCH_UUID = "00000000-0000-4000-8000-000000000000"
DATE_NAMES = ("date", "ts", "timestamp", "start_ts", "end_ts")


@dataclass(frozen=True)
class Value:
    """A hostile value as JSON text, and the kind of field it goes into."""

    name: str
    kind: str  # "number", "string" or "date"
    text: str


VALUES = [
    Value("1e309", "number", "1e309"),
    Value("-1e309", "number", "-1e309"),
    Value("10**400 integer literal", "number", "1" + "0" * 400),
    Value("-0", "number", "-0"),
    Value("20,000-digit integer", "number", "9" * 20_000),
    Value("20,000-digit fraction", "number", "0." + "0" * 19_999 + "1"),
    Value("20,000-digit string", "number", '"' + "1" * 20_000 + '"'),
    Value("NaN", "number", "NaN"),
    Value("Infinity", "number", "Infinity"),
    Value("-Infinity", "number", "-Infinity"),
    Value("NUL and control characters", "string", json.dumps("a\x00b\x07c\x1bd\x7f")),
    Value("bidi override U+202E", "string", json.dumps("abc\u202edef")),
    Value("lone high surrogate", "string", '"x\\ud800y"'),
    Value("lone low surrogate", "string", '"\\udc00"'),
    Value("date 0000-00-00", "date", '"0000-00-00"'),
    Value("date year 0", "date", '"0000-01-01T00:00:00Z"'),
    Value("date year 10000", "date", '"10000-01-01T00:00:00Z"'),
    Value("date February 30", "date", '"2024-02-30T00:00:00Z"'),
]


def _wide_body() -> bytes:
    """50,000 unknown keys, about 0.8 MB."""
    return json.dumps({f"key_{i:06d}": i for i in range(50_000)}).encode()


@dataclass(frozen=True)
class RawBody:
    name: str
    content: bytes
    content_type: str | None


RAW_BODIES = [
    RawBody("10,000 nested arrays", b"[" * 10_000 + b"]" * 10_000, "application/json"),
    RawBody("10,000 nested objects", b'{"a":' * 10_000 + b"1" + b"}" * 10_000, "application/json"),
    RawBody("50,000 keys, 0.8 MB", _wide_body(), "application/json"),
    RawBody("bad UTF-8", b'{"name": "\xff\xfe\xc0\xaf\xed\xa0\x80"}', "application/json"),
    RawBody("truncated JSON", b'{"name": "x', "application/json"),
    RawBody("empty body as JSON", b"", "application/json"),
    RawBody("empty body, no Content-Type", b"", None),
    RawBody("JSON sent as text/plain", b'{"name": "x"}', "text/plain"),
    RawBody("form encoded", b"name=x&value=1", "application/x-www-form-urlencoded"),
    RawBody("XML", b"<?xml version='1.0'?><a>1</a>", "application/xml"),
    RawBody("JSON null", b"null", "application/json"),
    RawBody("JSON string", b'"x"', "application/json"),
]

PATH_SEGMENTS = [
    ("%25", "1%25"),
    ("%2F", "1%2F2"),
    ("%00", "1%00"),
    ("%3B", "1%3B2"),
    ("%3F", "1%3F2"),
    ("%23", "1%232"),
    ("%5C", "1%5C2"),
    ("overlong UTF-8 /", "%C0%AF"),
    ("overlong UTF-8 NUL", "%C0%80"),
    ("invalid UTF-8", "%FF%FE"),
    ("4,000 characters", "7" * 4_000),
    ("10**400", "1" + "0" * 400),
    ("1e309", "1e309"),
    ("-0", "-0"),
    ("NaN", "NaN"),
    ("0000-00-00", "0000-00-00"),
    ("9999-12-31", "9999-12-31"),
    ("year 10000", "10000-01-01"),
]

# Dates for the read routes' date filters: garbage must be a 4xx; 9999-12-31 is a real date a
# filter may accept (200), but it must never overflow into a 5xx (issue 10, defect 2).
QUERY_DATES = [
    ("0000-00-00", "0000-00-00", False),
    ("year 10000", "10000-01-01", False),
    ("9999-12-31", "9999-12-31", True),
    ("9999-12-31T23:59:59Z", "9999-12-31T23:59:59Z", True),
]

# Inputs a route may legitimately accept (2xx); nothing may change for them either.
ANY = "any"
ACCEPTED: dict[tuple[str, str], set[str]] = {
    # Signing out is 204 even without a valid token: an unknown token revokes nothing.
    ("auth", "POST /auth/logout"): {ANY},
    # Both are the number 0 once parsed (the fraction underflows), a valid commission rate;
    # the corpus's user has it at 0 already.
    ("auction", "PUT /api/settings"): {"-0", "20,000-digit fraction"},
}


# --- the routes, from the documents ---


def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        node: Any = doc
        for part in schema["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        schema = node
    return schema


def _members(doc: dict[str, Any], schema: dict[str, Any]) -> list[dict[str, Any]]:
    """The alternatives a schema allows (anyOf/oneOf/allOf flattened, refs resolved)."""
    schema = _resolve(doc, schema)
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            return [m for sub in schema[key] for m in _members(doc, sub)]
    return [schema]


def _kinds(doc: dict[str, Any], name: str, schema: dict[str, Any]) -> set[str]:
    kinds: set[str] = set()
    for member in _members(doc, schema):
        declared = member.get("type")
        types = set(declared) if isinstance(declared, list) else {declared}
        if "enum" in member and None in types:
            types.add("string")
        if types & {"integer", "number"}:
            kinds.add("number")
        if "string" in types:
            is_date = member.get("format") in ("date", "date-time") or name in DATE_NAMES
            kinds.add("date" if is_date else "string")
    return kinds


@dataclass
class Route:
    service: str
    method: str
    path: str
    param_types: dict[str, str]
    has_body: bool
    body_is_array: bool = False
    fields: dict[str, set[str]] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"


def _document(stack: Stack, service: str) -> dict[str, Any]:
    # The gateway routes no /openapi.json: each service serves its own (with gateway paths).
    resp = httpx.get(f"{stack.service_url(service)}/openapi.json", timeout=30.0)
    assert resp.status_code == 200, resp.text
    doc: dict[str, Any] = resp.json()
    return doc


def write_routes(doc: dict[str, Any], service: str) -> list[Route]:
    routes = []
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method not in WRITE_METHODS:
                continue
            params = {
                p["name"]: _members(doc, p.get("schema", {}))[0].get("type", "string")
                for p in op.get("parameters", [])
                if p.get("in") == "path"
            }
            route = Route(service, method.upper(), path, params, "requestBody" in op)
            content = op.get("requestBody", {}).get("content", {})
            if "application/json" in content:
                for member in _members(doc, content["application/json"].get("schema", {})):
                    if member.get("type") == "array":
                        route.body_is_array = True
                        member = _resolve(doc, member.get("items", {}))
                    for name, prop in member.get("properties", {}).items():
                        route.fields[name] = _kinds(doc, name, prop)
            routes.append(route)
    return routes


def date_filters(doc: dict[str, Any]) -> list[tuple[str, str]]:
    """(path, query parameter) of the read routes without path ids that filter by a date."""
    found = []
    for path, item in doc["paths"].items():
        op = item.get("get")
        if op is None or "{" in path:
            continue
        for p in op.get("parameters", []):
            if p.get("in") != "query":
                continue
            formats = {m.get("format") for m in _members(doc, p.get("schema", {}))}
            if formats & {"date", "date-time"} or "date" in p["name"].lower():
                found.append((path, p["name"]))
    return found


# Where a value goes when the body has no field of its kind: a number or a string is hostile in
# any field; a date string is a fine name, so it goes under a key no route knows instead.
FALLBACK_KINDS = {
    "number": ("number", "date", "any"),
    "string": ("string", "date", "any"),
    "date": ("date",),
}
UNKNOWN_KEY = "value"


def body_fields(route: Route, value: Value) -> list[str]:
    """The fields the value goes into: every field of its kind, or of its first fallback kind
    the body has; else a key no route knows."""
    for kind in FALLBACK_KINDS[value.kind]:
        fields = [name for name, kinds in route.fields.items() if kind in kinds or kind == "any"]
        if fields:
            return fields
    return [UNKNOWN_KEY]


def json_body(route: Route, value: Value) -> bytes:
    pairs = (f"{json.dumps(name)}: {value.text}" for name in body_fields(route, value))
    text = "{" + ", ".join(pairs) + "}"
    return (f"[{text}]" if route.body_is_array else text).encode()


def concrete_path(route: Route, ids: dict[str, str], segment: str | None = None) -> str:
    """The route's path with `segment` in every id, else the user's own resources (routes with
    a body, so the body is judged) or ids that exist nowhere (routes without one)."""
    parts = route.path.split("/")
    for i, part in enumerate(parts):
        if not part.startswith("{"):
            continue
        name = part.strip("{}")
        if segment is not None:
            parts[i] = segment
        elif route.has_body and parts[i - 1] in ids:
            parts[i] = ids[parts[i - 1]]
        else:
            parts[i] = str(NO_SUCH_INT) if route.param_types[name] == "integer" else NO_SUCH_UUID
    return "/".join(parts)


# --- sending and judging ---


def format_problem(service: str, resp: httpx.Response) -> str | None:
    """None when a 4xx is JSON in the routed service's error format with a request id."""
    if not resp.headers.get("x-request-id"):
        return "no X-Request-ID"
    if resp.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        return f"Content-Type {resp.headers.get('content-type')!r}"
    try:
        body = resp.json()
    except ValueError:
        return f"not JSON: {resp.text[:80]!r}"
    if service == "auction":
        error = body.get("error") if isinstance(body, dict) else None
        ok = (
            body.get("success") is False
            and isinstance(error, dict)
            and isinstance(error.get("message"), str)
            and error.get("code") in SEED_ERROR_CODES
            and isinstance(body.get("meta", {}).get("timestamp"), str)
        )
        return None if ok else f"not the seed's envelope: {resp.text[:160]}"
    detail = body.get("detail") if isinstance(body, dict) else None
    if isinstance(detail, str) or (isinstance(detail, list) and detail):
        return None
    return f"not {{'detail': ...}}: {resp.text[:160]}"


def _checked_a_password(request: httpx.Request, resp: httpx.Response) -> bool:
    """A login whose body was well formed was answered after an Argon2id check (of a dummy
    hash for unknown emails, so both take as long): slow by design, not a hostile input's cost."""
    return request.url.path == "/auth/login" and resp.status_code == 401


@dataclass
class Prober:
    """Sends each case, times it on loopback and writes down every way it falls short."""

    client: httpx.Client
    service: str
    timings_ms: list[float] = field(default_factory=list)
    warmups_ms: list[float] = field(default_factory=list)
    retried: list[str] = field(default_factory=list)
    password_checks: int = 0
    problems: list[str] = field(default_factory=list)
    sent: int = 0
    _last_paced: float = 0.0

    def _send(self, request: httpx.Request) -> tuple[httpx.Response, float]:
        pace = PACED_PATHS.get(request.url.path)
        if pace:
            time.sleep(max(0.0, self._last_paced + pace - time.monotonic()))
            self._last_paced = time.monotonic()
        started = time.perf_counter()
        resp = self.client.send(request)
        resp.read()
        self.sent += 1
        return resp, (time.perf_counter() - started) * 1000

    def probe(
        self,
        route: str,
        case: str,
        request: httpx.Request,
        *,
        may_accept: bool = False,
        warmup: bool = False,
    ) -> None:
        resp, ms = self._send(request)
        where = f"{route} [{case}] -> {resp.status_code}"
        if warmup:
            self.warmups_ms.append(ms)
        elif _checked_a_password(request, resp):
            self.password_checks += 1
        else:
            tries = 1
            while ms > LIMIT_MS and ms < NOISE_CEILING_MS and tries < 3:
                self.retried.append(f"{where} {ms:.0f} ms")
                resp, again = self._send(request)
                ms = min(ms, again)
                tries += 1
            self.timings_ms.append(ms)
            if ms > LIMIT_MS:
                self.problems.append(f"{where}: {ms:.0f} ms (limit {LIMIT_MS:.0f})")
        if resp.status_code >= 500:
            self.problems.append(f"{where}: server error {resp.text[:160]}")
        elif resp.status_code < 400:
            if not may_accept:
                self.problems.append(f"{where}: accepted: {resp.text[:160]}")
            elif not resp.headers.get("x-request-id"):
                self.problems.append(f"{where}: no X-Request-ID")
        else:
            problem = format_problem(self.service, resp)
            if problem:
                self.problems.append(f"{where}: {problem}")

    def summary(self) -> str:
        ordered = sorted(self.timings_ms)
        p99 = ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)] if ordered else 0.0
        return (
            f"{self.service}: {self.sent} requests, max {max(ordered, default=0):.1f} ms, "
            f"p99 {p99:.1f} ms, warm-up max {max(self.warmups_ms, default=0):.1f} ms, "
            f"{len(self.retried)} re-timed, {self.password_checks} password checks not timed"
        )


# --- the user's world, and what must not change ---


@dataclass
class World:
    """The resources the body cases go to, the token each route needs, and the reads that
    must answer the same before and after the corpus."""

    ids: dict[str, str]
    user: dict[str, str]
    admin: dict[str, str]
    reads: list[str]

    def headers(self, route: Route) -> dict[str, str]:
        # Instrument writes are admin-only: a user's 403 would come before the body is read.
        admin_only = route.service == "trading" and route.path.startswith("/instruments")
        return self.admin if admin_only else self.user

    def snapshot(self, client: httpx.Client) -> dict[str, Any]:
        state = {}
        for path in self.reads:
            headers = self.admin if path.startswith("/instruments") else self.user
            resp = client.get(path, headers=headers)
            assert resp.status_code == 200, f"{path}: {resp.text}"
            body = resp.json()
            if isinstance(body, dict):
                body.pop("meta", None)  # the envelope's answer time
            state[path] = body
        return state


def _created(resp: httpx.Response) -> str:
    assert resp.status_code == 201, resp.text
    body = resp.json()
    return str(body["data"]["id"] if "data" in body else body["id"])


def build_world(
    service: str, stack: Stack, client: httpx.Client, user: User, admin: dict[str, str]
) -> World:
    bearer = user.bearer
    if service == "auth":
        return World({}, bearer, admin, ["/auth/me"])
    if service == "trading":
        symbol = f"HC{uuid.uuid4().hex[:6].upper()}"
        instrument = str(create_instrument(stack, symbol, [m1_bar("2024-01-02T00:00:00Z", 1.1)]))
        session = _created(
            client.post(
                "/sessions",
                headers=bearer,
                json=session_body(
                    int(instrument),
                    "2024-01-01T00:00:00Z",
                    "2024-01-31T23:59:59Z",
                    timeframe="H1",
                ),
            )
        )
        ids = {"instruments": instrument, "sessions": session}
        reads = [
            "/sessions",
            f"/sessions/{session}",
            f"/sessions/{session}/positions",
            f"/sessions/{session}/orders",
            f"/sessions/{session}/reports",
            "/instruments",
            f"/instruments/{instrument}/candles",
        ]
        return World(ids, bearer, admin, reads)
    # auction: a commission rate of 0 (so -0 changes nothing), the masters, today's session,
    # one lot and its bill.
    resp = client.put("/api/settings", headers=bearer, json={"commission_rate": 0})
    assert resp.status_code == 200, resp.text
    category = _created(client.post("/api/categories", headers=bearer, json={"name": "Veg"}))
    product = _created(
        client.post(
            "/api/products", headers=bearer, json={"name": "Onion", "category_id": category}
        )
    )
    farmer = _created(client.post("/api/farmers", headers=bearer, json={"name": "Asha"}))
    buyer = _created(client.post("/api/buyers", headers=bearer, json={"name": "Ravi"}))
    session = _created(client.post("/api/sessions", headers=bearer, json={}))
    item = _created(
        client.post(
            f"/api/sessions/{session}/items",
            headers=bearer,
            json={
                "farmer_id": farmer,
                "product_id": product,
                "buyer_id": buyer,
                "unit": "KG",
                "quantity": 10,
                "final_price": 25,
            },
        )
    )
    bill = _created(
        client.post(f"/api/sessions/{session}/bills", headers=bearer, json={"farmer_id": farmer})
    )
    ids = {
        "sessions": session,
        "items": item,
        "categories": category,
        "products": product,
        "farmers": farmer,
        "buyers": buyer,
        "bills": bill,
    }
    reads = [
        "/api/sessions",
        f"/api/sessions/{session}",
        f"/api/sessions/{session}/items",
        "/api/categories",
        "/api/products",
        "/api/farmers",
        "/api/buyers",
        "/api/bills",
        f"/api/bills/{bill}/payments",
        "/api/settings",
    ]
    return World(ids, bearer, admin, reads)


# --- the corpus ---


def _request(
    client: httpx.Client,
    method: str,
    path: str,
    headers: dict[str, str],
    content: bytes | None = None,
    content_type: str | None = None,
) -> httpx.Request:
    headers = dict(headers)
    if content_type is not None:
        headers["Content-Type"] = content_type
    return client.build_request(method, path, headers=headers, content=content)


def run_corpus(prober: Prober, doc: dict[str, Any], routes: list[Route], world: World) -> None:
    client = prober.client
    for route in routes:
        headers = world.headers(route)
        accepts = ACCEPTED.get((route.service, route.label), set())
        path = concrete_path(route, world.ids)
        first = _request(client, route.method, path, headers, b"null", "application/json")
        prober.probe(
            route.label, "warm-up: JSON null", first, may_accept=ANY in accepts, warmup=True
        )
        for value in VALUES:
            body = json_body(route, value)
            request = _request(client, route.method, path, headers, body, "application/json")
            # An update naming no field it knows changes nothing: it may succeed as a no-op.
            no_op = route.method in ("PUT", "PATCH") and body_fields(route, value) == [UNKNOWN_KEY]
            may = no_op or bool(accepts & {ANY, value.name})
            prober.probe(route.label, value.name, request, may_accept=may)
        for raw in RAW_BODIES:
            request = _request(client, route.method, path, headers, raw.content, raw.content_type)
            prober.probe(route.label, raw.name, request, may_accept=ANY in accepts)
        if not route.param_types:
            continue
        empty_object: bytes | None = b"{}" if route.has_body else None
        content_type = "application/json" if route.has_body else None
        for name, segment in PATH_SEGMENTS:
            hostile = concrete_path(route, world.ids, segment)
            request = _request(client, route.method, hostile, headers, empty_object, content_type)
            prober.probe(route.label, f"path id {name}", request)
    for path, param in date_filters(doc):
        for name, value_text, real_date in QUERY_DATES:
            headers = world.admin if path.startswith("/instruments") else world.user
            request = client.build_request("GET", path, params={param: value_text}, headers=headers)
            prober.probe(f"GET {path}", f"{param}={name}", request, may_accept=real_date)


@pytest.fixture
def admin_bearer(
    stack: Stack, client_factory: ClientFactory, source_ip: str, secrets_seen: Secrets
) -> dict[str, str]:
    """The admin's token, from a client of its own (the corpus's client holds no cookies, so
    refresh and logout cases can only act on what their body says)."""
    login = {"email": stack.admin_email, "password": stack.admin_password}
    resp = client_factory(source_ip).post("/auth/login", json=login)
    assert resp.status_code == 200, resp.text
    token = resp.json()["access_token"]
    secrets_seen.add(token)
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("service", SERVICES)
def test_every_write_route_refuses_the_hostile_corpus_cleanly(
    service: str,
    stack: Stack,
    gw: httpx.Client,
    make_user: UserFactory,
    admin_bearer: dict[str, str],
) -> None:
    """Every case: a 4xx in the service's format, JSON, X-Request-ID, within 100 ms; after
    the whole corpus, everything the user can read is as it was."""
    doc = _document(stack, service)
    routes = write_routes(doc, service)
    assert len(routes) >= {"auth": 4, "trading": 20, "auction": 20}[service]
    user = make_user(roles=("trader", "commissioner"))
    world = build_world(service, stack, gw, user, admin_bearer)
    before = world.snapshot(gw)

    prober = Prober(gw, service)
    run_corpus(prober, doc, routes, world)
    print(prober.summary())

    after = world.snapshot(gw)
    for path in world.reads:
        if after[path] != before[path]:
            prober.problems.append(f"GET {path} changed: {before[path]} -> {after[path]}")
    if service == "auth":
        # The user's login survived every refresh and logout case.
        resp = gw.post("/auth/refresh", json={"refresh_token": user.refresh_token})
        if resp.status_code != 200:
            prober.problems.append(f"the user's refresh token no longer works: {resp.text}")
    problems = "\n".join(prober.problems)
    assert not prober.problems, f"{prober.summary()}\n{len(prober.problems)} problems:\n{problems}"

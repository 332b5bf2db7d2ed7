"""The OpenAPI document each service serves, made true for its consumers (generated clients).

FastAPI writes most of it from the routes and models; one pass here adds what it cannot know:
how callers authenticate (bearer, the access-token cookie, the CSRF header on cookie writes),
the `Idempotency-Key` header where it is honoured, the answers the gateway gives in front of
every route (413, 429, 502-504), every error in the service's real error format, standard JSON
Schema bounds, and member names for every enum. Nothing here changes what goes on the wire.
"""

from __future__ import annotations

import copy
import enum
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel, ConfigDict, TypeAdapter, WithJsonSchema

from .idempotency import IDEMPOTENCY_HEADER, MAX_KEY_LENGTH
from .security import ACCESS_COOKIE, CSRF_HEADER, UNSAFE_METHODS

__all__ = [
    "DATE_OR_DATE_TIME",
    "IDEMPOTENCY_KEY",
    "ErrorItem",
    "ErrorOut",
    "OpenAPIOptions",
    "install_openapi",
    "not_null",
    "requires_access_token",
]

F = TypeVar("F", bound=Callable[..., Any])

BEARER = "bearerAuth"
COOKIE = "accessTokenCookie"
CSRF = "csrfToken"
SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    BEARER: {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "The access token from POST /auth/login or /auth/refresh (EdDSA JWT).",
    },
    COOKIE: {
        "type": "apiKey",
        "in": "cookie",
        "name": ACCESS_COOKIE,
        "description": "The HttpOnly access-token cookie set by POST /auth/login.",
    },
    CSRF: {
        "type": "apiKey",
        "in": "header",
        "name": CSRF_HEADER,
        "description": "The csrf_token cookie's value; required on cookie-authenticated writes.",
    },
}

# `openapi_extra=IDEMPOTENCY_KEY` on a route whose handler goes through `Idempotency.respond`.
IDEMPOTENCY_KEY: dict[str, Any] = {
    "parameters": [
        {
            "name": IDEMPOTENCY_HEADER,
            "in": "header",
            "required": False,
            "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH},
            "description": (
                "Makes the create safe to retry: the same key and body replay the first "
                "response; another body is 422; while the first request runs, 409."
            ),
        }
    ]
}

# A query parameter the service parses itself as an ISO 8601 date or date-time.
DATE_OR_DATE_TIME = WithJsonSchema(
    {"anyOf": [{"type": "string", "format": "date"}, {"type": "string", "format": "date-time"}]}
)

_MARK = "__openapi_requires_access_token__"


def requires_access_token(dependency: F) -> F:
    """Marks the dependency that authenticates the caller: every route depending on it,
    directly or not, is documented with the bearer and cookie security requirements."""
    setattr(dependency, _MARK, True)
    return dependency


class ErrorItem(BaseModel):
    """One validation problem: where (`loc`), what (`msg`) and its kind (`type`)."""

    model_config = ConfigDict(extra="allow")

    loc: list[str | int]
    msg: str
    type: str


class ErrorOut(BaseModel):
    """FastAPI's error shape (trading, auth): a message, or the list of validation errors."""

    detail: str | list[ErrorItem]


def not_null(*names: str) -> Callable[[dict[str, Any]], None]:
    """`json_schema_extra` for update bodies whose fields may be omitted but not sent as
    null (the service refuses null): drops the `null` alternative of those fields (all when
    none are named)."""

    def drop_null(schema: dict[str, Any]) -> None:
        for name, prop in schema.get("properties", {}).items():
            if names and name not in names:
                continue
            options = [o for o in prop.get("anyOf", ()) if o != {"type": "null"}]
            if "anyOf" in prop and len(options) == 1:
                del prop["anyOf"]
                prop.update(options[0])
            elif "anyOf" in prop:
                prop["anyOf"] = options

    return drop_null


# gateway/dynamic.yml's per-address rate limit (auth's paths; the others have none of them)
GATEWAY_RATE_LIMITED = frozenset({"/auth/login", "/auth/register"})


@dataclass(frozen=True)
class OpenAPIOptions:
    """What a service's document needs beyond its routes."""

    # the service's error body (auction passes its envelope)
    error_model: type[BaseModel] = ErrorOut
    # paths the gateway rate-limits per client address (429 with Retry-After)
    rate_limited: frozenset[str] = GATEWAY_RATE_LIMITED
    # the gateway's request-body limit, named in every 413
    body_limit: str = "1 MiB"


def install_openapi(
    app: FastAPI, validation_status: int, options: OpenAPIOptions | None = None
) -> None:
    """Replace `app.openapi` with one that post-processes FastAPI's document once."""
    base = app.openapi
    opts = options or OpenAPIOptions()

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            # a copy: FastAPI puts shared `openapi_extra` objects (IDEMPOTENCY_KEY) in it
            app.openapi_schema = tune(app, copy.deepcopy(base()), validation_status, opts)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def tune(
    app: FastAPI, schema: dict[str, Any], validation_status: int, opts: OpenAPIOptions
) -> dict[str, Any]:
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    error_ref = _register(schemas, opts.error_model)
    components["securitySchemes"] = copy.deepcopy(SECURITY_SCHEMES)
    routes = _routes(app)
    names = Counter(route.name for route in routes.values())
    for path, path_item in schema.get("paths", {}).items():
        for method, op in path_item.items():
            if not isinstance(op, dict) or "responses" not in op:
                continue
            route = routes.get((path, method))
            if route is not None and names[route.name] == 1:
                # the endpoint's name (`create_session`): generated clients name methods by it
                op["operationId"] = route.name
            _summary(op)
            secured = route is not None and _marked(route.dependant)
            op["security"] = _security(method) if secured else []
            _responses(op, path, method, error_ref, validation_status, opts)
    _drop_unreferenced(schema)
    _standard_keywords(schema)
    _name_enums(schema)
    return schema


def _summary(op: dict[str, Any]) -> None:
    """One-line docstrings become summaries."""
    desc = op.get("description")
    if isinstance(desc, str) and desc.strip() and "\n" not in desc.strip():
        op["summary"] = desc.strip().rstrip(".")


def _security(method: str) -> list[dict[str, list[str]]]:
    """Bearer, or the cookie (with the CSRF header on writes: servicekit.security)."""
    cookie: dict[str, list[str]] = {COOKIE: []}
    if method.upper() in UNSAFE_METHODS:
        cookie[CSRF] = []
    return [{BEARER: []}, cookie]


def _routes(app: FastAPI) -> dict[tuple[str, str], Any]:
    """(path, method) -> the route as get_openapi sees it (included routers' prefixes and
    dependencies applied)."""
    out: dict[tuple[str, str], Any] = {}
    for context in iter_route_contexts(app.routes):
        if isinstance(context.original_route, APIRoute):
            route: Any = context
            for method in route.methods or ():
                out[(route.path_format, method.lower())] = route
    return out


def _marked(dependant: Dependant) -> bool:
    return getattr(dependant.call, _MARK, False) or any(_marked(d) for d in dependant.dependencies)


def _responses(
    op: dict[str, Any],
    path: str,
    method: str,
    error_ref: dict[str, str],
    validation_status: int,
    opts: OpenAPIOptions,
) -> None:
    responses: dict[str, Any] = op["responses"]
    if validation_status != 422 and _is_fastapi_422(responses.get("422")):
        del responses["422"]
        responses.setdefault(str(validation_status), {"description": "Validation error"})
    body = op.get("requestBody", {}).get("content", {})
    if "application/json" in body:
        responses.setdefault("400", {"description": "Malformed JSON body"})
    if body:
        responses.setdefault(
            "413", {"description": f"Request body larger than {opts.body_limit} (the gateway)"}
        )
    if path in opts.rate_limited:
        responses.setdefault("429", {"description": "Too many requests"})
        responses["429"]["description"] += " (the gateway's per-address limit, or the service's)"
        responses["429"]["headers"] = {"Retry-After": _RETRY_AFTER}
    responses.setdefault(
        "502", {"description": "The service is unreachable (answered by the gateway)"}
    )
    responses.setdefault(
        "503", {"description": "The database is unavailable; retry after Retry-After seconds"}
    )
    responses["503"].setdefault("headers", {})["Retry-After"] = _RETRY_AFTER
    responses.setdefault(
        "504", {"description": "The service did not answer in time (answered by the gateway)"}
    )
    for status, response in responses.items():
        if status[:1] in ("4", "5"):
            response["content"] = {"application/json": {"schema": dict(error_ref)}}
    op["responses"] = dict(sorted(responses.items()))


_RETRY_AFTER = {"description": "Seconds to wait before retrying", "schema": {"type": "integer"}}


def _is_fastapi_422(response: Any) -> bool:
    if not isinstance(response, dict):
        return False
    ref = response.get("content", {}).get("application/json", {}).get("schema", {}).get("$ref")
    return isinstance(ref, str) and ref.endswith("/HTTPValidationError")


def _register(schemas: dict[str, Any], model: type[BaseModel]) -> dict[str, str]:
    """Adds the model (and what it refers to) to the components; returns its `$ref`."""
    template = "#/components/schemas/{model}"
    generated = TypeAdapter(model).json_schema(ref_template=template, mode="serialization")
    for name, definition in generated.pop("$defs", {}).items():
        schemas.setdefault(name, definition)
    schemas.setdefault(model.__name__, generated)  # FastAPI's name for it, if it has one
    return {"$ref": template.format(model=model.__name__)}


def _walk(node: Any) -> Iterator[Any]:
    yield node
    if isinstance(node, dict):
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def _drop_unreferenced(schema: dict[str, Any]) -> None:
    """Components nothing refers to any more (FastAPI's validation error, a router's own
    copy of the error model) go: a generator would emit them, or refuse duplicate names."""
    schemas = schema["components"]["schemas"]
    while True:
        refs = {
            node["$ref"].rsplit("/", 1)[-1]
            for node in _walk([schema.get("paths", {}), schemas])
            if isinstance(node, dict) and isinstance(node.get("$ref"), str)
        }
        unused = [name for name in schemas if name not in refs]
        if not unused:
            return
        for name in unused:
            del schemas[name]


# pydantic writes a constraint it could not push into the schema (a field behind a
# BeforeValidator) under its own name, with Decimals as strings.
_STANDARD = {
    "ge": "minimum",
    "le": "maximum",
    "gt": "exclusiveMinimum",
    "lt": "exclusiveMaximum",
}


def _number(value: Any) -> int | float:
    number = Decimal(str(value))
    return int(number) if number == number.to_integral_value() else float(number)


def _standard_keywords(schema: dict[str, Any]) -> None:
    for node in _walk(schema):
        if not isinstance(node, dict):
            continue
        for key, keyword in _STANDARD.items():
            if key in node and not isinstance(node[key], dict):
                node[keyword] = _number(node.pop(key))
        if "decimal_places" in node:
            node["multipleOf"] = float(Decimal(1).scaleb(-int(node.pop("decimal_places"))))
        node.pop("max_digits", None)


def _enum_names(values: list[Any]) -> list[str]:
    """The Python enum's member names when one has exactly these values, else names made
    from the values (`0.5x` -> `V0_5X`)."""
    wanted = list(values)
    for cls in _enum_classes(enum.Enum):
        if [m.value for m in cls] == wanted:
            return [m.name for m in cls]
    names = []
    for value in values:
        name = re.sub(r"[^0-9A-Za-z]+", "_", str(value)).strip("_").upper() or "EMPTY"
        names.append(f"V{name}" if name[0].isdigit() else name)
    return names


def _enum_classes(root: type[enum.Enum]) -> Iterator[type[enum.Enum]]:
    for cls in root.__subclasses__():
        yield cls
        yield from _enum_classes(cls)


def _name_enums(schema: dict[str, Any]) -> None:
    for node in _walk(schema):
        if isinstance(node, dict) and isinstance(node.get("enum"), list):
            node["x-enum-varnames"] = _enum_names(node["enum"])

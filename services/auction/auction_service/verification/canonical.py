"""The bytes a public bill's signature covers: RFC 8785 (JCS) canonical JSON of `data`.

Objects with members sorted by their names' UTF-16 code units, no whitespace, strings as
JSON escapes them minimally (UTF-8, `\\u00xx` in lower case for other control characters),
numbers as ECMAScript writes them (`1500.0` is `1500`, `0.5` is `0.5`). To check a saved
copy offline: parse the response, take `data`, serialise it this way, and verify
`signature.value` (base64url Ed25519) with the JWKS key whose kid is `signature.kid`."""

from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any


def _number(value: float) -> str:
    if not math.isfinite(value):
        raise ValueError("JSON has no NaN or Infinity")
    if value == 0:
        return "0"
    if value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    if 1e-6 <= abs(value) < 1e21:
        # repr is the shortest round-trip digits; Decimal writes them without an exponent
        return format(Decimal(repr(value)), "f")
    mantissa, _, exponent = repr(value).partition("e")
    exp = int(exponent)
    return f"{mantissa.removesuffix('.0')}e{'+' if exp > 0 else '-'}{abs(exp)}"


def canonical_json(value: Any) -> bytes:
    """`value` (parsed JSON: dict, list, str, int, float, bool, None) as RFC 8785 bytes."""
    return _write(value).encode()


def _write(value: Any) -> str:
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _number(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list | tuple):
        return "[" + ",".join(_write(v) for v in value) + "]"
    if isinstance(value, dict):
        keys = sorted(value, key=lambda k: k.encode("utf-16-be"))
        return "{" + ",".join(f"{_write(k)}:{_write(value[k])}" for k in keys) + "}"
    raise TypeError(f"not a JSON value: {type(value).__name__}")

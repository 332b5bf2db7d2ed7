"""A digit-only timestamp no datetime can hold is the row's 422 error, in a CSV file or a JSON
array alike (never an exception). The hostile corpus (tests/e2e/test_hostile_corpus.py)
found a 20,000-digit one answered 500: int() refuses over 4,300 digits, and fromtimestamp
raises for years past 9999, outside the guard the JSON numbers had."""

from __future__ import annotations

import json

import pytest

from trading_service.candles.importer import HEADER, parse_csv, parse_json
from trading_service.timeframes import Timeframe


@pytest.mark.parametrize(
    "ts",
    ["1" * 20_000, "99999999999999", "\u00b2"],
    ids=["20,000 digits", "year past 9999", "superscript two"],
)
def test_a_unix_seconds_timestamp_no_datetime_holds_is_the_rows_error(ts: str) -> None:
    csv = (",".join(HEADER) + f"\n{ts},1.1,1.2,1.0,1.1,5\n").encode()
    array = json.dumps(
        [{"timestamp": ts, "open": 1.1, "high": 1.2, "low": 1.0, "close": 1.1, "volume": 5}]
    ).encode()
    from_csv, from_json = parse_csv(csv, Timeframe.M1), parse_json(array, Timeframe.M1)
    assert [e["row"] for e in from_csv.errors] == [1]
    assert [e["msg"] for e in from_json.errors] == ["row 1: timestamp out of range"]

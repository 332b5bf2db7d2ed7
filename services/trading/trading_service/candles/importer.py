"""Parsing and validating a candle file (CSV or JSON) into a COPY payload, in pure Python.

The whole file is validated before anything touches the database, so a rejected file stores
nothing. Errors name the 1-based data row and the line it came from. The output is CSV text for
PostgreSQL's COPY: decimals are passed on in their canonical form and parsed by the server,
which is several times faster than encoding a million Decimals on the client.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
from array import array
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from servicekit.errors import BadRequest

from ..timeframes import EPOCH_MONDAY, Timeframe

HEADER = ("timestamp", "open", "high", "low", "close", "volume")
MAX_ERRORS = 20
MAX_PRICE = Decimal("1e12")
MAX_VOLUME = Decimal("1e15")
# Below this many decimals PostgreSQL's NUMERIC and our arithmetic stay comfortable.
MIN_EXPONENT = -16
_ZERO = Decimal(0)
_EPOCH_MONDAY = int(EPOCH_MONDAY.timestamp())
_D = Decimal
_fromiso = datetime.fromisoformat


class _RowError(Exception):
    pass


@dataclass
class ParsedCandles:
    """A validated file: the COPY payload (without the key columns) and its time range."""

    count: int = 0
    first_ts: datetime | None = None
    last_ts: datetime | None = None
    lines: list[str] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)

    def payload(self, instrument_id: int, tf: Timeframe) -> bytes:
        """CSV rows `instrument_id,timeframe,ts,open,high,low,close,volume` for COPY."""
        prefix = f"{instrument_id},{tf.value},"
        return "".join([prefix + line for line in self.lines]).encode()


def _error(row: int, line: int | None, msg: str, raw: str | None, kind: str) -> dict[str, Any]:
    where = f"row {row}" + (f" (line {line})" if line is not None else "")
    out: dict[str, Any] = {
        "loc": ["body", row],
        "row": row,
        "msg": f"{where}: {msg}",
        "type": kind,
    }
    if line is not None:
        out["line"] = line
    if raw is not None:
        out["input"] = raw[:200]
    return out


def _timestamp(value: Any) -> datetime:
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            return datetime.fromtimestamp(int(text), UTC)
        try:
            ts = datetime.fromisoformat(text)
        except ValueError:
            raise _RowError(f"unparsable timestamp {text[:40]!r}") from None
        if ts.tzinfo is None:
            return ts.replace(tzinfo=UTC)  # no offset: UTC
        return ts.astimezone(UTC)
    if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(int(value), UTC)
        except (ValueError, OverflowError, OSError):
            raise _RowError("timestamp out of range") from None
    raise _RowError("timestamp must be an ISO 8601 string or Unix seconds")


def _number(name: str, value: Any) -> Decimal:
    if isinstance(value, Decimal):
        d = value
    elif isinstance(value, str):
        text = value.strip()
        if not text.isascii() or "_" in text:
            raise _RowError(f"{name} is not a number: {text[:40]!r}")
        try:
            d = Decimal(text)
        except InvalidOperation:
            raise _RowError(f"{name} is not a number: {text[:40]!r}") from None
    elif isinstance(value, int) and not isinstance(value, bool):
        d = Decimal(value)
    else:
        raise _RowError(f"{name} must be a number")
    if not d.is_finite():
        raise _RowError(f"{name} must be a finite number")
    return d


class _Validator:
    def __init__(self, tf: Timeframe) -> None:
        self.step = tf.seconds
        self.tf = tf
        self.out = ParsedCandles()
        self.epochs = array("q")
        self.increasing = True
        self.prev = -(2**62)

    def add_fast(self, row: int, line: int, raw: str, fields: list[str]) -> None:
        """CSV fields: parse optimistically; anything odd goes through `add` for a message."""
        try:
            ts_s, o_s, h_s, l_s, c_s, v_s = fields
            ts = _fromiso(ts_s)
            if ts.tzinfo is not UTC:
                ts = ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)
            values = (_D(o_s), _D(h_s), _D(l_s), _D(c_s), _D(v_s))
        except (ValueError, ArithmeticError):
            self.add(row, line, raw, fields)
            return
        self._check(row, line, raw, ts, *values)

    def add(self, row: int, line: int | None, raw: str | None, values: Iterable[Any]) -> None:
        """Validate one bar; record an error instead when it is bad."""
        try:
            ts_v, o_v, h_v, l_v, c_v, v_v = values
        except ValueError:
            self._fail(row, line, "expected 6 fields: " + ",".join(HEADER), raw, "row_shape")
            return
        try:
            ts = _timestamp(ts_v)
            o, h, lo, c = (
                _number("open", o_v),
                _number("high", h_v),
                _number("low", l_v),
                _number("close", c_v),
            )
            v = _number("volume", v_v)
        except _RowError as exc:
            self._fail(row, line, str(exc), raw, "value_error")
            return
        self._check(row, line, raw, ts, o, h, lo, c, v)

    def _check(
        self,
        row: int,
        line: int | None,
        raw: str | None,
        ts: datetime,
        o: Decimal,
        h: Decimal,
        lo: Decimal,
        c: Decimal,
        v: Decimal,
    ) -> None:
        try:
            # Ordering comparisons raise InvalidOperation on NaN; infinities fail the bounds.
            if o <= _ZERO or h <= _ZERO or lo <= _ZERO or c <= _ZERO:
                return self._fail(row, line, "prices must be positive", raw, "price")
            if o >= MAX_PRICE or h >= MAX_PRICE or lo >= MAX_PRICE or c >= MAX_PRICE:
                if not all(d.is_finite() for d in (o, h, lo, c)):
                    return self._fail(row, line, "prices must be finite numbers", raw, "price")
                return self._fail(row, line, "prices must be below 1E+12", raw, "price")
            if h < o or h < c:
                return self._fail(row, line, f"high {h} is below max(open, close)", raw, "ohlc")
            if lo > o or lo > c:
                return self._fail(row, line, f"low {lo} is above min(open, close)", raw, "ohlc")
            if v < _ZERO or v >= MAX_VOLUME:
                if not v.is_finite():
                    return self._fail(row, line, "volume must be a finite number", raw, "volume")
                return self._fail(row, line, "volume must be >= 0 and below 1E+15", raw, "volume")
        except ArithmeticError:
            return self._fail(row, line, "values must be finite numbers", raw, "value_error")
        epoch = int(ts.timestamp())
        if ts.microsecond or (epoch - _EPOCH_MONDAY) % self.step:
            return self._fail(
                row, line, f"timestamp {_iso(ts)} is off the {self.tf} grid", raw, "grid"
            )
        text = f"{ts.isoformat()},{o},{h},{lo},{c},{v}\n"
        if "E" in text or len(text) > 200:
            # Exponent notation or very long digit strings: keep NUMERIC's scale sane.
            for name, d in zip(HEADER[1:], (o, h, lo, c, v), strict=True):
                if d.as_tuple().exponent < MIN_EXPONENT or len(str(d)) > 40:  # type: ignore[operator]
                    msg = f"{name} has more than {-MIN_EXPONENT} decimals or 40 characters"
                    return self._fail(row, line, msg, raw, "value_error")
        if epoch <= self.prev:
            self.increasing = False
        self.prev = epoch
        self.epochs.append(epoch)
        out = self.out
        out.lines.append(text)
        out.count += 1
        if out.first_ts is None or ts < out.first_ts:
            out.first_ts = ts
        if out.last_ts is None or ts > out.last_ts:
            out.last_ts = ts
        return None

    def _fail(self, row: int, line: int | None, msg: str, raw: str | None, kind: str) -> None:
        self.out.errors.append(_error(row, line, msg, raw, kind))

    @property
    def full(self) -> bool:
        return len(self.out.errors) >= MAX_ERRORS

    def duplicates(self, rows: list[int], lines: list[int | None]) -> None:
        """Only when the file is not strictly increasing: find repeated timestamps."""
        if self.increasing:
            return
        epochs = self.epochs
        order = sorted(range(len(epochs)), key=epochs.__getitem__)  # stable: file order
        first = order[0] if order else 0
        for a, b in itertools.pairwise(order):
            if epochs[a] != epochs[b]:
                first = b
                continue
            ts = datetime.fromtimestamp(epochs[b], UTC)
            self._fail(
                rows[b],
                lines[b],
                f"duplicate timestamp {_iso(ts)} (first at row {rows[first]})",
                None,
                "duplicate",
            )
            if self.full:
                break
        self.out.errors.sort(key=lambda e: e["row"])


def _iso(ts: datetime) -> str:
    return ts.isoformat().replace("+00:00", "Z")


def parse_csv(data: bytes, tf: Timeframe) -> ParsedCandles:
    """Validate a CSV file with header `timestamp,open,high,low,close,volume`."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return _whole_file_error("file is not UTF-8 text")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        return _whole_file_error("empty file: expected a header " + ",".join(HEADER))
    except csv.Error as exc:
        return _whole_file_error(f"unreadable CSV: {exc}")
    if tuple(h.strip().lower() for h in header) != HEADER:
        out = ParsedCandles()
        out.errors.append(
            {
                "loc": ["body", "header"],
                "line": 1,
                "msg": "line 1: header must be " + ",".join(HEADER),
                "input": ",".join(header)[:200],
                "type": "header",
            }
        )
        return out
    v = _Validator(tf)
    rows: list[int] = []
    lines: list[int | None] = []
    row = 0
    try:
        for fields in reader:
            if not fields or (len(fields) == 1 and not fields[0].strip()):
                continue  # blank line
            row += 1
            line = reader.line_num
            before = v.out.count
            v.add_fast(row, line, ",".join(fields), fields)
            if v.out.count != before:
                rows.append(row)
                lines.append(line)
            elif v.full:
                break
    except csv.Error as exc:
        v._fail(row + 1, reader.line_num, f"unreadable CSV: {exc}", None, "csv")
    return _finish(v, rows, lines)


def parse_json(data: bytes, tf: Timeframe) -> ParsedCandles:
    """Validate a JSON array of {timestamp|ts, open, high, low, close, volume}."""
    try:
        doc = json.loads(data, parse_float=Decimal, parse_int=Decimal)
    except (ValueError, RecursionError) as exc:
        # The same answer as any malformed JSON body in this service.
        raise BadRequest("Malformed JSON body") from exc
    if isinstance(doc, dict) and isinstance(doc.get("candles"), list):
        doc = doc["candles"]
    if not isinstance(doc, list):
        return _whole_file_error("expected a JSON array of candles")
    v = _Validator(tf)
    rows: list[int] = []
    lines: list[int | None] = []
    for i, item in enumerate(doc, start=1):
        before = v.out.count
        if not isinstance(item, dict):
            v._fail(i, None, "each candle must be an object", None, "row_shape")
        else:
            ts = item.get("timestamp", item.get("ts"))
            missing = [k for k in HEADER[1:] if k not in item]
            if ts is None or missing:
                what = ["timestamp"] if ts is None else missing
                v._fail(i, None, "missing " + ", ".join(what), None, "missing")
            else:
                ohlcv = [item[k] for k in HEADER[1:]]
                v.add(i, None, None, (ts, *ohlcv))
        if v.out.count != before:
            rows.append(i)
            lines.append(None)
        elif v.full:
            break
    return _finish(v, rows, lines)


def _finish(v: _Validator, rows: list[int], lines: list[int | None]) -> ParsedCandles:
    if not v.full:
        v.duplicates(rows, lines)
    out = v.out
    if not out.errors and out.count == 0:
        return _whole_file_error("no candles in the file")
    return out


def _whole_file_error(msg: str) -> ParsedCandles:
    out = ParsedCandles()
    out.errors.append({"loc": ["body"], "msg": msg, "type": "file"})
    return out

"""Parsing and validating a candle file (CSV or JSON) into a COPY payload, in pure Python.

The whole file is validated before anything touches the database, so a rejected file stores
nothing. Errors name the 1-based data row and the line it came from (at most MAX_ERRORS).
The output is CSV text for PostgreSQL's COPY: each number goes on as the file wrote it when it
is a plain ASCII decimal (else as Decimal's canonical text) and is parsed by the server, which
is several times faster than encoding a million Decimals on the client.
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
# Exponent notation is accepted within sane bounds (no 1E-90000 reaching NUMERIC).
MIN_EXPONENT = -30
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


Raw = list[str] | str | None  # the offending input, joined only when an error names it


class _Validator:
    def __init__(self, tf: Timeframe) -> None:
        self.step = tf.seconds
        self.tf = tf
        self.out = ParsedCandles()
        self.epochs = array("q")
        self.rows = array("q")  # data row of each accepted bar (for duplicate messages)
        self.lines = array("q")  # its line, or -1 (JSON)
        self.increasing = True
        self.prev = -(2**62)

    def add_fast(self, row: int, line: int, fields: list[str]) -> None:
        """CSV fields: parse optimistically; anything odd goes through `add` for a message."""
        try:
            ts_s, o_s, h_s, l_s, c_s, v_s = fields
            ts = _fromiso(ts_s)
            if ts.tzinfo is not UTC:
                ts = ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)
            o, h, lo, c, v = _D(o_s), _D(h_s), _D(l_s), _D(c_s), _D(v_s)
        except (ValueError, ArithmeticError):
            self.add(row, line, fields, fields)
            return
        # The file's own text goes to COPY when PostgreSQL reads it exactly as Decimal did:
        # canonical UTC timestamps, plain ASCII decimals (no exponent, no underscores).
        if len(ts_s) == 20 and ts_s[19] == "Z" and ts_s[10] == "T":
            ts_text = ts_s
        else:
            ts_text = ts.isoformat()
        tail = f"{o_s},{h_s},{l_s},{c_s},{v_s}"
        if not tail.isascii() or "_" in tail or "e" in tail or "E" in tail or len(tail) > 150:
            self.add(row, line, fields, fields)  # the careful path decides, and explains
            return
        self._check(row, line, fields, ts, o, h, lo, c, v, ts_text, tail)

    def add(self, row: int, line: int | None, raw: Raw, values: Iterable[Any]) -> None:
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
        self._check(row, line, raw, ts, o, h, lo, c, v, ts.isoformat(), None)

    def _check(
        self,
        row: int,
        line: int | None,
        raw: Raw,
        ts: datetime,
        o: Decimal,
        h: Decimal,
        lo: Decimal,
        c: Decimal,
        v: Decimal,
        ts_text: str,
        tail: str | None,
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
        if tail is None:
            for name, d in zip(HEADER[1:], (o, h, lo, c, v), strict=True):
                # Keep NUMERIC's scale sane: no 1E-90000, no thousand-digit fractions.
                if d.as_tuple().exponent < MIN_EXPONENT or d.adjusted() > 15:  # type: ignore[operator]
                    msg = f"{name} has more than {-MIN_EXPONENT} decimals"
                    return self._fail(row, line, msg, raw, "value_error")
            tail = f"{o},{h},{lo},{c},{v}"
        if epoch <= self.prev:
            self.increasing = False
        self.prev = epoch
        self.epochs.append(epoch)
        self.rows.append(row)
        self.lines.append(-1 if line is None else line)
        self.out.lines.append(f"{ts_text},{tail}\n")
        return None

    def _fail(self, row: int, line: int | None, msg: str, raw: Raw, kind: str) -> None:
        text = ",".join(raw) if isinstance(raw, list) else raw
        self.out.errors.append(_error(row, line, msg, text, kind))

    @property
    def full(self) -> bool:
        return len(self.out.errors) >= MAX_ERRORS

    def finish(self) -> ParsedCandles:
        out = self.out
        if not self.full:
            self._duplicates()
        out.count = len(out.lines)
        if out.count and not out.errors:
            out.first_ts = datetime.fromtimestamp(min(self.epochs), UTC)
            out.last_ts = datetime.fromtimestamp(max(self.epochs), UTC)
        if not out.errors and out.count == 0:
            return _whole_file_error("no candles in the file")
        return out

    def _duplicates(self) -> None:
        """Only when the file is not strictly increasing: find repeated timestamps."""
        if self.increasing:
            return
        epochs, rows, lines = self.epochs, self.rows, self.lines
        order = sorted(range(len(epochs)), key=epochs.__getitem__)  # stable: file order
        first = order[0] if order else 0
        for a, b in itertools.pairwise(order):
            if epochs[a] != epochs[b]:
                first = b
                continue
            ts = datetime.fromtimestamp(epochs[b], UTC)
            self._fail(
                rows[b],
                None if lines[b] < 0 else lines[b],
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
    if '"' not in text and text.count("\r") == text.count("\r\n"):
        # Plain numeric CSV (the usual case): splitting is several times faster than csv.
        _rows_from_lines(v, text)
    else:
        _rows_from_reader(v, reader)
    return v.finish()


def _rows_from_lines(v: _Validator, text: str) -> None:
    row = 0
    lines = text.split("\n")
    for number in range(1, len(lines)):  # line 1 is the header
        raw = lines[number]
        if raw.endswith("\r"):
            raw = raw[:-1]
        if not raw or raw.isspace():
            continue  # blank line
        row += 1
        before = len(v.out.errors)
        v.add_fast(row, number + 1, raw.split(","))
        if len(v.out.errors) != before and v.full:
            return


def _rows_from_reader(v: _Validator, reader: Any) -> None:
    row = 0
    try:
        for fields in reader:
            if not fields or (len(fields) == 1 and not fields[0].strip()):
                continue  # blank line
            row += 1
            before = len(v.out.errors)
            v.add_fast(row, reader.line_num, fields)
            if len(v.out.errors) != before and v.full:
                return
    except csv.Error as exc:
        v._fail(row + 1, reader.line_num, f"unreadable CSV: {exc}", None, "csv")


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
    for i, item in enumerate(doc, start=1):
        before = len(v.out.errors)
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
        if len(v.out.errors) != before and v.full:
            break
    return v.finish()


def _whole_file_error(msg: str) -> ParsedCandles:
    out = ParsedCandles()
    out.errors.append({"loc": ["body"], "msg": msg, "type": "file"})
    return out

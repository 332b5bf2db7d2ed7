"""Parsing and validating a candle file (CSV or JSON) into exact numpy columns (`bulk.Bars`).

The whole file is validated before anything is committed, so a rejected file stores nothing
(`CsvStream` hands out a clean file's bars while reading it; its caller abandons what it stored
at the first line that is not clean). Errors name the 1-based data row and the line it came
from (at most MAX_ERRORS).

A plain CSV (ASCII, no quotes; the usual case) is read with numpy: canonical timestamps and
plain decimals of up to 18 digits are parsed to scaled integers and checked a chunk of lines
at a time. A line that does not fit that shape, or breaks a rule, goes through the per-row
Python validator below, which accepts it or words the error: so numpy only ever accepts
what the Python rules accept, and every message and row number stays theirs.
"""

from __future__ import annotations

import csv
import io
import json
import re
from array import array
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import numpy as np
import numpy.typing as npt

from servicekit.errors import BadRequest

from ..timeframes import EPOCH_MONDAY, Timeframe
from .bulk import Bars, column

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
    """A validated file: its bars sorted by time (None when rejected) and its time range."""

    count: int = 0
    first_ts: datetime | None = None
    last_ts: datetime | None = None
    bars: Bars | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def of(cls, bars: Bars) -> ParsedCandles:
        bars = bars.sorted()
        out = cls(count=len(bars), bars=bars)
        if len(bars):
            out.first_ts = datetime.fromtimestamp(int(bars.epochs[0]), UTC)
            out.last_ts = datetime.fromtimestamp(int(bars.epochs[-1]), UTC)
        return out

    def csv_lines(self) -> list[str]:
        """The bars as CSV data lines (slow: for tests and small files)."""
        return [] if self.bars is None else self.bars.csv_lines()


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
            return _unix_seconds(text)
        try:
            ts = datetime.fromisoformat(text)
        except ValueError:
            raise _RowError(f"unparsable timestamp {text[:40]!r}") from None
        if ts.tzinfo is None:
            return ts.replace(tzinfo=UTC)  # no offset: UTC
        return ts.astimezone(UTC)
    if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
        return _unix_seconds(value)
    raise _RowError("timestamp must be an ISO 8601 string or Unix seconds")


def _unix_seconds(value: str | int | Decimal) -> datetime:
    # int() refuses over 4,300 digits and other scripts' digits; fromtimestamp, years past 9999.
    try:
        return datetime.fromtimestamp(int(value), UTC)
    except (ValueError, OverflowError, OSError):
        raise _RowError("timestamp out of range") from None


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


Decimals = tuple[Decimal, Decimal, Decimal, Decimal, Decimal]


class _Validator:
    def __init__(self, tf: Timeframe) -> None:
        self.step = tf.seconds
        self.tf = tf
        self.errors: list[dict[str, Any]] = []
        # Bars accepted row by row (JSON, and the CSV lines numpy leaves to these rules).
        self.epochs = array("q")
        self.rows = array("q")  # data row of each accepted bar (for duplicate messages)
        self.lines = array("q")  # its line, or -1 (JSON)
        self.values: list[Decimals] = []
        # Bars numpy accepted, a chunk of lines at a time.
        self.chunks: list[_Chunk] = []

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
        # Decimal also reads underscores, other scripts' digits and exponents: the careful
        # path decides those (and bounds their decimals), and explains.
        tail = f"{o_s},{h_s},{l_s},{c_s},{v_s}"
        if not tail.isascii() or "_" in tail or "e" in tail or "E" in tail or len(tail) > 150:
            self.add(row, line, fields, fields)
            return
        self._check(row, line, fields, ts, o, h, lo, c, v, plain=True)

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
        self._check(row, line, raw, ts, o, h, lo, c, v, plain=False)

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
        *,
        plain: bool,
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
        if not plain:
            for name, d in zip(HEADER[1:], (o, h, lo, c, v), strict=True):
                # Keep NUMERIC's scale sane: no 1E-90000, no thousand-digit fractions.
                if d.as_tuple().exponent < MIN_EXPONENT or d.adjusted() > 15:  # type: ignore[operator]
                    msg = f"{name} has more than {-MIN_EXPONENT} decimals"
                    return self._fail(row, line, msg, raw, "value_error")
        self.epochs.append(epoch)
        self.rows.append(row)
        self.lines.append(-1 if line is None else line)
        self.values.append((o, h, lo, c, v))
        return None

    def _fail(self, row: int, line: int | None, msg: str, raw: Raw, kind: str) -> None:
        text = ",".join(raw) if isinstance(raw, list) else raw
        self.errors.append(_error(row, line, msg, text, kind))

    @property
    def full(self) -> bool:
        return len(self.errors) >= MAX_ERRORS

    def finish(self) -> ParsedCandles:
        epochs, columns, where = self._merged()
        if not self.full:
            self._duplicates(epochs, where)
        if self.errors:
            return ParsedCandles(errors=self.errors)
        if len(epochs) == 0:
            return _whole_file_error("no candles in the file")
        return ParsedCandles.of(Bars(epochs, *(column(m, d) for m, d in columns)))

    def _merged(self) -> tuple[Ints, list[tuple[Ints, Ints]], Callable[[], tuple[Ints, Ints]]]:
        """Every accepted bar: epochs, (mantissa, display scale) per column, and a function
        giving their data rows and lines (only duplicates need those)."""
        parts = [(c.epochs, c.columns, c.where) for c in self.chunks]
        if self.values:
            scaled = [_scaled(d) for bar in self.values for d in bar]
            mants, scales = [m for m, _ in scaled], [k for _, k in scaled]
            wide = any(m >= _BIG for m in mants)
            mant = np.array(mants, dtype=object if wide else np.int64).reshape(-1, 5)
            ds = np.array(scales, dtype=np.int64).reshape(-1, 5)
            rows, lines = _ints(self.rows), _ints(self.lines)
            cols = [(mant[:, k], ds[:, k]) for k in range(5)]
            parts.append((_ints(self.epochs), cols, lambda: (rows, lines)))
        if not parts:
            empty = np.zeros(0, np.int64)
            return empty, [(empty, empty)] * 5, lambda: (empty, empty)
        if len(parts) == 1:
            return parts[0]  # the usual case: no copies

        def where() -> tuple[Ints, Ints]:
            found = [p[2]() for p in parts]
            return np.concatenate([f[0] for f in found]), np.concatenate([f[1] for f in found])

        columns = [
            (
                np.concatenate([p[1][k][0] for p in parts]),
                np.concatenate([p[1][k][1] for p in parts]),
            )
            for k in range(5)
        ]
        return np.concatenate([p[0] for p in parts]), columns, where

    def _duplicates(self, epochs: Ints, where: Callable[[], tuple[Ints, Ints]]) -> None:
        """Only when the file is not strictly increasing: find repeated timestamps."""
        if len(epochs) < 2 or bool((np.diff(epochs) > 0).all()):
            return
        rows, lines = where()
        order = np.lexsort((rows, epochs))  # by time, then file order
        ordered = epochs[order]
        new = np.concatenate(([True], ordered[1:] != ordered[:-1]))
        repeats = np.flatnonzero(~new)
        if not len(repeats):
            return
        run_starts = np.flatnonzero(new)
        firsts = run_starts[np.searchsorted(run_starts, repeats, side="right") - 1]
        room = MAX_ERRORS - len(self.errors)
        for b, a in zip(repeats[:room].tolist(), firsts[:room].tolist(), strict=True):
            i, first = int(order[b]), int(order[a])
            ts = datetime.fromtimestamp(int(epochs[i]), UTC)
            self._fail(
                int(rows[i]),
                None if lines[i] < 0 else int(lines[i]),
                f"duplicate timestamp {_iso(ts)} (first at row {int(rows[first])})",
                None,
                "duplicate",
            )
        self.errors.sort(key=lambda e: e["row"])


Ints = npt.NDArray[np.int64]
Arr = npt.NDArray[Any]  # integers of whichever width the step needs
_BIG = 10**18  # mantissas from here on are kept as Python ints


def _ints(values: array[int]) -> Ints:
    return np.frombuffer(values, dtype=np.int64).copy() if len(values) else np.zeros(0, np.int64)


def _scaled(d: Decimal) -> tuple[int, int]:
    """(mantissa, display scale) as NUMERIC reads Decimal's text: 1.10 -> (110, 2)."""
    _, digits, exponent = d.as_tuple()
    mant = int("".join(map(str, digits)))
    assert isinstance(exponent, int)  # finite: validated
    if exponent >= 0:
        return mant * 10**exponent, 0  # "-0" volume is 0 like NUMERIC's
    return mant, -exponent


def _iso(ts: datetime) -> str:
    return ts.isoformat().replace("+00:00", "Z")


def stream_csv(data: bytes | bytearray, tf: Timeframe) -> CsvStream | None:
    """A plain CSV with the right header as a `CsvStream`; None for any other file
    (`parse_csv` reads it and words what is wrong)."""
    fast = _plain_body(data)
    if fast is None:
        return None
    body, header_end = fast
    header_line = body[:header_end].decode().removesuffix("\r")
    if _check_header(csv.reader(io.StringIO(header_line + "\n"))) is not None:
        return None
    return CsvStream(_Validator(tf), body, header_end + 1)


def parse_csv(data: bytes | bytearray, tf: Timeframe) -> ParsedCandles:
    """Validate a CSV file with header `timestamp,open,high,low,close,volume`."""
    fast = _plain_body(data)
    if fast is not None:
        body, header_end = fast
        header_line = body[:header_end].decode().removesuffix("\r")
        out = _check_header(csv.reader(io.StringIO(header_line + "\n")))
        if out is not None:
            return out
        return CsvStream(_Validator(tf), body, header_end + 1).finish()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return _whole_file_error("file is not UTF-8 text")
    reader = csv.reader(io.StringIO(text, newline=""))
    out = _check_header(reader)
    if out is not None:
        return out
    v = _Validator(tf)
    if '"' not in text and text.count("\r") == text.count("\r\n"):
        # Plain numeric CSV: splitting is several times faster than csv.
        _rows_from_lines(v, text)
    else:
        _rows_from_reader(v, reader)
    return v.finish()


def _check_header(reader: Any) -> ParsedCandles | None:
    """None when the first record is the expected header, else the rejection."""
    try:
        header = next(reader)
    except StopIteration:
        return _whole_file_error("empty file: expected a header " + ",".join(HEADER))
    except csv.Error as exc:
        return _whole_file_error(f"unreadable CSV: {exc}")
    if tuple(h.strip().lower() for h in header) == HEADER:
        return None
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


_BOM = b"\xef\xbb\xbf"


def _plain_body(data: bytes | bytearray) -> tuple[bytes | bytearray, int] | None:
    """(body without a BOM, end of its header line) when numpy can read the file: ASCII, no
    quotes, every CR part of a CRLF. Else None: the csv module reads it."""
    body = data[3:] if data.startswith(_BOM) else data
    header_end = body.find(b"\n")
    if header_end < 0 or not body.isascii() or b'"' in body:
        return None
    if b"\r" in body and body.count(b"\r") != body.count(b"\r\n"):
        return None
    return body, header_end


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
        before = len(v.errors)
        v.add_fast(row, number + 1, raw.split(","))
        if len(v.errors) != before and v.full:
            return


def _rows_from_reader(v: _Validator, reader: Any) -> None:
    row = 0
    try:
        for fields in reader:
            if not fields or (len(fields) == 1 and not fields[0].strip()):
                continue  # blank line
            row += 1
            before = len(v.errors)
            v.add_fast(row, reader.line_num, fields)
            if len(v.errors) != before and v.full:
                return
    except csv.Error as exc:
        v._fail(row + 1, reader.line_num, f"unreadable CSV: {exc}", None, "csv")


# --- numpy: a chunk of plain CSV lines at a time ---

_CHUNK_BYTES = 1 << 21  # ~35,000 lines: the temporaries stay a few MB
_W = 19  # widest number field numpy reads: 18 digits and a point
_POW10 = np.array([10**i for i in range(19)], dtype=np.int64)
_MONTH_DAYS = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])


@dataclass
class _Chunk:
    """Bars numpy accepted: epochs, lines and (mantissa, display scale) per column."""

    epochs: Ints
    lines: Arr
    columns: list[tuple[Arr, Arr]]
    blanks: Ints  # sorted numbers of the blank lines

    def where(self) -> tuple[Ints, Ints]:
        # Data rows count the non-blank lines after the header.
        return self.lines - 1 - np.searchsorted(self.blanks, self.lines), self.lines


class CsvStream:
    """The data lines of a plain CSV from offset `pos` (line 2 on), a chunk at a time: numpy
    accepts the plain valid ones; the others, and the whitespace-only lines among them, are
    left to `add_fast` in file order by `finish`.

    `read` hands out each chunk's accepted bars while `clean` holds (every line so far plain
    and valid, times strictly increasing), so they can be stored while the rest is read; once
    it fails, only `finish`'s verdict counts."""

    def __init__(self, v: _Validator, body: bytes | bytearray, pos: int) -> None:
        self.v, self.body, self.pos = v, body, pos
        self.arr: npt.NDArray[np.uint8] | None = np.frombuffer(body, np.uint8)
        self.line = 2
        self.clean = True
        self.last_epoch: int | None = None
        self.result: ParsedCandles | None = None
        # The accepted bars go straight into arrays sized for every line: no per-chunk copies.
        room = body.count(b"\n", pos) + 1
        self.epochs = np.empty(room, np.int64)
        self.lines = np.empty(room, np.int32)
        self.mants = [np.empty(room, np.int64) for _ in range(5)]
        self.scales = [np.empty(room, np.uint8) for _ in range(5)]
        self.filled = 0
        self.odd: list[tuple[Ints, Ints, Ints]] = []  # lines, starts, ends
        self.blank: list[Ints] = []  # numbers of the empty lines

    def read(self) -> Bars | None:
        """The next chunk's accepted bars (a copy, in file order), None after the last."""
        lo = self.filled
        if not self._chunk():
            return None
        hi = self.filled
        epochs = self.epochs[lo:hi]
        if len(epochs) and self.clean:
            after = self.last_epoch is None or int(epochs[0]) > self.last_epoch
            self.clean = after and bool((np.diff(epochs) > 0).all())
            self.last_epoch = int(epochs[-1])
        columns = (column(self.mants[k][lo:hi].copy(), self.scales[k][lo:hi]) for k in range(5))
        return Bars(epochs.copy(), *columns)

    def _chunk(self) -> bool:
        body, arr, pos, v = self.body, self.arr, self.pos, self.v
        assert arr is not None
        size = len(arr)
        if pos >= size:
            return False
        end = min(pos + _CHUNK_BYTES, size)
        if end < size:
            cut = body.rfind(b"\n", pos, end)
            end = (body.find(b"\n", end) if cut < 0 else cut) + 1 or size
        seg = arr[pos:end]
        nl = np.flatnonzero(seg == 10)
        starts = np.concatenate(([0], nl + 1))
        ends = np.append(nl, len(seg))
        if seg[-1] == 10:  # the next line starts in the next chunk (or is the file's end)
            starts, ends = starts[:-1], ends[:-1]
        numbers = self.line + np.arange(len(starts))
        self.line += len(starts)
        ends = ends - ((ends > starts) & (seg[np.maximum(ends - 1, 0)] == 13))
        good, epochs, columns = _plain_lines(seg, starts, ends, v.step)
        taken = slice(self.filled, self.filled + len(epochs))
        self.epochs[taken] = epochs
        self.lines[taken] = numbers[good]
        for k, (mant, scale) in enumerate(columns):
            self.mants[k][taken] = mant
            self.scales[k][taken] = scale
        self.filled += len(epochs)
        empty = ends == starts
        self.blank.append(numbers[empty])
        rest = ~good & ~empty
        if rest.any():
            self.clean = False
            self.odd.append((numbers[rest], starts[rest] + pos, ends[rest] + pos))
        self.pos = end
        return True

    def finish(self) -> ParsedCandles:
        """Reads what is left, then validates the whole file (as `parse_csv` does)."""
        if self.result is None:
            while self._chunk():
                pass
            self.arr = None  # the body's buffer is no longer held (it may be cleared)
            self._odd_lines()
            self.result = self.v.finish()
        return self.result

    def _odd_lines(self) -> None:
        v, body, filled = self.v, self.body, self.filled
        blanks = np.concatenate(self.blank) if self.blank else np.zeros(0, np.int64)
        # Lines numpy could not place are read as text; the whitespace-only ones are blank too.
        checks: list[tuple[int, list[str]]] = []
        for numbers, starts, ends in self.odd:
            for number, a, b in zip(numbers.tolist(), starts.tolist(), ends.tolist(), strict=True):
                raw = body[a:b].decode()
                if raw.isspace():
                    blanks = np.append(blanks, number)
                else:
                    checks.append((number, raw.split(",")))
        blanks.sort()
        for number, fields in checks:
            before = len(v.errors)
            row = number - 1 - int(np.searchsorted(blanks, number))
            v.add_fast(row, number, fields)
            if len(v.errors) != before and v.full:
                return
        if filled:
            kept: list[tuple[Arr, Arr]] = [
                (self.mants[k][:filled], self.scales[k][:filled]) for k in range(5)
            ]
            v.chunks.append(_Chunk(self.epochs[:filled], self.lines[:filled], kept, blanks))


def _plain_lines(
    seg: npt.NDArray[np.uint8], starts: Ints, ends: Ints, step: int
) -> tuple[npt.NDArray[np.bool_], Ints, list[tuple[Ints, Ints]]]:
    """Which lines are a canonical timestamp and five plain decimals that pass every rule;
    their epochs and (mantissa, display scale) columns."""
    commas = np.flatnonzero(seg == 44)
    first = np.searchsorted(commas, starts)
    good = (np.searchsorted(commas, ends) - first == 5) & (ends > starts)
    idx = np.flatnonzero(good)
    last = len(seg) - 1
    cut = commas[np.minimum(first[idx, None] + np.arange(5), max(len(commas) - 1, 0))]
    field_starts = np.column_stack((starts[idx], cut + 1))
    field_ends = np.column_stack((cut, ends[idx]))
    ok, epochs = _timestamps(seg, field_starts[:, 0], field_ends[:, 0], last, step)
    mants, scales, whole = [], [], []
    for k in range(1, 6):
        f_ok, mant, scale, int_len = _decimals(seg, field_starts[:, k], field_ends[:, k], last)
        ok &= f_ok
        mants.append(mant)
        scales.append(scale)
        whole.append(int_len)
    # The rules, as _check words them; a line that fails any is left to _check for its message.
    for k in range(4):
        ok &= (mants[k] > 0) & (whole[k] <= 12)  # positive, below 1E+12
    ok &= whole[4] <= 15  # volume below 1E+15 (digits only: never negative)
    common = np.maximum.reduce(scales[:4])
    for k in range(4):
        ok &= whole[k] + common <= 18  # the comparisons below stay within int64
    shift = np.where(ok, common, 0)
    o, h, lo, c = (
        np.where(ok, mants[k], 0) * _POW10[shift - np.where(ok, scales[k], 0)] for k in range(4)
    )
    ok &= (h >= o) & (h >= c) & (lo <= o) & (lo <= c)
    good[idx] = ok
    return good, epochs[ok], [(mants[k][ok], scales[k][ok]) for k in range(5)]


def _timestamps(
    seg: npt.NDArray[np.uint8], starts: Ints, ends: Ints, last: int, step: int
) -> tuple[npt.NDArray[np.bool_], Ints]:
    """`YYYY-MM-DDTHH:MM:SS` (or a space for T) plain, with Z or +00:00: ok and epochs."""
    length = ends - starts

    def at(k: int) -> npt.NDArray[np.uint8]:
        return seg[np.minimum(starts + k, last)]

    ok = (length == 19) | ((length == 20) & (at(19) == 90))
    ok |= (length == 25) & (at(19) == 43) & (at(22) == 58)
    for k in (20, 21, 23, 24):  # the zeros of +00:00
        ok &= (length != 25) | (at(k) == 48)
    ok &= (at(4) == 45) & (at(7) == 45) & (at(13) == 58) & (at(16) == 58)
    ok &= (at(10) == 84) | (at(10) == 32)

    def number(*positions: int) -> Ints:
        nonlocal ok
        value = np.zeros(len(starts), dtype=np.int64)
        for k in positions:
            digit = at(k) - np.uint8(48)  # wraps below "0": one test for both bounds
            ok &= digit <= 9
            value = value * 10 + digit
        return value

    year, month, day = number(0, 1, 2, 3), number(5, 6), number(8, 9)
    hour, minute, second = number(11, 12), number(14, 15), number(17, 18)
    ok &= (year >= 1) & (month >= 1) & (month <= 12) & (hour <= 23) & (minute <= 59)
    ok &= second <= 59
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    month_days = _MONTH_DAYS[np.clip(month, 1, 12) - 1] + ((month == 2) & leap)
    ok &= (day >= 1) & (day <= month_days)
    # Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
    y = year - (month <= 2)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * ((month + 9) % 12) + 2) // 5 + day - 1
    days = era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468
    epochs = days * 86400 + hour * 3600 + minute * 60 + second
    ok &= (epochs - _EPOCH_MONDAY) % step == 0
    return ok, epochs


def _decimals(
    seg: npt.NDArray[np.uint8], starts: Ints, ends: Ints, last: int
) -> tuple[npt.NDArray[np.bool_], Ints, Ints, Ints]:
    """Plain `digits[.digits]` fields of at most 18 digits: ok, mantissa, display scale and
    the length of the integer part. One pass per character position, up to the longest."""
    length = ends - starts
    n = len(starts)
    mant = np.zeros(n, dtype=np.int64)
    point_at = length.copy()  # no point: the integer part is the whole field
    points = np.zeros(n, dtype=np.int64)
    ok = (length >= 1) & (length <= _W)
    for k in range(min(int(length.max(initial=0)), _W)):
        char = seg[np.minimum(starts + k, last)]
        inside = k < length
        digit = char - np.uint8(48)
        is_digit = inside & (digit <= 9)
        is_point = inside & (char == 46)
        ok &= ~inside | is_digit | is_point
        mant = np.where(is_digit, mant * 10 + digit, mant)
        point_at = np.where(is_point, k, point_at)
        points += is_point
    ok &= (points <= 1) & (length - points <= 18) & (point_at >= 1)
    ok &= (points == 0) | (point_at <= length - 2)
    scale = np.where(points > 0, length - point_at - 1, 0)
    return ok, mant, scale, point_at


# The one object form the import takes: {"candles": [...]}.
_OBJECT = re.compile(rb"\A\s*\{")
_WRAPPED = re.compile(rb'\A\s*\{\s*"candles"\s*:\s*\[')


def parse_json(data: bytes | bytearray, tf: Timeframe) -> ParsedCandles:
    """Validate a JSON array of {timestamp|ts, open, high, low, close, volume}."""
    if _OBJECT.match(data) and not _WRAPPED.match(data):
        # Any other object is refused before parsing: 50,000 keys parsed into Decimals cost
        # 100-180 ms on a busy machine for an answer known from the first bytes.
        return _whole_file_error("expected a JSON array of candles")
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
        before = len(v.errors)
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
        if len(v.errors) != before and v.full:
            break
    return v.finish()


def _whole_file_error(msg: str) -> ParsedCandles:
    out = ParsedCandles()
    out.errors.append({"loc": ["body"], "msg": msg, "type": "file"})
    return out

"""Validated bars as numpy columns: exact scaled integers, aggregation to every timeframe, and
PostgreSQL's binary COPY rows.

A price is an integer count of 10**-scale units (`scale` a multiple of 4, so the value splits
into NUMERIC's base-10000 digits by integer arithmetic) plus the display scale the file wrote
it with (`dscale`: "1.10000" is 110000000 at scale 8 with dscale 5), so what PostgreSQL stores
is exactly what NUMERIC would have parsed from the text. Columns are int64 when every value
fits with headroom, else Python ints (dtype object): slower, still exact.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Context, Decimal
from typing import Any

import numpy as np
import numpy.typing as npt

from ..timeframes import EPOCH_MONDAY, Timeframe, aggregation_sources

PRICE_COLUMNS = ("open", "high", "low", "close")
COLUMNS = (*PRICE_COLUMNS, "volume")
# int64 columns keep values below this, so a sum of 9 of them cannot overflow; volume sums are
# checked against the file's total separately.
_INT64_LIMIT = 10**18
_PG_EPOCH = int(datetime(2000, 1, 1, tzinfo=UTC).timestamp())
_EPOCH_MONDAY = int(EPOCH_MONDAY.timestamp())
_POW10 = np.array([10**i for i in range(19)], dtype=np.int64)
COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0)
COPY_TRAILER = struct.pack("!h", -1)
_EXACT = Context(prec=100)  # more digits than any accepted value has
CHUNK_ROWS = 50_000  # rows per COPY message batch: ~6 MB, so memory stays flat

IntArray = npt.NDArray[np.int64]


@dataclass
class Column:
    """Values `mant / 10**scale` (scale % 4 == 0); `dscale` the per-row display scale."""

    mant: npt.NDArray[np.int64] | npt.NDArray[np.object_]
    scale: int
    dscale: npt.NDArray[np.uint8]  # NUMERIC's dscale: at most 30 from exponents, ~150 plain

    def take(self, index: IntArray) -> Column:
        return Column(self.mant[index], self.scale, self.dscale[index])

    def decimal(self, i: int) -> Decimal:
        value = Decimal(int(self.mant[i])).scaleb(-self.scale, _EXACT)
        return value.quantize(Decimal(1).scaleb(-int(self.dscale[i])), context=_EXACT)


def column(mant: npt.NDArray[np.int64], dscale: npt.NDArray[np.integer[Any]]) -> Column:
    """A column from mantissas at their own display scale (value = mant[i] / 10**dscale[i]).

    Takes `mant` over: an int64 array is rescaled in place (a million bars' copy saved)."""
    ds = np.asarray(dscale, dtype=np.uint8)
    top = int(ds.max()) if len(ds) else 0
    scale = -(-top // 4) * 4
    shift = (scale - ds).astype(np.int64)
    if isinstance(mant, np.ndarray) and mant.dtype == np.int64 and scale <= 18:
        # One display scale (the usual file): one factor for the whole column.
        factor = _POW10[shift[0]] if len(ds) and top == int(ds.min()) else _POW10[shift]
        # Fits when mant * 10**shift < 10**18, tested without overflowing.
        if bool((mant < _INT64_LIMIT // factor).all()):
            return Column(np.multiply(mant, factor, out=mant), scale, ds)
    # Python ints: exact at any size (values past int64 are rare: very long decimals).
    wide = np.array([int(m) * 10 ** int(k) for m, k in zip(mant, shift, strict=True)], object)
    if len(wide) and max(wide) < _INT64_LIMIT:
        return Column(wide.astype(np.int64), scale, ds)
    return Column(wide, scale, ds)


@dataclass
class Bars:
    """Bars sorted by open time: `epochs` in Unix seconds, five exact columns."""

    epochs: IntArray
    open: Column
    high: Column
    low: Column
    close: Column
    volume: Column

    def __len__(self) -> int:
        return len(self.epochs)

    def columns(self) -> tuple[Column, ...]:
        return (self.open, self.high, self.low, self.close, self.volume)

    def take(self, index: IntArray) -> Bars:
        return Bars(self.epochs[index], *(c.take(index) for c in self.columns()))

    def sorted(self) -> Bars:
        if len(self.epochs) < 2 or bool((np.diff(self.epochs) > 0).all()):
            return self
        return self.take(np.argsort(self.epochs, kind="stable"))

    def csv_lines(self) -> list[str]:
        """`timestamp,open,high,low,close,volume` rows as NUMERIC would print them (slow: for
        tests and small files)."""
        out = []
        for i, epoch in enumerate(self.epochs.tolist()):
            ts = datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            values = ",".join(str(c.decimal(i)) for c in self.columns())
            out.append(f"{ts},{values}\n")
        return out

    def aggregate(self, step: int) -> Bars:
        """Bars of `step` seconds from these (sorted) ones, as the SQL aggregation defines them:
        first open, max high, min low, last close, summed volume; buckets on EPOCH_MONDAY's grid.
        """
        bucket = (self.epochs - _EPOCH_MONDAY) // step
        starts = np.flatnonzero(np.concatenate(([True], bucket[1:] != bucket[:-1])))
        ends = np.append(starts[1:], len(bucket)) - 1
        return Bars(
            bucket[starts] * step + _EPOCH_MONDAY,
            self.open.take(starts),
            _extreme(self.high, starts, np.maximum),
            _extreme(self.low, starts, np.minimum),
            self.close.take(ends),
            _sum(self.volume, starts),
        )


def _extreme(col: Column, starts: IntArray, op: np.ufunc) -> Column:
    """max/min per bucket; the display scale is that of the bucket's last row holding it
    (NUMERIC's max keeps the later of equal values)."""
    best = op.reduceat(col.mant, starts)
    if len(col.dscale) and col.dscale.min() == col.dscale.max():
        return Column(best, col.scale, col.dscale[: len(starts)].copy())
    sizes = np.diff(np.append(starts, len(col.mant)))
    hit = col.mant == np.repeat(best, sizes)
    where = np.maximum.reduceat(np.where(hit, np.arange(len(hit)), -1), starts)
    return Column(best, col.scale, col.dscale[where])


def _sum(col: Column, starts: IntArray) -> Column:
    mant = col.mant
    if mant.dtype != object and len(mant) and int(mant.sum(dtype=np.float64)) >= 2**62:
        mant = mant.astype(object)  # the sums could overflow int64: exact Python ints
    # NUMERIC's sum prints with the largest display scale of its terms.
    return Column(np.add.reduceat(mant, starts), col.scale, np.maximum.reduceat(col.dscale, starts))


def every_timeframe(bars: Bars, base: Timeframe) -> Iterator[tuple[Timeframe, Bars]]:
    """The base bars, then each higher timeframe built from its coarsest finer source."""
    built = {base: bars}
    yield base, bars
    for tf, src in aggregation_sources(base).items():
        built[tf] = built[src].aggregate(tf.seconds)
        yield tf, built[tf]


# --- PostgreSQL binary COPY: rows of candles' columns, in CHUNK_ROWS batches ---


def _numeric_layout(col: Column) -> tuple[int, int]:
    """(integer groups, fraction groups) of base-10000 digits that hold every value."""
    frac = col.scale // 4
    top = int(col.mant.max()) if len(col.mant) else 0
    whole = max(1, -(-len(str(top // 10**col.scale)) // 4)) if top else 1
    return whole, frac


def copy_rows(instrument_id: int, tf: Timeframe, bars: Bars) -> Iterator[bytes]:
    """Binary COPY rows `instrument_id, timeframe, ts, open, high, low, close, volume`.

    Every row of a column gets the same number of NUMERIC digits (leading zero groups are
    stripped by the server), so a batch is one numpy record array.
    """
    layouts = [_numeric_layout(c) for c in bars.columns()]
    tf_bytes = tf.value.encode()
    fields: list[tuple[str, str] | tuple[str, str, tuple[int]]] = [
        ("n", ">i2"),
        ("iid_len", ">i4"),
        ("iid", ">i8"),
        ("tf_len", ">i4"),
        ("tf", f"S{len(tf_bytes)}"),
        ("ts_len", ">i4"),
        ("ts", ">i8"),
    ]
    for name, (whole, frac) in zip(COLUMNS, layouts, strict=True):
        groups = whole + frac
        fields += [
            (f"{name}_len", ">i4"),
            (f"{name}_ndigits", ">i2"),
            (f"{name}_weight", ">i2"),
            (f"{name}_sign", ">u2"),
            (f"{name}_dscale", ">u2"),
            (f"{name}_digits", ">i2", (groups,)),
        ]
    dtype = np.dtype(fields)
    for lo in range(0, len(bars), CHUNK_ROWS):
        hi = min(lo + CHUNK_ROWS, len(bars))
        rec = np.empty(hi - lo, dtype=dtype)
        rec["n"] = 8
        rec["iid_len"], rec["iid"] = 8, instrument_id
        rec["tf_len"], rec["tf"] = len(tf_bytes), tf_bytes
        rec["ts_len"] = 8
        rec["ts"] = (bars.epochs[lo:hi] - _PG_EPOCH) * 1_000_000
        for name, col, (whole, frac) in zip(COLUMNS, bars.columns(), layouts, strict=True):
            groups = whole + frac
            rec[f"{name}_len"] = 8 + 2 * groups
            rec[f"{name}_ndigits"] = groups
            rec[f"{name}_weight"] = whole - 1
            rec[f"{name}_sign"] = 0  # validated values are >= 0
            rec[f"{name}_dscale"] = col.dscale[lo:hi]
            digits = rec[f"{name}_digits"]
            mant = col.mant[lo:hi]
            for g in range(groups - 1, -1, -1):  # least significant group last
                digits[:, g] = mant % 10000
                mant = mant // 10000
        yield rec.tobytes()

"""The equity picture of a report, as SVG written by hand (no plotting library: a line, an
area and a few labels are a few kilobytes of text, rendered in milliseconds).

The series is downsampled to the plot's pixel columns keeping each column's min and max in
the order they occur, so every extreme stays visible however long the series; drawdowns (the
gap between the running peak and equity) are shaded; the peak and the deepest drawdown are
marked; the time axis has date labels, the value axis money.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from html import escape
from typing import Any

import numpy as np

WIDTH, HEIGHT = 960, 480
LEFT, RIGHT, TOP, BOTTOM = 84, 24, 56, 48
PLOT_W, PLOT_H = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
NS = 1_000_000_000


def _nice_ticks(lo: float, hi: float, count: int = 6) -> list[float]:
    if hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = min((m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw), default=raw)
    first = math.ceil(lo / step) * step
    ticks = []
    value = first
    while value <= hi + step * 1e-9:
        ticks.append(round(value, 10))
        value += step
    return ticks


def _money(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:,.2f}"


def _columns(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per pixel column, its min and max in the order they occur (the path's points)."""
    starts = np.flatnonzero(np.r_[True, x[1:] != x[:-1]])
    points_x: list[np.ndarray] = []
    points_y: list[np.ndarray] = []
    lo_idx = np.array(
        [s + int(np.argmin(y[s:e])) for s, e in zip(starts, np.r_[starts[1:], len(y)], strict=True)]
    )
    hi_idx = np.array(
        [s + int(np.argmax(y[s:e])) for s, e in zip(starts, np.r_[starts[1:], len(y)], strict=True)]
    )
    first = np.minimum(lo_idx, hi_idx)
    second = np.maximum(lo_idx, hi_idx)
    points_x = [x[first], x[second]]
    points_y = [y[first], y[second]]
    xs = np.column_stack(points_x).ravel()
    ys = np.column_stack(points_y).ravel()
    return xs, ys


def render(index: np.ndarray, equity: np.ndarray, stats: dict[str, Any], *, session_id: int) -> str:
    n = len(equity)
    t0, t1 = int(index[0]), int(index[-1])
    span = max(t1 - t0, 1)
    column = (
        np.floor((index - t0) / span * (PLOT_W - 1)).astype(np.int64)
        if n > 1
        else np.zeros(1, np.int64)
    )
    peak = np.maximum.accumulate(equity)
    lo, hi = float(equity.min()), float(equity.max())
    pad = (hi - lo) * 0.06 or max(abs(hi) * 0.01, 1.0)
    lo, hi = lo - pad, hi + pad

    def sy(v: np.ndarray | float) -> Any:
        return TOP + (hi - np.asarray(v)) / (hi - lo) * PLOT_H

    def sx(c: np.ndarray | int) -> Any:
        return LEFT + np.asarray(c, dtype=np.float64)

    xs, ys = _columns(column, equity)
    line = " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(sx(xs), sy(ys), strict=True))
    # Drawdown area: the running peak on top, equity's column minimum below.
    starts = np.flatnonzero(np.r_[True, column[1:] != column[:-1]])
    ends = np.r_[starts[1:], n]
    peak_top = np.maximum.reduceat(peak, starts)
    eq_bottom = np.minimum.reduceat(equity, starts)
    cols = column[starts]
    area_pts = [f"{a:.1f},{b:.1f}" for a, b in zip(sx(cols), sy(peak_top), strict=True)]
    area_pts += [
        f"{a:.1f},{b:.1f}" for a, b in zip(sx(cols[::-1]), sy(eq_bottom[::-1]), strict=True)
    ]
    del ends

    dd = 1 - equity / peak
    trough = int(np.argmax(dd))
    peak_at = int(np.argmax(equity[: trough + 1]))
    top = int(np.argmax(equity))

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="Helvetica, Arial, sans-serif" '
        'font-size="12" role="img">',
        f"<title>Equity of session {session_id}</title>",
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>',
    ]
    ret = stats.get("return_pct")
    mdd = stats.get("max_drawdown_pct")
    title = (
        f"Session {session_id} equity · return "
        f"{'n/a' if ret is None else f'{ret:+.2f} %'} · max drawdown "
        f"{'n/a' if mdd is None else f'{mdd:.2f} %'} · {stats.get('trades', 0)} trades"
    )
    parts.append(
        f'<text x="{LEFT}" y="30" font-size="16" font-weight="bold" fill="#1a1a1a">'
        f"{escape(title)}</text>"
    )
    # Value axis: grid lines and money labels.
    for tick in _nice_ticks(lo, hi):
        y = float(sy(tick))
        parts.append(
            f'<line x1="{LEFT}" y1="{y:.1f}" x2="{LEFT + PLOT_W}" y2="{y:.1f}" stroke="#e6e6e6"/>'
        )
        parts.append(
            f'<text x="{LEFT - 8}" y="{y + 4:.1f}" text-anchor="end" fill="#555">'
            f"{escape(_money(tick))}</text>"
        )
    # Time axis: about six date labels.
    fmt = "%Y-%m-%d" if span >= 3 * 86400 * NS else "%m-%d %H:%M"
    for k in range(6 if n > 1 else 1):
        t = t0 + span * k / 5 if n > 1 else t0
        x = LEFT + (t - t0) / span * (PLOT_W - 1)
        label = datetime.fromtimestamp(t / NS, tz=UTC).strftime(fmt)
        parts.append(
            f'<line x1="{x:.1f}" y1="{TOP + PLOT_H}" x2="{x:.1f}" '
            f'y2="{TOP + PLOT_H + 5}" stroke="#888"/>'
        )
        anchor = "start" if k == 0 else "end" if k == 5 else "middle"
        parts.append(
            f'<text x="{x:.1f}" y="{TOP + PLOT_H + 20}" text-anchor="{anchor}" fill="#555">'
            f"{label}</text>"
        )
    parts.append(
        f'<rect x="{LEFT}" y="{TOP}" width="{PLOT_W}" height="{PLOT_H}" fill="none" stroke="#bbb"/>'
    )
    start_y = float(sy(equity[0]))
    parts.append(
        f'<line x1="{LEFT}" y1="{start_y:.1f}" x2="{LEFT + PLOT_W}" y2="{start_y:.1f}" '
        'stroke="#999" stroke-dasharray="4 4"/>'
    )
    parts.append(
        f'<polygon points="{" ".join(area_pts)}" fill="#d62728" fill-opacity="0.18" '
        'stroke="none"><title>drawdowns</title></polygon>'
    )
    parts.append(f'<polyline points="{line}" fill="none" stroke="#1f77b4" stroke-width="1.5"/>')
    # Markers: the peak, and the deepest drawdown from its peak to its trough.
    px, py = float(sx(column[top])), float(sy(equity[top]))
    parts.append(
        f'<circle cx="{px:.1f}" cy="{py:.1f}" r="4" fill="#2ca02c"><title>peak '
        f"{_money(float(equity[top]))}</title></circle>"
    )
    parts.append(
        f'<text x="{min(px + 6, LEFT + PLOT_W - 120):.1f}" y="{max(py - 8, TOP + 12):.1f}" '
        f'fill="#2ca02c">peak {escape(_money(float(equity[top])))}</text>'
    )
    if dd[trough] > 0:
        tx = float(sx(column[trough]))
        y_top, y_bottom = float(sy(equity[peak_at])), float(sy(equity[trough]))
        parts.append(
            f'<line x1="{tx:.1f}" y1="{y_top:.1f}" x2="{tx:.1f}" y2="{y_bottom:.1f}" '
            'stroke="#d62728" stroke-width="1.5" stroke-dasharray="3 2"/>'
        )
        parts.append(f'<circle cx="{tx:.1f}" cy="{y_bottom:.1f}" r="4" fill="#d62728"/>')
        label = f"max drawdown {-dd[trough] * 100:.2f} %"
        parts.append(
            f'<text x="{min(tx + 6, LEFT + PLOT_W - 150):.1f}" '
            f'y="{min(y_bottom + 16, TOP + PLOT_H - 6):.1f}" fill="#d62728">{label}</text>'
        )
    parts.append("</svg>")
    return "\n".join(parts)

// The replay chart: lightweight-charts' candlesticks, fed only with bars the API revealed.
//
// Bars from the stream are queued and drawn once per animation frame, so a burst (a seek, a
// 15x replay, a reconnect's backlog) costs one repaint a frame, never one per bar. The host
// element carries what a test or a person's tooling can read without the canvas:
// data-bars (how many bars are drawn), data-last-ts (the last bar's open time, ISO) and
// data-lines (the price lines, JSON).

import {
  CandlestickSeries,
  ColorType,
  CrosshairMode,
  LineStyle,
  createChart,
  createSeriesMarkers,
  type AutoscaleInfo,
  type IChartApi,
  type IPriceLine,
  type ISeriesApi,
  type ISeriesMarkersPluginApi,
  type SeriesMarker,
  type Time,
  type UTCTimestamp,
} from "lightweight-charts";

export interface ChartBar {
  time: number; // open time, epoch seconds (UTC)
  open: number;
  high: number;
  low: number;
  close: number;
}

export interface ChartLine {
  id: string;
  price: number;
  title: string;
  kind: "entry" | "sl" | "tp" | "order";
}

export interface ChartMarker {
  time: number;
  side: "BUY" | "SELL";
  kind: "open" | "close";
  text: string;
}

const LINE_STYLE: Record<ChartLine["kind"], { color: string; style: LineStyle }> = {
  entry: { color: "#64748b", style: LineStyle.Dotted },
  sl: { color: "#dc2626", style: LineStyle.Dashed },
  tp: { color: "#16a34a", style: LineStyle.Dashed },
  order: { color: "#2563eb", style: LineStyle.LargeDashed },
};

/** Above this many queued bars a frame redraws the whole series instead of updating. */
const BULK_THRESHOLD = 200;

export class ReplayChart {
  private readonly chart: IChartApi;
  private readonly series: ISeriesApi<"Candlestick">;
  private readonly markers: ISeriesMarkersPluginApi<Time>;
  private readonly bars: ChartBar[] = [];
  private queue: ChartBar[] = [];
  private frame = 0;
  private readonly lines = new Map<string, { line: IPriceLine; spec: ChartLine }>();
  private destroyed = false;
  private takenBack = 0; // bars drawn, then taken back by a reading of the clock (data-taken-back)
  /** Called after each frame that drew bars, with the last bar. */
  onBars: ((last: ChartBar) => void) | null = null;
  /** Called when the user scrolls to the oldest bar drawn (load older history). */
  onNeedOlder: (() => void) | null = null;

  constructor(
    private readonly host: HTMLElement,
    digits: number,
    point: number,
  ) {
    this.chart = createChart(host, {
      autoSize: true,
      layout: {
        background: { type: ColorType.Solid, color: "#ffffff" },
        textColor: "#334155",
        fontSize: 11,
        attributionLogo: false,
      },
      grid: {
        vertLines: { color: "#f1f5f9" },
        horzLines: { color: "#f1f5f9" },
      },
      crosshair: { mode: CrosshairMode.Normal },
      rightPriceScale: { borderVisible: false },
      timeScale: { borderVisible: false, timeVisible: true, secondsVisible: false, rightOffset: 6 },
    });
    this.series = this.chart.addSeries(CandlestickSeries, {
      upColor: "#16a34a",
      downColor: "#dc2626",
      borderVisible: false,
      wickUpColor: "#16a34a",
      wickDownColor: "#dc2626",
      priceFormat: { type: "price", precision: digits, minMove: point },
      // The price scale also takes in the SL/TP/order lines, so a level is never off-screen.
      autoscaleInfoProvider: (original: () => AutoscaleInfo | null) => {
        const info = original();
        if (!info?.priceRange || this.lines.size === 0) return info;
        let { minValue, maxValue } = info.priceRange;
        for (const { spec } of this.lines.values()) {
          minValue = Math.min(minValue, spec.price);
          maxValue = Math.max(maxValue, spec.price);
        }
        return { ...info, priceRange: { minValue, maxValue } };
      },
    });
    this.markers = createSeriesMarkers(this.series, []);
    this.chart.timeScale().subscribeVisibleLogicalRangeChange((range) => {
      if (range && range.from < 10 && this.bars.length > 0) this.onNeedOlder?.();
    });
    this.publish();
  }

  get count(): number {
    return this.bars.length;
  }

  /** Open time of the last bar drawn or queued (epoch seconds), or null. */
  get lastTime(): number | null {
    return this.lastBar?.time ?? null;
  }

  get firstTime(): number | null {
    return this.bars[0]?.time ?? null;
  }

  get lastBar(): ChartBar | null {
    return this.queue.at(-1) ?? this.bars.at(-1) ?? null;
  }

  /** Replace everything (the first load, or a resync). */
  setBars(bars: ChartBar[]): void {
    this.queue = [];
    this.bars.length = 0;
    for (const b of bars) this.bars.push(b);
    this.series.setData(this.bars.map(toData));
    this.publish();
    const last = this.bars.at(-1);
    if (last) this.onBars?.(last);
  }

  /** Older history in front of what is drawn (keeps the user's view where it is). */
  prependBars(older: ChartBar[]): void {
    this.flushNow();
    const first = this.firstTime;
    const fresh = first == null ? older : older.filter((b) => b.time < first);
    if (!fresh.length) return;
    const range = this.chart.timeScale().getVisibleLogicalRange();
    this.bars.unshift(...fresh);
    this.series.setData(this.bars.map(toData));
    if (range) {
      this.chart
        .timeScale()
        .setVisibleLogicalRange({ from: range.from + fresh.length, to: range.to + fresh.length });
    }
    this.publish();
  }

  /** Newly revealed bars, oldest first; drawn on the next animation frame. A bar at the
   * last bar's time replaces it; an older one is ignored (it was drawn already). */
  push(bar: ChartBar): void {
    const last = this.lastTime;
    if (last != null && bar.time < last) return;
    if (last != null && bar.time === last && this.queue.length) this.queue.pop();
    this.queue.push(bar);
    if (!this.frame && !this.destroyed) this.frame = requestAnimationFrame(() => this.flush());
  }

  private flush(): void {
    this.frame = 0;
    if (this.destroyed || !this.queue.length) return;
    const probe = (globalThis as { __replayChartProbe?: (ms: number, bars: number) => void }).__replayChartProbe;
    const started = probe ? performance.now() : 0;
    const count = this.queue.length;
    const queued = this.queue;
    this.queue = [];
    const bulk = queued.length > BULK_THRESHOLD;
    for (const b of queued) {
      const last = this.bars.at(-1);
      if (last && b.time < last.time) continue;
      if (last && b.time === last.time) this.bars[this.bars.length - 1] = b;
      else this.bars.push(b);
      if (!bulk) this.series.update(toData(b));
    }
    if (bulk) this.series.setData(this.bars.map(toData));
    this.publish();
    const last = this.bars.at(-1);
    if (last) this.onBars?.(last);
    // A test (or a person in the console) may watch what a frame's bars cost the page.
    probe?.(performance.now() - started, count);
  }

  /** Draw what is queued at once (before a resync compares the last bar). */
  flushNow(): void {
    if (this.frame) cancelAnimationFrame(this.frame);
    this.flush();
  }

  /** Take back the bars after `time` (epoch seconds): the API's clock says they are not
   * revealed (a stream that ran a moment ahead of a pause). Returns them, oldest first. */
  truncateAfter(time: number): ChartBar[] {
    this.flushNow();
    let n = 0;
    while (n < this.bars.length && (this.bars[this.bars.length - 1 - n]?.time ?? 0) > time) n++;
    if (n === 0) return [];
    const removed = this.bars.splice(this.bars.length - n, n);
    this.series.pop(n);
    this.takenBack += n;
    this.host.dataset.takenBack = String(this.takenBack);
    this.publish();
    const last = this.bars.at(-1);
    if (last) this.onBars?.(last);
    return removed;
  }

  /** The price lines wanted now: added, moved or removed to match. */
  setLines(wanted: ChartLine[]): void {
    const keep = new Set(wanted.map((l) => l.id));
    for (const [id, entry] of this.lines) {
      if (!keep.has(id)) {
        this.series.removePriceLine(entry.line);
        this.lines.delete(id);
      }
    }
    for (const spec of wanted) {
      const style = LINE_STYLE[spec.kind];
      const found = this.lines.get(spec.id);
      const options = {
        price: spec.price,
        title: spec.title,
        color: style.color,
        lineStyle: style.style,
        lineWidth: 1 as const,
        axisLabelVisible: true,
      };
      if (found) {
        if (found.spec.price !== spec.price || found.spec.title !== spec.title) {
          found.line.applyOptions(options);
          found.spec = spec;
        }
      } else {
        this.lines.set(spec.id, { line: this.series.createPriceLine(options), spec });
      }
    }
    this.host.dataset.lines = JSON.stringify(
      [...this.lines.values()].map(({ spec }) => ({ title: spec.title, price: spec.price, kind: spec.kind })),
    );
  }

  setMarkers(list: ChartMarker[]): void {
    const sorted = [...list].sort((a, b) => a.time - b.time);
    const out: SeriesMarker<Time>[] = sorted.map((m) => ({
      time: m.time as UTCTimestamp,
      position: m.side === "BUY" ? "belowBar" : "aboveBar",
      shape: m.side === "BUY" ? "arrowUp" : "arrowDown",
      color: m.kind === "open" ? (m.side === "BUY" ? "#2563eb" : "#db2777") : "#64748b",
      text: m.text,
    }));
    this.markers.setMarkers(out);
    this.host.dataset.markers = String(out.length);
  }

  /** Scroll so the last bar is in view. */
  scrollToEnd(): void {
    this.chart.timeScale().scrollToRealTime();
  }

  destroy(): void {
    this.destroyed = true;
    if (this.frame) cancelAnimationFrame(this.frame);
    this.chart.remove();
  }

  private publish(): void {
    this.host.dataset.bars = String(this.bars.length);
    const last = this.bars.at(-1);
    this.host.dataset.lastTs = last ? new Date(last.time * 1000).toISOString().replace(".000Z", "Z") : "";
  }
}

function toData(b: ChartBar) {
  return { time: b.time as UTCTimestamp, open: b.open, high: b.high, low: b.low, close: b.close };
}

// /trade/sessions/:id: the replay screen. The chart shows exactly the bars the API revealed:
// the window `GET /sessions/{id}/candles` returns, then each `bar` event of the stream, and
// nothing else (no bar is guessed, extended or drawn ahead of the clock).
//
// Loading without a gap: the stream and the candles are asked for at once. The stream sends
// the bars revealed after the clock as it read it when it opened (its first `state` event
// carries that instant); the candles hold every bar up to the clock as the candles read saw
// it. When the candles saw an older clock than the stream, they are read again, so the two
// always meet. Bars that arrive while the candles load wait and are merged after them.

import { ApiError, api } from "../api";
import { navigate } from "../router";
import { busy, clearFormErrors, formErrors, h, link, toast } from "../ui";
import { ReplayChart, type ChartBar, type ChartMarker } from "./chart";
import { barTime, epoch, fromLocalInput, toLocalInput, utc, volume } from "./format";
import { TradingPanel } from "./panel";
import { statusBadge } from "./sessions";
import { ReplayStream } from "./stream";
import type {
  Account,
  Candle,
  Instrument,
  Order,
  OrderList,
  Position,
  PositionList,
  Report,
  Session,
  SessionCandles,
  SessionStatus,
  Speed,
  StreamState,
} from "./types";
import { SPEEDS } from "./types";

const WINDOW = 5000; // bars per candles read (the API's largest page)
const MAX_CLOSED = 300; // closed positions read for the chart's markers

function toBar(c: Candle): ChartBar {
  return { time: epoch(c.ts), open: c.open, high: c.high, low: c.low, close: c.close };
}

export async function renderReplay(root: HTMLElement, params: Record<string, string>): Promise<() => void> {
  const id = Number(params.id);
  const loading = h("div", { class: "tr-loading", "aria-busy": "true" }, h("p", { class: "muted" }, "Loading the replay…"));
  root.append(loading);
  if (!Number.isInteger(id) || id < 1) {
    loading.replaceWith(notFound("There is no such session."));
    return () => {};
  }
  let session: Session;
  let instrument: Instrument;
  try {
    session = await api<Session>("GET", `/sessions/${id}`);
    instrument = await api<Instrument>("GET", `/instruments/${session.instrument_id}`);
  } catch (err) {
    const msg =
      err instanceof ApiError && err.status === 404
        ? "This session does not exist (it may have been deleted)."
        : err instanceof ApiError && err.status === 403
          ? "This session belongs to someone else."
          : err instanceof Error
            ? err.message
            : String(err);
    loading.replaceWith(notFound(msg));
    return () => {};
  }
  loading.remove();
  root.classList.add("tr-wide"); // the chart takes the width a wide screen has
  const screen = new ReplayScreen(root, session, instrument);
  screen.start();
  return () => {
    screen.destroy();
    root.classList.remove("tr-wide");
  };
}

function notFound(message: string): HTMLElement {
  return h(
    "section",
    { class: "card tr-error", role: "alert" },
    h("h1", null, "Replay unavailable"),
    h("p", null, message),
    link("/trade", "Back to your sessions", { class: "button" }),
  );
}

class ReplayScreen {
  private readonly chart: ReplayChart;
  private readonly stream: ReplayStream;
  private readonly panel: TradingPanel;
  private readonly chartHost: HTMLElement;
  private readonly statusEl: HTMLElement;
  private readonly clockEl: HTMLElement;
  private readonly clockLabel: HTMLElement;
  private readonly playBtn: HTMLButtonElement;
  private readonly speedSel: HTMLSelectElement;
  private readonly stepBtns: HTMLButtonElement[];
  private readonly seekForm: HTMLFormElement;
  private readonly seekInput: HTMLInputElement;
  private seekEdited = false;
  private readonly stopBtn: HTMLButtonElement;
  private readonly reportBtn: HTMLButtonElement;
  private readonly banner: HTMLElement;
  private readonly emptyNote: HTMLElement;

  private loaded = false; // the first window is drawn
  private syncing = true; // a candles read is in flight: stream bars wait in `buffered`
  private buffered: ChartBar[] = [];
  // Bars the stream sent that the API's clock had not revealed when last read (the stream can
  // run a few ms ahead of a pause): drawn once the clock is known to have passed them.
  private held: ChartBar[] = [];
  private candlesClock: number | null = null; // the clock the last merged read saw
  private streamClock: number | null | undefined = undefined; // the stream's first state
  private destroyed = false;
  private refreshing = false;
  private refreshAgain = false;
  private refreshTimer = 0;
  private loadingOlder = false;
  private noOlder = false;
  private reconnectTimer = 0;
  private readonly keyHandler: (e: KeyboardEvent) => void;

  constructor(
    private readonly root: HTMLElement,
    private session: Session,
    private readonly instrument: Instrument,
  ) {
    const s = session;
    this.statusEl = h("span", { class: "tr-status-slot" }, statusBadge(s.session_status));
    this.clockLabel = h("span", { class: "muted" }, "Replay at ");
    this.clockEl = h("span", { class: "tr-clock", "aria-live": "off" }, utc(s.current_ts ?? s.start_ts));
    this.chartHost = h("div", { class: "tr-chart", "data-bars": "0", role: "img", "aria-label": `${instrument.symbol} ${s.timeframe} candlestick chart` });
    this.emptyNote = h("p", { class: "tr-chart-empty muted", hidden: true }, "No bars yet: start the replay to reveal the first one.");
    this.banner = h("div", { class: "tr-banner", hidden: true, role: "status" });

    this.playBtn = h("button", { type: "button", class: "primary tr-play", "aria-keyshortcuts": "Space", onclick: () => void this.playPause() }, "Play");
    this.speedSel = h(
      "select",
      { name: "speed", "aria-label": "Speed (bars per second)", onchange: () => void this.changeSpeed() },
      SPEEDS.map((sp) => h("option", { value: sp, selected: sp === s.speed }, sp)),
    );
    const step = (label: string, body: object, keys: string, title: string) =>
      h(
        "button",
        {
          type: "button",
          class: "tr-step",
          "aria-keyshortcuts": keys,
          title,
          onclick: (e: Event) => void this.step(body, e.currentTarget as HTMLButtonElement),
        },
        label,
      );
    this.stepBtns = [
      step("Step 1", { bars: 1 }, "ArrowRight", "Reveal the next bar (→)"),
      step("Step 10", { bars: 10 }, "Shift+ArrowRight", "Reveal 10 bars (Shift+→)"),
      step("Step until fill", { until: "fill" }, "F", "Reveal bars until the next fill (F)"),
    ];
    this.seekForm = h(
      "form",
      { class: "tr-seek", novalidate: true, "aria-label": "Seek" },
      h("div", { class: "form-error", role: "alert", hidden: true }),
      h(
        "label",
        { class: "field" },
        h("span", { class: "field-label" }, "Go to (UTC)"),
        (this.seekInput = h("input", { name: "ts", type: "datetime-local", value: toLocalInput(s.current_ts ?? s.start_ts) })),
      ),
      h("button", { type: "submit", class: null }, "Seek"),
    );
    this.seekInput.addEventListener("input", () => {
      this.seekEdited = true;
    });
    this.seekForm.addEventListener("submit", (e) => {
      e.preventDefault();
      void this.seek();
    });
    this.stopBtn = h("button", { type: "button", class: "ghost small tr-danger", onclick: (e: Event) => void this.stop(e.currentTarget as HTMLButtonElement) }, "End replay");
    this.reportBtn = h("button", { type: "button", class: "small", onclick: (e: Event) => void this.report(e.currentTarget as HTMLButtonElement) }, "Generate report");

    this.chart = new ReplayChart(this.chartHost, instrument.digits, instrument.point);
    this.chart.onBars = (last) => this.onBars(last);
    this.chart.onNeedOlder = () => void this.loadOlder();

    this.panel = new TradingPanel({
      session: () => this.session,
      instrument,
      refresh: () => this.scheduleRefresh(0),
      canTrade: () => this.session.session_status === "RUNNING" || this.session.session_status === "PAUSED",
    });

    this.stream = new ReplayStream(s.id, {
      state: (st, first) => this.onState(st, first),
      status: (st) => this.onStatus(st),
      bar: (c) => this.onStreamBar(c),
      fill: () => this.scheduleRefresh(50),
      deleted: () => {
        toast("This session was deleted.", "error");
        navigate("/trade", { replace: true });
      },
      lost: () => this.onLost(),
    });

    const shortcuts = h(
      "p",
      { class: "tr-keys muted" },
      "Keys: ",
      h("kbd", null, "Space"),
      " play/pause · ",
      h("kbd", null, "→"),
      " step 1 · ",
      h("kbd", null, "Shift"),
      "+",
      h("kbd", null, "→"),
      " step 10 · ",
      h("kbd", null, "F"),
      " step until fill",
    );

    root.append(
      h(
        "div",
        { class: "tr-replay" },
        h(
          "header",
          { class: "tr-head" },
          h(
            "div",
            { class: "tr-title" },
            link("/trade", "← Sessions", { class: "tr-back" }),
            h("h1", null, `${instrument.symbol} · ${s.timeframe}`, h("span", { class: "muted" }, ` #${s.id}`)),
            this.statusEl,
          ),
          h(
            "div",
            { class: "tr-head-side" },
            h("div", { class: "tr-now" }, this.clockLabel, this.clockEl),
            h("div", { class: "tr-control-group" }, this.reportBtn, this.stopBtn),
          ),
        ),
        this.banner,
        h(
          "div",
          { class: "tr-main" },
          h(
            "div",
            { class: "tr-chart-col" },
            h("div", { class: "tr-chart-wrap" }, this.chartHost, this.emptyNote),
            h(
              "div",
              { class: "tr-controls", role: "toolbar", "aria-label": "Replay controls" },
              h("div", { class: "tr-control-group" }, this.playBtn, h("label", { class: "tr-speed" }, h("span", { class: "muted" }, "Speed"), this.speedSel)),
              h("div", { class: "tr-control-group" }, ...this.stepBtns),
              this.seekForm,
            ),
            shortcuts,
          ),
          this.panel.el,
        ),
      ),
    );

    this.keyHandler = (e) => this.onKey(e);
    document.addEventListener("keydown", this.keyHandler);
    this.drawStatus();
  }

  start(): void {
    this.stream.open();
    void this.loadCandles();
    this.scheduleRefresh(0);
  }

  destroy(): void {
    this.destroyed = true;
    document.removeEventListener("keydown", this.keyHandler);
    clearTimeout(this.refreshTimer);
    clearTimeout(this.reconnectTimer);
    this.stream.close();
    this.chart.destroy();
  }

  // ---- bars ----

  /** Read the newest window of revealed bars and merge it (the first load draws it). Stream
   * bars wait meanwhile and follow it, so nothing is drawn out of order or skipped. */
  private async loadCandles(): Promise<void> {
    this.syncing = true;
    this.chartHost.setAttribute("aria-busy", "true");
    try {
      for (let attempt = 0; ; attempt++) {
        const body = await api<SessionCandles>("GET", `/sessions/${this.session.id}/candles`, undefined, {
          query: { limit: WINDOW },
        });
        if (this.destroyed) return;
        const seen = body.current_ts ? epoch(body.current_ts) : null;
        // The stream opened on a later clock than this read saw: read again, or the bars
        // between the two would be missing.
        const behind = this.streamClock != null && (seen == null || seen < this.streamClock);
        if (behind && attempt < 4) continue;
        this.merge(body.candles.map(toBar), seen);
        this.banner.hidden = !this.finished();
        return;
      }
    } catch (err) {
      if (this.destroyed) return;
      this.banner.hidden = false;
      this.banner.className = "tr-banner tr-banner-error";
      this.banner.replaceChildren(
        `The chart could not load: ${err instanceof Error ? err.message : String(err)} `,
        h("button", { type: "button", class: "small", onclick: () => void this.loadCandles() }, "Retry"),
      );
    } finally {
      this.syncing = false;
      for (const b of this.buffered) this.chart.push(b);
      this.buffered = [];
      this.chartHost.removeAttribute("aria-busy");
    }
  }

  private merge(bars: ChartBar[], seen: number | null): void {
    if (!this.loaded) {
      this.noOlder = bars.length < WINDOW;
      this.chart.setBars(bars);
      this.loaded = true;
    } else {
      for (const b of bars) this.chart.push(b); // older ones are ignored: drawn already
    }
    this.candlesClock = seen;
    this.emptyNote.hidden = this.chart.lastBar != null;
  }

  private onStreamBar(c: Candle): void {
    const bar = toBar(c);
    if (this.syncing) {
      this.buffered.push(bar);
      return;
    }
    const st = this.session.session_status;
    const bound = this.session.current_ts ? epoch(this.session.current_ts) : null;
    if (st !== "RUNNING" && bound != null && bar.time > bound) {
      this.held.push(bar); // not revealed as far as the API said: wait for it to say so
      return;
    }
    this.release(bar.time); // a later bar: the clock passed the held ones
    this.chart.push(bar);
  }

  /** Draw the held bars at or before `time` (epoch seconds). */
  private release(time: number): void {
    if (!this.held.length) return;
    const ready = this.held.filter((b) => b.time <= time);
    this.held = this.held.filter((b) => b.time > time);
    for (const b of ready) this.chart.push(b);
  }

  /** An authoritative reading of the clock (a session the API returned, or the stream's
   * state): no bar after its current_ts stays drawn, and held bars up to it are drawn. */
  private reconcile(currentTs: string | null): void {
    if (!currentTs || !this.loaded || this.syncing) return;
    const bound = epoch(currentTs);
    const taken = this.chart.truncateAfter(bound);
    if (taken.length) this.held = [...taken, ...this.held].sort((a, b) => a.time - b.time);
    this.release(bound);
  }

  private onBars(last: ChartBar): void {
    if (this.session.session_status !== "DRAFT") {
      const iso = new Date(last.time * 1000).toISOString();
      this.clockEl.textContent = utc(iso);
      // The seek field follows the clock until the user types a date of their own.
      if (!this.seekEdited) this.seekInput.value = toLocalInput(iso);
    }
    this.emptyNote.hidden = true;
    this.panel.onBar(last.close);
  }

  private async loadOlder(): Promise<void> {
    if (this.loadingOlder || this.noOlder || !this.loaded) return;
    const first = this.chart.firstTime;
    if (first == null) return;
    this.loadingOlder = true;
    try {
      const body = await api<SessionCandles>("GET", `/sessions/${this.session.id}/candles`, undefined, {
        query: { limit: WINDOW, before: new Date(first * 1000).toISOString() },
      });
      if (this.destroyed) return;
      if (body.candles.length < WINDOW) this.noOlder = true;
      this.chart.prependBars(body.candles.map(toBar));
    } catch {
      // Scrolling back again retries; the bars drawn stay as they are.
    } finally {
      this.loadingOlder = false;
    }
  }

  // ---- the stream ----

  private onState(st: StreamState, first: boolean): void {
    if (first) {
      this.streamClock = st.current_ts ? epoch(st.current_ts) : null;
      // The candles came first and saw an older clock: fetch the bars in between.
      const clock = this.streamClock;
      if (this.loaded && !this.syncing && clock != null && (this.candlesClock == null || this.candlesClock < clock)) {
        void this.loadCandles();
      }
    }
    this.applyState(st);
  }

  private onStatus(st: StreamState): void {
    const was = this.session.session_status;
    this.applyState(st);
    if (was !== st.session_status) this.scheduleRefresh(0);
  }

  private applyState(st: StreamState): void {
    this.session = { ...this.session, session_status: st.session_status, speed: st.speed, current_ts: st.current_ts ?? this.session.current_ts };
    this.reconcile(st.current_ts);
    this.drawStatus();
  }

  /** A session the API returned (lifecycle, step, seek, speed): its clock is the truth. */
  private setSession(session: Session): void {
    this.session = session;
    this.reconcile(session.current_ts);
    this.drawStatus();
  }

  /** The browser stopped reconnecting (a refused reconnect, e.g. an expired login): renew
   * the login through a plain read, open the stream again and merge the bars missed. */
  private onLost(): void {
    if (this.destroyed) return;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = window.setTimeout(async () => {
      if (this.destroyed) return;
      try {
        this.setSession(await api<Session>("GET", `/sessions/${this.session.id}`));
      } catch {
        this.onLost();
        return;
      }
      this.streamClock = undefined;
      if (!this.finished()) this.stream.open();
      await this.loadCandles();
      this.scheduleRefresh(0);
    }, 1000);
  }

  private finished(): boolean {
    return this.session.session_status === "COMPLETED" || this.session.session_status === "ARCHIVED";
  }

  // ---- controls ----

  private drawStatus(): void {
    const st: SessionStatus = this.session.session_status;
    this.statusEl.replaceChildren(statusBadge(st));
    const finished = st === "COMPLETED" || st === "ARCHIVED";
    const started = st === "RUNNING" || st === "PAUSED";
    this.clockLabel.textContent = st === "DRAFT" ? "Starts at " : "Replay at ";
    if (st === "DRAFT") this.clockEl.textContent = utc(this.session.start_ts);
    else if (this.chart?.lastBar) this.clockEl.textContent = utc(new Date(this.chart.lastBar.time * 1000).toISOString());
    this.playBtn.textContent = st === "DRAFT" ? "Start" : st === "RUNNING" ? "Pause" : st === "PAUSED" ? "Play" : "Finished";
    this.playBtn.disabled = finished;
    this.playBtn.setAttribute("aria-pressed", st === "RUNNING" ? "true" : "false");
    this.speedSel.value = this.session.speed;
    this.speedSel.disabled = finished;
    for (const b of this.stepBtns) b.disabled = !started;
    for (const el of this.seekForm.querySelectorAll<HTMLInputElement | HTMLButtonElement>("input, button")) el.disabled = !started;
    this.stopBtn.disabled = !started;
    this.reportBtn.disabled = st === "DRAFT";
    this.root.querySelector(".tr-replay")?.setAttribute("data-status", st);
    if (finished) {
      this.banner.hidden = false;
      this.banner.className = "tr-banner";
      this.banner.replaceChildren(
        "The replay is over. ",
        link(`/trade/sessions/${this.session.id}/report`, "See its report", { class: "button small" }),
      );
    } else if (this.banner.classList.contains("tr-banner") && !this.banner.classList.contains("tr-banner-error")) {
      this.banner.hidden = true;
    }
    this.panel?.setEnabled();
  }

  private async lifecycle(action: "start" | "pause" | "resume" | "stop"): Promise<void> {
    try {
      this.setSession(await api<Session>("POST", `/sessions/${this.session.id}/${action}`));
      this.scheduleRefresh(0);
    } catch (err) {
      this.failed(err);
    }
  }

  private async playPause(): Promise<void> {
    const st = this.session.session_status;
    const action = st === "DRAFT" ? "start" : st === "RUNNING" ? "pause" : st === "PAUSED" ? "resume" : null;
    if (!action) return;
    await busy(this.playBtn, () => this.lifecycle(action));
    this.drawStatus();
  }

  private async changeSpeed(): Promise<void> {
    const speed = this.speedSel.value as Speed;
    try {
      this.setSession(await api<Session>("PUT", `/sessions/${this.session.id}`, { speed }));
    } catch (err) {
      this.speedSel.value = this.session.speed;
      this.failed(err);
    }
  }

  private async step(body: object, button: HTMLButtonElement | null): Promise<void> {
    if (!(this.session.session_status === "RUNNING" || this.session.session_status === "PAUSED")) return;
    await busy(button, async () => {
      try {
        this.setSession(await api<Session>("POST", `/sessions/${this.session.id}/step`, body));
        this.scheduleRefresh(0);
      } catch (err) {
        this.failed(err);
      }
    });
    this.drawStatus();
  }

  private async seek(): Promise<void> {
    const input = this.seekForm.elements.namedItem("ts") as HTMLInputElement;
    const ts = fromLocalInput(input.value);
    const button = this.seekForm.querySelector<HTMLButtonElement>("button");
    await busy(button, async () => {
      clearFormErrors(this.seekForm);
      try {
        this.setSession(await api<Session>("POST", `/sessions/${this.session.id}/seek`, { ts: ts || null }));
        this.seekEdited = false;
        this.scheduleRefresh(0);
      } catch (err) {
        formErrors(this.seekForm, err instanceof Error ? err : new Error(String(err)));
      }
    });
    this.drawStatus();
  }

  private async stop(button: HTMLButtonElement | null): Promise<void> {
    if (!window.confirm("End the replay now? Open positions close at the current bar.")) return;
    await busy(button, () => this.lifecycle("stop"));
    this.drawStatus();
  }

  private async report(button: HTMLButtonElement | null): Promise<void> {
    await busy(button, async () => {
      try {
        const r = await api<Report>("POST", `/sessions/${this.session.id}/generate-report`);
        navigate(`/trade/sessions/${this.session.id}/report?report=${r.id}`);
      } catch (err) {
        this.failed(err);
      }
    });
  }

  private failed(err: unknown): void {
    toast(err instanceof Error ? err.message : String(err), "error");
  }

  private onKey(e: KeyboardEvent): void {
    if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey) return;
    const target = e.target as HTMLElement | null;
    const tag = target?.tagName ?? "";
    if (tag === "INPUT" || tag === "SELECT" || tag === "TEXTAREA" || target?.isContentEditable) return;
    if (e.key === " " || e.code === "Space") {
      if (tag === "BUTTON" || tag === "A") return; // the focused control's own click
      e.preventDefault();
      void this.playPause();
    } else if (e.key === "ArrowRight") {
      e.preventDefault();
      void this.step({ bars: e.shiftKey ? 10 : 1 }, null);
    } else if (e.key === "f" || e.key === "F") {
      e.preventDefault();
      void this.step({ until: "fill" }, null);
    }
  }

  // ---- positions, orders, account ----

  private scheduleRefresh(delay: number): void {
    if (this.destroyed) return;
    clearTimeout(this.refreshTimer);
    this.refreshTimer = window.setTimeout(() => void this.refresh(), delay);
  }

  private async refresh(): Promise<void> {
    if (this.refreshing) {
      this.refreshAgain = true;
      return;
    }
    this.refreshing = true;
    try {
      const sid = this.session.id;
      const [account, open, orders, closed] = await Promise.all([
        api<Account>("GET", `/sessions/${sid}/account`),
        listAll<Position, PositionList>(`/sessions/${sid}/positions`, "positions", "OPEN", 500),
        listAll<Order, OrderList>(`/sessions/${sid}/orders`, "orders", "PENDING", 500),
        listAll<Position, PositionList>(`/sessions/${sid}/positions`, "positions", "CLOSED", MAX_CLOSED),
      ]);
      if (this.destroyed) return;
      this.panel.update(account, open, orders, closed);
      this.chart.setLines(this.panel.lines());
      this.chart.setMarkers(markers([...open, ...closed], this.session, this.instrument));
      const last = this.chart.lastBar;
      if (last) this.panel.onBar(last.close);
    } catch (err) {
      if (!this.destroyed) this.failed(err);
    } finally {
      this.refreshing = false;
      if (this.refreshAgain && !this.destroyed) {
        this.refreshAgain = false;
        this.scheduleRefresh(0);
      }
    }
  }
}

/** The newest `max` items of a paged list (oldest first): its last pages. */
async function listAll<T, L extends { total: number; limit: number }>(
  path: string,
  key: string,
  status: string,
  max: number,
): Promise<T[]> {
  const limit = 100;
  const first = await api<L>("GET", path, undefined, { query: { status, page: 1, limit } });
  const items = (first as unknown as Record<string, T[]>)[key] ?? [];
  const pages = Math.ceil(first.total / limit);
  if (pages <= 1) return items;
  const want = Math.ceil(Math.min(first.total, max) / limit);
  const from = Math.max(2, pages - want + 1);
  const rest = await Promise.all(
    Array.from({ length: pages - from + 1 }, (_, i) =>
      api<L>("GET", path, undefined, { query: { status, page: from + i, limit } }),
    ),
  );
  const tail = rest.flatMap((r) => (r as unknown as Record<string, T[]>)[key] ?? []);
  return from === 2 ? [...items, ...tail] : tail;
}

const SHORT_REASON: Record<string, string> = {
  MANUAL: "close",
  STOP_LOSS: "SL",
  TAKE_PROFIT: "TP",
  STOP_OUT: "stop out",
  SESSION_END: "end",
};

/** Fills as chart markers: each position's open (not a partial close's record, which shares
 * its parent's) and each close, on the session bar that holds it. */
function markers(positions: Position[], session: Session, inst: Instrument): ChartMarker[] {
  const out: ChartMarker[] = [];
  for (const p of positions) {
    if (p.parent_id == null) {
      out.push({ time: barTime(p.open_ts, session.timeframe), side: p.side, kind: "open", text: `${p.side} ${volume(p.volume, inst)}` });
    }
    if (p.status === "CLOSED" && p.close_ts) {
      out.push({
        time: barTime(p.close_ts, session.timeframe),
        side: p.side === "BUY" ? "SELL" : "BUY",
        kind: "close",
        text: SHORT_REASON[p.close_reason ?? ""] ?? "close",
      });
    }
  }
  return out;
}

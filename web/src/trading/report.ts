// /trade/sessions/:id/report: a session's reports. The chosen one (?report=<id>, else the
// newest) shows its statistics, the service's equity picture (SVG), its trades and the CSV.

import { ApiError, api } from "../api";
import { navigate } from "../router";
import { busy, h, link, toast } from "../ui";
import { duration, money, percent, price, signedMoney, utc, volume } from "./format";
import { statusBadge } from "./sessions";
import type { Instrument, Report, ReportList, Session } from "./types";

type Kind = "money" | "pct" | "ratio" | "count" | "duration" | "time";

/** The statistics in three groups, in reading order: label and how to show the figure. */
const GROUPS: [string, [string, string, Kind][]][] = [
  [
    "Returns",
    [
      ["start", "Start", "time"],
      ["end", "End", "time"],
      ["duration", "Duration", "duration"],
      ["exposure_time_pct", "Exposure time", "pct"],
      ["equity_final", "Final equity", "money"],
      ["equity_peak", "Peak equity", "money"],
      ["return_pct", "Return", "pct"],
      ["return_ann_pct", "Return (annualized)", "pct"],
      ["volatility_ann_pct", "Volatility (annualized)", "pct"],
      ["commissions", "Commissions", "money"],
    ],
  ],
  [
    "Risk",
    [
      ["sharpe_ratio", "Sharpe ratio", "ratio"],
      ["sortino_ratio", "Sortino ratio", "ratio"],
      ["calmar_ratio", "Calmar ratio", "ratio"],
      ["max_drawdown_pct", "Max drawdown", "pct"],
      ["avg_drawdown_pct", "Avg drawdown", "pct"],
      ["max_drawdown_duration", "Max drawdown duration", "duration"],
      ["avg_drawdown_duration", "Avg drawdown duration", "duration"],
      ["sqn", "SQN", "ratio"],
      ["expectancy_pct", "Expectancy", "pct"],
      ["profit_factor", "Profit factor", "ratio"],
      ["profit_factor_money", "Profit factor (money)", "ratio"],
    ],
  ],
  [
    "Trades",
    [
      ["trades", "Trades", "count"],
      ["win_rate_pct", "Win rate", "pct"],
      ["best_trade_pct", "Best trade", "pct"],
      ["worst_trade_pct", "Worst trade", "pct"],
      ["avg_trade_pct", "Avg trade", "pct"],
      ["max_trade_duration", "Max trade duration", "duration"],
      ["avg_trade_duration", "Avg trade duration", "duration"],
      ["gross_profit", "Gross profit", "money"],
      ["gross_loss", "Gross loss", "money"],
      ["largest_win", "Largest win", "money"],
      ["largest_loss", "Largest loss", "money"],
      ["max_consecutive_wins", "Max consecutive wins", "count"],
      ["max_consecutive_losses", "Max consecutive losses", "count"],
    ],
  ],
];

/** The figures a person looks at first, beside the equity picture. */
const SUMMARY: [string, string, Kind][] = [
  ["equity_final", "Final equity", "money"],
  ["return_pct", "Return", "pct"],
  ["max_drawdown_pct", "Max drawdown", "pct"],
  ["trades", "Trades", "count"],
  ["win_rate_pct", "Win rate", "pct"],
  ["profit_factor_money", "Profit factor", "ratio"],
];

function statText(value: number | string | null | undefined, kind: Kind): string {
  if (value == null) return "—";
  if (kind === "time") {
    if (typeof value === "string") return utc(value);
    // Epoch nanoseconds or seconds, whichever the figure is.
    const ms = value > 1e15 ? value / 1e6 : value > 1e12 ? value : value * 1000;
    return utc(new Date(ms).toISOString());
  }
  if (typeof value === "string") return value;
  switch (kind) {
    case "money":
      return money(value);
    case "pct":
      return percent(value);
    case "ratio":
      return value.toFixed(2);
    case "count":
      return String(value);
    case "duration":
      return duration(value);
  }
}

export async function renderReport(root: HTMLElement, params: Record<string, string>): Promise<void> {
  const id = Number(params.id);
  const box = h("div", { class: "tr-report", "aria-busy": "true" }, h("p", { class: "muted" }, "Loading the report…"));
  root.append(box);
  let session: Session;
  let instrument: Instrument;
  let reports: Report[];
  try {
    session = await api<Session>("GET", `/sessions/${id}`);
    const [inst, list] = await Promise.all([
      api<Instrument>("GET", `/instruments/${session.instrument_id}`),
      newestReports(id),
    ]);
    instrument = inst;
    reports = list;
  } catch (err) {
    box.replaceChildren(
      h(
        "section",
        { class: "card tr-error", role: "alert" },
        h("h1", null, "Report unavailable"),
        h("p", null, err instanceof ApiError && err.status === 404 ? "This session does not exist." : err instanceof Error ? err.message : String(err)),
        link("/trade", "Back to your sessions", { class: "button" }),
      ),
    );
    box.removeAttribute("aria-busy");
    return;
  }
  box.removeAttribute("aria-busy");

  const wanted = Number(new URLSearchParams(location.search).get("report"));
  const report = reports.find((r) => r.id === wanted) ?? reports.at(-1) ?? null;

  const generate = h(
    "button",
    {
      type: "button",
      class: "primary",
      disabled: session.session_status === "DRAFT",
      onclick: (e: Event) =>
        void busy(e.currentTarget as HTMLButtonElement, async () => {
          try {
            const r = await api<Report>("POST", `/sessions/${id}/generate-report`);
            toast("Report generated", "success");
            navigate(`/trade/sessions/${id}/report?report=${r.id}`);
          } catch (err) {
            toast(err instanceof Error ? err.message : String(err), "error");
          }
        }),
    },
    reports.length ? "New report now" : "Generate report",
  );

  const head = h(
    "header",
    { class: "tr-head" },
    h(
      "div",
      { class: "tr-title" },
      link(`/trade/sessions/${id}`, "← Replay", { class: "tr-back" }),
      h("h1", null, `Report · ${instrument.symbol} ${session.timeframe}`, h("span", { class: "muted" }, ` #${id}`)),
      statusBadge(session.session_status),
    ),
    h("div", { class: "tr-report-actions" }, reportPicker(id, reports, report), generate),
  );

  if (!report) {
    box.replaceChildren(
      head,
      h(
        "section",
        { class: "card tr-empty" },
        h("p", null, "No report for this session yet."),
        h(
          "p",
          { class: "muted" },
          session.session_status === "DRAFT"
            ? "Start the replay first: a report is a snapshot of a session that has begun."
            : "Generate one: it snapshots the statistics, the equity curve and the trades as of the replay's current bar.",
        ),
      ),
    );
    return;
  }

  const stats = report.stats;
  const known = new Set(GROUPS.flatMap(([, rows]) => rows.map(([key]) => key)));
  // Figures the service adds later still show, under their own names.
  const extra: [string, string, Kind][] = Object.keys(stats)
    .filter((key) => !known.has(key))
    .map((key) => [key, key.replace(/_/g, " "), key.endsWith("_pct") ? "pct" : "ratio"]);
  const groups = extra.length ? [...GROUPS, ["More", extra] as [string, [string, string, Kind][]]] : GROUPS;
  const table = h(
    "div",
    { class: "tr-stats-groups" },
    groups.map(([title, rows]) =>
      h(
        "table",
        { class: "table tr-stats" },
        h("caption", null, title),
        h(
          "tbody",
          null,
          rows
            .filter(([key]) => key in stats)
            .map(([key, label, kind]) =>
              h("tr", { "data-stat": key }, h("th", { scope: "row" }, label), h("td", { class: "num" }, statText(stats[key], kind))),
            ),
        ),
      ),
    ),
  );
  const equity = h("img", {
    class: "tr-equity",
    src: report.equity_svg,
    alt: `Equity curve of session #${id} with its drawdowns, up to ${utc(report.replay_ts)}`,
    width: 960,
    height: 360,
  });
  const trades = h("div", { class: "tr-trades", "aria-busy": "true" }, h("p", { class: "muted" }, "Loading trades…"));
  const csvName = `session-${id}-report-${report.id}-trades.csv`;

  box.replaceChildren(
    head,
    h(
      "p",
      { class: "muted tr-report-meta" },
      `Snapshot at ${utc(report.replay_ts)} · made ${utc(report.created_at)}`,
    ),
    h(
      "div",
      { class: "tr-report-top" },
      h("section", { class: "card tr-equity-card", "aria-labelledby": "tr-eq-h" }, h("h2", { id: "tr-eq-h" }, "Equity"), h("a", { class: "tr-equity-wrap", href: report.equity_svg, target: "_blank", rel: "noopener", title: "Open the picture full size" }, equity),
        h("p", { class: "muted tr-equity-hint" }, "Tap the picture to open it full size.")),
      h(
        "section",
        { class: "card tr-summary", "aria-label": "Key figures" },
        SUMMARY.map(([key, label, kind]) => {
          const value = stats[key];
          const tone = typeof value === "number" && (key === "return_pct" || key === "max_drawdown_pct") ? (value > 0 ? "tr-up" : value < 0 ? "tr-down" : "") : "";
          return h("div", { class: "tr-tile", "data-summary": key }, h("span", { class: "tr-tile-label" }, label), h("strong", { class: tone }, statText(value, kind)));
        }),
      ),
    ),
    h("section", { class: "card tr-stats-card", "aria-labelledby": "tr-st-h" }, h("h2", { id: "tr-st-h" }, "Statistics"), table),
    h(
      "section",
      { class: "card", "aria-labelledby": "tr-tr-h" },
      h(
        "div",
        { class: "tr-section-head" },
        h("h2", { id: "tr-tr-h" }, "Trades"),
        h("a", { class: "button small", href: report.trades_csv, download: csvName }, "Download CSV"),
      ),
      trades,
    ),
  );

  try {
    const res = await fetch(report.trades_csv, { credentials: "same-origin", headers: { Accept: "text/csv" } });
    if (!res.ok) throw new Error(`The trades could not load (${res.status}).`);
    trades.replaceChildren(tradesTable(parseCsv(await res.text()), instrument));
  } catch (err) {
    trades.replaceChildren(h("p", { class: "tr-error", role: "alert" }, err instanceof Error ? err.message : String(err)));
  } finally {
    trades.removeAttribute("aria-busy");
  }
}

/** The session's newest reports (the list is oldest first). */
async function newestReports(id: number): Promise<Report[]> {
  const first = await api<ReportList>("GET", `/sessions/${id}/reports`, undefined, { query: { page: 1, limit: 100 } });
  const pages = Math.ceil(first.total / 100);
  if (pages <= 1) return first.reports;
  const last = await api<ReportList>("GET", `/sessions/${id}/reports`, undefined, { query: { page: pages, limit: 100 } });
  return last.reports;
}

function reportPicker(id: number, reports: Report[], chosen: Report | null): HTMLElement | null {
  if (reports.length < 2) return null;
  const sel = h(
    "select",
    { "aria-label": "Report", onchange: (e: Event) => navigate(`/trade/sessions/${id}/report?report=${(e.target as HTMLSelectElement).value}`) },
    [...reports].reverse().map((r) => h("option", { value: r.id, selected: r.id === chosen?.id }, `#${r.id} at ${utc(r.replay_ts)}`)),
  );
  return h("label", { class: "tr-speed" }, h("span", { class: "muted" }, "Report"), sel);
}

/** RFC 4180 CSV (quoted fields, doubled quotes, CRLF). */
export function parseCsv(text: string): Record<string, string>[] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          cell += '"';
          i++;
        } else quoted = false;
      } else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") {
      row.push(cell);
      cell = "";
    } else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      row.push(cell);
      rows.push(row);
      row = [];
      cell = "";
    } else cell += c;
  }
  if (cell !== "" || row.length) {
    row.push(cell);
    rows.push(row);
  }
  const [header, ...body] = rows;
  if (!header) return [];
  return body.filter((r) => r.length > 1).map((r) => Object.fromEntries(header.map((k, i) => [k, r[i] ?? ""])));
}

const REASONS: Record<string, string> = {
  MANUAL: "Manual",
  STOP_LOSS: "Stop loss",
  TAKE_PROFIT: "Take profit",
  STOP_OUT: "Stop out",
  SESSION_END: "Session end",
};

function tradesTable(rows: Record<string, string>[], inst: Instrument): HTMLElement {
  if (rows.length === 0) return h("p", { class: "muted tr-none" }, "No closed trades in this report.");
  const d = inst.digits;
  const n = (v: string | undefined) => (v == null || v === "" ? null : Number(v));
  return h(
    "div",
    { class: "tr-scroll" },
    h(
      "table",
      { class: "table tr-table tr-stack" },
      h(
        "thead",
        null,
        h(
          "tr",
          null,
          ["#", "Side", "Volume", "Opened", "Open", "Closed", "Close", "Reason", "Commission", "Net P&L", "Return"].map((t, i) =>
            h("th", { scope: "col", class: [2, 4, 6, 8, 9, 10].includes(i) ? "num" : null }, t),
          ),
        ),
      ),
      h(
        "tbody",
        null,
        rows.map((r) => {
          const net = n(r.net_profit) ?? 0;
          const ret = n(r.return_pct);
          return h(
            "tr",
            { "data-trade": r.id ?? "" },
            h("td", { "data-label": "#" }, r.id ?? ""),
            h("td", { "data-label": "Side" }, h("span", { class: `tr-side tr-side-${(r.side ?? "").toLowerCase()}` }, r.side ?? "")),
            h("td", { class: "num", "data-label": "Volume" }, volume(n(r.volume), inst)),
            h("td", { "data-label": "Opened" }, utc(r.open_ts)),
            h("td", { class: "num", "data-label": "Open" }, price(n(r.open_price), d)),
            h("td", { "data-label": "Closed" }, utc(r.close_ts)),
            h("td", { class: "num", "data-label": "Close" }, price(n(r.close_price), d)),
            h("td", { "data-label": "Reason" }, REASONS[r.close_reason ?? ""] ?? r.close_reason ?? ""),
            h("td", { class: "num", "data-label": "Commission" }, money(n(r.commission))),
            h("td", { class: `num ${net > 0 ? "tr-up" : net < 0 ? "tr-down" : ""}`, "data-label": "Net P&L" }, signedMoney(net)),
            h("td", { class: "num", "data-label": "Return" }, ret == null ? "—" : percent(ret)),
          );
        }),
      ),
    ),
  );
}

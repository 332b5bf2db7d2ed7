// /trade: the trader's sessions and the form that creates one.

import { ApiError, api } from "../api";
import { navigate } from "../router";
import { busy, clearFormErrors, formErrors, formValues, h, link, newIdempotencyKey, toast } from "../ui";
import { fromLocalInput, money, utc } from "./format";
import type { Instrument, InstrumentList, Session, SessionList } from "./types";
import { SPEEDS, TIMEFRAMES } from "./types";

const PAGE_SIZE = 20;

export function statusBadge(status: string): HTMLElement {
  return h("span", { class: `tr-status tr-status-${status.toLowerCase()}` }, status);
}

/** Every instrument (the list is short; pages of 100). */
export async function loadInstruments(): Promise<Instrument[]> {
  const out: Instrument[] = [];
  for (let page = 1; page <= 20; page++) {
    const body = await api<InstrumentList>("GET", "/instruments", undefined, { query: { page, limit: 100 } });
    out.push(...body.instruments);
    if (out.length >= body.total || body.instruments.length === 0) break;
  }
  return out;
}

export async function renderSessions(root: HTMLElement): Promise<void> {
  const listBox = h("div", { class: "tr-list", "aria-busy": "true" }, h("p", { class: "muted" }, "Loading sessions…"));
  const formBox = h("div", { class: "tr-create" }, h("p", { class: "muted" }, "Loading instruments…"));
  root.append(
    h(
      "div",
      { class: "tr-sessions" },
      h(
        "section",
        { class: "card tr-sessions-list", "aria-labelledby": "tr-sessions-h" },
        h("h1", { id: "tr-sessions-h" }, "Replay sessions"),
        listBox,
      ),
      h(
        "section",
        { class: "card tr-sessions-new", "aria-labelledby": "tr-new-h" },
        h("h2", { id: "tr-new-h" }, "New session"),
        formBox,
      ),
    ),
  );

  let instruments: Instrument[] = [];
  let page = 1;

  const drawList = async () => {
    listBox.setAttribute("aria-busy", "true");
    try {
      const body = await api<SessionList>("GET", "/sessions", undefined, {
        query: { page, limit: PAGE_SIZE, sort: "created_at", order: "desc" },
      });
      listBox.replaceChildren(sessionsTable(body, instruments, (p) => {
        page = p;
        void drawList();
      }, drawList));
    } catch (err) {
      listBox.replaceChildren(errorBox(err, () => void drawList()));
    } finally {
      listBox.removeAttribute("aria-busy");
    }
  };

  try {
    instruments = await loadInstruments();
    formBox.replaceChildren(createForm(instruments));
  } catch (err) {
    formBox.replaceChildren(errorBox(err, () => location.reload()));
  }
  await drawList();
}

function errorBox(err: unknown, retry: () => void): HTMLElement {
  const message = err instanceof Error ? err.message : String(err);
  return h(
    "div",
    { class: "tr-error", role: "alert" },
    h("p", null, message),
    h("button", { type: "button", class: null, onclick: retry }, "Try again"),
  );
}

function sessionsTable(
  body: SessionList,
  instruments: Instrument[],
  goPage: (p: number) => void,
  reload: () => Promise<void>,
): HTMLElement {
  if (body.sessions.length === 0 && body.page === 1) {
    return h(
      "div",
      { class: "tr-empty" },
      h("p", null, "No sessions yet."),
      h("p", { class: "muted" }, "Create one with the form: pick an instrument, a timeframe and a start date."),
    );
  }
  const symbol = new Map(instruments.map((i) => [i.id, i.symbol]));
  const rows = body.sessions.map((s) => {
    const open = `/trade/sessions/${s.id}`;
    const actions: HTMLElement[] = [];
    if (s.session_status !== "DRAFT") actions.push(link(`${open}/report`, "Report", { class: "button ghost small" }));
    actions.push(
      h(
        "button",
        {
          type: "button",
          class: "ghost small tr-danger",
          "aria-label": `Delete session ${s.id}`,
          onclick: async (e: Event) => {
            if (!window.confirm(`Delete session #${s.id}? Its positions and reports go with it.`)) return;
            await busy(e.currentTarget as HTMLButtonElement, async () => {
              try {
                await api("DELETE", `/sessions/${s.id}`);
                toast(`Session #${s.id} deleted`, "success");
                await reload();
              } catch (err) {
                toast(err instanceof Error ? err.message : String(err), "error");
              }
            });
          },
        },
        "Delete",
      ),
    );
    return h(
      "tr",
      { "data-session": s.id },
      h(
        "td",
        { "data-label": "Session" },
        link(open, [h("strong", null, `#${s.id} ${symbol.get(s.instrument_id) ?? `instrument ${s.instrument_id}`}`), ` · ${s.timeframe} · ${s.speed}`], {
          "aria-label": `Open session ${s.id}`,
        }),
      ),
      h("td", { "data-label": "Status" }, statusBadge(s.session_status)),
      h("td", { "data-label": "Replay at (UTC)" }, utc(s.current_ts ?? s.start_ts, false)),
      h("td", { "data-label": "Deposit", class: "num" }, money(s.initial_balance)),
      h("td", { class: "tr-actions" }, actions),
    );
  });
  const pages = Math.max(1, Math.ceil(body.total / body.limit));
  return h(
    "div",
    null,
    h(
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
            ["Session", "Status", "Replay at (UTC)", "Deposit", ""].map((t) =>
              h("th", { scope: "col", class: t === "Deposit" ? "num" : null }, t),
            ),
          ),
        ),
        h("tbody", null, rows),
      ),
    ),
    pages > 1
      ? h(
          "nav",
          { class: "tr-pager", "aria-label": "Pages" },
          h("button", { type: "button", class: "small", disabled: body.page <= 1, onclick: () => goPage(body.page - 1) }, "Previous"),
          h("span", null, `Page ${body.page} of ${pages}`),
          h("button", { type: "button", class: "small", disabled: body.page >= pages, onclick: () => goPage(body.page + 1) }, "Next"),
        )
      : null,
  );
}

function field(label: string, input: HTMLElement, hint?: string, wide = false): HTMLElement {
  // The cell holds the label and, below it, the API's message for the field (formErrors).
  return h(
    "div",
    { class: wide ? "tr-cell tr-wide-cell" : "tr-cell" },
    h("label", { class: "field" }, h("span", { class: "field-label" }, label), input, hint ? h("small", { class: "muted" }, hint) : null),
  );
}

function select(name: string, options: [string, string][], value: string): HTMLSelectElement {
  return h("select", { name, id: `tr-${name}` }, options.map(([v, t]) => h("option", { value: v, selected: v === value }, t)));
}

function numberInput(name: string, value: string, step = "any"): HTMLInputElement {
  return h("input", { name, id: `tr-${name}`, type: "number", inputmode: "decimal", step, value });
}

/** The numbers the API expects: a typed number, a blank left out (the API says it is required). */
function numeric(value: string | undefined): number | string | undefined {
  const v = (value ?? "").trim();
  if (v === "") return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : v;
}

function createForm(instruments: Instrument[]): HTMLElement {
  if (instruments.length === 0) {
    return h(
      "div",
      { class: "tr-empty" },
      h("p", null, "No instruments to replay yet."),
      h("p", { class: "muted" }, "An admin imports instruments and their candles through the API."),
    );
  }
  const form = h(
    "form",
    { class: "form tr-form", novalidate: true, "aria-describedby": "tr-new-help" },
    h("div", { class: "form-error", role: "alert", hidden: true }),
    h("p", { id: "tr-new-help", class: "muted" }, "Times are UTC. The replay starts at the first bar at or after the start."),
    h(
      "div",
      { class: "tr-grid" },
      field(
        "Instrument",
        select(
          "instrument_id",
          instruments.map((i) => [String(i.id), i.description ? `${i.symbol} — ${i.description}` : i.symbol]),
          String(instruments[0]?.id ?? ""),
        ),
      ),
      field("Timeframe", select("timeframe", TIMEFRAMES.map((t) => [t, t]), "M15")),
      field("Speed (bars/s)", select("speed", SPEEDS.map((s) => [s, s]), "1x")),
      field("Start (UTC)", h("input", { name: "start_ts", id: "tr-start_ts", type: "datetime-local", value: "2024-01-02T00:00" }), undefined, true),
      field("End (UTC, optional)", h("input", { name: "end_ts", id: "tr-end_ts", type: "datetime-local", value: "" }), undefined, true),
      field("Balance", numberInput("initial_balance", "10000", "0.01")),
      field("Leverage (1:n)", numberInput("leverage", "100")),
      field("Spread (points)", numberInput("spread_pts", "20", "1")),
      field("Slippage (points)", numberInput("slippage_pts", "5", "1")),
      field("Commission per fill", numberInput("commission_per_fill", "7", "0.01")),
    ),
    h("div", { class: "form-actions" }, h("button", { type: "submit", class: "primary" }, "Create session")),
  );
  // One key per filled-in form: a double submit or a retry never creates two sessions.
  let key = newIdempotencyKey();
  form.addEventListener("input", () => {
    key = newIdempotencyKey();
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const v = formValues(form);
    const body: Record<string, unknown> = {
      instrument_id: numeric(v.instrument_id),
      timeframe: v.timeframe,
      speed: v.speed,
      start_ts: fromLocalInput(v.start_ts ?? "") || undefined,
      initial_balance: numeric(v.initial_balance),
      leverage: numeric(v.leverage),
      spread_pts: numeric(v.spread_pts),
      slippage_pts: numeric(v.slippage_pts),
      commission_per_fill: numeric(v.commission_per_fill),
    };
    const end = fromLocalInput(v.end_ts ?? "");
    if (end) body.end_ts = end;
    const button = form.querySelector<HTMLButtonElement>("button[type=submit]");
    void busy(button, async () => {
      clearFormErrors(form);
      try {
        const created = await api<Session>("POST", "/sessions", body, { idempotencyKey: key });
        toast(`Session #${created.id} created`, "success");
        navigate(`/trade/sessions/${created.id}`);
      } catch (err) {
        if (err instanceof ApiError) formErrors(form, explainFields(err));
        else formErrors(form, err as Error);
      }
    });
  });
  return form;
}

/** The API names some rules on the body as a whole (end after start): put them on a field. */
function explainFields(err: ApiError): ApiError {
  if (Object.keys(err.fields).length === 0 && /end_ts/i.test(err.message)) {
    err.fields = { end_ts: err.message.replace(/^end_ts/i, "The end") };
  }
  return err;
}

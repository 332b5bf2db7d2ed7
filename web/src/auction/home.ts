// /auction: today's session (started here when there is none), what is owed, recent days.
// /auction/sessions: every session with its status and the day's totals; a session for
// another date (a late entry) is created there.

import { ApiError } from "../api";
import { navigate } from "../router";
import { busy, clearFormErrors, formErrors, h, link, newIdempotencyKey } from "../ui";
import { get, getList, longDay, post, todayUtc } from "./client";
import {
  badge,
  empty,
  errorBox,
  filterLinks,
  frame,
  loading,
  money,
  pageHead,
  pager,
  plural,
  queryParam,
  table,
  tile,
  tiles,
} from "./layout";
import type { CommissionFigures, CommissionReport, Outstanding, SessionDetail, SessionOut } from "./types";

const dayOf = (s: SessionOut) => s.date.slice(0, 10);

/** The day's totals for each session of a page: the commission report over the page's days
 * (one request); a day with two sessions gets each session's own summary instead. */
async function totalsFor(sessions: SessionOut[]): Promise<Map<string, Partial<CommissionFigures>>> {
  const out = new Map<string, Partial<CommissionFigures>>();
  if (!sessions.length) return out;
  const days = sessions.map(dayOf).sort();
  const first = days[0] as string;
  const last = days[days.length - 1] as string;
  const perDay = new Map<string, number>();
  for (const d of days) perDay.set(d, (perDay.get(d) ?? 0) + 1);
  const spanDays = (Date.parse(last) - Date.parse(first)) / 86_400_000;
  let report: CommissionReport | null = null;
  if (spanDays <= 365) {
    report = await get<CommissionReport>("/api/reports/commission", { from: first, to: last }).catch(() => null);
  }
  const byDay = new Map((report?.days ?? []).map((d) => [d.day, d]));
  const shared: SessionOut[] = [];
  for (const s of sessions) {
    if ((perDay.get(dayOf(s)) ?? 0) > 1 || !report) shared.push(s);
    else out.set(s.id, byDay.get(dayOf(s)) ?? { lots_count: 0, lots_amount: 0, billed_amount: 0, commission: 0 });
  }
  await Promise.all(
    shared.map(async (s) => {
      try {
        const d = await get<SessionDetail>(`/api/sessions/${s.id}`);
        out.set(s.id, {
          lots_count: d.summary.total_items,
          lots_amount: d.summary.total_amount,
          billed_amount: d.summary.billed_amount,
          commission: d.summary.total_commission,
        });
      } catch {
        /* left blank */
      }
    }),
  );
  return out;
}

function sessionsTable(sessions: SessionOut[], totals: Map<string, Partial<CommissionFigures>>): HTMLElement {
  const today = todayUtc();
  return table(
    [
      {
        label: "Day",
        cell: (s) =>
          link(`/auction/sessions/${s.id}`, [longDay(s.date), dayOf(s) === today ? h("span", { class: "au-today" }, "today") : null], {
            class: "au-strong-link",
          }),
      },
      { label: "Status", cell: (s) => badge(s.status) },
      { label: "Lots", cell: (s) => String(totals.get(s.id)?.lots_count ?? s._count.auction_items), num: true },
      { label: "Bills", cell: (s) => String(s._count.bills), num: true },
      { label: "Sales", cell: (s) => money(totals.get(s.id)?.lots_amount), num: true },
      {
        label: "Not billed",
        cell: (s) => {
          const t = totals.get(s.id);
          if (t?.lots_amount === undefined || t.billed_amount === undefined) return "—";
          const open = Math.round((t.lots_amount - t.billed_amount) * 100) / 100;
          return open > 0 ? h("span", { class: "au-warn-text" }, money(open)) : money(0);
        },
        num: true,
      },
      { label: "Commission", cell: (s) => money(totals.get(s.id)?.commission), num: true },
      {
        label: "",
        cls: "au-actions",
        cell: (s) => link(`/auction/sessions/${s.id}`, s.status === "ACTIVE" ? "Enter lots" : "Open", { class: "button au-sm" }),
      },
    ],
    sessions,
    { testid: "sessions-table", rowAttrs: (s) => ({ "data-session": s.id }) },
  );
}

async function startToday(button: HTMLButtonElement | null, key: string): Promise<void> {
  await busy(button, async () => {
    try {
      const s = await post<SessionOut>("/api/sessions", {}, key);
      navigate(`/auction/sessions/${s.id}`);
    } catch (err) {
      if (err instanceof ApiError && err.status === 409) {
        // Someone (another tab, a colleague) started it meanwhile: go to it.
        const found = await getList<SessionOut>("/api/sessions", { status: "ACTIVE", startDate: todayUtc(), endDate: todayUtc(), limit: 1 });
        const s = found.data[0];
        if (s) {
          navigate(`/auction/sessions/${s.id}`);
          return;
        }
      }
      throw err;
    }
  });
}

export async function renderToday(root: HTMLElement): Promise<void> {
  const main = await frame(root, "today");
  if (!main) return;
  const today = todayUtc();
  main.append(pageHead("Today", longDay(today)), loading());
  try {
    const [todays, recent, owed] = await Promise.all([
      getList<SessionOut>("/api/sessions", { startDate: today, endDate: today, limit: 10 }),
      getList<SessionOut>("/api/sessions", { limit: 6 }),
      getList<Outstanding>("/api/reports/outstanding", { limit: 100 }),
    ]);
    main.replaceChildren(pageHead("Today", longDay(today)));
    const session = todays.data.find((s) => s.status === "ACTIVE") ?? todays.data[0];
    const todayCard = h("section", { class: "card au-today-card", "data-testid": "today-card" });
    let first: HTMLElement | null = null; // focused once drawn: Enter goes on
    if (session) {
      const d = await get<SessionDetail>(`/api/sessions/${session.id}`);
      const sm = d.summary;
      const enter = link(`/auction/sessions/${d.id}`, session.status === "ACTIVE" ? "Enter lots ⏎" : "Open session", {
        class: "button primary au-big",
        "data-testid": "open-today",
      });
      todayCard.append(
        h("div", { class: "au-card-head" }, h("h2", null, "Today's auction ", badge(d.status)), h("div", { class: "actions" }, enter)),
        tiles(
          tile("Lots", String(sm.total_items)),
          tile("Sales", money(sm.total_amount)),
          tile("Not billed", money(sm.unbilled_amount), plural(sm.unbilled_items, "lot"), sm.unbilled_items ? "au-tile-warn" : ""),
          tile("Commission", money(sm.total_commission)),
        ),
        h(
          "p",
          { class: "actions" },
          link(`/auction/sessions/${d.id}/farmers`, "Bill farmers", { class: "button" }),
          link(`/auction/sessions/${d.id}/buyers`, "Invoice buyers", { class: "button" }),
        ),
      );
      first = enter;
    } else {
      const key = newIdempotencyKey();
      const start = h(
        "button",
        { type: "button", class: "primary au-big", "data-testid": "start-today" },
        "Start today's session",
      );
      start.addEventListener("click", () => void startToday(start, key).catch((err: unknown) => {
        todayCard.append(errorBox(err));
      }));
      todayCard.append(
        h("h2", null, "No auction session today yet"),
        h("p", { class: "muted" }, "Start one to enter today's lots. There is one open session a day."),
        h("div", { class: "actions" }, start),
      );
      first = start;
    }

    const farmersOwed = owed.data.filter((o) => o.party_type === "FARMER");
    const buyersOwe = owed.data.filter((o) => o.party_type === "BUYER");
    const sumOf = (rows: Outstanding[]) => rows.reduce((s, o) => s + Math.round(o.outstanding_amount * 100), 0) / 100;
    const overdue = owed.data.filter((o) => o.overdue).length;
    const owedCard = h(
      "section",
      { class: "card au-owed-card" },
      h("div", { class: "au-card-head" }, h("h2", null, "Money"), link("/auction/outstanding", "Outstanding →", { class: "button au-sm ghost" })),
      tiles(
        tile("To pay farmers", money(sumOf(farmersOwed)), plural(farmersOwed.length, "bill")),
        tile("To collect from buyers", money(sumOf(buyersOwe)), plural(buyersOwe.length, "invoice")),
        tile("Overdue", String(overdue), overdue ? "pay or chase these first" : "nothing overdue", overdue ? "au-tile-bad" : ""),
      ),
      owed.meta.total > owed.data.length ? h("p", { class: "muted" }, `The first ${owed.data.length} of ${owed.meta.total} documents.`) : null,
    );

    const recentBox = h("section", { class: "au-recent" }, h("div", { class: "au-section-head" }, h("h2", null, "Recent sessions"), link("/auction/sessions", "All sessions →")));
    if (recent.data.length) recentBox.append(sessionsTable(recent.data, await totalsFor(recent.data)));
    else recentBox.append(empty("No sessions yet", "Your sessions appear here, one per auction day."));
    main.append(h("div", { class: "au-home-grid" }, todayCard, owedCard), recentBox);
    first?.focus();
  } catch (err) {
    main.replaceChildren(pageHead("Today", longDay(today)), errorBox(err, () => navigate(location.pathname)));
  }
}

export async function renderSessions(root: HTMLElement): Promise<void> {
  const main = await frame(root, "sessions");
  if (!main) return;
  const status = queryParam("status");
  const page = Math.max(1, Number(queryParam("page")) || 1);
  const form = newSessionForm();
  main.append(
    pageHead("Sessions", "One per auction day: open it to enter lots, bill farmers and invoice buyers."),
    h(
      "div",
      { class: "au-toolbar" },
      filterLinks("/auction/sessions", "status", status, [
        ["", "All"],
        ["ACTIVE", "Active"],
        ["COMPLETED", "Completed"],
      ]),
      form,
    ),
  );
  const box = h("div", null, loading());
  main.append(box);
  try {
    const list = await getList<SessionOut>("/api/sessions", { status: status || undefined, page, limit: 20 });
    if (!list.data.length) {
      box.replaceChildren(empty("No sessions", status ? "None with this status." : "Start today's session from Today, or create one for a date here."));
      return;
    }
    const totals = await totalsFor(list.data);
    box.replaceChildren(
      sessionsTable(list.data, totals),
      pager(page, list.meta.totalPages, (p) => navigate(`/auction/sessions?${new URLSearchParams({ ...(status ? { status } : {}), page: String(p) })}`)) ?? "",
    );
  } catch (err) {
    box.replaceChildren(errorBox(err, () => navigate(location.pathname + location.search)));
  }
}

function newSessionForm(): HTMLFormElement {
  const date = h("input", { type: "date", name: "date", id: "new-session-date", value: todayUtc(), max: "2999-12-31", "aria-label": "Session date (UTC)" });
  const submit = h("button", { type: "submit", class: "primary" }, "New session");
  const form = h("form", { class: "au-inline-form", novalidate: true, "data-testid": "new-session-form" }, h("div", { class: "form-error", role: "alert", hidden: true }), h("div", { class: "field" }, date), submit);
  let key = newIdempotencyKey();
  form.addEventListener("input", () => {
    key = newIdempotencyKey();
  });
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    clearFormErrors(form);
    const day = date.value;
    // Today: the current instant (the API's default); another day: that day, 00:00 UTC.
    const body = day && day !== todayUtc() ? { date: `${day}T00:00:00.000Z` } : {};
    void busy(submit, async () => {
      try {
        const s = await post<SessionOut>("/api/sessions", body, key);
        navigate(`/auction/sessions/${s.id}`);
      } catch (err) {
        formErrors(form, err instanceof Error ? err : new Error(String(err)));
      }
    });
  });
  return form;
}

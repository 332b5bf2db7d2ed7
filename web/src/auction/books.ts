// The books: outstanding (overdue first, highlighted), the day book (the journal's day with
// its totals and the chain check), farmer and buyer ledgers with running balances, and the
// commission and market-fee reports. Every list the API offers as CSV has its download.

import { navigate } from "../router";
import { fmtDateTime, h, link } from "../ui";
import { addDays, get, getList, longDay, partyName, store, todayUtc } from "./client";
import {
  badge,
  csvLink,
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
  shortWhen,
  signed,
  table,
  tile,
  tiles,
} from "./layout";
import { Picker } from "./picker";
import type {
  Buyer,
  CommissionReport,
  DayBookEnvelope,
  Farmer,
  LedgerEntry,
  MarketFeeEnvelope,
  Outstanding,
  Verify,
} from "./types";

const KIND_TEXT: Record<string, string> = {
  BILL: "Bill",
  PAYMENT: "Payment",
  BILL_VOID: "Bill voided",
  INVOICE: "Invoice",
  COLLECTION: "Collection",
  INVOICE_VOID: "Invoice voided",
};

function docHref(e: { kind?: string; party_type: string; document_id: string }): string {
  return e.party_type === "FARMER" ? `/auction/bills/${e.document_id}` : `/auction/invoices/${e.document_id}`;
}

function ledgerHref(type: string, id: string): string {
  return type === "FARMER" ? `/auction/ledgers/farmers/${id}` : `/auction/ledgers/buyers/${id}`;
}

/** A party's name, filled in when known (ledger rows carry ids). */
function partyCell(type: "FARMER" | "BUYER", id: string): HTMLElement {
  const a = link(ledgerHref(type, id), "…");
  void partyName(type, id).then((name) => {
    a.textContent = name;
  });
  return h("span", null, h("span", { class: "au-party-type" }, type === "FARMER" ? "Farmer" : "Buyer"), " ", a);
}

// ---- outstanding ----

export async function renderOutstanding(root: HTMLElement): Promise<void> {
  const main = await frame(root, "outstanding");
  if (!main) return;
  const party = queryParam("party");
  main.append(
    pageHead(
      "Outstanding",
      "Bills still to pay farmers and invoices still to collect from buyers: overdue first, then by due time.",
      csvLink("/api/reports/outstanding.csv"),
    ),
    filterLinks("/auction/outstanding", "party", party, [
      ["", "All"],
      ["FARMER", "To pay farmers"],
      ["BUYER", "To collect from buyers"],
    ]),
  );
  const box = h("div", null, loading());
  main.append(box);
  try {
    // Every row (the list is what is still open: short), in the API's order.
    const rows: Outstanding[] = [];
    for (let page = 1; page <= 20; page++) {
      const body = await getList<Outstanding>("/api/reports/outstanding", { page, limit: 100 });
      rows.push(...body.data);
      if (page >= body.meta.totalPages) break;
    }
    const shown = party ? rows.filter((r) => r.party_type === party) : rows;
    const sumOf = (list: Outstanding[]) => list.reduce((s, o) => s + Math.round(o.outstanding_amount * 100), 0) / 100;
    const farmers = rows.filter((r) => r.party_type === "FARMER");
    const buyers = rows.filter((r) => r.party_type === "BUYER");
    const overdue = shown.filter((r) => r.overdue);
    box.replaceChildren(
      tiles(
        tile("To pay farmers", money(sumOf(farmers)), plural(farmers.length, "bill")),
        tile("To collect from buyers", money(sumOf(buyers)), plural(buyers.length, "invoice")),
        tile("Overdue", money(sumOf(overdue)), plural(overdue.length, "document"), overdue.length ? "au-tile-bad" : ""),
      ),
    );
    if (!shown.length) {
      box.append(empty("Nothing outstanding", "Every bill is paid and every invoice collected."));
      return;
    }
    box.append(
      table(
        [
          {
            label: "Document",
            cell: (o) => h("span", { class: "au-docs" }, link(docHref(o), o.document_number, { class: "au-strong-link" }), o.overdue ? badge("OVERDUE") : null),
          },
          {
            label: "Party",
            cell: (o) => {
              const p = o.farmer ?? o.buyer;
              return p ? h("span", null, h("span", { class: "au-party-type" }, o.party_type === "FARMER" ? "Farmer" : "Buyer"), " ", link(ledgerHref(o.party_type, p.id), p.name)) : "—";
            },
          },
          { label: "Due", cell: (o) => h("span", { title: `made ${fmtDateTime(o.date)}` }, shortWhen(o.due_at)) },
          { label: "Amount", cell: (o) => money(o.net_amount), num: true },
          { label: "Settled", cell: (o) => money(o.paid_amount), num: true },
          { label: "Outstanding", cell: (o) => h("strong", null, money(o.outstanding_amount)), num: true },
          {
            label: "",
            cls: "au-actions",
            cell: (o) => link(docHref(o), o.party_type === "FARMER" ? "Pay" : "Collect", { class: "button au-sm" }),
          },
        ],
        shown,
        { testid: "outstanding-table", rowAttrs: (o) => ({ class: o.overdue ? "au-overdue" : null, "data-overdue": o.overdue ? "true" : "false" }) },
      ),
    );
  } catch (err) {
    box.replaceChildren(errorBox(err, () => navigate(location.pathname + location.search)));
  }
}

// ---- day book ----

export async function renderDayBook(root: HTMLElement): Promise<void> {
  const main = await frame(root, "day-book");
  if (!main) return;
  const raw = queryParam("date");
  const day = /^\d{4}-\d{2}-\d{2}$/.test(raw) ? raw : todayUtc();
  const page = Math.max(1, Number(queryParam("page")) || 1);
  const go = (d: string) => navigate(`/auction/day-book?date=${d}`);
  const dateInput = h("input", { type: "date", value: day, "aria-label": "Day (UTC)", "data-testid": "day-input" });
  dateInput.addEventListener("change", () => dateInput.value && go(dateInput.value));
  const verifyBox = h("span", { class: "au-verify-badge" });
  main.append(
    pageHead("Day book", `${longDay(day)} · every money event of the day, in order (UTC)`, csvLink(`/api/reports/day-book.csv?date=${day}`)),
    h(
      "div",
      { class: "au-toolbar" },
      h(
        "div",
        { class: "au-daynav" },
        h("button", { type: "button", class: "au-sm", onclick: () => go(addDays(day, -1)), "aria-label": "Previous day" }, "‹"),
        dateInput,
        h("button", { type: "button", class: "au-sm", onclick: () => go(addDays(day, 1)), "aria-label": "Next day" }, "›"),
        day !== todayUtc() ? h("button", { type: "button", class: "au-sm ghost", onclick: () => go(todayUtc()) }, "Today") : null,
      ),
      verifyBox,
    ),
  );
  void get<Verify>("/api/ledger/verify").then(
    (v) =>
      verifyBox.replaceChildren(
        v.valid
          ? badge(`✓ Journal intact · ${v.entries} entries`, "ok")
          : badge(`✗ Journal broken at #${v.first_broken_seq ?? "?"}: ${v.reason ?? ""}`, "bad"),
      ),
    () => undefined,
  );
  const box = h("div", null, loading());
  main.append(box);
  try {
    const body = await getList<LedgerEntry>("/api/reports/day-book", { date: day, page, limit: 100 }) as unknown as DayBookEnvelope;
    const meta = body.meta;
    const total = (kind: string) => meta.totals.find((t) => t.kind === kind);
    const fig = (kind: string) => {
      const t = total(kind);
      return t ? `${money(Math.abs(t.amount))} (${t.count})` : "—";
    };
    box.replaceChildren(
      tiles(
        tile("Bills", fig("BILL"), "owed to farmers"),
        tile("Payments", fig("PAYMENT"), "paid to farmers"),
        tile("Invoices", fig("INVOICE"), "owed by buyers"),
        tile("Collections", fig("COLLECTION"), "received from buyers"),
      ),
    );
    const voids = ["BILL_VOID", "INVOICE_VOID"].map(total).filter(Boolean);
    if (voids.length) box.append(h("p", { class: "muted" }, `Voided: ${voids.map((t) => `${KIND_TEXT[t?.kind ?? ""]} ${money(Math.abs(t?.amount ?? 0))} (${t?.count})`).join(", ")}`));
    if (!body.data.length) {
      box.append(empty("Nothing on this day", "Bills, payments, invoices and collections appear here as they happen."));
      return;
    }
    box.append(
      table(
        [
          { label: "#", cell: (e) => String(e.seq), num: true },
          { label: "Time", cell: (e) => fmtDateTime(e.at).slice(11) },
          { label: "Entry", cell: (e) => h("span", { class: `au-kind au-kind-${e.kind.toLowerCase()}` }, KIND_TEXT[e.kind] ?? e.kind) },
          { label: "Document", cell: (e) => link(docHref(e), e.document_number) },
          { label: "Party", cell: (e) => partyCell(e.party_type, e.party_id) },
          { label: "Amount", cell: (e) => h("span", { class: e.amount < 0 ? "down" : "up" }, signed(e.amount)), num: true },
        ],
        body.data,
        { testid: "day-book-table" },
      ),
      pager(page, meta.totalPages, (p) => navigate(`/auction/day-book?date=${day}&page=${p}`)) ?? "",
      h("p", { class: "muted au-note" }, "+ raises what is owed (you to a farmer, a buyer to you); − lowers it (payments, collections, voids)."),
    );
  } catch (err) {
    box.replaceChildren(errorBox(err, () => navigate(location.pathname + location.search)));
  }
}

// ---- ledgers ----

export async function renderLedgers(root: HTMLElement): Promise<void> {
  const main = await frame(root, "ledgers");
  if (!main) return;
  main.append(pageHead("Ledgers", "Every bill, payment, invoice and collection of one farmer or buyer, with the running balance."));
  const farmer = new Picker<Farmer>({
    store: store("farmers"),
    noun: "farmer",
    name: "farmer",
    id: "ledger-farmer",
    testid: "ledger-farmer",
    secondary: (f) => [f.village, f.phone].filter(Boolean).join(" · "),
    onPick: (f) => f && navigate(`/auction/ledgers/farmers/${f.id}`),
  });
  const buyer = new Picker<Buyer>({
    store: store("buyers"),
    noun: "buyer",
    name: "buyer",
    id: "ledger-buyer",
    testid: "ledger-buyer",
    secondary: (b) => b.phone ?? "",
    onPick: (b) => b && navigate(`/auction/ledgers/buyers/${b.id}`),
  });
  main.append(
    h(
      "div",
      { class: "au-two" },
      h("section", { class: "card" }, h("h2", null, h("label", { for: "ledger-farmer" }, "A farmer's ledger")), h("p", { class: "muted" }, "What you owe them: bills less payments."), farmer.el),
      h("section", { class: "card" }, h("h2", null, h("label", { for: "ledger-buyer" }, "A buyer's ledger")), h("p", { class: "muted" }, "What they owe you: invoices less collections."), buyer.el),
    ),
  );
  await Promise.all([store("farmers").load(), store("buyers").load()]).catch(() => undefined);
  farmer.focus();
}

export async function renderLedger(root: HTMLElement, params: Record<string, string>, type: "FARMER" | "BUYER"): Promise<void> {
  const main = await frame(root, "ledgers");
  if (!main) return;
  const id = params.id ?? "";
  const kind = type === "FARMER" ? "farmers" : "buyers";
  main.append(loading("Loading the ledger…"));
  try {
    const party = await get<Farmer | Buyer>(`/api/${kind}/${id}`);
    // Oldest first; the last page holds the balance now, so it is the one shown first.
    const first = await getList<LedgerEntry>(`/api/${kind}/${id}/ledger`, { page: 1, limit: 100 });
    const wanted = Number(queryParam("page")) || first.meta.totalPages || 1;
    const body = wanted === 1 ? first : await getList<LedgerEntry>(`/api/${kind}/${id}/ledger`, { page: wanted, limit: 100 });
    const last = first.meta.totalPages > 1 && wanted !== first.meta.totalPages
      ? (await getList<LedgerEntry>(`/api/${kind}/${id}/ledger`, { page: first.meta.totalPages, limit: 100 })).data
      : body.data;
    const balance = last[last.length - 1]?.balance ?? 0;
    const sub = "village" in party ? [party.village, party.phone].filter(Boolean).join(" · ") : party.phone ?? "";
    main.replaceChildren(
      pageHead(
        h("span", null, `${party.name} `, h("span", { class: "au-party-type" }, type === "FARMER" ? "Farmer" : "Buyer")),
        sub || (type === "FARMER" ? "Farmer ledger" : "Buyer ledger"),
        csvLink(`/api/${kind}/${id}/ledger.csv`),
        link("/auction/ledgers", "Another ledger", { class: "button au-sm ghost" }),
      ),
      tiles(
        tile(
          type === "FARMER" ? "You owe the farmer" : "The buyer owes you",
          money(balance),
          plural(first.meta.total, "entry", "entries"),
          balance > 0 ? "au-tile-warn" : "au-tile-ok",
        ),
      ),
    );
    if (!body.data.length) {
      main.append(empty("No entries yet", type === "FARMER" ? "Bills and payments of this farmer appear here." : "Invoices and collections of this buyer appear here."));
      return;
    }
    main.append(
      table(
        [
          { label: "When", cell: (e) => fmtDateTime(e.at) },
          { label: "Entry", cell: (e) => h("span", { class: `au-kind au-kind-${e.kind.toLowerCase()}` }, KIND_TEXT[e.kind] ?? e.kind) },
          { label: "Document", cell: (e) => link(docHref(e), e.document_number) },
          { label: "Amount", cell: (e) => h("span", { class: e.amount < 0 ? "down" : "up" }, signed(e.amount)), num: true },
          { label: "Balance", cell: (e) => h("strong", null, money(e.balance ?? 0)), num: true },
        ],
        body.data,
        { testid: "ledger-table" },
      ),
      pager(wanted, body.meta.totalPages, (p) => navigate(`${location.pathname}?page=${p}`)) ?? "",
    );
  } catch (err) {
    main.replaceChildren(errorBox(err, () => navigate(location.pathname)));
  }
}

// ---- reports ----

export async function renderReports(root: HTMLElement): Promise<void> {
  const main = await frame(root, "reports");
  if (!main) return;
  const today = todayUtc();
  const valid = (d: string) => /^\d{4}-\d{2}-\d{2}$/.test(d);
  const to = valid(queryParam("to")) ? queryParam("to") : today;
  const from = valid(queryParam("from")) ? queryParam("from") : `${to.slice(0, 8)}01`;
  const fromInput = h("input", { type: "date", name: "from", value: from, "aria-label": "From" });
  const toInput = h("input", { type: "date", name: "to", value: to, "aria-label": "To" });
  const form = h(
    "form",
    { class: "au-inline-form" },
    h("label", { class: "au-inline-label" }, "From ", fromInput),
    h("label", { class: "au-inline-label" }, "to ", toInput),
    h("button", { type: "submit" }, "Show"),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    navigate(`/auction/reports?from=${fromInput.value}&to=${toInput.value}`);
  });
  const range = `from=${from}&to=${to}`;
  main.append(
    pageHead("Reports", `${longDay(from)} – ${longDay(to)} · session days (UTC), at most 366`),
    h("div", { class: "au-toolbar" }, form),
  );
  const box = h("div", null, loading());
  main.append(box);
  try {
    const [report, fees] = await Promise.all([
      get<CommissionReport>("/api/reports/commission", { from, to }),
      getList<unknown>("/api/reports/market-fee", { from, to, limit: 1 }) as unknown as Promise<MarketFeeEnvelope>,
    ]);
    const t = report.totals;
    box.replaceChildren(
      tiles(
        tile("Sales", money(t.lots_amount), `${t.lots_count} lots`),
        tile("Commission", money(t.commission), `farmers ${money(t.farmer_commission)} · buyers ${money(t.buyer_commission)}`),
        tile("Own charges", money(t.agent_charges)),
        tile("Income", money(t.income), "commission + own charges", "au-tile-ok"),
      ),
      h("div", { class: "au-section-head" }, h("h2", null, "Commission and income by day"), csvLink(`/api/reports/commission.csv?${range}`, "Commission CSV")),
      report.days.length
        ? table(
            [
              { label: "Day", cell: (d) => longDay(d.day) },
              { label: "Lots", cell: (d) => String(d.lots_count), num: true },
              { label: "Sales", cell: (d) => money(d.lots_amount), num: true },
              { label: "Bills", cell: (d) => `${d.bills_count}`, num: true },
              { label: "Invoices", cell: (d) => `${d.invoices_count}`, num: true },
              { label: "Commission", cell: (d) => money(d.commission), num: true },
              { label: "Own charges", cell: (d) => money(d.agent_charges), num: true },
              { label: "Income", cell: (d) => h("strong", null, money(d.income)), num: true },
            ],
            report.days,
            { testid: "commission-table" },
          )
        : empty("No sales in this period"),
      h("div", { class: "au-section-head" }, h("h2", null, "Market fee register"), csvLink(`/api/reports/market-fee.csv?${range}`, "Market fee CSV")),
      h("p", { class: "muted" }, "The market yard's fee on each lot (charges with the MARKET_YARD account), to remit and to show the inspector. The CSV lists every lot."),
      fees.meta.days.length
        ? table(
            [
              { label: "Day", cell: (d) => longDay(d.day) },
              { label: "Lots", cell: (d) => String(d.lots_count), num: true },
              { label: "Sales", cell: (d) => money(d.lots_amount), num: true },
              { label: "Paid by farmers", cell: (d) => money(d.farmer_paid_fee), num: true },
              { label: "Paid by buyers", cell: (d) => money(d.buyer_paid_fee), num: true },
              { label: "Market fee", cell: (d) => h("strong", null, money(d.market_fee)), num: true },
            ],
            fees.meta.days,
            { testid: "market-fee-table" },
          )
        : empty("No market fee in this period"),
    );
  } catch (err) {
    box.replaceChildren(errorBox(err, () => navigate(location.pathname + location.search)));
  }
}

// Farmer bills and buyer invoices (the twins): lists with their money state, and each
// document with its lots, charge lines, totals, payments or collections, void and print.
// A bill prints as the service's own page (/api/bills/{id}/print, with the verification QR)
// in a new tab; an invoice prints from this screen (print stylesheet).

import { ApiError } from "../api";
import { navigate } from "../router";
import { busy, clearFormErrors, fmtDateTime, formErrors, formValues, h, link, newIdempotencyKey, toast } from "../ui";
import { fmtQty, get, getList, longDay, numeric, post, del } from "./client";
import {
  type Column,
  badge,
  confirmButton,
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
  table,
  tile,
  tiles,
  toastError,
} from "./layout";
import { METHODS, type Bill, type ChargeLine, type Invoice, type Method, type Payment, type SessionOut } from "./types";

function statusBadges(status: string, pay: string, overdue: boolean): HTMLElement {
  return h("span", { class: "au-docs" }, status === "VOID" ? badge("VOID") : badge(pay), overdue && status !== "VOID" ? badge("OVERDUE") : null);
}

// ---- lists ----

/** What differs between the bill list and the invoice list; the page is the same. */
interface DocList<T> {
  area: "bills" | "invoices";
  title: string;
  lead: string;
  api: string;
  /** The list's filter on the money state: payment_status (bills), collection_status. */
  stateParam: string;
  emptyHint: string;
  columns: Column<T>[];
}

const STATE_FILTERS: [string, string][] = [
  ["", "All"],
  ["UNPAID", "Unpaid"],
  ["PARTIAL", "Part paid"],
  ["PAID", "Paid"],
  ["VOID", "Void"],
];

async function renderDocList<T extends { status: string; overdue: boolean }>(root: HTMLElement, list: DocList<T>): Promise<void> {
  const main = await frame(root, list.area);
  if (!main) return;
  const path = `/auction/${list.area}`;
  const filter = queryParam("filter");
  const page = Math.max(1, Number(queryParam("page")) || 1);
  main.append(pageHead(list.title, list.lead), filterLinks(path, "filter", filter, STATE_FILTERS));
  const box = h("div", null, loading());
  main.append(box);
  const query = filter === "VOID" ? { status: "VOID" } : filter ? { [list.stateParam]: filter, status: "ACTIVE" } : {};
  try {
    const found = await getList<T>(list.api, { ...query, page, limit: 25 });
    if (!found.data.length) {
      box.replaceChildren(empty(`No ${list.area} here`, list.emptyHint));
      return;
    }
    box.replaceChildren(
      table(list.columns, found.data, {
        testid: `${list.area}-table`,
        rowAttrs: (d) => ({ class: d.overdue ? "au-overdue" : d.status === "VOID" ? "au-void-row" : null }),
      }),
      pager(page, found.meta.totalPages, (p) => navigate(`${path}?${new URLSearchParams({ ...(filter ? { filter } : {}), page: String(p) })}`)) ?? "",
    );
  } catch (err) {
    box.replaceChildren(errorBox(err, () => navigate(location.pathname + location.search)));
  }
}

function numberCell(href: string, number: string, createdAt: string): HTMLElement {
  return h("span", null, link(href, number, { class: "au-strong-link" }), h("span", { class: "au-sub" }, shortWhen(createdAt)));
}

/** What is left to pay or collect: nothing on a void document. */
function balanceOf(d: { status: string; balance_amount: number }): number {
  return d.status === "VOID" ? 0 : d.balance_amount;
}

export function renderBills(root: HTMLElement): Promise<void> {
  return renderDocList<Bill>(root, {
    area: "bills",
    title: "Farmer bills",
    lead: "What you owe farmers for their lots, after commission and charges.",
    api: "/api/bills",
    stateParam: "payment_status",
    emptyHint: "Bills are made from a session's Farmers tab.",
    columns: [
      { label: "Bill", cell: (b) => numberCell(`/auction/bills/${b.id}`, b.bill_number, b.created_at) },
      { label: "Farmer", cell: (b) => b.farmer.name },
      { label: "Net", cell: (b) => h("span", { title: `sales ${money(b.total_amount)} − ${money(b.deductions_amount)}` }, money(b.net_amount)), num: true },
      { label: "Paid", cell: (b) => money(b.paid_amount), num: true },
      { label: "Balance", cell: (b) => h("strong", null, money(balanceOf(b))), num: true },
      { label: "Status", cell: (b) => statusBadges(b.status, b.payment_status, b.overdue) },
      { label: "Due", cell: (b) => shortWhen(b.due_at) },
    ],
  });
}

export function renderInvoices(root: HTMLElement): Promise<void> {
  return renderDocList<Invoice>(root, {
    area: "invoices",
    title: "Buyer invoices",
    lead: "What buyers owe you for the lots they bought, with their charges.",
    api: "/api/buyer-invoices",
    stateParam: "collection_status",
    emptyHint: "Invoices are made from a session's Buyers tab.",
    columns: [
      { label: "Invoice", cell: (i) => numberCell(`/auction/invoices/${i.id}`, i.invoice_number, i.created_at) },
      { label: "Buyer", cell: (i) => i.buyer.name },
      { label: "Total", cell: (i) => h("span", { title: `lots ${money(i.lots_amount)} + ${money(i.charges_amount + i.commission_amount)}` }, money(i.total_amount)), num: true },
      { label: "Collected", cell: (i) => money(i.collected_amount), num: true },
      { label: "Balance", cell: (i) => h("strong", null, money(balanceOf(i))), num: true },
      { label: "Status", cell: (i) => statusBadges(i.status, i.collection_status, i.overdue) },
      { label: "Due", cell: (i) => i.due_date },
    ],
  });
}

// ---- one document ----

function chargeRate(c: ChargeLine): string {
  if (c.kind === "PERCENT") return `${c.rate} % of ${money(c.basis)}`;
  if (c.kind === "PER_UNIT") return `${money(c.rate)} × ${fmtQty(c.basis)} ${c.unit ?? ""}`.trim();
  return `${money(c.rate)} × ${fmtQty(c.basis)} lots`;
}

function sumRow(label: string, value: string, cls = ""): HTMLElement {
  return h("div", { class: `au-sum-row ${cls}`.trim() }, h("span", null, label), h("span", { class: "num" }, value));
}

/** The payment (bill) or collection (invoice) form: amount (the balance by default), method,
 * reference (UTR, cheque number), note. One Idempotency-Key per filled-in form. */
function moneyForm(opts: {
  title: string;
  verb: string;
  balance: number;
  testid: string;
  send: (body: Record<string, unknown>, key: string) => Promise<string>;
}): HTMLFormElement {
  const amount = h("input", {
    id: "pay-amount",
    name: "amount",
    type: "text",
    inputmode: "decimal",
    autocomplete: "off",
    value: opts.balance.toFixed(2),
    "data-testid": "pay-amount",
  });
  const methods = h(
    "div",
    { class: "au-seg au-seg-radio", role: "radiogroup", "aria-label": "Method" },
    METHODS.map((m, i) =>
      h("label", null, h("input", { type: "radio", name: "method", value: m, checked: i === 0, "data-testid": `pay-method-${m}` }), m),
    ),
  );
  const reference = h("input", { id: "pay-reference", name: "reference", type: "text", maxlength: "64", autocomplete: "off", "data-testid": "pay-reference" });
  const refLabel = h("label", { for: "pay-reference" }, "Reference ", h("span", { class: "muted" }, "(optional for cash)"));
  const note = h("input", { id: "pay-note", name: "note", type: "text", maxlength: "1000", autocomplete: "off" });
  const submit = h("button", { type: "submit", class: "primary", "data-testid": "pay-submit" }, opts.verb);
  const form = h(
    "form",
    { class: "form au-pay-form", novalidate: true, "data-testid": opts.testid },
    h("h2", null, opts.title),
    h("div", { class: "form-error", role: "alert", hidden: true }),
    h("div", { class: "field" }, h("label", { for: "pay-amount" }, "Amount"), amount),
    h("div", { class: "field" }, h("span", { class: "au-label" }, "Method"), methods),
    h("div", { class: "field" }, refLabel, reference),
    h("div", { class: "field" }, h("label", { for: "pay-note" }, "Note ", h("span", { class: "muted" }, "(optional)")), note),
    submit,
  );
  const relabel = () => {
    const m = (formValues(form).method ?? "CASH") as Method;
    refLabel.replaceChildren(
      m === "CHEQUE" ? "Cheque number " : m === "CASH" ? "Reference " : "UTR / transaction id ",
      h("span", { class: "muted" }, m === "CASH" ? "(optional for cash)" : "(from the bank or UPI app)"),
    );
  };
  methods.addEventListener("change", relabel);
  let key = newIdempotencyKey();
  form.addEventListener("input", () => {
    key = newIdempotencyKey();
  });
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    clearFormErrors(form);
    const v = formValues(form);
    const body: Record<string, unknown> = { amount: numeric(v.amount), method: v.method ?? "CASH" };
    if (v.reference?.trim()) body.reference = v.reference.trim();
    if (v.note?.trim()) body.note = v.note.trim();
    if (body.amount === undefined) {
      formErrors(form, new ApiError(400, "How much?", "VALIDATION_ERROR", { amount: "How much?" }));
      return;
    }
    void busy(submit, async () => {
      try {
        const done = await opts.send(body, key);
        toast(done, "success");
        navigate(location.pathname);
      } catch (err) {
        formErrors(form, err instanceof Error ? err : new Error(String(err)));
      }
    });
  });
  return form;
}

function paymentsTable(rows: Payment[], testid: string, label: string): HTMLElement {
  if (!rows.length) return h("p", { class: "muted" }, `No ${label} yet.`);
  return table(
    [
      { label: "When", cell: (p) => shortWhen(p.created_at) },
      {
        label: "How",
        cell: (p) =>
          h(
            "span",
            { class: "au-how" },
            h("strong", null, p.method),
            p.reference ? h("span", { class: "au-ref" }, p.reference) : null,
            p.note ? h("span", { class: "au-sub" }, p.note) : null,
          ),
      },
      { label: "Amount", cell: (p) => money(p.amount), num: true },
    ],
    rows,
    { testid, keep: true },
  );
}

async function sessionLine(sessionId: string): Promise<Node> {
  try {
    const s = await get<SessionOut>(`/api/sessions/${sessionId}`);
    return link(`/auction/sessions/${s.id}`, `Session ${longDay(s.date)}`);
  } catch {
    return document.createTextNode("");
  }
}

/** The page frame and the document, or null when there is nothing to show (an error box). */
async function loadDoc<T>(root: HTMLElement, area: "bills" | "invoices", url: string, what: string): Promise<[HTMLElement, T] | null> {
  const main = await frame(root, area);
  if (!main) return null;
  main.append(loading(`Loading the ${what}…`));
  try {
    return [main, await get<T>(url)];
  } catch (err) {
    main.replaceChildren(errorBox(err, () => navigate(location.pathname)));
    return null;
  }
}

/** Void, with a confirmation: a reversal in the journal, the lots free again. */
function voidButton(what: string, url: string, done: string, testid: string): Node {
  return confirmButton(
    `Void ${what}`,
    "Confirm void",
    async () => {
      try {
        await del(url);
        toast(done, "success");
        navigate(location.pathname);
      } catch (err) {
        toastError(err);
      }
    },
    { "data-testid": testid },
  );
}

function balanceTile(d: { status: string; balance_amount: number; overdue: boolean }, due: string): HTMLElement {
  const cls = d.overdue ? "au-tile-bad" : d.balance_amount > 0 ? "au-tile-warn" : "au-tile-ok";
  return tile("Balance", money(balanceOf(d)), d.status === "VOID" ? "void" : `due ${due}`, cls);
}

function lotsTable<L extends { product_name: string; quantity: number; unit: string; amount: number }>(rows: L[], rate: (l: L) => string, testid: string): HTMLElement {
  return table(
    [
      { label: "Product", cell: (l) => l.product_name },
      { label: "Quantity", cell: (l) => `${fmtQty(l.quantity)} ${l.unit}`, num: true },
      { label: "Rate", cell: rate, num: true },
      { label: "Amount", cell: (l) => money(l.amount), num: true },
    ],
    rows,
    { testid, keep: true },
  );
}

/** Lots, one line per charge (− off a bill, + on an invoice), the total, what came in, the balance. */
function docSums(
  d: { status: string; balance_amount: number; charges: ChargeLine[] },
  o: { testid: string; lots: [string, number]; sign: "−" | "+"; total: [string, number]; paid: [string, number] },
): HTMLElement {
  const cls = o.sign === "−" ? "au-sum-minus" : "au-sum-plus";
  return h(
    "div",
    { class: "au-sums", "data-testid": o.testid },
    sumRow(o.lots[0], money(o.lots[1])),
    d.charges.map((c) => sumRow(`${o.sign} ${c.name} (${chargeRate(c)})`, money(c.amount), cls)),
    sumRow(o.total[0], money(o.total[1]), "au-sum-total"),
    sumRow(o.paid[0], money(o.paid[1])),
    sumRow("Balance", money(balanceOf(d)), "au-sum-total"),
  );
}

export async function renderBill(root: HTMLElement, params: Record<string, string>): Promise<void> {
  const loaded = await loadDoc<Bill>(root, "bills", `/api/bills/${params.id ?? ""}`, "bill");
  if (!loaded) return;
  const [main, bill] = loaded;
  const session = await sessionLine(bill.session_id);
  const voided = bill.status === "VOID";
  const print = h(
    "a",
    { href: `/api/bills/${bill.id}/print`, target: "_blank", rel: "noopener", class: "button primary", "data-testid": "print-bill" },
    "Print bill ↗",
  );
  const actions: Node[] = [print];
  if (!voided && !bill.payments.length) {
    actions.push(voidButton("bill", `/api/bills/${bill.id}`, `${bill.bill_number} voided: its lots can be billed again.`, "void-bill"));
  }
  const f = bill.farmer;
  main.replaceChildren(
    pageHead(
      h("span", null, `${bill.bill_number} · ${f.name} `, statusBadges(bill.status, bill.payment_status, bill.overdue)),
      h("span", null, [f.village, f.phone].filter(Boolean).join(" · "), [f.village, f.phone].some(Boolean) ? " · " : "", session, ` · made ${fmtDateTime(bill.created_at)}`),
      ...actions,
    ),
    tiles(
      tile("Net payable", money(bill.net_amount), `sales ${money(bill.total_amount)} − ${money(bill.deductions_amount)}`),
      tile("Paid", money(bill.paid_amount), plural(bill.payments.length, "payment")),
      balanceTile(bill, fmtDateTime(bill.due_at)),
    ),
  );
  const lots = lotsTable(bill.bill_items, (l) => (l.quantity > 0 ? money(l.amount / l.quantity) : "—"), "bill-lots");
  const sums = docSums(bill, {
    testid: "bill-sums",
    lots: ["Sales", bill.total_amount],
    sign: "−",
    total: ["Net payable to the farmer", bill.net_amount],
    paid: ["Paid", bill.paid_amount],
  });
  if (bill.commission_payer === "BUYER") {
    sums.append(h("p", { class: "muted" }, `Commission ${money(bill.commission_amount)} (${bill.commission_rate} %) is paid by the buyers.`));
  }
  const left = h("section", { class: "card au-doc-main" }, h("h2", null, "Lots"), lots, sums);
  const right = h("div", { class: "au-doc-side" });
  if (!voided && bill.balance_amount > 0) {
    right.append(
      h(
        "section",
        { class: "card" },
        moneyForm({
          title: "Pay the farmer",
          verb: "Record payment",
          balance: bill.balance_amount,
          testid: "payment-form",
          send: async (body, key) => {
            const r = await post<{ bill: { balance_amount: number; payment_status: string } }>(`/api/bills/${bill.id}/payments`, body, key);
            return `Payment recorded: balance ${money(r.bill.balance_amount)} (${r.bill.payment_status.toLowerCase()})`;
          },
        }),
      ),
    );
  }
  right.append(
    h("section", { class: "card" }, h("h2", null, "Payments"), paymentsTable(bill.payments, "payments-table", "payments")),
    h(
      "section",
      { class: "card au-verify" },
      h("h2", null, "Farmer's copy"),
      h("p", { class: "muted" }, "The printed bill carries a QR code: the farmer scans it to see this bill, signed, with what was paid — no login needed."),
      h("a", { href: `/api/public/bills/${bill.verification_code}`, target: "_blank", rel: "noopener", "data-testid": "public-link" }, "Open the public copy ↗"),
    ),
  );
  main.append(h("div", { class: "au-doc-grid" }, left, right), h("p", null, link(`/auction/ledgers/farmers/${bill.farmer_id}`, `${f.name}'s ledger →`)));
  if (!voided && bill.balance_amount > 0) queueMicrotask(() => main.querySelector<HTMLInputElement>("#pay-amount")?.focus());
}

export async function renderInvoice(root: HTMLElement, params: Record<string, string>): Promise<void> {
  const loaded = await loadDoc<Invoice>(root, "invoices", `/api/buyer-invoices/${params.id ?? ""}`, "invoice");
  if (!loaded) return;
  const [main, inv] = loaded;
  const session = await sessionLine(inv.session_id);
  const voided = inv.status === "VOID";
  const actions: Node[] = [
    h("button", { type: "button", class: "au-no-print", onclick: () => window.print(), "data-testid": "print-invoice" }, "Print"),
  ];
  if (!voided && !inv.collections.length) {
    actions.push(voidButton("invoice", `/api/buyer-invoices/${inv.id}`, `${inv.invoice_number} voided: its lots can be invoiced again.`, "void-invoice"));
  }
  const b = inv.buyer;
  main.replaceChildren(
    pageHead(
      h("span", null, `${inv.invoice_number} · ${b.name} `, statusBadges(inv.status, inv.collection_status, inv.overdue)),
      h("span", null, b.phone ? `${b.phone} · ` : "", session, ` · made ${fmtDateTime(inv.created_at)} · due ${inv.due_date}`),
      ...actions,
    ),
    tiles(
      tile(
        "Invoice total",
        money(inv.total_amount),
        inv.charges.length ? `lots ${money(inv.lots_amount)} + charges ${money(inv.charges_amount + inv.commission_amount)}` : "the lots, no charges",
      ),
      tile("Collected", money(inv.collected_amount), plural(inv.collections.length, "collection")),
      balanceTile(inv, inv.due_date),
    ),
  );
  const lots = lotsTable(inv.invoice_items, (l) => money(l.price), "invoice-lots");
  const sums = docSums(inv, {
    testid: "invoice-sums",
    lots: ["Lots", inv.lots_amount],
    sign: "+",
    total: ["Total payable by the buyer", inv.total_amount],
    paid: ["Collected", inv.collected_amount],
  });
  const left = h("section", { class: "card au-doc-main" }, h("h2", null, "Lots"), lots, sums);
  const right = h("div", { class: "au-doc-side au-no-print" });
  if (!voided && inv.balance_amount > 0) {
    right.append(
      h(
        "section",
        { class: "card" },
        moneyForm({
          title: "Collect from the buyer",
          verb: "Record collection",
          balance: inv.balance_amount,
          testid: "collection-form",
          send: async (body, key) => {
            const r = await post<{ invoice: { balance_amount: number; collection_status: string } }>(`/api/buyer-invoices/${inv.id}/collections`, body, key);
            return `Collection recorded: balance ${money(r.invoice.balance_amount)} (${r.invoice.collection_status.toLowerCase()})`;
          },
        }),
      ),
    );
  }
  right.append(h("section", { class: "card" }, h("h2", null, "Collections"), paymentsTable(inv.collections, "collections-table", "collections")));
  main.append(h("div", { class: "au-doc-grid" }, left, right), h("p", { class: "au-no-print" }, link(`/auction/ledgers/buyers/${inv.buyer_id}`, `${b.name}'s ledger →`)));
  if (!voided && inv.balance_amount > 0) queueMicrotask(() => main.querySelector<HTMLInputElement>("#pay-amount")?.focus());
}

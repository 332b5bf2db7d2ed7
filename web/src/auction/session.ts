// /auction/sessions/:id[/farmers|/buyers|/products]: one auction day. The Lots tab is the
// floor clerk's screen (lots.ts); Farmers bills them, Buyers invoices them, Products sums up.

import { navigate } from "../router";
import { busy, h, link, newIdempotencyKey, toast } from "../ui";
import { fmtQty, get, getAll, longDay, post, put, del } from "./client";
import {
  badge,
  confirmButton,
  empty,
  errorBox,
  frame,
  loading,
  money,
  pageHead,
  table,
  tile,
  tiles,
  toastError,
} from "./layout";
import type { Bill, Invoice, Item, SessionDetail, SessionOut } from "./types";

export type Tab = "lots" | "farmers" | "buyers" | "products";

export interface SessionState {
  session: SessionDetail;
  items: Item[];
  bills: Bill[];
  invoices: Invoice[];
}

const cents = (x: number) => Math.round(x * 100);

/** The day's figures from the lots held here (kept current as lots are added or edited). */
export function figures(state: SessionState) {
  let total = 0;
  let billed = 0;
  let unbilledCount = 0;
  let uninvoicedCount = 0;
  const qty = new Map<string, number>();
  const farmers = new Set<string>();
  const buyers = new Set<string>();
  const products = new Set<string>();
  for (const item of state.items) {
    total += cents(item.final_price);
    if (item.bill_id) billed += cents(item.final_price);
    else unbilledCount++;
    if (!item.invoice_id) uninvoicedCount++;
    qty.set(item.unit, (qty.get(item.unit) ?? 0) + item.quantity);
    farmers.add(item.farmer_id);
    buyers.add(item.buyer_id);
    products.add(item.product_id);
  }
  const commission = state.bills
    .filter((b) => b.status === "ACTIVE")
    .reduce((sum, b) => sum + cents(b.commission_amount), 0);
  return {
    lots: state.items.length,
    total: total / 100,
    unbilled: (total - billed) / 100,
    unbilledCount,
    uninvoicedCount,
    commission: commission / 100,
    qty,
    farmers: farmers.size,
    buyers: buyers.size,
    products: products.size,
  };
}

export function qtyText(qty: Map<string, number> | Record<string, number>): string {
  const entries = qty instanceof Map ? [...qty.entries()] : Object.entries(qty);
  return entries.map(([unit, q]) => `${fmtQty(q)} ${unit}`).join(" · ") || "—";
}

export function drawTiles(box: HTMLElement, state: SessionState): void {
  const f = figures(state);
  box.replaceChildren(
    tiles(
      tile("Lots", String(f.lots), qtyText(f.qty)),
      tile("Sales", money(f.total), `${f.farmers} farmers · ${f.buyers} buyers`),
      tile(
        "Not billed",
        money(f.unbilled),
        f.unbilledCount ? `${f.unbilledCount} lot${f.unbilledCount === 1 ? "" : "s"} to bill` : "all lots billed",
        f.unbilledCount ? "au-tile-warn" : "",
      ),
      tile("Commission", money(f.commission), "on the bills so far"),
    ),
  );
}

export async function loadState(id: string): Promise<SessionState> {
  const [session, invoices] = await Promise.all([
    get<SessionDetail>(`/api/sessions/${id}`),
    getAll<Invoice>(`/api/sessions/${id}/buyer-invoices`),
  ]);
  return { session, items: session.auction_items, bills: session.bills, invoices };
}

export async function renderSession(root: HTMLElement, params: Record<string, string>, tab: Tab): Promise<void> {
  const main = await frame(root, "sessions");
  if (!main) return;
  const id = params.id ?? "";
  main.append(loading("Loading the session…"));
  let state: SessionState;
  try {
    state = await loadState(id);
  } catch (err) {
    main.replaceChildren(errorBox(err, () => navigate(location.pathname)));
    return;
  }
  main.replaceChildren();
  const s = state.session;
  const base = `/auction/sessions/${s.id}`;
  const actions: (Node | null)[] = [];
  if (s.status === "ACTIVE") {
    actions.push(
      h(
        "button",
        {
          type: "button",
          class: "au-sm",
          "data-testid": "complete-session",
          onclick: (e: Event) =>
            void busy(e.currentTarget as HTMLButtonElement, async () => {
              try {
                await put<SessionOut>(`/api/sessions/${s.id}`, { status: "COMPLETED" });
                toast("Session completed: no more lots can be entered.", "success");
                navigate(location.pathname);
              } catch (err) {
                toastError(err);
              }
            }),
        },
        "Complete session",
      ),
    );
  } else {
    actions.push(
      h(
        "button",
        {
          type: "button",
          class: "au-sm",
          onclick: (e: Event) =>
            void busy(e.currentTarget as HTMLButtonElement, async () => {
              try {
                await put<SessionOut>(`/api/sessions/${s.id}`, { status: "ACTIVE" });
                toast("Session reopened.", "success");
                navigate(location.pathname);
              } catch (err) {
                toastError(err);
              }
            }),
        },
        "Reopen",
      ),
    );
  }
  let deleteButton: HTMLButtonElement | null = null;
  if (!state.items.length && !state.bills.length) {
    actions.push(
      (deleteButton = confirmButton("Delete", "Confirm delete", async () => {
        try {
          await del(`/api/sessions/${s.id}`);
          toast("Session deleted.", "success");
          navigate("/auction/sessions");
        } catch (err) {
          toastError(err);
        }
      })),
    );
  }
  const tilesBox = h("div", { class: "au-session-tiles" });
  drawTiles(tilesBox, state);
  const f = figures(state);
  const tabs: [Tab, string, string][] = [
    ["lots", "Lots", `${f.lots}`],
    ["farmers", "Farmers & bills", `${f.farmers}`],
    ["buyers", "Buyers & invoices", `${f.buyers}`],
    ["products", "Products", `${f.products}`],
  ];
  const counts = new Map<Tab, HTMLElement>();
  const countSpan = (key: Tab, text: string) => {
    const span = h("span", { class: "au-count" }, text);
    counts.set(key, span);
    return span;
  };
  const redraw = () => {
    drawTiles(tilesBox, state);
    const now = figures(state);
    counts.get("lots")?.replaceChildren(String(now.lots));
    counts.get("farmers")?.replaceChildren(String(now.farmers));
    counts.get("buyers")?.replaceChildren(String(now.buyers));
    counts.get("products")?.replaceChildren(String(now.products));
    if (deleteButton) deleteButton.hidden = state.items.length > 0;
  };
  const head = pageHead(
    h("span", null, `Auction · ${longDay(s.date)} `, badge(s.status)),
    s.status === "ACTIVE" ? "Lots can be entered, edited and billed." : "Completed: reopen it to enter or change lots.",
    ...actions,
  );
  head.classList.add("au-session-head");
  main.append(
    head,
    tilesBox,
    h(
      "nav",
      { class: "tabs au-tabs", "aria-label": "Session" },
      tabs.map(([key, label, count]) =>
        link(key === "lots" ? base : `${base}/${key}`, [label, " ", countSpan(key, count)], {
          class: key === tab ? "active" : null,
          "aria-current": key === tab ? "page" : null,
          "data-testid": `tab-${key}`,
        }),
      ),
    ),
  );
  const body = h("div", { class: "au-tab-body" });
  main.append(body);
  if (tab === "lots") {
    const { renderLots } = await import("./lots");
    await renderLots(body, state, redraw);
  } else if (tab === "farmers") {
    renderSide(body, state, FARMERS);
  } else if (tab === "buyers") {
    renderSide(body, state, BUYERS);
  } else {
    renderProducts(body, state);
  }
}

interface Group {
  id: string;
  name: string;
  sub: string;
  lots: Item[];
  open: Item[];
}

function groupBy(items: Item[], key: "farmer" | "buyer"): Group[] {
  const groups = new Map<string, Group>();
  for (const item of items) {
    const party = key === "farmer" ? item.farmer : item.buyer;
    let g = groups.get(party.id);
    if (!g) {
      const sub = key === "farmer" ? [item.farmer.village, item.farmer.phone] : [item.buyer.phone];
      g = { id: party.id, name: party.name, sub: sub.filter(Boolean).join(" · "), lots: [], open: [] };
      groups.set(party.id, g);
    }
    g.lots.push(item);
    if (key === "farmer" ? !item.bill_id : !item.invoice_id) g.open.push(item);
  }
  // The ones with work left first, then by name.
  return [...groups.values()].sort(
    (a, b) => Number(b.open.length > 0) - Number(a.open.length > 0) || a.name.localeCompare(b.name),
  );
}

const sum = (items: Item[]) => items.reduce((s, i) => s + cents(i.final_price), 0) / 100;

function qtyOf(items: Item[]): string {
  const m = new Map<string, number>();
  for (const i of items) m.set(i.unit, (m.get(i.unit) ?? 0) + i.quantity);
  return qtyText(m);
}

function docLink(href: string, number: string, status: string, pay: string, overdue: boolean): HTMLElement {
  return h(
    "span",
    { class: "au-doc" },
    link(href, number, { class: status === "VOID" ? "au-void-text" : null }),
    " ",
    status === "VOID" ? badge("VOID") : badge(pay),
    overdue ? badge("OVERDUE") : null,
  );
}

/** A session's farmers (billed) and buyers (invoiced): the same tab, two sides. */
interface Side {
  key: "farmer" | "buyer";
  emptyHint: string;
  lead: string;
  party: string;
  lotsLabel: string;
  openLabel: string;
  docsLabel: string;
  docs: (state: SessionState, partyId: string) => Node[];
  verb: "Bill" | "Invoice";
  testid: string;
  ledger: string;
  make: (sessionId: string, g: Group) => Promise<{ path: string; done: string }>;
}

const FARMERS: Side = {
  key: "farmer",
  emptyHint: "Enter lots first; each farmer is then billed for their lots here.",
  lead: "Bill a farmer for their unbilled lots: commission and charges come off, the net is what you pay them.",
  party: "Farmer",
  lotsLabel: "Sales",
  openLabel: "Unbilled",
  docsLabel: "Bills",
  docs: (state, id) =>
    state.bills.filter((b) => b.farmer_id === id).map((b) => docLink(`/auction/bills/${b.id}`, b.bill_number, b.status, b.payment_status, b.overdue)),
  verb: "Bill",
  testid: "bill-farmer",
  ledger: "farmers",
  make: async (sessionId, g) => {
    const bill = await post<Bill>(`/api/sessions/${sessionId}/bills`, { farmer_id: g.id }, docKey("bill", sessionId, g));
    return { path: `/auction/bills/${bill.id}`, done: `${bill.bill_number} made for ${g.name}: net ${money(bill.net_amount)}` };
  },
};

const BUYERS: Side = {
  key: "buyer",
  emptyHint: "Enter lots first; each buyer is then invoiced for what they bought here.",
  lead: "Invoice a buyer for their uninvoiced lots: the lots plus the buyer's charges, due after the credit days in Settings.",
  party: "Buyer",
  lotsLabel: "Bought",
  openLabel: "Not invoiced",
  docsLabel: "Invoices",
  docs: (state, id) =>
    state.invoices
      .filter((i) => i.buyer_id === id)
      .map((i) => docLink(`/auction/invoices/${i.id}`, i.invoice_number, i.status, i.collection_status, i.overdue)),
  verb: "Invoice",
  testid: "invoice-buyer",
  ledger: "buyers",
  make: async (sessionId, g) => {
    const invoice = await post<Invoice>(`/api/sessions/${sessionId}/buyer-invoices`, { buyer_id: g.id }, docKey("inv", sessionId, g));
    return { path: `/auction/invoices/${invoice.id}`, done: `${invoice.invoice_number} made for ${g.name}: ${money(invoice.total_amount)}` };
  },
};

function renderSide(body: HTMLElement, state: SessionState, side: Side): void {
  const s = state.session;
  const groups = groupBy(state.items, side.key);
  if (!groups.length) {
    body.append(empty("No lots yet", side.emptyHint, link(`/auction/sessions/${s.id}`, "Enter lots", { class: "button primary" })));
    return;
  }
  body.append(
    h("p", { class: "muted au-lead" }, side.lead),
    table(
      [
        { label: side.party, cell: (g) => h("span", null, h("strong", null, g.name), g.sub ? h("span", { class: "au-sub" }, g.sub) : null) },
        { label: "Lots", cell: (g) => `${g.lots.length}`, num: true },
        { label: "Quantity", cell: (g) => qtyOf(g.lots) },
        { label: side.lotsLabel, cell: (g) => money(sum(g.lots)), num: true },
        { label: side.openLabel, cell: (g) => (g.open.length ? `${money(sum(g.open))} (${g.open.length})` : "—"), num: true },
        { label: side.docsLabel, cell: (g) => h("span", { class: "au-docs" }, side.docs(state, g.id)) },
        {
          label: "",
          cls: "au-actions",
          cell: (g) =>
            g.open.length
              ? h(
                  "button",
                  {
                    type: "button",
                    class: "primary au-sm",
                    "data-testid": side.testid,
                    [`data-${side.key}`]: g.name,
                    onclick: (e: Event) => void makeDoc(e.currentTarget as HTMLButtonElement, s.id, g, side),
                  },
                  `${side.verb} ${g.open.length} lot${g.open.length === 1 ? "" : "s"}`,
                )
              : link(`/auction/ledgers/${side.ledger}/${g.id}`, "Ledger", { class: "button au-sm ghost" }),
        },
      ],
      groups,
      { testid: `${side.ledger}-table`, rowAttrs: (g) => ({ [`data-${side.key}`]: g.name }) },
    ),
  );
}

const docKeys = new Map<string, string>();

/** One key per document kind, party and set of lots: a retry after a lost answer never makes
 * a second bill or invoice. */
function docKey(kind: "bill" | "inv", sessionId: string, g: Group): string {
  const keyOf = `${kind}:${sessionId}:${g.id}:${g.open.map((i) => i.id).join(",")}`;
  const key = docKeys.get(keyOf) ?? newIdempotencyKey();
  docKeys.set(keyOf, key);
  return key;
}

async function makeDoc(button: HTMLButtonElement, sessionId: string, g: Group, side: Side): Promise<void> {
  await busy(button, async () => {
    try {
      const made = await side.make(sessionId, g);
      toast(made.done, "success");
      navigate(made.path);
    } catch (err) {
      toastError(err);
    }
  });
}

function renderProducts(body: HTMLElement, state: SessionState): void {
  const products = state.session.summary.products;
  if (!products.length) {
    body.append(empty("No lots yet"));
    return;
  }
  const sm = state.session.summary;
  body.append(
    table(
      [
        { label: "Product", cell: (p) => h("strong", null, p.product_name) },
        { label: "Category", cell: (p) => p.category_name },
        { label: "Lots", cell: (p) => `${p.items_count}`, num: true },
        { label: "Quantity", cell: (p) => qtyText(p.quantity_by_unit) },
        { label: "Amount", cell: (p) => money(p.amount), num: true },
        {
          label: "Average rate",
          cell: (p) => {
            const units = Object.entries(p.quantity_by_unit);
            const only = units.length === 1 ? units[0] : undefined;
            return only && only[1] > 0 ? `${money(p.amount / only[1])} / ${only[0]}` : "—";
          },
          num: true,
        },
      ],
      [...products].sort((a, b) => b.amount - a.amount),
      {
        testid: "products-table",
        foot: [
          h(
            "tr",
            null,
            h("td", { colspan: "2" }, "Total"),
            h("td", { class: "num" }, `${sm.total_items}`),
            h("td", null, qtyText(sm.quantity_by_unit)),
            h("td", { class: "num" }, money(sm.total_amount)),
            h("td", null),
          ),
        ],
      },
    ),
  );
}

// The frame of every auction screen (the area's own navigation beside the content) and the
// small pieces the screens share: headers, figures, badges, tables, pagers, errors.

import { ApiError, session } from "../api";
import { busy, fmtMoney, h, link, toast } from "../ui";
import { get } from "./client";
import type { Settings } from "./types";

interface NavItem {
  href: string;
  label: string;
  key: string;
}

const NAV: { group: string; items: NavItem[] }[] = [
  {
    group: "Floor",
    items: [
      { href: "/auction", label: "Today", key: "today" },
      { href: "/auction/sessions", label: "Sessions", key: "sessions" },
    ],
  },
  {
    group: "Money",
    items: [
      { href: "/auction/bills", label: "Farmer bills", key: "bills" },
      { href: "/auction/invoices", label: "Buyer invoices", key: "invoices" },
      { href: "/auction/outstanding", label: "Outstanding", key: "outstanding" },
    ],
  },
  {
    group: "Books",
    items: [
      { href: "/auction/day-book", label: "Day book", key: "day-book" },
      { href: "/auction/ledgers", label: "Ledgers", key: "ledgers" },
      { href: "/auction/reports", label: "Reports", key: "reports" },
    ],
  },
  {
    group: "Masters",
    items: [
      { href: "/auction/farmers", label: "Farmers", key: "farmers" },
      { href: "/auction/buyers", label: "Buyers", key: "buyers" },
      { href: "/auction/products", label: "Products", key: "products" },
      { href: "/auction/charges", label: "Charges", key: "charges" },
      { href: "/auction/settings", label: "Settings", key: "settings" },
    ],
  },
];

// The agent's trading name over the navigation: asked once, kept current by the settings.
let businessName: Promise<string | null> | null = null;

export function setBusinessName(name: string | null): void {
  businessName = Promise.resolve(name);
}

function loadBusinessName(): Promise<string | null> {
  businessName ??= get<Settings>("/api/settings").then(
    (s) => s.business_name ?? null,
    () => {
      businessName = null;
      return null;
    },
  );
  return businessName;
}

/** Draws the area's navigation and returns the element the screen fills; null (with a message
 * drawn instead) when the user is not a commissioner. */
export async function frame(root: HTMLElement, active: string): Promise<HTMLElement | null> {
  const user = await session();
  if (user && !user.roles.includes("commissioner")) {
    root.append(
      h(
        "section",
        { class: "empty", "data-testid": "auction-not-commissioner" },
        h("h1", null, "The auction floor is for commission agents"),
        h(
          "p",
          { class: "muted" },
          "Your account does not have the commissioner role. Create an account with it to run an auction.",
        ),
        link("/", "Back home", { class: "button" }),
      ),
    );
    return null;
  }
  const main = h("div", { class: "au-main" });
  const business = h("div", { class: "au-business", "data-testid": "au-business", hidden: true });
  void loadBusinessName().then((name) => {
    business.textContent = name ?? "";
    business.hidden = !name;
  });
  const nav = h(
    "nav",
    { class: "au-nav", "aria-label": "Auction" },
    business,
    NAV.map((g) =>
      h(
        "div",
        { class: "au-nav-group" },
        h("span", { class: "au-nav-title" }, g.group),
        g.items.map((item) =>
          link(item.href, item.label, {
            class: item.key === active ? "active" : null,
            "aria-current": item.key === active ? "page" : null,
            "data-testid": `au-nav-${item.key}`,
          }),
        ),
      ),
    ),
  );
  root.append(h("div", { class: "au-layout" }, nav, main));
  return main;
}

/** A screen's title row: heading, a line under it, actions on the right. */
export function pageHead(
  title: string | Node,
  sub?: string | Node | null,
  ...actions: (Node | null | false | undefined)[]
): HTMLElement {
  return h(
    "header",
    { class: "au-head" },
    h("div", { class: "au-head-text" }, h("h1", null, title), sub ? h("p", { class: "muted" }, sub) : null),
    h("div", { class: "au-head-actions" }, actions),
  );
}

/** One figure: a label and a value (money right-aligned in tabular digits). */
export function tile(label: string, value: string | Node, note?: string | Node | null, cls = ""): HTMLElement {
  return h(
    "div",
    { class: `au-tile ${cls}`.trim() },
    h("span", { class: "au-tile-label" }, label),
    h("strong", { class: "au-tile-value" }, value),
    note ? h("span", { class: "au-tile-note" }, note) : null,
  );
}

export function tiles(...items: HTMLElement[]): HTMLElement {
  return h("div", { class: "au-tiles" }, items);
}

const BADGE: Record<string, string> = {
  ACTIVE: "open",
  COMPLETED: "done",
  UNPAID: "warn",
  PARTIAL: "info",
  PAID: "ok",
  VOID: "void",
  OVERDUE: "bad",
  BILLED: "ok",
  INVOICED: "info",
  OPEN: "open",
};

export function badge(text: string, kind?: string): HTMLElement {
  const cls = kind ?? BADGE[text] ?? "plain";
  return h("span", { class: `au-badge au-badge-${cls}` }, text.replace(/_/g, " "));
}

export function money(value: number | null | undefined): string {
  return fmtMoney(value);
}

/** "1 lot", "3 lots", "1 entry" / "2 entries" (`many` when not just + s). */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** "2 Dec 00:00" (UTC): a moment in a dense table. */
export function shortWhen(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const day = d.toLocaleDateString("en-GB", { day: "numeric", month: "short", timeZone: "UTC" });
  return `${day} ${d.toISOString().slice(11, 16)}`;
}

/** A signed ledger amount: "+1,234.00" / "−50.00". */
export function signed(value: number): string {
  const text = fmtMoney(Math.abs(value));
  return value < 0 ? `−${text}` : value > 0 ? `+${text}` : text;
}

export interface Column<T> {
  label: string;
  cell: (row: T) => Node | string | number | null;
  num?: boolean;
  cls?: string;
}

/** A table that becomes labelled cards on phones (`data-label`). */
export function table<T>(
  columns: Column<T>[],
  rows: T[],
  opts: {
    rowAttrs?: (row: T) => Record<string, string | null>;
    testid?: string;
    foot?: Node[];
    /** Few narrow columns: stays a table on phones (no cards). */
    keep?: boolean;
  } = {},
): HTMLElement {
  return h(
    "div",
    { class: "au-table-wrap" },
    h(
      "table",
      { class: opts.keep ? "au-table au-table-keep" : "au-table", "data-testid": opts.testid ?? null },
      h(
        "thead",
        null,
        h(
          "tr",
          null,
          columns.map((c) => h("th", { scope: "col", class: [c.num ? "num" : "", c.cls ?? ""].join(" ").trim() || null }, c.label)),
        ),
      ),
      h(
        "tbody",
        null,
        rows.map((row) =>
          h(
            "tr",
            opts.rowAttrs?.(row) ?? null,
            columns.map((c) =>
              h(
                "td",
                { "data-label": c.label || null, class: [c.num ? "num" : "", c.cls ?? ""].join(" ").trim() || null },
                c.cell(row),
              ),
            ),
          ),
        ),
      ),
      opts.foot ? h("tfoot", null, opts.foot) : null,
    ),
  );
}

export function empty(title: string, text?: string, ...actions: Node[]): HTMLElement {
  return h(
    "div",
    { class: "au-empty" },
    h("p", { class: "au-empty-title" }, title),
    text ? h("p", { class: "muted" }, text) : null,
    actions.length ? h("div", { class: "actions" }, actions) : null,
  );
}

export function loading(text = "Loading…"): HTMLElement {
  return h("p", { class: "loading au-loading", "aria-busy": "true" }, text);
}

export function errorBox(err: unknown, retry?: () => void): HTMLElement {
  const message = err instanceof Error ? err.message : String(err);
  return h(
    "div",
    { class: "au-error", role: "alert" },
    h("p", null, message),
    retry ? h("button", { type: "button", onclick: retry }, "Try again") : null,
  );
}

export function pager(page: number, totalPages: number, go: (page: number) => void): HTMLElement | null {
  if (totalPages <= 1) return null;
  return h(
    "nav",
    { class: "au-pager", "aria-label": "Pages" },
    h("button", { type: "button", class: "au-sm", disabled: page <= 1, onclick: () => go(page - 1) }, "‹ Previous"),
    h("span", null, `Page ${page} of ${totalPages}`),
    h("button", { type: "button", class: "au-sm", disabled: page >= totalPages, onclick: () => go(page + 1) }, "Next ›"),
  );
}

/** A button that asks once more before doing something that cannot be undone: the first press
 * turns it into "Confirm …" for a few seconds (no blocking dialog, works from the keyboard). */
export function confirmButton(
  label: string,
  confirmLabel: string,
  action: () => Promise<void>,
  attrs: Record<string, string | null> = {},
): HTMLButtonElement {
  const button = h("button", { type: "button", class: "au-sm au-danger-ghost", ...attrs }, label);
  let armed = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const disarm = () => {
    armed = false;
    button.textContent = label;
    button.classList.remove("au-armed");
  };
  button.addEventListener("click", () => {
    if (!armed) {
      armed = true;
      button.textContent = confirmLabel;
      button.classList.add("au-armed");
      clearTimeout(timer);
      timer = setTimeout(disarm, 4000);
      return;
    }
    clearTimeout(timer);
    void busy(button, action).finally(() => {
      if (button.isConnected) disarm();
    });
  });
  button.addEventListener("blur", () => {
    if (armed) setTimeout(disarm, 200);
  });
  return button;
}

/** The message of a failed call, as a toast. */
export function toastError(err: unknown): void {
  toast(err instanceof ApiError || err instanceof Error ? err.message : String(err), "error");
}

/** A link to download a CSV the API makes (`.csv` paths; the cookie login authorises it). */
export function csvLink(href: string, label = "Download CSV"): HTMLAnchorElement {
  return h("a", { href, class: "button au-sm", download: "", "data-testid": "csv-link" }, "⤓ ", label);
}

/** Segmented filter links (`?name=value`), the current one marked. */
export function filterLinks(
  base: string,
  name: string,
  current: string,
  options: [string, string][],
  extra: Record<string, string> = {},
): HTMLElement {
  return h(
    "div",
    { class: "au-seg", role: "group", "aria-label": name },
    options.map(([value, text]) => {
      const params = new URLSearchParams(extra);
      if (value) params.set(name, value);
      const qs = params.toString();
      return link(qs ? `${base}?${qs}` : base, text, {
        class: value === current ? "active" : null,
        "aria-current": value === current ? "true" : null,
      });
    }),
  );
}

export function queryParam(name: string): string {
  return new URLSearchParams(location.search).get(name) ?? "";
}

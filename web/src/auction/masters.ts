// The masters: farmers, buyers, products (with their categories) and charges. One screen shape:
// a form that adds (Enter saves and is ready for the next) or edits the row picked, a search
// as you type (the API's `q`), and per row: edit, deactivate / activate, delete (409 while a
// lot or a document uses it: deactivate instead).

import { ApiError } from "../api";
import { busy, clearFormErrors, formErrors, h, link, newIdempotencyKey } from "../ui";
import { getAll, getList, numeric, post, put, del, store } from "./client";
import { badge, confirmButton, empty, errorBox, frame, loading, money, pageHead, pager, table, toastError, type Column } from "./layout";
import { UNITS, type Buyer, type Category, type Charge, type Farmer, type Product } from "./types";

interface Field {
  name: string;
  label: string;
  kind?: "text" | "select" | "checkbox" | "decimal" | "tel";
  options?: () => [string, string][];
  placeholder?: string;
  /** Shown only when this says so (a PER_UNIT charge's unit). */
  when?: (values: Record<string, string>) => boolean;
  hint?: string;
}

interface Config<T extends { id: string; name: string }> {
  nav: string;
  path: string;
  title: string;
  intro: string;
  noun: string;
  fields: Field[];
  columns: Column<T>[];
  activeFilter: boolean;
  body: (v: Record<string, string>, editing: T | null) => Record<string, unknown>;
  values: (row: T) => Record<string, string>;
  extra?: (row: T) => Node | null;
  /** The API names some rules on the body as a whole: put them on a field. */
  explain?: (err: ApiError) => ApiError;
  after?: (row: T) => void;
}

const PAGE = 50;

function control(f: Field, id: string): HTMLElement {
  if (f.kind === "select") {
    return h("select", { id, name: f.name }, (f.options?.() ?? []).map(([v, t]) => h("option", { value: v }, t)));
  }
  if (f.kind === "checkbox") {
    return h("input", { id, name: f.name, type: "checkbox", checked: true });
  }
  return h("input", {
    id,
    name: f.name,
    type: f.kind === "tel" ? "tel" : "text",
    inputmode: f.kind === "decimal" ? "decimal" : null,
    autocomplete: "off",
    placeholder: f.placeholder ?? null,
  });
}

function readValues(form: HTMLFormElement, fields: Field[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of fields) {
    const el = form.elements.namedItem(f.name);
    if (el instanceof HTMLInputElement && el.type === "checkbox") out[f.name] = el.checked ? "true" : "false";
    else if (el instanceof HTMLInputElement || el instanceof HTMLSelectElement) out[f.name] = el.value;
  }
  return out;
}

function writeValues(form: HTMLFormElement, values: Record<string, string>): void {
  for (const [name, value] of Object.entries(values)) {
    const el = form.elements.namedItem(name);
    if (el instanceof HTMLInputElement && el.type === "checkbox") el.checked = value === "true";
    else if (el instanceof HTMLInputElement || el instanceof HTMLSelectElement) el.value = value;
  }
}

const text = (v: string | undefined) => {
  const t = (v ?? "").trim();
  return t === "" ? null : t;
};

async function masterScreen<T extends { id: string; name: string; active?: boolean }>(
  main: HTMLElement,
  cfg: Config<T>,
): Promise<{ reload: () => Promise<void> }> {
  let editing: T | null = null;
  let q = "";
  let withInactive = false;
  let page = 1;
  const prefix = `m-${cfg.path}`;
  const title = h("h2", null, `Add a ${cfg.noun}`);
  const submit = h("button", { type: "submit", class: "primary", "data-testid": `${prefix}-save` }, "Add ⏎");
  const cancel = h("button", { type: "button", class: "ghost", hidden: true }, "Cancel");
  // What the last action did, beside the buttons (a toast per master would pile up).
  const status = h("span", { class: "au-form-status", role: "status", "aria-live": "polite", "data-testid": `${prefix}-status` });
  const said = (text: string) => {
    status.textContent = text;
  };
  const wraps = new Map<string, HTMLElement>();
  const form = h(
    "form",
    { class: "au-master-form", novalidate: true, "data-testid": `${prefix}-form` },
    h("div", { class: "form-error", role: "alert", hidden: true }),
    h(
      "div",
      { class: "au-master-fields" },
      cfg.fields.map((f) => {
        const id = `${prefix}-${f.name}`;
        const c = control(f, id);
        const wrap =
          f.kind === "checkbox"
            ? h("div", { class: "field au-check-field" }, h("label", { class: "check" }, c, f.label))
            : h("div", { class: "field" }, h("label", { for: id }, f.label), c, f.hint ? h("p", { class: "hint" }, f.hint) : null);
        wraps.set(f.name, wrap);
        return wrap;
      }),
      h("div", { class: "au-master-buttons" }, submit, cancel, status),
    ),
  );
  const applyWhen = () => {
    const v = readValues(form, cfg.fields);
    for (const f of cfg.fields) {
      if (f.when) wraps.get(f.name)?.toggleAttribute("hidden", !f.when(v));
    }
  };
  form.addEventListener("change", applyWhen);
  applyWhen();
  const firstInput = () => form.querySelector<HTMLElement>("input, select");
  let key = newIdempotencyKey();
  form.addEventListener("input", () => {
    key = newIdempotencyKey();
  });
  const startEdit = (row: T | null) => {
    editing = row;
    clearFormErrors(form);
    form.reset();
    if (row) writeValues(form, cfg.values(row));
    title.textContent = row ? `Edit ${cfg.noun}: ${row.name}` : `Add a ${cfg.noun}`;
    submit.textContent = row ? "Save changes ⏎" : "Add ⏎";
    cancel.hidden = !row;
    form.classList.toggle("au-editing-form", !!row);
    applyWhen();
    firstInput()?.focus();
    if (row) form.scrollIntoView({ block: "nearest" });
  };
  cancel.addEventListener("click", () => startEdit(null));
  form.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && editing) startEdit(null);
  });
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    clearFormErrors(form);
    said("");
    const body = cfg.body(readValues(form, cfg.fields), editing);
    void busy(submit, async () => {
      try {
        const row = editing
          ? await put<T>(`/api/${cfg.path}/${editing.id}`, body)
          : await post<T>(`/api/${cfg.path}`, body, key);
        said(`✓ ${editing ? "Saved" : "Added"} ${row.name}`);
        cfg.after?.(row);
        key = newIdempotencyKey();
        startEdit(null);
        // The form is ready for the next one at once; the list follows.
        void reload();
      } catch (err) {
        const e2 = err instanceof ApiError && cfg.explain ? cfg.explain(err) : err;
        formErrors(form, e2 instanceof Error ? e2 : new Error(String(e2)));
      }
    });
  });

  const search = h("input", { type: "search", placeholder: `Search ${cfg.title.toLowerCase()}…`, "aria-label": `Search ${cfg.title.toLowerCase()}`, "data-testid": `${prefix}-search` });
  const inactive = h("input", { type: "checkbox" });
  let timer: ReturnType<typeof setTimeout> | undefined;
  search.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      q = search.value.trim();
      page = 1;
      void reload();
    }, 200);
  });
  inactive.addEventListener("change", () => {
    withInactive = inactive.checked;
    page = 1;
    void reload();
  });
  const listBox = h("div", null, loading());

  async function setActive(row: T, active: boolean): Promise<void> {
    try {
      const updated = await put<T>(`/api/${cfg.path}/${row.id}`, { active });
      cfg.after?.(updated);
      said(`✓ ${row.name} ${active ? "activated" : "deactivated"}`);
      await reload();
    } catch (err) {
      toastError(err);
    }
  }

  async function reload(): Promise<void> {
    try {
      const query: Record<string, string | number | boolean | undefined> = { page, limit: PAGE, q: q || undefined };
      if (cfg.activeFilter && !withInactive) query.active = true;
      const list = await getList<T>(`/api/${cfg.path}`, query);
      if (!list.data.length) {
        listBox.replaceChildren(empty(q ? `No ${cfg.title.toLowerCase()} match “${q}”` : `No ${cfg.title.toLowerCase()} yet`, q ? undefined : `Add the first one with the form above.`));
        return;
      }
      const columns: Column<T>[] = [
        ...cfg.columns,
        {
          label: "",
          cls: "au-actions",
          cell: (row) =>
            h(
              "span",
              { class: "au-row-actions" },
              cfg.extra?.(row) ?? null,
              h("button", { type: "button", class: "au-sm ghost", onclick: () => startEdit(row) }, "Edit"),
              cfg.activeFilter
                ? h(
                    "button",
                    { type: "button", class: "au-sm ghost", onclick: (e: Event) => void busy(e.currentTarget as HTMLButtonElement, () => setActive(row, !row.active)) },
                    row.active ? "Deactivate" : "Activate",
                  )
                : null,
              confirmButton("Delete", "Confirm", async () => {
                try {
                  await del(`/api/${cfg.path}/${row.id}`);
                  said(`✓ Deleted ${row.name}`);
                  if (editing?.id === row.id) startEdit(null);
                  await reload();
                } catch (err) {
                  toastError(err);
                }
              }),
            ),
        },
      ];
      listBox.replaceChildren(
        h("p", { class: "muted au-count-line" }, `${list.meta.total} ${list.meta.total === 1 ? cfg.noun : cfg.title.toLowerCase()}`),
        table(columns, list.data, { testid: `${prefix}-table`, rowAttrs: (row) => ({ class: row.active === false ? "au-inactive" : null }) }),
        pager(page, list.meta.totalPages, (p) => {
          page = p;
          void reload();
        }) ?? "",
      );
    } catch (err) {
      listBox.replaceChildren(errorBox(err, () => void reload()));
    }
  }

  main.append(
    pageHead(cfg.title, cfg.intro),
    h("section", { class: "card au-master-card" }, title, form),
    h(
      "div",
      { class: "au-toolbar" },
      search,
      cfg.activeFilter ? h("label", { class: "check" }, inactive, "Show inactive too") : null,
    ),
    listBox,
  );
  await reload();
  // The first field, unless the operator is already typing elsewhere (a form redrawn beside).
  const here = document.activeElement;
  if (!here || here === document.body || !here.closest("form, input, select, textarea")) firstInput()?.focus();
  return { reload };
}

const yes = (v: string | undefined) => v === "true";
const activeCol = <T extends { active: boolean }>(): Column<T> => ({ label: "Status", cell: (r) => (r.active ? badge("active", "ok") : badge("inactive", "void")) });

export async function renderFarmers(root: HTMLElement): Promise<void> {
  const main = await frame(root, "farmers");
  if (!main) return;
  await masterScreen<Farmer>(main, {
    nav: "farmers",
    path: "farmers",
    title: "Farmers",
    noun: "farmer",
    intro: "The farmers who sell through you. Add them here or straight from the lot entry.",
    fields: [
      { name: "name", label: "Name" },
      { name: "village", label: "Village" },
      { name: "phone", label: "Phone", kind: "tel" },
      { name: "active", label: "Active", kind: "checkbox" },
    ],
    columns: [
      { label: "Name", cell: (f) => h("strong", null, f.name) },
      { label: "Village", cell: (f) => f.village ?? "—" },
      { label: "Phone", cell: (f) => f.phone ?? "—" },
      activeCol<Farmer>(),
    ],
    activeFilter: true,
    body: (v) => ({ name: v.name, village: text(v.village), phone: text(v.phone), active: yes(v.active) }),
    values: (f) => ({ name: f.name, village: f.village ?? "", phone: f.phone ?? "", active: String(f.active) }),
    extra: (f) => link(`/auction/ledgers/farmers/${f.id}`, "Ledger", { class: "button au-sm ghost" }),
    after: (f) => store("farmers").put(f),
  });
}

export async function renderBuyers(root: HTMLElement): Promise<void> {
  const main = await frame(root, "buyers");
  if (!main) return;
  await masterScreen<Buyer>(main, {
    nav: "buyers",
    path: "buyers",
    title: "Buyers",
    noun: "buyer",
    intro: "Traders who buy at your auctions. Add them here or straight from the lot entry.",
    fields: [
      { name: "name", label: "Name" },
      { name: "phone", label: "Phone", kind: "tel" },
      { name: "active", label: "Active", kind: "checkbox" },
    ],
    columns: [
      { label: "Name", cell: (b) => h("strong", null, b.name) },
      { label: "Phone", cell: (b) => b.phone ?? "—" },
      activeCol<Buyer>(),
    ],
    activeFilter: true,
    body: (v) => ({ name: v.name, phone: text(v.phone), active: yes(v.active) }),
    values: (b) => ({ name: b.name, phone: b.phone ?? "", active: String(b.active) }),
    extra: (b) => link(`/auction/ledgers/buyers/${b.id}`, "Ledger", { class: "button au-sm ghost" }),
    after: (b) => store("buyers").put(b),
  });
}

export async function renderProducts(root: HTMLElement): Promise<void> {
  const main = await frame(root, "products");
  if (!main) return;
  let categories: Category[] = [];
  let generation = 0;
  /** The categories again (one changed): the newest answer wins. */
  const loadCategories = async (): Promise<boolean> => {
    const mine = ++generation;
    const rows = await getAll<Category>("/api/categories");
    if (mine !== generation) return false;
    categories = rows;
    return true;
  };
  try {
    await loadCategories();
  } catch (err) {
    main.append(errorBox(err));
    return;
  }
  const productsBox = h("div", { class: "au-products-main" });
  const categoriesBox = h("div", { class: "au-products-side" });
  main.append(h("div", { class: "au-products" }, productsBox, categoriesBox));
  const drawProducts = async () => {
    productsBox.replaceChildren();
    if (!categories.length) {
      productsBox.append(pageHead("Products", "What is sold at your auctions, each in a category."), empty("Add a category first", "Products belong to a category (Vegetables, Fruits, Grains…): add one on the right."));
      return;
    }
    await masterScreen<Product>(productsBox, {
      nav: "products",
      path: "products",
      title: "Products",
      noun: "product",
      intro: "What is sold at your auctions, each in a category.",
      fields: [
        { name: "name", label: "Name" },
        { name: "category_id", label: "Category", kind: "select", options: () => categories.map((c) => [c.id, c.name]) },
        { name: "active", label: "Active", kind: "checkbox" },
      ],
      columns: [
        { label: "Name", cell: (p) => h("strong", null, p.name) },
        { label: "Category", cell: (p) => p.category.name },
        activeCol<Product>(),
      ],
      activeFilter: true,
      body: (v) => ({ name: v.name, category_id: v.category_id, active: yes(v.active) }),
      values: (p) => ({ name: p.name, category_id: p.category_id, active: String(p.active) }),
      after: (p) => store("products").put(p),
    });
  };
  await masterScreen<Category & { active?: boolean }>(categoriesBox, {
    nav: "products",
    path: "categories",
    title: "Categories",
    noun: "category",
    intro: "Groups of products.",
    fields: [{ name: "name", label: "Name" }],
    columns: [{ label: "Name", cell: (c) => c.name }],
    activeFilter: false,
    body: (v) => ({ name: v.name }),
    values: (c) => ({ name: c.name }),
    after: () => {
      void loadCategories().then((latest) => (latest ? drawProducts() : undefined));
    },
  });
  await drawProducts();
}

const KINDS: [string, string][] = [
  ["PERCENT", "% of sales"],
  ["PER_UNIT", "Per unit"],
  ["FIXED_PER_LOT", "Per lot"],
];
const ACCOUNTS: [string, string][] = [
  ["AGENT", "Yours"],
  ["MARKET_YARD", "Market yard"],
  ["THIRD_PARTY", "Third party"],
];

function chargeRateText(c: Charge): string {
  if (c.kind === "PERCENT") return `${c.rate} %`;
  if (c.kind === "PER_UNIT") return `${money(c.rate)} / ${c.unit ?? "unit"}`;
  return `${money(c.rate)} / lot`;
}

export async function renderCharges(root: HTMLElement): Promise<void> {
  const main = await frame(root, "charges");
  if (!main) return;
  await masterScreen<Charge>(main, {
    nav: "charges",
    path: "charges",
    title: "Charges",
    noun: "charge",
    intro: "Deductions on farmer bills and additions on buyer invoices beyond the commission: market fee, hamali, weighing… Changes apply to new bills only.",
    fields: [
      { name: "name", label: "Name", placeholder: "Market fee" },
      { name: "kind", label: "Counted", kind: "select", options: () => KINDS },
      { name: "rate", label: "Rate (% or money)", kind: "decimal", placeholder: "1.5" },
      { name: "unit", label: "Unit", kind: "select", options: () => UNITS.map((u) => [u, u]), when: (v) => v.kind === "PER_UNIT" },
      { name: "payer", label: "Paid by", kind: "select", options: () => [["FARMER", "Farmer (bill)"], ["BUYER", "Buyer (invoice)"]] },
      { name: "account", label: "Whose money", kind: "select", options: () => ACCOUNTS },
      { name: "active", label: "Active", kind: "checkbox" },
    ],
    columns: [
      { label: "Name", cell: (c) => h("strong", null, c.name) },
      { label: "Rate", cell: (c) => chargeRateText(c), num: true },
      { label: "Paid by", cell: (c) => (c.payer === "FARMER" ? "Farmer" : "Buyer") },
      { label: "Whose money", cell: (c) => ACCOUNTS.find(([k]) => k === c.account)?.[1] ?? c.account },
      activeCol<Charge>(),
    ],
    activeFilter: true,
    body: (v) => ({
      name: v.name,
      kind: v.kind,
      rate: numeric(v.rate),
      unit: v.kind === "PER_UNIT" ? v.unit : null,
      payer: v.payer,
      account: v.account,
      active: yes(v.active),
    }),
    values: (c) => ({
      name: c.name,
      kind: c.kind,
      rate: String(c.rate),
      unit: c.unit ?? "KG",
      payer: c.payer,
      account: c.account,
      active: String(c.active),
    }),
    explain: (err) => {
      // The kind/rate/unit rule is checked on the body as a whole: its message names the field.
      if (!Object.keys(err.fields).length) {
        const details = (err.body as { error?: { details?: { msg?: string }[] } } | null)?.error?.details;
        const msg = (details?.[0]?.msg ?? err.message).replace(/^Value error, /, "");
        if (/unit/i.test(msg)) err.fields = { unit: msg };
        else if (/rate/i.test(msg)) err.fields = { rate: msg };
      }
      return err;
    },
  });
}

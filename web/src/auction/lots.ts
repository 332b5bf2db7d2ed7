// The lot entry of a session, built for the auction floor: the clerk types the lots as the
// auctioneer calls them, without touching the mouse.
//
//   Farmer ⏎  Product ⏎  Buyer ⏎  Unit ⏎  Quantity ⏎  Rate ⏎   -> saved; back on Farmer
//
// - Each picker searches the masters as you type (↓/↑, Enter picks; "Add new" creates a farmer
//   or buyer on the spot). Enter on a filled field moves on; Enter saves once the lot is whole
//   (a quantity and a rate or an amount), from any field of the second row.
// - Rate is per unit (how a lot is called); Amount = quantity x rate, half up to cents, and may
//   be typed instead (the API keeps a lot's total price).
// - After a save the farmer and the product stay (a farmer's lots come to the floor together;
//   both can be switched off) and the focus goes back to Farmer: Enter keeps them.
// - The save does not wait for the network: the lot shows at the top of the list as "saving…"
//   while the next one is typed. If the API refuses it, its messages go on the fields when the
//   form is untouched, else the row says why, with Retry (same Idempotency-Key: never twice)
//   and "Back to the form".
// - Every lot can be edited in place or deleted until it is billed or invoiced; the API's
//   409 (billed meanwhile, session completed) is shown on the row.

import { ApiError } from "../api";
import { clearFormErrors, formErrors, h, newIdempotencyKey, svg } from "../ui";
import { clock, del, fmtQty, get, lotAmount, numeric, post, put, store, toScaled, unitRate } from "./client";
import { badge, confirmButton, money } from "./layout";
import { Picker } from "./picker";
import type { SessionState } from "./session";
import { UNITS, type Buyer, type Farmer, type Item, type Product, type Unit } from "./types";

const PREFS_KEY = "auction.entry";

interface Prefs {
  keepFarmer: boolean;
  keepProduct: boolean;
  /** product id -> the unit it was last sold in */
  units: Record<string, Unit>;
  unit: Unit;
}

function loadPrefs(): Prefs {
  const fallback: Prefs = { keepFarmer: true, keepProduct: true, units: {}, unit: "KG" };
  try {
    const raw = JSON.parse(localStorage.getItem(PREFS_KEY) ?? "null") as Partial<Prefs> | null;
    return raw ? { ...fallback, ...raw, units: { ...(raw.units ?? {}) } } : fallback;
  } catch {
    return fallback;
  }
}

function savePrefs(prefs: Prefs): void {
  try {
    localStorage.setItem(PREFS_KEY, JSON.stringify(prefs));
  } catch {
    /* private mode: the defaults serve */
  }
}

function farmerSub(f: Farmer): string {
  return [f.village, f.phone].filter(Boolean).join(" · ");
}

function buyerSub(b: Buyer): string {
  return b.phone ?? "";
}

function productSub(p: Product): string {
  return p.category?.name ?? "";
}

/** The pickers of a lot (entry form and edit rows share them). */
function pickers(
  state: SessionState,
  prefix: string,
  advance: (from: "farmer" | "product" | "buyer") => void,
  picked: { farmer?: () => void; product?: () => void } = {},
) {
  const latest = <T>(pick: (i: Item) => T & { id: string }) => () => {
    const seen = new Map<string, T>();
    for (let i = state.items.length - 1; i >= 0; i--) {
      const item = state.items[i];
      if (item) {
        const row = pick(item);
        if (!seen.has(row.id)) seen.set(row.id, row);
      }
    }
    return [...seen.values()];
  };
  const farmer = new Picker<Farmer>({
    store: store("farmers"),
    noun: "farmer",
    name: "farmer_id",
    id: `${prefix}-farmer`,
    testid: `${prefix}-farmer`,
    secondary: farmerSub,
    recent: latest((i) => i.farmer),
    create: (name) => post<Farmer>("/api/farmers", { name }, newIdempotencyKey()),
    onPick: () => picked.farmer?.(),
    onAdvance: () => advance("farmer"),
  });
  const product = new Picker<Product>({
    store: store("products"),
    noun: "product",
    name: "product_id",
    id: `${prefix}-product`,
    testid: `${prefix}-product`,
    secondary: productSub,
    recent: latest((i) => i.product),
    missing: "No product matches: add it under Masters › Products",
    onPick: () => picked.product?.(),
    onAdvance: () => advance("product"),
  });
  const buyer = new Picker<Buyer>({
    store: store("buyers"),
    noun: "buyer",
    name: "buyer_id",
    id: `${prefix}-buyer`,
    testid: `${prefix}-buyer`,
    secondary: buyerSub,
    recent: latest((i) => i.buyer),
    create: (name) => post<Buyer>("/api/buyers", { name }, newIdempotencyKey()),
    onAdvance: () => advance("buyer"),
  });
  return { farmer, product, buyer };
}

function unitSelect(id: string, value: Unit): HTMLSelectElement {
  return h(
    "select",
    { id, name: "unit", "data-testid": id, class: "au-unit" },
    UNITS.map((u) => h("option", { value: u, selected: u === value }, u)),
  );
}

function numberInput(id: string, name: string, label: string, places: number): HTMLInputElement {
  return h("input", {
    id,
    name,
    type: "text",
    inputmode: "decimal",
    autocomplete: "off",
    "data-testid": id,
    "aria-label": label,
    "data-places": String(places),
    class: "au-num-input",
  });
}

/** A small padlock: a billed or invoiced lot (an emoji would need a font the floor PC may lack). */
function lockIcon(): SVGElement {
  return svg(
    "svg",
    { viewBox: "0 0 16 16", width: 14, height: 14, "aria-hidden": "true" },
    svg("rect", { x: 3, y: 7, width: 10, height: 7, rx: 1.5, fill: "currentColor" }),
    svg("path", { d: "M5 7V5a3 3 0 0 1 6 0v2", fill: "none", stroke: "currentColor", "stroke-width": 1.6 }),
  );
}

/** "120 KG × 20.00" (the rate muted; none when the lot's total was typed). */
function qtyRate(qty: string, rate: string | null): HTMLElement {
  return h("span", { class: "au-qty-rate" }, qty, rate ? h("span", { class: "au-muted-num" }, ` × ${rate}`) : null);
}

function field(label: string, forId: string, control: HTMLElement, cls = ""): HTMLElement {
  return h("div", { class: `field au-field ${cls}`.trim() }, h("label", { for: forId }, label), control);
}

interface Pending {
  key: string;
  body: Record<string, unknown>;
  farmer: Farmer;
  product: Product;
  buyer: Buyer;
  unit: Unit;
  quantity: string;
  rate: string;
  amount: string;
  row: HTMLTableRowElement;
}

export async function renderLots(body: HTMLElement, state: SessionState, redrawTiles: () => void): Promise<void> {
  const sessionId = state.session.id;
  const activeSession = state.session.status === "ACTIVE";
  const prefs = loadPrefs();
  // The masters for the pickers (all of them when there are few). The first time, the form
  // waits for them (typing before they are in would land keys in the wrong field); later,
  // the known ones serve at once and a fresh list follows.
  const masters = [store("farmers"), store("products"), store("buyers")] as const;
  const loaded = Promise.all(
    masters.map((s) => {
      if (!s.loaded) return s.load();
      void s.load(true).catch(() => undefined);
      return Promise.resolve();
    }),
  );

  const tbody = h("tbody", { "data-testid": "lots-body" });
  const countNote = h("span", { class: "muted" });
  const lotsTable = h(
    "div",
    { class: "au-table-wrap" },
    h(
      "table",
      { class: "au-table au-lots", "data-testid": "lots-table" },
      h(
        "thead",
        null,
        h(
          "tr",
          null,
          ["Time", "Farmer", "Product", "Buyer", "Quantity × rate", "Amount", "Status", ""].map((t, i) =>
            h("th", { scope: "col", class: i === 4 || i === 5 ? "num" : null }, t),
          ),
        ),
      ),
      tbody,
    ),
  );

  const updateCount = () => {
    countNote.textContent = state.items.length
      ? `${state.items.length} lot${state.items.length === 1 ? "" : "s"}, newest first`
      : "";
  };

  // ---- the rows ----

  const rowOf = new Map<string, HTMLTableRowElement>();

  function statusCell(item: Item): HTMLElement {
    const parts: HTMLElement[] = [];
    if (item.bill) parts.push(badge(item.bill.bill_number, "ok"));
    const inv = item.invoice_id ? state.invoices.find((i) => i.id === item.invoice_id) : undefined;
    if (item.invoice_id) parts.push(badge(inv?.invoice_number ?? "Invoiced", "info"));
    if (!parts.length) parts.push(badge("Open", "open"));
    return h("span", { class: "au-docs" }, parts);
  }

  function lotRow(item: Item): HTMLTableRowElement {
    const locked = !!item.bill_id || !!item.invoice_id || !activeSession;
    const rate = unitRate(item.final_price, item.quantity);
    const actions = locked
      ? h(
          "span",
          { class: "au-lock", title: activeSession ? "Billed or invoiced: void the document to change it" : "The session is completed" },
          lockIcon(),
          h("span", { class: "au-sr" }, "locked"),
        )
      : h(
          "span",
          { class: "au-row-actions" },
          h("button", { type: "button", class: "au-sm ghost", "data-testid": "edit-lot", onclick: () => editRow(item) }, "Edit"),
          confirmButton("Delete", "Confirm", () => deleteLot(item), { "data-testid": "delete-lot" }),
        );
    const row = h(
      "tr",
      { "data-lot": item.id, "data-testid": "lot-row" },
      h("td", { "data-label": "Time", class: "au-time" }, clock(item.created_at)),
      h("td", { "data-label": "Farmer" }, h("strong", null, item.farmer.name)),
      h("td", { "data-label": "Product" }, item.product.name),
      h("td", { "data-label": "Buyer" }, item.buyer.name),
      h("td", { "data-label": "Quantity × rate", class: "num" }, qtyRate(`${fmtQty(item.quantity)} ${item.unit}`, rate === null ? null : money(rate))),
      h("td", { "data-label": "Amount", class: "num au-amount" }, money(item.final_price)),
      h("td", { "data-label": "Status" }, statusCell(item)),
      h("td", { class: "au-actions" }, actions),
    );
    rowOf.set(item.id, row);
    return row;
  }

  function message(row: HTMLTableRowElement, text: string | null, kind: "error" | "info" = "error"): void {
    const next = row.nextElementSibling;
    if (next?.classList.contains("au-row-msg")) next.remove();
    if (!text) return;
    row.after(
      h(
        "tr",
        { class: `au-row-msg au-row-msg-${kind}` },
        h("td", { colspan: "8", role: kind === "error" ? "alert" : "status", "data-testid": "lot-message" }, text),
      ),
    );
  }

  function drawRows(): void {
    const rows = [...state.items].reverse().map(lotRow);
    tbody.replaceChildren(...rows);
    if (!rows.length) {
      tbody.append(
        h("tr", { class: "au-no-lots" }, h("td", { colspan: "8" }, activeSession ? "No lots yet: the first one goes in the form above." : "No lots in this session.")),
      );
    }
    updateCount();
  }

  async function deleteLot(item: Item): Promise<void> {
    const row = rowOf.get(item.id);
    try {
      await del(`/api/sessions/${sessionId}/items/${item.id}`);
      state.items = state.items.filter((i) => i.id !== item.id);
      if (row) {
        message(row, null);
        row.remove();
      }
      if (!state.items.length) drawRows();
      updateCount();
      redrawTiles();
    } catch (err) {
      if (row) message(row, err instanceof Error ? err.message : String(err));
    }
  }

  function editRow(item: Item): void {
    const row = rowOf.get(item.id);
    if (!row) return;
    message(row, null);
    const prefix = `edit-${item.id.slice(0, 8)}`;
    const order: HTMLElement[] = [];
    const next = (el: HTMLElement) => {
      const target = order[order.indexOf(el) + 1];
      target?.focus();
      if (target instanceof HTMLInputElement) target.select();
    };
    const p = pickers(state, prefix, (from) => next(from === "farmer" ? p.farmer.input : from === "product" ? p.product.input : p.buyer.input));
    p.farmer.set(item.farmer);
    p.product.set(item.product);
    p.buyer.set(item.buyer);
    const unit = unitSelect(`${prefix}-unit`, item.unit);
    const qty = numberInput(`${prefix}-qty`, "quantity", "Quantity", 3);
    qty.value = String(item.quantity);
    const amount = numberInput(`${prefix}-amount`, "final_price", "Amount", 2);
    amount.value = item.final_price.toFixed(2);
    order.push(p.farmer.input, p.product.input, p.buyer.input, unit, qty, amount);
    const rateNote = h("span", { class: "au-edit-rate muted" });
    const showRate = () => {
      const q = Number(qty.value);
      const a = Number(amount.value);
      const r = q > 0 && Number.isFinite(a) ? unitRate(a, q) : null;
      rateNote.textContent = r === null ? "" : `${money(r)} per ${unit.value}`;
    };
    const save = h("button", { type: "submit", class: "primary au-sm", "data-testid": "save-lot" }, "Save ⏎");
    const cancel = h("button", { type: "button", class: "au-sm ghost" }, "Cancel (Esc)");
    // A form of its own in one wide cell: Enter saves, the API's messages go on its fields.
    const form = h(
      "form",
      { class: "au-edit-form", novalidate: true, "aria-label": `Edit the lot of ${clock(item.created_at)}` },
      h("div", { class: "form-error", role: "alert", hidden: true }),
      h(
        "div",
        { class: "au-edit-grid" },
        field("Farmer", p.farmer.input.id, p.farmer.el),
        field("Product", p.product.input.id, p.product.el),
        field("Buyer", p.buyer.input.id, p.buyer.el),
        field("Unit", unit.id, unit),
        field("Quantity", qty.id, qty),
        field("Amount", amount.id, amount),
        h("div", { class: "au-edit-buttons" }, save, cancel),
      ),
      rateNote,
    );
    const editor = h(
      "tr",
      { class: "au-editing", "data-lot": item.id, "data-testid": "lot-editor" },
      h("td", { colspan: "8" }, form),
    );
    qty.addEventListener("input", showRate);
    amount.addEventListener("input", showRate);
    unit.addEventListener("change", showRate);
    showRate();
    row.replaceWith(editor);
    rowOf.set(item.id, editor);
    const close = (updated: Item) => {
      const fresh = lotRow(updated);
      editor.replaceWith(fresh);
      return fresh;
    };
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      void submit();
    });
    const submit = async () => {
      clearFormErrors(form);
      const changes: Record<string, unknown> = {};
      const f = p.farmer.picked;
      const pr = p.product.picked;
      const b = p.buyer.picked;
      if (!f || !pr || !b) {
        const fields: Record<string, string> = {};
        if (!f) fields.farmer_id = "Pick the farmer from the list";
        if (!pr) fields.product_id = "Pick the product from the list";
        if (!b) fields.buyer_id = "Pick the buyer from the list";
        formErrors(form, new ApiError(400, "The lot is not complete.", "VALIDATION_ERROR", fields));
        return;
      }
      if (f.id !== item.farmer_id) changes.farmer_id = f.id;
      if (pr.id !== item.product_id) changes.product_id = pr.id;
      if (b.id !== item.buyer_id) changes.buyer_id = b.id;
      if (unit.value !== item.unit) changes.unit = unit.value;
      const q = numeric(qty.value);
      if (q !== item.quantity) changes.quantity = q ?? null;
      const a = numeric(amount.value);
      if (a !== item.final_price) changes.final_price = a ?? null;
      if (!Object.keys(changes).length) {
        close(item);
        return;
      }
      save.disabled = true;
      try {
        const updated = await put<Item>(`/api/sessions/${sessionId}/items/${item.id}`, changes);
        state.items = state.items.map((i) => (i.id === item.id ? updated : i));
        close(updated);
        redrawTiles();
      } catch (err) {
        if (err instanceof ApiError && err.status === 409) {
          // Billed or invoiced meanwhile (another desk): learn it, so Cancel shows it locked.
          void get<Item>(`/api/sessions/${sessionId}/items/${item.id}`).then((fresh) => {
            state.items = state.items.map((i) => (i.id === item.id ? fresh : i));
            item = fresh;
            redrawTiles();
          }, () => undefined);
        }
        formErrors(form, err instanceof Error ? err : new Error(String(err)));
      } finally {
        save.disabled = false;
      }
    };
    cancel.addEventListener("click", () => close(item).querySelector<HTMLButtonElement>("[data-testid=edit-lot]")?.focus());
    form.addEventListener("keydown", (e) => {
      if (e.key === "Escape") {
        e.preventDefault();
        const fresh = close(item);
        (fresh.querySelector<HTMLButtonElement>("[data-testid=edit-lot]") ?? fresh.querySelector<HTMLElement>("td"))?.focus();
      } else if (e.key === "Enter" && e.target === unit) {
        e.preventDefault();
        form.requestSubmit();
      }
    });
    qty.focus();
    qty.select();
  }

  // ---- the entry form ----

  let form: HTMLFormElement | null = null;
  if (activeSession) {
    form = buildForm();
  }

  function buildForm(): HTMLFormElement {
    const order: HTMLElement[] = [];
    const advance = (from: "farmer" | "product" | "buyer") => {
      const el = from === "farmer" ? p.farmer.input : from === "product" ? p.product.input : p.buyer.input;
      const target = order[order.indexOf(el) + 1];
      target?.focus();
      if (target instanceof HTMLInputElement) target.select();
    };
    const p = pickers(state, "lot", advance, {
      farmer: () => showContext(),
      product: () => productPicked(),
    });
    const unit = unitSelect("lot-unit", prefs.unit);
    const qty = numberInput("lot-qty", "quantity", "Quantity", 3);
    const rate = numberInput("lot-rate", "rate", "Rate per unit", 2);
    const amount = numberInput("lot-amount", "final_price", "Amount", 2);
    const rateUnit = h("span", { class: "au-rate-unit" }, `per ${prefs.unit}`);
    order.push(p.farmer.input, p.product.input, p.buyer.input, unit, qty, rate, amount);
    const saveButton = h("button", { type: "submit", class: "primary au-save", "data-testid": "lot-save" }, "Save lot ⏎");
    const context = h("p", { class: "au-context", "aria-live": "polite", "data-testid": "farmer-context" });
    const keepFarmer = h("input", { type: "checkbox", id: "keep-farmer", checked: prefs.keepFarmer });
    const keepProduct = h("input", { type: "checkbox", id: "keep-product", checked: prefs.keepProduct });
    keepFarmer.addEventListener("change", () => {
      prefs.keepFarmer = keepFarmer.checked;
      savePrefs(prefs);
    });
    keepProduct.addEventListener("change", () => {
      prefs.keepProduct = keepProduct.checked;
      savePrefs(prefs);
    });

    const f = h(
      "form",
      { class: "au-entry card", novalidate: true, "data-testid": "lot-form", "aria-label": "New lot" },
      h("div", { class: "form-error", role: "alert", hidden: true }),
      h(
        "div",
        { class: "au-entry-row au-entry-who" },
        field("Farmer", p.farmer.input.id, p.farmer.el),
        field("Product", p.product.input.id, p.product.el),
        field("Buyer", p.buyer.input.id, p.buyer.el),
      ),
      h(
        "div",
        { class: "au-entry-row au-entry-what" },
        field("Unit", unit.id, unit, "au-f-unit"),
        field("Quantity", qty.id, qty, "au-f-qty"),
        field("Rate", rate.id, h("div", { class: "au-with-suffix" }, rate, rateUnit), "au-f-rate"),
        field("Amount", amount.id, amount, "au-f-amount"),
        h("div", { class: "field au-field au-f-save" }, h("span", { class: "au-label-spacer", "aria-hidden": "true" }, " "), saveButton),
      ),
      h(
        "div",
        { class: "au-entry-foot" },
        context,
        h(
          "div",
          { class: "au-keep" },
          h("span", { class: "muted" }, "After saving keep:"),
          h("label", { class: "check" }, keepFarmer, "farmer"),
          h("label", { class: "check" }, keepProduct, "product"),
        ),
        h(
          "p",
          { class: "au-keys muted" },
          h("kbd", null, "type"),
          " search · ",
          h("kbd", null, "↓"),
          h("kbd", null, "↑"),
          " choose · ",
          h("kbd", null, "Enter"),
          " pick / next / save · ",
          h("kbd", null, "Esc"),
          " undo typing",
        ),
      ),
    );

    // Amount follows quantity x rate until typed by hand.
    let amountByHand = false;
    const recompute = () => {
      if (amountByHand) return;
      const a = rate.value.trim() ? lotAmount(qty.value, rate.value) : null;
      amount.value = a ?? "";
    };
    qty.addEventListener("input", recompute);
    rate.addEventListener("input", () => {
      amountByHand = false;
      recompute();
    });
    amount.addEventListener("input", () => {
      amountByHand = amount.value.trim() !== "";
    });
    unit.addEventListener("change", () => {
      rateUnit.textContent = `per ${unit.value}`;
    });

    function showContext() {
      const farmer = p.farmer.picked;
      if (!farmer) {
        context.textContent = "";
        return;
      }
      const lots = state.items.filter((i) => i.farmer_id === farmer.id);
      const open = lots.filter((i) => !i.bill_id);
      const total = lots.reduce((s, i) => s + Math.round(i.final_price * 100), 0) / 100;
      context.replaceChildren(
        h("strong", null, farmer.name),
        farmer.village ? ` · ${farmer.village}` : "",
        lots.length
          ? ` — today ${lots.length} lot${lots.length === 1 ? "" : "s"}, ${money(total)}${open.length < lots.length ? ` (${lots.length - open.length} billed)` : ""}`
          : " — first lot today",
      );
    }

    // A product picked: the unit it was last sold in.
    function productPicked() {
      const product = p.product.picked;
      const u = product ? prefs.units[product.id] : undefined;
      if (u && u !== unit.value) {
        unit.value = u;
        rateUnit.textContent = `per ${u}`;
      }
    }

    let touched = false;
    f.addEventListener("input", () => {
      touched = true;
    });

    // Enter: on a picker it picks (picker.ts); elsewhere it saves the lot when it is whole,
    // else moves to the next field.
    const has = (picker: Picker<Farmer> | Picker<Product> | Picker<Buyer>) => !!picker.picked || picker.adding;
    const whole = () =>
      has(p.farmer) && has(p.product) && has(p.buyer) && toScaled(qty.value, 3) !== null && amount.value.trim() !== "";
    f.addEventListener("keydown", (e) => {
      if (e.key !== "Enter" || e.isComposing) return;
      const target = e.target as HTMLElement;
      if (target === saveButton) return;
      if (target === unit || target === qty || target === rate || target === amount) {
        e.preventDefault();
        if (target === amount || (target !== unit && whole())) {
          f.requestSubmit();
          return;
        }
        const nextEl = order[order.indexOf(target) + 1];
        nextEl?.focus();
        if (nextEl instanceof HTMLInputElement) nextEl.select();
      }
    });

    const reset = () => {
      if (!prefs.keepFarmer) p.farmer.set(null);
      if (!prefs.keepProduct) p.product.set(null);
      p.buyer.set(null);
      qty.value = "";
      rate.value = "";
      amount.value = "";
      amountByHand = false;
      clearFormErrors(f);
      touched = false;
      showContext();
      p.farmer.focus();
    };

    const restore = (lot: Pending) => {
      p.farmer.set(lot.farmer);
      p.product.set(lot.product);
      p.buyer.set(lot.buyer);
      unit.value = lot.unit;
      rateUnit.textContent = `per ${lot.unit}`;
      qty.value = lot.quantity;
      rate.value = lot.rate;
      amount.value = lot.amount;
      amountByHand = !lot.rate;
      touched = false;
      showContext();
    };

    const send = async (lot: Pending) => {
      lot.row.className = "au-pending";
      message(lot.row, null);
      const statusTd = lot.row.children[6];
      statusTd?.replaceChildren(h("span", { class: "au-saving" }, "saving…"));
      lot.row.children[7]?.replaceChildren();
      try {
        const item = await post<Item>(`/api/sessions/${sessionId}/items`, lot.body, lot.key);
        state.items.push(item);
        state.items.sort((a, b) => a.created_at.localeCompare(b.created_at) || a.id.localeCompare(b.id));
        const row = lotRow(item);
        lot.row.replaceWith(row);
        tbody.querySelector(".au-no-lots")?.remove();
        updateCount();
        redrawTiles();
        showContext();
      } catch (err) {
        const refused = err instanceof ApiError && err.status >= 400 && err.status < 500;
        if (refused && !touched && form) {
          // Nothing typed since: the lot goes back into the form, the messages on its fields.
          message(lot.row, null);
          lot.row.remove();
          restore(lot);
          formErrors(form, err);
          return;
        }
        lot.row.className = "au-failed";
        statusTd?.replaceChildren(badge("Not saved", "bad"));
        lot.row.children[7]?.replaceChildren(
          h(
            "span",
            { class: "au-row-actions" },
            refused ? null : h("button", { type: "button", class: "au-sm", onclick: () => void send(lot) }, "Retry"),
            h(
              "button",
              {
                type: "button",
                class: "au-sm",
                onclick: () => {
                  message(lot.row, null);
                  lot.row.remove();
                  restore(lot);
                  if (form && err instanceof Error) formErrors(form, err);
                  p.farmer.focus();
                },
              },
              "Back to the form",
            ),
          ),
        );
        message(lot.row, `Not saved: ${err instanceof Error ? err.message : String(err)}`);
      }
    };

    f.addEventListener("submit", (e) => {
      e.preventDefault();
      void submitLot();
    });

    async function submitLot(): Promise<void> {
      // A farmer or buyer added from the picker a moment ago: wait until it exists.
      await Promise.all([p.farmer.settle(), p.buyer.settle()]);
      clearFormErrors(f);
      const farmer = p.farmer.picked;
      const product = p.product.picked;
      const buyer = p.buyer.picked;
      const fields: Record<string, string> = {};
      if (!farmer) fields.farmer_id = p.farmer.input.value.trim() ? "Pick the farmer from the list (or add them)" : "Which farmer?";
      if (!product) fields.product_id = p.product.input.value.trim() ? "Pick the product from the list" : "Which product?";
      if (!buyer) fields.buyer_id = p.buyer.input.value.trim() ? "Pick the buyer from the list (or add them)" : "Which buyer?";
      const q = toScaled(qty.value, 3);
      if (q === null || q === 0n) fields.quantity = qty.value.trim() ? "A quantity above 0, at most 3 decimals" : "How much?";
      if (rate.value.trim() && toScaled(rate.value, 2) === null) fields.rate = "A rate with at most 2 decimals";
      if (amount.value.trim() === "") fields.final_price = "Type a rate or the amount";
      else if (toScaled(amount.value, 2) === null) fields.final_price = "An amount with at most 2 decimals";
      if (!farmer || !product || !buyer || Object.keys(fields).length) {
        formErrors(f, new ApiError(400, "The lot is not complete.", "VALIDATION_ERROR", fields));
        return;
      }
      prefs.unit = unit.value as Unit;
      prefs.units[product.id] = unit.value as Unit;
      savePrefs(prefs);
      const lot: Pending = {
        key: newIdempotencyKey(),
        body: {
          farmer_id: farmer.id,
          product_id: product.id,
          buyer_id: buyer.id,
          unit: unit.value,
          quantity: numeric(qty.value),
          final_price: numeric(amount.value),
        },
        farmer,
        product,
        buyer,
        unit: unit.value as Unit,
        quantity: qty.value,
        rate: rate.value,
        amount: amount.value,
        row: h(
          "tr",
          { class: "au-pending", "data-testid": "lot-pending" },
          h("td", { "data-label": "Time", class: "au-time" }, "now"),
          h("td", { "data-label": "Farmer" }, h("strong", null, farmer.name)),
          h("td", { "data-label": "Product" }, product.name),
          h("td", { "data-label": "Buyer" }, buyer.name),
          h("td", { "data-label": "Quantity × rate", class: "num" }, qtyRate(`${qty.value.trim()} ${unit.value}`, rate.value.trim() ? money(Number(rate.value)) : null)),
          h("td", { "data-label": "Amount", class: "num au-amount" }, money(Number(amount.value))),
          h("td", { "data-label": "Status" }),
          h("td", { class: "au-actions" }),
        ),
      };
      tbody.querySelector(".au-no-lots")?.remove();
      tbody.prepend(lot.row);
      reset();
      void send(lot);
    }

    // Ready when the masters are: then the first field has the focus.
    const fields = f.querySelectorAll<HTMLInputElement | HTMLSelectElement | HTMLButtonElement>("input, select, button");
    const lock = (locked: boolean) => {
      for (const el of fields) el.disabled = locked;
      f.toggleAttribute("aria-busy", locked);
    };
    let ready = false;
    queueMicrotask(() => {
      if (!ready) lock(true);
    });
    void loaded.then(
      () => {
        ready = true;
        lock(false);
        p.farmer.focus();
      },
      (err: unknown) => {
        ready = true;
        lock(false);
        formErrors(f, err instanceof Error ? err : new Error(String(err)));
      },
    );
    return f;
  }

  drawRows();
  body.append(
    form ?? h("p", { class: "au-note" }, "This session is completed: reopen it to enter or change lots."),
    h("div", { class: "au-section-head" }, h("h2", null, "Lots"), countNote),
    lotsTable,
  );
  await loaded.catch(() => undefined);
}

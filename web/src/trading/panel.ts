// The replay screen's trading side: the account strip, the order ticket (market, limit, stop),
// open positions with live P&L (close, partial close, SL/TP), pending orders and recent trades.
//
// The server's figures (GET account, positions) are the truth; between two reads the open
// positions are marked at each revealed bar's close here, as the service marks them (a BUY
// at the bid, a SELL at the ask, cents), so P&L moves with the chart without a request a bar.

import { ApiError, api } from "../api";
import { busy, clearFormErrors, formErrors, formValues, h, newIdempotencyKey, toast } from "../ui";
import { cents, money, percent, price, signedMoney, stepDecimals, utc, volume } from "./format";
import type { Account, Instrument, Order, Position, Session } from "./types";

export interface PanelHost {
  session(): Session;
  instrument: Instrument;
  /** Re-read positions, orders and the account now. */
  refresh(): void;
  /** Whether trading is allowed (RUNNING or PAUSED). */
  canTrade(): boolean;
}

const REASONS: Record<string, string> = {
  MANUAL: "Closed",
  STOP_LOSS: "Stop loss",
  TAKE_PROFIT: "Take profit",
  STOP_OUT: "Stop out",
  SESSION_END: "Session end",
};

export class TradingPanel {
  readonly el: HTMLElement;
  private readonly accountEl: HTMLElement;
  private readonly ticket: HTMLFormElement;
  private readonly positionsEl: HTMLElement;
  private readonly ordersEl: HTMLElement;
  private readonly historyEl: HTMLElement;
  private readonly buyBtn: HTMLButtonElement;
  private readonly sellBtn: HTMLButtonElement;
  private readonly priceField: HTMLElement;
  private readonly tradeNote: HTMLElement;

  private account: Account | null = null;
  private positions: Position[] = [];
  private orders: Order[] = [];
  private closed: Position[] = [];
  private bid: number | null = null;
  private readonly pnlCells = new Map<number, HTMLElement>();
  private readonly acct: Record<string, HTMLElement> = {};
  private editing: number | null = null;
  private readonly editors = new Map<number, HTMLElement>();
  private drawn = ""; // what drawPositions drew last (ids, volumes, levels, editor)
  private ticketKey = newIdempotencyKey();

  constructor(private readonly host: PanelHost) {
    const inst = host.instrument;
    const digits = inst.digits;
    const stepText = inst.volume_step.toFixed(stepDecimals(inst.volume_step));

    this.accountEl = h(
      "dl",
      { class: "tr-account", "aria-label": "Account" },
      ...(
        [
          ["balance", "Balance"],
          ["equity", "Equity"],
          ["used_margin", "Margin"],
          ["free_margin", "Free margin"],
          ["margin_level", "Margin level"],
        ] as const
      ).map(([key, label]) => {
        const dd = h("dd", { "data-field": key }, "—");
        this.acct[key] = dd;
        return h("div", { class: "tr-tile" }, h("dt", null, label), dd);
      }),
    );

    this.buyBtn = h("button", { type: "submit", name: "side", value: "BUY", class: "tr-buy" }, "BUY");
    this.sellBtn = h("button", { type: "submit", name: "side", value: "SELL", class: "tr-sell" }, "SELL");
    this.priceField = h(
      "label",
      { class: "field", hidden: true },
      h("span", { class: "field-label" }, "Price"),
      h("input", { name: "price", type: "number", step: String(inst.point), inputmode: "decimal", placeholder: price(null, digits) }),
    );
    this.tradeNote = h("p", { class: "muted tr-trade-note", hidden: true });
    const typeSelect = h(
      "select",
      { name: "type", "aria-label": "Order type" },
      h("option", { value: "MARKET" }, "Market"),
      h("option", { value: "LIMIT" }, "Limit"),
      h("option", { value: "STOP" }, "Stop"),
    );
    typeSelect.addEventListener("change", () => this.onTypeChange());
    this.ticket = h(
      "form",
      { class: "form tr-ticket", novalidate: true, "aria-label": "New order" },
      h("div", { class: "form-error", role: "alert", hidden: true }),
      h(
        "div",
        { class: "tr-ticket-grid" },
        h("label", { class: "field" }, h("span", { class: "field-label" }, "Type"), typeSelect),
        h(
          "label",
          { class: "field" },
          h("span", { class: "field-label" }, "Volume (lots)"),
          h("input", {
            name: "volume",
            type: "number",
            inputmode: "decimal",
            step: stepText,
            min: String(inst.min_volume),
            value: inst.min_volume.toFixed(stepDecimals(inst.volume_step)),
          }),
        ),
        this.priceField,
        h(
          "label",
          { class: "field" },
          h("span", { class: "field-label" }, "Stop loss"),
          h("input", { name: "stop_loss", type: "number", inputmode: "decimal", step: String(inst.point), placeholder: "optional" }),
        ),
        h(
          "label",
          { class: "field" },
          h("span", { class: "field-label" }, "Take profit"),
          h("input", { name: "take_profit", type: "number", inputmode: "decimal", step: String(inst.point), placeholder: "optional" }),
        ),
      ),
      h("div", { class: "tr-ticket-buttons" }, this.sellBtn, this.buyBtn),
      this.tradeNote,
    );
    this.ticket.addEventListener("input", () => {
      this.ticketKey = newIdempotencyKey();
    });
    this.ticket.addEventListener("submit", (e) => this.onSubmit(e as SubmitEvent));

    this.positionsEl = h("div", { class: "tr-positions" });
    this.ordersEl = h("div", { class: "tr-orders" });
    this.historyEl = h("div", { class: "tr-history" });

    this.el = h(
      "aside",
      { class: "tr-panel", "aria-label": "Trading" },
      h("section", { class: "tr-box" }, h("h2", null, "Account"), this.accountEl),
      h("section", { class: "tr-box" }, h("h2", null, "Trade"), this.ticket),
      h("section", { class: "tr-box" }, h("h2", null, "Open positions"), this.positionsEl),
      h("section", { class: "tr-box" }, h("h2", null, "Pending orders"), this.ordersEl),
      h("section", { class: "tr-box" }, h("h2", null, "Closed trades"), this.historyEl),
    );
    this.drawPositions();
    this.drawOrders();
    this.drawHistory();
    this.setEnabled();
  }

  /** The server's state after a read. */
  update(account: Account, positions: Position[], orders: Order[], closed: Position[]): void {
    this.account = account;
    this.positions = positions;
    this.orders = orders;
    this.closed = closed;
    this.drawPositions();
    this.drawOrders();
    this.drawHistory();
    this.mark();
  }

  /** A bar was drawn: mark the open positions at its close. */
  onBar(close: number): void {
    this.bid = close;
    this.labelButtons();
    this.mark();
  }

  /** BUY/SELL with the market's ask and bid for a market order, BUY LIMIT / SELL STOP… for a
   * pending one: a bar arriving after the type was chosen keeps the pending label. */
  private labelButtons(): void {
    const type = (this.ticket.elements.namedItem("type") as HTMLSelectElement).value;
    const inst = this.host.instrument;
    if (type !== "MARKET") {
      this.buyBtn.textContent = `BUY ${type}`;
      this.sellBtn.textContent = `SELL ${type}`;
    } else if (this.bid == null) {
      this.buyBtn.textContent = "BUY";
      this.sellBtn.textContent = "SELL";
    } else {
      const ask = this.bid + this.host.session().spread_pts * inst.point;
      this.sellBtn.textContent = `SELL ${price(this.bid, inst.digits)}`;
      this.buyBtn.textContent = `BUY ${price(ask, inst.digits)}`;
    }
  }

  /** Session status changed: enable or disable trading. */
  setEnabled(): void {
    const ok = this.host.canTrade();
    for (const el of this.ticket.querySelectorAll<HTMLInputElement | HTMLButtonElement | HTMLSelectElement>("input, select, button")) {
      el.disabled = !ok;
    }
    const status = this.host.session().session_status;
    this.tradeNote.hidden = ok;
    this.tradeNote.textContent =
      status === "DRAFT" ? "Start the replay to trade." : ok ? "" : "The replay is over: trading is closed.";
    for (const el of this.el.querySelectorAll<HTMLButtonElement>(".tr-positions button, .tr-orders button, .tr-positions input")) {
      el.disabled = !ok;
    }
  }

  /** Levels wanted on the chart: entries, SL/TP of open positions, pending orders. */
  lines(): { id: string; price: number; title: string; kind: "entry" | "sl" | "tp" | "order" }[] {
    const out: { id: string; price: number; title: string; kind: "entry" | "sl" | "tp" | "order" }[] = [];
    const inst = this.host.instrument;
    for (const p of this.positions) {
      out.push({ id: `p${p.id}`, price: p.open_price, title: `${p.side} ${volume(p.volume, inst)}`, kind: "entry" });
      if (p.stop_loss != null) out.push({ id: `sl${p.id}`, price: p.stop_loss, title: `SL #${p.id}`, kind: "sl" });
      if (p.take_profit != null) out.push({ id: `tp${p.id}`, price: p.take_profit, title: `TP #${p.id}`, kind: "tp" });
    }
    for (const o of this.orders) {
      out.push({ id: `o${o.id}`, price: o.price, title: `${o.side} ${o.type} ${volume(o.volume, inst)}`, kind: "order" });
      if (o.stop_loss != null) out.push({ id: `osl${o.id}`, price: o.stop_loss, title: `SL #${o.id}`, kind: "sl" });
      if (o.take_profit != null) out.push({ id: `otp${o.id}`, price: o.take_profit, title: `TP #${o.id}`, kind: "tp" });
    }
    return out;
  }

  // ---- the account and live P&L ----

  private profitOf(p: Position): number {
    if (this.bid == null) return p.profit;
    const inst = this.host.instrument;
    const ask = this.bid + this.host.session().spread_pts * inst.point;
    const move = p.side === "BUY" ? this.bid - p.open_price : p.open_price - ask;
    return cents(move * p.volume * inst.contract_size);
  }

  private mark(): void {
    const a = this.account;
    if (!a) return;
    let unrealized = 0;
    let used = 0;
    for (const p of this.positions) {
      const profit = this.profitOf(p);
      unrealized += profit;
      used += p.margin;
      const cell = this.pnlCells.get(p.id);
      if (cell) {
        const net = profit - p.commission;
        const text = signedMoney(net);
        if (cell.textContent !== text) {
          cell.textContent = text;
          cell.className = `num tr-pnl ${net > 0 ? "tr-up" : net < 0 ? "tr-down" : ""}`;
        }
      }
    }
    const live = this.positions.length > 0 && this.bid != null;
    const equity = live ? cents(a.balance + unrealized) : a.equity;
    const usedMargin = live ? used : a.used_margin;
    const free = live ? cents(equity - usedMargin) : a.free_margin;
    const level = live ? (usedMargin > 0 ? (equity / usedMargin) * 100 : null) : a.margin_level;
    this.setAcct("balance", money(a.balance));
    this.setAcct("equity", money(equity));
    this.setAcct("used_margin", money(usedMargin));
    this.setAcct("free_margin", money(free));
    this.setAcct("margin_level", level == null ? "—" : percent(level));
  }

  private setAcct(key: string, text: string): void {
    const el = this.acct[key];
    if (el && el.textContent !== text) el.textContent = text;
  }

  // ---- the ticket ----

  private onTypeChange(): void {
    const type = (this.ticket.elements.namedItem("type") as HTMLSelectElement).value;
    this.priceField.hidden = type === "MARKET";
    this.labelButtons();
    clearFormErrors(this.ticket);
  }

  private onSubmit(event: SubmitEvent): void {
    event.preventDefault();
    const submitter = event.submitter as HTMLButtonElement | null;
    const side = submitter?.value === "SELL" ? "SELL" : "BUY";
    const v = formValues(this.ticket);
    const type = v.type ?? "MARKET";
    const body: Record<string, unknown> = { side, volume: num(v.volume) };
    if ((v.stop_loss ?? "").trim()) body.stop_loss = num(v.stop_loss);
    if ((v.take_profit ?? "").trim()) body.take_profit = num(v.take_profit);
    let path = `/sessions/${this.host.session().id}/positions`;
    if (type !== "MARKET") {
      path = `/sessions/${this.host.session().id}/orders`;
      body.type = type;
      body.price = num(v.price);
    }
    const key = this.ticketKey;
    void busy(submitter, async () => {
      clearFormErrors(this.ticket);
      try {
        if (type === "MARKET") {
          const p = await api<Position>("POST", path, body, { idempotencyKey: key });
          toast(`${p.side} ${volume(p.volume, this.host.instrument)} at ${price(p.open_price, this.host.instrument.digits)}`, "success");
        } else {
          const o = await api<Order>("POST", path, body, { idempotencyKey: key });
          toast(`${o.side} ${o.type} placed at ${price(o.price, this.host.instrument.digits)}`, "success");
        }
        this.ticketKey = newIdempotencyKey();
        this.host.refresh();
      } catch (err) {
        formErrors(this.ticket, err instanceof Error ? err : new Error(String(err)));
      }
    });
  }

  // ---- tables ----

  private drawPositions(force = false): void {
    // Redraw only when a position changed: a refresh after every fill must not wipe what the
    // user is typing in an editor (P&L cells are updated in place by mark()).
    const signature = JSON.stringify([this.editing, this.positions.map((p) => [p.id, p.volume, p.stop_loss, p.take_profit])]);
    if (!force && signature === this.drawn) {
      this.mark();
      return;
    }
    this.drawn = signature;
    for (const id of this.editors.keys()) {
      if (id !== this.editing || !this.positions.some((p) => p.id === id)) this.editors.delete(id);
    }
    this.pnlCells.clear();
    const inst = this.host.instrument;
    const d = inst.digits;
    if (this.positions.length === 0) {
      this.positionsEl.replaceChildren(h("p", { class: "muted tr-none" }, "No open positions."));
      return;
    }
    const items = this.positions.map((p) => {
      const pnl = h("span", { class: "num tr-pnl", "data-field": "pnl" }, signedMoney(p.net_profit));
      this.pnlCells.set(p.id, pnl);
      return h(
        "li",
        { class: "tr-item", "data-position": p.id },
        h(
          "div",
          { class: "tr-item-main" },
          h("span", null, h("span", { class: `tr-side tr-side-${p.side.toLowerCase()}` }, p.side), ` ${volume(p.volume, inst)} @ ${price(p.open_price, d)}`),
          pnl,
        ),
        h(
          "div",
          { class: "tr-item-sub" },
          h(
            "span",
            { class: "muted" },
            "SL ",
            h("span", { "data-field": "stop_loss" }, price(p.stop_loss, d)),
            " · TP ",
            h("span", { "data-field": "take_profit" }, price(p.take_profit, d)),
          ),
          h(
            "span",
            { class: "tr-actions" },
            h(
              "button",
              {
                type: "button",
                class: "ghost small",
                "aria-expanded": this.editing === p.id ? "true" : "false",
                "aria-label": `Edit position #${p.id}`,
                onclick: () => {
                  this.editing = this.editing === p.id ? null : p.id;
                  this.drawPositions();
                  this.setEnabled();
                },
              },
              "Edit",
            ),
            h(
              "button",
              {
                type: "button",
                class: "small",
                "aria-label": `Close position #${p.id}`,
                onclick: (e: Event) => void this.close(p, null, e.currentTarget as HTMLButtonElement),
              },
              "Close",
            ),
          ),
        ),
        this.editing === p.id ? this.editorFor(p) : null,
      );
    });
    this.positionsEl.replaceChildren(h("ul", { class: "tr-items" }, items));
    this.mark();
  }

  /** The open editor of a position, kept across redraws (what the user typed stays). */
  private editorFor(p: Position): HTMLElement {
    let el = this.editors.get(p.id);
    if (!el) {
      el = this.editor(p);
      this.editors.set(p.id, el);
    }
    return el;
  }

  private editor(p: Position): HTMLElement {
    const inst = this.host.instrument;
    const d = inst.digits;
    const dec = stepDecimals(inst.volume_step);
    const levels = h(
      "form",
      { class: "form tr-inline", novalidate: true, "aria-label": `Stop loss and take profit of #${p.id}` },
      h("div", { class: "form-error", role: "alert", hidden: true }),
      h(
        "label",
        { class: "field" },
        h("span", { class: "field-label" }, "Stop loss"),
        h("input", { name: "stop_loss", type: "number", step: String(inst.point), value: p.stop_loss != null ? p.stop_loss.toFixed(d) : "", placeholder: "none" }),
      ),
      h(
        "label",
        { class: "field" },
        h("span", { class: "field-label" }, "Take profit"),
        h("input", { name: "take_profit", type: "number", step: String(inst.point), value: p.take_profit != null ? p.take_profit.toFixed(d) : "", placeholder: "none" }),
      ),
      h("button", { type: "submit", class: "primary small" }, "Save levels"),
    );
    levels.addEventListener("submit", (e) => {
      e.preventDefault();
      const v = formValues(levels);
      const body = {
        stop_loss: (v.stop_loss ?? "").trim() ? num(v.stop_loss) : null,
        take_profit: (v.take_profit ?? "").trim() ? num(v.take_profit) : null,
      };
      void busy(levels.querySelector("button"), async () => {
        clearFormErrors(levels);
        try {
          await api<Position>("PATCH", `/positions/${p.id}`, body);
          toast(`Levels of #${p.id} saved`, "success");
          this.editing = null;
          this.host.refresh();
        } catch (err) {
          formErrors(levels, err instanceof Error ? err : new Error(String(err)));
        }
      });
    });
    const half = Math.max(inst.min_volume, Math.floor(p.volume / 2 / inst.volume_step) * inst.volume_step);
    const partial = h(
      "form",
      { class: "form tr-inline", novalidate: true, "aria-label": `Partial close of #${p.id}` },
      h("div", { class: "form-error", role: "alert", hidden: true }),
      h(
        "label",
        { class: "field" },
        h("span", { class: "field-label" }, "Close volume"),
        h("input", { name: "volume", type: "number", step: String(inst.volume_step), min: String(inst.min_volume), value: half.toFixed(dec) }),
      ),
      h("button", { type: "submit", class: "small" }, "Close part"),
    );
    partial.addEventListener("submit", (e) => {
      e.preventDefault();
      const v = formValues(partial);
      void this.close(p, num(v.volume), partial.querySelector("button"), partial);
    });
    return h("div", { class: "tr-editor" }, levels, partial);
  }

  private async close(p: Position, vol: number | string | null, button: HTMLButtonElement | null, form?: HTMLFormElement) {
    await busy(button, async () => {
      if (form) clearFormErrors(form);
      try {
        const body = vol == null ? undefined : { volume: vol };
        const out = await api<Position>("POST", `/positions/${p.id}/close`, body);
        const part = vol == null ? "closed" : `partly closed (${volume(typeof vol === "number" ? vol : Number(vol), this.host.instrument)})`;
        toast(`#${p.id} ${part} at ${price(out.close_price ?? out.open_price, this.host.instrument.digits)}`, "success");
        if (vol == null) this.editing = null;
        this.host.refresh();
      } catch (err) {
        if (form && err instanceof ApiError) formErrors(form, err);
        else toast(err instanceof Error ? err.message : String(err), "error");
      }
    });
  }

  private drawOrders(): void {
    const inst = this.host.instrument;
    const d = inst.digits;
    if (this.orders.length === 0) {
      this.ordersEl.replaceChildren(h("p", { class: "muted tr-none" }, "No pending orders."));
      return;
    }
    const items = this.orders.map((o) =>
      h(
        "li",
        { class: "tr-item", "data-order": o.id },
        h(
          "div",
          { class: "tr-item-main" },
          h("span", null, h("span", { class: `tr-side tr-side-${o.side.toLowerCase()}` }, `${o.side} ${o.type}`), ` ${volume(o.volume, inst)} @ ${price(o.price, d)}`),
        ),
        h(
          "div",
          { class: "tr-item-sub" },
          h("span", { class: "muted" }, `SL ${price(o.stop_loss, d)} · TP ${price(o.take_profit, d)}`),
          h(
            "span",
            { class: "tr-actions" },
            h(
              "button",
              {
                type: "button",
                class: "ghost small",
                "aria-label": `Cancel order #${o.id}`,
                onclick: (e: Event) =>
                  void busy(e.currentTarget as HTMLButtonElement, async () => {
                    try {
                      await api<Order>("DELETE", `/orders/${o.id}`);
                      toast(`Order #${o.id} cancelled`, "success");
                      this.host.refresh();
                    } catch (err) {
                      toast(err instanceof Error ? err.message : String(err), "error");
                    }
                  }),
              },
              "Cancel",
            ),
          ),
        ),
      ),
    );
    this.ordersEl.replaceChildren(h("ul", { class: "tr-items" }, items));
  }

  private drawHistory(): void {
    const inst = this.host.instrument;
    const d = inst.digits;
    if (this.closed.length === 0) {
      this.historyEl.replaceChildren(h("p", { class: "muted tr-none" }, "No closed trades yet."));
      return;
    }
    const recent = [...this.closed].reverse().slice(0, 8);
    const items = recent.map((p) =>
      h(
        "li",
        { class: "tr-item", "data-closed": p.id },
        h(
          "div",
          { class: "tr-item-main" },
          h("span", null, h("span", { class: `tr-side tr-side-${p.side.toLowerCase()}` }, p.side), ` ${volume(p.volume, inst)} · ${price(p.open_price, d)} → ${price(p.close_price, d)}`),
          h("span", { class: `num tr-pnl ${p.net_profit > 0 ? "tr-up" : p.net_profit < 0 ? "tr-down" : ""}` }, signedMoney(p.net_profit)),
        ),
        h(
          "div",
          { class: "tr-item-sub muted" },
          h("span", { "data-field": "close_reason" }, REASONS[p.close_reason ?? ""] ?? p.close_reason ?? "—"),
          h("span", null, utc(p.close_ts)),
        ),
      ),
    );
    this.historyEl.replaceChildren(h("ul", { class: "tr-items" }, items));
  }
}

function num(value: string | undefined): number | string {
  const v = (value ?? "").trim();
  const n = Number(v);
  return v !== "" && Number.isFinite(n) ? n : v;
}

// A master picker for fast keyboard entry (the ARIA 1.2 combobox pattern):
//   type  -> the masters matching it, best first (name start, word start, anywhere, village/phone)
//   ↓ / ↑ -> move through them;  Enter -> pick the highlighted one and move to the next field
//   Tab   -> pick the highlighted one too;  Esc -> close the list and put the picked name back
// Enter on a field that already holds a pick (the farmer kept from the last lot) moves on.
// Nothing matches: the list offers "Add new …"; Enter arms it, a second Enter creates the
// master through the API and picks it (one more key, so a typo never makes a duplicate).
// The masters come from a MasterStore: all of them when few (instant), else the API's `q`.

import { ApiError } from "../api";
import { h } from "../ui";
import type { MasterStore } from "./client";

interface Row {
  id: string;
  name: string;
  active: boolean;
}

type Option<T> = { row: T } | { create: string };

export interface PickerOptions<T extends Row> {
  store: MasterStore<T>;
  /** "farmer": used in texts ("Add new farmer …"). */
  noun: string;
  /** The form field name the API's errors use (`farmer_id`). */
  name: string;
  id: string;
  label?: string;
  placeholder?: string;
  secondary: (row: T) => string;
  /** Create a master from the typed name (farmers, buyers); none: no "Add new". */
  create?: (name: string) => Promise<T>;
  /** Rows to rank first (e.g. the session's farmers, latest first). */
  recent?: () => T[];
  onPick?: (row: T | null) => void;
  /** Shown when nothing matches and there is no "Add new" (where to add one). */
  missing?: string;
  /** Enter picked (or confirmed) a value: move to the next field. */
  onAdvance?: () => void;
  testid?: string;
}

const MAX_OPTIONS = 8;
let pickers = 0;

export class Picker<T extends Row> {
  readonly el: HTMLElement;
  readonly input: HTMLInputElement;
  private readonly list: HTMLUListElement;
  private readonly status: HTMLElement;
  private readonly opts: PickerOptions<T>;
  private value: T | null = null;
  private options: Option<T>[] = [];
  private active = -1;
  private open = false;
  private armed = false;
  private pending: Promise<void> | null = null;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private controller: AbortController | null = null;
  private seq = 0;
  private creating: Promise<T | null> | null = null;
  /** Enter pressed while the API was still searching: the pick to come. */
  private resolving: Promise<void> | null = null;

  constructor(opts: PickerOptions<T>) {
    this.opts = opts;
    const listId = `${opts.id}-list-${++pickers}`;
    this.input = h("input", {
      id: opts.id,
      name: opts.name,
      type: "text",
      role: "combobox",
      autocomplete: "off",
      autocapitalize: "words",
      spellcheck: "false",
      "aria-autocomplete": "list",
      "aria-expanded": "false",
      "aria-controls": listId,
      placeholder: opts.placeholder ?? `Type a ${opts.noun}…`,
      "data-testid": opts.testid ?? null,
      class: "au-picker-input",
    });
    this.list = h("ul", { id: listId, role: "listbox", class: "au-picker-list", hidden: true, "aria-label": `${opts.noun}s` });
    this.status = h("span", { class: "au-sr", "aria-live": "polite" });
    this.el = h("div", { class: "au-picker" }, this.input, this.list, this.status);
    this.input.addEventListener("input", () => this.onInput());
    this.input.addEventListener("keydown", (e) => void this.onKey(e));
    this.input.addEventListener("focus", () => this.input.select());
    this.input.addEventListener("blur", () => this.onBlur());
    // Mouse and touch: pick without taking the focus from the input first.
    this.list.addEventListener("mousedown", (e) => e.preventDefault());
    this.list.addEventListener("click", (e) => {
      const li = (e.target as Element).closest<HTMLElement>("[data-index]");
      if (!li) return;
      const option = this.options[Number(li.dataset.index)];
      if (option) void this.choose(option, false);
    });
  }

  get picked(): T | null {
    return this.value;
  }

  /** A master is being added from this picker (it will be the pick). */
  get adding(): boolean {
    return this.creating !== null || this.resolving !== null;
  }

  /** Set the value (null clears) without moving on. */
  set(row: T | null): void {
    this.value = row;
    this.input.value = row?.name ?? "";
    this.input.classList.toggle("au-picked", row !== null);
    this.input.removeAttribute("aria-invalid");
    this.close();
  }

  focus(): void {
    this.input.focus();
    this.input.select();
  }

  // ---- searching ----

  private onInput(): void {
    this.value = null;
    this.armed = false;
    this.input.classList.remove("au-picked");
    this.opts.onPick?.(null);
    this.refresh();
    const q = this.input.value.trim();
    clearTimeout(this.timer);
    if (!this.opts.store.loaded) {
      // Typed before the masters arrived (a fast hand, a slow line): rank once they are in;
      // Enter waits for it, so it never adds what exists.
      const pending: Promise<void> = this.opts.store.load().then(
        () => {
          if (this.input.value.trim() === q) this.rank();
        },
        () => undefined,
      );
      this.pending = pending;
      void pending.finally(() => {
        if (this.pending === pending) this.pending = null;
      });
    } else if (q && !this.opts.store.complete) {
      // More masters than were loaded: ask the API too (debounced), then rank again.
      this.pending = new Promise<void>((resolve) => {
        this.timer = setTimeout(() => {
          this.controller?.abort();
          this.controller = new AbortController();
          const mine = ++this.seq;
          this.opts.store
            .search(q, this.controller.signal)
            .then(
              () => {
                if (mine === this.seq && this.input.value.trim() === q) this.rank();
              },
              () => undefined,
            )
            .finally(() => {
              if (mine === this.seq) this.pending = null;
              resolve();
            });
        }, 120);
      });
    } else {
      this.pending = null;
    }
  }

  /** Rank again once more masters are known: the list redrawn where the operator still is,
   * else only the options kept (for a pick Enter asked for meanwhile). */
  private rank(): void {
    this.refresh();
    if (document.activeElement !== this.input) this.close();
  }

  /** Rank the known masters against the typed text and draw the list. */
  private refresh(): void {
    const q = this.input.value.trim().toLowerCase();
    const recent = this.opts.recent?.() ?? [];
    const recentRank = new Map(recent.map((r, i) => [r.id, i]));
    const scored: [number, number, string, T][] = [];
    for (const row of this.opts.store.byId.values()) {
      if (!row.active) continue;
      const s = q ? this.score(row, q) : 0;
      if (s === null) continue;
      scored.push([s, recentRank.get(row.id) ?? 1e9, row.name.toLowerCase(), row]);
    }
    scored.sort((a, b) => a[0] - b[0] || a[1] - b[1] || a[2].localeCompare(b[2]));
    const options: Option<T>[] = scored.slice(0, MAX_OPTIONS).map((s) => ({ row: s[3] }));
    const typed = this.input.value.trim();
    if (this.opts.create && typed && !scored.some((s) => s[2] === typed.toLowerCase())) {
      options.push({ create: typed });
    }
    this.options = options;
    this.active = options.length ? 0 : -1;
    this.armed = false;
    this.draw();
  }

  private score(row: T, q: string): number | null {
    const name = row.name.toLowerCase();
    if (name === q) return 0;
    if (name.startsWith(q)) return 1;
    if (name.split(/[\s.-]+/).some((w) => w.startsWith(q))) return 2;
    if (name.includes(q)) return 3;
    const all = `${name} ${this.opts.secondary(row).toLowerCase()}`;
    if (all.includes(q)) return 4;
    const tokens = q.split(/\s+/).filter(Boolean);
    if (tokens.length > 1 && tokens.every((t) => all.includes(t))) return 4;
    return null;
  }

  private draw(): void {
    const items = this.options.map((option, i) => {
      const selected = i === this.active;
      if ("create" in option) {
        return h(
          "li",
          {
            id: `${this.list.id}-${i}`,
            role: "option",
            "aria-selected": selected ? "true" : "false",
            class: `au-picker-create${selected ? " active" : ""}${this.armed ? " armed" : ""}`,
            "data-index": String(i),
          },
          this.armed && selected
            ? `Press Enter again to add “${option.create}” as a new ${this.opts.noun}`
            : `+ Add new ${this.opts.noun} “${option.create}”`,
        );
      }
      const sub = this.opts.secondary(option.row);
      return h(
        "li",
        {
          id: `${this.list.id}-${i}`,
          role: "option",
          "aria-selected": selected ? "true" : "false",
          class: selected ? "active" : null,
          "data-index": String(i),
        },
        h("span", { class: "au-picker-name" }, option.row.name),
        sub ? h("span", { class: "au-picker-sub" }, sub) : null,
      );
    });
    if (!items.length) {
      items.push(
        h(
          "li",
          { class: "au-picker-none", role: "presentation" },
          this.opts.missing ?? `No ${this.opts.noun} matches`,
        ),
      );
    }
    this.list.replaceChildren(...items);
    this.setOpen(true);
    const current = this.active >= 0 ? `${this.list.id}-${this.active}` : null;
    if (current) this.input.setAttribute("aria-activedescendant", current);
    else this.input.removeAttribute("aria-activedescendant");
    this.list.querySelector(".active")?.scrollIntoView({ block: "nearest" });
    const count = this.options.filter((o) => "row" in o).length;
    this.status.textContent = `${count} ${this.opts.noun}${count === 1 ? "" : "s"} found`;
  }

  private setOpen(open: boolean): void {
    this.open = open;
    this.list.hidden = !open;
    this.input.setAttribute("aria-expanded", open ? "true" : "false");
  }

  private close(): void {
    this.setOpen(false);
    this.armed = false;
    this.input.removeAttribute("aria-activedescendant");
  }

  // ---- keys ----

  private async onKey(e: KeyboardEvent): Promise<void> {
    if (e.isComposing) return;
    switch (e.key) {
      case "ArrowDown":
      case "ArrowUp": {
        e.preventDefault();
        if (!this.open) {
          this.refresh();
          return;
        }
        const n = this.options.length;
        if (!n) return;
        const step = e.key === "ArrowDown" ? 1 : -1;
        this.active = (this.active + step + n) % n;
        this.armed = false;
        this.draw();
        return;
      }
      case "Enter": {
        e.preventDefault(); // never the form's submit: Enter picks here
        e.stopPropagation();
        if (this.creating) {
          await this.creating; // being added: it is the pick
          if (this.value) this.opts.onAdvance?.();
          return;
        }
        if (this.value && this.input.value === this.value.name && !this.open) {
          this.opts.onAdvance?.();
          return;
        }
        if (this.pending) {
          // The API's answer is still on its way: move on now (keys typed meanwhile belong
          // to the next field) and pick its best match when it comes; never "add new" here.
          const typed = this.input.value;
          const pending = this.pending;
          this.resolving = pending.then(() => {
            if (this.value || this.input.value !== typed) return;
            const best = this.options.find((o): o is { row: T } => "row" in o);
            if (best) this.pick(best.row);
            else this.showError(`No ${this.opts.noun} matches “${typed.trim()}”: pick one from the list`);
          });
          void this.resolving.finally(() => {
            this.resolving = null;
          });
          this.close();
          this.opts.onAdvance?.();
          return;
        }
        const option = this.options[this.active];
        if (option) {
          await this.choose(option, true);
        } else if (this.value) {
          this.close();
          this.opts.onAdvance?.();
        } else {
          this.refresh();
        }
        return;
      }
      case "Tab": {
        if (e.shiftKey || !this.open || this.value) return;
        const option = this.options[this.active];
        if (option && "row" in option && this.input.value.trim()) this.pick(option.row);
        else this.close();
        return;
      }
      case "Escape": {
        if (!this.open) return;
        e.preventDefault();
        e.stopPropagation();
        this.input.value = this.value?.name ?? "";
        this.close();
        return;
      }
      default:
        return;
    }
  }

  private onBlur(): void {
    setTimeout(() => {
      if (document.activeElement === this.input) return;
      this.close();
      if (!this.value) {
        // A name typed in full is as good as picked.
        const typed = this.input.value.trim().toLowerCase();
        const exact = typed
          ? [...this.opts.store.byId.values()].filter((r) => r.active && r.name.toLowerCase() === typed)
          : [];
        if (exact.length === 1 && exact[0]) this.pick(exact[0]);
      }
    }, 120);
  }

  private pick(row: T): void {
    this.set(row);
    this.opts.onPick?.(row);
  }

  private async choose(option: Option<T>, byEnter: boolean): Promise<void> {
    if ("row" in option) {
      this.pick(option.row);
      if (byEnter) this.opts.onAdvance?.();
      return;
    }
    if (byEnter && !this.armed) {
      this.armed = true;
      this.draw();
      return;
    }
    const create = this.opts.create;
    if (!create) return;
    // The operator moves on at once (the next field has the focus while the API creates the
    // master); `settle()` lets a save wait for it.
    const name = option.create;
    this.close();
    this.options = [];
    this.active = -1;
    this.input.value = name;
    this.input.setAttribute("aria-busy", "true");
    this.creating = create(name).then(
      (row) => {
        this.opts.store.put(row);
        // Still the name typed (not changed meanwhile): it is the pick.
        if (this.input.value === name) this.pick(row);
        this.status.textContent = `Added ${this.opts.noun} ${row.name}`;
        return row;
      },
      (err: unknown) => {
        const message = err instanceof ApiError ? (err.fields.name ?? err.message) : String(err);
        this.showError(`Could not add ${this.opts.noun} “${name}”: ${message}`);
        return null;
      },
    );
    this.creating.finally(() => {
      this.input.removeAttribute("aria-busy");
      this.creating = null;
    });
    this.opts.onAdvance?.();
  }

  /** Resolves once a master being added from this picker exists (or failed). */
  async settle(): Promise<void> {
    if (this.creating) await this.creating;
    if (this.resolving) await this.resolving;
  }

  /** A message under the picker (cleared on the next pick or keystroke). */
  showError(message: string): void {
    this.el.querySelector(".field-error")?.remove();
    const note = h("p", { class: "field-error", role: "alert" }, message);
    this.el.append(note);
    this.input.setAttribute("aria-invalid", "true");
    const clear = () => {
      note.remove();
      this.input.removeAttribute("aria-invalid");
      this.input.removeEventListener("input", clear);
    };
    this.input.addEventListener("input", clear);
  }
}

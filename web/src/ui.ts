// Tiny DOM helpers shared by every screen. No inline `style` attributes and no HTML strings:
// the page's CSP allows neither, and text never becomes markup.
import type { ApiError } from "./api";

type Child = Node | string | number | null | undefined | false | Child[];
type Handler = (event: Event) => void;
export type Attrs = Record<
  string,
  string | number | boolean | null | undefined | Handler | Partial<CSSStyleDeclaration>
>;

/** `h("button", {class: "primary", onclick: save, disabled: busy}, "Save")`.
 * `on<event>` functions are listeners; `true`/`false` toggle boolean attributes; `style`
 * takes an object (set through CSSOM, which the CSP allows); null/undefined are skipped. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs?: Attrs | null,
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value as Handler);
    } else if (key === "style" && typeof value === "object") {
      Object.assign(el.style, value);
    } else if (value === true) {
      el.setAttribute(key, "");
    } else {
      el.setAttribute(key, String(value));
    }
  }
  append(el, children);
  return el;
}

/** SVG elements (icons, small charts), same conventions as `h`. */
export function svg(tag: string, attrs?: Record<string, string | number>, ...children: Child[]) {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [key, value] of Object.entries(attrs ?? {})) el.setAttribute(key, String(value));
  append(el, children);
  return el;
}

function append(el: Element, children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : String(child));
  }
}

/** A link that stays in the app (the router handles `data-link`). */
export function link(href: string, text: Child, attrs: Attrs = {}): HTMLAnchorElement {
  return h("a", { href, "data-link": true, ...attrs }, text);
}

// ---- forms ----

/** The form's named fields as strings (checkboxes: "on" when checked, absent otherwise). */
export function formValues(form: HTMLFormElement): Record<string, string> {
  const values: Record<string, string> = {};
  for (const [key, value] of new FormData(form)) {
    if (typeof value === "string") values[key] = value;
  }
  return values;
}

/** Remove the messages formErrors added. */
export function clearFormErrors(form: HTMLFormElement): void {
  for (const el of form.querySelectorAll(".field-error")) el.remove();
  for (const el of form.querySelectorAll("[aria-invalid]")) {
    el.removeAttribute("aria-invalid");
    el.removeAttribute("aria-describedby");
  }
  form.querySelector(".form-error")?.replaceChildren();
  form.querySelector(".form-error")?.setAttribute("hidden", "");
}

let errorIds = 0;

/** Show an ApiError on a form: each field's message under its input (`[name=field]`), and a
 * form-level message (the error's own, or the messages of fields the form lacks). */
export function formErrors(form: HTMLFormElement, error: ApiError | Error): void {
  clearFormErrors(form);
  const fields = "fields" in error ? error.fields : {};
  const unmatched: string[] = [];
  let first: HTMLElement | null = null;
  for (const [name, message] of Object.entries(fields)) {
    const input = form.querySelector<HTMLElement>(`[name="${CSS.escape(name)}"]`);
    if (!input) {
      unmatched.push(`${name.replace(/_/g, " ")}: ${message}`);
      continue;
    }
    const id = `field-error-${++errorIds}`;
    const note = h("p", { class: "field-error", id }, message);
    // Right under the input (a checkbox: under its label).
    const anchor = input.closest("label") ?? input;
    anchor.after(note);
    input.setAttribute("aria-invalid", "true");
    input.setAttribute("aria-describedby", id);
    first ??= input;
  }
  let box = form.querySelector<HTMLElement>(".form-error");
  if (!box) {
    box = h("div", { class: "form-error", role: "alert" });
    form.prepend(box);
  }
  const lines = unmatched.length ? unmatched : first ? [] : [error.message];
  if (first && !unmatched.length && Object.keys(fields).length > 1) lines.push(error.message);
  box.replaceChildren(...lines.map((line) => h("p", null, line)));
  if (lines.length) box.removeAttribute("hidden");
  else box.setAttribute("hidden", "");
  first?.focus();
}

/** Disable a button while `work` runs (a double click never sends twice). */
export async function busy<T>(button: HTMLButtonElement | null, work: () => Promise<T>) {
  if (button) {
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
  }
  try {
    return await work();
  } finally {
    if (button) {
      button.disabled = false;
      button.removeAttribute("aria-busy");
    }
  }
}

// ---- notices ----

/** A short message at the bottom of the screen, gone after a few seconds. */
export function toast(message: string, kind: "info" | "success" | "error" = "info"): void {
  const box = document.getElementById("toasts");
  if (!box) return;
  const item = h("div", { class: `toast toast-${kind}` }, message);
  box.append(item);
  setTimeout(() => item.classList.add("toast-out"), kind === "error" ? 6000 : 3500);
  setTimeout(() => item.remove(), kind === "error" ? 6400 : 3900);
}

// ---- formatting (en-US digits; times in UTC, as the APIs give them) ----

const numberFormats = new Map<string, Intl.NumberFormat>();

function numberFormat(min: number, max: number, extra: Intl.NumberFormatOptions = {}) {
  const key = `${min}:${max}:${JSON.stringify(extra)}`;
  let format = numberFormats.get(key);
  if (!format) {
    format = new Intl.NumberFormat("en-US", {
      minimumFractionDigits: min,
      maximumFractionDigits: max,
      ...extra,
    });
    numberFormats.set(key, format);
  }
  return format;
}

/** 1234.5 -> "1,234.50" (`digits` fixed decimals); "—" for null/undefined/NaN. */
export function fmtNumber(value: number | null | undefined, digits = 2): string {
  if (value === null || value === undefined || Number.isNaN(value)) return "—";
  return numberFormat(digits, digits).format(value);
}

/** Money with 2 decimals and an optional currency code: fmtMoney(-5, "USD") -> "-5.00 USD". */
export function fmtMoney(value: number | null | undefined, currency?: string): string {
  const text = fmtNumber(value, 2);
  return currency && text !== "—" ? `${text} ${currency}` : text;
}

/** A signed amount: "+12.50" / "-3.00" (for profit and loss). */
export function fmtSigned(value: number | null | undefined, digits = 2): string {
  if (value === null || value === undefined || Number.isNaN(value)) return "—";
  return numberFormat(digits, digits, { signDisplay: "exceptZero" }).format(value);
}

/** 12.345 -> "12.35 %" (the value is already a percent). */
export function fmtPercent(value: number | null | undefined, digits = 2): string {
  const text = fmtNumber(value, digits);
  return text === "—" ? text : `${text} %`;
}

/** ISO 8601 -> "2024-01-02 13:45 UTC" (`seconds` adds :ss). */
export function fmtDateTime(iso: string | null | undefined, seconds = false): string {
  if (!iso) return "—";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  const text = date.toISOString().replace("T", " ");
  return `${text.slice(0, seconds ? 19 : 16)} UTC`;
}

/** ISO 8601 -> "2024-01-02". */
export function fmtDate(iso: string | null | undefined): string {
  if (!iso) return "—";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toISOString().slice(0, 10);
}

/** A fresh Idempotency-Key for one user action (retries of that action reuse it). */
export function newIdempotencyKey(): string {
  // randomUUID needs a secure context; getRandomValues works on plain-HTTP hosts too.
  if (typeof crypto.randomUUID === "function" && window.isSecureContext) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

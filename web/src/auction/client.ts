// The auction API from the screens: the seed's envelope unwrapped, the masters cached for the
// pickers, exact decimal arithmetic for amounts, UTC calendar days.

import { api, type ApiOptions } from "../api";
import type { Buyer, Envelope, Farmer, ListEnvelope, Product } from "./types";

type Query = ApiOptions["query"];

/** GET an enveloped resource: its `data`. */
export async function get<T>(path: string, query?: Query, signal?: AbortSignal): Promise<T> {
  const opts: ApiOptions = { query };
  if (signal) opts.signal = signal;
  return (await api<Envelope<T>>("GET", path, undefined, opts)).data;
}

/** GET a page: the whole envelope (data and meta with page, total, totalPages). */
export function getList<T>(path: string, query?: Query, signal?: AbortSignal) {
  const opts: ApiOptions = { query };
  if (signal) opts.signal = signal;
  return api<ListEnvelope<T>>("GET", path, undefined, opts);
}

/** Every row of a list (pages of 100; at most `max`). */
export async function getAll<T>(path: string, query: Query = {}, max = 2000): Promise<T[]> {
  const out: T[] = [];
  for (let page = 1; out.length < max; page++) {
    const body = await getList<T>(path, { ...query, page, limit: 100 });
    out.push(...body.data);
    if (page >= body.meta.totalPages || body.data.length === 0) break;
  }
  return out;
}

export async function post<T>(path: string, body?: unknown, key?: string): Promise<T> {
  const opts: ApiOptions = {};
  if (key) opts.idempotencyKey = key;
  return (await api<Envelope<T>>("POST", path, body ?? {}, opts)).data;
}

export async function put<T>(path: string, body: unknown): Promise<T> {
  return (await api<Envelope<T>>("PUT", path, body)).data;
}

export async function del(path: string): Promise<void> {
  await api<unknown>("DELETE", path);
}

// ---- masters, cached for the pickers ----

export type MasterKind = "farmers" | "buyers" | "products";
export type MasterOf<K extends MasterKind> = K extends "farmers"
  ? Farmer
  : K extends "buyers"
    ? Buyer
    : Product;

/** The commissioner's active masters of one kind: the first 500 loaded once, the rest found
 * by the API's `q` search as the operator types; creates and edits kept in. */
export class MasterStore<T extends { id: string; name: string; active: boolean }> {
  readonly kind: MasterKind;
  readonly byId = new Map<string, T>();
  /** true when every active row is in `byId`: the pickers then search locally only. */
  complete = false;
  /** The first list is in. */
  loaded = false;
  private loading: Promise<void> | null = null;

  constructor(kind: MasterKind) {
    this.kind = kind;
  }

  /** Load once; `fresh`: again (a lot screen opening: masters added at another desk). */
  load(fresh = false): Promise<void> {
    if (fresh && this.loading) {
      // Keep what is known until the new list is in.
      const again = this.fetchAll().catch(() => undefined);
      this.loading = this.loading.then(() => again);
      return this.loading;
    }
    this.loading ??= this.fetchAll().catch((err: unknown) => {
      this.loading = null;
      throw err;
    });
    return this.loading;
  }

  private async fetchAll(): Promise<void> {
    {
      const rows: T[] = [];
      let total = 0;
      for (let page = 1; page <= 5; page++) {
        const body = await getList<T>(`/api/${this.kind}`, { page, limit: 100, active: true });
        rows.push(...body.data);
        total = body.meta.total;
        if (page >= body.meta.totalPages) break;
      }
      const fresh = new Map(rows.map((row) => [row.id, row]));
      // Rows gone inactive elsewhere leave the pickers; new ones join.
      for (const id of [...this.byId.keys()]) if (!fresh.has(id)) this.byId.delete(id);
      for (const row of rows) this.byId.set(row.id, row);
      this.complete = rows.length >= total;
      this.loaded = true;
    }
  }

  put(row: T): void {
    if (row.active) this.byId.set(row.id, row);
    else this.byId.delete(row.id);
  }

  /** The API's search (for lists bigger than what is loaded); results are kept. */
  async search(q: string, signal?: AbortSignal): Promise<T[]> {
    const body = await getList<T>(`/api/${this.kind}`, { q, limit: 20, active: true }, signal);
    for (const row of body.data) this.byId.set(row.id, row);
    return body.data;
  }
}

const stores = new Map<MasterKind, MasterStore<never>>();

export function store<K extends MasterKind>(kind: K): MasterStore<MasterOf<K>> {
  let s = stores.get(kind);
  if (!s) {
    s = new MasterStore<never>(kind);
    stores.set(kind, s);
  }
  return s as unknown as MasterStore<MasterOf<K>>;
}

/** Names of parties (ledger rows carry ids only): from the stores, else fetched once. */
const names = new Map<string, Promise<string>>();

export function partyName(type: "FARMER" | "BUYER", id: string): Promise<string> {
  const kind = type === "FARMER" ? "farmers" : "buyers";
  const known = store(kind).byId.get(id);
  if (known) return Promise.resolve(known.name);
  let name = names.get(id);
  if (!name) {
    name = get<{ name: string }>(`/api/${kind}/${id}`).then(
      (row) => row.name,
      () => "(unknown)",
    );
    names.set(id, name);
  }
  return name;
}

// ---- exact decimals ----

/** "12.5" -> 12500n at `places` decimals; null when not a plain non-negative decimal with at
 * most `places` decimals. */
export function toScaled(text: string, places: number): bigint | null {
  const t = text.trim().replace(/,/g, "");
  const m = /^(\d*)(?:\.(\d*))?$/.exec(t);
  if (!m || t === "" || t === ".") return null;
  const frac = m[2] ?? "";
  if (frac.length > places) return null;
  return BigInt((m[1] || "0") + frac.padEnd(places, "0"));
}

export function fromScaled(value: bigint, places: number): string {
  const s = value.toString().padStart(places + 1, "0");
  return places ? `${s.slice(0, -places)}.${s.slice(-places)}` : s;
}

/** quantity (3 places) x rate (2 places), half up to cents: "120" x "20.5" -> "2460.00". */
export function lotAmount(quantity: string, rate: string): string | null {
  const q = toScaled(quantity, 3);
  const r = toScaled(rate, 2);
  if (q === null || r === null) return null;
  const product = q * r; // 5 decimal places
  const cents = (product + 500n) / 1000n;
  return fromScaled(cents, 2);
}

/** The per-unit rate a lot's total works out to (for display): 2460 / 120 -> 20.5. */
export function unitRate(amount: number, quantity: number): number | null {
  return quantity > 0 ? Math.round((amount / quantity) * 100) / 100 : null;
}

/** A number typed by the operator, for the API: a JSON number when plain, else the text (so
 * the API's own message names the field). */
export function numeric(text: string | undefined): number | string | undefined {
  const v = (text ?? "").trim().replace(/,/g, "");
  if (v === "") return undefined;
  return /^-?\d*\.?\d+$/.test(v) ? Number(v) : v;
}

// ---- days (the API's calendar is UTC) ----

export function todayUtc(): string {
  return new Date().toISOString().slice(0, 10);
}

export function addDays(day: string, days: number): string {
  const d = new Date(`${day}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

/** "2026-12-01" -> "Tue 1 Dec 2026". */
export function longDay(iso: string): string {
  const d = new Date(iso.length === 10 ? `${iso}T00:00:00Z` : iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleDateString("en-GB", {
    weekday: "short",
    day: "numeric",
    month: "short",
    year: "numeric",
    timeZone: "UTC",
  });
}

/** "14:05" (UTC) from an ISO timestamp. */
export function clock(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? "" : d.toISOString().slice(11, 16);
}

/** Quantities: up to 3 decimals, no trailing zeros: 120 -> "120", 12.5 -> "12.5". */
export function fmtQty(value: number): string {
  return new Intl.NumberFormat("en-US", { maximumFractionDigits: 3 }).format(value);
}

// Number and time formatting for the trading screens: prices with the instrument's digits,
// money in cents, times in UTC (the replay's clock is UTC; a local zone would shift bars).

import type { Instrument, Timeframe } from "./types";
import { TIMEFRAME_SECONDS } from "./types";

const moneyFmt = new Intl.NumberFormat("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });

export function money(value: number | null | undefined): string {
  if (value == null || !Number.isFinite(value)) return "—";
  return moneyFmt.format(value);
}

export function signedMoney(value: number | null | undefined): string {
  if (value == null || !Number.isFinite(value)) return "—";
  return (value > 0 ? "+" : "") + moneyFmt.format(value);
}

export function price(value: number | null | undefined, digits: number): string {
  if (value == null || !Number.isFinite(value)) return "—";
  return value.toFixed(digits);
}

/** Decimals a step needs (0.01 → 2, 1 → 0). */
export function stepDecimals(step: number): number {
  if (!Number.isFinite(step) || step <= 0) return 2;
  const text = step.toString();
  if (text.includes("e-")) return Number(text.split("e-")[1]);
  const dot = text.indexOf(".");
  return dot < 0 ? 0 : text.length - dot - 1;
}

export function volume(value: number | null | undefined, inst: Instrument | null): string {
  if (value == null || !Number.isFinite(value)) return "—";
  return value.toFixed(inst ? stepDecimals(inst.volume_step) : 2);
}

export function percent(value: number | null | undefined, decimals = 2): string {
  if (value == null || !Number.isFinite(value)) return "—";
  return `${value.toFixed(decimals)}%`;
}

/** "2024-01-02 13:05 UTC" (seconds only when present). */
export function utc(iso: string | null | undefined, withZone = true): string {
  if (!iso) return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const s = d.toISOString();
  const secs = s.slice(17, 19) !== "00" ? s.slice(16, 19) : "";
  return `${s.slice(0, 10)} ${s.slice(11, 16)}${secs}${withZone ? " UTC" : ""}`;
}

/** A `datetime-local` input's value for an ISO instant, in UTC. */
export function toLocalInput(iso: string | null | undefined): string {
  if (!iso) return "";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? "" : d.toISOString().slice(0, 16);
}

/** A `datetime-local` input's value (read as UTC) as ISO 8601 with Z; "" stays "". */
export function fromLocalInput(value: string): string {
  const v = value.trim();
  if (!v) return "";
  return v.length === 16 ? `${v}:00Z` : `${v}Z`;
}

export function duration(seconds: number | null | undefined): string {
  if (seconds == null || !Number.isFinite(seconds)) return "—";
  let s = Math.round(seconds);
  const d = Math.floor(s / 86400);
  s -= d * 86400;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  const parts: string[] = [];
  if (d) parts.push(`${d}d`);
  if (h) parts.push(`${h}h`);
  if (m) parts.push(`${m}m`);
  if (s || parts.length === 0) parts.push(`${s}s`);
  return parts.slice(0, 2).join(" ");
}

/** Epoch seconds of an ISO instant. */
export function epoch(iso: string): number {
  return Math.floor(Date.parse(iso) / 1000);
}

// W1 buckets start on Monday (the service aligns every bucket to 2001-01-01, a Monday).
const EPOCH_MONDAY = Date.UTC(2001, 0, 1) / 1000;

/** Open time (epoch seconds) of the session-timeframe bar holding `iso`. */
export function barTime(iso: string, tf: Timeframe): number {
  const sec = TIMEFRAME_SECONDS[tf];
  const t = epoch(iso);
  return EPOCH_MONDAY + Math.floor((t - EPOCH_MONDAY) / sec) * sec;
}

/** Money is rounded to cents half up, as the service stores it. */
export function cents(value: number): number {
  return Math.sign(value) * Math.round(Math.abs(value) * 100 + 1e-9) / 100;
}

// The public APIs from the browser, signed in with the cookie login (SPEC 2):
// - same-origin fetch with the cookies; `X-CSRF-Token` (the `csrf_token` cookie) on writes;
// - the access token (HttpOnly cookie) lives `expires_in` seconds: it is refreshed before it
//   expires (startSilentRefresh), before a request when it is known to have expired (a tab
//   that slept), and once after a 401 as a last resort; so no 401 reaches the screens;
// - one refresh at a time across tabs (Web Locks): the refresh token rotates, and presenting
//   a used one twice revokes the whole login;
// - errors of all three services become one ApiError: trading and auth `{"detail": ...}`
//   (FastAPI's 422 list with `loc` gives field messages), auction's envelope
//   `{success: false, error: {message, code, details?}, meta}` (400 VALIDATION_ERROR lists
//   `details` with `loc` the same way).

export interface User {
  id: number;
  email: string;
  name: string;
  roles: string[];
  created_at: string;
}

interface TokenOut {
  access_token: string;
  token_type: string;
  expires_in: number;
  user: User;
}

export interface ApiOptions {
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** `Idempotency-Key` for creates that must never happen twice. */
  idempotencyKey?: string;
  /** Query parameters; undefined and null values are left out. */
  query?: Record<string, string | number | boolean | null | undefined>;
  /** false: no refresh-and-retry after a 401 (the auth calls themselves). */
  retry?: boolean;
}

const STATUS_CODES: Record<number, string> = {
  400: "BAD_REQUEST",
  401: "UNAUTHORIZED",
  403: "FORBIDDEN",
  404: "NOT_FOUND",
  405: "METHOD_NOT_ALLOWED",
  409: "CONFLICT",
  413: "PAYLOAD_TOO_LARGE",
  422: "VALIDATION_ERROR",
  429: "TOO_MANY_REQUESTS",
  500: "INTERNAL_SERVER_ERROR",
  502: "BAD_GATEWAY",
  503: "SERVICE_UNAVAILABLE",
  504: "GATEWAY_TIMEOUT",
};

const FALLBACK_MESSAGES: Record<number, string> = {
  0: "The server could not be reached: check your connection and try again.",
  401: "Please sign in again.",
  403: "You are not allowed to do this.",
  404: "Not found.",
  413: "That is too large to send.",
  429: "Too many attempts: wait a moment and try again.",
  500: "Something went wrong on our side. Try again.",
  502: "The service is unavailable, try again shortly.",
  503: "The service is unavailable, try again shortly.",
  504: "The service did not answer in time.",
};

export class ApiError extends Error {
  status: number;
  code: string;
  /** Field name (the input's `name`) -> message, from validation errors. */
  fields: Record<string, string>;
  body: unknown;

  constructor(
    status: number,
    message: string,
    code?: string,
    fields: Record<string, string> = {},
    body: unknown = null,
  ) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code ?? STATUS_CODES[status] ?? "ERROR";
    this.fields = fields;
    this.body = body;
  }
}

interface ValidationItem {
  loc?: unknown;
  msg?: unknown;
}

/** `"Value error, the end must be after the start"` -> `"The end must be after the start"`. */
function cleanMessage(msg: string): string {
  const text = msg.replace(/^(Value error|Assertion failed), /, "");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** The field a validation item names: `["body", "stop_loss"]` -> `stop_loss`; a list index
 * (`["body", "roles", 0]`) names its list. Nothing for the body as a whole. */
function fieldOf(loc: unknown): string | null {
  if (!Array.isArray(loc)) return null;
  const parts = loc.filter((p) => typeof p === "string") as string[];
  if (parts[0] === "body" || parts[0] === "query" || parts[0] === "path") parts.shift();
  return parts.length ? parts.join(".") : null;
}

function fieldsOf(details: unknown): Record<string, string> {
  const fields: Record<string, string> = {};
  if (!Array.isArray(details)) return fields;
  for (const item of details as ValidationItem[]) {
    const name = fieldOf(item?.loc);
    if (name && typeof item.msg === "string" && !(name in fields)) {
      fields[name] = cleanMessage(item.msg);
    }
  }
  return fields;
}

/** One ApiError from any service's error body (or none). */
export function parseError(status: number, body: unknown): ApiError {
  const fallback = FALLBACK_MESSAGES[status] ?? `Request failed (${status}).`;
  if (body && typeof body === "object") {
    const obj = body as Record<string, unknown>;
    // auction: {success: false, error: {message, code, details?}, meta}
    if (obj.success === false && obj.error && typeof obj.error === "object") {
      const err = obj.error as Record<string, unknown>;
      const fields = fieldsOf(err.details);
      const message = typeof err.message === "string" && err.message ? err.message : fallback;
      const code = typeof err.code === "string" ? err.code : undefined;
      return new ApiError(status, message, code, fields, body);
    }
    // trading, auth: {"detail": "message"} or FastAPI's validation list
    if ("detail" in obj) {
      const detail = obj.detail;
      if (typeof detail === "string") return new ApiError(status, detail, undefined, {}, body);
      if (Array.isArray(detail)) {
        const fields = fieldsOf(detail);
        const first = (detail[0] as ValidationItem | undefined)?.msg;
        const message = Object.keys(fields).length
          ? "Please correct the highlighted fields."
          : typeof first === "string"
            ? cleanMessage(first)
            : fallback;
        return new ApiError(status, message, "VALIDATION_ERROR", fields, body);
      }
    }
  }
  return new ApiError(status, fallback, undefined, {}, body);
}

// ---- cookies and the stored expiry ----

const CSRF_COOKIE = "csrf_token";
const CSRF_HEADER = "X-CSRF-Token";
const EXPIRY_KEY = "marketplace.auth";
const LOCK_NAME = "marketplace.auth.refresh";
/** Paths whose 401 means "wrong credentials", never "refresh and retry". */
const NO_RETRY = new Set(["/auth/login", "/auth/register", "/auth/refresh", "/auth/logout"]);

function cookie(name: string): string | null {
  for (const part of document.cookie.split("; ")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq) === name) return decodeURIComponent(part.slice(eq + 1));
  }
  return null;
}

/** The script-readable CSRF cookie lives as long as the login: present means signed in. */
export function hasLogin(): boolean {
  return cookie(CSRF_COOKIE) !== null;
}

interface Expiry {
  /** When the access token expires (ms since the epoch). */
  at: number;
  /** Its lifetime in seconds, as auth gave it. */
  ttl: number;
}

function readExpiry(): Expiry | null {
  try {
    const raw = localStorage.getItem(EXPIRY_KEY);
    if (!raw) return null;
    const value = JSON.parse(raw) as Partial<Expiry>;
    return typeof value.at === "number" && typeof value.ttl === "number"
      ? { at: value.at, ttl: value.ttl }
      : null;
  } catch {
    return null;
  }
}

function storeExpiry(expiresIn: number): void {
  const value: Expiry = { at: Date.now() + expiresIn * 1000, ttl: expiresIn };
  localStorage.setItem(EXPIRY_KEY, JSON.stringify(value));
}

function clearExpiry(): void {
  localStorage.removeItem(EXPIRY_KEY);
}

/** Seconds before expiry to refresh: a quarter of the lifetime, 60 s at most, 1 s at least. */
function marginMs(ttl: number): number {
  return Math.max(1000, Math.min(60_000, ttl * 250));
}

// ---- session state ----

type AuthListener = (user: User | null) => void;
const listeners = new Set<AuthListener>();
let current: Promise<User | null> | null = null;

/** Called with the user (or null) whenever someone signs in or out, here or in another tab. */
export function onAuthChange(listener: AuthListener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

function setUser(user: User | null): void {
  current = Promise.resolve(user);
  if (user === null) clearExpiry();
  for (const listener of listeners) listener(user);
}

/** The signed-in user, or null (no request at all when there is no login cookie). */
export function session(force = false): Promise<User | null> {
  if (current && !force) return current;
  current = loadSession();
  return current;
}

async function loadSession(): Promise<User | null> {
  if (!hasLogin()) return null;
  try {
    return await api<User>("GET", "/auth/me");
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      clearExpiry();
      return null;
    }
    throw err;
  }
}

// ---- refresh ----

let inflight: Promise<boolean> | null = null;

/** Rotate the tokens now; true when the login is still valid. One at a time, across tabs. */
export function refresh(): Promise<boolean> {
  inflight ??= lockedRefresh().finally(() => {
    inflight = null;
  });
  return inflight;
}

async function lockedRefresh(): Promise<boolean> {
  const seen = readExpiry();
  const run = async (): Promise<boolean> => {
    const now = readExpiry();
    // Another tab refreshed while this one waited for the lock: the cookies are shared.
    if (now && (!seen || now.at > seen.at) && now.at - Date.now() > marginMs(now.ttl)) {
      return true;
    }
    let res: Response;
    try {
      res = await fetch("/auth/refresh", {
        method: "POST",
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
    } catch {
      return false;
    }
    if (!res.ok) {
      if (res.status === 401) setUser(null);
      return false;
    }
    const body = (await res.json()) as TokenOut;
    storeExpiry(body.expires_in);
    current = Promise.resolve(body.user);
    schedule();
    return true;
  };
  const locks = typeof navigator !== "undefined" ? navigator.locks : undefined;
  return locks ? locks.request(LOCK_NAME, run) : run();
}

/** Before a request: refresh first when the access token is (nearly) expired. */
async function ensureFresh(): Promise<void> {
  const expiry = readExpiry();
  if (expiry && expiry.at - Date.now() < 2000 && hasLogin()) await refresh();
}

let timer: ReturnType<typeof setTimeout> | undefined;
let started = false;

function schedule(): void {
  clearTimeout(timer);
  timer = undefined;
  if (!started) return;
  const expiry = readExpiry();
  if (!expiry || !hasLogin()) return;
  const delay = Math.max(0, expiry.at - marginMs(expiry.ttl) - Date.now());
  timer = setTimeout(() => void refresh(), delay);
}

/** Keep the access token fresh while the app is open: a timer before each expiry, a check when
 * the tab becomes visible again (timers sleep in background tabs), and another tab's sign-in,
 * refresh or sign-out followed. Returns a function that stops it. */
export function startSilentRefresh(): () => void {
  if (started) return stopSilentRefresh;
  started = true;
  window.addEventListener("storage", onStorage);
  document.addEventListener("visibilitychange", onVisible);
  // Signed in elsewhere than the app's form (the API docs' "Try it out", a script): the
  // expiry is unknown, so take fresh tokens now and know it from then on.
  if (hasLogin() && !readExpiry()) void refresh();
  else schedule();
  return stopSilentRefresh;
}

function stopSilentRefresh(): void {
  started = false;
  clearTimeout(timer);
  window.removeEventListener("storage", onStorage);
  document.removeEventListener("visibilitychange", onVisible);
}

function onStorage(event: StorageEvent): void {
  if (event.key !== EXPIRY_KEY && event.key !== null) return;
  if (!hasLogin()) {
    setUser(null);
    return;
  }
  if (event.oldValue === null) void session(true).then((user) => setUser(user));
  schedule();
}

function onVisible(): void {
  if (document.visibilityState !== "visible") return;
  const expiry = readExpiry();
  if (expiry && hasLogin() && expiry.at - Date.now() < marginMs(expiry.ttl)) void refresh();
  else schedule();
}

// ---- requests ----

function withQuery(path: string, query?: ApiOptions["query"]): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== null) params.set(key, String(value));
  }
  const text = params.toString();
  return text ? `${path}${path.includes("?") ? "&" : "?"}${text}` : path;
}

async function send(method: string, url: string, body: unknown, opts: ApiOptions) {
  const headers: Record<string, string> = { Accept: "application/json", ...opts.headers };
  let payload: BodyInit | undefined;
  if (body instanceof FormData || body instanceof Blob || typeof body === "string") {
    payload = body;
  } else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  if (method !== "GET" && method !== "HEAD") {
    const csrf = cookie(CSRF_COOKIE);
    if (csrf) headers[CSRF_HEADER] = csrf;
  }
  if (opts.idempotencyKey) headers["Idempotency-Key"] = opts.idempotencyKey;
  const init: RequestInit = { method, headers, credentials: "same-origin" };
  if (payload !== undefined) init.body = payload;
  if (opts.signal) init.signal = opts.signal;
  try {
    return await fetch(url, init);
  } catch (err) {
    if (err instanceof DOMException && err.name === "AbortError") throw err;
    throw new ApiError(0, FALLBACK_MESSAGES[0] ?? "Network error", "NETWORK_ERROR");
  }
}

async function readBody(res: Response): Promise<unknown> {
  if (res.status === 204 || res.status === 205) return undefined;
  const type = res.headers.get("Content-Type") ?? "";
  if (type.includes("json")) {
    try {
      return await res.json();
    } catch {
      return null;
    }
  }
  return await res.text();
}

/** A call to a public API path (`/sessions`, `/api/lots`, `/auth/me`): resolves with the
 * parsed JSON (undefined for 204), rejects with an ApiError. */
export async function api<T>(
  method: string,
  path: string,
  body?: unknown,
  opts: ApiOptions = {},
): Promise<T> {
  const upper = method.toUpperCase();
  const url = withQuery(path, opts.query);
  const retry = opts.retry ?? !NO_RETRY.has(path.split("?")[0] ?? path);
  if (retry) await ensureFresh();
  let res = await send(upper, url, body, opts);
  if (res.status === 401 && retry && hasLogin()) {
    if (await refresh()) res = await send(upper, url, body, opts);
  }
  const data = await readBody(res);
  if (!res.ok) {
    const error = parseError(res.status, data);
    if (res.status === 401 && retry) setUser(null);
    throw error;
  }
  return data as T;
}

// ---- sign in, sign up, sign out ----

export async function signIn(email: string, password: string): Promise<User> {
  const body = await api<TokenOut>("POST", "/auth/login", { email, password }, { retry: false });
  storeExpiry(body.expires_in);
  setUser(body.user);
  schedule();
  return body.user;
}

export interface SignUp {
  name: string;
  email: string;
  password: string;
  roles: string[];
}

export async function signUp(data: SignUp): Promise<User> {
  await api<User>("POST", "/auth/register", data, { retry: false });
  return signIn(data.email, data.password);
}

export async function signOut(): Promise<void> {
  try {
    await api<void>("POST", "/auth/logout", undefined, { retry: false });
  } finally {
    clearTimeout(timer);
    setUser(null);
  }
}

// History-API router. App paths never collide with API paths: `/`, `/signin`, `/signup`,
// `/trade/...`, `/auction/...`, `/docs/...` (the gateway sends exactly these to the web app).
// Each area (`/trade`, `/auction`) is a lazily imported module exporting `routes: Route[]`,
// so its code loads on its first screen only.

export type Cleanup = () => void;

export interface Route {
  /** e.g. "/trade/sessions/:id"; `:name` segments become params. */
  path: string;
  title: string;
  /** Signed-in users only: others go to /signin and come back after. */
  auth?: boolean;
  /** Draws the screen into `root` (emptied before); may return a cleanup, called on leave. */
  render(
    root: HTMLElement,
    params: Record<string, string>,
  ): void | Cleanup | Promise<void | Cleanup>;
}

export interface Area {
  /** "/trade": the area owns this path and everything under it. */
  prefix: string;
  load: () => Promise<{ routes: Route[] }>;
}

export interface RouterOptions {
  root: HTMLElement;
  routes: Route[];
  areas: Area[];
  notFound: Route;
  /** For an `auth` route: resolves true when signed in. */
  signedIn: () => Promise<boolean>;
  /** After each navigation (the shell marks the active link). */
  onNavigate?: (path: string) => void;
  /** A screen failed to load or render (e.g. its chunk could not be fetched). */
  onError?: (root: HTMLElement, error: unknown) => void;
}

const APP_NAME = "Marketplace";
let options: RouterOptions | null = null;
let cleanup: Cleanup | null = null;
let generation = 0;
const loaded = new Map<string, Promise<Route[]>>();

function match(pattern: string, path: string): Record<string, string> | null {
  const want = pattern.split("/").filter(Boolean);
  const got = path.split("/").filter(Boolean);
  if (want.length !== got.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < want.length; i++) {
    const w = want[i] as string;
    const g = got[i] as string;
    if (w.startsWith(":")) {
      try {
        params[w.slice(1)] = decodeURIComponent(g);
      } catch {
        return null;
      }
    } else if (w !== g) {
      return null;
    }
  }
  return params;
}

function areaOf(path: string): Area | undefined {
  return options?.areas.find((a) => path === a.prefix || path.startsWith(`${a.prefix}/`));
}

async function routesFor(path: string): Promise<Route[]> {
  const area = areaOf(path);
  if (!area || !options) return options?.routes ?? [];
  let routes = loaded.get(area.prefix);
  if (!routes) {
    routes = area.load().then((mod) => mod.routes);
    loaded.set(area.prefix, routes);
    routes.catch(() => loaded.delete(area.prefix)); // a failed chunk load may be retried
  }
  return routes;
}

/** The route and params for a path (after loading its area when needed). */
export async function resolve(path: string): Promise<[Route, Record<string, string>]> {
  if (!options) throw new Error("router not started");
  for (const route of await routesFor(path)) {
    const params = match(route.path, path);
    if (params) return [route, params];
  }
  return [options.notFound, {}];
}

/** Go to an app path (pushState; `replace` for redirects). */
export function navigate(path: string, opts: { replace?: boolean } = {}): void {
  const target = new URL(path, location.href);
  const here = location.pathname + location.search + location.hash;
  const next = target.pathname + target.search + target.hash;
  if (next !== here) {
    if (opts.replace) history.replaceState(null, "", next);
    else history.pushState(null, "", next);
  }
  void render();
}

/** Draw the current location's screen. */
export async function render(): Promise<void> {
  if (!options) return;
  const opts = options;
  const mine = ++generation;
  const path = location.pathname;
  const root = opts.root;
  try {
    const [route, params] = await resolve(path);
    if (mine !== generation) return;
    if (route.auth && !(await opts.signedIn())) {
      if (mine !== generation) return;
      const back = location.pathname + location.search;
      navigate(`/signin?next=${encodeURIComponent(back)}`, { replace: true });
      return;
    }
    if (mine !== generation) return;
    runCleanup();
    root.replaceChildren();
    document.title = route.title ? `${route.title} · ${APP_NAME}` : APP_NAME;
    opts.onNavigate?.(path);
    const result = await route.render(root, params);
    if (typeof result === "function") {
      // A newer navigation already replaced this screen: clean it up at once.
      if (mine !== generation) result();
      else cleanup = result;
    }
  } catch (error) {
    if (mine !== generation) return;
    runCleanup();
    root.replaceChildren();
    if (opts.onError) opts.onError(root, error);
    else throw error;
  }
}

function runCleanup(): void {
  const fn = cleanup;
  cleanup = null;
  if (fn) {
    try {
      fn();
    } catch (error) {
      console.warn("cleanup failed", error);
    }
  }
}

function onClick(event: MouseEvent): void {
  if (event.defaultPrevented || event.button !== 0) return;
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const link = (event.target as Element | null)?.closest?.("a[data-link]");
  if (!(link instanceof HTMLAnchorElement) || link.target || link.hasAttribute("download")) return;
  const url = new URL(link.href);
  if (url.origin !== location.origin) return;
  event.preventDefault();
  navigate(url.pathname + url.search + url.hash);
}

/** Start routing: links with `data-link` and back/forward stay in the app. */
export function startRouter(opts: RouterOptions): void {
  options = opts;
  document.addEventListener("click", onClick);
  window.addEventListener("popstate", () => void render());
  void render();
}

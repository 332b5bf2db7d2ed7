// The app's entry: the top bar, the silent token refresh and the router. Areas (trading,
// auction) and the API docs are dynamic imports: chunks of their own, loaded on first use.
import { ApiError, onAuthChange, session, startSilentRefresh } from "./api";
import { docsIndexRoute, docsRoute } from "./pages/docs";
import { homeRoute } from "./pages/home";
import { notFoundRoute } from "./pages/notfound";
import { signinRoute, signupRoute } from "./pages/auth";
import { render, startRouter } from "./router";
import { markActive, startShell } from "./shell";
import { h, link } from "./ui";

function failed(root: HTMLElement, error: unknown): void {
  const message =
    error instanceof ApiError
      ? error.message
      : "This screen could not be loaded. Check your connection and reload the page.";
  console.warn("screen failed", error);
  root.append(
    h(
      "section",
      { class: "empty", "data-testid": "screen-error" },
      h("h1", null, "Something went wrong"),
      h("p", { class: "muted" }, message),
      link("/", "Go home", { class: "button" }),
    ),
  );
}

const root = document.getElementById("app") as HTMLElement;
startShell(document.getElementById("topbar") as HTMLElement);
startSilentRefresh();
// Signed out elsewhere (another tab, an expired login): a protected screen goes to sign-in.
onAuthChange((user) => {
  if (!user) void render();
});
startRouter({
  root,
  routes: [homeRoute, signinRoute, signupRoute, docsIndexRoute, docsRoute],
  areas: [
    { prefix: "/trade", load: () => import("./trading/index") },
    { prefix: "/auction", load: () => import("./auction/index") },
  ],
  notFound: notFoundRoute,
  signedIn: async () => (await session()) !== null,
  onNavigate: markActive,
  onError: failed,
});

// The landing screen: what the app holds, and the way in for the signed-in user's roles.
import { session } from "../api";
import type { Route } from "../router";
import { h, link } from "../ui";

function card(title: string, text: string, href: string, action: string, testid: string) {
  return h(
    "article",
    { class: "card area-card", "data-testid": testid },
    h("h2", null, title),
    h("p", { class: "muted" }, text),
    link(href, action, { class: "button primary" }),
  );
}

export const homeRoute: Route = {
  path: "/",
  title: "",
  async render(root) {
    const user = await session();
    const trading = card(
      "Trading replay",
      "Replay an instrument's history bar by bar, trade it, and get a report of how you did.",
      "/trade",
      "Open trading",
      "home-trading",
    );
    const auction = card(
      "Auction floor",
      "Sessions, fast lot entry, bills, payments and ledgers for a commission agent.",
      "/auction",
      "Open auction",
      "home-auction",
    );
    const docs = card(
      "API reference",
      "Every endpoint of the trading, auction and auth APIs, through this same address.",
      "/docs/trading",
      "Browse the APIs",
      "home-docs",
    );
    if (!user) {
      root.append(
        h(
          "section",
          { class: "hero" },
          h("h1", null, "Market replay and auction floor, in one place"),
          h(
            "p",
            { class: "lead" },
            "Practise trading on history without look-ahead, or run a commission agent's day.",
          ),
          h(
            "div",
            { class: "actions" },
            link("/signup", "Create an account", { class: "button primary" }),
            link("/signin", "Sign in", { class: "button ghost" }),
          ),
        ),
        h("div", { class: "grid cards" }, trading, auction, docs),
      );
      return;
    }
    const roles = new Set(user.roles);
    const mine = [
      roles.has("trader") || roles.has("admin") ? trading : null,
      roles.has("commissioner") ? auction : null,
      docs,
    ];
    root.append(
      h(
        "section",
        { class: "hero compact" },
        h("h1", { "data-testid": "welcome" }, `Welcome, ${user.name}`),
        h("p", { class: "muted" }, `Signed in as ${user.email} · ${user.roles.join(", ")}`),
      ),
      h("div", { class: "grid cards" }, mine),
    );
  },
};

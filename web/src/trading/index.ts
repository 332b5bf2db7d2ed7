// Placeholder of the trading area (the trading screens replace this file): the router loads
// this module lazily for every path under /trade and matches `routes`.
import type { Route } from "../router";
import { h, link } from "../ui";

export const routes: Route[] = [
  {
    path: "/trade",
    title: "Trading",
    auth: true,
    render(root) {
      root.append(
        h(
          "section",
          { class: "empty", "data-testid": "trading-placeholder" },
          h("h1", null, "Trading"),
          h("p", { class: "muted" }, "The trading screens are on their way."),
          link("/", "Back home", { class: "button" }),
        ),
      );
    },
  },
];

// Placeholder of the auction area (the auction screens replace this file): the router loads
// this module lazily for every path under /auction and matches `routes`.
import type { Route } from "../router";
import { h, link } from "../ui";

export const routes: Route[] = [
  {
    path: "/auction",
    title: "Auction",
    auth: true,
    render(root) {
      root.append(
        h(
          "section",
          { class: "empty", "data-testid": "auction-placeholder" },
          h("h1", null, "Auction"),
          h("p", { class: "muted" }, "The auction screens are on their way."),
          link("/", "Back home", { class: "button" }),
        ),
      );
    },
  },
];

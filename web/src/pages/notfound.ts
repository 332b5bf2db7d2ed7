import type { Route } from "../router";
import { h, link } from "../ui";

export const notFoundRoute: Route = {
  path: "*",
  title: "Not found",
  render(root) {
    root.append(
      h(
        "section",
        { class: "empty", "data-testid": "not-found" },
        h("h1", null, "Page not found"),
        h("p", { class: "muted" }, "There is nothing at this address."),
        link("/", "Go home", { class: "button" }),
      ),
    );
  },
};

// API reference: Swagger UI (bundled from npm, no CDN) over each service's OpenAPI document,
// read through the gateway at /docs/<service>/openapi.json. Swagger UI is a lazy chunk of its
// own with its own stylesheet: no other screen pays for it.
import type { Route } from "../router";
import { navigate } from "../router";
import { h, link } from "../ui";

const SERVICES: Record<string, string> = {
  trading: "Trading",
  auction: "Auction",
  auth: "Auth",
};

export const docsIndexRoute: Route = {
  path: "/docs",
  title: "API docs",
  render() {
    navigate("/docs/trading", { replace: true });
  },
};

export const docsRoute: Route = {
  path: "/docs/:service",
  title: "API docs",
  async render(root, params) {
    const service = params.service ?? "";
    if (!(service in SERVICES)) {
      root.append(
        h("h1", null, "No such API"),
        h("p", null, link("/docs/trading", "See the trading API")),
      );
      return;
    }
    document.title = `${SERVICES[service]} API · Marketplace`;
    const tabs = h(
      "nav",
      { class: "tabs", "aria-label": "APIs" },
      Object.entries(SERVICES).map(([key, label]) =>
        link(`/docs/${key}`, `${label} API`, {
          class: key === service ? "active" : null,
          "aria-current": key === service ? "page" : null,
        }),
      ),
    );
    const specUrl = `/docs/${service}/openapi.json`;
    const mount = h("div", { class: "swagger", "data-testid": "swagger" });
    root.append(
      h(
        "section",
        { class: "docs-page" },
        h(
          "div",
          { class: "docs-head" },
          h("h1", null, `${SERVICES[service]} API`),
          h("a", { href: specUrl, class: "muted" }, "OpenAPI document"),
        ),
        tabs,
        h("p", { class: "loading", "data-testid": "docs-loading" }, "Loading the reference…"),
        mount,
      ),
    );
    const { mountSwagger } = await import("../docs/swagger");
    await mountSwagger(mount, specUrl);
    root.querySelector(".loading")?.remove();
  },
};

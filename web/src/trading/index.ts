// The trading area (lazy-loaded under /trade): sessions, the replay screen, reports.
// Each screen is its own chunk, so the sessions list never loads the chart library and the
// replay screen loads only what it draws.

import type { Route } from "../router";

export const routes: Route[] = [
  {
    path: "/trade",
    title: "Replay sessions",
    auth: true,
    render: async (root) => (await import("./sessions")).renderSessions(root),
  },
  {
    path: "/trade/sessions/:id",
    title: "Replay",
    auth: true,
    render: async (root, params) => (await import("./replay")).renderReplay(root, params),
  },
  {
    path: "/trade/sessions/:id/report",
    title: "Report",
    auth: true,
    render: async (root, params) => (await import("./report")).renderReport(root, params),
  },
];

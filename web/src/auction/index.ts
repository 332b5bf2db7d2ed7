// The auction area (lazy-loaded under /auction): a commission agent's day on the floor.
// Each group of screens is a chunk of its own; the lot entry loads with its session.

import type { Route } from "../router";

const r = (path: string, title: string, render: Route["render"]): Route => ({ path, title, auth: true, render });

export const routes: Route[] = [
  r("/auction", "Auction · Today", async (root) => (await import("./home")).renderToday(root)),
  r("/auction/sessions", "Auction sessions", async (root) => (await import("./home")).renderSessions(root)),
  r("/auction/sessions/:id", "Lots", async (root, p) => (await import("./session")).renderSession(root, p, "lots")),
  r("/auction/sessions/:id/farmers", "Farmers & bills", async (root, p) => (await import("./session")).renderSession(root, p, "farmers")),
  r("/auction/sessions/:id/buyers", "Buyers & invoices", async (root, p) => (await import("./session")).renderSession(root, p, "buyers")),
  r("/auction/sessions/:id/products", "Products sold", async (root, p) => (await import("./session")).renderSession(root, p, "products")),
  r("/auction/bills", "Farmer bills", async (root) => (await import("./documents")).renderBills(root)),
  r("/auction/bills/:id", "Bill", async (root, p) => (await import("./documents")).renderBill(root, p)),
  r("/auction/invoices", "Buyer invoices", async (root) => (await import("./documents")).renderInvoices(root)),
  r("/auction/invoices/:id", "Invoice", async (root, p) => (await import("./documents")).renderInvoice(root, p)),
  r("/auction/outstanding", "Outstanding", async (root) => (await import("./books")).renderOutstanding(root)),
  r("/auction/day-book", "Day book", async (root) => (await import("./books")).renderDayBook(root)),
  r("/auction/ledgers", "Ledgers", async (root) => (await import("./books")).renderLedgers(root)),
  r("/auction/ledgers/farmers/:id", "Farmer ledger", async (root, p) => (await import("./books")).renderLedger(root, p, "FARMER")),
  r("/auction/ledgers/buyers/:id", "Buyer ledger", async (root, p) => (await import("./books")).renderLedger(root, p, "BUYER")),
  r("/auction/reports", "Reports", async (root) => (await import("./books")).renderReports(root)),
  r("/auction/farmers", "Farmers", async (root) => (await import("./masters")).renderFarmers(root)),
  r("/auction/buyers", "Buyers", async (root) => (await import("./masters")).renderBuyers(root)),
  r("/auction/products", "Products", async (root) => (await import("./masters")).renderProducts(root)),
  r("/auction/charges", "Charges", async (root) => (await import("./masters")).renderCharges(root)),
  r("/auction/settings", "Settings", async (root) => (await import("./settings")).renderSettings(root)),
];

// The frame around every screen: the top bar (brand, areas, API docs, the user menu).
import { type User, onAuthChange, session, signOut } from "./api";
import { navigate } from "./router";
import { h, link, svg, toast } from "./ui";

const NAV = [
  { href: "/trade", label: "Trading", prefix: "/trade" },
  { href: "/auction", label: "Auction", prefix: "/auction" },
  { href: "/docs/trading", label: "API docs", prefix: "/docs" },
];

let bar: HTMLElement | null = null;
let path = location.pathname;

function logo(): HTMLElement {
  const mark = svg(
    "svg",
    { viewBox: "0 0 32 32" },
    svg("path", {
      d: "M7 22l6-7 4 4 8-10",
      fill: "none",
      stroke: "#fff",
      "stroke-width": 3,
      "stroke-linecap": "round",
      "stroke-linejoin": "round",
    }),
  );
  return h("span", { class: "logo", "aria-hidden": "true" }, mark);
}

function userMenu(user: User | null): HTMLElement {
  if (!user) {
    return h(
      "div",
      { class: "user-menu" },
      link("/signin", "Sign in", { class: "button ghost", "data-testid": "nav-signin" }),
      link("/signup", "Sign up", { class: "button", "data-testid": "nav-signup" }),
    );
  }
  const out = h(
    "button",
    { type: "button", class: "ghost", "data-testid": "sign-out" },
    "Sign out",
  );
  out.addEventListener("click", async () => {
    out.disabled = true;
    try {
      await signOut();
      toast("Signed out.");
      navigate("/signin");
    } catch (error) {
      out.disabled = false;
      toast(error instanceof Error ? error.message : "Could not sign out", "error");
    }
  });
  return h(
    "div",
    { class: "user-menu" },
    h("span", { class: "user-name", title: user.email, "data-testid": "user-name" }, user.name),
    out,
  );
}

function draw(user: User | null): void {
  if (!bar) return;
  const nav = h(
    "nav",
    { class: "nav", "aria-label": "Main" },
    NAV.map((item) =>
      link(item.href, item.label, {
        class: path === item.prefix || path.startsWith(`${item.prefix}/`) ? "active" : null,
        "aria-current":
          path === item.prefix || path.startsWith(`${item.prefix}/`) ? "page" : null,
      }),
    ),
  );
  bar.replaceChildren(
    h(
      "div",
      { class: "topbar-inner" },
      link("/", [logo(), "Marketplace"], {
        class: "brand",
      }),
      nav,
      userMenu(user),
    ),
  );
}

/** Draw the top bar now and again on every sign-in/out; `markActive` after each navigation. */
export function startShell(element: HTMLElement): void {
  bar = element;
  onAuthChange(draw);
  void session().then(draw, () => draw(null));
}

export function markActive(current: string): void {
  path = current;
  void session().then(draw, () => draw(null));
}

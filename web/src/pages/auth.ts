// Sign in and sign up. The forms do not validate in the browser (`novalidate`): the API's
// own validation messages are shown on the fields, so there is one set of rules.
import { ApiError, session, signIn, signUp } from "../api";
import { type Route, navigate } from "../router";
import { busy, clearFormErrors, formErrors, formValues, h, link } from "../ui";

/** Where to go after signing in: `?next=` when it is an app path, else home. */
function nextPath(): string {
  const next = new URLSearchParams(location.search).get("next") ?? "/";
  return next.startsWith("/") && !next.startsWith("//") ? next : "/";
}

function field(label: string, input: HTMLInputElement, hint?: string): HTMLElement {
  return h(
    "div",
    { class: "field" },
    h("label", { for: input.id }, label),
    input,
    hint ? h("p", { class: "hint" }, hint) : null,
  );
}

function input(name: string, type: string, autocomplete: string): HTMLInputElement {
  return h("input", { id: `f-${name}`, name, type, autocomplete, required: true });
}

export const signinRoute: Route = {
  path: "/signin",
  title: "Sign in",
  async render(root) {
    if (await session()) {
      navigate(nextPath(), { replace: true });
      return;
    }
    const submit = h("button", { type: "submit", class: "primary wide" }, "Sign in");
    const form = h(
      "form",
      { class: "card form", novalidate: true, "data-testid": "signin-form" },
      h("div", { class: "form-error", role: "alert", hidden: true }),
      field("Email", input("email", "email", "username")),
      field("Password", input("password", "password", "current-password")),
      submit,
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearFormErrors(form);
      const values = formValues(form);
      try {
        await busy(submit, () => signIn(values.email ?? "", values.password ?? ""));
        navigate(nextPath());
      } catch (error) {
        formErrors(form, error instanceof Error ? error : new Error(String(error)));
      }
    });
    const signupHref = `/signup${location.search}`;
    root.append(
      h(
        "section",
        { class: "auth-page" },
        h("h1", null, "Sign in"),
        form,
        h("p", { class: "muted center" }, "New here? ", link(signupHref, "Create an account")),
      ),
    );
    form.querySelector<HTMLInputElement>("input")?.focus();
  },
};

export const signupRoute: Route = {
  path: "/signup",
  title: "Sign up",
  async render(root) {
    if (await session()) {
      navigate(nextPath(), { replace: true });
      return;
    }
    const role = (value: string, label: string, checked: boolean) =>
      h(
        "label",
        { class: "check" },
        h("input", { type: "checkbox", name: `role-${value}`, value, checked }),
        label,
      );
    const submit = h("button", { type: "submit", class: "primary wide" }, "Create account");
    const form = h(
      "form",
      { class: "card form", novalidate: true, "data-testid": "signup-form" },
      h("div", { class: "form-error", role: "alert", hidden: true }),
      field("Name", input("name", "text", "name")),
      field("Email", input("email", "email", "email")),
      field("Password", input("password", "password", "new-password"), "At least 8 characters."),
      h(
        "fieldset",
        { class: "field" },
        h("legend", null, "I am a"),
        h(
          "div",
          { class: "checks", "data-name": "roles" },
          role("trader", "Trader (market replay)", true),
          role("commissioner", "Commissioner (auction floor)", false),
        ),
        // Validation messages about roles land here (formErrors finds [name=roles]).
        h("input", { type: "hidden", name: "roles" }),
      ),
      submit,
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearFormErrors(form);
      const values = formValues(form);
      const roles = ["trader", "commissioner"].filter((r) => values[`role-${r}`]);
      try {
        await busy(submit, () =>
          signUp({
            name: values.name ?? "",
            email: values.email ?? "",
            password: values.password ?? "",
            roles,
          }),
        );
        navigate(nextPath());
      } catch (error) {
        if (error instanceof ApiError && error.status === 409) {
          error.fields = { email: error.message };
        }
        formErrors(form, error instanceof Error ? error : new Error(String(error)));
      }
    });
    root.append(
      h(
        "section",
        { class: "auth-page" },
        h("h1", null, "Create your account"),
        form,
        h(
          "p",
          { class: "muted center" },
          "Already registered? ",
          link(`/signin${location.search}`, "Sign in"),
        ),
      ),
    );
    form.querySelector<HTMLInputElement>("input")?.focus();
  },
};

// /auction/settings: how bills and invoices are made. Only the settings changed are sent (PUT
// keeps the others); the API's messages go on their fields. The business name shows when the
// API has it.

import { ApiError } from "../api";
import { busy, clearFormErrors, formErrors, h } from "../ui";
import { get, numeric, put } from "./client";
import { errorBox, frame, loading, pageHead, setBusinessName } from "./layout";
import type { Settings } from "./types";

const TERMS: [Settings["payment_terms"], string][] = [
  ["SAME_DAY", "Same day (by midnight UTC after the sale)"],
  ["WITHIN_24_HOURS", "Within 24 hours"],
  ["WITHIN_48_HOURS", "Within 48 hours"],
  ["WITHIN_72_HOURS", "Within 72 hours"],
];

function row(label: string, control: HTMLElement, hint?: string): HTMLElement {
  return h(
    "div",
    { class: "field au-setting" },
    h("label", { for: control.id }, label),
    control,
    hint ? h("p", { class: "hint" }, hint) : null,
  );
}

export async function renderSettings(root: HTMLElement): Promise<void> {
  const main = await frame(root, "settings");
  if (!main) return;
  main.append(pageHead("Settings", "How new bills and invoices are made. Bills already made keep what they were made with."), loading());
  let s: Settings;
  try {
    s = await get<Settings>("/api/settings");
  } catch (err) {
    main.replaceChildren(pageHead("Settings"), errorBox(err, () => location.reload()));
    return;
  }
  main.replaceChildren(pageHead("Settings", "How new bills and invoices are made. Bills already made keep what they were made with."));

  const rate = h("input", { id: "set-commission_rate", name: "commission_rate", type: "text", inputmode: "decimal", value: String(s.commission_rate), "data-testid": "set-commission-rate" });
  const payer = h(
    "select",
    { id: "set-commission_payer", name: "commission_payer" },
    h("option", { value: "FARMER", selected: s.commission_payer === "FARMER" }, "The farmer (deducted on the bill)"),
    h("option", { value: "BUYER", selected: s.commission_payer === "BUYER" }, "The buyer (added on the invoice)"),
  );
  const terms = h("select", { id: "set-payment_terms", name: "payment_terms" }, TERMS.map(([v, t]) => h("option", { value: v, selected: s.payment_terms === v }, t)));
  const credit = h("input", { id: "set-buyer_credit_days", name: "buyer_credit_days", type: "text", inputmode: "numeric", value: String(s.buyer_credit_days) });
  const cap = h("input", {
    id: "set-max",
    name: "profile.max_commission_rate",
    type: "text",
    inputmode: "decimal",
    placeholder: "no cap",
    value: s.profile.max_commission_rate === null ? "" : String(s.profile.max_commission_rate),
  });
  const farmerCharges = h("input", { id: "set-fca", name: "profile.farmer_charges_allowed", type: "checkbox", checked: s.profile.farmer_charges_allowed });
  const hasName = "business_name" in s;
  const business = h("input", { id: "set-business_name", name: "business_name", type: "text", maxlength: "200", value: s.business_name ?? "" });
  const submit = h("button", { type: "submit", class: "primary", "data-testid": "settings-save" }, "Save settings");
  const status = h("span", { class: "au-form-status", role: "status", "aria-live": "polite", "data-testid": "settings-status" });

  const form = h(
    "form",
    { class: "card form au-settings", novalidate: true, "data-testid": "settings-form" },
    h("div", { class: "form-error", role: "alert", hidden: true }),
    hasName
      ? h(
          "fieldset",
          { class: "au-fieldset au-fieldset-wide" },
          h("legend", null, "Business"),
          row("Business name", business, "The letterhead of printed bills and of the farmer's verifiable copy."),
        )
      : null,
    h(
      "fieldset",
      { class: "au-fieldset" },
      h("legend", null, "Commission"),
      row("Commission (%)", rate, "Charged on the lots total of every bill, e.g. 5 for 5 %."),
      row("Paid by", payer),
      row("Highest commission allowed (%)", cap, "Your market's cap, if any: a bill above it is refused. Leave empty for none."),
    ),
    h(
      "fieldset",
      { class: "au-fieldset" },
      h("legend", null, "Payment terms"),
      row("Farmers are paid", terms, "Sets each bill's due time; unpaid after it, the bill shows as overdue."),
      row("Buyers' credit (days)", credit, "Days after the sale day an invoice is due; 0 for the same day."),
      h("div", { class: "field" }, h("label", { class: "check" }, farmerCharges, "Charges may be deducted from farmers"), h("p", { class: "hint" }, "Off where the market forbids charging farmers: a bill with farmer-side charges is then refused.")),
    ),
    h("div", { class: "actions au-settings-actions" }, submit, status),
  );

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    clearFormErrors(form);
    const body: Record<string, unknown> = {};
    const r = numeric(rate.value);
    if (r !== s.commission_rate) body.commission_rate = r ?? null;
    if (payer.value !== s.commission_payer) body.commission_payer = payer.value;
    if (terms.value !== s.payment_terms) body.payment_terms = terms.value;
    const c = numeric(credit.value);
    if (c !== s.buyer_credit_days) body.buyer_credit_days = c ?? null;
    const profile: Record<string, unknown> = {};
    const m = numeric(cap.value) ?? null;
    if (m !== s.profile.max_commission_rate) profile.max_commission_rate = m;
    if (farmerCharges.checked !== s.profile.farmer_charges_allowed) profile.farmer_charges_allowed = farmerCharges.checked;
    if (Object.keys(profile).length) body.profile = profile;
    if (hasName && business.value.trim() !== (s.business_name ?? "")) body.business_name = business.value.trim() || null;
    status.textContent = "";
    if (!Object.keys(body).length) {
      status.textContent = "Nothing changed.";
      return;
    }
    void busy(submit, async () => {
      try {
        s = await put<Settings>("/api/settings", body);
        if ("business_name" in s) setBusinessName(s.business_name ?? null);
        status.textContent = "✓ Saved: new bills and invoices follow these settings.";
      } catch (err) {
        if (err instanceof ApiError && !Object.keys(err.fields).length) {
          // A rule on the body as a whole ("commission_rate may not be null"): name the field.
          const details = (err.body as { error?: { details?: { msg?: string }[] } } | null)?.error?.details;
          const msg = (details?.[0]?.msg ?? "").replace(/^Value error, /, "");
          const field = ["commission_rate", "buyer_credit_days", "commission_payer", "payment_terms"].find((f) => msg.includes(f));
          if (field) err.fields = { [field]: "Required" };
        }
        formErrors(form, err instanceof Error ? err : new Error(String(err)));
      }
    });
  });
  main.append(form);
  rate.focus();
}

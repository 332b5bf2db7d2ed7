// The auction API's shapes as the screens use them (services/auction/auction_service/*/schemas.py).
// Ids are strings; money, quantities and rates are JSON numbers; timestamps ISO 8601 UTC.

export const UNITS = ["KG", "QUINTAL", "TONNE", "BAG", "BOX", "CRATE", "DOZEN", "PIECE"] as const;
export type Unit = (typeof UNITS)[number];
export const METHODS = ["CASH", "UPI", "BANK", "CHEQUE"] as const;
export type Method = (typeof METHODS)[number];
export type PaymentStatus = "UNPAID" | "PARTIAL" | "PAID";
export type DocStatus = "ACTIVE" | "VOID";
export type SessionStatus = "ACTIVE" | "COMPLETED";
export type Payer = "FARMER" | "BUYER";

export interface Envelope<T> {
  success: true;
  data: T;
  meta: { timestamp: string };
}

export interface ListMeta {
  timestamp: string;
  page: number;
  limit: number;
  total: number;
  totalPages: number;
}

export interface ListEnvelope<T> {
  success: true;
  data: T[];
  meta: ListMeta;
}

export interface Category {
  id: string;
  name: string;
}

export interface Farmer {
  id: string;
  name: string;
  phone: string | null;
  village: string | null;
  active: boolean;
}

export interface Buyer {
  id: string;
  name: string;
  phone: string | null;
  active: boolean;
}

export interface Product {
  id: string;
  name: string;
  category_id: string;
  active: boolean;
  category: Category;
}

export interface Charge {
  id: string;
  name: string;
  kind: "PERCENT" | "PER_UNIT" | "FIXED_PER_LOT";
  rate: number;
  unit: Unit | null;
  payer: Payer;
  active: boolean;
  account: "AGENT" | "MARKET_YARD" | "THIRD_PARTY";
}

export interface SessionOut {
  id: string;
  date: string;
  status: SessionStatus;
  created_at: string;
  updated_at: string;
  _count: { auction_items: number; bills: number };
}

export interface ItemBill {
  id: string;
  bill_number: string;
  payment_status: PaymentStatus;
  status: DocStatus;
}

export interface Item {
  id: string;
  session_id: string;
  farmer_id: string;
  product_id: string;
  buyer_id: string;
  unit: Unit;
  quantity: number;
  final_price: number;
  bill_id: string | null;
  invoice_id: string | null;
  created_at: string;
  updated_at: string;
  farmer: Farmer;
  product: Product;
  buyer: Buyer;
  bill: ItemBill | null;
}

export interface ProductSummary {
  product_id: string;
  product_name: string;
  category_name: string;
  items_count: number;
  amount: number;
  quantity_by_unit: Record<string, number>;
}

export interface SessionSummary {
  total_items: number;
  total_amount: number;
  total_commission: number;
  billed_amount: number;
  unbilled_amount: number;
  billed_items: number;
  unbilled_items: number;
  quantity_by_unit: Record<string, number>;
  farmers_count: number;
  buyers_count: number;
  products: ProductSummary[];
}

export interface ChargeLine {
  type: "COMMISSION" | "CHARGE";
  charge_id: string | null;
  name: string;
  kind: Charge["kind"];
  unit: Unit | null;
  basis: number;
  rate: number;
  amount: number;
  account?: Charge["account"];
}

export interface Payment {
  id: string;
  amount: number;
  method: Method;
  note: string | null;
  reference: string | null;
  created_at: string;
}

export interface Bill {
  id: string;
  bill_number: string;
  session_id: string;
  farmer_id: string;
  total_amount: number;
  commission_rate: number;
  commission_amount: number;
  commission_payer: Payer;
  charges_amount: number;
  deductions_amount: number;
  net_amount: number;
  paid_amount: number;
  balance_amount: number;
  payment_status: PaymentStatus;
  status: DocStatus;
  due_at: string;
  overdue: boolean;
  created_at: string;
  farmer: { id: string; name: string; phone: string | null; village: string | null };
  bill_items: {
    id: string;
    auction_item_id: string;
    product_name: string;
    unit: Unit;
    quantity: number;
    amount: number;
  }[];
  charges: ChargeLine[];
  payments: Payment[];
  verification_code: string;
}

export interface Invoice {
  id: string;
  invoice_number: string;
  session_id: string;
  buyer_id: string;
  lots_amount: number;
  charges_amount: number;
  commission_rate: number;
  commission_amount: number;
  total_amount: number;
  collected_amount: number;
  balance_amount: number;
  collection_status: PaymentStatus;
  status: DocStatus;
  due_date: string;
  overdue: boolean;
  created_at: string;
  buyer: { id: string; name: string; phone: string | null };
  invoice_items: {
    id: string;
    auction_item_id: string;
    product_name: string;
    farmer_id: string;
    unit: Unit;
    quantity: number;
    price: number;
    amount: number;
  }[];
  charges: ChargeLine[];
  collections: Payment[];
}

export interface SessionDetail extends SessionOut {
  auction_items: Item[];
  bills: Bill[];
  summary: SessionSummary;
}

export interface Settings {
  commission_rate: number;
  commission_payer: Payer;
  payment_terms: "SAME_DAY" | "WITHIN_24_HOURS" | "WITHIN_48_HOURS" | "WITHIN_72_HOURS";
  buyer_credit_days: number;
  profile: { max_commission_rate: number | null; farmer_charges_allowed: boolean };
  /** Not in every version of the API: shown only when the API sends it. */
  business_name?: string | null;
}

export interface LedgerEntry {
  seq: number;
  at: string;
  kind: string;
  party_type: "FARMER" | "BUYER";
  party_id: string;
  document_id: string;
  document_number: string;
  amount: number;
  payload: Record<string, unknown>;
  hash: string;
  balance?: number;
}

export interface DayBookEnvelope {
  success: true;
  data: LedgerEntry[];
  meta: ListMeta & {
    day: string;
    totals: { kind: string; count: number; amount: number }[];
    net_amount: number;
  };
}

export interface Outstanding {
  party_type: "FARMER" | "BUYER";
  document_id: string;
  document_number: string;
  date: string;
  farmer: { id: string; name: string; village: string | null } | null;
  buyer: { id: string; name: string } | null;
  net_amount: number;
  paid_amount: number;
  outstanding_amount: number;
  due_at: string;
  due_date: string | null;
  overdue: boolean;
}

export interface CommissionFigures {
  lots_count: number;
  lots_amount: number;
  bills_count: number;
  billed_amount: number;
  invoices_count: number;
  invoiced_amount: number;
  farmer_commission: number;
  buyer_commission: number;
  commission: number;
  agent_charges: number;
  income: number;
}

export interface CommissionReport {
  from_date: string;
  to_date: string;
  days: (CommissionFigures & { day: string })[];
  totals: CommissionFigures;
}

export interface MarketFeeEnvelope {
  success: true;
  data: unknown[];
  meta: ListMeta & {
    from_date: string;
    to_date: string;
    days: {
      day: string;
      lots_count: number;
      lots_amount: number;
      farmer_paid_fee: number;
      buyer_paid_fee: number;
      market_fee: number;
    }[];
    totals: { lots_count: number; lots_amount: number; market_fee: number };
  };
}

export interface Verify {
  valid: boolean;
  entries: number;
  head_hash: string;
  first_broken_seq: number | null;
  reason: string | null;
}

// The trading service's bodies, as services/trading/trading_service/*/schemas.py send them.

export type Timeframe = "M1" | "M5" | "M10" | "M15" | "M30" | "H1" | "H2" | "H4" | "D1" | "W1";
export type Speed = "0.5x" | "1x" | "2x" | "3x" | "5x" | "10x" | "15x";
export type SessionStatus = "DRAFT" | "RUNNING" | "PAUSED" | "COMPLETED" | "ARCHIVED";
export type Side = "BUY" | "SELL";

export const TIMEFRAMES: Timeframe[] = ["M1", "M5", "M10", "M15", "M30", "H1", "H2", "H4", "D1", "W1"];
export const SPEEDS: Speed[] = ["0.5x", "1x", "2x", "3x", "5x", "10x", "15x"];

export const TIMEFRAME_SECONDS: Record<Timeframe, number> = {
  M1: 60,
  M5: 300,
  M10: 600,
  M15: 900,
  M30: 1800,
  H1: 3600,
  H2: 7200,
  H4: 14400,
  D1: 86400,
  W1: 604800,
};

export interface Session {
  id: number;
  user_id: number;
  instrument_id: number;
  timeframe: Timeframe;
  session_status: SessionStatus;
  speed: Speed;
  start_ts: string;
  end_ts: string | null;
  initial_balance: number;
  leverage: number;
  spread_pts: number;
  slippage_pts: number;
  commission_per_fill: number;
  created_at: string;
  updated_at: string;
  current_ts: string | null;
}

export interface SessionList {
  sessions: Session[];
  total: number;
  page: number;
  limit: number;
}

export interface Instrument {
  id: number;
  symbol: string;
  description: string;
  digits: number;
  point: number;
  contract_size: number;
  min_volume: number;
  volume_step: number;
  max_volume: number;
  base_timeframe: Timeframe;
}

export interface InstrumentList {
  instruments: Instrument[];
  total: number;
  page: number;
  limit: number;
}

export interface Candle {
  ts: string;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
}

export interface SessionCandles {
  session_id: number;
  instrument_id: number;
  timeframe: Timeframe;
  current_ts: string | null;
  candles: Candle[];
}

export interface Position {
  id: number;
  session_id: number;
  side: Side;
  volume: number;
  open_price: number;
  open_ts: string;
  stop_loss: number | null;
  take_profit: number | null;
  status: "OPEN" | "CLOSED";
  close_price: number | null;
  close_ts: string | null;
  close_reason: "MANUAL" | "STOP_LOSS" | "TAKE_PROFIT" | "STOP_OUT" | "SESSION_END" | null;
  commission: number;
  profit: number;
  net_profit: number;
  margin: number;
  ambiguous: boolean;
  parent_id: number | null;
  order_id: number | null;
}

export interface PositionList {
  positions: Position[];
  total: number;
  page: number;
  limit: number;
}

export interface Order {
  id: number;
  session_id: number;
  type: "LIMIT" | "STOP";
  side: Side;
  volume: number;
  price: number;
  stop_loss: number | null;
  take_profit: number | null;
  status: "PENDING" | "FILLED" | "CANCELLED" | "REJECTED";
  placed_ts: string;
  position_id: number | null;
  filled_price: number | null;
  filled_ts: string | null;
  reason: string | null;
}

export interface OrderList {
  orders: Order[];
  total: number;
  page: number;
  limit: number;
}

export interface Account {
  session_id: number;
  current_ts: string | null;
  balance: number;
  equity: number;
  unrealized_profit: number;
  used_margin: number;
  free_margin: number;
  margin_level: number | null;
  open_positions: number;
  pending_orders: number;
}

export interface Report {
  id: number;
  session_id: number;
  replay_ts: string;
  created_at: string;
  stats: Record<string, number | string | null>;
  trades_csv: string;
  equity_svg: string;
}

export interface ReportList {
  reports: Report[];
  total: number;
  page: number;
  limit: number;
}

/** The stream's `state`/`status` payload. */
export interface StreamState {
  session_id: number;
  session_status: SessionStatus;
  current_ts: string | null;
  speed: Speed;
  timeframe: Timeframe;
}

/** The stream's `fill` payload. */
export interface Fill {
  id: number;
  position_id: number | null;
  order_id: number | null;
  kind: "OPEN" | "CLOSE" | "PARTIAL_CLOSE" | "ORDER_FILLED" | "ORDER_REJECTED";
  reason: string | null;
  price: number;
  volume: number;
  ts: string;
  bar_ts: string;
}

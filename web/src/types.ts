/** Shapes of the API contract (/work/shared/spec/api.md) the dashboard reads. Decimals are strings. */

export type Side = "buy" | "sell";
export type OrderType = "limit" | "market" | "stop_limit" | "stop_market";
export type TimeInForce = "GTC" | "IOC" | "FOK" | "GTD";
export type OrderStatus = "untriggered" | "open" | "partially_filled" | "filled" | "cancelled" | "expired";

export interface Asset {
  asset: string;
  precision: number;
}

export interface Market {
  symbol: string;
  base: string;
  quote: string;
  tickSize: string;
  lotSize: string;
  minQuantity: string;
  maxQuantity: string;
  minNotional: string;
  makerFeeBps: number;
  takerFeeBps: number;
}

export type Level = [price: string, quantity: string];

export interface BookSnapshot {
  symbol: string;
  sequence: number;
  bids: Level[];
  asks: Level[];
}

export interface Trade {
  tradeId: string;
  price: string;
  quantity: string;
  takerSide: Side;
  time: number;
}

export interface Ticker {
  symbol: string;
  last: string | null;
  bestBid: string | null;
  bestAsk: string | null;
  volume24h: string;
  high24h: string | null;
  low24h: string | null;
  time: number | null;
}

export interface Candle {
  time: number;
  open: string;
  high: string;
  low: string;
  close: string;
  volume: string;
}

export interface Fill {
  tradeId: string;
  price: string;
  quantity: string;
  fee: string;
  feeAsset: string;
  liquidity: "maker" | "taker";
  time: number;
}

export interface AccountFill extends Fill {
  orderId: string;
  symbol: string;
  side: Side;
}

export interface Order {
  orderId: string;
  clientOrderId?: string;
  accountId: string;
  symbol: string;
  side: Side;
  type: OrderType;
  timeInForce: TimeInForce;
  price?: string;
  stopPrice?: string;
  quantity: string;
  quoteQuantity?: string;
  filledQuantity: string;
  remainingQuantity: string;
  averagePrice?: string;
  status: OrderStatus;
  postOnly?: boolean;
  expireTime?: number;
  createdAt: number;
  updatedAt: number;
  fills: Fill[];
}

export interface Balance {
  asset: string;
  available: string;
  locked: string;
}

export interface PlaceOrder {
  symbol: string;
  side: Side;
  type: OrderType;
  price?: string;
  stopPrice?: string;
  quantity?: string;
  quoteQuantity?: string;
  timeInForce?: TimeInForce;
  expireTime?: number;
  postOnly?: boolean;
  clientOrderId?: string;
}

/** Messages the server pushes on the WebSocket. */
export type ServerPush =
  | ({ channel: "book"; type: "snapshot" | "update" } & BookSnapshot)
  | { channel: "trades"; symbol: string; trades: Trade[] }
  | ({ channel: "ticker" } & Ticker)
  | { channel: "orders"; accountId: string; order: Order }
  | { channel: "balances"; type: "snapshot"; accountId: string; balances: Balance[] }
  | { channel: "balances"; type?: undefined; accountId: string; balance: Balance };

export function isOpenStatus(status: OrderStatus): boolean {
  return status === "open" || status === "partially_filled" || status === "untriggered";
}

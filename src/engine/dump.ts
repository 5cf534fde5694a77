/**
 * A canonical, JSON-friendly picture of the whole engine state, for tests: the fast engine and the
 * reference model each produce one, and the differential test compares them. Amounts are strings so
 * that bigint values survive JSON.
 */
import type { OrderStatus, OrderType, SelfTradePrevention, Side, TimeInForce } from "./types.js";

export interface OrderDump {
  orderId: number;
  accountId: number;
  symbol: string;
  side: Side;
  orderType: OrderType;
  timeInForce: TimeInForce;
  price: number;
  stopPrice: number;
  quantity: number;
  filledQuantity: number;
  filledNotional: string;
  quoteQuantity: string;
  /** Amount still locked for this order (quote asset for buys, base for sells). */
  hold: string;
  status: OrderStatus;
  postOnly: boolean;
  expireTime: number;
  clientOrderId: string;
  selfTradePrevention: SelfTradePrevention;
  createdAt: number;
}

export interface MarketDump {
  symbol: string;
  lastPrice: number;
  /** Best first: [price, orderIds in time priority]. */
  bids: [number, number[]][];
  asks: [number, number[]][];
  /** Untriggered stop orders, by orderId. */
  stops: number[];
}

export interface EngineDump {
  lastSeq: number;
  time: number;
  nextAccountId: number;
  nextOrderId: number;
  nextTradeId: number;
  /** Every account by id; balances[assetIndex] = [available, locked]. */
  accounts: { accountId: number; balances: [string, string][] }[];
  /** Every open or untriggered order, by orderId. */
  orders: OrderDump[];
  markets: MarketDump[];
}

/** What both the fast engine and the reference model offer to the shared test suites. */
export interface EngineModel {
  apply(command: import("./types.js").Command, out: import("./types.js").EngineEvent[]): void;
  dump(): EngineDump;
}

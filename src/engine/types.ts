/**
 * Commands in, events out: the whole surface of the engine.
 *
 * Units: prices are integers in ticks of the market, quantities integers in lots of the market,
 * amounts (deposits, quoteQuantity, balances, fees) integers in the asset's smallest unit. The
 * gateway turns the API's decimal strings into these (src/engine/decimal.ts), so the engine never
 * parses text and the journal stores compact integers.
 *
 * Optional fields are encoded as 0 / "" rather than left out, so that every command and event of
 * a type has one shape (V8 keeps such objects monomorphic, and the binary codecs stay fixed-width).
 */
import type { EngineCode } from "./codes.js";
import type { Int } from "./int.js";

export type Side = "buy" | "sell";
export type OrderType = "limit" | "market" | "stop_limit" | "stop_market";
export type TimeInForce = "GTC" | "IOC" | "FOK" | "GTD";
export type SelfTradePrevention = "cancel_taker" | "cancel_maker" | "cancel_both";
export type OrderStatus = "untriggered" | "open" | "partially_filled" | "filled" | "cancelled" | "expired";

/** Given by the sequencer before the engine sees a command; the engine never reads a clock. */
interface Stamped {
  /** Journal sequence number, strictly increasing. */
  seq: number;
  /** Exchange time in ms since the Unix epoch, never decreasing. */
  time: number;
}

export interface CreateAccountCommand extends Stamped {
  type: "create_account";
  /** Opaque to the engine, kept with the account so that they are as durable as its balances. */
  name?: string;
  /** The API key that authenticates the account ("" or absent: none). */
  apiKey?: string;
  /** The API secret sealed by the gateway (encrypted with the master key); never plain text. */
  sealedSecret?: string;
}

export interface TransferCommand extends Stamped {
  type: "deposit" | "withdraw";
  accountId: number;
  asset: string;
  /** Smallest units of the asset, > 0. */
  amount: Int;
  transferId: string;
}

export interface PlaceOrderCommand extends Stamped {
  type: "place";
  accountId: number;
  symbol: string;
  side: Side;
  orderType: OrderType;
  /** Limit price in ticks; 0 for market and stop_market. */
  price: number;
  /** Trigger price in ticks for stop orders; 0 otherwise. */
  stopPrice: number;
  /** Lots; 0 when a market buy gives quoteQuantity instead. */
  quantity: number;
  /** Quote-asset units: the notional budget of a market buy; 0 otherwise. */
  quoteQuantity: Int;
  timeInForce: TimeInForce;
  /** ms; GTD only, 0 otherwise. */
  expireTime: number;
  postOnly: boolean;
  /** "" when none. */
  clientOrderId: string;
  selfTradePrevention: SelfTradePrevention;
}

export interface CancelOrderCommand extends Stamped {
  type: "cancel";
  accountId: number;
  orderId: number;
}

export interface CancelAllCommand extends Stamped {
  type: "cancel_all";
  accountId: number;
  /** "" cancels the account's open orders in every market. */
  symbol: string;
}

export interface AmendOrderCommand extends Stamped {
  type: "amend";
  accountId: number;
  orderId: number;
  /** New total quantity in lots (filled part included); 0 keeps it. */
  quantity: number;
  /** New limit price in ticks; 0 keeps it. */
  price: number;
}

/** Advances exchange time with no other effect, so that GTD orders expire without other traffic. */
export interface TickCommand extends Stamped {
  type: "tick";
}

export type Command =
  | CreateAccountCommand
  | TransferCommand
  | PlaceOrderCommand
  | CancelOrderCommand
  | CancelAllCommand
  | AmendOrderCommand
  | TickCommand;

/** Why an order changed, carried by every order event. */
export type OrderReason =
  | "placed" // accepted (resting, untriggered or about to trade)
  | "triggered" // a stop order became a limit/market order
  | "traded" // a fill changed it
  | "amended"
  | "cancelled" // by its owner (cancel, cancel_all)
  | "self_trade" // self-trade prevention ended it
  | "expired_ioc" // IOC remainder, market order the book could not fill
  | "expired_fok" // FOK that could not fill whole
  | "expired_gtd" // expireTime reached
  | "insufficient_funds" // a stop-market buy that could not pay at trigger time
  | "fill_limit"; // limits.fillsPerOrderMax reached

/** The state of one order after a change: enough for an API reply without asking the engine. */
export interface OrderEvent extends Stamped {
  type: "order";
  reason: OrderReason;
  orderId: number;
  accountId: number;
  symbol: string;
  side: Side;
  orderType: OrderType;
  timeInForce: TimeInForce;
  price: number;
  stopPrice: number;
  /** Lots, the order's total (0 for a market buy by quoteQuantity). */
  quantity: number;
  filledQuantity: number;
  /** Quote units spent or received by fills, fees excluded: averagePrice = filledNotional / filledQuantity. */
  filledNotional: Int;
  quoteQuantity: Int;
  status: OrderStatus;
  postOnly: boolean;
  expireTime: number;
  clientOrderId: string;
  selfTradePrevention: SelfTradePrevention;
  createdAt: number;
}

export interface TradeEvent extends Stamped {
  type: "trade";
  tradeId: number;
  symbol: string;
  /** Ticks: the resting (maker) order's price. */
  price: number;
  /** Lots. */
  quantity: number;
  /** Quote units: price × quantity. */
  notional: Int;
  takerSide: Side;
  takerOrderId: number;
  takerAccountId: number;
  makerOrderId: number;
  makerAccountId: number;
  /** Quote units, each rounded up. */
  takerFee: Int;
  makerFee: Int;
}

/** Final balance of an (account, asset) after a command that changed it; one per pair per command. */
export interface BalanceEvent extends Stamped {
  type: "balance";
  accountId: number;
  asset: string;
  available: Int;
  locked: Int;
}

export interface AccountCreatedEvent extends Stamped {
  type: "account_created";
  accountId: number;
}

export interface TransferEvent extends Stamped {
  type: "transfer";
  kind: "deposit" | "withdraw";
  accountId: number;
  asset: string;
  amount: Int;
  transferId: string;
  /** A repeat of a transferId already applied: nothing moved. */
  duplicate: boolean;
}

export interface RejectedEvent extends Stamped {
  type: "rejected";
  command: Command["type"];
  code: EngineCode;
  accountId: number;
  /** The order the command named (cancel, amend), 0 otherwise. */
  orderId: number;
  clientOrderId: string;
}

/** A place command whose clientOrderId the account already used: nothing was created. */
export interface DuplicateOrderEvent extends Stamped {
  type: "duplicate_order";
  accountId: number;
  orderId: number;
  clientOrderId: string;
}

export type EngineEvent =
  | OrderEvent
  | TradeEvent
  | BalanceEvent
  | AccountCreatedEvent
  | TransferEvent
  | RejectedEvent
  | DuplicateOrderEvent;

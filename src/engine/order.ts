/**
 * An order the engine holds (open, partially filled or untriggered). Closed orders are dropped: the
 * events carry their final state to the API and history.
 *
 * Orders link into two intrusive doubly-linked lists: their price level's queue (time priority) and
 * their account's open orders (orderId order, for cancel_all). Intrusive links make cancel, amend and
 * fill O(1) and cost two pointers instead of a Set entry.
 */
import type { Account } from "./account.js";
import type { Level } from "./book.js";
import type { Int } from "./int.js";
import type { MarketState } from "./market-state.js";
import type { OrderStatus, OrderType, SelfTradePrevention, Side, TimeInForce } from "./types.js";

export class Order {
  /** Lots filled so far. */
  filled = 0;
  /** Quote units of all fills, fees excluded. */
  filledNotional: Int = 0;
  /** Amount still locked for this order: quote asset for buys, base asset for sells. */
  hold: Int = 0;
  status: OrderStatus = "open";
  level: Level | null = null;
  prev: Order | null = null;
  next: Order | null = null;
  accountPrev: Order | null = null;
  accountNext: Order | null = null;

  constructor(
    readonly id: number,
    readonly account: Account,
    readonly market: MarketState,
    readonly side: Side,
    readonly type: OrderType,
    readonly timeInForce: TimeInForce,
    /** Limit price in ticks; 0 for market orders. */
    public price: number,
    readonly stopPrice: number,
    /** Total lots, filled part included; 0 for a market buy by quoteQuantity. */
    public quantity: number,
    readonly quoteQuantity: Int,
    readonly postOnly: boolean,
    readonly expireTime: number,
    readonly clientOrderId: string,
    readonly selfTradePrevention: SelfTradePrevention,
    readonly createdAt: number,
  ) {}

  get remaining(): number {
    return this.quantity - this.filled;
  }
}

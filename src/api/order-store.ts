/**
 * The API's durable view of orders, fills and balances, fed only by durable events (the pipeline's
 * onDurable), so that no query shows the effect of a command that is not yet durable.
 *
 * The engine forgets an order when it closes; the API must still answer GET /v1/orders/{id}, ORDER_CLOSED
 * and an order's fills. So this store keeps every open order, plus every order among the newest
 * apiLimits.recentOrdersKeptMax by id, open or closed, each with its newest fills
 * (apiLimits.fillsPerOrderKeptMax), and the newest trades of all markets (apiLimits.recentTradesKeptMax)
 * for GET /v1/fills until the history store (issue #5) serves it.
 *
 * At start it is seeded from the recovered engine: open orders come back with their state, but not
 * with the fills they had before the restart (the history store will give those).
 */
import type { EngineDump, OrderDump } from "../engine/dump.js";
import { type Int, normalize } from "../engine/int.js";
import type { BalanceEvent, EngineEvent, OrderEvent, TradeEvent } from "../engine/types.js";
import { apiLimits } from "./limits.js";

/** One side of a trade: the trade and the order of the account that took part. */
export interface FillRecord {
  readonly trade: TradeEvent;
  readonly orderId: number;
}

export interface OrderRecord {
  /** The order's latest state. */
  order: OrderEvent;
  updatedAt: number;
  /** The order's trades, oldest first; at most fillsPerOrderKeptMax, the newest kept. */
  fills: TradeEvent[];
}

export function isClosed(order: OrderEvent): boolean {
  const s = order.status;
  return s === "filled" || s === "cancelled" || s === "expired";
}

export function isOpen(order: OrderEvent): boolean {
  return order.status === "open" || order.status === "partially_filled";
}

export class OrderStore {
  /**
   * The newest `windowSize` orders by id (ids are given in acceptance order), in a ring indexed by
   * orderId % windowSize: an order is remembered, open or closed, until windowSize newer orders have
   * been accepted. A ring rather than a Map because under load the store turns over its whole content
   * every few seconds, and a Map of 100,000 entries with that churn rehashes, and keeps deleted
   * entries at the front of its table, at a measured cost of a quarter of the CPU of order entry.
   */
  private readonly window: (OrderRecord | undefined)[];
  /** Open orders older than the window: kept until they close, then forgotten. */
  private readonly older = new Map<number, OrderRecord>();
  /** Per account: its open and untriggered orders. */
  private readonly liveByAccount = new Map<number, Map<number, OrderRecord>>();
  /**
   * The newest trades of every market, a ring: GET /v1/fills scans it for the account's side of each
   * (one bound for all accounts together, and no per-fill allocation: the engine's trade events are kept
   * as they are). The history store (issue #5) takes over /v1/fills for anything older.
   */
  private readonly trades: (TradeEvent | undefined)[];
  private tradesNext = 0;
  private openGtd = 0;

  constructor(
    private readonly windowSize: number = apiLimits.recentOrdersKeptMax,
    private readonly fillsPerOrderMax: number = apiLimits.fillsPerOrderKeptMax,
    private readonly tradesMax: number = apiLimits.recentTradesKeptMax,
  ) {
    this.window = new Array<OrderRecord | undefined>(windowSize).fill(undefined);
    this.trades = new Array<TradeEvent | undefined>(tradesMax).fill(undefined);
  }

  get(orderId: number): OrderRecord | undefined {
    const r = this.window[orderId % this.windowSize];
    if (r !== undefined && r.order.orderId === orderId) return r;
    return this.older.get(orderId);
  }

  /** Orders of one account the store knows, open ones first: all its open ones, and its recent closed ones. */
  *ofAccount(accountId: number): Generator<OrderRecord> {
    const live = this.liveByAccount.get(accountId);
    if (live !== undefined) yield* live.values();
    for (const r of this.window) {
      if (r !== undefined && r.order.accountId === accountId && isClosed(r.order)) yield r;
    }
  }

  /** Only the account's open and untriggered orders (no scan of the window). */
  liveOf(accountId: number): Iterable<OrderRecord> {
    return this.liveByAccount.get(accountId)?.values() ?? [];
  }

  /** The account's fills among the newest trades, newest first. */
  *fillsOf(accountId: number): Generator<FillRecord> {
    const n = this.tradesMax;
    for (let k = 1; k <= n; k++) {
      const t = this.trades[(this.tradesNext - k + n) % n];
      if (t === undefined) return;
      if (t.takerAccountId === accountId) yield { trade: t, orderId: t.takerOrderId };
      else if (t.makerAccountId === accountId) yield { trade: t, orderId: t.makerOrderId };
    }
  }

  apply(events: readonly EngineEvent[]): void {
    for (let i = 0; i < events.length; i++) {
      const e = events[i]!;
      if (e.type === "order") this.onOrder(e);
      else if (e.type === "trade") this.onTrade(e);
    }
  }

  private onOrder(e: OrderEvent): void {
    let record = this.get(e.orderId);
    const closed = isClosed(e);
    if (e.timeInForce === "GTD") {
      const wasLive = record !== undefined && !isClosed(record.order);
      if (!closed && !wasLive) this.openGtd++;
      else if (wasLive && closed) this.openGtd--;
    }
    if (record === undefined) {
      record = { order: e, updatedAt: e.time, fills: [] };
      this.remember(record);
    } else {
      record.order = e;
      record.updatedAt = e.time;
    }
    let live = this.liveByAccount.get(e.accountId);
    if (closed) {
      if (live?.delete(e.orderId) && live.size === 0) this.liveByAccount.delete(e.accountId);
      this.older.delete(e.orderId);
    } else {
      if (live === undefined) this.liveByAccount.set(e.accountId, (live = new Map()));
      live.set(e.orderId, record);
    }
  }

  /** Puts a new record in its window slot; the slot's previous order leaves the window (kept if open). */
  private remember(record: OrderRecord): void {
    const slot = record.order.orderId % this.windowSize;
    const previous = this.window[slot];
    if (previous !== undefined && previous.order.orderId > record.order.orderId) {
      // An order older than the slot's (seeding after a restart): it never enters the window.
      if (!isClosed(record.order)) this.older.set(record.order.orderId, record);
      return;
    }
    if (previous !== undefined && !isClosed(previous.order)) this.older.set(previous.order.orderId, previous);
    this.window[slot] = record;
  }

  private onTrade(t: TradeEvent): void {
    this.addFill(t.takerOrderId, t);
    this.addFill(t.makerOrderId, t);
    this.trades[this.tradesNext] = t;
    this.tradesNext = (this.tradesNext + 1) % this.tradesMax;
  }

  private addFill(orderId: number, t: TradeEvent): void {
    const record = this.get(orderId);
    if (record === undefined) return;
    record.fills.push(t);
    if (record.fills.length > this.fillsPerOrderMax) record.fills.shift();
  }

  /** Seeds the store with the open and untriggered orders of a recovered engine. */
  seed(dump: EngineDump): void {
    for (const o of dump.orders) this.onOrder(eventOf(o, dump.time));
  }

  /** Open or untriggered GTD orders: while there are any, the node advances exchange time (tick). */
  get gtdOrders(): number {
    return this.openGtd;
  }
}

/** An engine order as the `order` event that would describe it now. */
function eventOf(o: OrderDump, time: number): OrderEvent {
  return {
    type: "order",
    seq: 0,
    time,
    reason: "placed",
    orderId: o.orderId,
    accountId: o.accountId,
    symbol: o.symbol,
    side: o.side,
    orderType: o.orderType,
    timeInForce: o.timeInForce,
    price: o.price,
    stopPrice: o.stopPrice,
    quantity: o.quantity,
    filledQuantity: o.filledQuantity,
    filledNotional: normalize(BigInt(o.filledNotional)),
    quoteQuantity: normalize(BigInt(o.quoteQuantity)),
    status: o.status,
    postOnly: o.postOnly,
    expireTime: o.expireTime,
    clientOrderId: o.clientOrderId,
    selfTradePrevention: o.selfTradePrevention,
    createdAt: o.createdAt,
  };
}

/** Balances per account and asset index, from balance events only (durable by construction). */
export class BalanceView {
  private readonly available: Int[][] = [];
  private readonly locked: Int[][] = [];
  private accountCount = 0;
  private readonly assetIndex: ReadonlyMap<string, number>;

  constructor(private readonly assets: readonly string[]) {
    this.assetIndex = new Map(assets.map((a, i) => [a, i]));
  }

  /** Accounts 0 … count-1 exist (0 is the fee account). */
  get accounts(): number {
    return this.accountCount;
  }

  has(accountId: number): boolean {
    return accountId >= 0 && accountId < this.accountCount;
  }

  seed(dump: EngineDump): void {
    this.accountCount = dump.accounts.length;
    for (const account of dump.accounts) {
      this.available[account.accountId] = account.balances.map(([available]) => normalize(BigInt(available)));
      this.locked[account.accountId] = account.balances.map(([, locked]) => normalize(BigInt(locked)));
    }
  }

  apply(events: readonly EngineEvent[]): void {
    for (let i = 0; i < events.length; i++) {
      const e = events[i]!;
      if (e.type === "balance") this.onBalance(e);
      else if (e.type === "account_created") this.onCreated(e.accountId);
    }
  }

  private onCreated(accountId: number): void {
    if (accountId >= this.accountCount) this.accountCount = accountId + 1;
    if (this.available[accountId] === undefined) {
      this.available[accountId] = new Array<Int>(this.assets.length).fill(0);
      this.locked[accountId] = new Array<Int>(this.assets.length).fill(0);
    }
  }

  private onBalance(e: BalanceEvent): void {
    this.onCreated(e.accountId);
    const asset = this.assetIndex.get(e.asset)!;
    this.available[e.accountId]![asset] = e.available;
    this.locked[e.accountId]![asset] = e.locked;
  }

  /** [asset, available, locked] per asset, in configuration order; undefined for an unknown account. */
  of(accountId: number): { asset: string; available: Int; locked: Int }[] | undefined {
    if (!this.has(accountId)) return undefined;
    const available = this.available[accountId]!;
    const locked = this.locked[accountId]!;
    return this.assets.map((asset, i) => ({ asset, available: available[i]!, locked: locked[i]! }));
  }
}

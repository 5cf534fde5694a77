/**
 * The WebSocket `orders` and `balances` channels, built from durable events only for accounts that
 * have a subscriber. MarketData can build these messages itself (`accountMessages`), but for every
 * order of every account, subscribed or not: measured under order-entry load, formatting those views
 * and collecting them cost ~10% of the main thread plus their garbage. So the node runs MarketData
 * with `accountMessages: false` and routes here, with the same semantics (docs/marketdata.md,
 * "messages"): per command, one `orders` message per order it changed (final state, with the fills
 * of that command), in order of first appearance, then one `balances` message per balance event.
 * Formatting stays in src/marketdata/views.ts. If MarketData gains a per-account filter, this file
 * can go.
 */
import type { BalanceEvent, EngineEvent, OrderEvent, TradeEvent } from "../engine/types.js";
import type { BalanceView, OrderView, Views } from "../marketdata/views.js";

export type AccountMessage =
  | { channel: "orders"; accountId: number; order: OrderView }
  | { channel: "balances"; accountId: number; balance: BalanceView };

interface Pending {
  orderId: number;
  event: OrderEvent | null;
  trades: TradeEvent[];
}

export class AccountFeed {
  private readonly pendingById = new Map<number, Pending>();
  private readonly pending: Pending[] = [];
  private readonly balances: BalanceEvent[] = [];

  constructor(
    private readonly views: Views,
    /** True when someone listens to this account's `orders` channel. */
    private readonly wantsOrders: (accountId: number) => boolean,
    /** True when someone listens to this account's `balances` channel. */
    private readonly wantsBalances: (accountId: number) => boolean,
  ) {}

  /** Messages of whole commands' events, for subscribed accounts only. */
  messages(events: readonly EngineEvent[]): AccountMessage[] {
    const out: AccountMessage[] = [];
    let seq = Number.NaN;
    for (let i = 0; i < events.length; i++) {
      const e = events[i]!;
      if (e.seq !== seq) {
        this.flush(out);
        seq = e.seq;
      }
      if (e.type === "order") {
        if (this.wantsOrders(e.accountId)) this.pendingOf(e.orderId).event = e;
      } else if (e.type === "trade") {
        if (this.wantsOrders(e.takerAccountId)) this.pendingOf(e.takerOrderId).trades.push(e);
        if (this.wantsOrders(e.makerAccountId)) this.pendingOf(e.makerOrderId).trades.push(e);
      } else if (e.type === "balance") {
        if (this.wantsBalances(e.accountId)) this.balances.push(e);
      }
    }
    this.flush(out);
    return out;
  }

  private pendingOf(orderId: number): Pending {
    let p = this.pendingById.get(orderId);
    if (p === undefined) {
      p = { orderId, event: null, trades: [] };
      this.pendingById.set(orderId, p);
      this.pending.push(p);
    }
    return p;
  }

  private flush(out: AccountMessage[]): void {
    for (const p of this.pending) {
      if (p.event === null) continue;
      const fills = p.trades.map((t) => this.views.fillView(t, p.orderId));
      out.push({
        channel: "orders",
        accountId: p.event.accountId,
        order: this.views.orderView(p.event, fills),
      });
    }
    this.pending.length = 0;
    this.pendingById.clear();
    for (const b of this.balances) {
      out.push({ channel: "balances", accountId: b.accountId, balance: this.views.balanceView(b) });
    }
    this.balances.length = 0;
  }
}

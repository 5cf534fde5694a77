/**
 * A seeded random command stream for the real engine: accounts, deposits, limit / market / IOC / FOK /
 * GTD / post-only / stop orders around a mid price per market, cancels, cancel_all, amends and ticks.
 * Its own tiny generator (mulberry32) so that the stream depends on nothing else in the tree.
 */
import type { SettledConfig } from "../../src/engine/config.js";
import type {
  Command,
  EngineEvent,
  OrderType,
  SelfTradePrevention,
  Side,
  TimeInForce,
} from "../../src/engine/types.js";
import { Rng } from "../engine/generator.js";

interface MarketPlan {
  symbol: string;
  /** Mid price in ticks (it wanders). */
  mid: number;
  minLots: number;
  maxLots: number;
}

/** Mid prices chosen so that one lot clears minNotional in the default markets. */
const plans: Record<string, { mid: number; minLots: number }> = {
  "BTC-USD": { mid: 5_000_000, minLots: 1 }, // 50,000.00 USD, lot 0.0001 BTC = 5 USD
  "ETH-USD": { mid: 300_000, minLots: 1 }, // 3,000.00 USD, lot 0.001 ETH = 3 USD
  "ETH-BTC": { mid: 6_000, minLots: 2 }, // 0.06000 BTC, 2 lots = 0.00012 BTC
};

const stps: readonly SelfTradePrevention[] = ["cancel_taker", "cancel_maker", "cancel_both"];

export class CommandStream {
  readonly rng: Rng;
  seq = 0;
  time = 1_700_000_000_000;
  private accounts = 0;
  private transfers = 0;
  private clientIds = 0;
  private readonly markets: MarketPlan[];
  /** Orders the engine holds, by id → [accountId, symbol, orderType]. */
  readonly live = new Map<number, { accountId: number; symbol: string; orderType: OrderType }>();
  private readonly setup: Command[] = [];

  constructor(
    config: SettledConfig,
    seed: number,
    readonly accountCount = 8,
  ) {
    this.rng = new Rng(seed);
    this.markets = config.markets.map((m) => {
      const p = plans[m.symbol] ?? { mid: 10_000, minLots: 1 };
      return { symbol: m.symbol, mid: p.mid, minLots: Math.max(p.minLots, m.minQuantityLots), maxLots: 60 };
    });
    for (let a = 1; a <= accountCount; a++) {
      this.setup.push({ type: "create_account", ...this.stamp() });
      for (const asset of config.assets) {
        const amount = 10n ** BigInt(asset.precision + 7); // 10 million of each asset
        this.setup.push({
          type: "deposit",
          ...this.stamp(),
          accountId: a,
          asset: asset.asset,
          amount: amount < 9007199254740992n ? Number(amount) : amount,
          transferId: `t${++this.transfers}`,
        });
      }
    }
    this.accounts = accountCount;
  }

  private stamp(): { seq: number; time: number } {
    this.seq++;
    this.time += this.rng.int(0, 400);
    return { seq: this.seq, time: this.time };
  }

  /** Tracks which orders the engine holds, from the events of a command. */
  observe(events: readonly EngineEvent[]): void {
    for (const e of events) {
      if (e.type !== "order") continue;
      if (e.status === "open" || e.status === "partially_filled" || e.status === "untriggered") {
        this.live.set(e.orderId, { accountId: e.accountId, symbol: e.symbol, orderType: e.orderType });
      } else {
        this.live.delete(e.orderId);
      }
    }
  }

  private pickLive(): [number, { accountId: number; symbol: string; orderType: OrderType }] | undefined {
    if (this.live.size === 0) return undefined;
    // Deterministic: the k-th entry in insertion order.
    let k = this.rng.int(0, this.live.size - 1);
    for (const entry of this.live) if (k-- === 0) return entry;
    return undefined;
  }

  next(): Command {
    const setup = this.setup.shift();
    if (setup !== undefined) return setup;
    const r = this.rng.next();
    const account = this.rng.int(1, this.accounts);
    if (r < 0.56) return this.place(account, "limit");
    if (r < 0.62) return this.place(account, "market");
    if (r < 0.67) return this.place(account, this.rng.chance(0.5) ? "stop_limit" : "stop_market");
    if (r < 0.77) {
      const picked = this.pickLive();
      if (picked === undefined || this.rng.chance(0.05)) {
        return { type: "cancel", ...this.stamp(), accountId: account, orderId: this.rng.int(1, 1_000_000) };
      }
      return { type: "cancel", ...this.stamp(), accountId: picked[1].accountId, orderId: picked[0] };
    }
    if (r < 0.773) {
      const symbol = this.rng.chance(0.3) ? "" : this.rng.pick(this.markets).symbol;
      return { type: "cancel_all", ...this.stamp(), accountId: account, symbol };
    }
    if (r < 0.95) {
      const picked = this.pickLive();
      if (picked === undefined) return { type: "tick", ...this.stamp() };
      const [orderId, o] = picked;
      const plan = this.markets.find((m) => m.symbol === o.symbol)!;
      const how = this.rng.int(0, 3);
      const price = how === 1 ? 0 : plan.mid + this.rng.int(-25, 25);
      const quantity = how === 0 ? 0 : this.rng.int(plan.minLots, plan.maxLots);
      return { type: "amend", ...this.stamp(), accountId: o.accountId, orderId, quantity, price };
    }
    if (r < 0.985) {
      const s = this.stamp();
      if (this.rng.chance(0.3)) this.time += this.rng.int(1_000, 20_000); // let GTD orders expire
      return { type: "tick", seq: s.seq, time: Math.max(s.time, this.time) };
    }
    return {
      type: this.rng.chance(0.8) ? "deposit" : "withdraw",
      ...this.stamp(),
      accountId: account,
      asset: this.rng.pick(["USD", "BTC", "ETH"]),
      amount: this.rng.int(1, 1_000_000),
      transferId: `t${++this.transfers}`,
    };
  }

  private place(accountId: number, orderType: OrderType): Command {
    const plan = this.rng.pick(this.markets);
    const side: Side = this.rng.chance(0.5) ? "buy" : "sell";
    const s = this.stamp();
    // Buys mostly below the mid and sells above, with overlap so that orders cross.
    if (this.rng.chance(0.05)) plan.mid += this.rng.int(-3, 3); // the mid wanders
    const offset = this.rng.int(-10, 80);
    const limitPrice = side === "buy" ? plan.mid - offset : plan.mid + offset;
    let quantity = this.rng.int(plan.minLots, plan.maxLots);
    let quoteQuantity = 0;
    let timeInForce: TimeInForce = "GTC";
    let price = 0;
    let stopPrice = 0;
    let postOnly = false;
    let expireTime = 0;
    if (orderType === "limit" || orderType === "stop_limit") {
      price = limitPrice;
      const t = this.rng.next();
      if (t < 0.12) timeInForce = "GTD";
      else if (t < 0.2) timeInForce = "IOC";
      else if (t < 0.26) timeInForce = "FOK";
      if (orderType === "limit" && timeInForce !== "IOC" && timeInForce !== "FOK" && this.rng.chance(0.1))
        postOnly = true;
    } else {
      timeInForce = this.rng.pick(["GTC", "IOC", "FOK"] as const);
      if (side === "buy" && this.rng.chance(0.4)) {
        quantity = 0;
        quoteQuantity = plan.mid * this.rng.int(plan.minLots, plan.maxLots) * 10;
        if (timeInForce === "FOK") timeInForce = "IOC";
      }
    }
    if (orderType === "stop_limit" || orderType === "stop_market") {
      stopPrice = plan.mid + this.rng.int(-15, 15);
    }
    if (timeInForce === "GTD") expireTime = s.time + this.rng.int(1, 30_000);
    const clientOrderId = this.rng.chance(0.1)
      ? `c${this.rng.chance(0.1) ? this.rng.int(1, Math.max(1, this.clientIds)) : ++this.clientIds}`
      : "";
    return {
      type: "place",
      ...s,
      accountId,
      symbol: plan.symbol,
      side,
      orderType,
      price,
      stopPrice,
      quantity,
      quoteQuantity,
      timeInForce,
      expireTime,
      postOnly,
      clientOrderId,
      selfTradePrevention: this.rng.pick(stps),
    };
  }
}

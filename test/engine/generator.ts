/**
 * A seeded stream of engine commands, realistic and adversarial at once: a handful of accounts
 * trading a few ticks around a drifting mid, so that crossing, partial fills, self-trades and stop
 * triggers are frequent; plus cancels and amends of live and unknown orders, repeated transferIds and
 * clientOrderIds, GTD orders expiring as time moves, malformed fields reaching every rejection code,
 * and, rarely, amounts beyond 2^53 so that the bigint paths run.
 *
 * Deterministic: its own PRNG (mulberry32), never Math.random. `observe(events)` feeds back what the
 * engine did (open orders, balances, accounts), so that cancels and amends name live orders; the
 * stream then depends on the events too, which is fine: they are identical on every correct engine.
 */
import { type EngineConfig, type Market, type SettledConfig, settleConfig } from "../../src/engine/config.js";
import { big, type Int, normalize } from "../../src/engine/int.js";
import type {
  Command,
  EngineEvent,
  OrderType,
  PlaceOrderCommand,
  SelfTradePrevention,
  Side,
  TimeInForce,
} from "../../src/engine/types.js";
import { int64Max } from "../../src/limits.js";

/** mulberry32: tiny, fast, good enough for test streams, and identical on every platform. */
export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Uniform in [0, 2^32). */
  uint32(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.uint32() / 4294967296;
  }

  /** Uniform integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }

  /** Uniform bigint in [lo, hi]. */
  bigint(lo: bigint, hi: bigint): bigint {
    const span = hi - lo + 1n;
    let r = 0n;
    for (let i = 0; i < 3; i++) r = (r << 32n) | BigInt(this.uint32());
    return lo + (r % span);
  }
}

/**
 * A second configuration with rough edges: maker fee above taker fee (the buy hold uses the maker
 * rate), a precision-0 asset, lots of 10 base units, a zero minNotional and a market whose every
 * notional is beyond 2^53 (10^10 quote units per tick-lot).
 */
export const testConfig: EngineConfig = {
  assets: [
    { asset: "USD", precision: 2 },
    { asset: "GEM", precision: 0 },
    { asset: "WEI", precision: 12 },
  ],
  markets: [
    {
      symbol: "GEM-USD",
      base: "GEM",
      quote: "USD",
      tickSize: "0.01",
      lotSize: "1",
      minQuantity: "1",
      maxQuantity: "1000000",
      minNotional: "0.50",
      makerFeeBps: 25,
      takerFeeBps: 7,
    },
    {
      symbol: "GEM-WEI",
      base: "GEM",
      quote: "WEI",
      tickSize: "0.001",
      lotSize: "10",
      minQuantity: "20",
      maxQuantity: "100000",
      minNotional: "0",
      makerFeeBps: 0,
      takerFeeBps: 30,
    },
  ],
};

export interface GeneratorOptions {
  seed: number;
  config: EngineConfig;
  /** Trading accounts created at the start (more may come later). Default 6. */
  accounts?: number;
  /** Scenarios to leave out, e.g. to explore past a difference already reported. */
  without?: readonly Scenario[];
}

/** Targeted scenarios the stream mixes in, besides plain orders, cancels, amends and transfers. */
export type Scenario = "whale" | "selfCross" | "allIn" | "feeSqueeze" | "withdrawAll" | "invalid";

interface LiveOrder {
  orderId: number;
  accountId: number;
  symbol: string;
  side: Side;
  orderType: OrderType;
  price: number;
  quantity: number;
  filledQuantity: number;
  resting: boolean;
}

interface SentTransfer {
  type: "deposit" | "withdraw";
  accountId: number;
  asset: string;
  amount: Int;
  transferId: string;
}

const stpModes: readonly SelfTradePrevention[] = ["cancel_taker", "cancel_maker", "cancel_both"];
const twoTo53 = 2 ** 53;

export class CommandGenerator {
  readonly config: SettledConfig;
  private readonly rng: Rng;
  private seq = 0;
  private time = 1_700_000_000_000;
  /** Commands to send next, built when their turn comes so that they see the latest feedback. */
  private readonly queue: (() => Command)[] = [];
  /** Account ids known to exist (from events, or assumed from create commands when not observed). */
  private readonly accountIds: number[] = [];
  private createdSent = 0;
  private readonly live = new Map<number, LiveOrder>();
  private maxOrderIdSeen = 0;
  private placesSent = 0;
  private readonly available = new Map<string, bigint>();
  private readonly supply: bigint[];
  private readonly transfers: SentTransfer[] = [];
  private transferCounter = 0;
  private readonly clientOrderIds: string[][] = [];
  private clientCounter = 0;
  private readonly mids: number[];
  private observed = false;
  private readonly without: ReadonlySet<Scenario>;

  constructor(options: GeneratorOptions) {
    this.config = settleConfig(options.config);
    this.rng = new Rng(options.seed);
    this.without = new Set(options.without ?? []);
    this.supply = this.config.assets.map(() => 0n);
    this.mids = this.config.markets.map((m) => this.startMid(m));
    const accounts = options.accounts ?? 6;
    for (let i = 0; i < accounts; i++) this.queue.push(() => this.createAccount(false));
    for (let a = 1; a <= accounts; a++) {
      for (const asset of this.config.assets) {
        // The last account is poor, so that INSUFFICIENT_FUNDS happens on ordinary orders.
        const scale = a === accounts ? 1n : BigInt(this.rng.int(50, 200));
        this.queue.push(() => this.deposit(a, asset.asset, this.funding(asset.index) * scale));
      }
    }
  }

  /** A mid price whose one-lot notional is a few times minNotional, so that most orders pass it. */
  private startMid(m: Market): number {
    const perTick = BigInt(m.quoteUnitsPerTickLot) * BigInt(m.minQuantityLots);
    const ticks = (big(m.minNotional) * 3n) / perTick;
    return Math.max(200, Number(ticks));
  }

  /** Enough of an asset for ~1 order of a typical size in each market that uses it. */
  private funding(assetIndex: number): bigint {
    let need = 1n;
    for (const m of this.config.markets) {
      const lots = BigInt(m.minQuantityLots * 12);
      if (m.quote.index === assetIndex) {
        need += (BigInt(this.mids[m.index]! + 20) * lots * BigInt(m.quoteUnitsPerTickLot) * 103n) / 100n;
      }
      if (m.base.index === assetIndex) need += lots * BigInt(m.baseUnitsPerLot);
    }
    return need;
  }

  private stamp<T extends object>(body: T): T & { seq: number; time: number } {
    // Time moves in small steps, sometimes not at all; ticks make larger jumps.
    if (this.rng.chance(0.6)) this.time += this.rng.int(1, 25);
    this.seq += 1;
    return { ...body, seq: this.seq, time: this.time };
  }

  // ---------------------------------------------------------------- feedback

  observe(events: readonly EngineEvent[]): void {
    this.observed = true;
    for (const e of events) {
      switch (e.type) {
        case "account_created":
          if (!this.accountIds.includes(e.accountId)) this.accountIds.push(e.accountId);
          break;
        case "order":
          this.maxOrderIdSeen = Math.max(this.maxOrderIdSeen, e.orderId);
          if (e.status === "open" || e.status === "partially_filled" || e.status === "untriggered") {
            this.live.set(e.orderId, {
              orderId: e.orderId,
              accountId: e.accountId,
              symbol: e.symbol,
              side: e.side,
              orderType: e.orderType,
              price: e.price,
              quantity: e.quantity,
              filledQuantity: e.filledQuantity,
              resting: e.status !== "untriggered",
            });
          } else {
            this.live.delete(e.orderId);
          }
          break;
        case "balance":
          this.available.set(`${e.accountId}:${e.asset}`, big(e.available));
          break;
        case "transfer": {
          if (e.duplicate) break;
          const index = this.config.assetByName.get(e.asset)!.index;
          this.supply[index]! += e.kind === "deposit" ? big(e.amount) : -big(e.amount);
          break;
        }
        case "trade": {
          // Follow the market, unless a whale traded far away from it.
          const m = this.config.marketBySymbol.get(e.symbol)!;
          const mid = this.mids[m.index]!;
          if (Math.abs(e.price - mid) <= 40 && this.rng.chance(0.3)) this.mids[m.index] = e.price;
          break;
        }
        default:
          break;
      }
    }
  }

  // ---------------------------------------------------------------- the stream

  next(): Command {
    const queued = this.queue.shift();
    if (queued !== undefined) return queued();
    for (let i = 0; i < this.mids.length; i++) {
      if (this.rng.chance(0.02)) this.mids[i] = Math.max(100, this.mids[i]! + this.rng.int(-4, 4));
    }
    const r = this.rng.next();
    const on = (s: Scenario) => !this.without.has(s);
    if (r < 0.5) return this.place(this.validPlace());
    if (r < 0.56 && on("invalid")) return this.place(this.invalidPlace());
    if (r < 0.68) return this.cancel();
    if (r < 0.78) return this.amend();
    if (r < 0.795) return this.cancelAll();
    if (r < 0.84) return this.randomDeposit();
    if (r < 0.88) return this.withdraw();
    if (r < 0.91) return this.transferOddity();
    if (r < 0.935) return this.tick();
    if (r < 0.9365) return this.createAccount(true);
    if (r < 0.945 && on("whale")) return this.whale();
    if (r >= 0.945 && r < 0.965 && on("selfCross")) return this.place(this.selfCross());
    if (r >= 0.965 && r < 0.98 && on("allIn")) return this.place(this.allIn());
    if (r >= 0.98 && r < 0.985 && on("feeSqueeze")) return this.feeSqueeze();
    return this.place(this.validPlace());
  }

  private assumeAccount(): void {
    this.createdSent += 1;
    // Without feedback, assume creation succeeds (it does until accountsMax).
    if (!this.observed && !this.accountIds.includes(this.createdSent)) this.accountIds.push(this.createdSent);
  }

  /** A new account, funded by the next commands (while the model accepts new accounts). */
  private createAccount(fund: boolean): Command {
    const command = this.stamp({ type: "create_account" as const });
    this.assumeAccount();
    const accountId = this.createdSent;
    for (const asset of this.config.assets) {
      if (fund && this.rng.chance(0.7)) {
        const amount = this.funding(asset.index) * BigInt(this.rng.int(5, 50));
        this.queue.push(() => this.deposit(accountId, asset.asset, amount));
      }
    }
    return command;
  }

  private tick(): Command {
    this.time += this.rng.chance(0.8) ? this.rng.int(50, 1500) : this.rng.int(2000, 20_000);
    return this.stamp({ type: "tick" as const });
  }

  /** A trading account: mostly the known ones, rarely the fee account 0. */
  private account(): number {
    if (this.accountIds.length === 0 || this.rng.chance(0.005)) return 0;
    return this.rng.pick(this.accountIds);
  }

  private market(): Market {
    return this.rng.pick(this.config.markets);
  }

  // ---------------------------------------------------------------- orders

  private place(body: Omit<PlaceOrderCommand, "seq" | "time">): Command {
    this.placesSent += 1;
    const command = this.stamp(body);
    if (command.timeInForce === "GTD" && command.expireTime === -1) {
      command.expireTime = command.time + this.rng.int(1, 4000);
    }
    return command;
  }

  private lots(m: Market): number {
    const r = this.rng.next();
    const unit = m.minQuantityLots;
    if (r < 0.75) return unit * this.rng.int(1, 12);
    if (r < 0.97) return unit * this.rng.int(12, 60);
    return Math.min(m.maxQuantityLots, unit * this.rng.int(100, 2000));
  }

  private clientOrderId(accountId: number): string {
    const mine = (this.clientOrderIds[accountId] ??= []);
    const r = this.rng.next();
    if (r < 0.6) return "";
    if (r < 0.66 && mine.length > 0) return this.rng.pick(mine); // a retry: duplicate_order
    if (r < 0.68) {
      const other = this.clientOrderIds[this.rng.pick(this.accountIds.length > 0 ? this.accountIds : [0])];
      if (other !== undefined && other.length > 0) return this.rng.pick(other); // same id, other account
    }
    this.clientCounter += 1;
    const id = this.rng.chance(0.1)
      ? `x_${this.clientCounter}-${"z".repeat(this.rng.int(0, 20))}`
      : `c${this.clientCounter}`;
    mine.push(id);
    if (mine.length > 50) mine.shift();
    return id;
  }

  private validPlace(): Omit<PlaceOrderCommand, "seq" | "time"> {
    const m = this.market();
    const mid = this.mids[m.index]!;
    const accountId = this.account();
    const side: Side = this.rng.chance(0.5) ? "buy" : "sell";
    const t = this.rng.next();
    const orderType: OrderType =
      t < 0.62 ? "limit" : t < 0.76 ? "market" : t < 0.88 ? "stop_limit" : "stop_market";
    // Buyers a little below mid and sellers a little above, with overlap so that orders cross often.
    const skew = side === "buy" ? -2 : 2;
    const near = () => Math.max(1, mid + skew + this.rng.int(-7, 7));
    let price = 0;
    let stopPrice = 0;
    let quantity = this.lots(m);
    let quoteQuantity: Int = 0;
    let timeInForce: TimeInForce = "GTC";
    let postOnly = false;
    if (orderType === "limit" || orderType === "stop_limit") {
      price = near();
      const r = this.rng.next();
      timeInForce = r < 0.55 ? "GTC" : r < 0.72 ? "IOC" : r < 0.82 ? "FOK" : "GTD";
      if (orderType === "limit" && (timeInForce === "GTC" || timeInForce === "GTD")) {
        postOnly = this.rng.chance(0.12);
      }
    } else {
      const r = this.rng.next();
      timeInForce = r < 0.35 ? "GTC" : r < 0.75 ? "IOC" : "FOK";
      if (side === "buy" && timeInForce !== "FOK" && this.rng.chance(0.45)) {
        const notional = BigInt(mid) * BigInt(quantity) * BigInt(m.quoteUnitsPerTickLot);
        const budget = notional + BigInt(this.rng.int(0, Math.max(1, Number(notional / 50n))));
        quoteQuantity = normalize(budget > big(m.minNotional) ? budget : big(m.minNotional));
        quantity = 0;
      }
    }
    if (orderType === "stop_limit" || orderType === "stop_market") {
      // Buy stops above the last price and sell stops below, some already due.
      const distance = this.rng.int(-3, 9);
      stopPrice = Math.max(1, side === "buy" ? mid + distance : mid - distance);
      if (orderType === "stop_limit")
        price = Math.max(1, stopPrice + (side === "buy" ? 1 : -1) * this.rng.int(-2, 6));
    }
    return {
      type: "place",
      accountId,
      symbol: m.symbol,
      side,
      orderType,
      price,
      stopPrice,
      quantity,
      quoteQuantity,
      timeInForce,
      expireTime: timeInForce === "GTD" ? -1 : 0, // -1: filled in by place() once time is known
      postOnly,
      clientOrderId: this.clientOrderId(accountId),
      selfTradePrevention: this.rng.pick(stpModes),
    };
  }

  /** An order against one of the account's own resting orders: self-trade prevention at work. */
  private selfCross(): Omit<PlaceOrderCommand, "seq" | "time"> {
    const c = this.validPlace();
    const resting = [...this.live.values()].filter((o) => o.orderType === "limit" || o.price !== 0);
    if (resting.length === 0) return c;
    const target = this.rng.pick(resting);
    const m = this.config.marketBySymbol.get(target.symbol)!;
    c.accountId = target.accountId;
    c.symbol = target.symbol;
    c.side = target.side === "buy" ? "sell" : "buy";
    c.orderType = this.rng.chance(0.75) ? "limit" : "market";
    c.stopPrice = 0;
    c.quoteQuantity = 0;
    c.quantity = m.minQuantityLots * this.rng.int(1, 20);
    c.postOnly = false;
    c.expireTime = 0;
    if (c.orderType === "limit") {
      c.price = Math.max(1, target.price + (c.side === "buy" ? 1 : -1) * this.rng.int(0, 3));
      c.timeInForce = this.rng.pick(["GTC", "IOC", "FOK", "GTC"] as const);
    } else {
      c.price = 0;
      c.timeInForce = this.rng.pick(["IOC", "FOK", "GTC"] as const);
    }
    return c;
  }

  /**
   * A buy whose hold takes (nearly) all the account's available quote, so that per-fill fee rounding
   * finds nothing left to take from and the fee is reduced (the hold-shortfall rule).
   */
  private allIn(): Omit<PlaceOrderCommand, "seq" | "time"> {
    const c = this.validPlace();
    const m = this.config.marketBySymbol.get(c.symbol)!;
    const available = this.available.get(`${c.accountId}:${m.quote.asset}`);
    if (available === undefined) return c;
    const price = Math.max(1, this.mids[m.index]! + this.rng.int(-3, 5));
    const perLot =
      (BigInt(price) * BigInt(m.quoteUnitsPerTickLot) * BigInt(10_000 + m.holdFeeBps)) / 10_000n + 1n;
    const lots = Number(available / perLot);
    if (lots < m.minQuantityLots || lots > m.maxQuantityLots) return c;
    return {
      ...c,
      side: "buy",
      orderType: "limit",
      price,
      stopPrice: 0,
      quantity: lots,
      quoteQuantity: 0,
      timeInForce: "GTC",
      expireTime: 0,
      postOnly: false,
    };
  }

  /** Best resting bid and ask of a market, as far as the feedback tells. */
  private bestPrices(symbol: string): { bid: number; ask: number } {
    let bid = 0;
    let ask = Number.MAX_SAFE_INTEGER;
    for (const o of this.live.values()) {
      if (o.symbol !== symbol || !o.resting) continue;
      if (o.side === "buy") bid = Math.max(bid, o.price);
      else ask = Math.min(ask, o.price);
    }
    return { bid, ask };
  }

  /**
   * A buyer left with exactly its hold and nothing else, then filled in several pieces at its own
   * limit price by whichever side pays the hold's fee rate: per-fill fee rounding exceeds the hold,
   * nothing is available to cover it, and the fee is reduced (the hold-shortfall rule, last clause).
   */
  private feeSqueeze(): Command {
    const m = this.market();
    const traders = this.accountIds.filter((a) => a !== 0);
    if (traders.length < 2) return this.tick();
    const buyer = this.rng.pick(traders);
    const seller = this.rng.pick(traders.filter((a) => a !== buyer));
    const { bid, ask } = this.bestPrices(m.symbol);
    const pieces = this.rng.int(2, 6);
    const lots = m.minQuantityLots;
    const quantity = pieces * lots;
    // The buyer takes when the taker rate is the hold's rate, and is taken from otherwise.
    const buyerTakes = m.takerFeeBps >= m.makerFeeBps;
    const mid = this.mids[m.index]!;
    const price = buyerTakes ? (ask < Number.MAX_SAFE_INTEGER ? ask - 1 : mid) : bid > 0 ? bid + 1 : mid;
    if (!(price > bid && price < ask && price > 0)) return this.tick();
    const n = BigInt(price) * BigInt(quantity) * BigInt(m.quoteUnitsPerTickLot);
    const hold = n + (n * BigInt(m.holdFeeBps) + 9999n) / 10_000n;
    const sellPiece = (timeInForce: TimeInForce) => () =>
      this.place({
        type: "place",
        accountId: seller,
        symbol: m.symbol,
        side: "sell",
        orderType: "limit",
        price,
        stopPrice: 0,
        quantity: lots,
        quoteQuantity: 0,
        timeInForce,
        expireTime: 0,
        postOnly: false,
        clientOrderId: "",
        selfTradePrevention: "cancel_taker",
      });
    const drain = () => {
      const have = this.available.get(`${buyer}:${m.quote.asset}`) ?? 0n;
      if (have <= hold) return this.tick();
      this.transferCounter += 1;
      const t: SentTransfer = {
        type: "withdraw",
        accountId: buyer,
        asset: m.quote.asset,
        amount: normalize(have - hold),
        transferId: `drain-${this.transferCounter}`,
      };
      this.transfers.push(t);
      return this.stamp({ ...t });
    };
    const buy = (timeInForce: TimeInForce) => () =>
      this.place({
        type: "place",
        accountId: buyer,
        symbol: m.symbol,
        side: "buy",
        orderType: "limit",
        price,
        stopPrice: 0,
        quantity,
        quoteQuantity: 0,
        timeInForce,
        expireTime: 0,
        postOnly: false,
        clientOrderId: "",
        selfTradePrevention: "cancel_taker",
      });
    if (buyerTakes) {
      for (let i = 0; i < pieces; i++) this.queue.push(sellPiece("GTC"));
      this.queue.push(drain, buy("IOC"));
    } else {
      this.queue.push(buy("GTC"));
      for (let i = 0; i < pieces; i++) this.queue.push(sellPiece("IOC"));
    }
    return drain();
  }

  /** A valid order with one field broken, aimed at each rejection code of placement. */
  private invalidPlace(): Omit<PlaceOrderCommand, "seq" | "time"> {
    const c = this.validPlace();
    const m = this.config.marketBySymbol.get(c.symbol)!;
    const limitLike = c.orderType === "limit" || c.orderType === "stop_limit";
    switch (this.rng.int(0, 24)) {
      case 0:
        c.accountId = this.rng.pick([999_999, this.accountIds.length + 3, -1]);
        break;
      case 1:
        c.symbol = this.rng.pick(["DOGE-USD", "", "btc-usd"]);
        break;
      case 2:
        c.clientOrderId = this.rng.pick(["bad id", "x".repeat(37), "é", "a.b"]);
        break;
      case 3:
        c.price = limitLike ? 0 : 100;
        break;
      case 4:
        c.price = twoTo53;
        break;
      case 5:
        c.stopPrice = limitLike && c.orderType === "limit" ? 50 : c.orderType === "stop_limit" ? 0 : 10;
        break;
      case 6:
        c.stopPrice = c.orderType === "stop_limit" || c.orderType === "stop_market" ? twoTo53 + 2 : 0;
        if (c.stopPrice === 0) c.price = twoTo53 + 2;
        break;
      case 7:
        c.quantity = 0;
        c.quoteQuantity = 0;
        break;
      case 8:
        c.quantity = m.maxQuantityLots + 1;
        break;
      case 9:
        c.quantity = m.minQuantityLots > 1 ? m.minQuantityLots - 1 : 0;
        break;
      case 10:
        c.quoteQuantity = 5_000_000; // quoteQuantity on a limit, a sell, or together with quantity
        if (c.quantity === 0) c.quantity = m.minQuantityLots;
        break;
      case 11:
        c.timeInForce = c.orderType === "market" || c.orderType === "stop_market" ? "GTD" : c.timeInForce;
        c.expireTime = c.timeInForce === "GTD" ? -1 : 0;
        break;
      case 12:
        if (c.quoteQuantity !== 0) c.timeInForce = "FOK";
        else c.postOnly = true;
        break;
      case 13:
        c.postOnly = true;
        c.timeInForce = this.rng.pick(["IOC", "FOK"] as const);
        break;
      case 14:
        c.timeInForce = "GTD";
        c.expireTime = this.rng.chance(0.5) ? 0 : this.time - this.rng.int(0, 10); // not in the future
        break;
      case 15:
        c.expireTime = this.time + 1000; // an expireTime without GTD
        if (c.timeInForce === "GTD") c.timeInForce = "GTC";
        break;
      case 16:
        if (c.quoteQuantity !== 0) c.quoteQuantity = int64Max + 1n;
        else c.price = Math.floor(twoTo53 / 4); // notional beyond 2^63 when quantity is large
        c.quantity = c.quoteQuantity !== 0 ? 0 : m.maxQuantityLots;
        break;
      case 17:
        c.price = 1; // below minNotional
        c.quantity = m.minQuantityLots;
        if (c.orderType === "market" || c.orderType === "stop_market") c.price = 0;
        if (c.quoteQuantity !== 0) c.quoteQuantity = 1;
        break;
      case 18:
        c.quantity = m.maxQuantityLots; // usually more than the account can afford
        c.quoteQuantity = 0;
        break;
      case 19:
        c.postOnly = true;
        c.orderType = "limit";
        c.stopPrice = 0;
        c.quoteQuantity = 0;
        c.quantity ||= m.minQuantityLots;
        c.timeInForce = "GTC";
        c.expireTime = 0;
        c.price = this.mids[m.index]! + (c.side === "buy" ? 8 : -8); // through the book: would take
        break;
      case 20:
        c.postOnly = true; // post-only on a stop or market order
        c.orderType = this.rng.pick(["stop_limit", "stop_market", "market"] as const);
        break;
      case 21:
        c.side = "sell";
        c.orderType = "market";
        c.price = 0;
        c.stopPrice = 0;
        c.quantity = 0;
        c.quoteQuantity = 3_000_000;
        c.timeInForce = "IOC";
        c.expireTime = 0;
        break;
      case 22:
        c.price = -c.price;
        break;
      default:
        c.accountId = this.accountIds.length > 0 ? this.accountIds[this.accountIds.length - 1]! : 1; // the poor one
        c.quantity = c.quoteQuantity !== 0 ? 0 : m.minQuantityLots * this.rng.int(50, 500);
        break;
    }
    return c;
  }

  /** An open order, preferably of `accountId`'s; undefined when none is known. */
  private liveOrder(): LiveOrder | undefined {
    if (this.live.size === 0) return undefined;
    const ids = [...this.live.keys()];
    return this.live.get(this.rng.pick(ids));
  }

  private unknownOrderId(): number {
    const top = Math.max(this.maxOrderIdSeen, this.placesSent);
    return this.rng.pick([0, top + this.rng.int(1, 50), this.rng.int(1, Math.max(1, top)), 2 ** 40]);
  }

  private cancel(): Command {
    const o = this.liveOrder();
    const r = this.rng.next();
    if (o !== undefined && r < 0.8)
      return this.stamp({ type: "cancel" as const, accountId: o.accountId, orderId: o.orderId });
    if (o !== undefined && r < 0.88) {
      return this.stamp({ type: "cancel" as const, accountId: this.account(), orderId: o.orderId });
    }
    return this.stamp({
      type: "cancel" as const,
      accountId: this.rng.chance(0.1) ? 4242 : this.account(),
      orderId: this.unknownOrderId(),
    });
  }

  private cancelAll(): Command {
    const r = this.rng.next();
    const symbol = r < 0.5 ? "" : r < 0.95 ? this.market().symbol : "NOPE-USD";
    return this.stamp({
      type: "cancel_all" as const,
      accountId: this.rng.chance(0.03) ? 777 : this.account(),
      symbol,
    });
  }

  private amend(): Command {
    const o = this.liveOrder();
    if (o === undefined || this.rng.chance(0.06)) {
      return this.stamp({
        type: "amend" as const,
        accountId: this.account(),
        orderId: this.unknownOrderId(),
        quantity: this.rng.int(1, 5),
        price: 0,
      });
    }
    const m = this.config.marketBySymbol.get(o.symbol)!;
    const mid = this.mids[m.index]!;
    let quantity = 0;
    let price = 0;
    const q = this.rng.next();
    if (q < 0.25)
      quantity = Math.max(o.filledQuantity + 1, o.quantity - this.rng.int(1, 5) * m.minQuantityLots);
    else if (q < 0.45) quantity = o.quantity + this.rng.int(1, 8) * m.minQuantityLots;
    else if (q < 0.5) quantity = o.quantity;
    else if (q < 0.55) quantity = o.filledQuantity > 0 ? o.filledQuantity : m.minQuantityLots - 1;
    else if (q < 0.57) quantity = m.maxQuantityLots + 1;
    const p = this.rng.next();
    if (p < 0.35 || quantity === 0) price = Math.max(1, (o.price || mid) + this.rng.int(-6, 6));
    else if (p < 0.45)
      price = Math.max(1, mid + (o.side === "buy" ? 6 : -6)); // through the book
    else if (p < 0.47) price = twoTo53;
    else if (p < 0.49) price = o.price;
    const accountId = this.rng.chance(0.04) ? this.account() : o.accountId;
    return this.stamp({ type: "amend" as const, accountId, orderId: o.orderId, quantity, price });
  }

  // ---------------------------------------------------------------- transfers

  private deposit(accountId: number, asset: string, amount: bigint): Command {
    this.transferCounter += 1;
    const t: SentTransfer = {
      type: "deposit",
      accountId,
      asset,
      amount: normalize(amount),
      transferId: `dep-${this.transferCounter}`,
    };
    this.transfers.push(t);
    return this.stamp({ ...t });
  }

  private randomDeposit(): Command {
    const asset = this.rng.pick(this.config.assets);
    const amount = (this.funding(asset.index) * BigInt(this.rng.int(1, 30))) / 10n + 1n;
    return this.deposit(this.account(), asset.asset, amount);
  }

  private withdraw(): Command {
    const accountId = this.account();
    const asset = this.rng.pick(this.config.assets).asset;
    const have = this.available.get(`${accountId}:${asset}`) ?? 1000n;
    // Mostly a part of what is available, sometimes all of it (then fee rounding finds nothing to take
    // beyond the holds), sometimes a little more than all of it.
    const r = this.rng.next();
    let amount = have + 1n;
    if (r < 0.75 || (r < 0.9 && this.without.has("withdrawAll")))
      amount = (have * BigInt(this.rng.int(1, 60))) / 100n + 1n;
    else if (r < 0.9) amount = have;
    this.transferCounter += 1;
    const t: SentTransfer = {
      type: "withdraw",
      accountId,
      asset,
      amount: normalize(amount),
      transferId: `wd:${this.transferCounter}`,
    };
    this.transfers.push(t);
    return this.stamp({ ...t });
  }

  /** Repeated, conflicting and malformed transfers. */
  private transferOddity(): Command {
    const old = this.transfers.length > 0 ? this.rng.pick(this.transfers) : undefined;
    const r = this.rng.int(0, 9);
    if (old !== undefined && r <= 3) return this.stamp({ ...old }); // an exact retry
    if (old !== undefined && r === 4) {
      return this.stamp({ ...old, amount: normalize(big(old.amount) + 1n) }); // same id, other amount
    }
    if (old !== undefined && r === 5) {
      return this.stamp({
        ...old,
        type: old.type === "deposit" ? ("withdraw" as const) : ("deposit" as const),
      });
    }
    this.transferCounter += 1;
    const body = {
      type: this.rng.chance(0.5) ? ("deposit" as const) : ("withdraw" as const),
      accountId: this.account(),
      asset: this.rng.pick(this.config.assets).asset,
      amount: 1000 as Int,
      transferId: `odd-${this.transferCounter}`,
    };
    switch (r) {
      case 6:
        body.transferId = this.rng.pick(["", "has space", "x".repeat(65), "slash/no", "ünïcode"]);
        break;
      case 7:
        body.amount = this.rng.pick<Int>([0, -5, int64Max + 1n, 2n ** 64n]);
        break;
      case 8:
        body.asset = this.rng.pick(["DOGE", "", "usd"]);
        break;
      default:
        body.accountId = this.rng.pick([31337, -2, this.accountIds.length + 1]);
        break;
    }
    return this.stamp(body);
  }

  /**
   * Amounts beyond 2^53: a large deposit (sometimes past the 2^63-1 supply bound), then an order
   * whose notional needs bigint, far from the mid or with a huge quantity.
   */
  private whale(): Command {
    const m = this.market();
    const accountId = this.account();
    const r = this.rng.next();
    if (r < 0.4) {
      const asset = this.rng.pick([m.base, m.quote]);
      const headroom = int64Max - this.supply[asset.index]!;
      const amount = this.rng.chance(0.15)
        ? headroom + this.rng.bigint(1n, 1000n) // overflows the supply bound
        : this.rng.bigint(2n ** 53n, headroom > 2n ** 53n ? (headroom * 3n) / 10n + 2n ** 53n : 2n ** 54n);
      return this.deposit(accountId, asset.asset, amount);
    }
    const side: Side = this.rng.chance(0.5) ? "buy" : "sell";
    const mid = this.mids[m.index]!;
    const bigPrice = this.rng.chance(0.5);
    const price = bigPrice ? mid * this.rng.int(100, 10_000) : Math.max(1, mid + this.rng.int(-5, 5));
    const quantity = bigPrice
      ? m.minQuantityLots * this.rng.int(1, 1000)
      : Math.min(m.maxQuantityLots, m.minQuantityLots * this.rng.int(1000, 1_000_000));
    const market = this.rng.chance(0.3);
    return this.place({
      type: "place",
      accountId,
      symbol: m.symbol,
      side,
      orderType: market ? "market" : "limit",
      price: market ? 0 : price,
      stopPrice: 0,
      quantity,
      quoteQuantity: 0,
      timeInForce: market ? "IOC" : this.rng.pick(["GTC", "IOC", "GTC"] as const),
      expireTime: 0,
      postOnly: false,
      clientOrderId: "",
      selfTradePrevention: this.rng.pick(stpModes),
    });
  }
}

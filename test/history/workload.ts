/**
 * A small seeded workload for the history tests and bench: the REAL engine (src/engine/engine.ts)
 * driven by generated commands (accounts, deposits, withdrawals, crossing limit orders, IOC and market
 * orders, stops, GTD expiries, amends, cancels). The generator reads the engine's own events to know
 * which orders are open, so its cancels and amends name orders that exist. Same seed, same commands,
 * same events: a restarted process regenerates exactly what a killed one was writing.
 */
import { defaultConfig, type EngineConfig } from "../../src/engine/config.js";
import { Engine } from "../../src/engine/engine.js";
import type { Int } from "../../src/engine/int.js";
import type { Command, EngineEvent, Side } from "../../src/engine/types.js";
import type { CommandEvents } from "../../src/history/records.js";
import { Prng } from "../../src/platform/prng.js";

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
/** A command before the sequencer stamps it. */
type Input = DistributiveOmit<Command, "seq" | "time">;

export const workloadConfig: EngineConfig = defaultConfig;

interface MarketShape {
  symbol: string;
  mid: number;
  spread: number;
  qtyMin: number;
  qtyMax: number;
}

const markets: MarketShape[] = [
  { symbol: "BTC-USD", mid: 3_000_000, spread: 30, qtyMin: 1, qtyMax: 40 },
  { symbol: "ETH-USD", mid: 200_000, spread: 20, qtyMin: 1, qtyMax: 40 },
  { symbol: "ETH-BTC", mid: 6_600, spread: 10, qtyMin: 2, qtyMax: 40 },
];

export interface WorkloadOptions {
  seed: number;
  accounts?: number;
  /** Share of commands that are crossing orders (0..1): the bench turns it up. */
  tradeBias?: number;
  /** Exchange time of the first command, ms. */
  startTime?: number;
  /** Every this many commands, time jumps a day (archive periods). 0: never. */
  dayEvery?: number;
}

interface OpenOrder {
  orderId: number;
  accountId: number;
  symbol: string;
  side: Side;
  quantity: number;
  filled: number;
  price: number;
  orderType: string;
}

export class Workload {
  readonly engine = new Engine(workloadConfig);
  private readonly rng: Prng;
  private readonly accounts: number;
  private readonly tradeBias: number;
  private readonly dayEvery: number;
  private seq = 0;
  private time: number;
  private readonly open: OpenOrder[] = [];
  private readonly openIndex = new Map<number, number>();
  private readonly setup: Input[] = [];
  private transferCount = 0;
  trades = 0;
  /** The command step() applied last. */
  lastCommand: Command | null = null;

  constructor(options: WorkloadOptions) {
    this.rng = new Prng(options.seed);
    this.accounts = options.accounts ?? 20;
    this.tradeBias = options.tradeBias ?? 0.5;
    this.dayEvery = options.dayEvery ?? 0;
    this.time = options.startTime ?? 1_700_000_000_000;
    for (let a = 1; a <= this.accounts; a++) this.setup.push({ type: "create_account" });
    for (let a = 1; a <= this.accounts; a++) {
      // Account 1 holds more dollars than a double can count: its balances are bigints.
      const usd: Int = a === 1 ? 2n ** 62n : 1_000_000_000_000;
      this.setup.push(this.transfer("deposit", a, "USD", usd));
      this.setup.push(this.transfer("deposit", a, "BTC", 1_000_000_000));
      this.setup.push(this.transfer("deposit", a, "ETH", 10_000_000_000));
    }
    this.setup.reverse();
  }

  get lastSeq(): number {
    return this.seq;
  }

  /** Generates the next command, applies it to the engine, and returns its events. */
  step(): CommandEvents {
    const input = this.setup.length > 0 ? this.setup.pop()! : this.generate();
    this.seq++;
    if (this.dayEvery > 0 && this.seq % this.dayEvery === 0) this.time += 86_400_000;
    else this.time += this.rng.int(3);
    const command = { ...input, seq: this.seq, time: this.time } as Command;
    this.lastCommand = command;
    const events: EngineEvent[] = [];
    this.engine.apply(command, events);
    this.observe(events);
    return { seq: this.seq, time: this.time, events };
  }

  /** n commands. */
  run(n: number): CommandEvents[] {
    const out: CommandEvents[] = [];
    for (let i = 0; i < n; i++) out.push(this.step());
    return out;
  }

  private transfer(kind: "deposit" | "withdraw", accountId: number, asset: string, amount: Int) {
    return { type: kind, accountId, asset, amount, transferId: `t${++this.transferCount}` } as const;
  }

  private observe(events: EngineEvent[]): void {
    for (const e of events) {
      if (e.type === "trade") this.trades++;
      if (e.type !== "order") continue;
      const live = e.status === "open" || e.status === "partially_filled" || e.status === "untriggered";
      const at = this.openIndex.get(e.orderId);
      if (live) {
        const o: OpenOrder = {
          orderId: e.orderId,
          accountId: e.accountId,
          symbol: e.symbol,
          side: e.side,
          quantity: e.quantity,
          filled: e.filledQuantity,
          price: e.price,
          orderType: e.orderType,
        };
        if (at === undefined) {
          this.openIndex.set(e.orderId, this.open.length);
          this.open.push(o);
        } else {
          this.open[at] = o;
        }
      } else if (at !== undefined) {
        const last = this.open.pop()!;
        if (last.orderId !== e.orderId) {
          this.open[at] = last;
          this.openIndex.set(last.orderId, at);
        }
        this.openIndex.delete(e.orderId);
      }
    }
  }

  private generate(): Input {
    const r = this.rng.next();
    const accountId = this.rng.range(1, this.accounts);
    const market = this.rng.pick(markets);
    if (r < this.tradeBias) return this.limit(accountId, market, true, "GTC");
    const rest = (r - this.tradeBias) / (1 - this.tradeBias);
    if (rest < 0.3) return this.limit(accountId, market, false, "GTC");
    if (rest < 0.4) return this.limit(accountId, market, true, "IOC");
    if (rest < 0.45) return this.market(accountId, market);
    if (rest < 0.47) return this.stop(accountId, market);
    if (rest < 0.5) return this.gtd(accountId, market);
    if (rest < 0.7 && this.open.length > 0) return this.cancel();
    if (rest < 0.8 && this.open.length > 0) return this.amend();
    if (rest < 0.86)
      return this.transfer(
        "deposit",
        accountId,
        this.rng.pick(["USD", "BTC", "ETH"]),
        this.rng.range(1, 1e9),
      );
    if (rest < 0.9)
      return this.transfer(
        "withdraw",
        accountId,
        this.rng.pick(["USD", "BTC", "ETH"]),
        this.rng.range(1, 1e6),
      );
    if (rest < 0.92) return { type: "tick" };
    if (rest < 0.94)
      return { type: "cancel_all", accountId, symbol: this.rng.chance(0.5) ? market.symbol : "" };
    return this.limit(accountId, market, true, "GTC");
  }

  private order(accountId: number, m: MarketShape, side: Side, price: number, extra: object) {
    return {
      type: "place",
      accountId,
      symbol: m.symbol,
      side,
      orderType: "limit",
      price,
      stopPrice: 0,
      quantity: this.rng.range(m.qtyMin, m.qtyMax),
      quoteQuantity: 0,
      timeInForce: "GTC",
      expireTime: 0,
      postOnly: false,
      clientOrderId: this.rng.chance(0.2) ? `c${this.seq}` : "",
      selfTradePrevention: "cancel_taker",
      ...extra,
    } as Input;
  }

  /** A limit order; `cross`: priced through the mid so that it meets the other side. */
  private limit(accountId: number, m: MarketShape, cross: boolean, timeInForce: "GTC" | "IOC") {
    const side: Side = this.rng.chance(0.5) ? "buy" : "sell";
    const offset = this.rng.range(1, m.spread);
    const toward = cross ? offset : -offset;
    const price = side === "buy" ? m.mid + toward : m.mid - toward;
    return this.order(accountId, m, side, price, { timeInForce });
  }

  private market(accountId: number, m: MarketShape) {
    const side: Side = this.rng.chance(0.5) ? "buy" : "sell";
    const byQuote = side === "buy" && this.rng.chance(0.3);
    return this.order(accountId, m, side, 0, {
      orderType: "market",
      timeInForce: "IOC",
      ...(byQuote ? { quantity: 0, quoteQuantity: m.mid * 10 * 20 } : {}),
    });
  }

  private stop(accountId: number, m: MarketShape) {
    const side: Side = this.rng.chance(0.5) ? "buy" : "sell";
    const stopPrice = side === "buy" ? m.mid + this.rng.range(0, 5) : m.mid - this.rng.range(0, 5);
    return this.order(accountId, m, side, side === "buy" ? stopPrice + 10 : stopPrice - 10, {
      orderType: "stop_limit",
      stopPrice,
    });
  }

  private gtd(accountId: number, m: MarketShape) {
    const o = this.limit(accountId, m, false, "GTC");
    return { ...o, timeInForce: "GTD", expireTime: this.time + this.rng.range(5, 200) } as Input;
  }

  private cancel() {
    const o = this.rng.pick(this.open);
    return { type: "cancel", accountId: o.accountId, orderId: o.orderId } as const;
  }

  private amend() {
    const o = this.rng.pick(this.open);
    const smaller = this.rng.chance(0.5) && o.quantity - o.filled > 1;
    return {
      type: "amend",
      accountId: o.accountId,
      orderId: o.orderId,
      quantity: smaller ? o.quantity - 1 : 0,
      price: smaller ? 0 : Math.max(1, o.price + this.rng.range(-3, 3)),
    } as const;
  }
}

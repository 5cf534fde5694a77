/**
 * Seeded workload generators. Each stream is generated BEFORE anything is timed, by driving a
 * shadow Engine and reading its events: the generator knows exactly which orders are live (and at
 * which price), so every cancel and move names an order that exists, and the live book shape is
 * steered (orders, levels) from the engine's own state. The timed runs then replay the recorded
 * commands on a fresh Engine, which gives the same events (the engine is deterministic; the final
 * state hash is checked against the shadow's).
 *
 * The same logical stream is recorded for nodejs-order-book (place GTC/IOC, cancel, modify price).
 * Buyers and sellers are disjoint account sets (odd ids buy, even ids sell), so self-trade
 * prevention never fires and both books match order for order; the harness checks that their
 * books are identical after the replayed prefix.
 */
import { defaultConfig, type EngineConfig } from "../../src/engine/config.js";
import { Engine } from "../../src/engine/engine.js";
import type { Command, EngineEvent } from "../../src/engine/types.js";
import { cancelOrder, createAccount, deposit, limitOrder, movePrice } from "./commands.js";
import { type NobOp, nobCancelOp, nobLimitOp, nobMoveOp } from "./nob.js";
import { Rng } from "./rng.js";

export type WorkloadName = "A" | "B" | "C";
export const workloadNames: readonly WorkloadName[] = ["A", "B", "C"];

export const benchConfig: EngineConfig = defaultConfig;
export const benchSymbol = "BTC-USD";
/** $30,000.00 in ticks of 0.01. */
export const midPrice = 3_000_000;
/**
 * Per account: $1,000,000 (USD has 6 decimals) and 1,000 BTC (8 decimals): far more than any hold of
 * these streams, while every asset's total supply (deposits of up to 4,000 accounts) stays below 2^53
 * as on a real exchange, so amounts stay on the number path of src/engine/int.ts.
 */
export const usdDeposit = 1e12;
export const btcDeposit = 1e11;

export interface Book {
  bids: [number, number][];
  asks: [number, number][];
}

export interface WorkloadStats {
  /** Timed commands. */
  commands: number;
  /** Share of the timed commands, in %. */
  mix: { gtc: number; ioc: number; cancel: number; move: number };
  tradesPerCommand: number;
  eventsPerCommand: number;
  /** Share of timed commands that produced at least one trade, in %. */
  tradingCommandsPct: number;
  /** Share of the moves that crossed and traded, in %. */
  tradingMovesPct: number;
  /** Averages over the timed stream (sampled every 64 commands). */
  avgRestingOrders: number;
  avgPriceLevels: number;
  avgOrdersPerLevel: number;
  /** Rejected commands in the whole stream (expected: 0). */
  rejected: number;
  rejectedCodes: Record<string, number>;
}

export interface Workload {
  name: WorkloadName;
  title: string;
  config: EngineConfig;
  accounts: number;
  /** Untimed: accounts, deposits, book prefill and settling commands. */
  setup: Command[];
  /** Timed. */
  bench: Command[];
  nobSetup: NobOp[];
  nobBench: NobOp[];
  /** The engine's book (price ascending) after setup + bench[0, nobPrefix): nodejs-order-book must match it. */
  nobPrefix: number;
  bookAtNobPrefix: Book;
  /** Engine state hash after setup + bench: every timed replay must end there. */
  finalHash: string;
  stats: WorkloadStats;
  generateMs: number;
}

class LiveOrder {
  idx = 0;
  constructor(
    readonly id: number,
    readonly accountId: number,
    readonly isBuy: boolean,
    public price: number,
  ) {}
}

/** The live orders as the shadow engine reports them, with O(1) random pick and removal. */
class LiveSet {
  readonly list: LiveOrder[] = [];
  readonly byId = new Map<number, LiveOrder>();
  readonly perSide = [0, 0];
  /** Orders per level; key: price for bids, -price for asks. */
  readonly levels = new Map<number, number>();

  get size(): number {
    return this.list.length;
  }

  count(isBuy: boolean): number {
    return this.perSide[isBuy ? 0 : 1]!;
  }

  private levelAdd(o: LiveOrder, delta: number): void {
    const key = o.isBuy ? o.price : -o.price;
    const n = (this.levels.get(key) ?? 0) + delta;
    if (n === 0) this.levels.delete(key);
    else this.levels.set(key, n);
  }

  upsert(id: number, accountId: number, isBuy: boolean, price: number): void {
    const o = this.byId.get(id);
    if (o !== undefined) {
      if (o.price !== price) {
        this.levelAdd(o, -1);
        o.price = price;
        this.levelAdd(o, 1);
      }
      return;
    }
    const n = new LiveOrder(id, accountId, isBuy, price);
    n.idx = this.list.length;
    this.list.push(n);
    this.byId.set(id, n);
    this.perSide[isBuy ? 0 : 1]!++;
    this.levelAdd(n, 1);
  }

  remove(id: number): void {
    const o = this.byId.get(id);
    if (o === undefined) return;
    this.byId.delete(id);
    const last = this.list.pop()!;
    if (last !== o) {
      last.idx = o.idx;
      this.list[o.idx] = last;
    }
    this.perSide[o.isBuy ? 0 : 1]!--;
    this.levelAdd(o, -1);
  }

  pick(rng: Rng): LiveOrder | undefined {
    return this.list.length === 0 ? undefined : this.list[rng.int(this.list.length)];
  }
}

/** Drives the shadow engine and records both streams. */
class Generator {
  readonly engine: Engine;
  readonly rng: Rng;
  readonly live = new LiveSet();
  private readonly out: EngineEvent[] = [];
  private seq = 0;
  readonly setup: Command[] = [];
  readonly bench: Command[] = [];
  readonly nobSetup: NobOp[] = [];
  readonly nobBench: NobOp[] = [];
  benchPhase = false;
  lastTradePrice: number;
  nobPrefix = 0;
  bookAtNobPrefix: Book = { bids: [], asks: [] };
  // statistics of the timed part
  private gtc = 0;
  private ioc = 0;
  private cancels = 0;
  private moves = 0;
  private trades = 0;
  private events = 0;
  private tradingCommands = 0;
  private tradingMoves = 0;
  /** Whether the last emitted command traded. */
  traded = false;
  private rejected = 0;
  private readonly rejectedCodes: Record<string, number> = {};
  private samples = 0;
  private ordersSum = 0;
  private levelsSum = 0;

  constructor(
    seed: number,
    readonly accounts: number,
  ) {
    this.engine = new Engine(benchConfig);
    this.rng = new Rng(seed);
    this.lastTradePrice = midPrice;
  }

  /** Accounts 1..n with large deposits of both assets (untimed setup). */
  openAccounts(): void {
    for (let i = 1; i <= this.accounts; i++) this.emit(createAccount(++this.seq));
    for (let i = 1; i <= this.accounts; i++) {
      this.emit(deposit(++this.seq, i, "USD", usdDeposit, `usd-${i}`));
      this.emit(deposit(++this.seq, i, "BTC", btcDeposit, `btc-${i}`));
    }
  }

  /** Odd account ids buy, even ids sell: no account ever meets itself in the book. */
  account(isBuy: boolean): number {
    return 1 + 2 * this.rng.int(this.accounts >> 1) + (isBuy ? 0 : 1);
  }

  /** Applies a command to the shadow engine, follows its events; returns the orderId it placed (0: none). */
  private emit(cmd: Command): number {
    const out = this.out;
    this.engine.apply(cmd, out);
    let placed = 0;
    let traded = false;
    for (let i = 0; i < out.length; i++) {
      const ev = out[i]!;
      if (ev.type === "order") {
        if (ev.reason === "placed" && placed === 0) placed = ev.orderId;
        if (ev.status === "open" || ev.status === "partially_filled") {
          this.live.upsert(ev.orderId, ev.accountId, ev.side === "buy", ev.price);
        } else {
          this.live.remove(ev.orderId);
        }
      } else if (ev.type === "trade") {
        traded = true;
        this.lastTradePrice = ev.price;
        if (this.benchPhase) this.trades++;
      } else if (ev.type === "rejected") {
        this.rejected++;
        this.rejectedCodes[ev.code] = (this.rejectedCodes[ev.code] ?? 0) + 1;
      }
    }
    this.traded = traded;
    if (this.benchPhase) {
      this.bench.push(cmd);
      this.events += out.length;
      if (traded) this.tradingCommands++;
      if ((this.bench.length & 63) === 0) {
        this.samples++;
        this.ordersSum += this.live.size;
        this.levelsSum += this.live.levels.size;
      }
      if (this.bench.length === this.nobPrefix) this.bookAtNobPrefix = engineBook(this.engine);
    } else {
      this.setup.push(cmd);
    }
    out.length = 0;
    return placed;
  }

  private nob(op: NobOp): void {
    (this.benchPhase ? this.nobBench : this.nobSetup).push(op);
  }

  place(isBuy: boolean, price: number, quantity: number, ioc: boolean): void {
    const accountId = this.account(isBuy);
    const id = this.emit(
      limitOrder(++this.seq, accountId, benchSymbol, isBuy, price, quantity, ioc ? "IOC" : "GTC"),
    );
    // One nodejs-order-book op per command: a rejected place (not expected) becomes a no-op cancel.
    this.nob(id !== 0 ? nobLimitOp(id, isBuy, price, quantity, ioc) : nobCancelOp(0));
    if (this.benchPhase) {
      if (ioc) this.ioc++;
      else this.gtc++;
    }
  }

  cancel(o: LiveOrder): void {
    this.emit(cancelOrder(++this.seq, o.accountId, o.id));
    this.nob(nobCancelOp(o.id));
    if (this.benchPhase) this.cancels++;
  }

  move(o: LiveOrder, price: number): void {
    this.emit(movePrice(++this.seq, o.accountId, o.id, price));
    this.nob(nobMoveOp(o.id, price));
    if (this.benchPhase) {
      this.moves++;
      if (this.traded) this.tradingMoves++;
    }
  }

  stats(): WorkloadStats {
    const n = this.bench.length;
    const pct = (x: number) => round((100 * x) / n, 2);
    const avgOrders = this.ordersSum / Math.max(1, this.samples);
    const avgLevels = this.levelsSum / Math.max(1, this.samples);
    return {
      commands: n,
      mix: { gtc: pct(this.gtc), ioc: pct(this.ioc), cancel: pct(this.cancels), move: pct(this.moves) },
      tradesPerCommand: round(this.trades / n, 3),
      eventsPerCommand: round(this.events / n, 2),
      tradingCommandsPct: pct(this.tradingCommands),
      tradingMovesPct: round((100 * this.tradingMoves) / Math.max(1, this.moves), 2),
      avgRestingOrders: Math.round(avgOrders),
      avgPriceLevels: Math.round(avgLevels),
      avgOrdersPerLevel: round(avgOrders / Math.max(1, avgLevels), 1),
      rejected: this.rejected,
      rejectedCodes: this.rejectedCodes,
    };
  }
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Sizes as exchange-core draws them: 1 + a·b·c with a, b, c uniform in 0..5 (1 to 126 lots, mostly small). */
function lots(rng: Rng): number {
  return 1 + rng.int(6) * rng.int(6) * rng.int(6);
}

/** The engine's whole book for the comparison with nodejs-order-book, prices ascending. */
export function engineBook(engine: Engine): Book {
  const book = engine.book(benchSymbol, Number.MAX_SAFE_INTEGER)!;
  const sort = (levels: [number, number][]) => [...levels].sort((a, b) => a[0] - b[0]);
  return { bids: sort(book.bids), asks: sort(book.asks) };
}

function bestPrices(engine: Engine): { bid: number; ask: number } {
  const book = engine.book(benchSymbol, 1)!;
  return { bid: book.bids[0]?.[0] ?? 0, ask: book.asks[0]?.[0] ?? 0 };
}

export interface GenerateOptions {
  commands: number;
  seed: number;
  /** How many timed commands nodejs-order-book replays (its book is compared with the engine's there). */
  nobPrefix: number;
}

/**
 * Workload A, after exchange-core's TestOrdersGenerator: ~1,000 live orders (500 a side) spread over
 * ~750 levels around the last trade price (the moving mid); GTC orders at a distance concentrated near
 * the mid, IOC orders that sweep a few small makers, cancels, and moves. A move shifts a far order 1%
 * of its distance toward the mid (at least one tick), as exchange-core's does; an order within 100
 * ticks of the mid requotes around it, up to 15 ticks through it, so that some moves cross the book
 * and trade (about 1% of moves; exchange-core's pure 1% rule crossed in ~0.02% of moves here).
 * GTC and cancel rates depend on whether the order's side is below its 500 orders, which steers the
 * realized mix to about 9.7% GTC, 3% IOC, 5% cancel, 82% move (printed with the results).
 */
function generateA(opts: GenerateOptions): Generator {
  const g = new Generator(opts.seed, 2000);
  const rng = g.rng;
  const half = 500;
  /** Widest distance of a new GTC order from the mid, in ticks (tuned for ~750 levels). */
  const deviation = 3300;
  /** Orders closer than this to the mid requote around it (up to `through` ticks past it). */
  const near = 100;
  const through = 15;
  const minMid = midPrice - 300_000;
  const maxMid = midPrice + 300_000;
  const mid = () => Math.min(maxMid, Math.max(minMid, g.lastTradePrice));
  const gtc = (isBuy: boolean) => {
    const dev = 1 + Math.floor(rng.float() ** 2 * deviation);
    const s = (rng.float() + rng.float() + rng.float() + rng.float()) / 2 - 1; // in [-1, 1), peaked at 0
    const distance = Math.floor(Math.abs(s) * dev);
    const price = isBuy ? mid() - distance : mid() + distance;
    g.place(isBuy, Math.max(1, price), lots(rng), false);
  };
  const ioc = (isBuy: boolean) => {
    const price = isBuy ? mid() + 4 * deviation : mid() - 4 * deviation;
    g.place(isBuy, Math.max(1, price), lots(rng), true);
  };
  const step = () => {
    const isBuy = rng.int(2) === 0;
    const lacking = g.live.count(isBuy) < half;
    const r = rng.float();
    const pGtc = lacking ? 0.12 : 0.045;
    const pIoc = 0.03;
    const pCancel = lacking ? 0.04 : 0.07;
    const o = g.live.pick(rng);
    if (r < pGtc || o === undefined) {
      gtc(isBuy);
    } else if (r < pGtc + pIoc) {
      ioc(isBuy);
    } else if (r < pGtc + pIoc + pCancel) {
      g.cancel(o);
    } else {
      const m = mid();
      const distance = o.isBuy ? m - o.price : o.price - m;
      if (distance < near) {
        // Requote near the mid, now and then a tick or two through it: these are the moves that trade.
        const offset = rng.int(near) - through;
        let price = Math.max(1, o.isBuy ? m - offset : m + offset);
        // A move always changes the price, as exchange-core's does: at an unchanged price the engine
        // keeps the order's queue position while nodejs-order-book's modify re-queues it, and the books
        // would drift apart.
        if (price === o.price) price += o.price > 1 && rng.int(2) === 0 ? -1 : 1;
        g.move(o, price);
      } else {
        const toward = (m - o.price) * 0.01;
        g.move(o, Math.max(1, o.price + (o.price > m ? Math.floor(toward) : Math.ceil(toward))));
      }
    }
  };
  g.openAccounts();
  while (g.live.count(true) < half || g.live.count(false) < half) {
    gtc(g.live.count(true) < g.live.count(false));
  }
  for (let i = 0; i < 50_000; i++) step();
  g.benchPhase = true;
  g.nobPrefix = opts.nobPrefix;
  for (let i = 0; i < opts.commands; i++) step();
  return g;
}

/**
 * Workload B: random crossing limit orders. Every command is a GTC limit order; about half cross the
 * spread by 0-4 ticks with 1-3 orders' worth of size (sweeping one or more levels, the rest resting),
 * the others join or improve their own side by a few ticks. The share that crosses is steered so the
 * book stays near 2,000 live orders.
 */
function generateB(opts: GenerateOptions): Generator {
  const g = new Generator(opts.seed, 2000);
  const rng = g.rng;
  const target = 2000;
  const step = () => {
    const isBuy = rng.int(2) === 0;
    const { bid, ask } = bestPrices(g.engine);
    const opposite = isBuy ? ask : bid;
    const own = isBuy ? bid : ask;
    const pCross = Math.min(0.8, Math.max(0.2, 0.5 + (g.live.size - target) / (2 * target)));
    if (opposite !== 0 && rng.chance(pCross)) {
      const through = rng.int(5);
      const price = isBuy ? opposite + through : Math.max(1, opposite - through);
      g.place(isBuy, price, lots(rng) * (1 + rng.int(3)), false);
      return;
    }
    const ref = own !== 0 ? own : opposite !== 0 ? (isBuy ? opposite - 1 : opposite + 1) : midPrice;
    let price = isBuy ? ref + 1 - rng.int(12) : ref - 1 + rng.int(12);
    if (opposite !== 0) price = isBuy ? Math.min(price, opposite - 1) : Math.max(price, opposite + 1);
    g.place(isBuy, Math.max(1, price), lots(rng), false);
  };
  g.openAccounts();
  for (let i = 0; i < target; i++) {
    const isBuy = (i & 1) === 0;
    const distance = 1 + Math.floor(rng.float() ** 2 * 100);
    g.place(isBuy, isBuy ? midPrice - distance : midPrice + distance, lots(rng), false);
  }
  for (let i = 0; i < 20_000; i++) step();
  g.benchPhase = true;
  g.nobPrefix = opts.nobPrefix;
  for (let i = 0; i < opts.commands; i++) step();
  return g;
}

/**
 * Workload C: cancel-heavy on deep levels. 10 levels a side with ~500 orders each (~10,000 live
 * orders); cancels of random live orders (anywhere in their level's queue), new GTC orders joining a
 * random level, and a few IOC orders taking from the top. Cancels are steered to balance placements.
 */
function generateC(opts: GenerateOptions): Generator {
  const g = new Generator(opts.seed, 4000);
  const rng = g.rng;
  const levelsPerSide = 10;
  const target = 2 * levelsPerSide * 500;
  const passive = (isBuy: boolean) => {
    const level = rng.int(levelsPerSide);
    g.place(isBuy, isBuy ? midPrice - 1 - level : midPrice + 1 + level, lots(rng), false);
  };
  const step = () => {
    const r = rng.float();
    const isBuy = rng.int(2) === 0;
    if (r < 0.04) {
      g.place(isBuy, isBuy ? midPrice + levelsPerSide : midPrice - levelsPerSide, lots(rng), true);
      return;
    }
    const pCancel = g.live.size > target ? 0.7 : 0.45;
    const o = g.live.pick(rng);
    if (o !== undefined && rng.chance(pCancel)) g.cancel(o);
    else passive(isBuy);
  };
  g.openAccounts();
  for (let i = 0; i < target; i++) passive((i & 1) === 0);
  for (let i = 0; i < 5000; i++) step();
  g.benchPhase = true;
  g.nobPrefix = opts.nobPrefix;
  for (let i = 0; i < opts.commands; i++) step();
  return g;
}

const titles: Record<WorkloadName, string> = {
  A: "exchange-core mix: GTC/IOC/cancel/move, ~1k orders",
  B: "random crossing limit orders",
  C: "cancel-heavy, levels of ~500 orders",
};

export function generateWorkload(name: WorkloadName, opts: GenerateOptions): Workload {
  const t0 = performance.now();
  const gen = name === "A" ? generateA : name === "B" ? generateB : generateC;
  const g = gen({ ...opts, nobPrefix: Math.min(opts.nobPrefix, opts.commands) });
  if (g.nobPrefix === 0) g.bookAtNobPrefix = engineBook(g.engine);
  return {
    name,
    title: titles[name],
    config: benchConfig,
    accounts: g.accounts,
    setup: g.setup,
    bench: g.bench,
    nobSetup: g.nobSetup,
    nobBench: g.nobBench,
    nobPrefix: g.nobPrefix,
    bookAtNobPrefix: g.bookAtNobPrefix,
    finalHash: g.engine.stateHash(),
    stats: g.stats(),
    generateMs: performance.now() - t0,
  };
}

/**
 * What the generated stream should look like; anything else means the engine's events changed
 * meaning (or the dist/ build was mid-rewrite while the benchmark ran) and the figures are suspect.
 */
export function shapeProblems(name: WorkloadName, s: WorkloadStats): string[] {
  const problems: string[] = [];
  const within = (what: string, x: number, lo: number, hi: number) => {
    if (!(x >= lo && x <= hi)) problems.push(`${what} ${x} is outside ${lo}-${hi}`);
  };
  if (name === "A") {
    within("resting orders", s.avgRestingOrders, 800, 1200);
    within("price levels", s.avgPriceLevels, 600, 900);
    within("move %", s.mix.move, 78, 86);
  } else if (name === "B") {
    within("resting orders", s.avgRestingOrders, 1000, 4000);
    within("trades per command", s.tradesPerCommand, 0.3, 3);
  } else {
    within("orders per level", s.avgOrdersPerLevel, 300, 700);
    within("cancel %", s.mix.cancel, 35, 70);
  }
  return problems;
}

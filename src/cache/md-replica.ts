/**
 * The public market data of an API node (docs/cache-bus.md): book replicas and recent trades kept from
 * the bus, joined to the snapshots the publisher (src/cache/md-publisher.ts) writes to the cache, and
 * candles read through the cache.
 *
 * Sync: read the publisher's watermark, then every market's book, trades and ticker snapshot (each
 * carries `at`, the seq of the last batch it includes, raised to the watermark's: a quiet market's
 * snapshot is still its state then), subscribe to the bus from the smallest `at`, and apply each batch to each kind of
 * each market only when its seq is above that kind's `at`. A book update must carry the market's
 * sequence + 1 (docs/marketdata.md, the sequence rule); anything else, or `onGap` from the bus, means
 * batches were missed: the replica then resyncs EVERY market the same way (one rule, no partial
 * catch-up to get wrong). While it resyncs (retrying with a capped backoff while the cache is unreachable
 * or the snapshots are not written yet), it keeps serving the last data it had and reports `stale`.
 *
 * Book replicas are level maps kept sorted by price. Prices are decimal strings with the market's tick
 * decimals, never negative, without leading zeros: comparing by length, then lexicographically, is
 * comparing numerically, with no parsing. A book snapshot holds marketDataLimits.bookDepthMax levels a
 * side at most; updates of deeper levels are kept as they come (docs/marketdata.md allows either).
 */
import type { SettledConfig } from "../engine/config.js";
import { marketDataLimits } from "../limits.js";
import type {
  BookView,
  CandleInterval,
  CandleView,
  LevelView,
  TickerView,
} from "../marketdata/marketdata.js";
import { candleIntervals } from "../marketdata/stats.js";
import type { TradeView } from "../marketdata/views.js";
import type { BusBatch, BusSubscription, MarketDataBus, PublicUpdate } from "./bus.js";
import type { Cache } from "./cache.js";
import { candleKey, watermarkKey } from "./md-publisher.js";
import type { PublicMarketData } from "./public-market-data.js";

export interface MarketDataReplicaOptions {
  config: SettledConfig;
  bus: MarketDataBus;
  cache: Cache;
  /** How long a candles read from the cache is reused. Default 250 ms. */
  candlesMemoMs?: number;
  /** Recent trades kept per market. Default marketDataLimits.tradesPerMarketMax. */
  tradesMax?: number;
  /** Levels a side one book query returns at most. Default marketDataLimits.bookDepthMax. */
  bookDepthMax?: number;
  /** Resync backoff bounds (ms). Defaults 50 and 2,000. */
  retryMinMs?: number;
  retryMaxMs?: number;
  log?: (message: string) => void;
}

export interface MarketDataReplicaStats {
  /** Completed syncs (the first one included). */
  resyncs: number;
  /** Gaps seen: a book sequence that did not follow, or the bus's onGap. */
  gaps: number;
  /** Seq of the last batch applied. */
  lastSeq: number;
  /** Batches applied. */
  batches: number;
  /** Snapshot reads that found the cache unreachable or a snapshot missing. */
  snapshotMisses: number;
  /** Wall clock minus the exchange time of the last ticker received (null before any): approximate lag. */
  lagMs: number | null;
}

interface BookSnapshot {
  symbol: string;
  sequence: number;
  at: number;
  bids: LevelView[];
  asks: LevelView[];
}

interface TradesSnapshot {
  at: number;
  trades: TradeView[];
}

type TickerSnapshot = TickerView & { at: number };

/** Numeric order of non-negative decimal strings with the same number of decimals. */
function comparePrices(a: string, b: string): number {
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Price → quantity, prices kept sorted ascending. */
export class SortedLevels {
  readonly prices: string[] = [];
  readonly quantities = new Map<string, string>();
  /**
   * The snapshot had as many levels as it may hold: the side may go deeper than what is known here.
   * Once such a side has fewer levels than that, levels from beyond the snapshot may be missing.
   */
  truncated = false;

  private search(price: string): number {
    let lo = 0;
    let hi = this.prices.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (comparePrices(this.prices[mid]!, price) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  set(price: string, quantity: string): void {
    if (quantity === "0") {
      if (this.quantities.delete(price)) this.prices.splice(this.search(price), 1);
      return;
    }
    if (!this.quantities.has(price)) this.prices.splice(this.search(price), 0, price);
    this.quantities.set(price, quantity);
  }

  clear(): void {
    this.prices.length = 0;
    this.quantities.clear();
    this.truncated = false;
  }

  /** At most `depth` levels, best first (highest first for bids). */
  levels(depth: number, highestFirst: boolean): LevelView[] {
    const out: LevelView[] = [];
    const n = this.prices.length;
    for (let k = 0; k < n && out.length < depth; k++) {
      const price = this.prices[highestFirst ? n - 1 - k : k]!;
      out.push([price, this.quantities.get(price)!]);
    }
    return out;
  }
}

/** The newest `capacity` trades. */
class Trades {
  private readonly items: TradeView[] = [];
  private head = -1;

  constructor(readonly capacity: number) {}

  push(t: TradeView): void {
    if (this.items.length < this.capacity) {
      this.items.push(t);
      this.head = this.items.length - 1;
    } else {
      this.head = (this.head + 1) % this.capacity;
      this.items[this.head] = t;
    }
  }

  clear(): void {
    this.items.length = 0;
    this.head = -1;
  }

  newestFirst(limit: number): TradeView[] {
    const n = Math.min(limit, this.items.length);
    const out: TradeView[] = [];
    for (let k = 0; k < n; k++)
      out.push(this.items[(this.head - k + this.items.length) % this.items.length]!);
    return out;
  }
}

class ReplicaMarket {
  readonly bids = new SortedLevels();
  readonly asks = new SortedLevels();
  sequence = 0;
  /** Seqs the snapshots of each kind include (batches up to these are in them). */
  bookAt = -1;
  tradesAt = -1;
  tickerAt = -1;
  readonly trades: Trades;
  ticker: TickerView | null = null;

  constructor(
    readonly symbol: string,
    tradesMax: number,
  ) {
    this.trades = new Trades(tradesMax);
  }

  install(book: BookSnapshot, trades: TradesSnapshot, ticker: TickerSnapshot, depthMax: number): void {
    this.bids.clear();
    this.asks.clear();
    for (const [p, q] of book.bids) this.bids.set(p, q);
    for (const [p, q] of book.asks) this.asks.set(p, q);
    this.bids.truncated = book.bids.length >= depthMax;
    this.asks.truncated = book.asks.length >= depthMax;
    this.sequence = book.sequence;
    this.bookAt = book.at;
    this.trades.clear();
    for (let i = trades.trades.length - 1; i >= 0; i--) this.trades.push(trades.trades[i]!);
    this.tradesAt = trades.at;
    const { at, ...view } = ticker;
    this.ticker = view;
    this.tickerAt = at;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const isSeq = (x: unknown): x is number => typeof x === "number" && Number.isSafeInteger(x);

function validLevels(levels: unknown): boolean {
  return (
    Array.isArray(levels) &&
    levels.every((l) => Array.isArray(l) && typeof l[0] === "string" && typeof l[1] === "string")
  );
}

/** A snapshot as the publisher writes it (anything else in the cache is treated as missing). */
function validBook(b: BookSnapshot | undefined): b is BookSnapshot {
  return (
    b !== undefined &&
    b !== null &&
    isSeq(b.at) &&
    isSeq(b.sequence) &&
    validLevels(b.bids) &&
    validLevels(b.asks)
  );
}

function validTrades(t: TradesSnapshot | undefined): t is TradesSnapshot {
  return t !== undefined && t !== null && isSeq(t.at) && Array.isArray(t.trades);
}

function validTicker(t: TickerSnapshot | undefined): t is TickerSnapshot {
  return t !== undefined && t !== null && isSeq(t.at) && typeof t.symbol === "string";
}

function parse<T>(text: string | undefined): T | undefined {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined;
  }
}

export class MarketDataReplica implements PublicMarketData {
  readonly stats: MarketDataReplicaStats = {
    resyncs: 0,
    gaps: 0,
    lastSeq: -1,
    batches: 0,
    snapshotMisses: 0,
    lagMs: null,
  };
  private readonly bus: MarketDataBus;
  private readonly cache: Cache;
  private readonly symbols: string[];
  private readonly markets = new Map<string, ReplicaMarket>();
  private readonly candlesMemoMs: number;
  private readonly bookDepthMax: number;
  private readonly tradesMax: number;
  private readonly retryMinMs: number;
  private readonly retryMaxMs: number;
  private readonly log: (message: string) => void;
  private readonly candleMemo = new Map<
    string,
    { time: number; candles: Promise<CandleView[] | undefined> }
  >();
  private readonly updateListeners = new Set<(updates: PublicUpdate[]) => void>();
  private readonly resyncListeners = new Set<(symbol: string) => void>();
  private subscription: BusSubscription | null = null;
  private generation = 0;
  private syncing: Promise<void> | null = null;
  private started = false;
  private closed = false;
  private synced = false;
  private isStale = true;
  private resyncWanted = false;
  private readonly firstSync: Promise<void>;
  private firstSynced: () => void = () => {};
  /** When the last sync completed (ms), and the wait before the next one if it follows closely. */
  private lastSyncAt = 0;
  private resyncDelay = 0;

  constructor(options: MarketDataReplicaOptions) {
    this.bus = options.bus;
    this.cache = options.cache;
    this.symbols = options.config.markets.map((m) => m.symbol);
    this.tradesMax = options.tradesMax ?? marketDataLimits.tradesPerMarketMax;
    this.bookDepthMax = options.bookDepthMax ?? marketDataLimits.bookDepthMax;
    this.candlesMemoMs = options.candlesMemoMs ?? 250;
    this.retryMinMs = options.retryMinMs ?? 50;
    this.retryMaxMs = options.retryMaxMs ?? 2_000;
    this.log = options.log ?? ((m) => console.error(m));
    for (const s of this.symbols) this.markets.set(s, new ReplicaMarket(s, this.tradesMax));
    this.firstSync = new Promise((resolve) => {
      this.firstSynced = resolve;
    });
  }

  /** Every market synced at least once. */
  get ready(): boolean {
    return this.synced;
  }

  /** Resyncing, never synced, or the bus unreachable: the data served may be behind. */
  get stale(): boolean {
    return this.isStale || !this.bus.healthy;
  }

  /**
   * Syncs from the cache and the bus; resolves once every market is synced (retrying meanwhile), or
   * when the replica is closed.
   */
  start(): Promise<void> {
    if (!this.started) {
      this.started = true;
      this.resync();
    }
    return this.firstSync;
  }

  /** Every batch applied: the updates that passed the sequence checks. Returns an unsubscribe function. */
  onUpdates(listener: (updates: PublicUpdate[]) => void): () => void {
    this.updateListeners.add(listener);
    return () => this.updateListeners.delete(listener);
  }

  /** A market was resynced from its snapshot: its book may have moved in any way (send a fresh one). */
  onResync(listener: (symbol: string) => void): () => void {
    this.resyncListeners.add(listener);
    return () => this.resyncListeners.delete(listener);
  }

  private gap(why: string): void {
    this.stats.gaps++;
    if (this.stats.gaps <= 10 || this.stats.gaps % 100 === 0)
      this.log(`market-data replica: ${why}: resyncing every market (gap ${this.stats.gaps})`);
    this.resync();
  }

  private resync(): void {
    if (this.closed) return;
    this.generation++;
    this.subscription?.close();
    this.subscription = null;
    this.isStale = true;
    this.resyncWanted = true;
    if (this.syncing === null) this.syncing = this.runSyncs();
  }

  /** Syncs while one is wanted (a gap may come from the replay right after a sync). */
  private async runSyncs(): Promise<void> {
    try {
      while (this.resyncWanted && !this.closed) {
        this.resyncWanted = false;
        await this.syncLoop();
      }
    } catch (error) {
      this.log(`market-data replica: sync failed: ${(error as Error)?.message ?? error}`);
    } finally {
      this.syncing = null;
    }
  }

  private async syncLoop(): Promise<void> {
    // A gap soon after a sync (the snapshots did not include the missed batch yet): wait a little
    // longer each time, so that a resync loop never spins (nor starves the publisher's timer in-process).
    if (this.lastSyncAt > 0) {
      const since = Date.now() - this.lastSyncAt;
      this.resyncDelay = since > 2 * this.retryMaxMs ? 0 : Math.max(this.retryMinMs, this.resyncDelay * 2);
      this.resyncDelay = Math.min(this.resyncDelay, this.retryMaxMs);
      if (this.resyncDelay > 0) await sleep(this.resyncDelay);
    }
    let delay = this.retryMinMs;
    while (!this.closed) {
      const generation = ++this.generation;
      const snapshots = await this.readSnapshots();
      if (this.closed) return;
      if (snapshots === null || generation !== this.generation) {
        this.stats.snapshotMisses++;
        await sleep(delay);
        delay = Math.min(delay * 2, this.retryMaxMs);
        continue;
      }
      let from = Number.POSITIVE_INFINITY;
      for (const [i, symbol] of this.symbols.entries()) {
        const [book, trades, ticker] = snapshots[i]!;
        this.markets.get(symbol)!.install(book, trades, ticker, this.bookDepthMax);
        from = Math.min(from, book.at, trades.at, ticker.at);
      }
      if (!Number.isFinite(from)) from = -1;
      this.stats.lastSeq = from;
      this.subscription = this.bus.subscribe(from, {
        onBatch: (batch) => {
          if (generation === this.generation) this.apply(batch);
        },
        onGap: (afterSeq) => {
          if (generation === this.generation) this.gap(`the bus lost batches after seq ${afterSeq}`);
        },
      });
      this.stats.resyncs++;
      this.lastSyncAt = Date.now();
      this.synced = true;
      this.firstSynced();
      this.isStale = false;
      for (const symbol of this.symbols) this.emit(this.resyncListeners, symbol);
      return;
    }
  }

  /** Every market's [book, trades, ticker] snapshots, or null if one is missing. */
  private async readSnapshots(): Promise<[BookSnapshot, TradesSnapshot, TickerSnapshot][] | null> {
    try {
      // The watermark first: the snapshots read after it are at least as new as what it vouches for.
      const watermark = parse<{ at: number }>(await this.cache.get("book", watermarkKey))?.at ?? -1;
      const [books, trades, tickers] = await Promise.all([
        this.cache.getMany("book", this.symbols),
        this.cache.getMany("trades", this.symbols),
        this.cache.getMany("ticker", this.symbols),
      ]);
      const out: [BookSnapshot, TradesSnapshot, TickerSnapshot][] = [];
      for (let i = 0; i < this.symbols.length; i++) {
        const book = parse<BookSnapshot>(books[i]);
        const trade = parse<TradesSnapshot>(trades[i]);
        const ticker = parse<TickerSnapshot>(tickers[i]);
        if (!validBook(book) || !validTrades(trade) || !validTicker(ticker)) return null;
        book.at = Math.max(book.at, watermark);
        trade.at = Math.max(trade.at, watermark);
        ticker.at = Math.max(ticker.at, watermark);
        out.push([book, trade, ticker]);
      }
      return out;
    } catch {
      return null;
    }
  }

  private apply(batch: BusBatch): void {
    if (batch.seq <= this.stats.lastSeq) return;
    // Check every book update first: a gap drops the batch and resyncs. A batch holds one update per
    // command that changed a book, so one market may have several, each +1 from the one before.
    let expected: Map<string, number> | null = null;
    for (const u of batch.updates) {
      if (u.channel !== "book") continue;
      const m = this.markets.get(u.symbol);
      if (m === undefined || batch.seq <= m.bookAt) continue;
      expected ??= new Map();
      const previous = expected.get(u.symbol) ?? m.sequence;
      if (u.sequence !== previous + 1) {
        this.gap(`${u.symbol}: book sequence ${u.sequence} after ${previous} (batch seq ${batch.seq})`);
        return;
      }
      expected.set(u.symbol, u.sequence);
    }
    const applied: PublicUpdate[] = [];
    for (const u of batch.updates) {
      const m = this.markets.get(u.symbol);
      if (m === undefined) continue;
      if (u.channel === "book") {
        if (batch.seq <= m.bookAt) continue;
        for (const [p, q] of u.bids) m.bids.set(p, q);
        for (const [p, q] of u.asks) m.asks.set(p, q);
        m.sequence = u.sequence;
      } else if (u.channel === "trades") {
        if (batch.seq <= m.tradesAt) continue;
        for (const t of u.trades) m.trades.push(t);
      } else if (u.channel === "ticker") {
        if (batch.seq <= m.tickerAt) continue;
        const { channel: _, ...view } = u;
        m.ticker = view;
        if (view.time !== null) this.stats.lagMs = Date.now() - view.time;
      } else continue;
      applied.push(u);
    }
    this.stats.lastSeq = batch.seq;
    this.stats.batches++;
    if (applied.length > 0) this.emit(this.updateListeners, applied);
    // A side deeper than its snapshot lost levels: what was beyond the snapshot is now within reach
    // of a query and unknown here. A fresh snapshot has it (the publisher rewrites changed books).
    for (const u of applied) {
      if (u.channel !== "book") continue;
      const m = this.markets.get(u.symbol)!;
      if (
        (m.bids.truncated && m.bids.prices.length < this.bookDepthMax) ||
        (m.asks.truncated && m.asks.prices.length < this.bookDepthMax)
      ) {
        this.gap(`${u.symbol}: the book is deeper than its snapshot's ${this.bookDepthMax} levels a side`);
        return;
      }
    }
  }

  private emit<T>(listeners: Set<(value: T) => void>, value: T): void {
    for (const listener of listeners) {
      try {
        listener(value);
      } catch (error) {
        this.log(`market-data replica: a listener threw: ${(error as Error)?.message ?? error}`);
      }
    }
  }

  /**
   * The queries answer undefined for an unknown symbol and before the first sync (the replica knows
   * nothing yet: not an empty book). While it resyncs they answer what it last had (`stale`).
   */
  book(symbol: string, depth: number = this.bookDepthMax): BookView | undefined {
    const m = this.synced ? this.markets.get(symbol) : undefined;
    if (m === undefined) return undefined;
    const d = depth > 0 ? Math.min(Math.floor(depth), this.bookDepthMax) : 0;
    return { symbol, sequence: m.sequence, bids: m.bids.levels(d, true), asks: m.asks.levels(d, false) };
  }

  trades(symbol: string, limit: number = this.tradesMax): TradeView[] | undefined {
    const m = this.synced ? this.markets.get(symbol) : undefined;
    if (m === undefined) return undefined;
    return limit > 0 ? m.trades.newestFirst(Math.min(Math.floor(limit), this.tradesMax)) : [];
  }

  ticker(symbol: string): TickerView | undefined {
    const m = this.synced ? this.markets.get(symbol) : undefined;
    if (m === undefined) return undefined;
    return (
      m.ticker ?? {
        symbol,
        last: null,
        bestBid: null,
        bestAsk: null,
        volume24h: "0",
        high24h: null,
        low24h: null,
        time: null,
      }
    );
  }

  /**
   * Candles from the cache (what the publisher rendered last), the read reused for candlesMemoMs;
   * start times within [from, to], oldest first, the newest `limit`. Undefined when the cache is
   * unreachable or holds no candles for the market (not an empty list: that would say "no trades").
   */
  async candles(
    symbol: string,
    interval: CandleInterval,
    from?: number,
    to?: number,
    limit?: number,
  ): Promise<CandleView[] | undefined> {
    if (!this.synced || !this.markets.has(symbol)) return undefined;
    if (!candleIntervals.includes(interval))
      throw new Error(`marketdata: unknown candle interval ${interval}`);
    const key = candleKey(symbol, interval);
    const now = Date.now();
    let memo = this.candleMemo.get(key);
    if (memo === undefined || now - memo.time >= this.candlesMemoMs) {
      const candles = this.cache.get("candles", key).then(
        (text) => parse<{ candles: CandleView[] }>(text)?.candles,
        () => undefined,
      );
      memo = { time: now, candles };
      this.candleMemo.set(key, memo);
    }
    const all = await memo.candles;
    if (!Array.isArray(all)) return undefined;
    const lo = from ?? Number.NEGATIVE_INFINITY;
    const hi = to ?? Number.POSITIVE_INFINITY;
    const selected = all.filter((c) => c.time >= lo && c.time <= hi);
    return limit !== undefined && limit >= 0 && selected.length > limit
      ? selected.slice(selected.length - Math.floor(limit))
      : selected;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.firstSynced();
    this.generation++;
    this.subscription?.close();
    this.subscription = null;
    await this.syncing;
  }
}

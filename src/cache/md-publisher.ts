/**
 * The market-data publisher, in the process that matches (docs/cache-bus.md): after each durable batch
 * went through `MarketData.apply`, `publish(seq, updates)` puts the batch's public updates (book, trades,
 * ticker) on the bus and marks their markets dirty; a timer writes the snapshots of dirty markets to the
 * cache at most every cacheLimits.snapshotEveryMs:
 *
 *   book     SYMBOL            {symbol, sequence, at, bids, asks}   full depth (marketDataLimits.bookDepthMax)
 *   trades   SYMBOL            {at, trades}                         newest first
 *   ticker   SYMBOL            {at, ...TickerView}
 *   candles  SYMBOL:interval   {at, candles}                        1m 5m 1h 1d, oldest first
 *
 * `at` is the seq of the last batch applied to MarketData when the snapshot was rendered (rendering is
 * synchronous, between two batches): the snapshot joins the bus stream right after `at`, so a replica
 * reads it and applies the bus batches with seq > at. Candles, heavier (4 × candlesPerIntervalMax per
 * market), are rewritten at most every candlesEveryMs (1 s) for markets that traded.
 *
 * Every market is written at `start()`, again when the cache or the bus is healthy again after an outage
 * (a Redis restarted empty lost the snapshots) and every third of the shortest TTL, so that a quiet
 * market's entries never expire. Nothing here throws into the caller: a failing cache or bus only counts.
 */
import { cacheLimits } from "../limits.js";
import {
  type CandleInterval,
  candleIntervals,
  type MarketData,
  type MarketDataUpdate,
} from "../marketdata/index.js";
import type { MarketDataBus, PublicUpdate } from "./bus.js";
import { type Cache, type CacheKind, cachePolicies } from "./cache.js";

export interface MarketDataPublisherOptions {
  marketData: MarketData;
  bus: MarketDataBus;
  cache: Cache;
  /** The markets (configuration order). Default: marketData.symbols(). */
  symbols?: readonly string[];
  /** Seq of the last batch already applied to marketData (engine.lastSeq after recovery). Default 0. */
  lastSeq?: number;
  /** Default cacheLimits.snapshotEveryMs. */
  snapshotEveryMs?: number;
  /** How often the candles of markets that traded are rewritten (they are heavier). Default 1,000 ms. */
  candlesEveryMs?: number;
  /** Full rewrite period. Default: a third of the shortest market-data TTL. */
  refreshEveryMs?: number;
  log?: (message: string) => void;
}

export interface MarketDataPublisherStats {
  /** Batches given to `publish`. */
  batches: number;
  /** Batches put on the bus (those with public updates). */
  published: number;
  /** Snapshot writes (one market, every kind) and full rewrites. */
  snapshots: number;
  fullRewrites: number;
  /** Exceptions caught (rendering, bus, cache). */
  errors: number;
  lastSeq: number;
}

function isPublic(u: MarketDataUpdate): u is PublicUpdate {
  return u.channel === "book" || u.channel === "trades" || u.channel === "ticker";
}

/** Duck-typed: backends that count their reconnections (RedisMarketDataBus) expose this. */
function epochOf(x: unknown): number {
  const e = (x as { connectionEpoch?: unknown }).connectionEpoch;
  return typeof e === "number" ? e : 0;
}

export class MarketDataPublisher {
  readonly stats: MarketDataPublisherStats;
  private readonly md: MarketData;
  private readonly bus: MarketDataBus;
  private readonly cache: Cache;
  private readonly symbols: readonly string[];
  private readonly known: Set<string>;
  /** Markets whose book, trades or ticker changed since their last snapshot. */
  private readonly dirty = new Set<string>();
  /** Markets that traded since their trades snapshot (1,000 trades: rendered only when they change). */
  private readonly tradesDirty = new Set<string>();
  /** Markets that traded since their candles were last written. */
  private readonly candlesDirty = new Set<string>();
  private candlesNow = false;
  private lastCandlesAt = 0;
  private readonly candlesEveryMs: number;
  private readonly snapshotEveryMs: number;
  private readonly refreshEveryMs: number;
  private readonly log: (message: string) => void;
  private timer: NodeJS.Timeout | null = null;
  private writing: Promise<void> | null = null;
  private lastFull = 0;
  private wasHealthy = true;
  private epochs: [number, number] = [0, 0];
  private closed = false;

  constructor(options: MarketDataPublisherOptions) {
    this.md = options.marketData;
    this.bus = options.bus;
    this.cache = options.cache;
    this.symbols = options.symbols ?? options.marketData.symbols();
    this.known = new Set(this.symbols);
    this.snapshotEveryMs = options.snapshotEveryMs ?? cacheLimits.snapshotEveryMs;
    this.candlesEveryMs = options.candlesEveryMs ?? Math.max(1_000, this.snapshotEveryMs);
    const ttl = Math.min(cachePolicies.book.ttlMs, cachePolicies.trades.ttlMs, cachePolicies.ticker.ttlMs);
    this.refreshEveryMs = options.refreshEveryMs ?? Math.floor(ttl / 3);
    this.log = options.log ?? ((m) => console.error(m));
    this.stats = {
      batches: 0,
      published: 0,
      snapshots: 0,
      fullRewrites: 0,
      errors: 0,
      lastSeq: options.lastSeq ?? 0,
    };
  }

  /**
   * Writes every market's snapshots, then keeps them fresh from a timer (unref'd). Never rejects.
   * `lastSeq`: the seq of the last batch already applied to marketData (overrides the option).
   */
  async start(lastSeq?: number): Promise<void> {
    if (this.closed || this.timer !== null) return;
    if (lastSeq !== undefined) this.stats.lastSeq = lastSeq;
    this.wasHealthy = this.healthy();
    this.epochs = [epochOf(this.bus), epochOf(this.cache)];
    this.timer = setInterval(() => this.tick(), this.snapshotEveryMs);
    this.timer.unref();
    this.markAll();
    await this.flush();
  }

  /** Once per durable batch, after MarketData.apply returned `updates`. Never throws. */
  publish(seq: number, updates: readonly MarketDataUpdate[]): void {
    try {
      this.stats.batches++;
      this.stats.lastSeq = seq;
      let pub: PublicUpdate[] | null = null;
      for (const u of updates) {
        if (!isPublic(u)) continue;
        (pub ??= []).push(u);
        this.dirty.add(u.symbol);
        if (u.channel === "trades") {
          this.tradesDirty.add(u.symbol);
          this.candlesDirty.add(u.symbol);
        }
      }
      if (pub !== null) {
        this.stats.published++;
        this.bus.publish({ seq, updates: pub });
      }
    } catch (error) {
      this.failed("publish", error);
    }
  }

  private healthy(): boolean {
    return this.bus.healthy && this.cache.healthy;
  }

  private markAll(): void {
    for (const s of this.symbols) {
      this.dirty.add(s);
      this.tradesDirty.add(s);
      this.candlesDirty.add(s);
    }
    this.candlesNow = true;
    this.lastFull = Date.now();
    this.stats.fullRewrites++;
  }

  private tick(): void {
    try {
      const healthy = this.healthy();
      const epochs: [number, number] = [epochOf(this.bus), epochOf(this.cache)];
      const reconnected = epochs[0] !== this.epochs[0] || epochs[1] !== this.epochs[1];
      this.epochs = epochs;
      if ((healthy && !this.wasHealthy) || reconnected || Date.now() - this.lastFull >= this.refreshEveryMs)
        this.markAll();
      this.wasHealthy = healthy;
      // While the cache is unreachable the writes would only be dropped: keep the marks for later.
      const candlesDue = this.candlesDirty.size > 0 && Date.now() - this.lastCandlesAt >= this.candlesEveryMs;
      if (this.writing === null && (this.dirty.size > 0 || candlesDue) && this.cache.healthy)
        void this.flush();
    } catch (error) {
      this.failed("snapshot timer", error);
    }
  }

  /**
   * Renders the dirty markets now (synchronously, so `at` is exact) and writes them; their candles too
   * when due (candlesEveryMs), on a full rewrite, or when `allCandles`.
   */
  private flush(allCandles = false): Promise<void> {
    if (this.writing !== null) return this.writing.then(() => this.flush(allCandles));
    const now = Date.now();
    const candles =
      this.candlesDirty.size > 0 &&
      (allCandles || this.candlesNow || now - this.lastCandlesAt >= this.candlesEveryMs);
    if (this.dirty.size === 0 && !candles) return Promise.resolve();
    const writes: Promise<void>[] = [];
    const at = this.stats.lastSeq;
    for (const symbol of this.dirty) {
      if (!this.known.has(symbol)) continue;
      try {
        this.render(symbol, at, writes);
        this.stats.snapshots++;
      } catch (error) {
        this.failed(`snapshot of ${symbol}`, error);
      }
    }
    this.dirty.clear();
    this.tradesDirty.clear();
    if (candles) {
      for (const symbol of this.candlesDirty) {
        if (!this.known.has(symbol)) continue;
        try {
          this.renderCandles(symbol, at, writes);
        } catch (error) {
          this.failed(`candles of ${symbol}`, error);
        }
      }
      this.candlesDirty.clear();
      this.candlesNow = false;
      this.lastCandlesAt = now;
    }
    const lost = this.cacheLosses();
    const done = Promise.allSettled(writes)
      .then(async (results) => {
        let ok = true;
        for (const r of results) {
          if (r.status === "rejected") {
            ok = false;
            this.failed("cache write", r.reason);
          }
        }
        // Every snapshot write of this flush landed: every market's snapshot is its state at `at`
        // (the others did not change since theirs). Say so, so that replicas need the bus only from here.
        if (ok && this.cacheLosses() === lost) {
          await this.cache.set("book", watermarkKey, JSON.stringify({ at }));
          if (this.cacheLosses() !== lost) this.markAll();
        } else this.markAll();
      })
      .catch((error: unknown) => this.failed("watermark", error))
      .finally(() => {
        this.writing = null;
      });
    this.writing = done;
    return done;
  }

  /** The cache's failed or dropped operations so far (a snapshot write may have been lost). */
  private cacheLosses(): number {
    return this.cache.stats.errors + this.cache.stats.dropped;
  }

  private set(kind: CacheKind, key: string, value: unknown, writes: Promise<void>[]): void {
    writes.push(this.cache.set(kind, key, JSON.stringify(value)));
  }

  private render(symbol: string, at: number, writes: Promise<void>[]): void {
    const md = this.md;
    const book = md.book(symbol, md.limits.bookDepthMax);
    if (book === undefined) return;
    const snapshot = { symbol, sequence: book.sequence, at, bids: book.bids, asks: book.asks };
    this.set("book", symbol, snapshot, writes);
    if (this.tradesDirty.has(symbol))
      this.set("trades", symbol, { at, trades: md.trades(symbol, md.limits.tradesPerMarketMax) }, writes);
    this.set("ticker", symbol, { at, ...md.ticker(symbol) }, writes);
  }

  private renderCandles(symbol: string, at: number, writes: Promise<void>[]): void {
    for (const interval of candleIntervals) {
      const candles = this.md.candles(symbol, interval);
      if (candles !== undefined) this.set("candles", candleKey(symbol, interval), { at, candles }, writes);
    }
  }

  private failed(what: string, error: unknown): void {
    this.stats.errors++;
    if (this.stats.errors <= 10 || this.stats.errors % 1_000 === 0)
      this.log(
        `market-data publisher: ${what} failed (${this.stats.errors}): ${(error as Error)?.message ?? error}`,
      );
  }

  /** Stops the timer and writes what is dirty. Closes neither the bus nor the cache. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    try {
      await this.flush(true);
    } catch (error) {
      this.failed("final flush", error);
    }
  }
}

/**
 * Key (kind "book"; no symbol contains "*") of `{at}`: written after a flush whose snapshot writes all
 * landed. Every market's snapshot then holds its state at `at` (those not rewritten did not change), so a
 * replica may treat every snapshot's `at` as at least this one and read the bus from there only, however
 * long ago a quiet market's own snapshot was rendered.
 */
export const watermarkKey = "*";

export function candleKey(symbol: string, interval: CandleInterval): string {
  return `${symbol}:${interval}`;
}

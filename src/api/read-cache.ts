/**
 * Public reads (book, trades, ticker, candles) answered from the cache: the rendered JSON of an answer
 * is kept in the in-process `Cache` (src/cache/memory-cache.ts) under a key that carries the market's
 * version, and the version moves on with every update of that market that reaches this process. A
 * read after an update therefore never sees the answer from before it (no stale data), and a burst of
 * reads between two updates renders once. The source behind the cache is the process's own market
 * data (MarketData next to the engine, MarketDataReplica on an API node): never the engine.
 *
 * Tickers also move with the clock (the 24 h window), so their entries live at most tickerMaxAgeMs.
 */

import type { PublicUpdate } from "../cache/bus.js";
import type { Cache, CacheKind } from "../cache/cache.js";
import type { PublicMarketData } from "../cache/public-market-data.js";
import type { CandleInterval } from "../marketdata/marketdata.js";

/** A ticker answer is at most this old (its 24 h window follows the clock). */
const tickerMaxAgeMs = 1_000;
/** Candle answers are keyed by their query; a new trade moves the market's version on. */
const candlesMaxAgeMs = 1_000;

export interface ReadCacheStats {
  hits: number;
  renders: number;
}

export class ReadCache {
  /** Market → version: moves on with every book/trades/ticker update of that market. */
  private readonly versions = new Map<string, number>();
  readonly stats: ReadCacheStats = { hits: 0, renders: 0 };

  /**
   * `current`: false while the source may be behind (an API node resyncing): reads then answer
   * undefined (MARKET_DATA_UNAVAILABLE), cached answers included.
   */
  constructor(
    private readonly cache: Cache,
    private readonly source: PublicMarketData,
    private readonly current: () => boolean = () => true,
  ) {}

  /** Every update that reaches this process goes through here before it is served or sent. */
  invalidate(updates: readonly PublicUpdate[]): void {
    for (let i = 0; i < updates.length; i++) this.bump(updates[i]!.symbol);
  }

  /** A market whose data was replaced wholesale (an API node's resync). */
  bump(symbol: string): void {
    this.versions.set(symbol, (this.versions.get(symbol) ?? 0) + 1);
  }

  book(symbol: string, depth: number): Promise<string | undefined> {
    return this.read("book", symbol, `${depth}`, () => this.source.book(symbol, depth));
  }

  trades(symbol: string, limit: number): Promise<string | undefined> {
    return this.read("trades", symbol, `${limit}`, () => this.source.trades(symbol, limit));
  }

  ticker(symbol: string): Promise<string | undefined> {
    return this.read("ticker", symbol, "", () => this.source.ticker(symbol), tickerMaxAgeMs);
  }

  candles(symbol: string, interval: CandleInterval, from?: number, to?: number): Promise<string | undefined> {
    return this.read(
      "candles",
      symbol,
      `${interval}:${from ?? ""}:${to ?? ""}`,
      () => this.source.candles(symbol, interval, from, to),
      candlesMaxAgeMs,
    );
  }

  private async read(
    kind: CacheKind,
    symbol: string,
    query: string,
    render: () => unknown,
    ttlMs?: number,
  ): Promise<string | undefined> {
    if (!this.current()) return undefined;
    const key = `${symbol}:${this.versions.get(symbol) ?? 0}:${query}`;
    const cached = await this.cache.get(kind, key);
    if (cached !== undefined) {
      this.stats.hits++;
      return cached;
    }
    // The version may move on while a render awaits (candles read through Redis): store under the old key.
    const value = await render();
    if (value === undefined) return undefined;
    const text = JSON.stringify(value);
    this.stats.renders++;
    await this.cache.set(kind, key, text, ttlMs);
    return text;
  }
}

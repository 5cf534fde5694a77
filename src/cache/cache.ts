/**
 * The `Cache` port (the ElastiCache role of /work/shared/spec/architecture.md): derived, expiring,
 * bounded values that keep public reads off the engine. Losing the cache loses nothing: every value
 * is derived from the journal and written again by the market-data publisher.
 *
 * Values are strings (JSON, rendered once by whoever writes them). Each kind has its own time to live
 * and entry bound (cacheLimits in src/limits.ts). Backends: in-process (lru-cache, the default) and
 * Redis (`redis://` / `rediss://`, src/cache/redis-cache.ts); src/cache/open-cache.ts picks one.
 *
 * A failing backend never throws into a read path: `get` answers undefined (a miss, so the caller falls
 * back to a slower source) and `set` drops the write; both are counted in `stats`.
 */
import { cacheLimits } from "../limits.js";

export type CacheKind = "book" | "trades" | "ticker" | "candles" | "orderStatus";

export interface CacheKindPolicy {
  readonly ttlMs: number;
  readonly entriesMax: number;
}

export const cachePolicies: Readonly<Record<CacheKind, CacheKindPolicy>> = {
  book: { ttlMs: cacheLimits.bookTtlMs, entriesMax: cacheLimits.bookEntriesMax },
  trades: { ttlMs: cacheLimits.tradesTtlMs, entriesMax: cacheLimits.tradesEntriesMax },
  ticker: { ttlMs: cacheLimits.tickerTtlMs, entriesMax: cacheLimits.tickerEntriesMax },
  candles: { ttlMs: cacheLimits.candlesTtlMs, entriesMax: cacheLimits.candlesEntriesMax },
  orderStatus: { ttlMs: cacheLimits.orderStatusTtlMs, entriesMax: cacheLimits.orderStatusEntriesMax },
};

export interface CacheStats {
  hits: number;
  misses: number;
  sets: number;
  /** Entries removed to stay within a kind's bound. */
  evictions: number;
  /** Reads and writes that failed (backend unreachable): reads counted as misses too. */
  errors: number;
  /** Writes dropped because the backend was unreachable or too far behind. */
  dropped: number;
}

export interface Cache {
  /** "memory" or "redis". */
  readonly backend: string;
  /** The value, or undefined when absent, expired, or the backend is unreachable. */
  get(kind: CacheKind, key: string): Promise<string | undefined>;
  /** Several keys of one kind in one round trip (same order; undefined for each miss). */
  getMany(kind: CacheKind, keys: readonly string[]): Promise<(string | undefined)[]>;
  /**
   * Stores a value with the kind's TTL (or `ttlMs`, never above the kind's). Values above
   * cacheLimits.valueBytesMax are refused with a CacheError (a programming error, not an outage).
   */
  set(kind: CacheKind, key: string, value: string, ttlMs?: number): Promise<void>;
  delete(kind: CacheKind, key: string): Promise<void>;
  /** Reachable right now (the in-process cache always is). */
  readonly healthy: boolean;
  readonly stats: CacheStats;
  close(): Promise<void>;
}

export class CacheError extends Error {
  override name = "CacheError";
  constructor(
    readonly code: "CACHE_VALUE_TOO_LARGE" | "CACHE_BAD_URL" | "CACHE_CLOSED",
    message: string,
  ) {
    super(message);
  }
}

export function newCacheStats(): CacheStats {
  return { hits: 0, misses: 0, sets: 0, evictions: 0, errors: 0, dropped: 0 };
}

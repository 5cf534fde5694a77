/**
 * The in-process `Cache` (the default, no server): one lru-cache per kind, bounded by the kind's
 * entriesMax (the least recently used entry goes first, counted in stats.evictions) and expiring after
 * the kind's TTL (lazily: an expired entry is a miss and is dropped when read or pushed out).
 */
import { LRUCache } from "lru-cache";
import { cacheLimits } from "../limits.js";
import {
  type Cache,
  CacheError,
  type CacheKind,
  type CacheKindPolicy,
  type CacheStats,
  cachePolicies,
  newCacheStats,
} from "./cache.js";

export interface CacheOptions {
  /** Per-kind TTL and bound overrides (tests: short TTLs, small bounds); the rest keep cachePolicies. */
  policies?: Partial<Record<CacheKind, Partial<CacheKindPolicy>>>;
}

/** cachePolicies with the overrides of `options.policies`, each checked (positive safe integers). */
export function resolvePolicies(options: CacheOptions = {}): Record<CacheKind, CacheKindPolicy> {
  const out = {} as Record<CacheKind, CacheKindPolicy>;
  for (const kind of Object.keys(cachePolicies) as CacheKind[]) {
    const policy = { ...cachePolicies[kind], ...options.policies?.[kind] };
    for (const [name, value] of Object.entries(policy)) {
      if (!Number.isSafeInteger(value) || value <= 0)
        throw new RangeError(`cache: ${kind}.${name} must be a positive integer (got ${value})`);
    }
    out[kind] = policy;
  }
  return out;
}

/** The TTL of one write: the kind's, or `ttlMs` if shorter (at least 1 ms). */
export function effectiveTtlMs(policy: CacheKindPolicy, ttlMs: number | undefined): number {
  if (ttlMs === undefined || !Number.isFinite(ttlMs)) return policy.ttlMs;
  return Math.max(1, Math.min(Math.floor(ttlMs), policy.ttlMs));
}

/** Refuses a value above cacheLimits.valueBytesMax (UTF-8 bytes). */
export function checkValueSize(kind: CacheKind, key: string, value: string): void {
  // A UTF-8 byte is at least one UTF-16 unit and at most three per unit: skip the count when it cannot matter.
  if (value.length * 3 <= cacheLimits.valueBytesMax) return;
  const bytes = Buffer.byteLength(value, "utf8");
  if (bytes > cacheLimits.valueBytesMax)
    throw new CacheError(
      "CACHE_VALUE_TOO_LARGE",
      `cache: ${kind} ${key}: ${bytes} bytes, above the ${cacheLimits.valueBytesMax} of cacheLimits.valueBytesMax`,
    );
}

export class MemoryCache implements Cache {
  readonly backend = "memory";
  readonly stats: CacheStats = newCacheStats();
  private readonly policies: Record<CacheKind, CacheKindPolicy>;
  private readonly maps: Record<CacheKind, LRUCache<string, string>>;
  private closed = false;

  constructor(options: CacheOptions = {}) {
    this.policies = resolvePolicies(options);
    const maps = {} as Record<CacheKind, LRUCache<string, string>>;
    for (const kind of Object.keys(this.policies) as CacheKind[]) {
      const policy = this.policies[kind];
      maps[kind] = new LRUCache<string, string>({
        max: policy.entriesMax,
        ttl: policy.ttlMs,
        dispose: (_value, _key, reason) => {
          if (reason === "evict") this.stats.evictions++;
        },
      });
    }
    this.maps = maps;
  }

  get healthy(): boolean {
    return !this.closed;
  }

  async get(kind: CacheKind, key: string): Promise<string | undefined> {
    return this.read(kind, key);
  }

  async getMany(kind: CacheKind, keys: readonly string[]): Promise<(string | undefined)[]> {
    return keys.map((key) => this.read(kind, key));
  }

  async set(kind: CacheKind, key: string, value: string, ttlMs?: number): Promise<void> {
    this.checkOpen();
    checkValueSize(kind, key, value);
    this.maps[kind].set(key, value, { ttl: effectiveTtlMs(this.policies[kind], ttlMs) });
    this.stats.sets++;
  }

  async delete(kind: CacheKind, key: string): Promise<void> {
    this.checkOpen();
    this.maps[kind].delete(key);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const map of Object.values(this.maps)) map.clear();
  }

  private read(kind: CacheKind, key: string): string | undefined {
    // After close, a read is a miss (a read path never throws); writes are refused.
    const value = this.closed ? undefined : this.maps[kind].get(key);
    if (value === undefined) this.stats.misses++;
    else this.stats.hits++;
    return value;
  }

  private checkOpen(): void {
    if (this.closed) throw new CacheError("CACHE_CLOSED", "cache: used after close()");
  }
}

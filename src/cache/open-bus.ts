/**
 * Picks the MarketDataBus backend from the configured location (the cache's, src/cache/open-cache.ts):
 *
 *   (none) or "memory"                   the in-process bus (src/cache/memory-bus.ts)
 *   redis://… or rediss://…              the Redis stream bus (src/cache/redis-bus.ts)
 *
 * Anything else is a CacheError CACHE_BAD_URL. A Redis that cannot be reached at start is an Error
 * naming the URL with its password redacted (an outage later is not: the bus drops and counts).
 */

import { isRedisUrl } from "../journal/open-journal.js";
import { cacheLimits } from "../limits.js";
import type { MarketDataBus } from "./bus.js";
import { type Cache, CacheError } from "./cache.js";
import { type MemoryBusOptions, MemoryMarketDataBus } from "./memory-bus.js";
import { openCache } from "./open-cache.js";
import { type RedisBusOptions, RedisMarketDataBus } from "./redis-bus.js";
import { parseRedisCacheUrl } from "./redis-connection.js";

export type OpenBusOptions = MemoryBusOptions &
  RedisBusOptions & {
    /** How long to wait for the first Redis connection (default 5,000 ms). */
    connectTimeoutMs?: number;
    /** No connection by then is not an error: the bus starts unreachable and connects in the background. */
    allowUnreachable?: boolean;
  };

export async function openBus(
  url: string | null | undefined,
  options: OpenBusOptions = {},
): Promise<MarketDataBus> {
  const location = url?.trim();
  if (location === undefined || location === "" || location.toLowerCase() === "memory")
    return new MemoryMarketDataBus(options);
  if (isRedisUrl(location)) {
    const parsed = parseRedisCacheUrl(location);
    const bus = new RedisMarketDataBus(parsed, options);
    if ((await bus.ready(options.connectTimeoutMs ?? 5_000)) || options.allowUnreachable === true) return bus;
    await bus.close();
    throw new Error(`market-data bus: no connection to ${parsed.redacted}`);
  }
  throw new CacheError(
    "CACHE_BAD_URL",
    `bus: "${location.replace(/\/\/[^@/]*@/, "//***@")}" is not "memory", redis://… or rediss://…`,
  );
}

/**
 * The cache and the bus of a cluster node, on the same URL. An unreachable Redis at start does not
 * keep the node from starting (it waits cacheLimits.nodeStartCacheWaitMs, then both connect in the
 * background: orders never wait for the cache); a refused password or certificate is a configuration
 * error and rejects.
 */
export async function openNodeCache(url: string): Promise<{ cache: Cache; bus: MarketDataBus }> {
  const reach = { allowUnreachable: true, connectTimeoutMs: cacheLimits.nodeStartCacheWaitMs };
  const cache = await openCache(url, reach);
  try {
    return { cache, bus: await openBus(url, reach) };
  } catch (error) {
    await cache.close().catch(() => {});
    throw error;
  }
}

/**
 * Picks the Cache backend from the configured location:
 *
 *   (none) or "memory"                   the in-process cache (src/cache/memory-cache.ts)
 *   redis://… or rediss://…              Redis (src/cache/redis-cache.ts, src/cache/redis-connection.ts)
 *
 * Anything else is a CacheError CACHE_BAD_URL. A Redis that cannot be reached at start is an Error
 * naming the URL with its password redacted (an outage later is not: the cache degrades to misses).
 */

import { isRedisUrl } from "../journal/open-journal.js";
import { type Cache, CacheError } from "./cache.js";
import { type CacheOptions, MemoryCache } from "./memory-cache.js";
import { RedisCache, type RedisCacheOptions } from "./redis-cache.js";
import { parseRedisCacheUrl } from "./redis-connection.js";

export type OpenCacheOptions = CacheOptions & RedisCacheOptions;

export async function openCache(
  url: string | null | undefined,
  options: OpenCacheOptions = {},
): Promise<Cache> {
  const location = url?.trim();
  if (location === undefined || location === "" || location.toLowerCase() === "memory")
    return new MemoryCache(options);
  if (isRedisUrl(location)) return RedisCache.connect(parseRedisCacheUrl(location), options);
  throw new CacheError(
    "CACHE_BAD_URL",
    `cache: "${location.replace(/\/\/[^@/]*@/, "//***@")}" is not "memory", redis://… or rediss://…`,
  );
}

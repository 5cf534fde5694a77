/**
 * One way to reach the cache's Redis (or Valkey, or ElastiCache) for the cache and the bus:
 *
 *   redis://host:6379                               plain TCP
 *   rediss://user:password@host:6380?ca=/etc/ca.pem TLS, ACL user, a CA for a private certificate
 *   …&namespace=bourse                             key prefix (default "bourse")
 *
 * The client fails fast while disconnected (no offline queue): a cache or bus operation during an
 * outage errors at once and the caller degrades (miss, dropped write, gap) instead of queueing
 * without bound. It reconnects in the background.
 */
import { readFileSync } from "node:fs";
import { newRedisClient, redactUrl } from "../journal/redis-log.js";
import { CacheError } from "./cache.js";

export interface RedisCacheLocation {
  /** For the client, without Bourse's own query parameters. */
  url: string;
  /** For log lines: the password replaced by ***. */
  redacted: string;
  namespace: string;
  /** PEM of the CA that signed the server's certificate (rediss:// with ?ca=…). */
  ca: Buffer | undefined;
}

export function parseRedisCacheUrl(location: string): RedisCacheLocation {
  let url: URL;
  try {
    url = new URL(location);
  } catch {
    throw new CacheError("CACHE_BAD_URL", `cache: "${redactUrl(location)}" is not a URL`);
  }
  if (url.protocol !== "redis:" && url.protocol !== "rediss:") {
    throw new CacheError("CACHE_BAD_URL", `cache: ${url.protocol} is not redis: or rediss:`);
  }
  let namespace = "bourse";
  let ca: Buffer | undefined;
  for (const [name, value] of url.searchParams) {
    if (name === "namespace") {
      if (!/^[A-Za-z0-9_.-]{1,64}$/.test(value))
        throw new CacheError("CACHE_BAD_URL", `cache: namespace=${value}: letters, digits, _ . - only`);
      namespace = value;
    } else if (name === "ca") {
      try {
        ca = readFileSync(value);
      } catch (error) {
        throw new CacheError("CACHE_BAD_URL", `cache: ca=${value}: ${(error as Error).message}`);
      }
    } else throw new CacheError("CACHE_BAD_URL", `cache: unknown parameter ${name} in the cache URL`);
  }
  url.search = "";
  return { url: url.toString(), redacted: redactUrl(url.toString()), namespace, ca };
}

export type CacheRedisClient = ReturnType<typeof newCacheClient>;

/** A client for the cache or the bus (connect() it): fails fast while disconnected (module comment). */
export function newCacheClient(location: RedisCacheLocation, name: string) {
  return newRedisClient({
    url: location.url,
    name,
    connectTimeoutMs: 2_000,
    failWhileDisconnected: true,
    ...(location.ca === undefined ? {} : { ca: location.ca }),
  });
}

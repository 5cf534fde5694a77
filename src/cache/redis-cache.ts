/**
 * The `Cache` on Redis (or Valkey, or ElastiCache): `redis://` / `rediss://` (src/cache/redis-connection.ts).
 *
 * Layout, for a namespace `ns` (the braces are a hash tag: every key of a namespace is in one slot, so
 * the scripts and MULTI below also run on Redis Cluster):
 *
 *   {ns}:cache:<kind>:<key>     the value, a string, SET … PX <ttl>
 *   {ns}:cache-index:<kind>     ZSET of that kind's value keys, score = write time (ms, server clock)
 *
 * Redis has no per-prefix size bound, so each write runs one script (EVALSHA, one round trip) that sets
 * the value, indexes it, drops index members older than the kind's TTL (their values have expired),
 * and removes the oldest-written entries beyond the kind's entriesMax (ZPOPMIN + DEL), returning how
 * many live values it removed (stats.evictions).
 *
 * Outages: the client has no offline queue, so a command while disconnected fails at once; a command
 * without a reply within `commandTimeoutMs` (a server that hangs) counts as failed too. `get` and
 * `getMany` then answer misses (stats.errors and stats.misses), `set` and `delete` drop the write
 * (stats.errors and stats.dropped; a write refused before it is sent, while disconnected or with
 * cacheLimits.pendingWritesMax writes in flight, counts in stats.dropped only). Nothing throws but a
 * value above cacheLimits.valueBytesMax and use after close(). The client reconnects in the background.
 */
import { createHash } from "node:crypto";
import { connectFailFast, isPermanentConnectError } from "../journal/redis-log.js";
import { cacheLimits } from "../limits.js";
import { type Cache, CacheError, type CacheKind, type CacheKindPolicy, newCacheStats } from "./cache.js";
import { type CacheOptions, checkValueSize, effectiveTtlMs, resolvePolicies } from "./memory-cache.js";
import { type CacheRedisClient, newCacheClient, type RedisCacheLocation } from "./redis-connection.js";

export interface RedisCacheOptions extends CacheOptions {
  /** CLIENT SETNAME of the connection (default "bourse-cache"). */
  clientName?: string;
  /** A command without a reply by then counts as failed (default 1,000 ms). */
  commandTimeoutMs?: number;
  /** connect() gives up after this long (default 5,000 ms). */
  connectTimeoutMs?: number;
  /**
   * A server that does not answer at start is not an error: the cache starts unreachable (misses,
   * dropped writes) and connects in the background. A refused password or certificate still is.
   */
  allowUnreachable?: boolean;
}

const commandTimeoutMsDefault = cacheLimits.redisReplyTimeoutMs;
const connectTimeoutMsDefault = cacheLimits.redisConnectTimeoutMs;

/**
 * KEYS[1] value key, KEYS[2] index; ARGV: value, ttl ms, kind TTL ms, entriesMax.
 * Scores are the server's time in ms, nudged above the newest member when several writes share a
 * millisecond (2^-10 ms, exact in a double at today's epoch), so "oldest" is the write order.
 */
const setScript = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local score = now
local top = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
if top[2] ~= nil and tonumber(top[2]) >= score then score = tonumber(top[2]) + 1 / 1024 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('ZADD', KEYS[2], score, KEYS[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', string.format('(%.0f', now - tonumber(ARGV[3])))
local over = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[4])
local evicted = 0
if over > 0 then
  local old = redis.call('ZPOPMIN', KEYS[2], over)
  for i = 1, #old, 2 do evicted = evicted + redis.call('DEL', old[i]) end
end
return evicted
`;
const setScriptSha = createHash("sha1").update(setScript).digest("hex");

class CommandTimeout extends Error {}

interface Waiting {
  /** The watchdog tick when the command was sent. */
  readonly tick: number;
  reject(error: Error): void;
}
/** The watchdog runs every commandTimeoutMs / watchdogTicks. */
const watchdogTicks = 4;

/** Errors at connect that a retry cannot mend: credentials, rights, certificates. */

export class RedisCache implements Cache {
  readonly backend = "redis";
  readonly stats = newCacheStats();
  /** Writes sent and not answered yet (bounded by cacheLimits.pendingWritesMax). */
  private pendingWrites = 0;
  private closed = false;
  private readonly policies: Record<CacheKind, CacheKindPolicy>;
  private readonly prefix: string;
  private readonly commandTimeoutMs: number;
  /** Commands sent and not answered, oldest first (a Set keeps insertion order). */
  private readonly waiting = new Set<Waiting>();
  private tick = 0;
  private readonly watchdog: NodeJS.Timeout;

  private readonly client: CacheRedisClient;

  private constructor(
    client: CacheRedisClient,
    readonly location: RedisCacheLocation,
    options: RedisCacheOptions,
  ) {
    // node-redis v6 gives every command a 5 s timeout by default, an AbortSignal.timeout each: ~15 µs
    // of CPU per command, 6× fewer GETs/s at 64 in flight (bench/redis-clients.ts, docs/cache.md). Its
    // timeout only covers the wait before the command is written anyway; `timed` below covers the reply.
    this.client = client.withCommandOptions({ timeout: 0 });
    this.policies = resolvePolicies(options);
    this.prefix = `{${location.namespace}}:`;
    this.commandTimeoutMs = options.commandTimeoutMs ?? commandTimeoutMsDefault;
    this.watchdog = setInterval(() => this.watch(), Math.max(1, this.commandTimeoutMs / watchdogTicks));
    this.watchdog.unref();
  }

  /**
   * Connects (TLS and ACL user as the location says) and answers once the server has accepted the
   * connection; rejects with an Error naming the redacted URL when it cannot within connectTimeoutMs
   * (server down, wrong password, TLS refused). Later outages never reject: see the module comment.
   */
  static async connect(location: RedisCacheLocation, options: RedisCacheOptions = {}): Promise<RedisCache> {
    const client = newCacheClient(location, options.clientName ?? "bourse-cache");
    try {
      await connectFailFast(client, options.connectTimeoutMs ?? connectTimeoutMsDefault);
    } catch (error) {
      if (options.allowUnreachable === true && !isPermanentConnectError(error as Error)) {
        // The client was destroyed: a new one keeps trying (its reconnect strategy) while the cache misses.
        const later = newCacheClient(location, options.clientName ?? "bourse-cache");
        later.connect().catch(() => {});
        return new RedisCache(later, location, options);
      }
      throw new Error(`cache: cannot connect to ${location.redacted}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    return new RedisCache(client, location, options);
  }

  get healthy(): boolean {
    return !this.closed && this.client.isReady;
  }

  /** The Redis key of a value. */
  valueKey(kind: CacheKind, key: string): string {
    return `${this.prefix}cache:${kind}:${key}`;
  }

  /** The Redis key of a kind's index. */
  indexKey(kind: CacheKind): string {
    return `${this.prefix}cache-index:${kind}`;
  }

  async get(kind: CacheKind, key: string): Promise<string | undefined> {
    if (!this.healthy) return this.readFailed(1);
    try {
      const reply = await this.timed(this.client.sendCommand(["GET", this.valueKey(kind, key)]));
      return this.counted(reply as unknown as string | null);
    } catch {
      return this.readFailed(1);
    }
  }

  async getMany(kind: CacheKind, keys: readonly string[]): Promise<(string | undefined)[]> {
    if (keys.length === 0) return [];
    if (!this.healthy) return this.readFailed(keys.length, keys);
    try {
      const reply = (await this.timed(
        this.client.sendCommand(["MGET", ...keys.map((key) => this.valueKey(kind, key))]),
      )) as (string | null)[];
      return reply.map((value) => this.counted(value));
    } catch {
      return this.readFailed(keys.length, keys);
    }
  }

  async set(kind: CacheKind, key: string, value: string, ttlMs?: number): Promise<void> {
    this.checkOpen();
    checkValueSize(kind, key, value);
    if (!this.client.isReady || this.pendingWrites >= cacheLimits.pendingWritesMax) {
      this.stats.dropped++;
      return;
    }
    const policy = this.policies[kind];
    const keys = [this.valueKey(kind, key), this.indexKey(kind)];
    const args = [
      value,
      String(effectiveTtlMs(policy, ttlMs)),
      String(policy.ttlMs),
      String(policy.entriesMax),
    ];
    try {
      const evicted = await this.write(this.evalSet(keys, args));
      this.stats.sets++;
      this.stats.evictions += Number(evicted);
    } catch {
      this.writeFailed();
    }
  }

  async delete(kind: CacheKind, key: string): Promise<void> {
    this.checkOpen();
    if (!this.client.isReady || this.pendingWrites >= cacheLimits.pendingWritesMax) {
      this.stats.dropped++;
      return;
    }
    const valueKey = this.valueKey(kind, key);
    try {
      await this.write(
        this.client
          .multi()
          .addCommand(["DEL", valueKey])
          .addCommand(["ZREM", this.indexKey(kind), valueKey])
          .exec(),
      );
    } catch {
      this.writeFailed();
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      if (this.client.isReady) {
        try {
          await this.timed(this.client.close());
          return;
        } catch {
          // fall through: drop the connection
        }
      }
      this.client.destroy();
    } finally {
      clearInterval(this.watchdog);
    }
  }

  private async evalSet(keys: string[], args: string[]): Promise<unknown> {
    try {
      return await this.client.sendCommand(["EVALSHA", setScriptSha, "2", ...keys, ...args]);
    } catch (error) {
      // After a restart (or on a new server) the script cache is empty: send the script once.
      if (!/^NOSCRIPT\b/.test((error as Error).message)) throw error;
      return this.client.sendCommand(["EVAL", setScript, "2", ...keys, ...args]);
    }
  }

  /** A write in flight until Redis answers (even after its caller stopped waiting at the timeout). */
  private write<T>(promise: Promise<T>): Promise<T> {
    this.pendingWrites++;
    promise.then(
      () => this.pendingWrites--,
      () => this.pendingWrites--,
    );
    return this.timed(promise);
  }

  /**
   * The command's reply, or a CommandTimeout once it has waited commandTimeoutMs (to 1.25×). One
   * watchdog timer for all commands, not one each: a timer per command costs more than the GET.
   */
  private timed<T>(promise: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const entry: Waiting = { tick: this.tick, reject };
      this.waiting.add(entry);
      promise.then(
        (value) => {
          this.waiting.delete(entry);
          resolve(value);
        },
        (error: unknown) => {
          this.waiting.delete(entry);
          reject(error);
        },
      );
    });
  }

  /** Every quarter of commandTimeoutMs: fails the commands that waited 4 ticks or more (the oldest first). */
  private watch(): void {
    this.tick++;
    for (const entry of this.waiting) {
      if (this.tick - entry.tick < watchdogTicks) break;
      this.waiting.delete(entry);
      entry.reject(new CommandTimeout(`cache: no reply within ${this.commandTimeoutMs} ms`));
    }
  }

  private counted(value: string | null | undefined): string | undefined {
    if (value === null || value === undefined) {
      this.stats.misses++;
      return undefined;
    }
    this.stats.hits++;
    return value;
  }

  private readFailed(count: 1): undefined;
  private readFailed(count: number, keys: readonly string[]): undefined[];
  private readFailed(count: number, keys?: readonly string[]): undefined | undefined[] {
    if (!this.closed) this.stats.errors += count;
    this.stats.misses += count;
    return keys === undefined ? undefined : keys.map(() => undefined);
  }

  private writeFailed(): void {
    this.stats.errors++;
    this.stats.dropped++;
  }

  private checkOpen(): void {
    if (this.closed) throw new CacheError("CACHE_CLOSED", "cache: used after close()");
  }
}

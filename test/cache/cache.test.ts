/**
 * The Cache suite (test/cache/cache-suite.ts) against the in-process cache, Redis over plain TCP and
 * Redis with an ACL user over TLS (a CA generated for the test); then what only Redis has: outages
 * (server killed, server hung, restarted), the bound on writes in flight, the key layout, refused
 * connections at start, and openCache's choice of backend.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type Cache, CacheError } from "../../src/cache/cache.js";
import { MemoryCache } from "../../src/cache/memory-cache.js";
import { openCache } from "../../src/cache/open-cache.js";
import { RedisCache } from "../../src/cache/redis-cache.js";
import { cacheLimits } from "../../src/limits.js";
import { cacheSuite, freshNamespace } from "./cache-suite.js";
import { aclPassword, type CacheRedisInstance, startCacheRedis } from "./redis-instances.js";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The URL with ?namespace= (or &namespace= after ?ca=). */
function withNamespace(url: string, namespace: string): string {
  return `${url}${url.includes("?") ? "&" : "?"}namespace=${namespace}`;
}

/** Rejects if `promise` takes longer than `ms` (the outage tests must not hang). */
async function within<T>(ms: number, promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

async function waitHealthy(cache: Cache, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cache.healthy) {
    if (Date.now() > deadline) throw new Error(`cache not healthy again within ${ms} ms`);
    await sleep(20);
  }
}

const servers: { plain?: CacheRedisInstance; secure?: CacheRedisInstance } = {};
before(async () => {
  servers.plain = await startCacheRedis();
  servers.secure = await startCacheRedis({ acl: true, tls: true });
});
after(async () => {
  await servers.plain?.stop();
  await servers.secure?.stop();
});

cacheSuite("in-process (lru-cache)", "memory", async (options) => new MemoryCache(options));
cacheSuite("Redis, plain TCP", "redis", (options) =>
  openCache(withNamespace(servers.plain!.url, options.namespace ?? freshNamespace()), options),
);
cacheSuite("Redis, ACL user over TLS", "redis", (options) =>
  openCache(withNamespace(servers.secure!.url, options.namespace ?? freshNamespace()), options),
);

describe("RedisCache: layout", () => {
  it("keeps {namespace}:cache:<kind>:<key> with a PX TTL and a per-kind index", async () => {
    const namespace = freshNamespace();
    const cache = await openCache(withNamespace(servers.plain!.url, namespace));
    try {
      await cache.set("candles", "BTC-USD:1m", "[]", 5_000);
      const key = `{${namespace}}:cache:candles:BTC-USD:1m`;
      assert.equal(await servers.plain!.command(["GET", key]), "[]");
      const pttl = Number(await servers.plain!.command(["PTTL", key]));
      assert.ok(pttl > 0 && pttl <= 5_000, `PTTL ${pttl}`);
      assert.deepEqual(
        await servers.plain!.command(["ZRANGE", `{${namespace}}:cache-index:candles`, "0", "-1"]),
        [key],
      );
      await cache.delete("candles", "BTC-USD:1m");
      assert.equal(await servers.plain!.command(["EXISTS", `{${namespace}}:cache-index:candles`]), 0);
    } finally {
      await cache.close();
    }
  });
});

for (const which of ["plain", "secure"] as const) {
  describe(`RedisCache outages (${which === "plain" ? "plain TCP" : "ACL over TLS"})`, () => {
    let server: CacheRedisInstance;
    before(async () => {
      server = await startCacheRedis(which === "plain" ? {} : { acl: true, tls: true });
    });
    after(async () => {
      await server.stop();
    });

    it("server killed: reads miss and writes drop at once, without throwing; restarted: works again", async () => {
      const cache = await openCache(withNamespace(server.url, freshNamespace()));
      try {
        await cache.set("book", "k", "before");
        assert.equal(await cache.get("book", "k"), "before");
        await server.kill();
        assert.equal(await within(3_000, cache.get("book", "k"), "get"), undefined);
        assert.deepEqual(await within(3_000, cache.getMany("book", ["k", "j"]), "getMany"), [
          undefined,
          undefined,
        ]);
        await within(3_000, cache.set("book", "k", "during"), "set");
        await within(3_000, cache.delete("book", "k"), "delete");
        assert.equal(cache.healthy, false);
        const s = cache.stats;
        assert.equal(s.errors, 3, "the get and the two keys of getMany");
        assert.equal(s.misses, 3);
        assert.equal(s.dropped, 2, "the set and the delete");
        await server.restart();
        await waitHealthy(cache);
        // The restarted server lost its memory (no persistence) and its script cache (NOSCRIPT → EVAL).
        assert.equal(await cache.get("book", "k"), undefined);
        await cache.set("book", "k", "after");
        assert.equal(await cache.get("book", "k"), "after");
        assert.equal(cache.stats.dropped, 2);
      } finally {
        await cache.close();
      }
    });

    it("server hung: reads miss and writes drop after commandTimeoutMs; at most pendingWritesMax writes wait", async () => {
      const cache = await openCache(withNamespace(server.url, freshNamespace()), { commandTimeoutMs: 300 });
      try {
        await cache.set("ticker", "k", "v");
        server.pause();
        assert.equal(await within(3_000, cache.get("ticker", "k"), "get"), undefined);
        const extra = 25;
        const writes: Promise<void>[] = [];
        for (let i = 0; i < cacheLimits.pendingWritesMax + extra; i++)
          writes.push(cache.set("orderStatus", `k${i}`, "v"));
        await within(5_000, Promise.all(writes), "sets");
        const s = cache.stats;
        assert.equal(s.dropped, cacheLimits.pendingWritesMax + extra, "every write of the hang is dropped");
        assert.equal(
          s.errors,
          1 + cacheLimits.pendingWritesMax,
          "the get and the writes sent, not those refused",
        );
        // Still waiting for the hung server: a further write is refused at once.
        await within(1_000, cache.set("orderStatus", "more", "v"), "set beyond the bound");
        assert.equal(cache.stats.dropped, cacheLimits.pendingWritesMax + extra + 1);
        server.resume();
        const deadline = Date.now() + 10_000;
        while ((await cache.get("ticker", "k")) !== "v" && Date.now() < deadline) await sleep(20);
        assert.equal(await cache.get("ticker", "k"), "v");
        await cache.set("ticker", "after", "v");
        assert.equal(await cache.get("ticker", "after"), "v");
      } finally {
        server.resume();
        await cache.close();
      }
    });
  });
}

describe("openCache", () => {
  it("no URL or memory → the in-process cache", async () => {
    for (const url of [undefined, null, "", "memory", "MEMORY"]) {
      const cache = await openCache(url);
      assert.equal(cache.backend, "memory");
      await cache.close();
    }
  });

  it("redis:// and rediss:// → RedisCache", async () => {
    const cache = await openCache(servers.secure!.url);
    assert.ok(cache instanceof RedisCache);
    assert.equal(cache.backend, "redis");
    assert.equal(cache.healthy, true);
    await cache.close();
  });

  it("any other scheme, an unknown parameter or a bad namespace → CACHE_BAD_URL (password not shown)", async () => {
    for (const url of [
      "memcached://u:topsecret@h:11211",
      "http://127.0.0.1:6379",
      `${servers.plain!.url}?db=2`,
      `${servers.plain!.url}?namespace=a:b`,
      "redis://[bad",
    ]) {
      await assert.rejects(openCache(url), (error: unknown) => {
        assert.ok(error instanceof CacheError, `${url}: ${error}`);
        assert.equal(error.code, "CACHE_BAD_URL");
        assert.doesNotMatch(error.message, /topsecret/);
        return true;
      });
    }
  });

  it("a wrong password → rejects at once, naming the URL with its password redacted", async () => {
    const url = servers.secure!.url.replace(`:${aclPassword}@`, ":not-the-password@");
    const started = Date.now();
    await assert.rejects(
      within(5_000, openCache(url), "openCache"),
      (error: Error) =>
        /^cache: cannot connect to rediss:\/\/bourse:\*\*\*@127\.0\.0\.1:\d+: WRONGPASS/.test(
          error.message,
        ) && !error.message.includes("not-the-password"),
    );
    assert.ok(Date.now() - started < 4_000);
  });

  it("no CA for a private certificate → rejects at once with the certificate error", async () => {
    const url = servers.secure!.url.replace(/\?.*$/, "");
    await assert.rejects(
      within(5_000, openCache(url), "openCache"),
      /cannot connect to rediss:.*certificate/,
    );
  });

  it("nothing listening → rejects after connectTimeoutMs, naming the URL", async () => {
    const down = await startCacheRedis();
    const url = down.url;
    await down.stop();
    await assert.rejects(
      within(5_000, openCache(url, { connectTimeoutMs: 500 }), "openCache"),
      new RegExp(`^Error: cache: cannot connect to ${url.replace(/[.]/g, "\\.")}: .*ECONNREFUSED`),
    );
  });
});

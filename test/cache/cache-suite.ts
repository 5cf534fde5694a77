/**
 * The one behaviour every `Cache` backend has (src/cache/cache.ts), run against each of them by
 * test/cache/cache.test.ts: reads and writes, TTL expiry, the per-kind bound, the value size bound,
 * namespaces, use after close.
 *
 * `open` gives a fresh cache on a namespace no other test uses, with the policy overrides given (short
 * TTLs and small bounds, so the suite runs in seconds). No timing assertion beyond "expired after
 * several times its TTL".
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type Cache, CacheError } from "../../src/cache/cache.js";
import type { CacheOptions } from "../../src/cache/memory-cache.js";
import { cacheLimits } from "../../src/limits.js";

export type OpenTestCache = (options: CacheOptions & { namespace?: string }) => Promise<Cache>;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** The short TTL of the expiry test. */
const ttlMs = 250;
let namespaces = 0;
/** A namespace of its own for each cache a test opens (several runs may share one server). */
export const freshNamespace = (): string => `t${process.pid}-${Date.now().toString(36)}-${namespaces++}`;

async function withCache(
  open: OpenTestCache,
  options: CacheOptions & { namespace?: string },
  body: (cache: Cache) => Promise<void>,
): Promise<void> {
  const cache = await open({ namespace: freshNamespace(), ...options });
  try {
    await body(cache);
  } finally {
    await cache.close();
  }
}

function isCacheError(code: CacheError["code"]): (error: unknown) => boolean {
  return (error) => error instanceof CacheError && error.code === code;
}

export function cacheSuite(label: string, backend: string, open: OpenTestCache): void {
  describe(`Cache: ${label}`, () => {
    it("reads what it wrote, misses what it did not, per kind", () =>
      withCache(open, {}, async (cache) => {
        assert.equal(cache.backend, backend);
        assert.equal(cache.healthy, true);
        assert.equal(await cache.get("book", "BTC-USD"), undefined);
        await cache.set("book", "BTC-USD", '{"bids":[]}');
        await cache.set("ticker", "BTC-USD", '{"last":"1"}');
        assert.equal(await cache.get("book", "BTC-USD"), '{"bids":[]}');
        assert.equal(await cache.get("ticker", "BTC-USD"), '{"last":"1"}');
        assert.equal(await cache.get("trades", "BTC-USD"), undefined);
        await cache.set("book", "BTC-USD", "v2");
        assert.equal(await cache.get("book", "BTC-USD"), "v2", "a write replaces the value");
        // Keys and values are opaque strings: colons, braces, spaces, non-ASCII, empty.
        for (const key of ["a:b:c", "{x}", "with space", "é€𝄞", ""]) {
          await cache.set("orderStatus", key, `value of ${key}`);
          assert.equal(await cache.get("orderStatus", key), `value of ${key}`);
        }
        await cache.set("candles", "empty", "");
        assert.equal(await cache.get("candles", "empty"), "", "an empty value is a hit, not a miss");
        const s = cache.stats;
        assert.equal(s.sets, 9);
        assert.equal(s.errors, 0);
        assert.equal(s.dropped, 0);
        assert.equal(s.hits, 9);
        assert.equal(s.misses, 2);
      }));

    it("getMany answers in the order asked, undefined for each miss", () =>
      withCache(open, {}, async (cache) => {
        await cache.set("ticker", "A", "a");
        await cache.set("ticker", "C", "c");
        assert.deepEqual(await cache.getMany("ticker", ["C", "B", "A", "C"]), ["c", undefined, "a", "c"]);
        assert.deepEqual(await cache.getMany("ticker", []), []);
        assert.deepEqual(await cache.getMany("book", ["A"]), [undefined]);
        assert.equal(cache.stats.hits, 3);
        assert.equal(cache.stats.misses, 2);
      }));

    it("delete removes one key of one kind", () =>
      withCache(open, {}, async (cache) => {
        await cache.set("orderStatus", "1", "open");
        await cache.set("orderStatus", "2", "filled");
        await cache.set("book", "1", "book");
        await cache.delete("orderStatus", "1");
        await cache.delete("orderStatus", "never-set");
        assert.equal(await cache.get("orderStatus", "1"), undefined);
        assert.equal(await cache.get("orderStatus", "2"), "filled");
        assert.equal(await cache.get("book", "1"), "book");
      }));

    it("values expire after the kind's TTL, or a shorter ttlMs, never a longer one", () =>
      withCache(open, { policies: { ticker: { ttlMs: ttlMs } } }, async (cache) => {
        const written = performance.now();
        await cache.set("ticker", "kind-ttl", "x");
        await cache.set("ticker", "longer-asked", "x", 60_000);
        await cache.set("book", "shorter-asked", "x", ttlMs);
        await cache.set("book", "kind-ttl", "x");
        const present = [
          await cache.getMany("ticker", ["kind-ttl", "longer-asked"]),
          await cache.get("book", "shorter-asked"),
        ];
        // Only a machine that stalled longer than the TTL since the writes may have lost them already.
        if (performance.now() - written < ttlMs) assert.deepEqual(present, [["x", "x"], "x"]);
        await sleep(4 * ttlMs);
        assert.deepEqual(await cache.getMany("ticker", ["kind-ttl", "longer-asked"]), [undefined, undefined]);
        assert.equal(await cache.get("book", "shorter-asked"), undefined);
        assert.equal(await cache.get("book", "kind-ttl"), "x", "the book kind keeps its 60 s TTL");
        // A rewrite starts a new TTL.
        const rewritten = performance.now();
        await cache.set("ticker", "kind-ttl", "y");
        const again = await cache.get("ticker", "kind-ttl");
        if (performance.now() - rewritten < ttlMs) assert.equal(again, "y");
      }));

    it("a kind holds at most entriesMax entries: the oldest written go first, counted", () =>
      withCache(open, { policies: { trades: { entriesMax: 3 } } }, async (cache) => {
        // Written in the reverse of their name order, with no read in between (the in-process cache
        // is least-recently-used, Redis oldest-written: the same when nothing is read).
        for (const key of ["k5", "k4", "k3", "k2", "k1"]) await cache.set("trades", key, key);
        assert.equal(cache.stats.evictions, 2);
        assert.deepEqual(await cache.getMany("trades", ["k5", "k4", "k3", "k2", "k1"]), [
          undefined,
          undefined,
          "k3",
          "k2",
          "k1",
        ]);
        // Rewriting a present key takes no room.
        await cache.set("trades", "k2", "k2'");
        assert.equal(cache.stats.evictions, 2);
        // Other kinds have their own bound.
        for (let i = 0; i < 10; i++) await cache.set("book", `b${i}`, "x");
        assert.equal(cache.stats.evictions, 2);
        assert.equal((await cache.getMany("book", ["b0", "b9"])).filter((v) => v === "x").length, 2);
        // Many more writes than the bound: it still holds exactly the newest three.
        for (let i = 0; i < 50; i++) await cache.set("trades", `n${i}`, String(i));
        assert.deepEqual(await cache.getMany("trades", ["n46", "n47", "n48", "n49", "k1"]), [
          undefined,
          "47",
          "48",
          "49",
          undefined,
        ]);
        assert.equal(cache.stats.evictions, 2 + 50);
      }));

    it("a value above cacheLimits.valueBytesMax is refused with CACHE_VALUE_TOO_LARGE", () =>
      withCache(open, {}, async (cache) => {
        const max = cacheLimits.valueBytesMax;
        await cache.set("book", "at-max", "x".repeat(max));
        assert.equal((await cache.get("book", "at-max"))?.length, max);
        await assert.rejects(
          cache.set("book", "over", "x".repeat(max + 1)),
          isCacheError("CACHE_VALUE_TOO_LARGE"),
        );
        // Bytes, not characters: 2-byte characters past half the bound.
        await assert.rejects(
          cache.set("book", "over-utf8", "é".repeat(max / 2 + 1)),
          isCacheError("CACHE_VALUE_TOO_LARGE"),
        );
        assert.equal(await cache.get("book", "over"), undefined);
        assert.equal(cache.stats.sets, 1);
      }));

    it("two namespaces do not see each other's entries", async () => {
      const a = await open({ namespace: freshNamespace() });
      const b = await open({ namespace: freshNamespace() });
      try {
        await a.set("book", "BTC-USD", "from a");
        await b.set("book", "BTC-USD", "from b");
        await a.set("ticker", "only-a", "a");
        assert.equal(await a.get("book", "BTC-USD"), "from a");
        assert.equal(await b.get("book", "BTC-USD"), "from b");
        assert.equal(await b.get("ticker", "only-a"), undefined);
        await b.delete("book", "BTC-USD");
        assert.equal(await a.get("book", "BTC-USD"), "from a");
      } finally {
        await a.close();
        await b.close();
      }
    });

    it("after close: reads miss, writes are refused with CACHE_CLOSED", async () => {
      const cache = await open({ namespace: freshNamespace() });
      await cache.set("book", "k", "v");
      await cache.close();
      await cache.close();
      assert.equal(cache.healthy, false);
      assert.equal(await cache.get("book", "k"), undefined);
      assert.deepEqual(await cache.getMany("book", ["k"]), [undefined]);
      await assert.rejects(cache.set("book", "k", "v"), isCacheError("CACHE_CLOSED"));
      await assert.rejects(cache.delete("book", "k"), isCacheError("CACHE_CLOSED"));
    });
  });
}

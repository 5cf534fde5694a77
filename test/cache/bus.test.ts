/**
 * The market-data buses: the in-process one (synchronous, in order, a ring for late subscribers) and
 * the Redis stream one against real redis-server processes: order to several subscribers, resume after
 * the connections drop (onGap first, then every batch exactly once), gaps when the stream was trimmed
 * past a subscriber, when Redis restarted empty, when the publisher dropped batches (Redis hung), and
 * the reset of a stream left by an older incarnation with larger seqs.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { BusBatch, BusSubscriber, MarketDataBus } from "../../src/cache/bus.js";
import { MemoryMarketDataBus } from "../../src/cache/memory-bus.js";
import { openBus } from "../../src/cache/open-bus.js";
import { busStreamKey, RedisMarketDataBus } from "../../src/cache/redis-bus.js";
import type { BookUpdate } from "../../src/marketdata/marketdata.js";
import { type CacheRedisInstance, startCacheRedis } from "./redis-instances.js";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

function batch(seq: number): BusBatch {
  const update: BookUpdate = {
    channel: "book",
    symbol: "BTC-USD",
    sequence: seq,
    bids: [[`${50_000 + (seq % 100)}.00`, "0.0100"]],
    asks: [],
  };
  return { seq, updates: [update] };
}

/** Records what a subscription delivers. */
class Recorder implements BusSubscriber {
  seqs: number[] = [];
  gaps: number[] = [];
  /** Index in `seqs` at which each gap was reported. */
  gapAt: number[] = [];
  onBatch(b: BusBatch): void {
    assert.equal(b.updates.length, 1);
    assert.equal((b.updates[0] as BookUpdate).sequence, b.seq);
    this.seqs.push(b.seq);
  }
  onGap(afterSeq: number): void {
    this.gaps.push(afterSeq);
    this.gapAt.push(this.seqs.length);
  }
  get last(): number {
    return this.seqs.at(-1) ?? -1;
  }
}

function range(from: number, to: number): number[] {
  const out: number[] = [];
  for (let i = from; i <= to; i++) out.push(i);
  return out;
}

describe("MemoryMarketDataBus", () => {
  test("delivers synchronously, in publish order, to every subscriber; never inside subscribe()", async () => {
    const bus = new MemoryMarketDataBus();
    const a = new Recorder();
    const b = new Recorder();
    bus.subscribe(-1, a);
    bus.subscribe(-1, b);
    await sleep(0);
    for (let s = 1; s <= 100; s++) {
      bus.publish(batch(s));
      assert.equal(a.last, s);
    }
    assert.deepEqual(a.seqs, range(1, 100));
    assert.deepEqual(b.seqs, range(1, 100));
    const late = new Recorder();
    bus.subscribe(90, late);
    assert.deepEqual(late.seqs, [], "nothing delivered from inside subscribe()");
    bus.publish(batch(101));
    assert.deepEqual(late.seqs, []);
    await sleep(0);
    assert.deepEqual(
      late.seqs,
      range(91, 101),
      "the ring's batches after 90, then the one published meanwhile",
    );
    assert.deepEqual(late.gaps, []);
    assert.equal(bus.stats.published, 101);
    await bus.close();
  });

  test("a subscriber older than the ring gets onGap first; a throwing subscriber does not stop delivery", async () => {
    const bus = new MemoryMarketDataBus({ ringSize: 10, log: () => {} });
    for (let s = 1; s <= 30; s++) bus.publish(batch(s));
    const old = new Recorder();
    bus.subscribe(5, old);
    await sleep(0);
    assert.deepEqual(old.gaps, [5]);
    assert.deepEqual(old.seqs, range(21, 30));
    const fresh = new Recorder();
    bus.subscribe(25, fresh);
    await sleep(0);
    assert.deepEqual(fresh.gaps, []);
    assert.deepEqual(fresh.seqs, range(26, 30));
    const bad: BusSubscriber = {
      onBatch: () => {
        throw new Error("boom");
      },
      onGap: () => {},
    };
    bus.subscribe(-1, bad);
    await sleep(0);
    bus.publish(batch(31));
    assert.equal(bus.subscriberErrors, 1);
    assert.equal(fresh.last, 31);
    await bus.close();
  });
});

describe("RedisMarketDataBus on a real redis-server", () => {
  let redis: CacheRedisInstance;
  const buses: MarketDataBus[] = [];
  let namespaces = 0;

  before(async () => {
    redis = await startCacheRedis();
  });
  after(async () => {
    for (const b of buses) await b.close();
    await redis.stop();
  });

  function open(namespace: string, options: ConstructorParameters<typeof RedisMarketDataBus>[1] = {}) {
    const bus = new RedisMarketDataBus(`${redis.url}?namespace=${namespace}`, {
      blockMs: 100,
      log: () => {},
      ...options,
    });
    buses.push(bus);
    return bus;
  }

  async function pair(options: ConstructorParameters<typeof RedisMarketDataBus>[1] = {}) {
    const ns = `t${++namespaces}`;
    const pub = open(ns, options);
    const sub = open(ns, options);
    assert.ok(await pub.ready());
    assert.ok(await sub.ready());
    return { ns, pub, sub };
  }

  test("entry ids are the seqs; two subscribers get every batch in order", async () => {
    const { ns, pub, sub } = await pair();
    const a = new Recorder();
    const b = new Recorder();
    sub.subscribe(0, a);
    sub.subscribe(0, b);
    for (let s = 1; s <= 2_500; s++) pub.publish(batch(s));
    await until("both subscribers", () => a.last === 2_500 && b.last === 2_500);
    assert.deepEqual(a.seqs, range(1, 2_500));
    assert.deepEqual(b.seqs, range(1, 2_500));
    assert.deepEqual([...a.gaps, ...b.gaps], []);
    const top = (await redis.command(["XREVRANGE", busStreamKey(ns), "+", "-", "COUNT", "1"])) as [string][];
    assert.equal(top[0]![0], "2500-0");
    // A subscriber from a seq in the middle (a snapshot's `at`) gets what follows it.
    const c = new Recorder();
    sub.subscribe(2_400, c);
    await until("the late subscriber", () => c.last === 2_500);
    assert.deepEqual(c.seqs, range(2_401, 2_500));
    assert.deepEqual(c.gaps, []);
    // fromSeq -1: only batches published after it started.
    const d = new Recorder();
    sub.subscribe(-1, d);
    await sleep(300);
    pub.publish(batch(2_501));
    await until("the new-only subscriber", () => d.last === 2_501);
    assert.deepEqual(d.seqs, [2_501]);
    await until("acknowledged", () => pub.stats.published === 2_501);
    assert.equal(pub.stats.dropped, 0);
  });

  test("the connections drop: onGap after the reconnect, then every batch exactly once, in order", async () => {
    const { pub, sub } = await pair();
    const a = new Recorder();
    sub.subscribe(0, a);
    for (let s = 1; s <= 100; s++) pub.publish(batch(s));
    await until("the first 100", () => a.last === 100);
    const epoch = pub.connectionEpoch;
    await redis.command(["CLIENT", "KILL", "TYPE", "normal"]);
    await until("the publisher reconnected", () => pub.connectionEpoch > epoch && pub.healthy);
    for (let s = 101; s <= 200; s++) pub.publish(batch(s));
    await until("the next 100", () => a.last === 200);
    assert.deepEqual(a.seqs, range(1, 200), "resumed from the last id: nothing lost, nothing twice");
    assert.deepEqual(a.gaps, [100]);
    assert.equal(a.gapAt[0], 100);
  });

  test("a stream trimmed past the subscriber's position: onGap, then what is left", async () => {
    const { ns, pub, sub } = await pair();
    for (let s = 1; s <= 50; s++) pub.publish(batch(s));
    await until("published", () => pub.stats.published === 50);
    await redis.command(["XTRIM", busStreamKey(ns), "MAXLEN", "10"]);
    const behind = new Recorder();
    sub.subscribe(5, behind);
    await until("the rest", () => behind.last === 50);
    assert.deepEqual(behind.gaps, [5]);
    assert.deepEqual(behind.seqs, range(41, 50));
    const within = new Recorder();
    sub.subscribe(40, within);
    await until("the rest", () => within.last === 50);
    assert.deepEqual(within.gaps, [], "the first retained entry follows seq 40: no gap");
    assert.deepEqual(within.seqs, range(41, 50));
  });

  test("batches dropped by the publisher (Redis hung, too many pending) are a gap for subscribers", async () => {
    const { pub, sub } = await pair({ pendingBatchesMax: 5 });
    const a = new Recorder();
    sub.subscribe(0, a);
    pub.publish(batch(1));
    await until("the first", () => a.last === 1);
    redis.pause();
    try {
      for (let s = 2; s <= 11; s++) pub.publish(batch(s));
      assert.equal(pub.stats.dropped, 5, "5 in flight, the next 5 dropped");
    } finally {
      redis.resume();
    }
    await until("the in-flight ones", () => pub.stats.pending === 0);
    pub.publish(batch(12));
    await until("the last", () => a.last === 12);
    assert.deepEqual(a.seqs, [1, 2, 3, 4, 5, 6, 12]);
    assert.deepEqual(a.gaps, [6], "entry 12 says the batch before it was 11");
    assert.equal(a.gapAt[0], 6);
  });

  test("a stream left by an older incarnation with larger seqs is reset; its subscribers get onGap", async () => {
    const ns = `t${++namespaces}`;
    const old = open(ns);
    assert.ok(await old.ready());
    for (let s = 1_000; s <= 1_010; s++) old.publish(batch(s));
    await until("published", () => old.stats.published === 11);
    const sub = open(ns);
    const a = new Recorder();
    sub.subscribe(1_000, a);
    await until("the old ones", () => a.last === 1_010);
    await old.close();
    const logs: string[] = [];
    const fresh = open(ns, { log: (m) => logs.push(m) });
    assert.ok(await fresh.ready());
    for (let s = 1; s <= 5; s++) fresh.publish(batch(s));
    await until("re-added", () => fresh.stats.published === 5);
    assert.equal(fresh.stats.resets, 1);
    assert.equal(fresh.stats.dropped, 0, "the refused batches were added again after the DEL");
    assert.equal(logs.length, 1);
    const entries = (await redis.command(["XRANGE", busStreamKey(ns), "-", "+"])) as [string][];
    assert.deepEqual(
      entries.map((e) => e[0]),
      ["1-0", "2-0", "3-0", "4-0", "5-0"],
    );
    await until("the subscriber noticed", () => a.gaps.length > 0 && a.last === 5);
    assert.deepEqual(a.gaps, [1_010]);
    assert.deepEqual(a.seqs, [...range(1_000, 1_010), ...range(1, 5)].slice(1));
  });
});

describe("RedisMarketDataBus over TLS with an ACL user", () => {
  test("rediss://user:password@…?ca=…: publish and subscribe; openBus picks the backend from the URL", async () => {
    const redis = await startCacheRedis({ tls: true, acl: true });
    const pub = await openBus(`${redis.url}&namespace=secure`, { blockMs: 100, log: () => {} });
    const sub = await openBus(`${redis.url}&namespace=secure`, { blockMs: 100, log: () => {} });
    try {
      assert.equal(pub.backend, "redis");
      const a = new Recorder();
      sub.subscribe(0, a);
      for (let s = 1; s <= 10; s++) pub.publish(batch(s));
      await until("delivered", () => a.last === 10);
      assert.deepEqual(a.seqs, range(1, 10));
      const keys = (await redis.command(["KEYS", "*"])) as string[];
      assert.deepEqual(keys, ["{secure}:md"]);
    } finally {
      await pub.close();
      await sub.close();
      await redis.stop();
    }
    assert.equal((await openBus(undefined)).backend, "memory");
    assert.equal((await openBus("memory")).backend, "memory");
    await assert.rejects(openBus("http://example.com"), /CACHE_BAD_URL|not "memory"/);
  });
});

describe("RedisMarketDataBus across a Redis restart", () => {
  test("Redis killed and restarted empty: subscribers get onGap and go on with new batches", async () => {
    const redis = await startCacheRedis();
    const pub = new RedisMarketDataBus(redis.url, { blockMs: 100, log: () => {} });
    const sub = new RedisMarketDataBus(redis.url, { blockMs: 100, log: () => {} });
    try {
      assert.ok(await pub.ready());
      assert.ok(await sub.ready());
      const a = new Recorder();
      sub.subscribe(0, a);
      for (let s = 1; s <= 20; s++) pub.publish(batch(s));
      await until("the first 20", () => a.last === 20);
      await redis.kill();
      await until("unhealthy", () => !pub.healthy);
      pub.publish(batch(21));
      assert.equal(pub.stats.dropped, 1, "dropped while Redis is down");
      await redis.restart();
      await until("healthy again", () => pub.healthy);
      for (let s = 22; s <= 30; s++) pub.publish(batch(s));
      await until("the new ones", () => a.last === 30);
      assert.deepEqual(a.seqs, [...range(1, 20), ...range(22, 30)]);
      assert.ok(a.gaps.length >= 1 && a.gaps[0] === 20, `gaps ${a.gaps}`);
      assert.ok(
        a.gapAt.every((i) => i === 20),
        "every gap reported before the batches after it",
      );
    } finally {
      await pub.close();
      await sub.close();
      await redis.stop();
    }
  });
});

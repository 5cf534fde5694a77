/**
 * Publisher → bus + cache → replica, end to end, driven by the REAL engine: a seeded random command
 * stream (test/marketdata/driver.ts) goes through Engine.apply, MarketData.apply, and
 * MarketDataPublisher.publish; the API node's MarketDataReplica must then serve every market's book and
 * recent trades exactly as MarketData does, once caught up:
 *
 *   - in-process (MemoryCache + MemoryMarketDataBus) and on a real redis-server (RedisCache + Redis
 *     stream bus, each side with its own connections, as two processes would have);
 *   - a replica started mid-run joins correctly;
 *   - a batch never published (a drop) is noticed by the book sequence and repaired by a resync;
 *   - Redis killed mid-run and restarted empty (no persistence): the publisher rewrites every snapshot,
 *     the replica resyncs, and both agree again.
 *
 * No timing assertion: only bounded waits for the replica to catch up.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { MarketDataBus, PublicUpdate } from "../../src/cache/bus.js";
import type { Cache } from "../../src/cache/cache.js";
import { MarketDataPublisher } from "../../src/cache/md-publisher.js";
import { MarketDataReplica } from "../../src/cache/md-replica.js";
import { MemoryMarketDataBus } from "../../src/cache/memory-bus.js";
import { MemoryCache } from "../../src/cache/memory-cache.js";
import { RedisMarketDataBus } from "../../src/cache/redis-bus.js";
import { RedisCache } from "../../src/cache/redis-cache.js";
import { parseRedisCacheUrl } from "../../src/cache/redis-connection.js";
import { defaultConfig, settleConfig } from "../../src/engine/config.js";
import { Engine } from "../../src/engine/engine.js";
import type { EngineEvent } from "../../src/engine/types.js";
import { candleIntervals, MarketData } from "../../src/marketdata/index.js";
import { CommandStream } from "../marketdata/driver.js";
import { type CacheRedisInstance, startCacheRedis } from "./redis-instances.js";

const config = settleConfig(defaultConfig);
const symbols = config.markets.map((m) => m.symbol);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The process that matches: engine → MarketData → publisher. */
class Exchange {
  readonly engine = new Engine(config);
  readonly stream: CommandStream;
  readonly md: MarketData;
  readonly publisher: MarketDataPublisher;
  private readonly events: EngineEvent[] = [];
  commands = 0;
  skipped = 0;

  constructor(
    seed: number,
    readonly bus: MarketDataBus,
    readonly cache: Cache,
    publisherOptions: { refreshEveryMs?: number } = {},
    bookDepthMax?: number,
  ) {
    this.md = new MarketData(config, {
      accountMessages: false,
      ...(bookDepthMax === undefined ? {} : { limits: { bookDepthMax } }),
    });
    this.stream = new CommandStream(config, seed, 8);
    this.publisher = new MarketDataPublisher({
      marketData: this.md,
      bus,
      cache,
      snapshotEveryMs: 20,
      log: () => {},
      ...publisherOptions,
    });
  }

  /** Runs `n` commands, yielding to the event loop every 25 so that timers and sockets progress. */
  async run(n: number, options: { skipNextBookBatch?: boolean; quiet?: string } = {}): Promise<void> {
    let skip = options.skipNextBookBatch === true;
    for (let i = 0; i < n; i++) {
      this.events.length = 0;
      let command = this.stream.next();
      // A quiet market: its orders become ticks (nothing else can touch it if it never had any).
      if (command.type === "place" && command.symbol === options.quiet)
        command = { type: "tick", seq: command.seq, time: command.time };
      this.engine.apply(command, this.events);
      this.stream.observe(this.events);
      const updates = this.md.apply(this.events);
      this.commands++;
      if (skip && updates.some((u) => u.channel === "book")) {
        skip = false;
        this.skipped++;
        continue; // a batch that never reaches the bus
      }
      this.publisher.publish(command.seq, updates);
      if (i % 25 === 24) await sleep(1);
    }
  }
}

function same(replica: MarketDataReplica, md: MarketData): string | null {
  for (const s of symbols) {
    const want = md.book(s)!;
    const got = replica.book(s)!;
    try {
      assert.deepEqual(got, want);
      assert.deepEqual(replica.trades(s), md.trades(s));
      const t = replica.ticker(s)!;
      const u = md.ticker(s)!;
      assert.deepEqual([t.last, t.bestBid, t.bestAsk], [u.last, u.bestBid, u.bestAsk]);
    } catch (error) {
      return `${s}: ${(error as Error).message.slice(0, 400)}`;
    }
  }
  return null;
}

async function caughtUp(what: string, replica: MarketDataReplica, md: MarketData, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const diff = same(replica, md);
    if (diff === null) return;
    if (Date.now() > deadline)
      throw new Error(
        `${what}: the replica did not catch up (${JSON.stringify(replica.stats)}, stale ${replica.stale}): ${diff}`,
      );
    await sleep(10);
  }
}

async function candlesMatch(replica: MarketDataReplica, md: MarketData, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let diff: string | null = null;
    for (const s of symbols) {
      for (const interval of candleIntervals) {
        const got = await replica.candles(s, interval);
        if (JSON.stringify(got) !== JSON.stringify(md.candles(s, interval))) diff ??= `${s} ${interval}`;
      }
    }
    if (diff === null) return;
    if (Date.now() > deadline) throw new Error(`candles differ: ${diff}`);
    await sleep(50);
  }
}

interface Side {
  bus: MarketDataBus;
  cache: Cache;
}

/** The scenario every backend runs: start, join mid-run, a dropped batch. */
async function scenario(exchange: Exchange, replicaSide: () => Promise<Side>, seed: number) {
  await exchange.publisher.start();
  await exchange.run(300);
  const a = replicaSide();
  const sideA = await a;
  const replica = new MarketDataReplica({ config, ...sideA, log: () => {}, retryMaxMs: 200 });
  const seen: PublicUpdate[] = [];
  const resynced: string[] = [];
  replica.onUpdates((u) => seen.push(...u));
  replica.onResync((s) => resynced.push(s));
  await replica.start();
  assert.ok(replica.ready);
  assert.deepEqual(resynced, symbols, "every market announced after the first sync");
  await exchange.run(1_500);
  await caughtUp(`seed ${seed}: after 1,800 commands`, replica, exchange.md);
  assert.ok(seen.some((u) => u.channel === "book") && seen.some((u) => u.channel === "trades"));
  assert.equal(replica.stats.gaps, 0);

  // A second replica joins mid-run, while commands keep coming.
  const sideB = await replicaSide();
  const late = new MarketDataReplica({ config, ...sideB, log: () => {}, retryMaxMs: 200 });
  const joining = late.start();
  await exchange.run(400);
  await joining;
  await exchange.run(400);
  await caughtUp("the late replica", late, exchange.md);
  await caughtUp("the first replica", replica, exchange.md);

  // A batch with a book update never reaches the bus: the next update of its market shows the gap.
  const resyncs = replica.stats.resyncs;
  await exchange.run(600, { skipNextBookBatch: true });
  assert.equal(exchange.skipped, 1);
  await caughtUp("after a dropped batch", replica, exchange.md);
  await caughtUp("the late replica after a dropped batch", late, exchange.md);
  assert.ok(replica.stats.gaps >= 1, "the gap was noticed");
  assert.ok(replica.stats.resyncs > resyncs, "and repaired by a resync");
  assert.ok(!replica.stale);

  await candlesMatch(replica, exchange.md);
  return { replica, late };
}

describe("market-data publisher", () => {
  test("snapshots carry the seq they include; quiet markets are rewritten before they expire; close flushes", async () => {
    const ttl = { ttlMs: 300 };
    const cache = new MemoryCache({ policies: { book: ttl, trades: ttl, ticker: ttl, candles: ttl } });
    const bus = new MemoryMarketDataBus();
    const exchange = new Exchange(5, bus, cache, { refreshEveryMs: 100 });
    await exchange.publisher.start();
    await exchange.run(400);
    const read = async (kind: "book" | "trades" | "ticker", symbol: string) =>
      JSON.parse((await cache.get(kind, symbol)) ?? "null") as { at: number; sequence?: number } | null;
    // Nothing happens for several TTLs: the entries are still there, rewritten by the refresh.
    await sleep(1_000);
    for (const s of symbols) {
      for (const kind of ["book", "trades", "ticker"] as const) {
        const value = await read(kind, s);
        assert.ok(value !== null, `${kind} ${s} expired`);
        assert.equal(value.at, exchange.stream.seq, "at = the seq of the last batch applied");
      }
      const book = (await read("book", s)) as unknown as { sequence: number; bids: unknown; asks: unknown };
      const want = exchange.md.book(s)!;
      assert.deepEqual([book.sequence, book.bids, book.asks], [want.sequence, want.bids, want.asks]);
      assert.ok((await cache.get("candles", `${s}:1m`)) !== undefined);
    }
    assert.ok(
      exchange.publisher.stats.fullRewrites >= 5,
      `${exchange.publisher.stats.fullRewrites} rewrites`,
    );
    // close() writes what is dirty now.
    await exchange.run(50);
    await exchange.publisher.close();
    const ats = await Promise.all(symbols.map(async (s) => (await read("book", s))!.at));
    assert.ok(
      ats.includes(exchange.stream.seq),
      `a market the last commands touched is at ${exchange.stream.seq}`,
    );
    assert.equal(exchange.publisher.stats.errors, 0);
    assert.equal(exchange.publisher.stats.published, bus.stats.published);
  });
});

describe("market-data replica, in-process backends", () => {
  test("a quiet market's old snapshot does not send the replica back beyond the bus's reach (watermark)", async () => {
    const quiet = "ETH-BTC";
    const bus = new MemoryMarketDataBus({ ringSize: 256 });
    const cache = new MemoryCache();
    // No periodic full rewrite: the quiet market's snapshots keep the seq of start().
    const exchange = new Exchange(17, bus, cache, { refreshEveryMs: 3_600_000 });
    await exchange.publisher.start();
    const startedAt = exchange.stream.seq;
    await exchange.run(3_000, { quiet });
    assert.ok(bus.stats.published > 1_000, "far more batches than the ring holds");
    const snapshot = JSON.parse((await cache.get("book", quiet))!) as { at: number };
    assert.ok(snapshot.at <= startedAt + 1, "the quiet market was never rewritten");
    const replica = new MarketDataReplica({ config, bus, cache, log: () => {}, retryMaxMs: 200 });
    const starting = replica.start();
    await exchange.run(200, { quiet });
    await starting;
    await exchange.run(200, { quiet });
    await caughtUp("with a quiet market", replica, exchange.md);
    assert.equal(replica.stats.gaps, 0, "synced at once, from the watermark");
    assert.equal(replica.stats.resyncs, 1);
    await replica.close();
    await exchange.publisher.close();
  });

  test("a book deeper than its snapshot: once levels from beyond it come within reach, the replica resyncs", async () => {
    // Snapshots of 4 levels a side, books of tens of levels: every side is deeper than its snapshot.
    const depth = 4;
    const bus = new MemoryMarketDataBus();
    const cache = new MemoryCache();
    const exchange = new Exchange(23, bus, cache, {}, depth);
    await exchange.run(400);
    await exchange.publisher.start();
    const replica = new MarketDataReplica({
      config,
      bus,
      cache,
      bookDepthMax: depth,
      log: () => {},
      retryMinMs: 5,
      retryMaxMs: 50,
    });
    await replica.start();
    await exchange.run(1_500);
    await caughtUp("with books deeper than their snapshots", replica, exchange.md);
    assert.ok(replica.stats.gaps > 0, "levels from beyond a snapshot came within reach at least once");
    await replica.close();
    await exchange.publisher.close();
  });

  test("equals MarketData: from the start, joined mid-run, after a dropped batch", async () => {
    const bus = new MemoryMarketDataBus();
    const cache = new MemoryCache();
    const exchange = new Exchange(11, bus, cache);
    const { replica, late } = await scenario(exchange, async () => ({ bus, cache }), 11);
    await replica.close();
    await late.close();
    await exchange.publisher.close();
  });
});

describe("market-data replica, on a real redis-server", () => {
  let redis: CacheRedisInstance;
  const closers: (() => Promise<void>)[] = [];

  before(async () => {
    redis = await startCacheRedis();
  });
  after(async () => {
    for (const close of closers.reverse()) await close().catch(() => {});
    await redis.stop();
  });

  async function side(name: string): Promise<Side> {
    const location = parseRedisCacheUrl(redis.url);
    const cache = await RedisCache.connect(location, { clientName: `${name}-cache` });
    const bus = new RedisMarketDataBus(location, { blockMs: 200, clientName: `${name}-bus`, log: () => {} });
    assert.ok(await bus.ready());
    closers.push(
      () => bus.close(),
      () => cache.close(),
    );
    return { bus, cache };
  }

  test("equals MarketData: joined mid-run, dropped batch, Redis killed and restarted empty", async () => {
    const engineSide = await side("engine");
    const exchange = new Exchange(23, engineSide.bus, engineSide.cache);
    closers.push(() => exchange.publisher.close());
    let n = 0;
    const { replica, late } = await scenario(exchange, () => side(`api${++n}`), 23);
    closers.push(
      () => replica.close(),
      () => late.close(),
    );

    // Redis dies; the engine keeps matching (its batches are dropped); Redis comes back empty.
    const resyncs = replica.stats.resyncs;
    await redis.kill();
    await exchange.run(300);
    assert.ok(replica.book(symbols[0]!) !== undefined, "the replica keeps serving what it had");
    await redis.restart();
    await exchange.run(300);
    await caughtUp("after Redis restarted empty", replica, exchange.md, 30_000);
    await caughtUp("the late replica after Redis restarted empty", late, exchange.md, 30_000);
    assert.ok(replica.stats.resyncs > resyncs, "resynced from the rewritten snapshots");
    assert.ok(engineSide.bus.stats.dropped > 0, "the publisher dropped batches while Redis was down");
    await candlesMatch(replica, exchange.md);

    // Every connection cut, again and again, while commands flow: the replicas converge each time.
    for (let round = 0; round < 3; round++) {
      await exchange.run(150);
      await redis.command(["CLIENT", "KILL", "TYPE", "normal"]);
      await exchange.run(150);
      await caughtUp(`after cut ${round + 1}`, replica, exchange.md);
      await caughtUp(`the late replica after cut ${round + 1}`, late, exchange.md);
    }
  });
});

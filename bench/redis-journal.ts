/**
 * `npm run bench:redis-journal` (`-- --quick` for a run under a minute): the Redis journal with the
 * durable settings, started here: a redis-server primary with appendonly yes + appendfsync always and
 * one replica, durability aof-always+wait (every batch: fenced append, then WAIT 1).
 *
 *   1. durable orders/s: closed loop of place orders through the DurableEngine;
 *   2. ack latency p50/p99/p99.9 in open loop at fixed offered rates (latency from when the order was
 *      due, so a stall counts for everything queued behind it);
 *   3. failover time with real processes: leader killed (SIGKILL) → first order acknowledged by the
 *      new leader, p50 and max over several rounds (test/cluster/failover.ts);
 *   4. the measurements behind the snapshot placement: writing a snapshot to Redis in 1 MiB chunks
 *      vs one SET, and the ack latency of appends meanwhile; the cost of one state hash (checkpoint).
 *
 * The last line is one JSON object with every figure.
 */
import * as hdr from "hdr-histogram-js";
import { defaultConfig } from "../src/engine/config.js";
import type { CommandInput } from "../src/journal/command-codec.js";
import { DurableEngine } from "../src/journal/durable-engine.js";
import { RedisJournal } from "../src/journal/redis-journal.js";
import { RedisLog } from "../src/journal/redis-log.js";
import { writeRedisSnapshot } from "../src/journal/redis-snapshots.js";
import { engineFactory } from "../src/journal/state-machine.js";
import { SystemClock } from "../src/platform/clock.js";
import { Prng } from "../src/platform/prng.js";
import { runFailover } from "../test/cluster/failover.js";
import { startReplicatedRedis } from "../test/cluster/redis-servers.js";
import { type AckLatency, openLoopAcks } from "./lib/open-loop.js";

const quick = process.argv.includes("--quick");
const factory = engineFactory(defaultConfig);
const log = (line: string): void => {
  process.stderr.write(`${line}\n`);
};
const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
/**
 * The open loops sleep between sends instead of spinning: on 2 cores shared with a redis-server
 * primary and its replica, a spinning client takes the CPU the servers need (measured: p50 1.4 ms
 * spinning vs 0.5 ms sleeping at 1k/s). AckLatency still runs from each order's due time, so a late
 * timer counts against the figures, never for them.
 */
const nap = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 1));

/** Limit orders around a mid on 3 markets from 64 accounts; 40% IOC so the book stays bounded. */
class Orders {
  private readonly random = new Prng(42);
  private n = 0;
  setup(): CommandInput[] {
    const out: CommandInput[] = [];
    for (let a = 1; a <= 64; a++) out.push({ type: "create_account" });
    for (let a = 1; a <= 64; a++)
      for (const asset of ["USD", "BTC", "ETH"])
        out.push({ type: "deposit", accountId: a, asset, amount: 10 ** 15, transferId: `b-${a}-${asset}` });
    return out;
  }
  next(): CommandInput {
    const r = this.random;
    const buy = r.chance(0.5);
    const ioc = r.chance(0.4);
    return {
      type: "place",
      accountId: r.range(1, 64),
      symbol: "BTC-USD",
      side: buy ? "buy" : "sell",
      orderType: "limit",
      price: 5_000_000 + (buy ? -1 : 1) * r.range(0, 5_000) + (ioc ? (buy ? 4_000 : -4_000) : 0),
      stopPrice: 0,
      quantity: r.range(1, 50),
      quoteQuantity: 0,
      timeInForce: ioc ? "IOC" : "GTC",
      expireTime: 0,
      postOnly: false,
      clientOrderId: `c${this.n++}`,
      selfTradePrevention: "cancel_taker",
    };
  }
}

let namespaces = 0;
async function openEngine(url: string): Promise<DurableEngine> {
  return DurableEngine.open({
    journal: new RedisJournal({
      url,
      namespace: `bench${++namespaces}`,
      durability: "aof-always+wait",
      replicas: 1,
    }),
    factory,
    clock: new SystemClock(),
    log: () => {},
  });
}

async function closedLoop(
  engine: DurableEngine,
  count: number,
  next: () => CommandInput,
  inFlight = 20_000,
): Promise<number> {
  const t0 = performance.now();
  let sent = 0;
  let done = 0;
  const ack = (error: Error | null): void => {
    if (error !== null) throw error;
    done++;
  };
  while (done < count) {
    while (sent < count && engine.pendingCount < inFlight) {
      engine.submitWith(next(), ack);
      sent++;
    }
    await tick();
    if (engine.failed) throw engine.failed;
  }
  return (count / (performance.now() - t0)) * 1000;
}

async function openLoop(
  engine: DurableEngine,
  orders: Orders,
  rate: number,
  seconds: number,
): Promise<AckLatency> {
  const { latency: result, histogram: h } = await openLoopAcks(
    engine,
    () => orders.next(),
    rate,
    seconds,
    nap,
  );
  const total = result.count;
  h.destroy();
  log(
    `  ${rate}/s offered (${total} orders): ack p50 ${result.p50Ms.toFixed(3)} / p99 ${result.p99Ms.toFixed(3)} / p99.9 ${result.p999Ms.toFixed(3)} / max ${result.maxMs.toFixed(1)} ms; achieved ${result.achievedPerSec}/s`,
  );
  return result;
}

/**
 * Ack latency of appends at `rate` while `write` runs (a snapshot being stored), and how long the
 * write took. The worst ack shows how long Redis was held by the write.
 */
async function appendsDuring(
  engine: DurableEngine,
  orders: Orders,
  rate: number,
  write: () => Promise<unknown>,
): Promise<{ writeMs: number; ackMaxMs: number; ackP99Ms: number }> {
  const h = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 600_000_000,
    numberOfSignificantValueDigits: 3,
  });
  let writing = true;
  const w0 = performance.now();
  let writeMs = 0;
  const writer = write().then(() => {
    writeMs = performance.now() - w0;
    writing = false;
  });
  const t0 = performance.now();
  let sent = 0;
  let done = 0;
  while (writing || done < sent) {
    const due = Math.floor(((performance.now() - t0) * rate) / 1000);
    while (writing && sent < due) {
      const scheduled = t0 + (sent * 1000) / rate;
      engine.submitWith(orders.next(), (error) => {
        if (error) throw error;
        done++;
        h.recordValue(Math.max(1, Math.round((performance.now() - scheduled) * 1000)));
      });
      sent++;
    }
    await nap();
  }
  await writer;
  const result = { writeMs, ackMaxMs: h.maxValue / 1000, ackP99Ms: h.getValueAtPercentile(99) / 1000 };
  h.destroy();
  return result;
}

async function main(): Promise<void> {
  const started = performance.now();
  log(
    `bench:redis-journal${quick ? " --quick" : ""}: redis-server primary (appendonly yes, appendfsync always) + 1 replica, aof-always+wait`,
  );
  const redis = await startReplicatedRedis(1);
  const url = redis.primary.url;
  try {
    // 1. Throughput.
    const orders = new Orders();
    const engine = await openEngine(url);
    await closedLoop(engine, 64 * 4, () => orders.setup().shift()!);
    const setup = orders.setup();
    await closedLoop(engine, setup.length, () => setup.shift()!);
    await closedLoop(engine, quick ? 20_000 : 50_000, () => orders.next()); // warm up
    const count = quick ? 200_000 : 1_000_000;
    const ordersPerSec = await closedLoop(engine, count, () => orders.next());
    log(`durable orders/s (closed loop, ${count} orders): ${Math.round(ordersPerSec)}`);

    // 2. AckLatency, open loop.
    log("ack latency, open loop:");
    const latency: AckLatency[] = [];
    for (const rate of [1_000, 10_000, 50_000])
      latency.push(await openLoop(engine, orders, rate, quick ? 2 : 8));

    // 4. Snapshots: chunked vs one SET, appends meanwhile; and the cost of one state hash.
    const resting = quick ? 100_000 : 500_000;
    const big = factory.create();
    const seedOrders = new Orders();
    const out: never[] = [];
    let seq = 0;
    for (const c of seedOrders.setup()) big.apply({ ...c, seq: ++seq, time: 1 } as never, out);
    for (let i = 0; i < resting; i++) {
      const o = seedOrders.next() as CommandInput & { timeInForce: string; price: number; side: string };
      o.timeInForce = "GTC";
      o.price = o.side === "buy" ? 4_000_000 - (i % 5_000) : 6_000_000 + (i % 5_000);
      big.apply({ ...o, seq: ++seq, time: 1 } as never, out);
      out.length = 0;
    }
    const h0 = performance.now();
    const payload = big.snapshot();
    const snapshotEncodeMs = performance.now() - h0;
    const h1 = performance.now();
    big.stateHash();
    const stateHashMs = performance.now() - h1;
    log(
      `snapshot of ${resting} resting orders: ${(payload.length / 1e6).toFixed(1)} MB, encode ${snapshotEncodeMs.toFixed(0)} ms; one state hash ${stateHashMs.toFixed(0)} ms`,
    );
    const side = await RedisLog.connect({ url, namespace: "bench-snapshots" });
    const position = { lastSeq: seq, lastTime: 1, chain: 0 };
    const chunked = await appendsDuring(engine, orders, 5_000, () =>
      writeRedisSnapshot(side, position, "1-1", payload, 2),
    );
    const single = await appendsDuring(engine, orders, 5_000, () =>
      side.command([
        "SET",
        "{bench-snapshots}:one-set",
        Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength),
      ]),
    );
    log(
      `  to Redis in 1 MiB chunks: ${chunked.writeMs.toFixed(0)} ms, appends meanwhile at 5k/s: ack p99 ${chunked.ackP99Ms.toFixed(2)} ms, max ${chunked.ackMaxMs.toFixed(1)} ms`,
    );
    log(
      `  to Redis in one SET:      ${single.writeMs.toFixed(0)} ms, appends meanwhile at 5k/s: ack p99 ${single.ackP99Ms.toFixed(2)} ms, max ${single.ackMaxMs.toFixed(1)} ms`,
    );
    await side.command(["DEL", "{bench-snapshots}:one-set"]);
    await side.close();
    await engine.close();

    // 3. Failover with real processes.
    log("failover (real processes: kill -9 the leader under load, lease 600 ms):");
    const failover = await runFailover({
      rounds: quick ? 4 : 20,
      seed: 7,
      minRunMs: 300,
      maxRunMs: 800,
      log: (line) => log(`  ${line}`),
    });
    log(
      `  failover p50 ${failover.failoverMsP50.toFixed(0)} ms, max ${failover.failoverMsMax.toFixed(0)} ms over ${failover.rounds} rounds; ${failover.acked} acknowledged orders checked, none lost or applied twice`,
    );
    const reference = latency.find((l) => l.offeredPerSec === 10_000)!;
    const result = {
      bench: "redis-journal",
      quick,
      durability: "aof-always+wait",
      replicas: 1,
      ordersPerSec: Math.round(ordersPerSec),
      ackP50Ms: reference.p50Ms,
      ackP99Ms: reference.p99Ms,
      ackRateForP99: reference.offeredPerSec,
      latency,
      failoverMsP50: Math.round(failover.failoverMsP50),
      failoverMsMax: Math.round(failover.failoverMsMax),
      failoverRounds: failover.rounds,
      failoverTakeoverMsP50: Math.round(
        [...failover.takeoverMs].sort((a, b) => a - b)[Math.floor(failover.takeoverMs.length / 2)]!,
      ),
      failoverAckedChecked: failover.acked,
      snapshot: {
        restingOrders: resting,
        bytes: payload.length,
        encodeMs: Math.round(snapshotEncodeMs),
        stateHashMs: Math.round(stateHashMs),
        chunkedWriteMs: Math.round(chunked.writeMs),
        chunkedAckMaxMs: chunked.ackMaxMs,
        singleSetWriteMs: Math.round(single.writeMs),
        singleSetAckMaxMs: single.ackMaxMs,
      },
      seconds: Math.round((performance.now() - started) / 100) / 10,
    };
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    await redis.stop();
  }
}

await main();

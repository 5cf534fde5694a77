/**
 * bench:bus-transport: Redis pub/sub vs a Redis stream for the market-data bus (docs/cache-bus.md).
 *
 * One publisher (the main thread, node-redis, fire and forget with at most 10,000 commands in flight,
 * as the bus does) → 2 subscribers (worker threads, one connection each), batches of ~300 bytes of
 * JSON, on a redis-server started here (no persistence, as a cache's):
 *
 *   - throughput: N batches published as fast as the bound allows; msgs/s = N / (time until both
 *     subscribers have all of them), and how many each subscriber lost;
 *   - latency: batches paced at a steady rate; p50/p99/max publish → deliver (wall clock shared by the
 *     threads: performance.timeOrigin + performance.now()).
 *
 * Streams: XADD MAXLEN ~ 100000 <seq>-0 / XREAD COUNT 1000 BLOCK 1000 from the last id.
 * Pub/sub: PUBLISH / SUBSCRIBE.
 *
 * Usage: node dist/bench/bus-transport.js [--count 100000] [--rate 2000] [--seconds 5]
 */
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { createClient } from "redis";
import { startCacheRedis } from "../test/cache/redis-instances.js";

type Transport = "stream" | "pubsub";

interface WorkerInput {
  url: string;
  transport: Transport;
  key: string;
  expected: number;
}

interface WorkerResult {
  received: number;
  lastSeq: number;
  outOfOrder: number;
  latenciesMs: number[];
  doneAt: number;
}

const now = (): number => performance.timeOrigin + performance.now();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function message(seq: number): string {
  const base = {
    seq,
    t: now(),
    updates: [
      {
        channel: "book",
        symbol: "BTC-USD",
        sequence: seq,
        bids: [["50000.00", "0.0100"]],
        asks: [["50001.00", "0"]],
      },
      {
        channel: "ticker",
        symbol: "BTC-USD",
        last: "50000.00",
        bestBid: "50000.00",
        bestAsk: "50002.00",
        volume24h: "12.3456",
        high24h: "50100.00",
        low24h: "49900.00",
        time: 1_700_000_000_000 + seq,
      },
    ],
  };
  return JSON.stringify(base);
}

async function subscriber(input: WorkerInput): Promise<WorkerResult> {
  const client = createClient({ url: input.url });
  client.on("error", () => {});
  await client.connect();
  const result: WorkerResult = { received: 0, lastSeq: 0, outOfOrder: 0, latenciesMs: [], doneAt: 0 };
  const take = (text: string): void => {
    const m = JSON.parse(text) as { seq: number; t: number };
    result.latenciesMs.push(now() - m.t);
    if (m.seq !== result.lastSeq + 1) result.outOfOrder++;
    result.lastSeq = m.seq;
    result.received++;
  };
  parentPort!.postMessage({ ready: true });
  // Stop when everything arrived, or 3 s after the last message (losses).
  let lastAt = Date.now();
  if (input.transport === "pubsub") {
    await client.subscribe(input.key, (text) => {
      take(text);
      lastAt = Date.now();
    });
    while (result.received < input.expected && Date.now() - lastAt < 3_000) await sleep(2);
  } else {
    let lastId = "0-0";
    while (result.received < input.expected && Date.now() - lastAt < 3_000) {
      const reply = (await client.sendCommand([
        "XREAD",
        "COUNT",
        "1000",
        "BLOCK",
        "200",
        "STREAMS",
        input.key,
        lastId,
      ])) as [string, [string, string[]][]][] | Record<string, [string, string[]][]> | null;
      if (reply === null) continue;
      const streams = Array.isArray(reply) ? reply : Object.entries(reply);
      for (const [, entries] of streams) {
        for (const [id, fields] of entries) {
          take(fields[1]!);
          lastId = id;
        }
      }
      lastAt = Date.now();
    }
  }
  result.doneAt = now();
  client.destroy();
  return result;
}

if (!isMainThread) {
  void subscriber(workerData as WorkerInput).then((r) => parentPort!.postMessage({ result: r }));
}

function percentile(sorted: number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

interface Row {
  transport: Transport;
  mode: string;
  sent: number;
  msgsPerS: number;
  /** Publisher side alone: batches / time until the last PUBLISH or XADD was answered. */
  ackedPerS: number;
  lost: number;
  outOfOrder: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** The stream's MEMORY USAGE after the run (0 for pub/sub: nothing is kept). */
  memoryBytes: number;
}

async function run(
  url: string,
  transport: Transport,
  mode: "throughput" | "latency",
  count: number,
  ratePerS: number,
): Promise<Row> {
  const key = `bench:${transport}:${mode}:${Date.now()}`;
  const workers: Worker[] = [];
  const results: Promise<WorkerResult>[] = [];
  const ready: Promise<void>[] = [];
  for (let i = 0; i < 2; i++) {
    const w = new Worker(new URL(import.meta.url), {
      workerData: { url, transport, key, expected: count } satisfies WorkerInput,
    });
    workers.push(w);
    ready.push(new Promise((resolve) => w.on("message", (m: { ready?: boolean }) => m.ready && resolve())));
    results.push(
      new Promise((resolve, reject) => {
        w.on("message", (m: { result?: WorkerResult }) => m.result && resolve(m.result));
        w.on("error", reject);
      }),
    );
  }
  await Promise.all(ready);
  await sleep(200); // the SUBSCRIBE / first XREAD are in place
  const pub = createClient({ url, disableOfflineQueue: true });
  pub.on("error", () => {});
  await pub.connect();
  let pending = 0;
  let failed = 0;
  let ackedAt = 0;
  const send = (seq: number): void => {
    const text = message(seq);
    const p =
      transport === "pubsub"
        ? pub.sendCommand(["PUBLISH", key, text])
        : pub.sendCommand(["XADD", key, "MAXLEN", "~", "100000", `${seq}-0`, "d", text]);
    pending++;
    p.then(
      () => {
        pending--;
        ackedAt = now();
      },
      (error: Error) => {
        pending--;
        if (failed++ === 0) console.error(`${transport}: first failed command: ${error.message}`);
      },
    );
  };
  const start = now();
  if (mode === "throughput") {
    for (let seq = 1; seq <= count; seq++) {
      while (pending >= 10_000) await new Promise((r) => setImmediate(r));
      send(seq);
      if (seq % 500 === 0) await new Promise((r) => setImmediate(r));
    }
  } else {
    const intervalMs = 1_000 / ratePerS;
    for (let seq = 1; seq <= count; seq++) {
      const due = start + seq * intervalMs;
      const wait = due - now();
      if (wait > 1) await sleep(wait);
      send(seq);
    }
  }
  const got = await Promise.all(results);
  const end = Math.max(...got.map((r) => r.doneAt));
  let memoryBytes = 0;
  if (transport === "stream") {
    memoryBytes = Number(await pub.sendCommand(["MEMORY", "USAGE", key, "SAMPLES", "0"]));
    await pub.sendCommand(["DEL", key]);
  }
  pub.destroy();
  for (const w of workers) await w.terminate();
  const latencies = got.flatMap((r) => r.latenciesMs).sort((a, b) => a - b);
  return {
    transport,
    mode,
    sent: count - failed,
    msgsPerS: Math.round(count / ((end - start) / 1_000)),
    ackedPerS: Math.round(count / ((ackedAt - start) / 1_000)),
    lost: got.reduce((sum, r) => sum + (count - r.received), 0),
    outOfOrder: got.reduce((sum, r) => sum + r.outOfOrder, 0),
    p50Ms: percentile(latencies, 0.5),
    p99Ms: percentile(latencies, 0.99),
    maxMs: latencies.at(-1) ?? Number.NaN,
    memoryBytes,
  };
}

function argument(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? fallback : Number(process.argv[i + 1]);
}

async function main(): Promise<void> {
  const count = argument("count", 100_000);
  const rate = argument("rate", 2_000);
  const seconds = argument("seconds", 5);
  const redis = await startCacheRedis();
  console.log(
    `redis-server on ${redis.url}; message ${message(1).length} bytes; 1 publisher → 2 subscribers`,
  );
  const rows: Row[] = [];
  try {
    for (const transport of ["pubsub", "stream"] as const) {
      rows.push(await run(redis.url, transport, "throughput", count, 0));
      rows.push(await run(redis.url, transport, "latency", rate * seconds, rate));
    }
  } finally {
    await redis.stop();
  }
  const fmt = (x: number): string => (Number.isFinite(x) ? x.toFixed(2) : "-");
  console.log(
    "| transport | mode | batches | msgs/s published (acked) | msgs/s delivered to both | lost | out of order | p50 ms | p99 ms | max ms | Redis memory |",
  );
  console.log("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
  for (const r of rows) {
    const mode = r.mode === "latency" ? `paced ${rate}/s` : "as fast as possible";
    console.log(
      `| ${r.transport} | ${mode} | ${r.sent} | ${r.ackedPerS} | ${r.msgsPerS} | ${r.lost} | ${r.outOfOrder} | ${fmt(r.p50Ms)} | ${fmt(r.p99Ms)} | ${fmt(r.maxMs)} | ${(r.memoryBytes / 1_048_576).toFixed(1)} MB |`,
    );
  }
}

if (isMainThread) {
  main().catch((error) => {
    console.error(error);
    process.exit(1);
  });
}

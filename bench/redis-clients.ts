/**
 * `npm run bench:redis-clients` (`-- --quick` for a run under 30 s): the two Redis clients for the
 * cache and the market-data bus, measured on one redis-server started here (no persistence, as a cache
 * runs), same machine, same commands:
 *
 *   - node-redis (`redis` v6, what the journal uses) as created by default, commands through
 *     sendCommand; v6 gives every command a 5 s timeout (an AbortSignal.timeout each);
 *   - node-redis with that timeout off (`commandOptions: { timeout: 0 }`), as src/cache uses it;
 *   - iovalkey 0.4 (the ioredis fork), typed commands, default options;
 *   - iovalkey with enableAutoPipelining (commands of one tick written together, as node-redis does);
 *   - RedisCache itself (src/cache/redis-cache.ts): get, getMany, set (one script per write), no stream.
 *
 * Workloads (closed loops, `inFlight` commands outstanding at all times):
 *   1. GET ops/s, 64 in flight (1,000 keys of 200 bytes);
 *   2. MGET of 8 keys, calls/s, 64 in flight;
 *   3. SET … PX ops/s, 64 in flight;
 *   4. the bus: XADD (MAXLEN ~ 100,000, 256-byte entries) 64 in flight, read back by XREAD BLOCK
 *      COUNT 1,000 on a second connection: entries/s delivered;
 *   5. latency of a single GET, one at a time (low load): p50/p99/p99.9 (HDR, µs).
 *
 * Rounds alternate the clients (A B C A B C …) and each figure is the median over rounds. The last
 * line is one JSON object with every figure.
 */
import { Redis as Valkey } from "iovalkey";
import { createClient } from "redis";
import { RedisCache } from "../src/cache/redis-cache.js";
import { parseRedisCacheUrl } from "../src/cache/redis-connection.js";
import { startCacheRedis } from "../test/cache/redis-instances.js";
import { type LatencySummary, summarize } from "./lib/latency.js";

const quick = process.argv.includes("--quick");
const rounds = quick ? 1 : 3;
const measureMs = quick ? 800 : 3_000;
const latencySamples = quick ? 3_000 : 20_000;
const inFlight = 64;
const keyCount = 1_000;
const valueBytes = 200;
const entryBytes = 256;
const log = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

type StreamReply = [string, [string, string[]][]][];

interface Driver {
  readonly name: string;
  get(key: string): Promise<unknown>;
  mget(keys: string[]): Promise<unknown>;
  setPx(key: string, value: string, ms: number): Promise<unknown>;
  /** The stream workload (not for the cache). */
  xadd?(stream: string, payload: string): Promise<unknown>;
  /** XREAD BLOCK on the reading connection: the last id read and how many entries. */
  xread?(stream: string, afterId: string, blockMs: number): Promise<{ lastId: string; count: number }>;
  close(): Promise<void>;
}

/** node-redis as created by default (a 5 s timeout per command), or with that timeout off. */
async function nodeRedis(url: string, timeoutOff: boolean): Promise<Driver> {
  const options = timeoutOff ? { url, commandOptions: { timeout: 0 } } : { url };
  const client = createClient(options);
  const reader = createClient(options);
  client.on("error", () => {});
  reader.on("error", () => {});
  await client.connect();
  await reader.connect();
  return {
    name: timeoutOff ? "node-redis timeout:0" : "node-redis",
    get: (key) => client.sendCommand(["GET", key]),
    mget: (keys) => client.sendCommand(["MGET", ...keys]),
    setPx: (key, value, ms) => client.sendCommand(["SET", key, value, "PX", String(ms)]),
    xadd: (stream, payload) =>
      client.sendCommand(["XADD", stream, "MAXLEN", "~", "100000", "*", "d", payload]),
    async xread(stream, afterId, blockMs) {
      const reply = (await reader.sendCommand([
        "XREAD",
        "COUNT",
        "1000",
        "BLOCK",
        String(blockMs),
        "STREAMS",
        stream,
        afterId,
      ])) as StreamReply | Record<string, [string, string[]][]> | null;
      // RESP3 (node-redis v6's default) answers a map of stream → entries; RESP2 an array of pairs.
      if (reply === null || Array.isArray(reply)) return lastOf(reply?.[0]?.[1], afterId);
      return lastOf(Object.values(reply)[0], afterId);
    },
    async close() {
      client.destroy();
      reader.destroy();
    },
  };
}

async function iovalkey(port: number, autoPipelining: boolean): Promise<Driver> {
  const options = { host: "127.0.0.1", port, enableAutoPipelining: autoPipelining, lazyConnect: true };
  const client = new Valkey(options);
  const reader = new Valkey(options);
  client.on("error", () => {});
  reader.on("error", () => {});
  await client.connect();
  await reader.connect();
  return {
    name: autoPipelining ? "iovalkey+autopipelining" : "iovalkey",
    get: (key) => client.get(key),
    mget: (keys) => client.mget(keys),
    setPx: (key, value, ms) => client.set(key, value, "PX", ms),
    xadd: (stream, payload) => client.xadd(stream, "MAXLEN", "~", 100_000, "*", "d", payload),
    async xread(stream, afterId, blockMs) {
      const reply = await reader.xread("COUNT", 1_000, "BLOCK", blockMs, "STREAMS", stream, afterId);
      return lastOf(reply?.[0]?.[1], afterId);
    },
    async close() {
      client.disconnect();
      reader.disconnect();
    },
  };
}

/** src/cache's RedisCache itself (node-redis, its timeout off, its own reply timer; one script per SET). */
async function redisCache(url: string): Promise<Driver> {
  const cache = await RedisCache.connect(parseRedisCacheUrl(`${url}?namespace=bench`));
  return {
    name: "RedisCache (node-redis)",
    get: (key) => cache.get("candles", key),
    mget: (keys) => cache.getMany("candles", keys),
    setPx: (key, value, ms) => cache.set("candles", key, value, ms),
    close: () => cache.close(),
  };
}

function lastOf(
  entries: [string, string[]][] | undefined,
  afterId: string,
): { lastId: string; count: number } {
  if (entries === undefined || entries.length === 0) return { lastId: afterId, count: 0 };
  return { lastId: entries[entries.length - 1]![0], count: entries.length };
}

/** `inFlight` loops calling `op` until `ms` have passed: completed operations per second. */
async function closedLoop(ms: number, op: (i: number) => Promise<unknown>): Promise<number> {
  let done = 0;
  const start = performance.now();
  const end = start + ms;
  const loop = async (lane: number): Promise<void> => {
    let i = lane;
    while (performance.now() < end) {
      await op(i);
      i += inFlight;
      done++;
    }
  };
  await Promise.all(Array.from({ length: inFlight }, (_, lane) => loop(lane)));
  return done / ((performance.now() - start) / 1_000);
}

let streams = 0;
/** XADD in a closed loop while one reader follows with XREAD BLOCK: entries/s delivered to the reader. */
async function streamThroughput(
  driver: Driver,
  ms: number,
  payload: string,
): Promise<{ xaddPerS: number; deliveredPerS: number }> {
  const stream = `bench:stream:${streams++}`;
  let produced = 0;
  let delivered = 0;
  let producing = true;
  const start = performance.now();
  const reader = (async () => {
    let lastId = "0-0";
    while (producing || delivered < produced) {
      const read = await driver.xread!(stream, lastId, 100);
      lastId = read.lastId;
      delivered += read.count;
    }
  })();
  const xaddPerS = await closedLoop(ms, async () => {
    await driver.xadd!(stream, payload);
    produced++;
  });
  producing = false;
  await reader;
  const deliveredPerS = delivered / ((performance.now() - start) / 1_000);
  return { xaddPerS, deliveredPerS };
}

async function singleGetLatency(driver: Driver, samples: number): Promise<LatencySummary> {
  for (let i = 0; i < 1_000; i++) await driver.get(`k${i % keyCount}`);
  const times = new Float64Array(samples);
  for (let i = 0; i < samples; i++) {
    const t = performance.now();
    await driver.get(`k${i % keyCount}`);
    times[i] = performance.now() - t;
  }
  return summarize(times, 0);
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
};
const round = (n: number): number => Math.round(n);

interface Figures {
  getOpsPerS: number[];
  mget8CallsPerS: number[];
  setPxOpsPerS: number[];
  xaddOpsPerS: number[];
  streamDeliveredPerS: number[];
  getLatency?: LatencySummary;
}

async function main(): Promise<void> {
  const started = Date.now();
  const server = await startCacheRedis();
  log(
    `redis-server on ${server.url}, ${rounds} round(s) of ${measureMs} ms per workload${quick ? " (--quick)" : ""}`,
  );
  const drivers = [
    await nodeRedis(server.url, false),
    await nodeRedis(server.url, true),
    await iovalkey(server.port, false),
    await iovalkey(server.port, true),
    await redisCache(server.url),
  ];
  const value = "v".repeat(valueBytes);
  const payload = "p".repeat(entryBytes);
  const keys = Array.from({ length: keyCount }, (_, i) => `k${i}`);
  for (const key of keys)
    for (const driver of [drivers[0]!, drivers.at(-1)!]) await driver.setPx(key, value, 3_600_000);
  const figures = new Map<string, Figures>(
    drivers.map((d) => [
      d.name,
      { getOpsPerS: [], mget8CallsPerS: [], setPxOpsPerS: [], xaddOpsPerS: [], streamDeliveredPerS: [] },
    ]),
  );
  try {
    // Warm-up: JIT and connections, not measured.
    for (const driver of drivers) await closedLoop(200, (i) => driver.get(keys[i % keyCount]!));
    for (let r = 0; r < rounds; r++) {
      for (const driver of drivers) {
        const f = figures.get(driver.name)!;
        f.getOpsPerS.push(await closedLoop(measureMs, (i) => driver.get(keys[i % keyCount]!)));
        f.mget8CallsPerS.push(
          await closedLoop(measureMs, (i) => {
            const first = (i * 8) % (keyCount - 8);
            return driver.mget(keys.slice(first, first + 8));
          }),
        );
        f.setPxOpsPerS.push(
          await closedLoop(measureMs, (i) => driver.setPx(`s${i % keyCount}`, value, 60_000)),
        );
        const s = driver.xadd
          ? await streamThroughput(driver, measureMs, payload)
          : { xaddPerS: Number.NaN, deliveredPerS: Number.NaN };
        f.xaddOpsPerS.push(s.xaddPerS);
        f.streamDeliveredPerS.push(s.deliveredPerS);
        log(
          `round ${r + 1} ${driver.name.padEnd(24)} GET ${round(f.getOpsPerS.at(-1)!)}/s  MGET8 ${round(f.mget8CallsPerS.at(-1)!)}/s  ` +
            `SET PX ${round(f.setPxOpsPerS.at(-1)!)}/s  XADD ${round(s.xaddPerS)}/s  delivered ${round(s.deliveredPerS)}/s`,
        );
      }
    }
    for (const driver of drivers) {
      const latency = await singleGetLatency(driver, latencySamples);
      figures.get(driver.name)!.getLatency = latency;
      log(
        `${driver.name.padEnd(24)} single GET: p50 ${latency.p50Us} µs  p99 ${latency.p99Us} µs  p99.9 ${latency.p999Us} µs  max ${latency.maxUs} µs`,
      );
    }
  } finally {
    for (const driver of drivers) await driver.close();
    await server.stop();
  }
  const clients: Record<string, unknown> = {};
  for (const [name, f] of figures) {
    clients[name] = {
      getOpsPerS: round(median(f.getOpsPerS)),
      mget8CallsPerS: round(median(f.mget8CallsPerS)),
      setPxOpsPerS: round(median(f.setPxOpsPerS)),
      ...(Number.isNaN(f.xaddOpsPerS[0])
        ? {}
        : {
            xaddOpsPerS: round(median(f.xaddOpsPerS)),
            streamDeliveredPerS: round(median(f.streamDeliveredPerS)),
          }),
      getP50Us: f.getLatency?.p50Us,
      getP99Us: f.getLatency?.p99Us,
      getP999Us: f.getLatency?.p999Us,
    };
  }
  const versions = {
    redis: (await import("redis/package.json", { with: { type: "json" } })).default.version,
    iovalkey: (await import("iovalkey/package.json", { with: { type: "json" } })).default.version,
  };
  process.stdout.write(
    `${JSON.stringify({
      bench: "redis-clients",
      quick,
      rounds,
      measureMs,
      inFlight,
      valueBytes,
      entryBytes,
      versions,
      clients,
      seconds: Math.round((Date.now() - started) / 100) / 10,
    })}\n`,
  );
}

await main();

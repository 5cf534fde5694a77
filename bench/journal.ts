/**
 * `npm run bench:journal [-- --quick]`: the durable journal on this machine's disk.
 *   1. durable commands/s: closed loop, as fast as group commit goes;
 *   2. ack latency (submit → durable → released) at 10k, 50k, 100k commands/s offered, open loop:
 *      latency counts from each command's scheduled send time, so a stall delays everything behind it;
 *   3. replay: commands/s through decode + engine, and the journal alone (checksums, chain, decode);
 *   4. recovery from 10M journal entries, without and with a snapshot;
 *   5. worst processing stall while the snapshot worker snapshots 1M resting orders.
 * --quick: the same keys in under a minute (1M entries, scaled ×10 for the 10M keys, and 100k
 * resting orders), marked "quick": true. Last line: one JSON object.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { PerformanceObserver } from "node:perf_hooks";
import { defaultConfig } from "../src/engine/config.js";
import type { CommandInput } from "../src/journal/command-codec.js";
import { CommandDecoder } from "../src/journal/command-codec.js";
import { type CommittedCommand, DurableEngine } from "../src/journal/durable-engine.js";
import { scanRecords } from "../src/journal/format.js";
import { segmentHeaderBytes } from "../src/journal/journal-limits.js";
import { recover } from "../src/journal/recovery.js";
import { listSegments, writeSnapshotFile } from "../src/journal/snapshot-store.js";
import { WorkerSnapshotter } from "../src/journal/snapshotter.js";
import { engineFactory } from "../src/journal/state-machine.js";
import { SystemClock } from "../src/platform/clock.js";
import { Prng } from "../src/platform/prng.js";
import { RealFileSystem } from "../src/platform/real-file-system.js";
import { type AckLatency, openLoopAcks } from "./lib/open-loop.js";

const quick = process.argv.includes("--quick");
const factory = engineFactory(defaultConfig);
const realFs = new RealFileSystem();
const root = fs.mkdtempSync(path.join(process.env.BOURSE_BENCH_DIR ?? os.tmpdir(), "bourse-bench-journal-"));
const log = (line: string): void => console.log(line);
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));
const mid = 5_000_000;

/** A steady BTC-USD mix that keeps the book bounded: limit orders around the mid, cancels of recent ones. */
class Workload {
  private readonly random: Prng;
  private readonly recent: number[] = [];
  private recentAt = 0;
  readonly accounts: number;

  constructor(seed: number, accounts = 100) {
    this.random = new Prng(seed);
    this.accounts = accounts;
  }

  setup(): CommandInput[] {
    const commands: CommandInput[] = [];
    for (let a = 1; a <= this.accounts; a++) commands.push({ type: "create_account" });
    for (let a = 1; a <= this.accounts; a++) {
      for (const asset of ["USD", "BTC"]) {
        commands.push({
          type: "deposit",
          accountId: a,
          asset,
          amount: 10 ** 15,
          transferId: `bench-${a}-${asset}`,
        });
      }
    }
    return commands;
  }

  /** Remembers orders that rest, so that cancels hit real orders. */
  observe(batch: readonly CommittedCommand[]): void {
    for (const c of batch) {
      for (const e of c.events) {
        if (e.type === "order" && e.reason === "placed" && e.status === "open") {
          if (this.recent.length < 4_096) this.recent.push(e.orderId);
          else this.recent[this.recentAt++ & 4_095] = e.orderId;
        }
      }
    }
  }

  next(): CommandInput {
    const r = this.random;
    const accountId = r.range(1, this.accounts);
    if (this.recent.length > 0 && r.chance(0.45)) {
      return { type: "cancel", accountId, orderId: this.recent[r.int(this.recent.length)]! };
    }
    return limitOrder(
      accountId,
      r.chance(0.5) ? "buy" : "sell",
      mid + r.range(-2_000, 2_000),
      r.range(1, 20),
    );
  }
}

function limitOrder(accountId: number, side: "buy" | "sell", price: number, quantity: number): CommandInput {
  return {
    type: "place",
    accountId,
    symbol: "BTC-USD",
    side,
    orderType: "limit",
    price,
    stopPrice: 0,
    quantity,
    quoteQuantity: 0,
    timeInForce: "GTC",
    expireTime: 0,
    postOnly: false,
    clientOrderId: "",
    selfTradePrevention: "cancel_taker",
  };
}

function freshDir(name: string): string {
  const dir = path.join(root, name);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

async function openEngine(dir: string, withWorker = false): Promise<DurableEngine> {
  return DurableEngine.open({
    fs: realFs,
    dir,
    factory,
    clock: new SystemClock(),
    log: () => {},
    snapshotEveryCommands: Number.MAX_SAFE_INTEGER,
    snapshotEveryMs: Number.MAX_SAFE_INTEGER,
    snapshotter: withWorker ? (r) => new WorkerSnapshotter({ dir, config: defaultConfig, ...r }) : null,
  });
}

/** Submits as fast as the pipeline takes them (≤ inFlight pending); resolves when all are durable. */
async function closedLoop(
  engine: DurableEngine,
  count: number,
  next: () => CommandInput,
  inFlight = 50_000,
): Promise<number> {
  const t0 = performance.now();
  let sent = 0;
  let done = 0;
  const ack = (): void => {
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

async function prime(engine: DurableEngine, workload: Workload): Promise<void> {
  const setup = workload.setup();
  await closedLoop(engine, setup.length, () => setup.shift()!);
}

/** Open loop at `rate`: command i is due at t0 + i/rate; its latency runs from then to its release. */
async function openLoop(rate: number, seconds: number): Promise<AckLatency> {
  const dir = freshDir(`latency-${rate}`);
  const engine = await openEngine(dir);
  const workload = new Workload(rate);
  engine.onCommit((batch) => workload.observe(batch));
  await prime(engine, workload);
  await closedLoop(engine, 20_000, () => workload.next()); // warm up
  const { latency: result, histogram: h } = await openLoopAcks(
    engine,
    () => workload.next(),
    rate,
    seconds,
    tick,
  );
  const total = result.count;
  await engine.close();
  log(`\nack latency at ${rate} commands/s offered (open loop, ${total} commands), HDR percentiles in ms:`);
  log(
    h
      .outputPercentileDistribution(1, 1000)
      .split("\n")
      .filter((l) => /^\s+\d/.test(l))
      .filter((_, i, a) => i % Math.ceil(a.length / 12) === 0 || i === a.length - 1)
      .join("\n"),
  );
  log(
    `  p50 ${result.p50Ms.toFixed(3)}  p99 ${result.p99Ms.toFixed(3)}  p99.9 ${result.p999Ms.toFixed(3)}  max ${result.maxMs.toFixed(3)} ms; achieved ${result.achievedPerSec}/s`,
  );
  h.destroy();
  return result;
}

async function maxThroughput(count: number): Promise<number> {
  const dir = freshDir("throughput");
  const engine = await openEngine(dir);
  const workload = new Workload(1);
  engine.onCommit((batch) => workload.observe(batch));
  await prime(engine, workload);
  await closedLoop(engine, 50_000, () => workload.next());
  const perSec = await closedLoop(engine, count, () => workload.next());
  await engine.close();
  log(`\nmax durable throughput (closed loop, ${count} commands): ${Math.round(perSec)} commands/s`);
  return perSec;
}

/** Builds a journal of `count` entries, then times recovery without and with a snapshot, and replay alone. */
async function recovery(
  count: number,
): Promise<{ replayPerSec: number; decodePerSec: number; withoutMs: number; withMs: number; bytes: number }> {
  const dir = freshDir("recovery");
  const engine = await openEngine(dir);
  const workload = new Workload(2);
  engine.onCommit((batch) => workload.observe(batch));
  await prime(engine, workload);
  const t0 = performance.now();
  await closedLoop(engine, count - engine.lastSeq, () => workload.next());
  log(`\nbuilt a journal of ${engine.lastSeq} entries in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  await engine.close();
  fs.rmSync(path.join(dir, "journal.seal"));
  let bytes = 0;
  for (const s of listSegments(realFs, dir)) bytes += fs.statSync(path.join(dir, s.name)).size;

  // The journal alone: read, CRC32C of header and body, sequence, chain, decode.
  const decoder = new CommandDecoder();
  let decoded = 0;
  const d0 = performance.now();
  const state = { nextSeq: 1, chain: 0, time: 0 };
  for (const s of listSegments(realFs, dir)) {
    const b = realFs.readFile(path.join(dir, s.name));
    scanRecords(b, segmentHeaderBytes, state, (bb, view, start, end, seq, time) => {
      decoder.decode(bb, view, start, end, seq, time);
      decoded++;
    });
  }
  const decodePerSec = (decoded / (performance.now() - d0)) * 1000;

  global.gc?.();
  const r0 = performance.now();
  const clean = await recover({ fs: realFs, dir, factory, mode: "readOnly", ignoreSnapshots: true });
  const withoutMs = performance.now() - r0;
  const replayPerSec = (clean.replayed / withoutMs) * 1000;
  const tail = clean.tail;
  await writeSnapshotFile(
    realFs,
    dir,
    {
      seq: tail.lastSeq,
      time: tail.lastTime,
      chain: tail.chain,
      segmentFirstSeq: tail.segment!.firstSeq,
      nextOffset: tail.segment!.size,
    },
    clean.machine.snapshot(),
  );
  global.gc?.();
  const s0 = performance.now();
  const fromSnapshot = await recover({ fs: realFs, dir, factory, mode: "readOnly" });
  const withMs = performance.now() - s0;
  if (fromSnapshot.machine.stateHash() !== clean.machine.stateHash())
    throw new Error("bench: snapshot recovery differs");
  log(`journal: ${(bytes / 1e6).toFixed(0)} MB, ${(bytes / clean.replayed).toFixed(0)} bytes/entry`);
  log(
    `replay (read + verify + decode + engine): ${Math.round(replayPerSec)} commands/s; journal alone (read + verify + decode): ${Math.round(decodePerSec)} commands/s`,
  );
  log(
    `recover ${clean.replayed} entries: ${withoutMs.toFixed(0)} ms without a snapshot, ${withMs.toFixed(0)} ms with one`,
  );
  fs.rmSync(dir, { recursive: true, force: true });
  return { replayPerSec, decodePerSec, withoutMs, withMs, bytes };
}

/** Rests `orders` orders, then measures the longest main-loop gap under load with and without a snapshot. */
async function snapshotStall(orders: number): Promise<{
  stallMsMax: number;
  baselineMsMax: number;
  stallGcMsMax: number;
  baselineGcMsMax: number;
  snapshotMs: number;
  snapshotBytes: number;
}> {
  const dir = freshDir("stall");
  const engine = await openEngine(dir, true);
  const accounts = Math.ceil(orders / 5_000);
  const workload = new Workload(3, accounts);
  await prime(engine, workload);
  let i = 0;
  const levels = Math.min(50_000, Math.ceil(orders / 20));
  await closedLoop(engine, orders, () => {
    const k = i++;
    const side = k % 2 === 0 ? "buy" : "sell";
    const level = Math.floor(k / 2) % levels;
    return limitOrder(
      (k % accounts) + 1,
      side,
      side === "buy" ? mid - 10_000 - level : mid + 10_000 + level,
      1,
    );
  });
  log(`\n${orders} resting orders on ${levels} levels per side (${accounts} accounts)`);
  const loaded = new Workload(4, accounts);
  engine.onCommit((batch) => loaded.observe(batch));
  let gcMsMax = 0;
  const gcObserver = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) gcMsMax = Math.max(gcMsMax, entry.duration);
  });
  gcObserver.observe({ entryTypes: ["gc"] });
  const window = async (ms: number, during: Promise<unknown> | null): Promise<number> => {
    gcMsMax = 0;
    let maxGap = 0;
    let last = performance.now();
    const end = last + ms;
    let sent = 0;
    const t0 = last;
    const ignore = (): void => {};
    let finished = during === null;
    during?.then(() => {
      finished = true;
    });
    while (performance.now() < end || !finished) {
      const now = performance.now();
      if (now - last > maxGap) maxGap = now - last;
      const due = Math.floor(((now - t0) * 20_000) / 1000);
      while (sent < due) {
        engine.submitWith(loaded.next(), ignore);
        sent++;
      }
      last = performance.now();
      await tick();
    }
    return maxGap;
  };
  await window(1_000, null);
  const baselineMsMax = await window(2_000, null);
  const baselineGcMsMax = gcMsMax;
  const s0 = performance.now();
  let snapshotMs = 0;
  const snapshot = engine.requestSnapshot().then((info) => {
    snapshotMs = performance.now() - s0;
    return info;
  });
  const stallMsMax = await window(1_000, snapshot);
  const stallGcMsMax = gcMsMax;
  gcObserver.disconnect();
  const info = await snapshot;
  await engine.close();
  log(
    `snapshot of ${info?.payloadBytes ?? 0} bytes written by the worker in ${snapshotMs.toFixed(0)} ms; ` +
      `worst main-loop gap under 20k commands/s: ${stallMsMax.toFixed(2)} ms during it, ${baselineMsMax.toFixed(2)} ms without; ` +
      `longest GC pause of the main thread: ${stallGcMsMax.toFixed(2)} ms during it, ${baselineGcMsMax.toFixed(2)} ms without`,
  );
  fs.rmSync(dir, { recursive: true, force: true });
  return {
    stallMsMax,
    baselineMsMax,
    stallGcMsMax,
    baselineGcMsMax,
    snapshotMs,
    snapshotBytes: info?.payloadBytes ?? 0,
  };
}

async function main(): Promise<void> {
  const t0 = performance.now();
  log(
    `bench:journal${quick ? " --quick" : ""}: ${os.cpus().length} cores, Node ${process.version}, data in ${root}`,
  );
  const throughput = await maxThroughput(quick ? 300_000 : 2_000_000);
  const latency: Record<number, AckLatency> = {};
  for (const rate of [10_000, 50_000, 100_000]) latency[rate] = await openLoop(rate, quick ? 2 : 10);
  const entries = quick ? 1_000_000 : 10_000_000;
  const rec = await recovery(entries);
  const scale = 10_000_000 / entries;
  const stall = await snapshotStall(quick ? 100_000 : 1_000_000);
  fs.rmSync(root, { recursive: true, force: true });
  const round = (x: number, d = 3) => Number(x.toFixed(d));
  const result = {
    bench: "journal",
    quick,
    maxDurableCommandsPerSec: Math.round(throughput),
    ackP50MsAt10k: round(latency[10_000]!.p50Ms),
    ackP99MsAt10k: round(latency[10_000]!.p99Ms),
    ackP999MsAt10k: round(latency[10_000]!.p999Ms),
    ackP50MsAt50k: round(latency[50_000]!.p50Ms),
    ackP99MsAt50k: round(latency[50_000]!.p99Ms),
    ackP999MsAt50k: round(latency[50_000]!.p999Ms),
    ackP50MsAt100k: round(latency[100_000]!.p50Ms),
    ackP99MsAt100k: round(latency[100_000]!.p99Ms),
    ackP999MsAt100k: round(latency[100_000]!.p999Ms),
    achievedPerSecAt100k: latency[100_000]!.achievedPerSec,
    replayCommandsPerSec: Math.round(rec.replayPerSec),
    journalDecodeCommandsPerSec: Math.round(rec.decodePerSec),
    recover10MMs: Math.round(rec.withoutMs * scale),
    recover10MWithSnapshotMs: Math.round(quick ? rec.withMs : rec.withMs),
    recoverEntriesMeasured: entries,
    journalBytesPerEntry: round(rec.bytes / entries, 1),
    snapshotStallMsMax: round(stall.stallMsMax),
    baselineStallMsMax: round(stall.baselineMsMax),
    gcPauseMsMaxDuringSnapshot: round(stall.stallGcMsMax),
    gcPauseMsMaxBaseline: round(stall.baselineGcMsMax),
    snapshotRestingOrders: quick ? 100_000 : 1_000_000,
    snapshotWriteMs: Math.round(stall.snapshotMs),
    snapshotBytes: stall.snapshotBytes,
    seconds: round((performance.now() - t0) / 1000, 1),
  };
  console.log(JSON.stringify(result));
}

await main();

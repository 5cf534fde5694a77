/**
 * Measurement of one workload: engine throughput (median of measured runs after warm-ups), latency at
 * full speed and at a fixed offered rate, and nodejs-order-book's throughput on the same stream.
 * Every timed run starts from a fresh engine (or book) brought to the same state by the untimed
 * setup commands, after a full GC when --expose-gc is on.
 */
import { Engine } from "../../src/engine/engine.js";
import type { EngineEvent } from "../../src/engine/types.js";
import {
  calibrateTimer,
  type LatencySummary,
  latencyFullSpeed,
  latencyOpenLoop,
  summarize,
  type TimerCalibration,
} from "./latency.js";
import { newNobBook, nobDepth, runNob } from "./nob.js";
import {
  type Book,
  generateWorkload,
  type Workload,
  type WorkloadName,
  type WorkloadStats,
} from "./workloads.js";

export interface RunPlan {
  commands: number;
  nobPrefix: number;
  warmups: number;
  runs: number;
  nobWarmups: number;
  nobRuns: number;
  /** Offered rate of the open-loop latency run. */
  offeredOpsPerSec: number;
  seed: number;
}

export interface WorkloadResult {
  name: WorkloadName;
  title: string;
  stats: WorkloadStats;
  setupCommands: number;
  generateMs: number;
  timer: TimerCalibration;
  engine: {
    opsPerSec: number;
    runsOpsPerSec: number[];
    /** Every timed replay ended in the shadow engine's state hash. */
    deterministic: boolean;
    latency: LatencySummary;
    latencyAtOffered: LatencySummary;
    offeredOpsPerSec: number;
  };
  nob: {
    opsPerSec: number;
    runsOpsPerSec: number[];
    /** Timed ops (a prefix of the same stream when the full one would take too long). */
    commands: number;
    /** nodejs-order-book's book equals the engine's after the same prefix. */
    sameBook: boolean;
  };
  ratio: number;
}

const gc: () => void = (globalThis as { gc?: () => void }).gc ?? (() => {});

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function freshEngine(w: Workload, out: EngineEvent[]): Engine {
  const engine = new Engine(w.config);
  for (const cmd of w.setup) {
    engine.apply(cmd, out);
    out.length = 0;
  }
  return engine;
}

/** The timed loop: nothing but apply and clearing the reused event array. */
function replay(engine: Engine, w: Workload, out: EngineEvent[]): number {
  const cmds = w.bench;
  const n = cmds.length;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    engine.apply(cmds[i]!, out);
    out.length = 0;
  }
  return performance.now() - t0;
}

function sameBook(a: Book, b: Book): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

export function measureWorkload(
  name: WorkloadName,
  plan: RunPlan,
  log: (line: string) => void,
): WorkloadResult {
  const timer = calibrateTimer();
  log(`  timer: performance.now() costs ${timer.medianNs} ns (median), min ${timer.minNs} ns`);
  const w = generateWorkload(name, { commands: plan.commands, seed: plan.seed, nobPrefix: plan.nobPrefix });
  log(
    `  generated ${w.setup.length} setup + ${w.bench.length} timed commands in ${Math.round(w.generateMs)} ms ` +
      `(mix ${JSON.stringify(w.stats.mix)}, ${w.stats.avgRestingOrders} orders on ${w.stats.avgPriceLevels} levels, ` +
      `${w.stats.tradesPerCommand} trades/command, ${w.stats.rejected} rejected)`,
  );
  const out: EngineEvent[] = [];

  // Throughput.
  const runs: number[] = [];
  let deterministic = true;
  for (let r = 0; r < plan.warmups + plan.runs; r++) {
    const engine = freshEngine(w, out);
    gc();
    const ms = replay(engine, w, out);
    const opsPerSec = w.bench.length / (ms / 1000);
    if (engine.stateHash() !== w.finalHash) deterministic = false;
    const warm = r < plan.warmups;
    if (!warm) runs.push(opsPerSec);
    log(`  engine ${warm ? "warm-up" : "run"} ${r + 1}: ${fmt(opsPerSec)} ops/s`);
  }

  // Latency at full speed, then at the offered rate (each on a fresh engine).
  let engine = freshEngine(w, out);
  gc();
  const full = summarize(latencyFullSpeed(engine, w.bench, out), timer.medianNs);
  log(
    `  latency full speed: p50 ${full.p50Us} µs, p99 ${full.p99Us} µs, p99.99 ${full.p9999Us} µs, max ${full.maxUs} µs`,
  );
  engine = freshEngine(w, out);
  gc();
  const offered = summarize(latencyOpenLoop(engine, w.bench, out, plan.offeredOpsPerSec), timer.medianNs);
  log(
    `  latency at ${fmt(plan.offeredOpsPerSec)} ops/s offered: p50 ${offered.p50Us} µs, p99 ${offered.p99Us} µs, ` +
      `p99.99 ${offered.p9999Us} µs, max ${offered.maxUs} µs`,
  );
  if (engine.stateHash() !== w.finalHash) deterministic = false;

  // nodejs-order-book on the same logical stream (its first nobPrefix ops).
  const nobRuns: number[] = [];
  let nobSame = true;
  for (let r = 0; r < plan.nobWarmups + plan.nobRuns; r++) {
    const ob = newNobBook();
    runNob(ob, w.nobSetup, 0, w.nobSetup.length);
    gc();
    const t0 = performance.now();
    runNob(ob, w.nobBench, 0, w.nobPrefix);
    const ms = performance.now() - t0;
    const opsPerSec = w.nobPrefix / (ms / 1000);
    if (r === 0) nobSame = sameBook(nobDepth(ob), w.bookAtNobPrefix);
    const warm = r < plan.nobWarmups;
    if (!warm) nobRuns.push(opsPerSec);
    log(
      `  nodejs-order-book ${warm ? "warm-up" : "run"} ${r + 1}: ${fmt(opsPerSec)} ops/s (${w.nobPrefix} ops)`,
    );
  }
  if (!nobSame) log("  WARNING: nodejs-order-book's book differs from the engine's on the same stream");

  const opsPerSec = median(runs);
  const nobOpsPerSec = nobRuns.length > 0 ? median(nobRuns) : 0;
  return {
    name,
    title: w.title,
    stats: w.stats,
    setupCommands: w.setup.length,
    generateMs: Math.round(w.generateMs),
    timer,
    engine: {
      opsPerSec: Math.round(opsPerSec),
      runsOpsPerSec: runs.map(Math.round),
      deterministic,
      latency: full,
      latencyAtOffered: offered,
      offeredOpsPerSec: plan.offeredOpsPerSec,
    },
    nob: {
      opsPerSec: Math.round(nobOpsPerSec),
      runsOpsPerSec: nobRuns.map(Math.round),
      commands: w.nobPrefix,
      sameBook: nobSame,
    },
    ratio: nobOpsPerSec > 0 ? Math.round((opsPerSec / nobOpsPerSec) * 10) / 10 : 0,
  };
}

export function fmt(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  return n.toFixed(0);
}

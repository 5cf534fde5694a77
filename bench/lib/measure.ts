/**
 * Measurement of one workload: engine throughput (median of measured runs after warm-ups), latency at
 * full speed and at a fixed offered rate, and nodejs-order-book's throughput on the same stream.
 * Every timed run starts from a fresh engine (or book) brought to the same state by the untimed
 * setup commands, after a full GC when --expose-gc is on.
 */
import { Engine } from "../../src/engine/engine.js";
import type { EngineEvent } from "../../src/engine/types.js";
import { RegionProfiler } from "./cpu-profile.js";
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
  /** A second, lower offered rate: latency when the engine is not saturated. */
  lowOfferedOpsPerSec: number;
  /** Commands of that run (a prefix of the stream: at a low rate the whole stream would take long). */
  lowOfferedCommands: number;
  seed: number;
  /** When set, each measured run (engine and nodejs-order-book) is CPU-profiled into this directory. */
  profileDir: string;
}

export interface WorkloadResult {
  name: WorkloadName;
  title: string;
  stats: WorkloadStats;
  setupCommands: number;
  generateMs: number;
  timer: TimerCalibration;
  engine: {
    /** Median of the measured runs. */
    opsPerSec: number;
    /** Fastest measured run: on a shared machine, contention only ever slows a run down. */
    bestOpsPerSec: number;
    /** The same stream through `engine.replay` (state only, no events: how recovery and followers run). */
    replayOpsPerSec: number;
    runsOpsPerSec: number[];
    /**
     * Median over the measured runs of process CPU time / wall time, in %. Well below 100 means the
     * process waited for a core (others' load); above 100, GC or compiler threads ran in parallel.
     */
    cpuSharePct: number;
    /** Commands per second of process CPU time (median): less sensitive to others' load than ops/s. */
    opsPerCpuSec: number;
    /** CPU share of the latency runs (full speed, offered, low offered), in % (100 when never preempted). */
    latencyCpuSharePct: number[];
    /** Every timed replay ended in the shadow engine's state hash. */
    deterministic: boolean;
    latency: LatencySummary;
    latencyAtOffered: LatencySummary;
    offeredOpsPerSec: number;
    latencyAtLowOffered: LatencySummary;
    lowOfferedOpsPerSec: number;
  };
  nob: {
    opsPerSec: number;
    bestOpsPerSec: number;
    runsOpsPerSec: number[];
    cpuSharePct: number;
    opsPerCpuSec: number;
    /** Timed ops (a prefix of the same stream when the full one would take too long). */
    commands: number;
    /** nodejs-order-book's book equals the engine's after the same prefix. */
    sameBook: boolean;
  };
  ratio: number;
  /** Ratio of commands per CPU-second (engine / nodejs-order-book). */
  ratioPerCpuSec: number;
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
function replay(engine: Engine, w: Workload, out: EngineEvent[]): void {
  const cmds = w.bench;
  const n = cmds.length;
  for (let i = 0; i < n; i++) {
    engine.apply(cmds[i]!, out);
    out.length = 0;
  }
}

interface Timing {
  ms: number;
  cpuSharePct: number;
}

/** The same loop without events: `engine.replay`, as journal recovery and followers use it. */
function replayWithoutEvents(engine: Engine, w: Workload): void {
  const cmds = w.bench;
  const n = cmds.length;
  for (let i = 0; i < n; i++) engine.replay(cmds[i]!);
}

/** Wall time of `run`, and the process's CPU time over it as a share of the wall time. */
function timed<T>(run: () => T): Timing & { value: T } {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const value = run();
  const ms = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { ms, cpuSharePct: Math.max(1, Math.round((c.user + c.system) / 10 / ms)), value };
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
  const shares: number[] = [];
  const perCpu: number[] = [];
  let deterministic = true;
  const profiler = plan.profileDir === "" ? null : new RegionProfiler(plan.profileDir);
  for (let r = 0; r < plan.warmups + plan.runs; r++) {
    const engine = freshEngine(w, out);
    gc();
    const profiled = profiler !== null && r >= plan.warmups;
    if (profiled) profiler.start();
    const t = timed(() => replay(engine, w, out));
    if (profiled) log(`  profile: ${profiler.stop(`engine-${name}-run${r + 1}`)}`);
    const opsPerSec = w.bench.length / (t.ms / 1000);
    if (engine.stateHash() !== w.finalHash) deterministic = false;
    const warm = r < plan.warmups;
    if (!warm) {
      runs.push(opsPerSec);
      shares.push(t.cpuSharePct);
      perCpu.push(opsPerSec / (t.cpuSharePct / 100));
    }
    log(`  engine ${warm ? "warm-up" : "run"} ${r + 1}: ${fmt(opsPerSec)} ops/s (cpu ${t.cpuSharePct}%)`);
  }

  // Event-free replay of the same stream (median of `runs`, after one warm-up).
  const replayRuns: number[] = [];
  for (let r = 0; r < 1 + plan.runs; r++) {
    const engine = freshEngine(w, out);
    gc();
    const t = timed(() => replayWithoutEvents(engine, w));
    if (engine.stateHash() !== w.finalHash) deterministic = false;
    if (r > 0) replayRuns.push(w.bench.length / (t.ms / 1000));
  }
  log(`  replay without events: ${fmt(median(replayRuns))} ops/s`);

  // Latency at full speed, then at the offered rate (each on a fresh engine).
  let engine = freshEngine(w, out);
  gc();
  const fullRun = timed(() => latencyFullSpeed(engine, w.bench, out));
  const full = summarize(fullRun.value, timer.medianNs);
  log(
    `  latency full speed: p50 ${full.p50Us} µs, p99 ${full.p99Us} µs, p99.99 ${full.p9999Us} µs, max ${full.maxUs} µs ` +
      `(cpu ${fullRun.cpuSharePct}%)`,
  );
  engine = freshEngine(w, out);
  gc();
  const offeredRun = timed(() => latencyOpenLoop(engine, w.bench, out, plan.offeredOpsPerSec));
  const offered = summarize(offeredRun.value, timer.medianNs);
  log(
    `  latency at ${fmt(plan.offeredOpsPerSec)} ops/s offered: p50 ${offered.p50Us} µs, p99 ${offered.p99Us} µs, ` +
      `p99.99 ${offered.p9999Us} µs, max ${offered.maxUs} µs (cpu ${offeredRun.cpuSharePct}%)`,
  );
  if (engine.stateHash() !== w.finalHash) deterministic = false;
  engine = freshEngine(w, out);
  gc();
  const lowCmds = w.bench.slice(0, Math.min(w.bench.length, plan.lowOfferedCommands));
  const lowRun = timed(() => latencyOpenLoop(engine, lowCmds, out, plan.lowOfferedOpsPerSec));
  const low = summarize(lowRun.value, timer.medianNs);
  log(
    `  latency at ${fmt(plan.lowOfferedOpsPerSec)} ops/s offered (${lowCmds.length} cmds): p50 ${low.p50Us} µs, p99 ${low.p99Us} µs, ` +
      `p99.99 ${low.p9999Us} µs, max ${low.maxUs} µs (cpu ${lowRun.cpuSharePct}%)`,
  );

  // nodejs-order-book on the same logical stream (its first nobPrefix ops).
  const nobRuns: number[] = [];
  const nobShares: number[] = [];
  const nobPerCpu: number[] = [];
  let nobSame = true;
  for (let r = 0; r < plan.nobWarmups + plan.nobRuns; r++) {
    const ob = newNobBook();
    runNob(ob, w.nobSetup, 0, w.nobSetup.length);
    gc();
    const profiled = profiler !== null && r >= plan.nobWarmups;
    if (profiled) profiler.start();
    const t = timed(() => runNob(ob, w.nobBench, 0, w.nobPrefix));
    if (profiled) log(`  profile: ${profiler.stop(`nob-${name}-run${r + 1}`)}`);
    const opsPerSec = w.nobPrefix / (t.ms / 1000);
    if (r === 0) nobSame = sameBook(nobDepth(ob), w.bookAtNobPrefix);
    const warm = r < plan.nobWarmups;
    if (!warm) {
      nobRuns.push(opsPerSec);
      nobShares.push(t.cpuSharePct);
      nobPerCpu.push(opsPerSec / (t.cpuSharePct / 100));
    }
    log(
      `  nodejs-order-book ${warm ? "warm-up" : "run"} ${r + 1}: ${fmt(opsPerSec)} ops/s (${w.nobPrefix} ops, ` +
        `cpu ${t.cpuSharePct}%)`,
    );
  }
  if (!nobSame) log("  WARNING: nodejs-order-book's book differs from the engine's on the same stream");
  profiler?.close();

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
      bestOpsPerSec: Math.round(Math.max(...runs)),
      replayOpsPerSec: Math.round(median(replayRuns)),
      runsOpsPerSec: runs.map(Math.round),
      cpuSharePct: median(shares),
      opsPerCpuSec: Math.round(median(perCpu)),
      latencyCpuSharePct: [fullRun.cpuSharePct, offeredRun.cpuSharePct, lowRun.cpuSharePct],
      deterministic,
      latency: full,
      latencyAtOffered: offered,
      offeredOpsPerSec: plan.offeredOpsPerSec,
      latencyAtLowOffered: low,
      lowOfferedOpsPerSec: plan.lowOfferedOpsPerSec,
    },
    nob: {
      opsPerSec: Math.round(nobOpsPerSec),
      bestOpsPerSec: nobRuns.length > 0 ? Math.round(Math.max(...nobRuns)) : 0,
      runsOpsPerSec: nobRuns.map(Math.round),
      cpuSharePct: nobShares.length > 0 ? median(nobShares) : 0,
      opsPerCpuSec: nobPerCpu.length > 0 ? Math.round(median(nobPerCpu)) : 0,
      commands: w.nobPrefix,
      sameBook: nobSame,
    },
    ratio: nobOpsPerSec > 0 ? Math.round((opsPerSec / nobOpsPerSec) * 10) / 10 : 0,
    ratioPerCpuSec: nobPerCpu.length > 0 ? Math.round((median(perCpu) / median(nobPerCpu)) * 10) / 10 : 0,
  };
}

export function fmt(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  return n.toFixed(0);
}

/**
 * `npm run bench:engine [-- --quick] [--workload A|B|C] [--json-only] [--skip-memory] [--skip-nob] [--seed N]
 * [--profile-dir DIR]]`
 *
 * Throughput, latency, memory and snapshot figures of the matching engine, with nodejs-order-book
 * on the same streams for comparison (docs: issue #2 "Performance"). Each workload and each memory
 * measurement runs in its own child process (same node flags), so one measurement's heap and JIT
 * feedback never leak into another's. Progress goes to stderr; tables then one JSON line to stdout
 * (the JSON line is always the last line printed).
 *
 * Profiling: `--profile-dir /tmp/prof` CPU-profiles each measured run (engine-A-run4.cpuprofile, …,
 * nob-A-run1, snapshot-write-run1, snapshot-load-run1) and nothing else; then
 * `node dist/bench/lib/profile-summary.js /tmp/prof/engine-A-*.cpuprofile` lists the top self-time
 * functions. Profiling slows the runs down: take the figures from a run without it.
 */
import { execSync, spawn } from "node:child_process";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { fmt, measureWorkload, type RunPlan, type WorkloadResult } from "./lib/measure.js";
import {
  defaultShape,
  type EngineMemoryResult,
  measureEngineMemory,
  measureNobMemory,
  type NobMemoryResult,
} from "./lib/memory.js";
import { shapeProblems, type WorkloadName, workloadNames } from "./lib/workloads.js";

interface Options {
  quick: boolean;
  workloads: WorkloadName[];
  jsonOnly: boolean;
  skipMemory: boolean;
  skipNob: boolean;
  seed: number;
  profileDir: string;
  child: string;
}

function usage(message: string): never {
  console.error(`bench:engine: ${message}`);
  console.error(
    "usage: npm run bench:engine -- [--quick] [--workload A|B|C[,…]] [--json-only] [--skip-memory] [--skip-nob] " +
      "[--seed N] [--profile-dir DIR]",
  );
  process.exit(2);
}

function parseArgs(argv: string[]): Options {
  const o: Options = {
    quick: false,
    workloads: [],
    jsonOnly: false,
    skipMemory: false,
    skipNob: false,
    seed: 42,
    child: "",
    profileDir: "",
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined) usage(`${a} needs a value`);
      return v;
    };
    if (a === "--quick") o.quick = true;
    else if (a === "--json-only") o.jsonOnly = true;
    else if (a === "--skip-memory") o.skipMemory = true;
    else if (a === "--skip-nob") o.skipNob = true;
    else if (a === "--seed") o.seed = Number(value());
    else if (a === "--child") o.child = value();
    else if (a === "--profile-dir") o.profileDir = path.resolve(value());
    else if (a === "--workload" || a.startsWith("--workload=")) {
      const v = a.includes("=") ? a.slice(a.indexOf("=") + 1) : value();
      for (const w of v.toUpperCase().split(",")) {
        if (!workloadNames.includes(w as WorkloadName)) usage(`unknown workload ${w}`);
        if (!o.workloads.includes(w as WorkloadName)) o.workloads.push(w as WorkloadName);
      }
    } else usage(`unknown argument ${a}`);
  }
  if (!Number.isSafeInteger(o.seed)) usage("--seed needs an integer");
  if (o.workloads.length === 0) o.workloads = [...workloadNames];
  return o;
}

/** Stream sizes and repetitions. nodejs-order-book replays a prefix where the whole stream would take minutes. */
function planFor(name: WorkloadName, o: Options): RunPlan {
  const quick = o.quick;
  const commands = {
    A: quick ? 250_000 : 2_000_000,
    B: quick ? 150_000 : 1_000_000,
    C: quick ? 150_000 : 1_000_000,
  };
  const nobPrefix = {
    A: quick ? 60_000 : 1_000_000,
    B: quick ? 60_000 : 500_000,
    C: quick ? 6_000 : 50_000,
  };
  return {
    commands: commands[name],
    nobPrefix: nobPrefix[name],
    warmups: quick ? 2 : 3,
    runs: quick ? 3 : 7,
    // nodejs-order-book's setup replay (tens of thousands of the same ops) already warms its code up.
    nobWarmups: o.skipNob || quick ? 0 : 1,
    nobRuns: o.skipNob ? 0 : quick ? 2 : 3,
    offeredOpsPerSec: 1_000_000,
    lowOfferedOpsPerSec: 250_000,
    lowOfferedCommands: quick ? 100_000 : 500_000,
    seed: o.seed + name.charCodeAt(0),
    profileDir: o.profileDir,
  };
}

const memoryShape = defaultShape;

// ───────────────────────────── child side ─────────────────────────────

function runChild(o: Options): void {
  const t0 = performance.now();
  const log = o.jsonOnly
    ? () => {}
    : (line: string) =>
        process.stderr.write(`${line.padEnd(100)} [${((performance.now() - t0) / 1000).toFixed(1)} s]\n`);
  let result: unknown;
  if (o.child.startsWith("workload:")) {
    const name = o.child.slice("workload:".length) as WorkloadName;
    log(`workload ${name}`);
    result = measureWorkload(name, planFor(name, o), log);
  } else if (o.child === "memory") {
    log("memory and snapshot (engine)");
    result = measureEngineMemory(memoryShape, o.quick ? 1 : 3, !o.quick, log, o.profileDir);
  } else if (o.child === "nob-memory") {
    // nodejs-order-book builds a book at ~150k orders/s: --quick measures it on 300k orders.
    const shape = o.quick ? { ...memoryShape, orders: 300_000 } : memoryShape;
    log("memory (nodejs-order-book)");
    result = measureNobMemory(shape, log);
  } else {
    usage(`unknown child task ${o.child}`);
  }
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

// ───────────────────────────── parent side ─────────────────────────────

function runTask(task: string, argv: string[], say: (line: string) => void): Promise<unknown> {
  const script = fileURLToPath(import.meta.url);
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...process.execArgv, script, ...argv, "--child", task], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let stdout = "";
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (chunk: string) => {
      stdout += chunk;
    });
    child.on("error", reject);
    child.on("close", (code) => {
      const lines = stdout.trim().split("\n");
      if (code !== 0) return reject(new Error(`${task} exited with code ${code}`));
      say(`  (${task}: ${((performance.now() - t0) / 1000).toFixed(1)} s)`);
      try {
        resolve(JSON.parse(lines[lines.length - 1]!));
      } catch {
        reject(new Error(`${task} printed no result`));
      }
    });
  });
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

function gitCommit(): string {
  try {
    return execSync("git rev-parse --short HEAD", {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    }).trim();
  } catch {
    return "";
  }
}

async function runParent(o: Options, argv: string[]): Promise<void> {
  const gcOn = typeof (globalThis as { gc?: unknown }).gc === "function";
  const say = o.jsonOnly ? () => {} : (line: string) => process.stderr.write(`${line}\n`);
  if (!gcOn)
    say(
      "warning: run with node --expose-gc (npm run bench:engine does): GC between runs and heap figures are off",
    );
  const childArgv = argv.filter((a) => a !== "--child");
  const started = performance.now();
  const machine = {
    cpu: os.cpus()[0]?.model ?? "unknown",
    cpus: os.cpus().length,
    node: process.version,
    platform: `${os.platform()} ${os.arch()}`,
    totalMemGB: Math.round(os.totalmem() / 2 ** 30),
    loadAvgAtStart: os.loadavg().map((x) => Math.round(x * 100) / 100),
    commit: gitCommit(),
  };
  const results: WorkloadResult[] = [];
  for (const name of o.workloads)
    results.push((await runTask(`workload:${name}`, childArgv, say)) as WorkloadResult);
  let memory: EngineMemoryResult | null = null;
  let nobMemory: NobMemoryResult | null = null;
  if (!o.skipMemory) {
    memory = (await runTask("memory", childArgv, say)) as EngineMemoryResult;
    if (!o.skipNob) nobMemory = (await runTask("nob-memory", childArgv, say)) as NobMemoryResult;
  }
  const elapsedS = Math.round((performance.now() - started) / 100) / 10;

  const workloads: Record<string, unknown> = {};
  for (const r of results) {
    const l = r.engine.latency;
    const a = r.engine.latencyAtOffered;
    const lo = r.engine.latencyAtLowOffered;
    const nob = !o.skipNob;
    workloads[r.name] = {
      // the keys issue #2 asks for
      opsPerSec: r.engine.opsPerSec,
      nodejsOrderBookOpsPerSec: nob ? r.nob.opsPerSec : null,
      ratioVsNodejsOrderBook: nob ? r.ratio : null,
      p99UsAt1M: a.p99Us,
      p9999UsAt1M: a.p9999Us,
      // latency at 1M/s offered, at full speed, and at 250k/s offered
      p50UsAt1M: a.p50Us,
      maxUsAt1M: a.maxUs,
      p50Us: l.p50Us,
      p99Us: l.p99Us,
      p9999Us: l.p9999Us,
      maxUs: l.maxUs,
      p50UsAt250k: lo.p50Us,
      p99UsAt250k: lo.p99Us,
      p9999UsAt250k: lo.p9999Us,
      maxUsAt250k: lo.maxUs,
      // throughput detail and noise indicators
      bestOpsPerSec: r.engine.bestOpsPerSec,
      replayOpsPerSec: r.engine.replayOpsPerSec,
      runsOpsPerSec: r.engine.runsOpsPerSec,
      cpuSharePct: r.engine.cpuSharePct,
      opsPerCpuSec: r.engine.opsPerCpuSec,
      nodejsOrderBookBestOpsPerSec: nob ? r.nob.bestOpsPerSec : null,
      nodejsOrderBookCpuSharePct: nob ? r.nob.cpuSharePct : null,
      nodejsOrderBookOpsPerCpuSec: nob ? r.nob.opsPerCpuSec : null,
      ratioPerCpuSecVsNodejsOrderBook: nob ? r.ratioPerCpuSec : null,
      // the stream
      commands: r.stats.commands,
      nodejsOrderBookCommands: r.nob.commands,
      mixPct: r.stats.mix,
      tradesPerCommand: r.stats.tradesPerCommand,
      avgRestingOrders: r.stats.avgRestingOrders,
      avgPriceLevels: r.stats.avgPriceLevels,
      // checks
      deterministic: r.engine.deterministic,
      sameBookAsNodejsOrderBook: nob ? r.nob.sameBook : null,
      rejected: r.stats.rejected,
      shapeOk: shapeProblems(r.name, r.stats).length === 0,
      keepsUpWith1M: r.engine.opsPerSec >= r.engine.offeredOpsPerSec,
    };
  }
  const timerNs = results[0]?.timer.medianNs ?? null;
  const a = results.find((r) => r.name === "A");
  const targets: Record<string, boolean | null> = {
    "A >= 5M ops/s": a ? a.engine.opsPerSec >= 5e6 : null,
    ">= 15x nodejs-order-book": results.length > 0 && !o.skipNob ? results.every((r) => r.ratio >= 15) : null,
    "p99 <= 4 us at 1M ops/s":
      results.length > 0 ? results.every((r) => r.engine.latencyAtOffered.p99Us <= 4) : null,
    "<= 150 bytes/resting order": memory ? memory.bytesPerRestingOrder <= 150 : null,
    "1M snapshot write <= 1 s": memory ? memory.snapshotWriteMs <= 1000 : null,
    "1M snapshot load <= 1 s": memory ? memory.snapshotLoadMs <= 1000 : null,
  };
  const json = {
    bench: "engine",
    quick: o.quick,
    profiled: o.profileDir !== "",
    workloads,
    bytesPerRestingOrder: memory?.bytesPerRestingOrder ?? null,
    heapBytesPerRestingOrder: memory?.heapBytesPerRestingOrder ?? null,
    nodejsOrderBookBytesPerRestingOrder: nobMemory?.bytesPerRestingOrder ?? null,
    restingOrders: memory?.restingOrders ?? null,
    snapshotWriteMs: memory?.snapshotWriteMs ?? null,
    snapshotLoadMs: memory?.snapshotLoadMs ?? null,
    snapshotBytes: memory?.snapshotBytes ?? null,
    snapshotRoundTrip: memory?.snapshotRoundTrip ?? null,
    stateHashMs: memory && memory.stateHashMs >= 0 ? memory.stateHashMs : null,
    timerOverheadNs: timerNs,
    latencyTimerCorrected: true,
    targetsMet: targets,
    machine,
    elapsedS,
  };

  if (!o.jsonOnly) {
    const out: string[] = [];
    out.push("");
    out.push(
      `Bourse engine benchmark${o.quick ? " (--quick)" : ""}: ${machine.cpu}, ${machine.cpus} vCPU, Node ${machine.node}, ` +
        `load ${machine.loadAvgAtStart.join(" ")} at start, commit ${machine.commit || "?"}`,
    );
    out.push("");
    out.push(
      table(
        [
          "Workload",
          "Timed cmds",
          "Mix GTC/IOC/cxl/move %",
          "Orders",
          "Levels",
          "Trades/cmd",
          "Engine ops/s (best, cpu%)",
          "nob ops/s (best, cpu%)",
          "Ratio (per CPU-s)",
        ],
        results.map((r) => [
          `${r.name}: ${r.title}`,
          r.stats.commands.toLocaleString("en-US"),
          [r.stats.mix.gtc, r.stats.mix.ioc, r.stats.mix.cancel, r.stats.mix.move].join("/"),
          String(r.stats.avgRestingOrders),
          String(r.stats.avgPriceLevels),
          String(r.stats.tradesPerCommand),
          `${fmt(r.engine.opsPerSec)} (${fmt(r.engine.bestOpsPerSec)}, ${r.engine.cpuSharePct}%)`,
          o.skipNob
            ? "-"
            : `${fmt(r.nob.opsPerSec)} (${fmt(r.nob.bestOpsPerSec)}, ${r.nob.cpuSharePct}%)` +
              `${r.nob.commands < r.stats.commands ? ` on ${fmt(r.nob.commands)} cmds` : ""}`,
          o.skipNob ? "-" : `${r.ratio}x (${r.ratioPerCpuSec}x)`,
        ]),
      ),
    );
    out.push("");
    out.push(
      table(
        ["Latency µs", "p50", "p90", "p99", "p99.9", "p99.99", "max"],
        results.flatMap((r) =>
          (
            [
              ["full speed", r.engine.latency],
              [`@${fmt(r.engine.offeredOpsPerSec)}/s offered`, r.engine.latencyAtOffered],
              [`@${fmt(r.engine.lowOfferedOpsPerSec)}/s offered`, r.engine.latencyAtLowOffered],
            ] as const
          ).map(([label, l]) => [
            `${r.name} ${label}`,
            ...[l.p50Us, l.p90Us, l.p99Us, l.p999Us, l.p9999Us, l.maxUs].map(String),
          ]),
        ),
      ),
    );
    out.push(
      "(full speed: commands back to back; offered: open loop, command i due at t0 + i/rate, latency = completion " +
        `- due, so a stall counts for every command behind it. performance.now() costs ${timerNs} ns a read; ` +
        "that is subtracted from every sample.)",
    );
    out.push(
      "(ops/s: median of the measured runs; best: the fastest run; cpu%: process CPU time / wall time of the " +
        "runs, below ~95% when other processes took the cores; per CPU-s: the ratio of commands per second of " +
        "CPU time, which others' load affects less)",
    );
    for (const r of results) {
      if (r.engine.cpuSharePct < 90 || (!o.skipNob && r.nob.cpuSharePct < 90)) {
        out.push(
          `note: workload ${r.name}: the runs got ${r.engine.cpuSharePct}% (engine) / ${r.nob.cpuSharePct}% ` +
            "(nodejs-order-book) of a core: the machine was shared, figures are low and noisy",
        );
      }
      if (r.engine.opsPerSec < r.engine.offeredOpsPerSec) {
        out.push(
          `note: workload ${r.name}: the engine's throughput (${fmt(r.engine.opsPerSec)} ops/s) is below the offered ` +
            `${fmt(r.engine.offeredOpsPerSec)} ops/s, so the queue grows for the whole open-loop run: its latencies ` +
            "measure the backlog (they grow with the run's length), not the engine's service time",
        );
      }
      if (!r.engine.deterministic)
        out.push(`WARNING: workload ${r.name}: a timed replay ended in another state hash`);
      if (!o.skipNob && !r.nob.sameBook)
        out.push(`WARNING: workload ${r.name}: nodejs-order-book ended with another book`);
      if (r.stats.rejected > 0)
        out.push(`WARNING: workload ${r.name}: ${r.stats.rejected} commands were rejected`);
      for (const p of shapeProblems(r.name, r.stats)) out.push(`WARNING: workload ${r.name}: ${p}`);
    }
    if (memory) {
      const rows = [
        [
          `engine (${memory.accounts} accounts, ${memory.priceLevels} levels)`,
          memory.restingOrders.toLocaleString("en-US"),
          String(memory.bytesPerRestingOrder),
          String(memory.heapBytesPerRestingOrder),
          String(memory.externalBytesPerRestingOrder),
          fmt(memory.buildOpsPerSec),
        ],
      ];
      if (nobMemory) {
        rows.push([
          "nodejs-order-book (no accounts/holds)",
          nobMemory.restingOrders.toLocaleString("en-US"),
          String(nobMemory.bytesPerRestingOrder),
          String(nobMemory.heapBytesPerRestingOrder),
          "-",
          fmt(nobMemory.buildOpsPerSec),
        ]);
      }
      out.push("");
      out.push(
        table(["Memory", "resting orders", "bytes/order", "heap", "external", "build orders/s"], rows),
      );
      out.push(
        `Snapshot of ${memory.restingOrders.toLocaleString("en-US")} resting orders: write ${memory.snapshotWriteMs} ms, ` +
          `load ${memory.snapshotLoadMs} ms (medians of ${memory.snapshotWriteRunsMs.join("/")} and ` +
          `${memory.snapshotLoadRunsMs.join("/")}), ${(memory.snapshotBytes / 2 ** 20).toFixed(1)} MiB, ` +
          `${memory.stateHashMs >= 0 ? `state hash ${memory.stateHashMs} ms, ` : ""}` +
          `restore(snapshot()) ${memory.snapshotRoundTrip ? "identical" : "DIFFERENT"}`,
      );
    }
    out.push("");
    out.push(
      table(
        ["Target", "met"],
        Object.entries(targets).map(([k, v]) => [k, v === null ? "n/a" : v ? "yes" : "NO"]),
      ),
    );
    if (o.profileDir !== "")
      out.push(`(profiled into ${o.profileDir}: the figures above are perturbed by the profiler)`);
    out.push(`(${elapsedS} s)`);
    console.log(out.join("\n"));
  }
  console.log(JSON.stringify(json));
}

const argv = process.argv.slice(2);
const options = parseArgs(argv);
if (options.child !== "") runChild(options);
else await runParent(options, argv);

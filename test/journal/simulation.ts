/**
 * The deterministic simulation of the durable engine: from one seed, random commands, random group
 * commit timing (the scheduler and every sync complete when the seed says), injected write and
 * fsync failures, and crashes at random points that drop every unsynced byte, tear the last write
 * and forget unsynced directory changes. After each crash it restarts and checks:
 *
 *   1. every acknowledged command is recovered, byte for byte;
 *   2. the recovered state hash equals a clean replay (fresh engine, seq 1 on) of exactly what was
 *      recovered, and the events each acknowledgement carried equal that replay's;
 *   3. time never goes backwards across the restart.
 *
 * Everything is a function of the seed: a failing seed replays exactly.
 */
import { isDeepStrictEqual } from "node:util";
import { defaultConfig } from "../../src/engine/config.js";
import { Engine } from "../../src/engine/engine.js";
import type { Command, EngineEvent } from "../../src/engine/types.js";
import { CommandGenerator } from "../../src/journal/command-generator.js";
import { DurableEngine } from "../../src/journal/durable-engine.js";
import { recover } from "../../src/journal/recovery.js";
import type { RetentionMode } from "../../src/journal/snapshot-store.js";
import { InlineSnapshotter } from "../../src/journal/snapshotter.js";
import { SimulatedClock } from "../../src/platform/clock.js";
import { Prng } from "../../src/platform/prng.js";
import { ManualScheduler } from "../../src/platform/scheduler.js";
import { SimulatedFileSystem } from "../../src/platform/simulated-file-system.js";
import { factory } from "./helpers.js";

export interface SeedReport {
  seed: number;
  lives: number;
  commands: number;
  acked: number;
  recoveredSeq: number;
  crashes: number;
  faults: number;
  snapshots: number;
}

const dir = "/data";
const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

class SimulationFailure extends Error {
  override name = "SimulationFailure";
}

export async function runSeed(seed: number): Promise<SeedReport> {
  const random = new Prng(seed);
  const fs = new SimulatedFileSystem(new Prng(seed ^ 0x5bd1e995));
  fs.mkdirp(dir);
  const clock = new SimulatedClock(1_700_000_000_000);
  const scheduler = new ManualScheduler();
  const generator = new CommandGenerator(new Prng(seed + 1), { accounts: random.range(2, 6) });
  const config = {
    segmentBytesMax: random.pick([6_000, 16_384, 65_536]),
    batchCommandsMax: random.pick([1, 4, 64, 8_192]),
    batchBytesMax: random.pick([2_560, 4_096]),
    snapshotEveryCommands: random.pick([10, 50, 200, 1_000_000]),
    snapshotEveryMs: random.pick([100, 1_000_000]),
    snapshotsRetained: random.range(1, 3),
    retention: random.pick<RetentionMode>(["delete", "archive"]),
  };
  /** history[seq - 1]: the command journaled under that seq in the current timeline. */
  let history: Command[] = [];
  /** Events released with each acknowledgement, by seq. */
  const acked = new Map<number, EngineEvent[]>();
  let maxAcked = 0;
  const report: SeedReport = {
    seed,
    lives: 0,
    commands: 0,
    acked: 0,
    recoveredSeq: 0,
    crashes: 0,
    faults: 0,
    snapshots: 0,
  };
  let failed = false;
  let lastTime = 0;

  const pump = async <T>(promise: Promise<T>, what: string): Promise<T> => {
    let settled = false;
    let value: T | undefined;
    let error: unknown = null;
    promise.then(
      (v) => {
        settled = true;
        value = v;
      },
      (e) => {
        settled = true;
        error = e ?? new Error("rejected");
      },
    );
    for (let i = 0; i < 10_000 && !settled; i++) {
      scheduler.runPending();
      fs.completeSyncs(random.chance(0.3));
      await tick();
    }
    if (!settled) throw new SimulationFailure(`${what} never completed`);
    if (error !== null) throw error;
    return value as T;
  };

  const open = (): Promise<DurableEngine> =>
    DurableEngine.open({
      fs,
      dir,
      factory,
      clock,
      scheduler,
      log: () => {},
      onFatal: () => {
        failed = true;
      },
      snapshotter: (r) => new InlineSnapshotter({ fs, dir, factory, ...r }),
      ...config,
    });

  const check = async (engine: DurableEngine): Promise<void> => {
    const recoveredSeq = engine.lastSeq;
    report.recoveredSeq = recoveredSeq;
    if (recoveredSeq < maxAcked) {
      throw new SimulationFailure(
        `acknowledged seq ${maxAcked} lost: recovered only up to seq ${recoveredSeq}`,
      );
    }
    if (recoveredSeq > history.length)
      throw new SimulationFailure(`recovered seq ${recoveredSeq} was never submitted`);
    history = history.slice(0, recoveredSeq);
    // 1. The records on disk are exactly the commands submitted under those seqs.
    await pump(
      recover({
        fs,
        dir,
        factory,
        mode: "readOnly",
        onRecord: (cmd) => {
          if (!isDeepStrictEqual(cmd, history[cmd.seq - 1])) {
            throw new SimulationFailure(`seq ${cmd.seq} on disk differs from the command submitted`);
          }
        },
      }),
      "read-only recovery",
    );
    // 2. Clean replay from seq 1: same state hash; same events as each acknowledgement carried.
    const clean = new Engine(defaultConfig);
    const out: EngineEvent[] = [];
    for (const cmd of history) {
      clean.apply(cmd, out);
      const events = acked.get(cmd.seq);
      if (events !== undefined && !isDeepStrictEqual(events, out)) {
        throw new SimulationFailure(`events acknowledged for seq ${cmd.seq} differ from a clean replay`);
      }
      out.length = 0;
    }
    if (clean.stateHash() !== engine.stateHash()) {
      throw new SimulationFailure(
        `recovered state hash differs from a clean replay of seq 1..${recoveredSeq}`,
      );
    }
    for (const seq of acked.keys()) if (seq > recoveredSeq) acked.delete(seq);
  };

  const lives = random.range(2, 5);
  for (let life = 0; life < lives; life++) {
    report.lives++;
    failed = false;
    const engine = await pump(open(), "open");
    await check(engine);
    // The sequencer continues from the last recovered time, never from before it.
    lastTime = engine.lastSeq > 0 ? history[engine.lastSeq - 1]!.time : 0;
    const steps = random.range(20, 250);
    const inputs = life === 0 ? generator.setup() : [];
    for (let step = 0; step < steps && !failed; step++) {
      const roll = random.next();
      if (roll < 0.45) {
        const n = random.range(1, 6);
        for (let i = 0; i < n; i++) {
          const input = inputs.shift() ?? generator.next();
          clock.advance(random.chance(0.05) ? -random.range(1, 1_000) : random.range(0, 20));
          const seq = engine.lastSeq + 1;
          const stamped = engine.submitWith(input, (error, committed) => {
            if (error !== null) return;
            if (committed!.command.seq !== seq) throw new SimulationFailure("acknowledged out of order");
            acked.set(seq, committed!.events);
            maxAcked = Math.max(maxAcked, seq);
            report.acked++;
          });
          if (stamped !== null) {
            if (stamped.seq !== seq || stamped.time < lastTime)
              throw new SimulationFailure(`seq ${seq}: stamp goes backwards`);
            lastTime = stamped.time;
            history[seq - 1] = stamped;
            report.commands++;
          }
        }
      } else if (roll < 0.65) {
        scheduler.runPending();
      } else if (roll < 0.85) {
        fs.completeSyncs(random.chance(0.2));
      } else if (roll < 0.88) {
        engine.requestSnapshot().then(
          (info) => {
            if (info) report.snapshots++;
          },
          () => {},
        );
      } else if (roll < 0.885) {
        fs.failNextSync();
        report.faults++;
      } else if (roll < 0.887) {
        fs.failNextWrite();
        report.faults++;
      }
      await tick();
    }
    let closed = false;
    if (life === lives - 1 && !failed && random.chance(0.5)) {
      // A clean shutdown (sealed); an injected fault may still make it fail, and then it is a crash.
      closed = await pump(engine.close(), "close").then(
        () => true,
        () => false,
      );
    }
    if (!closed) {
      engine.abandon();
      scheduler.clear();
      fs.crash();
      report.crashes++;
    }
  }
  const final = await pump(open(), "final open");
  await check(final);
  final.abandon();
  return report;
}

/** Runs seeds [from, from + count); stops at the first failure and says how to replay it. */
export async function runSeeds(
  from: number,
  count: number,
  onProgress?: (done: number) => void,
): Promise<SeedReport[]> {
  const reports: SeedReport[] = [];
  for (let seed = from; seed < from + count; seed++) {
    try {
      reports.push(await runSeed(seed));
    } catch (error) {
      const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
      throw new Error(
        `journal simulation failed at seed ${seed}: ${message}\n` +
          `replay it exactly with: JOURNAL_SIM_SEED=${seed} node --test dist/test/journal/simulation.test.js ` +
          `(or: node dist/test/journal/simulate.js --seed ${seed})`,
      );
    }
    onProgress?.(seed - from + 1);
  }
  return reports;
}

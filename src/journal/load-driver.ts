#!/usr/bin/env node
/**
 * A small Bourse process under load, for the real-process crash loop (and for the API issue to reuse):
 * opens the durable engine on the real file journal in --data-dir (recovering whatever is there),
 * prints `recovered <lastSeq> <stateHash>`, then submits seeded random commands at --rate per second
 * and prints `ack <firstSeq> <lastSeq> <digest>` for every durable batch the output gate releases.
 * Nothing is printed for a command before it is durable, so every ack line a parent reads is a
 * promise the journal must keep, whenever the process is killed.
 *
 *   node dist/src/journal/load-driver.js --data-dir DIR [--rate 5000] [--seed 1] [--snapshot-every 2000]
 *        [--snapshotter worker|inline|none] [--retained N] [--duration-ms N]
 * SIGTERM: clean shutdown (the journal is sealed). SIGUSR2: snapshot now.
 */
import { defaultConfig } from "../engine/config.js";
import type { Command } from "../engine/types.js";
import { SystemClock } from "../platform/clock.js";
import { Prng } from "../platform/prng.js";
import { RealFileSystem } from "../platform/real-file-system.js";
import { CommandGenerator } from "./command-generator.js";
import { crc32c } from "./crc32c.js";
import { acquireLock } from "./data-dir-lock.js";
import { DurableEngine } from "./durable-engine.js";
import { installSnapshotSignal } from "./snapshot-signal.js";
import { InlineSnapshotter, WorkerSnapshotter } from "./snapshotter.js";
import { engineFactory } from "./state-machine.js";

const encoder = new TextEncoder();

/** A digest of stamped commands, the same whether they come from the pipeline or from the disk. */
export function commandsDigest(commands: Iterable<Command>, crc = 0): number {
  let c = crc;
  for (const cmd of commands) {
    const entries = Object.entries(cmd).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    c = crc32c(
      encoder.encode(JSON.stringify(entries, (_, v) => (typeof v === "bigint" ? `${v}n` : v))),
      0,
      undefined,
      c,
    );
  }
  return c;
}

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : fallback;
}

async function main(): Promise<void> {
  const dir = option("data-dir", "./data");
  const rate = Number(option("rate", "5000"));
  const seed = Number(option("seed", "1"));
  const kind = option("snapshotter", "worker");
  const durationMs = Number(option("duration-ms", "0"));
  const release = acquireLock(dir);
  const fs = new RealFileSystem();
  const factory = engineFactory(defaultConfig);
  const engine = await DurableEngine.open({
    fs,
    dir,
    factory,
    clock: new SystemClock(),
    snapshotEveryCommands: Number(option("snapshot-every", "2000")),
    snapshotsRetained: Number(option("retained", "2")),
    retention: "delete",
    snapshotTimer: true,
    snapshotter:
      kind === "none"
        ? null
        : kind === "inline"
          ? (r) => new InlineSnapshotter({ fs, dir, factory, ...r })
          : (r) => new WorkerSnapshotter({ dir, config: defaultConfig, ...r }),
    onFatal: (error) => {
      process.stderr.write(`load-driver: fatal: ${error.message}\n`);
      process.exit(2);
    },
  });
  installSnapshotSignal(engine, () => {});
  // A reader that went away (a pipe to `head`) ends the run; the journal is as safe as after a kill.
  process.stdout.on("error", () => process.exit(0));
  process.stdout.write(`recovered ${engine.lastSeq} ${engine.stateHash()}\n`);
  engine.onCommit((batch) => {
    const first = batch[0]!.command.seq;
    const last = batch[batch.length - 1]!.command.seq;
    process.stdout.write(`ack ${first} ${last} ${commandsDigest(batch.map((c) => c.command))}\n`);
  });
  const generator = new CommandGenerator(new Prng(seed * 1_000_003 + engine.lastSeq), { accounts: 16 });
  const queue = engine.lastSeq === 0 ? generator.setup() : [];
  const ignore = (): void => {};
  let stopping = false;
  process.on("SIGTERM", () => {
    stopping = true;
    engine.close().then(
      () => {
        release();
        process.exit(0);
      },
      (error: Error) => {
        process.stderr.write(`load-driver: close failed: ${error.message}\n`);
        process.exit(2);
      },
    );
  });
  const t0 = performance.now();
  let sent = 0;
  const pump = (): void => {
    if (stopping) return;
    const elapsed = performance.now() - t0;
    if (durationMs > 0 && elapsed > durationMs) {
      process.emit("SIGTERM");
      return;
    }
    const due = Math.min(Math.floor((elapsed * rate) / 1000) - sent, 1_000);
    for (let i = 0; i < due; i++) {
      engine.submitWith(queue.shift() ?? generator.next(), ignore);
      sent++;
    }
    setImmediate(pump);
  };
  pump();
}

if (process.argv[1]?.endsWith("load-driver.js")) await main();

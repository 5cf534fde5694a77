/**
 * `bourse journal verify | inspect | repair` and `bourse snapshot`: the operator's tools for the
 * durable journal (docs/journal.md).
 */
import fs from "node:fs";
import type { Command } from "commander";
import { defaultConfig, type EngineConfig } from "../engine/config.js";
import { acquireLock, lockOwner } from "../journal/data-dir-lock.js";
import { JournalCorruptionError } from "../journal/errors.js";
import { inspectJournal } from "../journal/inspect.js";
import { journalLimits } from "../journal/journal-limits.js";
import { terminalProgress } from "../journal/progress.js";
import { recover } from "../journal/recovery.js";
import { applyRetention, listSnapshots, writeSnapshotFile } from "../journal/snapshot-store.js";
import { engineFactory } from "../journal/state-machine.js";
import { verifyJournal } from "../journal/verify.js";
import { RealFileSystem } from "../platform/real-file-system.js";

interface DirOptions {
  dataDir: string;
  config?: string;
}

function loadConfig(options: DirOptions): EngineConfig {
  return options.config
    ? (JSON.parse(fs.readFileSync(options.config, "utf8")) as EngineConfig)
    : defaultConfig;
}

function journalDir(options: DirOptions): string {
  if (!fs.existsSync(options.dataDir)) throw new Error(`no data directory at ${options.dataDir}`);
  return options.dataDir;
}

function withDir(command: Command): Command {
  return command
    .option("--data-dir <dir>", "the data directory", "./data")
    .option("--config <file>", "engine configuration (JSON); default: the built-in markets");
}

async function verify(options: DirOptions & { json?: boolean }): Promise<void> {
  const dir = journalDir(options);
  const report = await verifyJournal(
    new RealFileSystem(),
    dir,
    engineFactory(loadConfig(options)),
    terminalProgress("verify"),
  );
  if (options.json) {
    console.log(JSON.stringify(report, null, 2));
  } else {
    const records = report.segments.reduce((s, x) => s + x.records, 0);
    console.log(
      `segments: ${report.segments.length}, records: ${records} (seq ${report.firstSeq}..${report.lastSeq})`,
    );
    for (const s of report.snapshots) {
      const replay =
        s.matchesReplay === null
          ? "not reached by the replay"
          : s.matchesReplay
            ? "matches the replay"
            : "DIFFERS from the replay";
      console.log(`snapshot ${s.file}: ${s.valid ? `valid, ${replay}` : "DAMAGED"}`);
    }
    console.log(`replayed ${report.replayed} commands from ${report.replayedFrom || "nowhere"}`);
    for (const n of report.notes) console.log(`note: ${n}`);
    for (const p of report.problems)
      console.log(`PROBLEM: ${p.file} at byte offset ${p.offset}: ${p.reason}`);
    console.log(
      report.ok ? `ok: last seq ${report.lastSeq}, state hash ${report.stateHash}` : "journal verify: FAILED",
    );
  }
  if (!report.ok) process.exitCode = 1;
}

async function repair(options: DirOptions & { yes?: boolean }): Promise<void> {
  const dir = journalDir(options);
  const fsPort = new RealFileSystem();
  const factory = engineFactory(loadConfig(options));
  try {
    const result = await recover({
      fs: fsPort,
      dir,
      factory,
      mode: "readOnly",
      progress: terminalProgress("check"),
    });
    console.log(`nothing to repair: the journal recovers to seq ${result.tail.lastSeq}`);
    return;
  } catch (error) {
    if (!(error instanceof JournalCorruptionError)) throw error;
    console.log(`damage: ${error.file} at byte offset ${error.offset}: ${error.reason}`);
    if (!options.yes) {
      console.log(
        "repair would truncate the journal at the damage (every record from there on is lost), moving the damaged\n" +
          "and later files to quarantine/. Run again with --yes to do it.",
      );
      process.exitCode = 1;
      return;
    }
  }
  const release = acquireLock(dir);
  try {
    const result = await recover({ fs: fsPort, dir, factory, mode: "repair", warn: (m) => console.log(m) });
    for (const line of result.repaired) console.log(`repaired: ${line}`);
    console.log(
      `the journal now recovers to seq ${result.tail.lastSeq}, state hash ${result.machine.stateHash()}`,
    );
  } finally {
    release();
  }
}

async function snapshot(options: DirOptions & { waitMs: string }): Promise<void> {
  const dir = journalDir(options);
  const fsPort = new RealFileSystem();
  const owner = lockOwner(dir);
  if (owner !== null) {
    // A running Bourse owns the directory: ask it (SIGUSR2), and wait for the new file.
    const before = listSnapshots(fsPort, dir)[0]?.seq ?? -1;
    process.kill(owner, "SIGUSR2");
    const deadline = Date.now() + Number(options.waitMs);
    while (Date.now() < deadline) {
      const newest = listSnapshots(fsPort, dir)[0];
      if (newest !== undefined && newest.seq > before) {
        console.log(`snapshot ${newest.name} written by process ${owner}`);
        return;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    console.log(
      `asked process ${owner} for a snapshot; none newer than seq ${before} appeared (nothing new, or still writing)`,
    );
    return;
  }
  const release = acquireLock(dir);
  try {
    const result = await recover({
      fs: fsPort,
      dir,
      factory: engineFactory(loadConfig(options)),
      // Read-only: the journal (its seal, a torn tail) is left exactly as it is; only a file is added.
      mode: "readOnly",
      progress: terminalProgress("recover"),
      warn: (m) => console.log(m),
    });
    const { tail } = result;
    if (tail.lastSeq === 0 || result.snapshot?.seq === tail.lastSeq) {
      console.log(`nothing new to snapshot (seq ${tail.lastSeq})`);
      return;
    }
    const t0 = performance.now();
    const info = await writeSnapshotFile(
      fsPort,
      dir,
      {
        seq: tail.lastSeq,
        time: tail.lastTime,
        chain: tail.chain,
        segmentFirstSeq: tail.segment!.firstSeq,
        nextOffset: tail.segment!.size,
      },
      result.machine.snapshot(),
    );
    const removed = await applyRetention(fsPort, dir, journalLimits.snapshotsRetained, "delete");
    console.log(
      `snapshot ${info.file}: seq ${info.seq}, ${info.payloadBytes} bytes, ${(performance.now() - t0).toFixed(0)} ms; ` +
        `retention removed ${removed.removedSegments.length} segment(s), ${removed.removedSnapshots.length} snapshot(s)`,
    );
  } finally {
    release();
  }
}

export function registerJournalCommands(program: Command): void {
  const journal = program
    .command("journal")
    .description("the durable command journal: verify, inspect, repair");
  withDir(journal.command("verify"))
    .description(
      "check every checksum, the hash chain and every snapshot, replay the journal, print the state hash",
    )
    .option("--json", "print the report as JSON")
    .action(verify);
  withDir(journal.command("inspect"))
    .description("print the segments, snapshots and records, human-readable")
    .option("--from <seq>", "first seq to print", "1")
    .option("--limit <n>", "records to print at most", "1000")
    .option("--json", "one JSON object per record")
    .action((options: DirOptions & { from: string; limit: string; json?: boolean }) => {
      inspectJournal(new RealFileSystem(), journalDir(options), {
        fromSeq: Number(options.from),
        limit: Number(options.limit),
        json: options.json ?? false,
        print: (line) => console.log(line),
      });
    });
  withDir(journal.command("repair"))
    .description(
      "truncate the journal at the first damage (records after it are lost; damaged files kept in quarantine/)",
    )
    .option("--yes", "really do it")
    .action(repair);
  withDir(program.command("snapshot"))
    .description(
      "take a snapshot now: asks the running Bourse (SIGUSR2), or recovers and writes one if none runs",
    )
    .option("--wait-ms <ms>", "how long to wait for a running Bourse's snapshot", "60000")
    .action(snapshot);
}

/**
 * The real-process crash loop: starts the load driver (real files, real fsync, snapshot worker)
 * under load, kills it with SIGKILL at a random moment, and before restarting checks, on disk:
 *   - every batch the driver acknowledged (printed) is there, with the same commands (digest);
 *   - a clean replay from seq 1 and the snapshot-based recovery give the same state hash;
 * then restarts it and checks it recovers exactly that (seq and hash). Some rounds end with a
 * clean shutdown (SIGTERM) instead, which seals the journal.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { Command } from "../../src/engine/types.js";
import { commandsDigest } from "../../src/journal/load-driver.js";
import { recover } from "../../src/journal/recovery.js";
import { Prng } from "../../src/platform/prng.js";
import { RealFileSystem } from "../../src/platform/real-file-system.js";
import { factory } from "./helpers.js";

const driver = fileURLToPath(new URL("../../src/journal/load-driver.js", import.meta.url));

export interface CrashLoopOptions {
  dir: string;
  rounds: number;
  seed: number;
  rate: number;
  log?: (line: string) => void;
}

interface Ack {
  first: number;
  last: number;
  digest: number;
}

function start(
  dir: string,
  rate: number,
  seed: number,
): { child: ChildProcess; lines: string[]; recovered: Promise<string> } {
  const child = spawn(
    process.execPath,
    [
      driver,
      "--data-dir",
      dir,
      "--rate",
      String(rate),
      "--seed",
      String(seed),
      "--snapshot-every",
      "3000",
      "--retained",
      "1000000",
    ],
    {
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  const lines: string[] = [];
  let partial = "";
  let stderr = "";
  let resolveRecovered: (line: string) => void = () => {};
  let rejectRecovered: (e: Error) => void = () => {};
  const recovered = new Promise<string>((resolve, reject) => {
    resolveRecovered = resolve;
    rejectRecovered = reject;
  });
  child.stdout!.setEncoding("utf8");
  child.stdout!.on("data", (chunk: string) => {
    const parts = (partial + chunk).split("\n");
    partial = parts.pop()!; // a line cut by the kill is not an acknowledgement
    for (const line of parts) {
      lines.push(line);
      if (line.startsWith("recovered ")) resolveRecovered(line);
    }
  });
  child.stderr!.setEncoding("utf8");
  child.stderr!.on("data", (chunk: string) => {
    stderr += chunk;
  });
  child.on("exit", (code, signal) =>
    rejectRecovered(new Error(`driver exited (${code ?? signal}) before recovering: ${stderr}`)),
  );
  return { child, lines, recovered };
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.on("exit", () => resolve());
  });
}

/** Reads the journal as it is on disk: by clean replay from seq 1, and by the snapshot path. */
async function onDisk(
  dir: string,
): Promise<{ lastSeq: number; hash: string; commands: Map<number, Command> }> {
  const fs = new RealFileSystem();
  const commands = new Map<number, Command>();
  const clean = await recover({
    fs,
    dir,
    factory,
    mode: "readOnly",
    ignoreSnapshots: true,
    onRecord: (cmd) => commands.set(cmd.seq, cmd),
  });
  const viaSnapshot = await recover({ fs, dir, factory, mode: "readOnly" });
  const hash = clean.machine.stateHash();
  if (viaSnapshot.tail.lastSeq !== clean.tail.lastSeq || viaSnapshot.machine.stateHash() !== hash) {
    throw new Error(
      `snapshot recovery (seq ${viaSnapshot.tail.lastSeq}, from ${viaSnapshot.snapshot?.file}) differs from a clean replay (seq ${clean.tail.lastSeq})`,
    );
  }
  return { lastSeq: clean.tail.lastSeq, hash, commands };
}

export async function runCrashLoop(
  options: CrashLoopOptions,
): Promise<{ rounds: number; acked: number; kills: number; lastSeq: number }> {
  const random = new Prng(options.seed);
  const log = options.log ?? (() => {});
  let acked = 0;
  let kills = 0;
  let lastSeq = 0;
  for (let round = 1; round <= options.rounds; round++) {
    const run = start(options.dir, options.rate, options.seed * 1_000 + round);
    const recoveredLine = await run.recovered;
    const [, seqText, hash] = recoveredLine.split(" ");
    const expected = round === 1 ? null : await onDiskCache;
    if (expected !== null && (Number(seqText) !== expected.lastSeq || hash !== expected.hash)) {
      throw new Error(
        `round ${round}: restart recovered seq ${seqText} ${hash}, the disk holds seq ${expected.lastSeq} ${expected.hash}`,
      );
    }
    await new Promise((r) => setTimeout(r, random.range(150, 1_200)));
    const clean = random.chance(0.1);
    run.child.kill(clean ? "SIGTERM" : "SIGKILL");
    if (!clean) kills++;
    await exited(run.child);
    const acks: Ack[] = run.lines
      .filter((l) => l.startsWith("ack "))
      .map((l) => {
        const [, first, last, digest] = l.split(" ");
        return { first: Number(first), last: Number(last), digest: Number(digest) };
      });
    const disk = await onDisk(options.dir);
    for (const ack of acks) {
      if (ack.last > disk.lastSeq)
        throw new Error(
          `round ${round}: acknowledged seq ${ack.last} lost (the disk ends at seq ${disk.lastSeq})`,
        );
      const commands: Command[] = [];
      for (let s = ack.first; s <= ack.last; s++) commands.push(disk.commands.get(s)!);
      if (commandsDigest(commands) !== ack.digest)
        throw new Error(`round ${round}: acknowledged seqs ${ack.first}..${ack.last} differ on disk`);
      acked += ack.last - ack.first + 1;
    }
    lastSeq = disk.lastSeq;
    onDiskCache = Promise.resolve(disk);
    log(
      `round ${round}: ${clean ? "SIGTERM" : "SIGKILL"} after ${acks.length} acked batches (to seq ${acks.at(-1)?.last ?? "-"}), ` +
        `disk at seq ${disk.lastSeq}, clean replay = snapshot recovery = ${disk.hash.slice(0, 16)}…`,
    );
  }
  return { rounds: options.rounds, acked, kills, lastSeq };
}

let onDiskCache: Promise<{ lastSeq: number; hash: string }> = Promise.resolve({ lastSeq: 0, hash: "" });

/**
 * Recovery at start: the newest valid snapshot, then replay of every record after it.
 *
 * - A torn tail (the last record of the last segment cut short by the end of the file, or a
 *   zero-filled tail) is an unfinished write that was never acknowledged: it is truncated.
 * - Any other damage (a checksum, sequence, chain or time failure, a cut segment that is not the
 *   last, a journal shorter than its clean-shutdown seal) stops the start with a
 *   JournalCorruptionError naming the file and byte offset. Only `repair` truncates it.
 * - A damaged snapshot is skipped with a warning: an older one (retention keeps two, and the segments
 *   they need) or the journal from seq 1 rebuilds the same state.
 */

import type { Command } from "../engine/types.js";
import type { FileSystem } from "../platform/file-system.js";
import { joinPath } from "../platform/file-system.js";
import { CommandDecoder } from "./command-codec.js";
import { JournalCorruptionError } from "./errors.js";
import {
  allZero,
  decodeSeal,
  decodeSegmentHeader,
  type RecordVisitor,
  type ScanEnd,
  type ScanState,
  type Seal,
  scanRecords,
  sealName,
  temporarySuffix,
} from "./format.js";
import { segmentHeaderBytes } from "./journal-limits.js";
import type { JournalTail } from "./journal-writer.js";
import { listSegments, listSnapshots, readSnapshotFile } from "./snapshot-store.js";
import type { StateMachine, StateMachineFactory } from "./state-machine.js";

export type RecoveryMode = "start" | "readOnly" | "repair";

export interface ReplayProgress {
  start(totalBytes: number): void;
  update(doneBytes: number): void;
  stop(): void;
}

export interface RecoveryOptions {
  fs: FileSystem;
  dir: string;
  factory: StateMachineFactory;
  /** start: truncate a torn tail, remove the seal. readOnly: change nothing. repair: also truncate damage. */
  mode: RecoveryMode;
  /** Stop after this seq (the snapshot follower replays exactly what the pipeline recovered). */
  upToSeq?: number;
  /** Ignore snapshots: replay from seq 1 (a clean replay). */
  ignoreSnapshots?: boolean;
  progress?: ReplayProgress;
  /** Called with each record replayed (inspect, tests). */
  onRecord?: (cmd: Command, file: string, offset: number) => void;
  warn?: (message: string) => void;
}

export interface RecoveryResult {
  machine: StateMachine;
  tail: JournalTail;
  /** The snapshot recovery started from, if any. */
  snapshot: { file: string; seq: number } | null;
  /** Records replayed after the snapshot. */
  replayed: number;
  /** A torn tail found (truncated unless readOnly). */
  torn: { file: string; offset: number; droppedBytes: number; reason: string } | null;
  /** Damaged snapshots skipped. */
  skippedSnapshots: { file: string; reason: string }[];
  /** What repair cut, moved or removed. */
  repaired: string[];
  seal: Seal | null;
}

interface Start {
  machine: StateMachine;
  state: ScanState;
  snapshot: { file: string; seq: number } | null;
  /** Index in the segment list and offset to start replay at. */
  segmentIndex: number;
  offset: number;
}

class Corruption {
  constructor(
    readonly file: string,
    readonly offset: number,
    readonly reason: string,
  ) {}
}

export async function recover(options: RecoveryOptions): Promise<RecoveryResult> {
  const { fs, dir, mode } = options;
  const warn = options.warn ?? (() => {});
  const writable = mode !== "readOnly";
  fs.mkdirp(dir);
  if (writable) {
    // Leftovers of a snapshot or seal being written at a crash: never referenced, never complete.
    for (const name of fs.list(dir)) if (name.endsWith(temporarySuffix)) fs.unlink(joinPath(dir, name));
  }
  const seal = readSeal(fs, dir, mode);
  const skippedSnapshots: { file: string; reason: string }[] = [];
  const repaired: string[] = [];
  let segments = listSegments(fs, dir);
  const start = chooseStart(options, segments, skippedSnapshots, warn);
  const state = start.state;
  const machine = start.machine;
  const upToSeq = options.upToSeq ?? Number.POSITIVE_INFINITY;
  const decoder = new CommandDecoder();
  const onRecord = options.onRecord;
  let currentFile = "";
  let replayed = 0;
  const visit: RecordVisitor = (bytes, view, bodyStart, bodyEnd, seq, time, offset) => {
    const cmd = decoder.decode(bytes, view, bodyStart, bodyEnd, seq, time);
    machine.replay(cmd);
    replayed++;
    if (onRecord !== undefined) onRecord(cmd, currentFile, offset);
  };

  let totalBytes = 0;
  for (let i = start.segmentIndex; i < segments.length; i++)
    totalBytes += fs.size(joinPath(dir, segments[i]!.name));
  const progress = options.progress;
  progress?.start(totalBytes);
  let doneBytes = 0;
  let torn: RecoveryResult["torn"] = null;
  let lastSegment: { firstSeq: number; size: number } | null = null;

  try {
    for (let i = start.segmentIndex; i < segments.length && state.nextSeq <= upToSeq; i++) {
      const { name, firstSeq } = segments[i]!;
      currentFile = name;
      const path = joinPath(dir, name);
      const bytes = fs.readFile(path);
      const isLast = i === segments.length - 1;
      const header = decodeSegmentHeader(bytes);
      if (typeof header === "string") {
        // The newest segment, created by a rotation whose sync never completed: nothing in it was acknowledged.
        if (isLast && (bytes.length < segmentHeaderBytes || allZero(bytes, 0, bytes.length))) {
          torn = {
            file: name,
            offset: 0,
            droppedBytes: bytes.length,
            reason: "segment created but its header never reached the disk",
          };
          break;
        }
        throw new Corruption(name, 0, header);
      }
      if (header.firstSeq !== firstSeq)
        throw new Corruption(
          name,
          0,
          `segment header says first seq ${header.firstSeq}, its name ${firstSeq}`,
        );
      let offset = segmentHeaderBytes;
      if (i === start.segmentIndex && start.offset > 0) {
        if (start.offset > bytes.length) {
          throw new Corruption(
            name,
            bytes.length,
            `the snapshot continues at offset ${start.offset}, past the end of the segment: records it covers are missing`,
          );
        }
        offset = start.offset;
      } else {
        if (header.firstSeq !== state.nextSeq) {
          throw new Corruption(
            name,
            0,
            `segment starts at seq ${header.firstSeq}, expected ${state.nextSeq}: records are missing`,
          );
        }
        if (header.prevChain !== state.chain)
          throw new Corruption(name, 0, "segment does not continue the hash chain of the one before");
      }
      const end: ScanEnd = scanRecords(bytes, offset, state, visit, upToSeq);
      doneBytes += bytes.length;
      progress?.update(doneBytes);
      if (end.kind === "corrupt") throw new Corruption(name, end.offset, end.reason);
      if (end.kind === "torn") {
        if (!isLast)
          throw new Corruption(name, end.offset, `${end.reason}, in a segment that is not the last`);
        torn = {
          file: name,
          offset: end.offset,
          droppedBytes: bytes.length - end.offset,
          reason: end.reason,
        };
      }
      // For "stopped" (upToSeq reached) this is where the next record starts, not the end of the file.
      lastSegment = { firstSeq, size: end.offset };
    }
  } catch (error) {
    progress?.stop();
    if (!(error instanceof Corruption)) {
      if (error instanceof Error && currentFile !== "") {
        throw new JournalCorruptionError(
          currentFile,
          -1,
          `a record passed its checksums but could not be replayed: ${error.message}`,
        );
      }
      throw error;
    }
    if (mode !== "repair") throw new JournalCorruptionError(error.file, error.offset, error.reason);
    // Repair: cut the damaged segment at the damage, move every later segment and every snapshot
    // past this point aside, and recover again from what is left.
    await repairAt(fs, dir, error, segments, state.nextSeq, repaired, warn);
    return { ...(await recover({ ...options, mode: "start" })), repaired };
  }
  progress?.stop();

  if (seal !== null && upToSeq === Number.POSITIVE_INFINITY)
    checkSeal(seal, state, lastSegment, torn, mode, repaired, warn);
  if (torn !== null) {
    warn(
      `journal: torn tail in ${torn.file} at offset ${torn.offset} (${torn.reason}): ${torn.droppedBytes} bytes of an ` +
        `unfinished, never acknowledged write ${writable ? "truncated" : "left in place (read-only)"}`,
    );
    if (writable) await truncateTorn(fs, dir, torn, lastSegment);
  }
  if (writable && seal !== null) {
    fs.unlink(joinPath(dir, sealName));
    await fs.syncDir(dir);
  }
  segments = listSegments(fs, dir);
  return {
    machine,
    tail: { lastSeq: state.nextSeq - 1, lastTime: state.time, chain: state.chain, segment: lastSegment },
    snapshot: start.snapshot,
    replayed,
    torn,
    skippedSnapshots,
    repaired,
    seal,
  };
}

function readSeal(fs: FileSystem, dir: string, mode: RecoveryMode): Seal | null {
  const path = joinPath(dir, sealName);
  if (!fs.exists(path)) return null;
  const seal = decodeSeal(fs.readFile(path));
  if (typeof seal !== "string") return seal;
  if (mode !== "repair") throw new JournalCorruptionError(sealName, 0, seal);
  fs.unlink(path);
  return null;
}

function checkSeal(
  seal: Seal,
  state: ScanState,
  lastSegment: { firstSeq: number; size: number } | null,
  torn: RecoveryResult["torn"],
  mode: RecoveryMode,
  repaired: string[],
  warn: (message: string) => void,
): void {
  const lastSeq = state.nextSeq - 1;
  const ok =
    torn === null &&
    lastSeq === seal.lastSeq &&
    state.chain === seal.chain &&
    lastSegment !== null &&
    lastSegment.firstSeq === seal.segmentFirstSeq &&
    lastSegment.size === seal.segmentBytes;
  if (ok) return;
  const reason =
    `the journal was closed cleanly at seq ${seal.lastSeq} (segment ${seal.segmentFirstSeq}, ${seal.segmentBytes} bytes) ` +
    `but now ends at seq ${lastSeq}${torn ? ` with a cut record at offset ${torn.offset}` : ""}: it was cut or altered after shutdown`;
  if (mode === "repair") {
    warn(`repair: ${reason}; accepting the journal as it is`);
    repaired.push(`removed ${sealName} (${reason})`);
    return;
  }
  throw new JournalCorruptionError(torn?.file ?? sealName, torn?.offset ?? 0, reason);
}

async function truncateTorn(
  fs: FileSystem,
  dir: string,
  torn: NonNullable<RecoveryResult["torn"]>,
  lastSegment: { firstSeq: number; size: number } | null,
): Promise<void> {
  const path = joinPath(dir, torn.file);
  if (torn.offset === 0) {
    fs.unlink(path);
    await fs.syncDir(dir);
    return;
  }
  fs.truncate(path, torn.offset);
  await fs.syncFile(path);
  if (lastSegment !== null) lastSegment.size = torn.offset;
}

function chooseStart(
  options: RecoveryOptions,
  segments: { firstSeq: number; name: string }[],
  skipped: { file: string; reason: string }[],
  warn: (message: string) => void,
): Start {
  const { fs, dir, factory } = options;
  const upToSeq = options.upToSeq ?? Number.POSITIVE_INFINITY;
  if (!options.ignoreSnapshots) {
    for (const { name, seq } of listSnapshots(fs, dir)) {
      if (seq > upToSeq) continue;
      const reason = tryStartFrom(options, segments, name, seq);
      if (typeof reason !== "string") return reason;
      skipped.push({ file: name, reason });
      warn(`journal: snapshot ${name} skipped: ${reason}`);
    }
  }
  const first = segments[0];
  if (first !== undefined && first.firstSeq !== 1) {
    throw new JournalCorruptionError(
      first.name,
      0,
      `no usable snapshot, and the journal starts at seq ${first.firstSeq}, not 1: the state before it cannot be rebuilt`,
    );
  }
  return {
    machine: factory.create(),
    state: { nextSeq: 1, chain: 0, time: 0 },
    snapshot: null,
    segmentIndex: 0,
    offset: 0,
  };
}

function tryStartFrom(
  options: RecoveryOptions,
  segments: { firstSeq: number; name: string }[],
  name: string,
  seq: number,
): Start | string {
  const read = readSnapshotFile(options.fs, joinPath(options.dir, name));
  if (typeof read === "string") return read;
  const { header, payload } = read;
  if (header.seq !== seq) return `header says seq ${header.seq}, the name ${seq}`;
  // Where replay continues: a segment starting right after the snapshot, else the snapshot's own position.
  let segmentIndex = segments.findIndex((s) => s.firstSeq === seq + 1);
  let offset = 0;
  if (segmentIndex < 0) {
    segmentIndex = segments.findIndex((s) => s.firstSeq === header.segmentFirstSeq);
    offset = header.nextOffset;
    if (segmentIndex < 0) {
      // Neither the segment holding record `seq` (retention archived it) nor one starting after it:
      // fine when nothing in the journal lies past the snapshot (a segment created by a rotation
      // whose first sync never completed holds nothing acknowledged, and was removed as torn).
      if (segments.some((s) => s.firstSeq > seq))
        return `no segment continues the journal right after seq ${seq}`;
      segmentIndex = segments.length;
      offset = 0;
    }
  }
  let machine: StateMachine;
  try {
    machine = options.factory.restore(payload);
  } catch (error) {
    return `the engine refused it: ${(error as Error).message}`;
  }
  if (machine.lastSeq !== seq) return `its state is at seq ${machine.lastSeq}, its header says ${seq}`;
  return {
    machine,
    state: { nextSeq: seq + 1, chain: header.chain, time: header.time },
    snapshot: { file: name, seq },
    segmentIndex,
    offset,
  };
}

async function repairAt(
  fs: FileSystem,
  dir: string,
  damage: Corruption,
  segments: { firstSeq: number; name: string }[],
  lostFromSeq: number,
  repaired: string[],
  warn: (message: string) => void,
): Promise<void> {
  const quarantine = joinPath(dir, "quarantine");
  fs.mkdirp(quarantine);
  const index = segments.findIndex((s) => s.name === damage.file);
  for (const s of segments.slice(index + 1)) {
    fs.rename(joinPath(dir, s.name), joinPath(quarantine, s.name));
    repaired.push(`moved ${s.name} to quarantine/`);
  }
  const path = joinPath(dir, damage.file);
  if (damage.offset <= segmentHeaderBytes && index >= 0 && segments[index]!.firstSeq === lostFromSeq) {
    fs.rename(path, joinPath(quarantine, damage.file));
    repaired.push(`moved ${damage.file} to quarantine/ (damaged at its start)`);
  } else if (damage.file !== sealName) {
    const original = fs.readFile(path);
    fs.writeFile(joinPath(quarantine, `${damage.file}.damaged`), original);
    fs.truncate(path, damage.offset);
    await fs.syncFile(path);
    repaired.push(
      `truncated ${damage.file} at offset ${damage.offset} (original kept as quarantine/${damage.file}.damaged)`,
    );
  }
  for (const s of listSnapshots(fs, dir)) {
    if (s.seq >= lostFromSeq) {
      fs.rename(joinPath(dir, s.name), joinPath(quarantine, s.name));
      repaired.push(`moved ${s.name} to quarantine/ (it is past the cut)`);
    }
  }
  if (fs.exists(joinPath(dir, sealName))) {
    fs.unlink(joinPath(dir, sealName));
    repaired.push(`removed ${sealName}`);
  }
  await fs.syncDir(dir);
  await fs.syncDir(quarantine);
  warn(
    `repair: ${damage.file} at offset ${damage.offset}: ${damage.reason}; records from seq ${lostFromSeq} on are dropped`,
  );
}

/**
 * `bourse journal verify`: reads everything (unlike recovery, which starts at the newest snapshot):
 * every segment's header, every record's checksums, the sequence and the hash chain across
 * segments; every snapshot's checksum, and whether replaying the journal to its seq gives the same
 * state and the same chain position; the seal of a clean shutdown. Replays from seq 1 when the
 * journal still starts there, else from the oldest valid snapshot, and prints the final state hash.
 */
import type { FileSystem } from "../platform/file-system.js";
import { joinPath } from "../platform/file-system.js";
import { CommandDecoder } from "./command-codec.js";
import { decodeSeal, decodeSegmentHeader, type ScanState, scanRecords, sealName } from "./format.js";
import { segmentHeaderBytes } from "./journal-limits.js";
import type { ReplayProgress } from "./recovery.js";
import { listSegments, listSnapshots, readSnapshotFile } from "./snapshot-store.js";
import type { StateMachine, StateMachineFactory } from "./state-machine.js";

export interface Problem {
  file: string;
  offset: number;
  reason: string;
}

export interface VerifyReport {
  ok: boolean;
  problems: Problem[];
  notes: string[];
  segments: { file: string; firstSeq: number; lastSeq: number; records: number; bytes: number }[];
  snapshots: { file: string; seq: number; valid: boolean; matchesReplay: boolean | null }[];
  firstSeq: number;
  lastSeq: number;
  replayedFrom: string;
  replayed: number;
  stateHash: string | null;
}

export async function verifyJournal(
  fs: FileSystem,
  dir: string,
  factory: StateMachineFactory,
  progress?: ReplayProgress,
): Promise<VerifyReport> {
  const problems: Problem[] = [];
  const notes: string[] = [];
  const report: VerifyReport = {
    ok: false,
    problems,
    notes,
    segments: [],
    snapshots: [],
    firstSeq: 0,
    lastSeq: 0,
    replayedFrom: "",
    replayed: 0,
    stateHash: null,
  };

  // Snapshots: checksums and restorability first; compared with the replay as it passes their seq.
  const valid = new Map<number, { file: string; chain: number; hash: string; payload: Uint8Array }>();
  for (const { name, seq } of listSnapshots(fs, dir).reverse()) {
    const read = readSnapshotFile(fs, joinPath(dir, name));
    let reason: string | null = typeof read === "string" ? read : null;
    if (typeof read !== "string") {
      if (read.header.seq !== seq) reason = `header says seq ${read.header.seq}, the name ${seq}`;
      else {
        try {
          const machine = factory.restore(read.payload);
          if (machine.lastSeq !== seq) reason = `state at seq ${machine.lastSeq}, header says ${seq}`;
          else
            valid.set(seq, {
              file: name,
              chain: read.header.chain,
              hash: machine.stateHash(),
              payload: read.payload,
            });
        } catch (error) {
          reason = `the engine refused it: ${(error as Error).message}`;
        }
      }
    }
    if (reason !== null) problems.push({ file: name, offset: 0, reason });
    report.snapshots.push({ file: name, seq, valid: reason === null, matchesReplay: null });
  }

  const segments = listSegments(fs, dir);
  const first = segments[0];
  let machine: StateMachine | null = null;
  let startSnapshot = -1;
  if (first === undefined || first.firstSeq === 1) {
    machine = factory.create();
    report.replayedFrom = "seq 1";
  } else {
    for (const seq of [...valid.keys()].sort((a, b) => a - b)) {
      if (seq >= first.firstSeq - 1) {
        startSnapshot = seq;
        break;
      }
    }
    if (startSnapshot < 0) {
      problems.push({
        file: first.name,
        offset: 0,
        reason: `the journal starts at seq ${first.firstSeq} and no valid snapshot lets it be replayed`,
      });
    } else {
      report.replayedFrom = valid.get(startSnapshot)!.file;
    }
  }

  const decoder = new CommandDecoder();
  const state: ScanState = { nextSeq: first?.firstSeq ?? 1, chain: 0, time: 0 };
  const checkSnapshotAt = (seq: number): void => {
    const snapshot = valid.get(seq);
    if (snapshot === undefined) return;
    const entry = report.snapshots.find((s) => s.file === snapshot.file)!;
    if (snapshot.chain !== state.chain) {
      problems.push({
        file: snapshot.file,
        offset: 0,
        reason: `its chain position differs from the journal's at seq ${seq}`,
      });
      entry.matchesReplay = false;
      return;
    }
    if (machine === null) return;
    entry.matchesReplay = machine.stateHash() === snapshot.hash;
    if (!entry.matchesReplay)
      problems.push({
        file: snapshot.file,
        offset: 0,
        reason: `its state differs from a replay of the journal to seq ${seq}`,
      });
  };
  let total = 0;
  for (const s of segments) total += fs.size(joinPath(dir, s.name));
  progress?.start(total);
  let done = 0;
  let lastSize = 0;
  let torn = false;
  for (let i = 0; i < segments.length; i++) {
    const { name, firstSeq } = segments[i]!;
    const bytes = fs.readFile(joinPath(dir, name));
    const header = decodeSegmentHeader(bytes);
    const isLast = i === segments.length - 1;
    if (typeof header === "string") {
      if (isLast && bytes.every((b) => b === 0))
        notes.push(`${name}: an unfinished segment (no header), would be removed at start`);
      else problems.push({ file: name, offset: 0, reason: header });
      break;
    }
    if (header.firstSeq !== firstSeq) {
      problems.push({
        file: name,
        offset: 0,
        reason: `header says first seq ${header.firstSeq}, its name ${firstSeq}`,
      });
      break;
    }
    if (i === 0) state.chain = header.prevChain;
    else if (header.firstSeq !== state.nextSeq || header.prevChain !== state.chain) {
      problems.push({
        file: name,
        offset: 0,
        reason: `does not continue the segment before it (expected seq ${state.nextSeq} and its chain)`,
      });
      break;
    }
    if (i === 0 && startSnapshot === firstSeq - 1) {
      checkSnapshotAt(startSnapshot);
      machine = factory.restore(valid.get(startSnapshot)!.payload);
    }
    const segmentFirst = state.nextSeq;
    let records = 0;
    const end = scanRecords(bytes, segmentHeaderBytes, state, (b, view, bodyStart, bodyEnd, seq, time) => {
      records++;
      if (machine !== null) {
        try {
          machine.replay(decoder.decode(b, view, bodyStart, bodyEnd, seq, time));
        } catch (error) {
          problems.push({
            file: name,
            offset: bodyStart,
            reason: `seq ${seq} cannot be replayed: ${(error as Error).message}`,
          });
          machine = null;
        }
        report.replayed++;
      }
      // The state passes a snapshot's seq: compare (this runs before the next record is applied).
      state.nextSeq = seq + 1;
      if (valid.has(seq)) {
        const chainBefore = state.chain;
        state.chain = view.getUint32(bodyStart - 32, true);
        checkSnapshotAt(seq);
        state.chain = chainBefore;
        if (seq === startSnapshot && machine === null) machine = factory.restore(valid.get(seq)!.payload);
      }
    });
    done += bytes.length;
    progress?.update(done);
    report.segments.push({
      file: name,
      firstSeq: segmentFirst,
      lastSeq: state.nextSeq - 1,
      records,
      bytes: bytes.length,
    });
    lastSize = bytes.length;
    if (end.kind === "corrupt") {
      problems.push({ file: name, offset: end.offset, reason: end.reason });
      break;
    }
    if (end.kind === "torn") {
      if (!isLast) {
        problems.push({
          file: name,
          offset: end.offset,
          reason: `${end.reason}, in a segment that is not the last`,
        });
        break;
      }
      torn = true;
      lastSize = end.offset;
      notes.push(
        `${name}: torn tail at offset ${end.offset} (${end.reason}): an unfinished write, would be truncated at start`,
      );
    }
  }
  progress?.stop();
  report.firstSeq = first?.firstSeq ?? 0;
  report.lastSeq = state.nextSeq - 1;

  const sealPath = joinPath(dir, sealName);
  if (fs.exists(sealPath)) {
    const seal = decodeSeal(fs.readFile(sealPath));
    if (typeof seal === "string") problems.push({ file: sealName, offset: 0, reason: seal });
    else {
      const last = segments[segments.length - 1];
      if (
        torn ||
        seal.lastSeq !== report.lastSeq ||
        seal.chain !== state.chain ||
        last?.firstSeq !== seal.segmentFirstSeq ||
        lastSize !== seal.segmentBytes
      ) {
        problems.push({
          file: last?.name ?? sealName,
          offset: Math.min(lastSize, seal.segmentBytes),
          reason: `closed cleanly at seq ${seal.lastSeq} (${seal.segmentBytes} bytes in its last segment) but now ends at seq ${report.lastSeq} (${lastSize} bytes): cut or altered after shutdown`,
        });
      } else notes.push("sealed by a clean shutdown, and matches it");
    }
  }
  for (const s of report.snapshots) {
    if (s.valid && s.matchesReplay === null && s.seq > report.lastSeq) {
      problems.push({
        file: s.file,
        offset: 0,
        reason: `at seq ${s.seq}, past the end of the journal (seq ${report.lastSeq}): records are missing`,
      });
    }
  }
  if (machine !== null && problems.length === 0) report.stateHash = machine.stateHash();
  report.ok = problems.length === 0;
  return report;
}

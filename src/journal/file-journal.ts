/**
 * The file journal behind the Journal port: segment files appended with group-commit fdatasync
 * (JournalWriter), recovered by `recover` (snapshot files + replay, torn-tail truncation, fail-stop on
 * damage). Everything it does is described in docs/journal.md; this class only puts it behind the
 * port, so the pipeline does not know it is talking to files.
 */
import type { Command } from "../engine/types.js";
import type { FileSystem } from "../platform/file-system.js";
import { joinPath } from "../platform/file-system.js";
import { CommandDecoder } from "./command-codec.js";
import { JournalCorruptionError } from "./errors.js";
import { decodeSegmentHeader, type ScanState, scanRecords } from "./format.js";
import type { AppendHooks, Journal, JournalAppender, JournalPosition, RecoverRequest } from "./journal.js";
import { segmentHeaderBytes } from "./journal-limits.js";
import { type JournalTail, JournalWriter } from "./journal-writer.js";
import { type RecoveryResult, recover } from "./recovery.js";
import { listSegments } from "./snapshot-store.js";

export interface FileJournalOptions {
  fs: FileSystem;
  dir: string;
  segmentBytesMax?: number;
  batchCommandsMax?: number;
  batchBytesMax?: number;
}

export class FileJournal implements Journal {
  readonly description: string;
  private tail: JournalTail | null = null;

  constructor(private readonly options: FileJournalOptions) {
    this.description = `file ${options.dir}`;
  }

  async recover(request: RecoverRequest): Promise<RecoveryResult> {
    const result = await recover({
      fs: this.options.fs,
      dir: this.options.dir,
      factory: request.factory,
      mode: "start",
      warn: request.warn,
      ...(request.progress ? { progress: request.progress } : {}),
    });
    this.tail = result.tail;
    return result;
  }

  openAppender(hooks: AppendHooks): JournalAppender {
    if (this.tail === null) throw new Error("file journal: openAppender before recover");
    const o = this.options;
    return new JournalWriter(
      {
        fs: o.fs,
        dir: o.dir,
        scheduler: hooks.scheduler,
        clock: hooks.clock,
        onDurable: hooks.onDurable,
        onFailure: hooks.onFailure,
        ...(o.segmentBytesMax !== undefined ? { segmentBytesMax: o.segmentBytesMax } : {}),
        ...(o.batchCommandsMax !== undefined ? { batchCommandsMax: o.batchCommandsMax } : {}),
        ...(o.batchBytesMax !== undefined ? { batchBytesMax: o.batchBytesMax } : {}),
      },
      this.tail,
    );
  }

  /**
   * Scans the segments from the one holding `fromSeq`, with every check of recovery (segment header,
   * both CRCs, sequence, chain, time). Read-only: a torn tail simply ends the read.
   */
  async read(
    fromSeq: number,
    visit: (cmd: Command) => void,
    upToSeq = Number.POSITIVE_INFINITY,
  ): Promise<JournalPosition> {
    const { fs, dir } = this.options;
    const segments = listSegments(fs, dir);
    let index = -1;
    for (let i = 0; i < segments.length; i++) if (segments[i]!.firstSeq <= fromSeq) index = i;
    if (index < 0) {
      const first = segments[0];
      if (first === undefined) return { lastSeq: 0, lastTime: 0, chain: 0 };
      throw new JournalCorruptionError(first.name, 0, `seq ${fromSeq} is before the first segment`);
    }
    const decoder = new CommandDecoder();
    let state: ScanState | null = null;
    for (let i = index; i < segments.length; i++) {
      const { name, firstSeq } = segments[i]!;
      const bytes = fs.readFile(joinPath(dir, name));
      const header = decodeSegmentHeader(bytes);
      if (typeof header === "string") {
        if (i === segments.length - 1) break; // a rotation whose header never reached the disk
        throw new JournalCorruptionError(name, 0, header);
      }
      if (state === null) state = { nextSeq: firstSeq, chain: header.prevChain, time: 0 };
      else if (header.firstSeq !== state.nextSeq || header.prevChain !== state.chain)
        throw new JournalCorruptionError(
          name,
          0,
          `segment does not continue the journal at seq ${state.nextSeq}`,
        );
      const end = scanRecords(
        bytes,
        segmentHeaderBytes,
        state,
        (b, view, bodyStart, bodyEnd, seq, time) => {
          if (seq >= fromSeq) visit(decoder.decode(b, view, bodyStart, bodyEnd, seq, time));
        },
        upToSeq,
      );
      if (end.kind === "corrupt") throw new JournalCorruptionError(name, end.offset, end.reason);
      if (end.kind === "stopped" || (end.kind === "torn" && i === segments.length - 1)) break;
      if (end.kind === "torn") throw new JournalCorruptionError(name, end.offset, end.reason);
    }
    const s = state ?? { nextSeq: 1, chain: 0, time: 0 };
    return { lastSeq: s.nextSeq - 1, lastTime: s.time, chain: s.chain };
  }

  async release(): Promise<void> {}
}

/**
 * The append side of the journal: records are encoded into an in-memory batch as commands arrive;
 * one batch at a time is written and fdatasync'ed (group commit). Everything that arrives while a
 * sync is in flight joins the next batch, so the sync rate adapts to the load: one record per sync
 * when idle, thousands under load. Batches are bounded (records and bytes); segments rotate before
 * they would pass their size bound, and a new segment is durable only once its directory is synced.
 *
 * A failed write or sync is fatal (fail-stop): after an fsync error the kernel may have dropped the
 * dirty pages, so nothing written since the last good sync can be trusted to be on disk. The writer
 * stops, reports the error once, and never acknowledges another record. Restart and recover.
 */
import type { Clock } from "../platform/clock.js";
import type { AppendFile, FileSystem } from "../platform/file-system.js";
import { joinPath } from "../platform/file-system.js";
import type { Scheduler } from "../platform/scheduler.js";
import { JournalError } from "./errors.js";
import { encodeSeal, encodeSegmentHeader, sealName, segmentName, temporarySuffix } from "./format.js";
import { Batch, type DurableBatch, GroupCommit } from "./group-commit.js";
import { journalLimits, recordBytesMax, segmentHeaderBytes } from "./journal-limits.js";

export type { DurableBatch } from "./group-commit.js";

/** Where recovery left the journal: the writer continues from here. */
export interface JournalTail {
  lastSeq: number;
  lastTime: number;
  chain: number;
  /** The last segment, to append to; null when there is none (or it is full). */
  segment: { firstSeq: number; size: number } | null;
}

export interface JournalWriterOptions {
  fs: FileSystem;
  dir: string;
  scheduler: Scheduler;
  clock: Clock;
  onDurable: (batch: DurableBatch) => void;
  onFailure: (error: Error) => void;
  segmentBytesMax?: number;
  batchCommandsMax?: number;
  batchBytesMax?: number;
}

/** The file journal's group commit (group-commit.ts): each batch is appended to a segment and fdatasync'ed. */
export class JournalWriter extends GroupCommit<Batch> {
  private readonly fs: FileSystem;
  private readonly dir: string;
  private readonly clock: Clock;
  private readonly segmentBytesMax: number;
  private segment: AppendFile | null = null;
  private segmentFirstSeq = 0;

  constructor(options: JournalWriterOptions, tail: JournalTail) {
    const segmentBytesMax = options.segmentBytesMax ?? journalLimits.segmentBytesMax;
    const batchCommandsMax = options.batchCommandsMax ?? journalLimits.batchCommandsMax;
    const batchBytesMax = options.batchBytesMax ?? journalLimits.batchBytesMax;
    if (batchBytesMax < recordBytesMax || segmentBytesMax < batchBytesMax + segmentHeaderBytes) {
      throw new Error("journal writer: batchBytesMax must hold one record, a segment one batch");
    }
    super(
      {
        name: "journal writer",
        scheduler: options.scheduler,
        onDurable: options.onDurable,
        onFailure: options.onFailure,
        batchCommandsMax,
        batchBytesMax,
        newBatch: (capacity) => new Batch(capacity),
      },
      tail,
    );
    this.fs = options.fs;
    this.dir = options.dir;
    this.clock = options.clock;
    this.segmentBytesMax = segmentBytesMax;
    if (tail.segment !== null && tail.segment.size + batchBytesMax <= segmentBytesMax) {
      this.segment = this.fs.openAppend(joinPath(this.dir, segmentName(tail.segment.firstSeq)), false);
      this.segmentFirstSeq = tail.segment.firstSeq;
    }
  }

  /** Writes what is pending, waits until it is durable, then writes the seal of a clean shutdown. */
  override async close(): Promise<void> {
    // drain(), not `await super.close()`: no extra await before the seal, so it interleaves with
    // other pending work (a snapshot, say) exactly as before.
    const draining = this.drain();
    if (draining !== null) await draining;
    const failure = this.failed;
    if (failure !== null) throw failure;
    const segment = this.segment;
    if (segment !== null) {
      const seal = encodeSeal({
        lastSeq: this.lastSeq,
        chain: this.chain,
        segmentFirstSeq: this.segmentFirstSeq,
        segmentBytes: segment.size,
      });
      segment.close();
      this.segment = null;
      const temporary = joinPath(this.dir, sealName + temporarySuffix);
      this.fs.writeFile(temporary, seal);
      await this.fs.syncFile(temporary);
      this.fs.rename(temporary, joinPath(this.dir, sealName));
      await this.fs.syncDir(this.dir);
    }
  }

  /** Writes a batch (rotating first if needed) and starts its sync; returns when it is durable. */
  protected write(batch: Batch): Promise<unknown> {
    let created = false;
    if (this.segment === null || this.segment.size + batch.length > this.segmentBytesMax) {
      this.segment?.close();
      this.segmentFirstSeq = batch.firstSeq;
      this.segment = this.fs.openAppend(joinPath(this.dir, segmentName(batch.firstSeq)), true);
      this.segment.append(
        encodeSegmentHeader({
          firstSeq: batch.firstSeq,
          prevChain: batch.chainBefore,
          createdMs: this.clock.nowMs(),
        }),
      );
      created = true;
    }
    this.segment.append(batch.bytes.subarray(0, batch.length));
    // A new segment's name is durable only once the directory is synced: both barriers in parallel.
    const durable = created
      ? Promise.all([this.segment.sync(), this.fs.syncDir(this.dir)])
      : this.segment.sync();
    batch.segmentFirstSeq = this.segmentFirstSeq;
    batch.endOffset = this.segment.size;
    return durable;
  }

  protected failureOf(error: Error): Error {
    return new JournalError("JOURNAL_FAILED", `journal write or sync failed: ${error.message}`, {
      cause: error,
    });
  }

  protected override stop(): void {
    this.segment?.close();
    this.segment = null;
  }
}

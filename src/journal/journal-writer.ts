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
import { CommandEncoder, type CommandInput } from "./command-codec.js";
import { JournalError } from "./errors.js";
import {
  encodeSeal,
  encodeSegmentHeader,
  sealName,
  sealRecord,
  segmentName,
  temporarySuffix,
} from "./format.js";
import { journalLimits, recordBytesMax, recordHeaderBytes, segmentHeaderBytes } from "./journal-limits.js";

/** A batch whose records are durable, handed to the output gate. `bytes` is valid during the callback only. */
export interface DurableBatch {
  firstSeq: number;
  lastSeq: number;
  lastTime: number;
  /** headerCrc of the last record. */
  chain: number;
  /** The records exactly as written. */
  bytes: Uint8Array;
  /** The segment they are in, and the offset just past them. */
  segmentFirstSeq: number;
  endOffset: number;
}

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

/** One group-commit batch of encoded records (shared with the Redis appender). */
export class Batch {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  length = 0;
  count = 0;
  firstSeq = 0;
  lastSeq = 0;
  lastTime = 0;
  chainBefore = 0;
  chainAfter = 0;

  constructor(capacity: number) {
    this.bytes = new Uint8Array(capacity);
    this.view = new DataView(this.bytes.buffer);
  }

  reset(): void {
    this.length = 0;
    this.count = 0;
  }
}

export class JournalWriter {
  private readonly fs: FileSystem;
  private readonly dir: string;
  private readonly options: JournalWriterOptions;
  private readonly segmentBytesMax: number;
  private readonly batchCommandsMax: number;
  private readonly batchBytesMax: number;
  private readonly encoder = new CommandEncoder();
  private segment: AppendFile | null = null;
  private segmentFirstSeq = 0;
  private current: Batch;
  private readonly queue: Batch[] = [];
  private readonly pool: Batch[] = [];
  private syncing = false;
  private flushScheduled = false;
  private failure: Error | null = null;
  private closing = false;
  private drained: (() => void) | null = null;
  private chain: number;
  private lastSeq: number;
  private stagedEnd = -1;
  /** Records committed but not yet durable. */
  pending = 0;
  /** Last durable seq. */
  durableSeq: number;

  constructor(options: JournalWriterOptions, tail: JournalTail) {
    this.options = options;
    this.fs = options.fs;
    this.dir = options.dir;
    this.segmentBytesMax = options.segmentBytesMax ?? journalLimits.segmentBytesMax;
    this.batchCommandsMax = options.batchCommandsMax ?? journalLimits.batchCommandsMax;
    this.batchBytesMax = options.batchBytesMax ?? journalLimits.batchBytesMax;
    if (
      this.batchBytesMax < recordBytesMax ||
      this.segmentBytesMax < this.batchBytesMax + segmentHeaderBytes
    ) {
      throw new Error("journal writer: batchBytesMax must hold one record, a segment one batch");
    }
    this.chain = tail.chain;
    this.lastSeq = tail.lastSeq;
    this.durableSeq = tail.lastSeq;
    if (tail.segment !== null && tail.segment.size + this.batchBytesMax <= this.segmentBytesMax) {
      this.segment = this.fs.openAppend(joinPath(this.dir, segmentName(tail.segment.firstSeq)), false);
      this.segmentFirstSeq = tail.segment.firstSeq;
    }
    this.current = this.newBatch();
  }

  get failed(): Error | null {
    return this.failure;
  }

  /**
   * Encodes a record for `cmd` at the end of the current batch without committing it: throws a
   * JournalError (and changes nothing) when the command cannot be stored. `commit` makes it part of
   * the batch; staging again overwrites it.
   */
  stage(cmd: CommandInput, seq: number, time: number): void {
    if (this.failure !== null)
      throw new JournalError("JOURNAL_FAILED", this.failure.message, { cause: this.failure });
    if (this.closing) throw new JournalError("JOURNAL_CLOSED", "the journal is closing");
    const batch = this.current;
    const start = batch.length;
    const end = this.encoder.encode(
      cmd,
      batch.bytes,
      batch.view,
      start + recordHeaderBytes,
      batch.bytes.length,
    );
    this.stagedEnd = end;
    this.stagedSeq = seq;
    this.stagedTime = time;
  }
  private stagedSeq = 0;
  private stagedTime = 0;

  /** Commits the staged record: it will be written with the next batch. */
  commit(): void {
    const batch = this.current;
    const start = batch.length;
    const end = this.stagedEnd;
    if (end < 0) throw new Error("journal writer: commit without a staged record");
    this.stagedEnd = -1;
    if (batch.count === 0) {
      batch.firstSeq = this.stagedSeq;
      batch.chainBefore = this.chain;
    }
    this.chain = sealRecord(batch.bytes, batch.view, start, end, this.stagedSeq, this.stagedTime, this.chain);
    this.lastSeq = this.stagedSeq;
    batch.length = end;
    batch.count++;
    batch.lastSeq = this.stagedSeq;
    batch.lastTime = this.stagedTime;
    batch.chainAfter = this.chain;
    this.pending++;
    if (batch.count >= this.batchCommandsMax || batch.bytes.length - batch.length < recordBytesMax) {
      this.queue.push(batch);
      this.current = this.newBatch();
    }
    this.scheduleFlush();
  }

  /** Writes what is pending, waits until it is durable, then writes the seal of a clean shutdown. */
  async close(): Promise<void> {
    if (this.failure !== null) throw this.failure;
    this.closing = true;
    if (this.pending > 0) {
      await new Promise<void>((resolve) => {
        this.drained = resolve;
        this.scheduleFlush();
      });
    }
    if (this.failure !== null) throw this.failure;
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

  /** Stops without writing anything more (the process is going down hard, or a test simulates it). */
  abandon(): void {
    this.failure ??= new JournalError("JOURNAL_CLOSED", "abandoned");
    this.segment?.close();
    this.segment = null;
  }

  private newBatch(): Batch {
    const batch = this.pool.pop() ?? new Batch(this.batchBytesMax);
    batch.reset();
    return batch;
  }

  private scheduleFlush(): void {
    if (this.flushScheduled || this.syncing || this.failure !== null) return;
    this.flushScheduled = true;
    this.options.scheduler.schedule(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    if (this.syncing || this.failure !== null) return;
    let batch = this.queue.shift();
    if (batch === undefined) {
      if (this.current.count === 0) {
        if (this.pending === 0 && this.drained !== null) {
          const drained = this.drained;
          this.drained = null;
          drained();
        }
        return;
      }
      batch = this.current;
      this.current = this.newBatch();
    }
    let durable: Promise<unknown>;
    try {
      durable = this.write(batch);
    } catch (error) {
      this.fail(error as Error);
      return;
    }
    this.syncing = true;
    const written = batch;
    const segmentFirstSeq = this.segmentFirstSeq;
    const endOffset = this.segment!.size;
    durable.then(
      () => this.durable(written, segmentFirstSeq, endOffset),
      (error: Error) => this.fail(error),
    );
  }

  /** Writes a batch (rotating first if needed) and starts its sync; returns when it is durable. */
  private write(batch: Batch): Promise<unknown> {
    let created = false;
    if (this.segment === null || this.segment.size + batch.length > this.segmentBytesMax) {
      this.segment?.close();
      this.segmentFirstSeq = batch.firstSeq;
      this.segment = this.fs.openAppend(joinPath(this.dir, segmentName(batch.firstSeq)), true);
      this.segment.append(
        encodeSegmentHeader({
          firstSeq: batch.firstSeq,
          prevChain: batch.chainBefore,
          createdMs: this.options.clock.nowMs(),
        }),
      );
      created = true;
    }
    this.segment.append(batch.bytes.subarray(0, batch.length));
    // A new segment's name is durable only once the directory is synced: both barriers in parallel.
    return created ? Promise.all([this.segment.sync(), this.fs.syncDir(this.dir)]) : this.segment.sync();
  }

  private durable(batch: Batch, segmentFirstSeq: number, endOffset: number): void {
    if (this.failure !== null) return;
    this.syncing = false;
    this.pending -= batch.count;
    this.durableSeq = batch.lastSeq;
    // Start the next write before releasing this batch's outputs: the disk works while we fan out.
    if (this.queue.length > 0 || this.current.count > 0 || this.drained !== null) this.flush();
    try {
      this.options.onDurable({
        firstSeq: batch.firstSeq,
        lastSeq: batch.lastSeq,
        lastTime: batch.lastTime,
        chain: batch.chainAfter,
        bytes: batch.bytes.subarray(0, batch.length),
        segmentFirstSeq,
        endOffset,
      });
    } catch (error) {
      this.fail(error as Error);
      return;
    }
    this.pool.push(batch);
  }

  private fail(error: Error): void {
    if (this.failure !== null) return;
    this.failure = new JournalError("JOURNAL_FAILED", `journal write or sync failed: ${error.message}`, {
      cause: error,
    });
    this.segment?.close();
    this.segment = null;
    this.options.onFailure(this.failure);
    if (this.drained !== null) {
      const drained = this.drained;
      this.drained = null;
      drained();
    }
  }
}

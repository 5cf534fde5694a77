/**
 * Group commit, the part both journal backends share (the file journal's JournalWriter, the Redis
 * journal's appender): records are encoded into an in-memory batch as commands arrive; one batch at
 * a time is written by the backend (`write`: fdatasync, or a Redis append + WAIT), and everything
 * committed while it is in flight joins the next batch, so the batch size adapts to the load.
 * Batches are bounded (records and bytes). Once a batch is durable the next write starts before its
 * outputs are released (onDurable), so the backend works while we fan out.
 *
 * A failure is final (fail-stop): the appender reports it once (onFailure), never acknowledges
 * another record, and `close` rejects with it.
 */
import type { Scheduler } from "../platform/scheduler.js";
import { CommandEncoder, type CommandInput } from "./command-codec.js";
import { JournalError } from "./errors.js";
import { sealRecord } from "./format.js";
import { recordBytesMax, recordHeaderBytes } from "./journal-limits.js";

/** A batch whose records are durable, handed to the output gate. `bytes` is valid during the callback only. */
export interface DurableBatch {
  firstSeq: number;
  lastSeq: number;
  lastTime: number;
  /** headerCrc of the last record. */
  chain: number;
  /** The records exactly as written. */
  bytes: Uint8Array;
  /** The segment they are in, and the offset just past them (file journal; 0 for the Redis journal). */
  segmentFirstSeq: number;
  endOffset: number;
}

/** One group-commit batch of encoded records. */
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
  /** Where `write` put the batch (DurableBatch.segmentFirstSeq/endOffset); 0 for a backend without segments. */
  segmentFirstSeq = 0;
  endOffset = 0;

  constructor(capacity: number) {
    this.bytes = new Uint8Array(capacity);
    this.view = new DataView(this.bytes.buffer);
  }

  reset(): void {
    this.length = 0;
    this.count = 0;
  }
}

export interface GroupCommitOptions<B extends Batch> {
  /** Prefixes the messages of programming errors ("journal writer", "redis journal"). */
  name: string;
  scheduler: Scheduler;
  onDurable: (batch: DurableBatch) => void;
  onFailure: (error: Error) => void;
  batchCommandsMax: number;
  batchBytesMax: number;
  newBatch: (capacity: number) => B;
}

/** Where the log ends when the appender opens: the next record continues from here. */
export interface GroupCommitTail {
  lastSeq: number;
  chain: number;
}

export abstract class GroupCommit<B extends Batch> {
  private readonly gc: GroupCommitOptions<B>;
  private readonly encoder = new CommandEncoder();
  private current: B;
  private readonly queue: B[] = [];
  private readonly pool: B[] = [];
  private inFlight = false;
  private flushScheduled = false;
  private failure: Error | null = null;
  private closing = false;
  private drained: (() => void) | null = null;
  /** headerCrc of the last committed record. */
  protected chain: number;
  /** Seq of the last committed record. */
  protected lastSeq: number;
  private stagedEnd = -1;
  private stagedSeq = 0;
  private stagedTime = 0;
  /** Records committed but not yet durable. */
  pending = 0;
  /** Last durable seq. */
  durableSeq: number;

  constructor(options: GroupCommitOptions<B>, tail: GroupCommitTail) {
    this.gc = options;
    this.chain = tail.chain;
    this.lastSeq = tail.lastSeq;
    this.durableSeq = tail.lastSeq;
    this.current = this.newBatch();
  }

  get failed(): Error | null {
    return this.failure;
  }

  /**
   * Starts writing a batch (the one in flight); the promise settles when it is durable. May throw
   * synchronously: either way the appender fails.
   */
  protected abstract write(batch: B): Promise<unknown>;

  /** The error the appender fails with, for what made a write, a sync or onDurable fail. */
  protected abstract failureOf(error: Error): Error;

  /** Records `checkpoint` with the batch if the backend keeps it; true ends the batch there. */
  protected takeCheckpoint(_batch: B, _checkpoint: string | undefined): boolean {
    return false;
  }

  /** The appender has failed or is abandoned: let go of what the backend holds (no more writes). */
  protected stop(): void {}

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
    this.stagedEnd = this.encoder.encode(
      cmd,
      batch.bytes,
      batch.view,
      batch.length + recordHeaderBytes,
      batch.bytes.length,
    );
    this.stagedSeq = seq;
    this.stagedTime = time;
  }

  /** Commits the staged record: it will be written with the next batch. */
  commit(checkpoint?: string): void {
    const batch = this.current;
    const start = batch.length;
    const end = this.stagedEnd;
    if (end < 0) throw new Error(`${this.gc.name}: commit without a staged record`);
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
    if (
      this.takeCheckpoint(batch, checkpoint) ||
      batch.count >= this.gc.batchCommandsMax ||
      batch.bytes.length - batch.length < recordBytesMax
    ) {
      this.queue.push(batch);
      this.current = this.newBatch();
    }
    this.scheduleFlush();
  }

  /** Makes everything committed durable (rejects with the failure if the appender failed). */
  async close(): Promise<void> {
    const draining = this.drain();
    if (draining !== null) await draining;
    if (this.failure !== null) throw this.failure;
  }

  /**
   * Starts closing: no record can be staged any more. Throws the failure if the appender failed;
   * returns null when every committed record is durable, else a promise that settles once they are
   * (or the appender fails: check `failed` after it).
   */
  protected drain(): Promise<void> | null {
    if (this.failure !== null) throw this.failure;
    this.closing = true;
    if (this.pending > 0) {
      return new Promise<void>((resolve) => {
        this.drained = resolve;
        this.scheduleFlush();
      });
    }
    return null;
  }

  /** Stops without writing anything more (the process is going down hard, or a test simulates it). */
  abandon(): void {
    this.failure ??= new JournalError("JOURNAL_CLOSED", "abandoned");
    this.stop();
  }

  private newBatch(): B {
    const batch = this.pool.pop() ?? this.gc.newBatch(this.gc.batchBytesMax);
    batch.reset();
    return batch;
  }

  private scheduleFlush(): void {
    if (this.flushScheduled || this.inFlight || this.failure !== null) return;
    this.flushScheduled = true;
    this.gc.scheduler.schedule(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    if (this.inFlight || this.failure !== null) return;
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
    this.inFlight = true;
    const written = batch;
    durable.then(
      () => this.durable(written),
      (error: Error) => this.fail(error),
    );
  }

  private durable(batch: B): void {
    if (this.failure !== null) return;
    this.inFlight = false;
    this.pending -= batch.count;
    this.durableSeq = batch.lastSeq;
    // Start the next write before releasing this batch's outputs: the backend works while we fan out.
    if (this.queue.length > 0 || this.current.count > 0 || this.drained !== null) this.flush();
    try {
      this.gc.onDurable({
        firstSeq: batch.firstSeq,
        lastSeq: batch.lastSeq,
        lastTime: batch.lastTime,
        chain: batch.chainAfter,
        bytes: batch.bytes.subarray(0, batch.length),
        segmentFirstSeq: batch.segmentFirstSeq,
        endOffset: batch.endOffset,
      });
    } catch (error) {
      this.fail(error as Error);
      return;
    }
    this.pool.push(batch);
  }

  private fail(error: Error): void {
    if (this.failure !== null) return;
    this.failure = this.failureOf(error);
    this.stop();
    this.gc.onFailure(this.failure);
    if (this.drained !== null) {
      const drained = this.drained;
      this.drained = null;
      drained();
    }
  }
}

/**
 * The history writer: durable events in, history rows out, asynchronously, in batches, exactly once.
 *
 *   enqueue(seq, time, events)  called by the wiring for every durable command, in seq order, from the
 *                               journal's output gate. Never blocks and never throws on overload.
 *   queue (bounded)             when it is full, or a seq is missing, the writer stops queueing and is
 *                               "behind": matching goes on, and once the queue is written the writer
 *                               reads the missing commands' events back from the journal (the source),
 *                               then returns to the live stream.
 *   batch                       up to batchCommandsMax consecutive commands → projector (trades, orders,
 *                               ledger) → store.write, which moves the checkpoint to the batch's last seq.
 *
 * Exactly once: the writer only writes checkpoint+1 onwards, consecutively, one batch at a time, and
 * the store makes a batch's rows and its checkpoint stick together (SQLite: one transaction; DynamoDB:
 * keys derived from the journal, checkpoint last). After a crash, start() reads the checkpoint and the
 * source replays the journal from checkpoint+1: nothing is skipped, nothing stored twice.
 */
import { type EngineConfig, type SettledConfig, settleConfig } from "../engine/config.js";
import type { EngineEvent } from "../engine/types.js";
import { historyLimits } from "./history-limits.js";
import type { HistoryStore } from "./history-store.js";
import { HistoryIntegrityError, Projector } from "./projector.js";
import type { CommandEvents } from "./records.js";

/** Where a writer that fell behind reads events again: the journal (journal-source.ts), or a test twin. */
export interface CommandEventSource {
  /**
   * The events of every durable command from fromSeq to toSeq (at most maxCommands of them), in seq
   * order, each command present even when it had no events.
   */
  read(fromSeq: number, toSeq: number, maxCommands: number): Promise<CommandEvents[]>;
}

/** What the journal's output gate hands its listeners (src/journal/durable-engine.ts CommittedCommand). */
export interface CommittedLike {
  command: { seq: number; time: number };
  events: readonly EngineEvent[];
}

export interface WrittenBatch {
  firstSeq: number;
  lastSeq: number;
  commands: number;
  trades: number;
  /** When each command of the batch was enqueued (writer clock, ms); empty for commands read back from the source. */
  enqueuedAtMs: readonly number[];
  writtenAtMs: number;
}

export interface HistoryWriterOptions {
  store: HistoryStore;
  config: EngineConfig | SettledConfig;
  /** Where to read commands the writer could not queue. None: a gap is fatal. */
  source?: CommandEventSource | null;
  /** A monotonic clock in ms (lag). */
  nowMs?: () => number;
  queueCommandsMax?: number;
  queueEventsMax?: number;
  batchCommandsMax?: number;
  catchUpCommandsMax?: number;
  balanceCacheEntriesMax?: number;
  flushDelayMs?: number;
  /** Called after each batch is stored (benchmarks measure lag with it). */
  onWritten?: (batch: WrittenBatch) => void;
  /** A broken invariant: the writer has stopped (history can no longer be trusted to be complete). */
  onFatal?: (error: Error) => void;
  log?: (message: string) => void;
}

export interface HistoryWriterMetrics {
  /** Last seq stored. */
  checkpointSeq: number;
  /** Last durable seq the writer has heard of. */
  headSeq: number;
  /** Commands durable but not yet in history. */
  lagCommands: number;
  /** Age of the oldest durable command not yet in history, ms (0 when caught up). */
  lagMs: number;
  queueCommands: number;
  queueEvents: number;
  /** Reading back from the journal (the queue overflowed or a gap was seen). */
  behind: boolean;
  batchesWritten: number;
  commandsWritten: number;
  tradesWritten: number;
  /** Commands not queued (overflow) and read back from the source instead. */
  commandsDropped: number;
  commandsReadBack: number;
  writeRetries: number;
  failed: boolean;
}

const retryDelayMsMax = 5_000;

export class HistoryWriter {
  private readonly store: HistoryStore;
  private readonly projector: Projector;
  private readonly source: CommandEventSource | null;
  private readonly nowMs: () => number;
  private readonly queueCommandsMax: number;
  private readonly queueEventsMax: number;
  private readonly batchCommandsMax: number;
  private readonly catchUpCommandsMax: number;
  private readonly flushDelayMs: number;
  private readonly onWritten: ((batch: WrittenBatch) => void) | null;
  private readonly onFatal: (error: Error) => void;
  private readonly log: (message: string) => void;

  // The queue: parallel arrays from `head`, compacted when half consumed.
  private queue: CommandEvents[] = [];
  private enqueuedAt: number[] = [];
  private head = 0;
  private queuedEvents = 0;

  private started = false;
  private closing = false;
  private failure: Error | null = null;
  private checkpointSeq = 0;
  /** The next seq enqueue() accepts into the queue. */
  private expectedSeq = 1;
  /** Highest durable seq heard of. */
  private headSeq = 0;
  /** Set while commands between the checkpoint and headSeq are not all queued. */
  private behind = false;
  private behindSinceMs = 0;
  /** Behind by design (follower mode): catching up is the normal path, not worth a log line. */
  private following = false;
  private wake: (() => void) | null = null;
  private loop: Promise<void> | null = null;
  private idleWaiters: (() => void)[] = [];

  private batchesWritten = 0;
  private commandsWritten = 0;
  private tradesWritten = 0;
  private commandsDropped = 0;
  private commandsReadBack = 0;
  private writeRetries = 0;

  constructor(options: HistoryWriterOptions) {
    this.store = options.store;
    const config = "assetByName" in options.config ? options.config : settleConfig(options.config);
    this.projector = new Projector(
      config,
      options.balanceCacheEntriesMax ?? historyLimits.balanceCacheEntriesMax,
    );
    this.source = options.source ?? null;
    this.nowMs = options.nowMs ?? (() => performance.now());
    this.queueCommandsMax = options.queueCommandsMax ?? historyLimits.queueCommandsMax;
    this.queueEventsMax = options.queueEventsMax ?? historyLimits.queueEventsMax;
    this.batchCommandsMax = options.batchCommandsMax ?? historyLimits.batchCommandsMax;
    this.catchUpCommandsMax = options.catchUpCommandsMax ?? historyLimits.catchUpCommandsMax;
    this.flushDelayMs = options.flushDelayMs ?? historyLimits.flushDelayMs;
    this.onWritten = options.onWritten ?? null;
    this.log = options.log ?? ((m) => process.stderr.write(`${m}\n`));
    this.onFatal = options.onFatal ?? ((e) => this.log(`history: FATAL ${e.message}`));
  }

  /**
   * Opens the store and reads its checkpoint. `durableSeq`: the journal's last durable seq at start;
   * commands after the checkpoint up to it are read back from the source.
   */
  async start(durableSeq = 0): Promise<void> {
    if (this.started) throw new Error("history writer: already started");
    await this.store.open();
    this.checkpointSeq = await this.store.checkpoint();
    this.expectedSeq = this.checkpointSeq + 1;
    this.headSeq = Math.max(this.checkpointSeq, durableSeq);
    if (this.headSeq > this.checkpointSeq) this.fallBehind(this.headSeq, "start");
    this.started = true;
    this.loop = this.run();
  }

  /** Seq of the last command stored: at start, the wiring's journal replay begins after it. */
  lastCheckpoint(): number {
    return this.checkpointSeq;
  }

  /** Hands over one durable command's events (every command, in seq order; events may be empty). */
  enqueue(seq: number, time: number, events: readonly EngineEvent[]): void {
    if (!this.started) throw new Error("history writer: enqueue before start");
    if (this.closing || this.failure !== null) return;
    if (seq > this.headSeq) this.headSeq = seq;
    if (this.behind) {
      // Everything from the gap on is read back from the source; the live stream resumes after it.
      this.commandsDropped++;
      return;
    }
    if (seq < this.expectedSeq) return; // already queued or stored: a replay overlapping the live stream
    if (seq > this.expectedSeq) {
      this.fallBehind(seq, `seq ${seq} arrived while ${this.expectedSeq} was expected`);
      this.commandsDropped++;
      return;
    }
    if (
      this.queue.length - this.head >= this.queueCommandsMax ||
      this.queuedEvents + events.length > this.queueEventsMax
    ) {
      this.fallBehind(seq, "the queue is full");
      this.commandsDropped++;
      return;
    }
    this.queue.push({ seq, time, events });
    this.enqueuedAt.push(this.nowMs());
    this.queuedEvents += events.length;
    this.expectedSeq = seq + 1;
    this.signal();
  }

  /**
   * Follower mode (follower.ts): commands up to `seq` are durable; the writer reads their events from
   * its source (the journal) instead of being handed them. Nothing is queued.
   */
  follow(seq: number): void {
    if (!this.started) throw new Error("history writer: follow before start");
    if (this.closing || this.failure !== null || seq <= this.headSeq) return;
    this.headSeq = seq;
    if (!this.behind) {
      this.behind = true;
      this.following = true;
      this.behindSinceMs = this.nowMs();
    }
    this.signal();
  }

  /** The journal's onCommit listener: `durable.onCommit((batch) => writer.enqueueCommitted(batch))`. */
  enqueueCommitted(batch: readonly CommittedLike[]): void {
    for (const c of batch) this.enqueue(c.command.seq, c.command.time, c.events);
  }

  metrics(): HistoryWriterMetrics {
    return {
      checkpointSeq: this.checkpointSeq,
      headSeq: this.headSeq,
      lagCommands: this.headSeq - this.checkpointSeq,
      lagMs: this.lagMs,
      queueCommands: this.queue.length - this.head,
      queueEvents: this.queuedEvents,
      behind: this.behind,
      batchesWritten: this.batchesWritten,
      commandsWritten: this.commandsWritten,
      tradesWritten: this.tradesWritten,
      commandsDropped: this.commandsDropped,
      commandsReadBack: this.commandsReadBack,
      writeRetries: this.writeRetries,
      failed: this.failure !== null,
    };
  }

  /** Age of the oldest durable command not yet stored, ms: the `bourse_history_lag_ms` gauge. */
  get lagMs(): number {
    if (this.head < this.queue.length) {
      const oldest = this.behind
        ? Math.min(this.behindSinceMs, this.enqueuedAt[this.head]!)
        : this.enqueuedAt[this.head]!;
      return Math.max(0, this.nowMs() - oldest);
    }
    if (this.behind) return Math.max(0, this.nowMs() - this.behindSinceMs);
    return 0;
  }

  get failed(): Error | null {
    return this.failure;
  }

  /** Resolves once everything heard of so far is stored (tests, clean shutdown). Rejects if the writer failed. */
  async drain(): Promise<void> {
    while (
      this.failure === null &&
      (this.head < this.queue.length || this.behind || this.checkpointSeq < this.headSeq)
    ) {
      await new Promise<void>((resolve) => {
        this.idleWaiters.push(resolve);
        this.signal();
      });
    }
    if (this.failure !== null) throw this.failure;
  }

  /** Writes what is queued, then stops. What is left behind is read back from the journal at the next start. */
  async close(): Promise<void> {
    if (!this.started || this.closing) return;
    this.closing = true;
    this.signal();
    await this.loop;
  }

  private fallBehind(_seq: number, why: string): void {
    if (this.behind) return;
    this.behind = true;
    this.behindSinceMs = this.nowMs();
    if (this.started) this.log(`history: behind (${why}); catching up from the journal`);
    this.signal();
  }

  private signal(): void {
    const wake = this.wake;
    if (wake !== null) {
      this.wake = null;
      wake();
    }
  }

  private async run(): Promise<void> {
    while (this.failure === null) {
      try {
        if (this.head < this.queue.length) {
          if (
            !this.closing &&
            this.queue.length - this.head < this.batchCommandsMax &&
            this.flushDelayMs > 0
          ) {
            // Let a trickle of commands gather into one batch.
            await new Promise((r) => setTimeout(r, this.flushDelayMs));
          }
          await this.writeQueued();
        } else if (this.behind && !this.closing) {
          await this.catchUp();
        } else {
          this.notifyIdle();
          if (this.closing) return;
          await new Promise<void>((resolve) => {
            this.wake = resolve;
          });
        }
      } catch (error) {
        await this.handleFailure(error as Error);
      }
    }
    this.notifyIdle();
  }

  private notifyIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  /** One batch from the queue. The commands leave the queue only once stored. */
  private async writeQueued(): Promise<void> {
    // After a failed write the store may have kept part of it (DynamoDB): skip what its checkpoint covers.
    while (this.head < this.queue.length && this.queue[this.head]!.seq <= this.checkpointSeq) {
      this.queuedEvents -= this.queue[this.head]!.events.length;
      this.head++;
    }
    if (this.head === this.queue.length) return;
    const end = Math.min(this.queue.length, this.head + this.batchCommandsMax);
    const commands = this.queue.slice(this.head, end);
    const enqueuedAt = this.enqueuedAt.slice(this.head, end);
    if (commands[0]!.seq !== this.checkpointSeq + 1) {
      throw new HistoryIntegrityError(
        `history writer: queue starts at seq ${commands[0]!.seq}, checkpoint is ${this.checkpointSeq}`,
      );
    }
    await this.writeBatch(commands, enqueuedAt);
    let events = 0;
    for (const c of commands) events += c.events.length;
    this.queuedEvents -= events;
    this.head = end;
    if (this.head === this.queue.length) {
      this.queue = [];
      this.enqueuedAt = [];
      this.head = 0;
    } else if (this.head > 4_096 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.enqueuedAt = this.enqueuedAt.slice(this.head);
      this.head = 0;
    }
  }

  /** Reads the commands the queue missed back from the source, a bounded step at a time. */
  private async catchUp(): Promise<void> {
    if (this.source === null) {
      throw new HistoryIntegrityError(
        `history writer: commands ${this.checkpointSeq + 1}..${this.headSeq} were not queued and there is no journal to read them from`,
      );
    }
    const from = this.checkpointSeq + 1;
    const to = Math.min(this.headSeq, from + this.catchUpCommandsMax - 1);
    if (from <= to) {
      const commands = await this.source.read(from, to, this.catchUpCommandsMax);
      if (commands.length === 0 || commands[0]!.seq !== from) {
        throw new HistoryIntegrityError(
          `history writer: the journal gave ${commands.length === 0 ? "nothing" : `seq ${commands[0]!.seq}`} for seq ${from}`,
        );
      }
      for (let i = 0; i < commands.length; i += this.batchCommandsMax) {
        await this.writeBatch(commands.slice(i, i + this.batchCommandsMax), []);
        this.commandsReadBack += Math.min(this.batchCommandsMax, commands.length - i);
      }
    }
    // Caught up with everything heard of: from now on the live stream is queued again. Synchronous
    // with the check, so no enqueue can slip between them.
    if (this.checkpointSeq >= this.headSeq) {
      this.behind = false;
      this.expectedSeq = this.checkpointSeq + 1;
      if (!this.following) this.log(`history: caught up at seq ${this.checkpointSeq}`);
      this.following = false;
    }
  }

  private async writeBatch(commands: readonly CommandEvents[], enqueuedAt: readonly number[]): Promise<void> {
    const missing = this.projector.missingKeys(commands);
    if (missing.length > 0) this.projector.seed(missing, await this.store.loadBalances(missing));
    const batch = this.projector.project(commands);
    try {
      await this.store.write(batch);
    } catch (error) {
      this.projector.discard();
      throw error;
    }
    this.projector.commit();
    this.checkpointSeq = batch.lastSeq;
    this.retryDelayMs = 0;
    this.batchesWritten++;
    this.commandsWritten += commands.length;
    this.tradesWritten += batch.trades.length;
    this.onWritten?.({
      firstSeq: batch.firstSeq,
      lastSeq: batch.lastSeq,
      commands: commands.length,
      trades: batch.trades.length,
      enqueuedAtMs: enqueuedAt,
      writtenAtMs: this.nowMs(),
    });
  }

  private retryDelayMs = 0;

  /** Integrity errors stop the writer; anything else (a store unreachable for a while) is retried with backoff. */
  private async handleFailure(error: Error): Promise<void> {
    if (error instanceof HistoryIntegrityError) {
      this.failure = error;
      this.onFatal(error);
      this.notifyIdle();
      return;
    }
    if (this.closing) {
      // Shutting down: what is not stored is read back from the journal at the next start.
      this.failure = error;
      this.log(`history: write failed while closing (${error.message}); the next start catches up`);
      this.notifyIdle();
      return;
    }
    this.writeRetries++;
    this.retryDelayMs = Math.min(retryDelayMsMax, Math.max(50, this.retryDelayMs * 2));
    this.log(`history: write failed (${error.message}); retrying in ${this.retryDelayMs} ms`);
    try {
      // The store may hold part of the batch or none of it: read the checkpoint again.
      this.checkpointSeq = await this.store.checkpoint();
    } catch {
      // still unreachable: the next attempt will tell
    }
    await new Promise((r) => setTimeout(r, this.retryDelayMs));
  }
}

/**
 * The durable engine: sequencer → engine → journal → output gate, wired in the order of the
 * architecture diagram. This is what the API (and every other consumer) uses.
 *
 *   submit(command)
 *     1. sequencer stamps it (seq, time)
 *     2. the journal encodes its record (a command it cannot store exactly is refused here, unchanged)
 *     3. the engine applies it at once, in memory (LMAX: matching never waits for the disk)
 *     4. the record joins the current group-commit batch
 *     5. output gate: when the batch is durable, the command's events are released in seq order:
 *        the submit promise resolves and every `onCommit` listener (market data, cache, history)
 *        sees the batch. Nothing of a command leaves before its batch is durable.
 *
 * Apply before append: a command that makes the engine throw (a broken invariant) is never
 * journaled, so a restart does not replay the crash. The engine's in-memory state runs ahead of the
 * disk by at most one batch in flight plus the next one; that state is never shown to anyone (the
 * API reads from what the gate released), and if the process dies it is rebuilt from the journal
 * without the unacknowledged tail, which no one ever saw.
 *
 * Fail-stop: a failed write or fsync, or an engine exception, puts the pipeline in a failed state:
 * every pending command is rejected with JOURNAL_FAILED, nothing more is accepted, and `onFatal`
 * runs (the process should exit and recover at restart).
 *
 * The log is a Journal (src/journal/journal.ts): the file journal by default (`fs` + `dir`), or any
 * backend passed as `journal` (the Redis journal of a cluster). The engine owns the journal it is
 * given: `close` and `abandon` release it.
 */
import type { Command, EngineEvent } from "../engine/types.js";
import type { Clock } from "../platform/clock.js";
import type { FileSystem } from "../platform/file-system.js";
import { immediateScheduler, type Scheduler } from "../platform/scheduler.js";
import type { CommandInput } from "./command-codec.js";
import { JournalError } from "./errors.js";
import { FileJournal } from "./file-journal.js";
import type { Journal, JournalAppender, JournalRecovery } from "./journal.js";
import { journalLimits } from "./journal-limits.js";
import type { DurableBatch } from "./journal-writer.js";
import type { ReplayProgress } from "./recovery.js";
import { Sequencer } from "./sequencer.js";
import type { RetentionMode, SnapshotInfo } from "./snapshot-store.js";
import type { Snapshotter } from "./snapshotter.js";
import type { StateMachine, StateMachineFactory } from "./state-machine.js";

export interface CommittedCommand {
  command: Command;
  events: EngineEvent[];
}

export type CommitListener = (batch: readonly CommittedCommand[]) => void;

/** The events of a committed batch, in seq order, as one list (what market data and views consume). */
export function eventsOf(batch: readonly { events: readonly EngineEvent[] }[]): EngineEvent[] {
  const events: EngineEvent[] = [];
  for (let i = 0; i < batch.length; i++) {
    const e = batch[i]!.events;
    for (let k = 0; k < e.length; k++) events.push(e[k]!);
  }
  return events;
}
export type SubmitCallback = (error: Error | null, committed: CommittedCommand | null) => void;

export interface DurableEngineOptions {
  /** The file journal in `dir` (when no `journal` is given). */
  fs?: FileSystem;
  dir?: string;
  /** Another backend (src/journal/open-journal.ts); the engine owns it from now on. */
  journal?: Journal;
  factory: StateMachineFactory;
  clock: Clock;
  scheduler?: Scheduler;
  /** Builds the snapshotter (InlineSnapshotter, WorkerSnapshotter); none: no periodic snapshots. */
  snapshotter?: ((retention: { snapshotsRetained: number; retention: RetentionMode }) => Snapshotter) | null;
  snapshotEveryCommands?: number;
  snapshotEveryMs?: number;
  snapshotsRetained?: number;
  retention?: RetentionMode;
  /** Check the time-based snapshot policy on a timer too (real deployments; the simulation calls `maybeSnapshot`). */
  snapshotTimer?: boolean;
  /** File journal bounds (journalLimits by default). */
  segmentBytesMax?: number;
  batchCommandsMax?: number;
  batchBytesMax?: number;
  pendingCommandsMax?: number;
  /**
   * Publish a state-hash checkpoint with the batch after this many commands (0: never). Followers
   * compare their own hash at the same seq (src/cluster/). The hash is a SHA-256 of the whole state
   * (not incremental), so its cost grows with the book (docs/cluster.md: ~0.9 s at 500k resting
   * orders): see checkpointTimeShare.
   */
  checkpointEveryCommands?: number;
  /**
   * The most of the main thread's time checkpoints may take (default 0.01): after a hash that took
   * h ms, the next one waits at least h / share ms, whatever checkpointEveryCommands says.
   */
  checkpointTimeShare?: number;
  onFatal?: (error: Error) => void;
  log?: (message: string) => void;
  progress?: ReplayProgress;
}

export class DurableEngine {
  readonly recovery: JournalRecovery;
  private readonly machine: StateMachine;
  private readonly sequencer: Sequencer;
  private readonly journal: Journal;
  private readonly writer: JournalAppender;
  private readonly checkpointEveryCommands: number;
  private readonly checkpointTimeShare: number;
  private nextCheckpointMs = 0;
  private commandsSinceCheckpoint = 0;
  private snapshotter: Snapshotter | null;
  private readonly listeners: CommitListener[] = [];
  private readonly pendingCommandsMax: number;
  private readonly snapshotEveryCommands: number;
  private readonly snapshotEveryMs: number;
  private readonly clock: Clock;
  private readonly log: (message: string) => void;
  private readonly onFatal: (error: Error) => void;
  /** Applied, not yet durable, in seq order from pendingHead (parallel arrays: two fewer objects per command). */
  private pending: CommittedCommand[] = [];
  private pendingDone: SubmitCallback[] = [];
  private pendingHead = 0;
  private failure: Error | null = null;
  private closed = false;
  private commandsSinceSnapshot = 0;
  private lastSnapshotMs: number;
  private snapshotInFlight: Promise<SnapshotInfo | null> | null = null;
  private timer: NodeJS.Timeout | null = null;

  /** Recovers the state from the journal (snapshot + replay), then opens it for appending. */
  static async open(options: DurableEngineOptions): Promise<DurableEngine> {
    const log = options.log ?? ((m: string) => process.stderr.write(`${m}\n`));
    const journal = options.journal ?? fileJournalOf(options);
    let recovery: JournalRecovery;
    try {
      recovery = await journal.recover({
        factory: options.factory,
        warn: log,
        ...(options.progress ? { progress: options.progress } : {}),
      });
    } catch (error) {
      await journal.release().catch(() => {});
      throw error;
    }
    const retention = {
      snapshotsRetained: options.snapshotsRetained ?? journalLimits.snapshotsRetained,
      retention: options.retention ?? "delete",
    };
    const snapshotter = options.snapshotter ? options.snapshotter(retention) : null;
    if (snapshotter !== null) await snapshotter.start(recovery.tail.lastSeq);
    return new DurableEngine(options, journal, recovery, snapshotter, log);
  }

  private constructor(
    options: DurableEngineOptions,
    journal: Journal,
    recovery: JournalRecovery,
    snapshotter: Snapshotter | null,
    log: (m: string) => void,
  ) {
    this.recovery = recovery;
    this.journal = journal;
    this.checkpointEveryCommands = options.checkpointEveryCommands ?? 0;
    this.checkpointTimeShare = options.checkpointTimeShare ?? 0.01;
    this.machine = recovery.machine;
    this.clock = options.clock;
    this.log = log;
    this.onFatal = options.onFatal ?? ((error) => log(`journal: FATAL ${error.message}`));
    this.snapshotter = snapshotter;
    this.pendingCommandsMax = options.pendingCommandsMax ?? journalLimits.pendingCommandsMax;
    this.snapshotEveryCommands = options.snapshotEveryCommands ?? journalLimits.snapshotEveryCommands;
    this.snapshotEveryMs = options.snapshotEveryMs ?? journalLimits.snapshotEveryMs;
    this.lastSnapshotMs = options.clock.nowMs();
    this.sequencer = new Sequencer(options.clock, recovery.tail.lastSeq, recovery.tail.lastTime);
    this.writer = journal.openAppender({
      scheduler: options.scheduler ?? immediateScheduler,
      clock: options.clock,
      onDurable: (batch) => this.release(batch),
      onFailure: (error) => this.fail(error),
    });
    if (options.snapshotTimer && snapshotter !== null) {
      this.timer = setInterval(() => this.maybeSnapshot(), Math.min(1_000, this.snapshotEveryMs));
      this.timer.unref();
    }
  }

  /** Seq of the last command applied (durable or not). */
  get lastSeq(): number {
    return this.sequencer.seq;
  }

  /** Seq of the last durable command. */
  get durableSeq(): number {
    return this.writer.durableSeq;
  }

  get failed(): Error | null {
    return this.failure;
  }

  /** Commands applied and waiting for their batch to become durable. */
  get pendingCount(): number {
    return this.pending.length - this.pendingHead;
  }

  /** Hash of the engine state. Includes commands not yet durable unless called when nothing is pending. */
  stateHash(): string {
    return this.machine.stateHash();
  }

  /** The output gate's fan-out: every durable batch of committed commands, in seq order. */
  onCommit(listener: CommitListener): () => void {
    this.listeners.push(listener);
    return () => {
      const i = this.listeners.indexOf(listener);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  /**
   * Submits a command; resolves with its events once it is durable. The input object is handed over:
   * it is stamped in place (seq, time) and becomes the journaled command; do not reuse it.
   */
  submit(input: CommandInput): Promise<CommittedCommand> {
    return new Promise((resolve, reject) => {
      this.submitWith(input, (error, committed) => (error ? reject(error) : resolve(committed!)));
    });
  }

  /**
   * The same as `submit`, with a callback (no promise per command on hot paths). Returns the stamped
   * command when it was accepted (its outputs wait for `done`), null when it was refused (`done` has
   * already been called with the error).
   */
  submitWith(input: CommandInput, done: SubmitCallback): Command | null {
    const refusal = this.refusal();
    if (refusal !== null) {
      done(refusal, null);
      return null;
    }
    const seq = this.sequencer.peekSeq();
    const time = this.sequencer.peekTime();
    try {
      this.writer.stage(input, seq, time);
    } catch (error) {
      done(error as Error, null);
      return null;
    }
    // The input object becomes the stamped command (no copy on the hot path): the caller hands it over.
    const command = input as Command;
    command.seq = seq;
    command.time = time;
    const events: EngineEvent[] = [];
    try {
      this.machine.apply(command, events);
    } catch (error) {
      // The engine's state can no longer be trusted; the command was not journaled.
      this.fail(
        new JournalError("JOURNAL_FAILED", `engine failed on seq ${seq}: ${(error as Error).message}`, {
          cause: error,
        }),
      );
      done(this.failure, null);
      return null;
    }
    if (
      this.checkpointEveryCommands > 0 &&
      ++this.commandsSinceCheckpoint >= this.checkpointEveryCommands &&
      performance.now() >= this.nextCheckpointMs
    ) {
      // The hash right after this command: it ends the batch and travels with it to the followers.
      this.commandsSinceCheckpoint = 0;
      const started = performance.now();
      const hash = this.machine.stateHash();
      const tookMs = performance.now() - started;
      this.nextCheckpointMs = started + tookMs / this.checkpointTimeShare;
      this.writer.commit(hash);
    } else {
      this.writer.commit();
    }
    this.sequencer.advance(seq, time);
    this.pending.push({ command, events });
    this.pendingDone.push(done);
    return command;
  }

  /** Takes a snapshot now (if anything is new since the last one); resolves when it is durable. */
  requestSnapshot(): Promise<SnapshotInfo | null> {
    if (this.snapshotter === null) return Promise.resolve(null);
    if (this.snapshotInFlight !== null) {
      return this.snapshotInFlight.then(() => this.requestSnapshot());
    }
    this.commandsSinceSnapshot = 0;
    this.lastSnapshotMs = this.clock.nowMs();
    const inFlight = this.snapshotter.snapshot();
    this.snapshotInFlight = inFlight;
    const clear = (): void => {
      if (this.snapshotInFlight === inFlight) this.snapshotInFlight = null;
    };
    inFlight.then(clear, clear);
    return inFlight;
  }

  /** Applies the snapshot policy (by command count, or by time with at least one new command). */
  maybeSnapshot(): void {
    if (this.snapshotter === null || this.snapshotInFlight !== null || this.commandsSinceSnapshot === 0)
      return;
    const due =
      this.commandsSinceSnapshot >= this.snapshotEveryCommands ||
      this.clock.nowMs() - this.lastSnapshotMs >= this.snapshotEveryMs;
    if (!due) return;
    this.requestSnapshot().catch((error: Error) =>
      this.log(`journal: snapshot failed (the journal still has everything): ${error.message}`),
    );
  }

  /** Waits for every pending command to become durable, then seals the journal (clean shutdown). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer !== null) clearInterval(this.timer);
    try {
      await this.writer.close();
      if (this.snapshotInFlight !== null) await this.snapshotInFlight.catch(() => null);
      await this.snapshotter?.close();
    } finally {
      await this.journal.release();
    }
  }

  /** Drops everything at once, as kill -9 would (tests). */
  abandon(): void {
    this.closed = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.writer.abandon();
    void this.snapshotter?.close();
    void this.journal.release().catch(() => {});
  }

  private refusal(): Error | null {
    if (this.failure !== null)
      return new JournalError("JOURNAL_FAILED", this.failure.message, { cause: this.failure });
    if (this.closed) return new JournalError("JOURNAL_CLOSED", "the durable engine is closed");
    if (this.pendingCount >= this.pendingCommandsMax) {
      return new JournalError(
        "JOURNAL_BACKLOG_FULL",
        `${this.pendingCommandsMax} commands are waiting for the disk (pendingCommandsMax)`,
      );
    }
    return null;
  }

  /** The output gate: a batch is durable; release its commands, in order. */
  private release(batch: DurableBatch): void {
    const pending = this.pending;
    const done = this.pendingDone;
    const from = this.pendingHead;
    let head = from;
    while (head < pending.length && pending[head]!.command.seq <= batch.lastSeq) head++;
    const released = pending.slice(from, head);
    const callbacks = done.slice(from, head);
    if (head === pending.length) {
      this.pending = [];
      this.pendingDone = [];
      this.pendingHead = 0;
    } else if (head > 4_096 && head * 2 > pending.length) {
      this.pending = pending.slice(head);
      this.pendingDone = done.slice(head);
      this.pendingHead = 0;
    } else {
      this.pendingHead = head;
    }
    this.feedSnapshotter(batch);
    this.commandsSinceSnapshot += released.length;
    for (let i = 0; i < released.length; i++) callbacks[i]!(null, released[i]!);
    for (const listener of this.listeners) {
      // The commands are durable whatever a consumer does: a failing listener is its own problem.
      try {
        listener(released);
      } catch (error) {
        this.log(`journal: an onCommit listener failed: ${(error as Error).message}`);
      }
    }
    this.maybeSnapshot();
  }

  private feedSnapshotter(batch: DurableBatch): void {
    if (this.snapshotter === null) return;
    try {
      this.snapshotter.feed(batch);
    } catch (error) {
      // Snapshots are an optimization of recovery: without them the journal still has everything.
      this.log(
        `journal: snapshot follower failed, snapshots pause until restart: ${(error as Error).message}`,
      );
      this.snapshotter = null;
    }
  }

  private fail(error: Error): void {
    if (this.failure !== null) return;
    this.failure = error;
    this.writer.abandon();
    const pending = this.pendingDone.slice(this.pendingHead);
    this.pending = [];
    this.pendingDone = [];
    this.pendingHead = 0;
    // A deposed leader says so (the client retries on the new leader); anything else is a failure.
    const code =
      error instanceof JournalError && error.code === "JOURNAL_FENCED" ? error.code : "JOURNAL_FAILED";
    const refusal = new JournalError(code, `not durable: ${error.message}`, { cause: error });
    for (const done of pending) done(refusal, null);
    this.onFatal(error);
  }
}

function fileJournalOf(options: DurableEngineOptions): Journal {
  if (options.fs === undefined || options.dir === undefined)
    throw new Error("durable engine: give either `journal` or the file journal's `fs` and `dir`");
  return new FileJournal({
    fs: options.fs,
    dir: options.dir,
    ...(options.segmentBytesMax !== undefined ? { segmentBytesMax: options.segmentBytesMax } : {}),
    ...(options.batchCommandsMax !== undefined ? { batchCommandsMax: options.batchCommandsMax } : {}),
    ...(options.batchBytesMax !== undefined ? { batchBytesMax: options.batchBytesMax } : {}),
  });
}

/**
 * The history writer as a journal follower in a worker thread: the production wiring for the file
 * journal (the default). The matching thread does nothing for history but post "durable up to seq N"
 * after each durable batch; the worker reads those commands from the journal's segment files (durable,
 * usually still in the page cache), re-applies them to its own engine replica to get their events
 * (the engine is deterministic: the very events the output gate released), projects them and writes
 * the store. SQLite's synchronous writes, the projection and the JSON all happen on another core, and
 * a slow store never slows matching: the follower just reads further behind, and catches up.
 *
 * Costs: a second engine replica's memory in the worker (the snapshot worker holds another), and the
 * engine's apply time once more, off the matching thread.
 *
 *   const follower = await HistoryFollower.start({ dataDir, config, historyUrl }, durable.durableSeq);
 *   durable.onCommit((batch) => follower.noteDurable(batch[batch.length - 1]!.command.seq));
 *   metrics: follower.lagMs, follower.metrics()          shutdown: await follower.close()
 *
 * Lag is measured here, on the matching thread's clock: from the moment a seq was noted durable to the
 * moment the worker reports it stored.
 */
import { Worker } from "node:worker_threads";
import type { EngineConfig } from "../engine/config.js";
import type { HistoryWriterMetrics } from "./writer.js";

export interface HistoryFollowerOptions {
  /** The data directory: the journal's segments and snapshots (and the default SQLite history). */
  dataDir: string;
  config: EngineConfig;
  /** History store URL (open-store.ts); absent: SQLite in the data directory. */
  historyUrl?: string;
  log?: (message: string) => void;
  /** The worker stopped on a broken invariant or died: history is not being written. */
  onFatal?: (error: Error) => void;
  /** Each durable note once stored: its lag (ms) and how many commands it covered (benchmarks). */
  onLag?: (lagMs: number, commands: number) => void;
}

export type FollowerMessage =
  | { type: "started"; checkpoint: number }
  | { type: "written"; lastSeq: number; metrics: HistoryWriterMetrics }
  | { type: "log"; message: string }
  | { type: "fatal"; message: string }
  | { type: "closed"; metrics: HistoryWriterMetrics | null };

/** Durable seqs noted and not yet stored, with when they were noted (bounded: older notes merge). */
const notesMax = 4_096;

export class HistoryFollower {
  private readonly worker: Worker;
  private readonly log: (message: string) => void;
  private readonly onFatal: (error: Error) => void;
  private readonly onLag: ((lagMs: number, commands: number) => void) | null;
  private checkpointSeq = 0;
  private headSeq = 0;
  private lastMetrics: HistoryWriterMetrics | null = null;
  private noteSeqs: number[] = [];
  private noteTimes: number[] = [];
  private noteHead = 0;
  private failure: Error | null = null;
  private closed: Promise<void> | null = null;
  private resolveClosed: (() => void) | null = null;

  private constructor(worker: Worker, options: HistoryFollowerOptions) {
    this.worker = worker;
    this.log = options.log ?? ((m) => process.stderr.write(`${m}\n`));
    this.onFatal = options.onFatal ?? ((e) => this.log(`history: FATAL ${e.message}`));
    this.onLag = options.onLag ?? null;
  }

  /** Starts the worker, which opens the store and reads its checkpoint; then reads up to `durableSeq`. */
  static async start(options: HistoryFollowerOptions, durableSeq: number): Promise<HistoryFollower> {
    const worker = new Worker(new URL("./follower-worker.js", import.meta.url), {
      workerData: {
        dataDir: options.dataDir,
        config: options.config,
        historyUrl: options.historyUrl ?? null,
      },
    });
    const follower = new HistoryFollower(worker, options);
    const started = await new Promise<number>((resolve, reject) => {
      const onMessage = (m: FollowerMessage): void => {
        if (m.type === "started") {
          worker.off("message", onMessage);
          worker.off("error", reject);
          resolve(m.checkpoint);
        } else if (m.type === "fatal") {
          reject(new Error(m.message));
        } else if (m.type === "log") {
          follower.log(m.message);
        }
      };
      worker.on("message", onMessage);
      worker.once("error", reject);
    });
    follower.checkpointSeq = started;
    follower.headSeq = started;
    worker.on("message", (m: FollowerMessage) => follower.receive(m));
    worker.on("error", (e) => follower.fail(e));
    worker.on("exit", (code) => {
      if (follower.resolveClosed !== null) follower.resolveClosed();
      else if (follower.failure === null) follower.fail(new Error(`history worker exited (${code})`));
    });
    follower.noteDurable(durableSeq);
    return follower;
  }

  /** Seq of the last command stored. */
  lastCheckpoint(): number {
    return this.checkpointSeq;
  }

  /** Commands up to `seq` are durable (call from the output gate's listener, in order). */
  noteDurable(seq: number): void {
    if (seq <= this.headSeq || this.failure !== null || this.closed !== null) return;
    this.headSeq = seq;
    const now = performance.now();
    if (this.noteSeqs.length - this.noteHead >= notesMax) {
      // Merge into the newest note: lag stays measured from the oldest unstored note.
      this.noteSeqs[this.noteSeqs.length - 1] = seq;
    } else {
      this.noteSeqs.push(seq);
      this.noteTimes.push(now);
    }
    this.worker.postMessage({ type: "durable", seq });
  }

  /** Age of the oldest durable command not yet stored, ms (0 when caught up): the /metrics gauge. */
  get lagMs(): number {
    if (this.noteHead >= this.noteSeqs.length) return 0;
    return Math.max(0, performance.now() - this.noteTimes[this.noteHead]!);
  }

  /** Durable commands not yet stored. */
  get lagCommands(): number {
    return this.headSeq - this.checkpointSeq;
  }

  get failed(): Error | null {
    return this.failure;
  }

  metrics(): HistoryWriterMetrics & { lagMs: number } {
    const base: HistoryWriterMetrics = this.lastMetrics ?? {
      checkpointSeq: this.checkpointSeq,
      headSeq: this.headSeq,
      lagCommands: 0,
      lagMs: 0,
      queueCommands: 0,
      queueEvents: 0,
      behind: false,
      batchesWritten: 0,
      commandsWritten: 0,
      tradesWritten: 0,
      commandsDropped: 0,
      commandsReadBack: 0,
      writeRetries: 0,
      failed: false,
    };
    return {
      ...base,
      checkpointSeq: this.checkpointSeq,
      headSeq: this.headSeq,
      lagCommands: this.lagCommands,
      lagMs: this.lagMs,
      behind: this.headSeq > this.checkpointSeq,
      failed: this.failure !== null,
    };
  }

  /** Resolves once everything noted so far is stored (tests, clean shutdown). */
  async drain(): Promise<void> {
    while (this.checkpointSeq < this.headSeq) {
      if (this.failure !== null) throw this.failure;
      await new Promise((r) => setTimeout(r, 5));
    }
    if (this.failure !== null) throw this.failure;
  }

  /** Stores what is durable so far, then stops the worker. */
  close(): Promise<void> {
    if (this.closed !== null) return this.closed;
    this.closed = new Promise<void>((resolve) => {
      this.resolveClosed = resolve;
    });
    if (this.failure !== null) void this.worker.terminate();
    else this.worker.postMessage({ type: "close" });
    return this.closed;
  }

  private receive(m: FollowerMessage): void {
    switch (m.type) {
      case "written": {
        const previous = this.checkpointSeq;
        this.checkpointSeq = m.lastSeq;
        this.lastMetrics = m.metrics;
        const now = performance.now();
        let covered = previous;
        while (this.noteHead < this.noteSeqs.length && this.noteSeqs[this.noteHead]! <= m.lastSeq) {
          const seq = this.noteSeqs[this.noteHead]!;
          this.onLag?.(now - this.noteTimes[this.noteHead]!, seq - covered);
          covered = seq;
          this.noteHead++;
        }
        if (this.noteHead > 1_024 && this.noteHead * 2 > this.noteSeqs.length) {
          this.noteSeqs = this.noteSeqs.slice(this.noteHead);
          this.noteTimes = this.noteTimes.slice(this.noteHead);
          this.noteHead = 0;
        }
        break;
      }
      case "log":
        this.log(m.message);
        break;
      case "fatal":
        this.fail(new Error(m.message));
        break;
      case "closed":
        if (m.metrics !== null) this.lastMetrics = m.metrics;
        void this.worker.terminate();
        break;
      default:
        break;
    }
  }

  private fail(error: Error): void {
    if (this.failure !== null) return;
    this.failure = error;
    this.onFatal(error);
  }
}

/**
 * The durable command path of `npm start`: the journal's DurableEngine (sequencer → engine → journal
 * with group commit → output gate, src/journal/durable-engine.ts) behind the gateway's port
 * (src/node/pipeline.ts). Journal segments and snapshots live in the data directory itself, so that
 * `bourse journal verify|inspect|repair --data-dir <dir>` and `bourse snapshot` work on the same
 * directory as `bourse start`; the directory's LOCK keeps a second process out. Snapshots are taken
 * by a worker thread, periodically, on SIGUSR2 (`bourse snapshot`) and once more at a clean shutdown.
 *
 * The file system is wrapped to time each fdatasync, and the output gate's batches are counted, so
 * that /metrics shows journal fsync latency and group-commit batch sizes.
 */
import { performance } from "node:perf_hooks";
import type { EngineConfig } from "../engine/config.js";
import type { Engine } from "../engine/engine.js";
import type { EngineEvent } from "../engine/types.js";
import { acquireLock } from "../journal/data-dir-lock.js";
import { type CommitListener, DurableEngine, eventsOf } from "../journal/durable-engine.js";
import { terminalProgress } from "../journal/progress.js";
import { installSnapshotSignal } from "../journal/snapshot-signal.js";
import type { RetentionMode } from "../journal/snapshot-store.js";
import { WorkerSnapshotter } from "../journal/snapshotter.js";
import { engineFactory } from "../journal/state-machine.js";
import { SystemClock } from "../platform/clock.js";
import type { AppendFile, FileSystem } from "../platform/file-system.js";
import { RealFileSystem } from "../platform/real-file-system.js";
import type { CommandInput, CommandPipeline, DurableListener, PipelineStats } from "./pipeline.js";

/** Figures gathered between two scrapes of /metrics (bounded: older samples are dropped). */
export class JournalFigures {
  private static readonly samplesMax = 10_000;
  fsyncSeconds: number[] = [];
  batchRecords: number[] = [];

  addFsync(seconds: number): void {
    if (this.fsyncSeconds.length < JournalFigures.samplesMax) this.fsyncSeconds.push(seconds);
  }

  addBatch(records: number): void {
    if (this.batchRecords.length < JournalFigures.samplesMax) this.batchRecords.push(records);
  }

  take(): { fsyncSeconds: number[]; batchRecords: number[] } {
    const taken = { fsyncSeconds: this.fsyncSeconds, batchRecords: this.batchRecords };
    this.fsyncSeconds = [];
    this.batchRecords = [];
    return taken;
  }
}

/** A FileSystem that times every `sync` of an append file (the group commit's fdatasync). */
function meteredFileSystem(inner: FileSystem, figures: JournalFigures): FileSystem {
  const meter = (file: AppendFile): AppendFile => ({
    get path() {
      return file.path;
    },
    get size() {
      return file.size;
    },
    append: (data) => file.append(data),
    sync: async () => {
      const started = performance.now();
      await file.sync();
      figures.addFsync((performance.now() - started) / 1000);
    },
    close: () => file.close(),
  });
  return new Proxy(inner, {
    get(target, property, receiver) {
      if (property === "openAppend") {
        return (path: string, create: boolean) => meter(target.openAppend(path, create));
      }
      const value = Reflect.get(target, property, receiver);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/** Records per group-commit batch for the node (see JournalPipeline.open). */
export const nodeJournalBatchCommandsMax = 65_536;
/** Bytes per group-commit batch: 65,536 records of up to ~128 bytes (a place is 96). */
export const nodeJournalBatchBytesMax = 8 * 1024 * 1024;

export interface JournalPipelineOptions {
  dataDir: string;
  config: EngineConfig;
  log: (message: string) => void;
  /** The journal failed (fsync error, broken engine invariant): the process must stop and recover. */
  onFatal: (error: Error) => void;
  /**
   * What happens to journal segments and snapshots older than the retained snapshots. Default
   * "archive" (moved to <dataDir>/archive/, never deleted): the history writer (docs/history.md) reads
   * back from the journal from its checkpoint on, and "delete" could remove segments it has not stored.
   */
  retention?: RetentionMode;
}

export class JournalPipeline implements CommandPipeline {
  readonly engine: Engine;
  private readonly listeners: DurableListener[] = [];
  private closing = false;
  private applied = 0;

  private constructor(
    private readonly durable: DurableEngine,
    readonly figures: JournalFigures,
    private readonly release: () => void,
  ) {
    this.engine = durable.recovery.machine as Engine;
    durable.onCommit((batch) => {
      this.figures.addBatch(batch.length);
      if (this.listeners.length === 0) return;
      const events = eventsOf(batch);
      for (const listener of this.listeners) listener(events);
    });
  }

  /** Locks the data directory, recovers it (snapshot + replay) and opens the journal for appending. */
  static async open(options: JournalPipelineOptions): Promise<JournalPipeline> {
    const dir = options.dataDir;
    const figures = new JournalFigures();
    const fs = meteredFileSystem(new RealFileSystem(), figures);
    const release = acquireLock(dir);
    let durable: DurableEngine;
    try {
      durable = await DurableEngine.open({
        fs,
        dir,
        factory: engineFactory(options.config),
        clock: new SystemClock(),
        snapshotter: (retention) =>
          new WorkerSnapshotter({ dir, config: options.config, ...retention, log: options.log }),
        snapshotTimer: true,
        retention: options.retention ?? "archive",
        // Group commit: one write + fdatasync carries everything that arrived during the previous
        // one. On a shared or slow disk a sync can take 100s of ms; with the journal's default batch
        // bound (8,192 records) that caps throughput at 8,192 / sync time. Measured (docs/api.md):
        // larger batches keep the API's throughput when syncs slow down; latency is the sync time
        // either way. Both bounds stay named here and the backlog bound stays the journal's.
        batchCommandsMax: nodeJournalBatchCommandsMax,
        batchBytesMax: nodeJournalBatchBytesMax,
        onFatal: options.onFatal,
        log: options.log,
        ...(process.stderr.isTTY ? { progress: terminalProgress("recover") } : {}),
      });
    } catch (error) {
      release();
      throw error;
    }
    const removeSignal = installSnapshotSignal(durable, options.log);
    const pipeline = new JournalPipeline(durable, figures, () => {
      removeSignal();
      release();
    });
    const r = durable.recovery;
    options.log(
      `journal: recovered ${dir} up to seq ${r.tail.lastSeq}` +
        (r.snapshot === null ? " (no snapshot)" : ` from snapshot ${r.snapshot.seq}`) +
        `, ${r.replayed} records replayed`,
    );
    return pipeline;
  }

  get ready(): boolean {
    return !this.closing && this.durable.failed === null;
  }

  get stats(): PipelineStats {
    return { queueDepth: this.durable.pendingCount, commandsTotal: this.applied };
  }

  get lastSeq(): number {
    return this.durable.lastSeq;
  }

  /** Seq of the last durable command (the history writer reads back up to it at start). */
  get durableSeq(): number {
    return this.durable.durableSeq;
  }

  /**
   * The output gate's batches as they are (each command with its seq, time and events): the history
   * writer's feed. Returns the function that removes the listener.
   */
  onCommit(listener: CommitListener): () => void {
    return this.durable.onCommit(listener);
  }

  onDurable(listener: DurableListener): void {
    this.listeners.push(listener);
  }

  /**
   * The promise resolves in a microtask after the output gate's synchronous fan-out, so the durable
   * views (order store, market data) have seen the batch before any reply is built from them.
   */
  submit(cmd: CommandInput): Promise<EngineEvent[]> {
    return new Promise((resolve, reject) => {
      this.durable.submitWith(cmd, (error, committed) => {
        if (error !== null) return reject(error);
        this.applied++;
        resolve(committed!.events);
      });
    });
  }

  /** Waits for every submitted command to be durable, takes a snapshot, seals the journal. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    // The gateway has stopped submitting; let the last batches become durable so the snapshot has them.
    const deadline = Date.now() + 10_000;
    while (this.durable.pendingCount > 0 && this.durable.failed === null && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    if (this.durable.failed === null) {
      try {
        await this.durable.requestSnapshot();
      } catch (error) {
        // The journal still holds everything: a missing snapshot only makes the next start replay more.
        process.stderr.write(`journal: shutdown snapshot failed: ${(error as Error).message}\n`);
      }
    }
    await this.durable.close();
    this.release();
  }
}

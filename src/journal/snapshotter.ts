/**
 * Where snapshots are taken: a SnapshotFollower in this thread (simulation, tests, tools), or in a
 * worker thread (production), so that encoding and writing a snapshot of a big book never stalls
 * matching. The pipeline only sees this port.
 */
import { Worker } from "node:worker_threads";
import type { EngineConfig } from "../engine/config.js";
import { journalLimits } from "./journal-limits.js";
import type { DurableBatch } from "./journal-writer.js";
import { type FollowerOptions, SnapshotFollower } from "./snapshot-follower.js";
import type { RetentionMode, SnapshotInfo } from "./snapshot-store.js";

export interface Snapshotter {
  /** Rebuilds the recovered state (up to `upToSeq`) before the first batch arrives. */
  start(upToSeq: number): Promise<void>;
  /** A durable batch; `batch.bytes` is only valid during the call. */
  feed(batch: DurableBatch): void;
  /** A snapshot of everything fed so far; null when there is nothing new. */
  snapshot(): Promise<SnapshotInfo | null>;
  close(): Promise<void>;
}

export class InlineSnapshotter implements Snapshotter {
  private readonly follower: SnapshotFollower;

  constructor(options: FollowerOptions) {
    this.follower = new SnapshotFollower(options);
  }

  start(upToSeq: number): Promise<void> {
    return this.follower.start(upToSeq);
  }

  feed(batch: DurableBatch): void {
    this.follower.feed(batch.bytes, batch);
  }

  snapshot(): Promise<SnapshotInfo | null> {
    return this.follower.snapshot();
  }

  async close(): Promise<void> {}
}

export interface WorkerSnapshotterOptions {
  dir: string;
  config: EngineConfig;
  snapshotsRetained: number;
  retention: RetentionMode;
  log?: (message: string) => void;
  /** Bytes of batches gathered before they are posted to the worker. */
  postBytes?: number;
}

type Reply =
  | { type: "started" }
  | { type: "fed"; bytes: number }
  | { type: "snapshot"; id: number; info: SnapshotInfo | null; ms: number }
  | { type: "error"; id: number; message: string }
  | { type: "log"; message: string };

/**
 * The follower in a worker thread. Durable batches are gathered and posted in chunks (a few
 * messages per second rather than one per batch); the worker's backlog is bounded by
 * journalLimits.followerBacklogBytesMax, beyond which the follower is dropped and snapshots pause
 * until the next start (matching never waits for it).
 */
export class WorkerSnapshotter implements Snapshotter {
  private readonly worker: Worker;
  private readonly requests = new Map<
    number,
    { resolve: (info: SnapshotInfo | null) => void; reject: (e: Error) => void }
  >();
  private nextId = 1;
  private readonly inFlight = new Set<Promise<SnapshotInfo | null>>();
  private backlogBytes = 0;
  private dropped = false;
  private chunk: Uint8Array = new Uint8Array(1 << 16);
  private chunkLength = 0;
  private chunkAt: DurableBatch | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly postBytes: number;
  private started: { resolve: () => void; reject: (e: Error) => void } | null = null;
  private readonly log: (message: string) => void;

  constructor(options: WorkerSnapshotterOptions) {
    this.log = options.log ?? ((m) => process.stderr.write(`${m}\n`));
    this.postBytes = options.postBytes ?? 262_144;
    this.worker = new Worker(new URL("./snapshot-worker.js", import.meta.url), {
      workerData: {
        dir: options.dir,
        config: options.config,
        snapshotsRetained: options.snapshotsRetained,
        retention: options.retention,
      },
    });
    this.worker.unref();
    this.worker.on("message", (reply: Reply) => this.receive(reply));
    this.worker.on("error", (error) => this.drop(`snapshot worker failed: ${error.message}`));
  }

  /**
   * Returns at once: the worker rebuilds its copy (its own read-only recovery, on the other core)
   * while the pipeline already runs; batches posted meanwhile wait in its queue, in order. If it
   * cannot start, it is dropped with a log line and snapshots pause (the journal has everything).
   */
  start(upToSeq: number): Promise<void> {
    this.started = {
      resolve: () => {},
      reject: (error) => this.drop(`snapshot worker could not start: ${error.message}`),
    };
    this.worker.postMessage({ type: "start", upToSeq });
    return Promise.resolve();
  }

  feed(batch: DurableBatch): void {
    if (this.dropped) return;
    const n = batch.bytes.length;
    if (this.chunkLength + n > this.chunk.length) {
      let size = this.chunk.length * 2;
      while (size < this.chunkLength + n) size *= 2;
      const next = new Uint8Array(size);
      next.set(this.chunk.subarray(0, this.chunkLength));
      this.chunk = next;
    }
    this.chunk.set(batch.bytes, this.chunkLength);
    this.chunkLength += n;
    this.chunkAt = { ...batch, bytes: new Uint8Array(0) };
    if (this.chunkLength >= this.postBytes) this.post();
    else if (this.timer === null) {
      this.timer = setTimeout(() => this.post(), 20);
      this.timer.unref();
    }
  }

  snapshot(): Promise<SnapshotInfo | null> {
    if (this.dropped) return Promise.resolve(null);
    this.post();
    const id = this.nextId++;
    const request = new Promise<SnapshotInfo | null>((resolve, reject) => {
      this.requests.set(id, { resolve, reject });
      this.worker.postMessage({ type: "snapshot", id });
    });
    this.inFlight.add(request);
    const forget = (): void => {
      this.inFlight.delete(request);
    };
    request.then(forget, forget);
    return request;
  }

  async close(): Promise<void> {
    this.post();
    if (this.timer !== null) clearTimeout(this.timer);
    // A snapshot being written finishes (its rename is atomic either way); then the worker goes.
    await Promise.allSettled([...this.inFlight]);
    await this.worker.terminate();
  }

  private post(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.dropped || this.chunkLength === 0 || this.chunkAt === null) return;
    const bytes = this.chunk.slice(0, this.chunkLength);
    const at = this.chunkAt;
    this.chunkLength = 0;
    this.backlogBytes += bytes.length;
    if (this.backlogBytes > journalLimits.followerBacklogBytesMax) {
      this.drop(
        `snapshot worker is ${this.backlogBytes} bytes behind (followerBacklogBytesMax): snapshots pause until restart`,
      );
      return;
    }
    this.worker.postMessage(
      {
        type: "batch",
        bytes,
        at: {
          lastSeq: at.lastSeq,
          lastTime: at.lastTime,
          chain: at.chain,
          segmentFirstSeq: at.segmentFirstSeq,
          endOffset: at.endOffset,
        },
      },
      [bytes.buffer],
    );
  }

  private receive(reply: Reply): void {
    switch (reply.type) {
      case "started":
        this.started?.resolve();
        this.started = null;
        break;
      case "fed":
        this.backlogBytes -= reply.bytes;
        break;
      case "snapshot": {
        const request = this.requests.get(reply.id);
        this.requests.delete(reply.id);
        request?.resolve(reply.info);
        break;
      }
      case "error": {
        const request = this.requests.get(reply.id);
        this.requests.delete(reply.id);
        const error = new Error(reply.message);
        if (request) request.reject(error);
        else if (this.started) {
          this.started.reject(error);
          this.started = null;
        } else this.drop(reply.message);
        break;
      }
      case "log":
        this.log(reply.message);
        break;
    }
  }

  private drop(reason: string): void {
    if (this.dropped) return;
    this.dropped = true;
    this.log(`journal: ${reason}`);
    this.started = null;
    for (const r of this.requests.values()) r.reject(new Error(reason));
    this.requests.clear();
    void this.worker.terminate();
  }
}

/**
 * The snapshot follower: a second copy of the state machine, fed only with durable batches, that
 * takes the snapshots. Matching never waits for a snapshot: the live engine keeps going while the
 * follower (in a worker thread in production) encodes, checksums and writes its copy. And a
 * snapshot can never hold a command that is not durable, because the follower never sees one.
 *
 * The same class runs in-process (simulation, tests, tools) and inside the worker thread.
 */

import type { FileSystem } from "../platform/file-system.js";
import { CommandDecoder } from "./command-codec.js";
import { getU64 } from "./format.js";
import { recordHeaderBytes } from "./journal-limits.js";
import { recover } from "./recovery.js";
import {
  applyRetention,
  type RetentionMode,
  type SnapshotInfo,
  type SnapshotPosition,
  writeSnapshotFile,
} from "./snapshot-store.js";
import type { StateMachine, StateMachineFactory } from "./state-machine.js";

export interface FollowerOptions {
  fs: FileSystem;
  dir: string;
  factory: StateMachineFactory;
  snapshotsRetained: number;
  retention: RetentionMode;
  warn?: (message: string) => void;
}

/** What a durable batch tells the follower besides its bytes. */
export interface BatchPosition {
  lastSeq: number;
  lastTime: number;
  chain: number;
  segmentFirstSeq: number;
  endOffset: number;
}

export class SnapshotFollower {
  private machine: StateMachine | null = null;
  private position: SnapshotPosition = { seq: 0, time: 0, chain: 0, segmentFirstSeq: 0, nextOffset: 0 };
  private readonly decoder = new CommandDecoder();
  private lastSnapshotSeq = -1;

  constructor(private readonly options: FollowerOptions) {}

  get seq(): number {
    return this.position.seq;
  }

  /** Rebuilds the state the pipeline recovered (read-only: the pipeline already repaired the tail). */
  async start(upToSeq: number): Promise<void> {
    const result = await recover({
      fs: this.options.fs,
      dir: this.options.dir,
      factory: this.options.factory,
      mode: "readOnly",
      upToSeq,
    });
    if (result.tail.lastSeq !== upToSeq) {
      throw new Error(`snapshot follower: recovered seq ${result.tail.lastSeq}, the pipeline ${upToSeq}`);
    }
    this.machine = result.machine;
    this.lastSnapshotSeq = result.snapshot?.seq ?? -1;
    this.position = {
      seq: result.tail.lastSeq,
      time: result.tail.lastTime,
      chain: result.tail.chain,
      segmentFirstSeq: result.tail.segment?.firstSeq ?? 0,
      nextOffset: result.tail.segment?.size ?? 0,
    };
  }

  /** Applies the records of a durable batch, exactly as written to the journal. */
  feed(bytes: Uint8Array, at: BatchPosition): void {
    const machine = this.machine;
    if (machine === null) throw new Error("snapshot follower: fed before start");
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let offset = 0;
    while (offset < bytes.length) {
      const recordBytes = view.getUint32(offset + 4, true);
      const seq = getU64(view, offset + 8);
      const time = getU64(view, offset + 16);
      if (seq !== this.position.seq + 1)
        throw new Error(`snapshot follower: seq ${seq} after ${this.position.seq}`);
      const cmd = this.decoder.decode(
        bytes,
        view,
        offset + recordHeaderBytes,
        offset + recordBytes,
        seq,
        time,
      );
      machine.replay(cmd);
      this.position.seq = seq;
      offset += recordBytes;
    }
    if (this.position.seq !== at.lastSeq)
      throw new Error("snapshot follower: batch does not end where it says");
    this.position = {
      seq: at.lastSeq,
      time: at.lastTime,
      chain: at.chain,
      segmentFirstSeq: at.segmentFirstSeq,
      nextOffset: at.endOffset,
    };
  }

  /** Writes a snapshot of everything fed so far (none if nothing is new), then applies retention. */
  async snapshot(): Promise<SnapshotInfo | null> {
    const machine = this.machine;
    if (machine === null || this.position.seq === 0 || this.position.seq === this.lastSnapshotSeq)
      return null;
    const position = { ...this.position };
    const info = await writeSnapshotFile(this.options.fs, this.options.dir, position, machine.snapshot());
    this.lastSnapshotSeq = position.seq;
    const removed = await applyRetention(
      this.options.fs,
      this.options.dir,
      this.options.snapshotsRetained,
      this.options.retention,
    );
    if (removed.removedSegments.length > 0 || removed.removedSnapshots.length > 0) {
      this.options.warn?.(
        `journal retention: ${this.options.retention === "archive" ? "archived" : "removed"} ` +
          `${removed.removedSegments.length} segment(s), ${removed.removedSnapshots.length} snapshot(s)`,
      );
    }
    return info;
  }

  stateHash(): string {
    if (this.machine === null) throw new Error("snapshot follower: not started");
    return this.machine.stateHash();
  }
}

/**
 * The Journal port: what the durable pipeline (src/journal/durable-engine.ts) needs from a command
 * log, and nothing more:
 *
 *   recover   rebuild the state machine: newest usable snapshot, then every command after it;
 *   append    stage/commit records into group-commit batches; a batch is reported durable once the
 *             backend's durability condition holds (fdatasync; a Redis reply + WAIT; …);
 *   read      committed commands from a seq on (followers, tools);
 *   snapshots taken by a Snapshotter the backend builds (or none).
 *
 * Two backends: the file journal (src/journal/file-journal.ts, segments + fdatasync on one machine,
 * the default) and the Redis journal (src/journal/redis-journal.ts, a stream appended by a fenced
 * Redis Function, shared by a hot standby). A URL selects one (src/journal/open-journal.ts); the rest
 * of the code does not know which.
 *
 * Both carry commands in the same record format (docs/journal.md: 32-byte header with seq, time,
 * CRC32C of header and body and the hash chain, then the command-codec body), so a batch's bytes
 * mean the same thing whatever stored them, and the same scanner checks them on the way back.
 */
import type { Command } from "../engine/types.js";
import type { Clock } from "../platform/clock.js";
import type { Scheduler } from "../platform/scheduler.js";
import type { CommandInput } from "./command-codec.js";
import type { DurableBatch } from "./journal-writer.js";
import type { ReplayProgress } from "./recovery.js";
import type { StateMachine, StateMachineFactory } from "./state-machine.js";

export type { DurableBatch } from "./journal-writer.js";

/** Where a log ends: the next record continues from here. */
export interface JournalPosition {
  lastSeq: number;
  lastTime: number;
  /** headerCrc of the last record (the chain the next record carries). */
  chain: number;
}

/** The state rebuilt by `recover`. The file journal returns more (RecoveryResult). */
export interface JournalRecovery {
  machine: StateMachine;
  tail: JournalPosition;
  /** The snapshot recovery started from, if any (`file` for the file journal, a key for Redis). */
  snapshot: { file: string; seq: number } | null;
  /** Records replayed after the snapshot. */
  replayed: number;
}

export interface RecoverRequest {
  factory: StateMachineFactory;
  warn: (message: string) => void;
  progress?: ReplayProgress;
}

/** Called by the append side; `bytes` of a batch are valid during the call only. */
export interface AppendHooks {
  scheduler: Scheduler;
  clock: Clock;
  onDurable: (batch: DurableBatch) => void;
  /** Fatal: nothing since the last durable batch can be trusted (fail-stop). */
  onFailure: (error: Error) => void;
}

/** The append side: records are staged, committed into the current batch, and made durable in order. */
export interface JournalAppender {
  /**
   * Encodes the record of `cmd` at the end of the current batch without committing it; throws a
   * JournalError (and changes nothing) when the command cannot be stored exactly.
   */
  stage(cmd: CommandInput, seq: number, time: number): void;
  /**
   * Commits the staged record. `checkpoint`, when given, is the state hash right after this command:
   * it ends the batch and travels with it (followers compare it at the same seq); backends that have
   * nowhere to put it ignore it.
   */
  commit(checkpoint?: string): void;
  readonly durableSeq: number;
  readonly failed: Error | null;
  /** Makes everything committed durable, then closes (the file journal writes its seal). */
  close(): Promise<void>;
  /** Stops at once, writing nothing more (kill -9, or a deposed leader). */
  abandon(): void;
}

export interface Journal {
  /** For log lines: "file ./data", "redis://127.0.0.1:6379 (aof-always+wait)". */
  readonly description: string;
  /** Rebuilds the state. Must run once, before `openAppender`. */
  recover(request: RecoverRequest): Promise<JournalRecovery>;
  /** The append side, continuing from where `recover` left the log. */
  openAppender(hooks: AppendHooks): JournalAppender;
  /** Commands from `fromSeq` up to `upToSeq` (inclusive), in order, with every check of recovery. */
  read(fromSeq: number, visit: (cmd: Command) => void, upToSeq?: number): Promise<JournalPosition>;
  /** Releases what the backend holds (connections); the appender must be closed or abandoned first. */
  release(): Promise<void>;
}

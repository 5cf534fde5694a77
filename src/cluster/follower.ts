/**
 * The hot standby's copy of the engine: it follows the Redis log entry by entry with the event-free
 * replay, checking every record (CRCs, seq, hash chain, time), and compares its state hash with
 * every checkpoint the leader published at the same seq. A mismatch is a loud error and a counter:
 * the follower is then `diverged` and must never take over (its state is not the leader's).
 *
 * It also takes the cluster's snapshots (the leader never pays for them in cluster mode): every
 * `snapshotEveryCommands`, its state goes to Redis in chunks (src/journal/redis-snapshots.ts), and
 * retention trims the log behind the oldest snapshot kept.
 */
import type { Command, EngineEvent } from "../engine/types.js";
import { CommandDecoder } from "../journal/command-codec.js";
import type { JournalPosition } from "../journal/journal.js";
import { EntryScanner, redisJournalLimits } from "../journal/redis-journal.js";
import type { LogEntry, RedisLog } from "../journal/redis-log.js";
import { loadLatestRedisSnapshot, writeRedisSnapshot } from "../journal/redis-snapshots.js";
import type { StateMachine, StateMachineFactory } from "../journal/state-machine.js";

export interface FollowerOptions {
  log: RedisLog;
  factory: StateMachineFactory;
  warn: (message: string) => void;
  /** Write a snapshot to Redis after this many commands (0: never). */
  snapshotEveryCommands?: number;
  snapshotsRetained?: number;
  /**
   * Apply with events (an API node's views need them) instead of the event-free replay; called once
   * per entry with its commands and their events, in seq order. Not called while `start` catches up.
   */
  events?: (batch: { command: Command; events: EngineEvent[] }[]) => void;
}

export interface FollowerFigures {
  /** Checkpoints compared, and how many differed. */
  checkpoints: number;
  mismatches: number;
  /** The last checkpoint compared: seq, the leader's hash, ours. */
  lastCheckpoint: { seq: number; leader: string; own: string } | null;
  snapshots: number;
  replayed: number;
}

export class StreamFollower {
  readonly figures: FollowerFigures = {
    checkpoints: 0,
    mismatches: 0,
    lastCheckpoint: null,
    snapshots: 0,
    replayed: 0,
  };
  private readonly decoder = new CommandDecoder();
  private sinceSnapshot = 0;
  /** False while `start` catches up: no events are built for what the caller's views already hold. */
  private live = true;
  private snapshotting: Promise<void> | null = null;

  private constructor(
    private readonly options: FollowerOptions,
    readonly machine: StateMachine,
    private readonly scanner: EntryScanner,
    readonly startedFrom: { snapshotSeq: number | null },
  ) {}

  /** Continues from a state already at `position` (a leader that handed over cleanly: its state is the log's). */
  static adopt(
    options: FollowerOptions,
    machine: StateMachine,
    position: JournalPosition,
    entryId: string,
  ): StreamFollower {
    return new StreamFollower(options, machine, new EntryScanner(position, entryId), { snapshotSeq: null });
  }

  /** Starts from the newest snapshot in Redis (or seq 1) and catches up with the log's current end. */
  static async start(options: FollowerOptions): Promise<StreamFollower> {
    const loaded = await loadLatestRedisSnapshot(options.log, options.factory, options.warn);
    const follower =
      loaded === null
        ? new StreamFollower(
            options,
            options.factory.create(),
            new EntryScanner({ lastSeq: 0, lastTime: 0, chain: 0 }, "-"),
            {
              snapshotSeq: null,
            },
          )
        : new StreamFollower(
            options,
            loaded.machine,
            new EntryScanner(loaded.manifest, loaded.manifest.entryId),
            {
              snapshotSeq: loaded.manifest.lastSeq,
            },
          );
    follower.live = false;
    await follower.catchUp((await options.log.head()).seq);
    follower.live = true;
    return follower;
  }

  get position(): JournalPosition {
    return this.scanner.position;
  }

  /** The id of the last entry applied ("-" before the first). */
  get entryId(): string {
    return this.scanner.entryId;
  }

  get diverged(): boolean {
    return this.figures.mismatches > 0;
  }

  /** Waits up to `blockMs` for new entries and applies them; returns how many records were applied. */
  async poll(blockMs: number): Promise<number> {
    const entries = await this.options.log.waitEntriesAfter(
      this.scanner.entryId,
      redisJournalLimits.readEntriesMax,
      blockMs,
    );
    return this.applyAll(entries);
  }

  /** Applies every entry up to `untilSeq` (the log's end when an epoch began). */
  async catchUp(untilSeq: number): Promise<number> {
    let applied = 0;
    while (this.scanner.position.lastSeq < untilSeq) {
      const entries = await this.options.log.entriesAfter(
        this.scanner.entryId,
        redisJournalLimits.readEntriesMax,
      );
      if (entries.length === 0) break;
      applied += this.applyAll(entries);
    }
    return applied;
  }

  /** Resolves when no snapshot is being written. */
  async idle(): Promise<void> {
    await this.snapshotting;
  }

  private applyAll(entries: LogEntry[]): number {
    let applied = 0;
    for (const entry of entries) applied += this.apply(entry);
    if (applied > 0) this.maybeSnapshot();
    return applied;
  }

  private apply(entry: LogEntry): number {
    const machine = this.machine;
    const decoder = this.decoder;
    const before = this.scanner.position.lastSeq;
    const sink = this.live ? this.options.events : undefined;
    if (sink === undefined) {
      this.scanner.scan(entry, (bytes, view, bodyStart, bodyEnd, seq, time) => {
        machine.replay(decoder.decode(bytes, view, bodyStart, bodyEnd, seq, time));
      });
    } else {
      const batch: { command: Command; events: EngineEvent[] }[] = [];
      this.scanner.scan(entry, (bytes, view, bodyStart, bodyEnd, seq, time) => {
        const command = decoder.decode(bytes, view, bodyStart, bodyEnd, seq, time);
        const events: EngineEvent[] = [];
        machine.apply(command, events);
        batch.push({ command, events });
      });
      sink(batch);
    }
    const applied = entry.lastSeq - before;
    this.figures.replayed += applied;
    this.sinceSnapshot += applied;
    if (entry.checkpoint !== null) this.compare(entry.lastSeq, entry.checkpoint);
    return applied;
  }

  private compare(seq: number, leader: string): void {
    const own = this.machine.stateHash();
    this.figures.checkpoints++;
    this.figures.lastCheckpoint = { seq, leader, own };
    if (own === leader) return;
    this.figures.mismatches++;
    this.options.warn(
      `STATE HASH MISMATCH at seq ${seq}: the leader published ${leader}, this standby has ${own}. ` +
        "The replay is not deterministic or a record was altered; this standby will not take over.",
    );
  }

  private maybeSnapshot(): void {
    const every = this.options.snapshotEveryCommands ?? 0;
    if (every <= 0 || this.sinceSnapshot < every || this.snapshotting !== null || this.diverged) return;
    this.sinceSnapshot = 0;
    // The state is captured now (synchronously); the chunks go to Redis while following continues.
    const payload = this.machine.snapshot();
    const position = this.scanner.position;
    const entryId = this.scanner.entryId;
    this.snapshotting = writeRedisSnapshot(
      this.options.log,
      position,
      entryId,
      payload,
      this.options.snapshotsRetained ?? 2,
    )
      .then(
        () => {
          this.figures.snapshots++;
        },
        (error: Error) =>
          this.options.warn(`standby: snapshot at seq ${position.lastSeq} failed: ${error.message}`),
      )
      .finally(() => {
        this.snapshotting = null;
      });
  }
}

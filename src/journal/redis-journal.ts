/**
 * The Redis journal: the command log as a Redis stream (Redis 7+, Valkey, MemoryDB), appended by a
 * Redis Function that checks the writer's epoch (the fencing token) before it appends, so a deposed
 * leader can never append. One stream entry per group-commit batch, with the id
 * `<firstSeq>-<lastSeq>`: a retried append (its reply lost) finds its own entry and is accepted once,
 * never twice. The entry holds the batch's records in the file journal's record format (CRC32C of
 * header and body, the hash chain across the whole log), so followers check every byte they apply.
 *
 * When is a batch durable (the output gate opens)? The durability mode says:
 *   memorydb         on the function's reply: MemoryDB commits each write to its multi-AZ
 *                    transaction log before it replies.
 *   aof-always       on the reply from a server with `appendonly yes` + `appendfsync always`: the
 *                    entry is fsynced to the primary's AOF before the reply is sent.
 *   aof-always+wait  and then `WAIT <replicas> <timeout>` counted at least `replicas` replicas
 *                    holding it (in memory: Redis 7.0 has no WAITAOF).
 * docs/cluster.md says what each survives, and what none of them does (Jepsen).
 *
 * Fail-stop, as for the file journal: a batch that cannot be confirmed within `unavailableAfterMs`
 * (server unreachable, no replica acknowledging) fails the pipeline with JOURNAL_UNAVAILABLE; a
 * refused append (FENCED: a newer leader exists) with JOURNAL_FENCED. Nothing after the last
 * confirmed batch is acknowledged; the process steps down and a leader recovers from the log.
 */
import type { Command } from "../engine/types.js";
import { CommandDecoder } from "./command-codec.js";
import { JournalCorruptionError, JournalError } from "./errors.js";
import { type RecordVisitor, type ScanState, scanRecords } from "./format.js";
import { Batch, GroupCommit } from "./group-commit.js";
import type {
  AppendHooks,
  Journal,
  JournalAppender,
  JournalPosition,
  JournalRecovery,
  RecoverRequest,
} from "./journal.js";
import { journalLimits, recordBytesMax } from "./journal-limits.js";
import { isTransient, type LogEntry, RedisLog, redactUrl, replyCode } from "./redis-log.js";
import { loadLatestRedisSnapshot } from "./redis-snapshots.js";
import type { StateMachine } from "./state-machine.js";

export const durabilityModes = ["memorydb", "aof-always", "aof-always+wait"] as const;
export type Durability = (typeof durabilityModes)[number];

export function parseDurability(text: string): Durability {
  if ((durabilityModes as readonly string[]).includes(text)) return text as Durability;
  throw new Error(`durability "${text}" is not one of ${durabilityModes.join(", ")}`);
}

/** Bounds of the Redis journal (journalLimits holds the shared ones). */
export const redisJournalLimits = {
  /** Entries read per XRANGE/XREAD while recovering or following. */
  readEntriesMax: 256,
  /** One WAIT call waits at most this long; WAIT is repeated until unavailableAfterMs. */
  waitTimeoutMs: 1_000,
  /** A batch not confirmed durable within this time fails the pipeline (JOURNAL_UNAVAILABLE). */
  unavailableAfterMs: 5_000,
} as const;

export interface RedisJournalOptions {
  url: string;
  namespace?: string;
  durability?: Durability;
  /** Replicas WAIT must count (aof-always+wait). */
  replicas?: number;
  /** The epoch this writer holds (from the leader lease). None: take the next one at recovery. */
  epoch?: number;
  /**
   * A follower's state to continue from instead of snapshot + replay (a standby taking over): the
   * machine, where it is, and the id of the last entry it applied.
   */
  adopt?: { machine: StateMachine; position: JournalPosition; entryId: string };
  /** An open connection to use (its owner keeps it); otherwise the journal opens and closes its own. */
  log?: RedisLog;
  clientName?: string;
  batchCommandsMax?: number;
  batchBytesMax?: number;
  waitTimeoutMs?: number;
  unavailableAfterMs?: number;
}

/** Checks that entries continue the log (seq, chain, time, CRCs) and visits their records. */
export class EntryScanner {
  readonly state: ScanState;
  entryId: string;

  constructor(position: JournalPosition, entryId: string) {
    this.state = { nextSeq: position.lastSeq + 1, chain: position.chain, time: position.lastTime };
    this.entryId = entryId;
  }

  get position(): JournalPosition {
    return { lastSeq: this.state.nextSeq - 1, lastTime: this.state.time, chain: this.state.chain };
  }

  /** Checks and visits an entry's records; with `stopAfterSeq` inside it, stops there (a partial read). */
  scan(entry: LogEntry, visit: RecordVisitor, stopAfterSeq = Number.POSITIVE_INFINITY): void {
    const where = `redis log entry ${entry.id}`;
    if (entry.firstSeq !== this.state.nextSeq)
      throw new JournalCorruptionError(
        where,
        0,
        `entry starts at seq ${entry.firstSeq}, expected ${this.state.nextSeq}`,
      );
    const bytes = new Uint8Array(entry.records.buffer, entry.records.byteOffset, entry.records.byteLength);
    const end = scanRecords(bytes, 0, this.state, visit, stopAfterSeq);
    if (end.kind === "stopped") return;
    if (end.kind !== "end") throw new JournalCorruptionError(where, end.offset, end.reason);
    if (this.state.nextSeq - 1 !== entry.lastSeq)
      throw new JournalCorruptionError(
        where,
        end.offset,
        `entry ends at seq ${this.state.nextSeq - 1}, its id says ${entry.lastSeq}`,
      );
    this.entryId = entry.id;
  }
}

export class RedisJournal implements Journal {
  readonly description: string;
  readonly durability: Durability;
  private log: RedisLog | null;
  private readonly ownsLog: boolean;
  private epochValue: number | null;
  private position: JournalPosition | null = null;

  constructor(private readonly options: RedisJournalOptions) {
    this.durability = options.durability ?? "aof-always+wait";
    this.description = `${redactUrl(options.url)} (${this.durability})`;
    this.log = options.log ?? null;
    this.ownsLog = options.log === undefined;
    this.epochValue = options.epoch ?? null;
  }

  /** The epoch this journal appends under (known after recover). */
  get epoch(): number {
    if (this.epochValue === null) throw new Error("redis journal: no epoch before recover");
    return this.epochValue;
  }

  get connection(): RedisLog {
    if (this.log === null) throw new Error("redis journal: not connected");
    return this.log;
  }

  async recover(request: RecoverRequest): Promise<JournalRecovery> {
    const log = await this.connect();
    await checkPersistence(log, this.durability, request.warn);
    // Fence first, then read to the end: once this epoch is current, nobody else can append, so the
    // end read below is final for every older writer.
    let head: JournalPosition;
    if (this.epochValue === null) {
      const start = await log.claim();
      this.epochValue = start.epoch;
      head = { lastSeq: start.seq, lastTime: start.time, chain: start.chain };
      request.warn(`journal: ${this.description}: writing as epoch ${start.epoch}`);
    } else {
      const h = await log.head();
      if (h.epoch !== this.epochValue)
        throw new JournalError("JOURNAL_FENCED", `epoch ${this.epochValue} is not current (${h.epoch} is)`);
      head = { lastSeq: h.seq, lastTime: h.time, chain: h.chain };
    }
    let machine: StateMachine;
    let scanner: EntryScanner;
    let snapshot: JournalRecovery["snapshot"] = null;
    const adopt = this.options.adopt;
    if (adopt !== undefined) {
      machine = adopt.machine;
      scanner = new EntryScanner(adopt.position, adopt.entryId);
    } else {
      const loaded = await loadLatestRedisSnapshot(log, request.factory, request.warn);
      if (loaded !== null) {
        machine = loaded.machine;
        scanner = new EntryScanner(loaded.manifest, loaded.manifest.entryId);
        snapshot = { file: `${log.keys.snapshots}#${loaded.manifest.lastSeq}`, seq: loaded.manifest.lastSeq };
      } else {
        machine = request.factory.create();
        scanner = new EntryScanner({ lastSeq: 0, lastTime: 0, chain: 0 }, "-");
      }
    }
    const replayed = await replayEntries(log, scanner, machine, head.lastSeq);
    const end = scanner.position;
    if (end.lastSeq !== head.lastSeq || end.chain !== head.chain) {
      throw new JournalCorruptionError(
        log.keys.log,
        0,
        `the log's head says seq ${head.lastSeq} (chain ${head.chain}), its entries end at seq ${end.lastSeq} (chain ${end.chain})`,
      );
    }
    this.position = end;
    this.lastEntryId = scanner.entryId;
    return { machine, tail: end, snapshot, replayed };
  }

  /** The id of the last entry recovery applied. */
  lastEntryId = "-";

  openAppender(hooks: AppendHooks): JournalAppender {
    if (this.position === null || this.log === null || this.epochValue === null)
      throw new Error("redis journal: openAppender before recover");
    return new RedisAppender(this.log, this.epochValue, this.position, this.durability, this.options, hooks);
  }

  async read(
    fromSeq: number,
    visit: (cmd: Command) => void,
    upToSeq = Number.POSITIVE_INFINITY,
  ): Promise<JournalPosition> {
    const log = await this.connect();
    const id = await log.entryIdAtOrBefore(fromSeq);
    const decoder = new CommandDecoder();
    let scanner: EntryScanner | null = null;
    let afterId = "-";
    if (id !== null) {
      // Start with the entry holding fromSeq (after the one before it); its earlier records are skipped.
      const first = Number(id.slice(0, id.indexOf("-")));
      afterId = (await log.entryIdAtOrBefore(first - 1)) ?? "-";
    }
    for (;;) {
      const entries = await log.entriesAfter(afterId, redisJournalLimits.readEntriesMax);
      if (entries.length === 0) break;
      for (const entry of entries) {
        if (entry.firstSeq > upToSeq) return scanner?.position ?? { lastSeq: 0, lastTime: 0, chain: 0 };
        if (scanner === null) {
          // The chain before the first entry read is the one its first record carries.
          const view = new DataView(entry.records.buffer, entry.records.byteOffset, entry.records.byteLength);
          scanner = new EntryScanner(
            { lastSeq: entry.firstSeq - 1, lastTime: 0, chain: view.getUint32(24, true) },
            afterId,
          );
        }
        scanner.scan(
          entry,
          (b, view, bodyStart, bodyEnd, seq, time) => {
            if (seq >= fromSeq) visit(decoder.decode(b, view, bodyStart, bodyEnd, seq, time));
          },
          upToSeq,
        );
        afterId = entry.id;
      }
    }
    return scanner?.position ?? { lastSeq: 0, lastTime: 0, chain: 0 };
  }

  async release(): Promise<void> {
    if (this.ownsLog && this.log !== null) await this.log.close();
    this.log = null;
  }

  private async connect(): Promise<RedisLog> {
    this.log ??= await RedisLog.connect({
      url: this.options.url,
      ...(this.options.namespace !== undefined ? { namespace: this.options.namespace } : {}),
      clientName: this.options.clientName ?? "bourse-journal",
    });
    return this.log;
  }
}

/** Applies entries after the scanner's position up to `untilSeq`, checking every record. Returns records applied. */
export async function replayEntries(
  log: RedisLog,
  scanner: EntryScanner,
  machine: StateMachine,
  untilSeq: number,
): Promise<number> {
  const decoder = new CommandDecoder();
  let replayed = 0;
  const visit: RecordVisitor = (bytes, view, bodyStart, bodyEnd, seq, time) => {
    machine.replay(decoder.decode(bytes, view, bodyStart, bodyEnd, seq, time));
    replayed++;
  };
  while (scanner.position.lastSeq < untilSeq) {
    const entries = await log.entriesAfter(scanner.entryId, redisJournalLimits.readEntriesMax);
    if (entries.length === 0) break;
    for (const entry of entries) {
      if (entry.firstSeq > untilSeq) return replayed;
      scanner.scan(entry, visit);
    }
  }
  return replayed;
}

async function checkPersistence(
  log: RedisLog,
  durability: Durability,
  warn: (m: string) => void,
): Promise<void> {
  if (durability === "memorydb") return; // MemoryDB's durability is not a setting (and CONFIG is restricted)
  let settings: Awaited<ReturnType<RedisLog["persistence"]>>;
  try {
    settings = await log.persistence();
  } catch (error) {
    throw new JournalError(
      "JOURNAL_FAILED",
      `cannot read the server's persistence settings (CONFIG GET): ${(error as Error).message}; ` +
        "on a service that hides CONFIG, choose the durability mode that service guarantees",
    );
  }
  if (settings.appendonly !== "yes" || settings.appendfsync !== "always") {
    throw new JournalError(
      "JOURNAL_FAILED",
      `durability ${durability} needs appendonly yes and appendfsync always on ${log.url} ` +
        `(it has appendonly ${settings.appendonly}, appendfsync ${settings.appendfsync}): an acknowledged order could be lost`,
    );
  }
  if (durability === "aof-always+wait" && Number(settings.minReplicasToWrite) < 1)
    warn(
      `journal: ${log.url} has min-replicas-to-write ${settings.minReplicasToWrite}: a primary cut off from its replicas keeps accepting writes (docs/cluster.md)`,
    );
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A reply that has not come by the batch's deadline is a failure (the client has no per-command
 * timer: it costs more CPU than the command, docs/cache.md). One timer per batch, not per command.
 */
function beforeDeadline<T>(reply: Promise<T>, deadline: number): Promise<T> {
  const left = deadline - performance.now();
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`no reply from Redis within the journal's deadline`)),
      Math.max(0, left),
    );
  });
  return Promise.race([reply, late]).finally(() => clearTimeout(timer));
}

class RedisBatch extends Batch {
  checkpoint: string | null = null;

  override reset(): void {
    super.reset();
    this.checkpoint = null;
  }
}

/** Group commit (group-commit.ts) over the network: one batch in flight (append, then WAIT), the next one filling. */
class RedisAppender extends GroupCommit<RedisBatch> implements JournalAppender {
  private readonly waitTimeoutMs: number;
  private readonly unavailableAfterMs: number;
  private readonly replicas: number;

  constructor(
    private readonly log: RedisLog,
    private readonly epoch: number,
    position: JournalPosition,
    private readonly durability: Durability,
    options: RedisJournalOptions,
    hooks: AppendHooks,
  ) {
    const batchBytesMax = options.batchBytesMax ?? journalLimits.batchBytesMax;
    if (batchBytesMax < recordBytesMax) throw new Error("redis journal: batchBytesMax must hold one record");
    super(
      {
        name: "redis journal",
        scheduler: hooks.scheduler,
        onDurable: hooks.onDurable,
        onFailure: hooks.onFailure,
        batchCommandsMax: options.batchCommandsMax ?? journalLimits.batchCommandsMax,
        batchBytesMax,
        newBatch: (capacity) => new RedisBatch(capacity),
      },
      position,
    );
    this.waitTimeoutMs = options.waitTimeoutMs ?? redisJournalLimits.waitTimeoutMs;
    this.unavailableAfterMs = options.unavailableAfterMs ?? redisJournalLimits.unavailableAfterMs;
    this.replicas = options.replicas ?? 1;
  }

  /** A checkpoint travels with its batch and ends it. */
  protected override takeCheckpoint(batch: RedisBatch, checkpoint: string | undefined): boolean {
    if (checkpoint === undefined) return false;
    batch.checkpoint = checkpoint;
    return true;
  }

  /** A JournalError (FENCED, UNAVAILABLE) as it is; anything else as JOURNAL_FAILED. */
  protected failureOf(error: Error): Error {
    return error instanceof JournalError
      ? error
      : new JournalError("JOURNAL_FAILED", error.message, { cause: error });
  }

  /**
   * Appends, then (aof-always+wait) waits for the replicas. A transport error or a missing replica
   * acknowledgement retries from the append: the append is idempotent by its entry id, and it always
   * writes (even when it finds its entry already there), so the WAIT that follows on a reconnected
   * connection covers it rather than passing vacuously on a connection that wrote nothing.
   */
  protected async write(batch: RedisBatch): Promise<void> {
    const deadline = performance.now() + this.unavailableAfterMs;
    let attempt = 0;
    for (;;) {
      const failure = this.failed;
      if (failure !== null) throw failure;
      try {
        const appended = this.log.append(
          this.epoch,
          batch.firstSeq,
          batch.lastSeq,
          batch.lastTime,
          batch.chainAfter,
          batch.bytes.subarray(0, batch.length),
          batch.checkpoint,
          this.waitTimeoutMs,
        );
        if (this.durability !== "aof-always+wait") {
          await beforeDeadline(appended, deadline);
          return;
        }
        // WAIT is sent right behind the append, in the same write (one round trip, not two): Redis
        // runs a connection's commands in order, so it counts the replicas holding this append.
        // If the append is refused, its error wins and the WAIT's answer is ignored.
        const waited = this.log.waitReplicas(this.replicas, this.waitTimeoutMs);
        waited.catch(() => {});
        await beforeDeadline(appended, deadline);
        const acknowledged = await beforeDeadline(waited, deadline);
        if (acknowledged >= this.replicas) return;
        if (performance.now() > deadline)
          throw new JournalError(
            "JOURNAL_UNAVAILABLE",
            `${acknowledged} of ${this.replicas} replica(s) acknowledged seq ${batch.lastSeq} within ${this.unavailableAfterMs} ms`,
          );
      } catch (error) {
        if (error instanceof JournalError) throw error;
        const code = replyCode(error);
        if (code === "FENCED")
          throw new JournalError(
            "JOURNAL_FENCED",
            `append of seq ${batch.firstSeq}..${batch.lastSeq} refused: ${(error as Error).message}`,
          );
        if (!isTransient(error) || performance.now() > deadline)
          throw new JournalError(
            isTransient(error) ? "JOURNAL_UNAVAILABLE" : "JOURNAL_FAILED",
            `append of seq ${batch.firstSeq}..${batch.lastSeq} to ${this.log.url} failed: ${(error as Error).message}`,
            { cause: error },
          );
        await sleep(Math.min(10 * 2 ** attempt++, 200));
      }
    }
  }
}

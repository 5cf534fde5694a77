/**
 * The gateway's CommandPipeline (src/node/pipeline.ts) for an API node in a cluster: commands go to
 * whichever engine node leads (LeaderClient: found in Redis, resent safely on a leader change), and
 * the node's views are fed by a local follower that applies the log **with events** — the same
 * durable, seq-ordered stream the leader's output gate released, from the same log.
 *
 * The port's promise is kept: every durable batch's events reach the `onDurable` listeners before
 * the submitters of that batch hear back. A submit resolves only once the local follower has applied
 * the command's seq, and it resolves with the follower's own events for that seq (deterministic
 * replay: the same events the leader produced, with their exact types), so a reply never shows a
 * state the node's views do not have yet.
 *
 * Following starts with the first `onDurable` listener or the first submit, so that everything the
 * caller seeded from `engine` at start and everything it receives afterwards join without a gap.
 */
import { defaultConfig, type EngineConfig } from "../engine/config.js";
import type { Engine } from "../engine/engine.js";
import type { Command, EngineEvent } from "../engine/types.js";
import { type CommitListener, eventsOf } from "../journal/durable-engine.js";
import { JournalCorruptionError } from "../journal/errors.js";
import { parseRedisLocation } from "../journal/open-journal.js";
import { RedisLog } from "../journal/redis-log.js";
import { engineFactory } from "../journal/state-machine.js";
import {
  type CommandInput,
  type CommandPipeline,
  type DurableListener,
  PipelineError,
  type PipelineStats,
} from "../node/pipeline.js";
import type { CommandOutcome } from "./engine-node.js";
import { StreamFollower } from "./follower.js";
import { LeaderClient } from "./leader-client.js";

export const remotePipelineLimits = {
  /** Submissions waiting for the leader or for the follower to reach their seq. Beyond: overloaded. */
  pendingMax: 100_000,
  /** Commands sent to the leader in one request (submits of the same turn of the event loop). */
  requestCommandsMax: 1_024,
  /** Applied seqs whose events are kept for replies that arrive after the follower applied them. */
  recentEventsMax: 200_000,
} as const;

export interface RemotePipelineOptions {
  journal: string;
  config?: EngineConfig;
  log?: (line: string) => void;
  /** How long the follower waits for new entries per read. */
  pollMs?: number;
}

interface Waiting {
  resolve: (events: EngineEvent[]) => void;
  reject: (error: Error) => void;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export class RemotePipeline implements CommandPipeline {
  private readonly listeners: DurableListener[] = [];
  private readonly commitListeners: CommitListener[] = [];
  private queue: { command: CommandInput; waiting: Waiting }[] = [];
  private flushScheduled = false;
  private readonly bySeq = new Map<number, Waiting>();
  private readonly recent = new Map<number, EngineEvent[]>();
  private pendingCount = 0;
  private applied = 0;
  private following: Promise<void> | null = null;
  private closed = false;

  private constructor(
    private readonly log: RedisLog,
    private readonly client: LeaderClient,
    private readonly follower: StreamFollower,
    private readonly options: RemotePipelineOptions,
  ) {}

  static async open(options: RemotePipelineOptions): Promise<RemotePipeline> {
    const location = parseRedisLocation(options.journal);
    const log = await RedisLog.connect({
      url: location.url,
      namespace: location.namespace,
      clientName: "bourse-api",
    });
    let pipeline: RemotePipeline | null = null;
    try {
      const follower = await StreamFollower.start({
        log,
        factory: engineFactory(options.config ?? defaultConfig),
        warn: (m) =>
          (options.log ?? ((line: string) => process.stderr.write(`${line}\n`)))(`api follower: ${m}`),
        snapshotEveryCommands: 0,
        events: (batch) => pipeline?.appliedBatch(batch),
      });
      const client = await LeaderClient.connect({ journal: options.journal });
      pipeline = new RemotePipeline(log, client, follower, options);
      return pipeline;
    } catch (error) {
      await log.close();
      throw error;
    }
  }

  /** The follower's engine: its state is the log's, up to the last entry applied. */
  get engine(): Engine {
    return this.follower.machine as Engine;
  }

  get ready(): boolean {
    return !this.closed;
  }

  get stats(): PipelineStats {
    return { queueDepth: this.pendingCount, commandsTotal: this.applied };
  }

  onDurable(listener: DurableListener): void {
    this.listeners.push(listener);
    this.startFollowing();
  }

  /** Each applied entry as committed commands with their events (the history writer's feed). */
  onCommit(listener: CommitListener): () => void {
    this.commitListeners.push(listener);
    this.startFollowing();
    return () => {
      const i = this.commitListeners.indexOf(listener);
      if (i >= 0) this.commitListeners.splice(i, 1);
    };
  }

  /** The last seq the local follower applied (everything up to it is durable in the log). */
  get durableSeq(): number {
    return this.follower.position.lastSeq;
  }

  submit(cmd: CommandInput): Promise<EngineEvent[]> {
    if (this.closed) return Promise.reject(new PipelineError("not_ready", "the pipeline is closed"));
    if (this.pendingCount >= remotePipelineLimits.pendingMax)
      return Promise.reject(new PipelineError("overloaded", "too many commands wait for the leader"));
    this.startFollowing();
    this.pendingCount++;
    return new Promise((resolve, reject) => {
      const done = (f: () => void): void => {
        this.pendingCount--;
        f();
      };
      this.queue.push({
        command: cmd,
        waiting: { resolve: (e) => done(() => resolve(e)), reject: (e) => done(() => reject(e)) },
      });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Let what was sent be answered (the leader decides; the follower brings the events), briefly.
    for (let i = 0; i < 200 && this.pendingCount > 0; i++) await sleep(10);
    for (const w of this.bySeq.values())
      w.reject(new PipelineError("unavailable", "closed before the reply"));
    this.bySeq.clear();
    await this.following;
    await this.client.close();
    await this.follower.idle();
    await this.log.close();
  }

  private startFollowing(): void {
    this.following ??= this.follow();
  }

  private async follow(): Promise<void> {
    const pollMs = this.options.pollMs ?? 50;
    while (!this.closed) {
      try {
        await this.follower.poll(pollMs);
      } catch (error) {
        if (this.closed) return;
        // Damage in the log stops following: the views would be wrong from here on.
        if (error instanceof JournalCorruptionError) {
          this.closed = true;
          this.options.log?.(`api follower: ${error.message}`);
          return;
        }
        await sleep(100);
      }
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, remotePipelineLimits.requestCommandsMax);
      this.client.submit(batch.map((b) => b.command)).then(
        (outcomes) => {
          for (let i = 0; i < batch.length; i++) this.answer(outcomes[i]!, batch[i]!.waiting);
        },
        (error: Error) => {
          for (const b of batch) b.waiting.reject(new PipelineError("unavailable", error.message));
        },
      );
    }
  }

  private answer(outcome: CommandOutcome, waiting: Waiting): void {
    if (outcome.seq !== undefined) {
      const events = this.recent.get(outcome.seq);
      if (events !== undefined) {
        this.recent.delete(outcome.seq);
        waiting.resolve(events);
      } else this.bySeq.set(outcome.seq, waiting);
      return;
    }
    waiting.reject(failure(outcome));
  }

  /** The follower applied an entry: listeners first, then the submitters of its commands. */
  private appliedBatch(batch: { command: Command; events: EngineEvent[] }[]): void {
    this.applied += batch.length;
    if (this.listeners.length > 0) {
      const all = eventsOf(batch);
      for (const listener of this.listeners) {
        try {
          listener(all);
        } catch (error) {
          this.options.log?.(`api follower: a listener failed: ${(error as Error).message}`);
        }
      }
    }
    for (const listener of this.commitListeners) {
      try {
        listener(batch);
      } catch (error) {
        this.options.log?.(`api follower: a commit listener failed: ${(error as Error).message}`);
      }
    }
    for (const c of batch) {
      const waiting = this.bySeq.get(c.command.seq);
      if (waiting !== undefined) {
        this.bySeq.delete(c.command.seq);
        waiting.resolve(c.events);
      } else {
        // The leader's reply may still be on its way: keep the events for it (bounded, oldest dropped).
        this.recent.set(c.command.seq, c.events);
        if (this.recent.size > remotePipelineLimits.recentEventsMax)
          this.recent.delete(this.recent.keys().next().value!);
      }
    }
  }
}

/** The leader's refusal as the gateway understands it (src/api/gateway.ts pipelineFailure). */
function failure(outcome: CommandOutcome): Error {
  const code = outcome.error ?? "UNAVAILABLE";
  switch (code) {
    case "JOURNAL_BACKLOG_FULL":
      return new PipelineError("overloaded", outcome.message ?? code);
    case "JOURNAL_COMMAND_TOO_LARGE":
    case "JOURNAL_INVALID_COMMAND":
      return Object.assign(new Error(outcome.message ?? code), { code });
    default:
      // NOT_LEADER past the deadline, FENCED, FAILED, UNAVAILABLE, UNKNOWN_OUTCOME: may or may not be applied.
      return new PipelineError(
        "unavailable",
        `${code}: ${outcome.message ?? "the leader did not confirm it"}`,
      );
  }
}

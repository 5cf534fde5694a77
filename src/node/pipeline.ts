/**
 * The narrow port between the gateway and the command path (sequencer → journal → engine → output
 * gate). The gateway submits commands without seq or time and gets their events back only once the
 * command is durable; every durable batch's events are also handed to listeners (market data, the
 * API's order store), in sequence order, before any of that batch's submitters hear back.
 *
 * Two implementations: the journal's durable pipeline (src/node/journal-pipeline.ts adapts it), and
 * MemoryPipeline below, which applies commands to an in-memory Engine and is durable in no sense: it
 * exists for unit tests of the gateway and as a reference of the port's semantics.
 */

import type { EngineConfig } from "../engine/config.js";
import { Engine } from "../engine/engine.js";
import type { Command, EngineEvent } from "../engine/types.js";

/** A command as the gateway builds it: the sequencer stamps seq and time. */
export type Unstamped<C> = C extends unknown ? Omit<C, "seq" | "time"> : never;
export type CommandInput = Unstamped<Command>;

export type DurableListener = (events: readonly EngineEvent[]) => void;

export type PipelineFailure = "overloaded" | "not_ready" | "unavailable";

/** Why a command was not (or may not have been) applied. */
export class PipelineError extends Error {
  override name = "PipelineError";
  constructor(
    readonly kind: PipelineFailure,
    message: string,
  ) {
    super(message);
  }
}

export interface PipelineStats {
  /** Commands submitted and not yet answered. */
  readonly queueDepth: number;
  /** Commands applied since start. */
  readonly commandsTotal: number;
}

export interface CommandPipeline {
  /**
   * Resolves with the command's events once the command is durable. Rejects with a PipelineError:
   * `overloaded` (bounded queue full: nothing applied), `not_ready` (starting or closing: nothing
   * applied), `unavailable` (the journal failed: the outcome is unknown and the process stops).
   */
  submit(cmd: CommandInput): Promise<EngineEvent[]>;
  /** Every durable batch's events, in sequence order, before the batch's submitters resolve. */
  onDurable(listener: DurableListener): void;
  /** The recovered engine. The gateway reads it only to build its durable views at start. */
  readonly engine: Engine;
  /** Recovered and accepting commands. */
  readonly ready: boolean;
  readonly stats: PipelineStats;
  /** Stops accepting, waits for every submitted command to be answered, snapshots, releases files. */
  close(): Promise<void>;
}

interface Pending {
  resolve: (events: EngineEvent[]) => void;
  events: EngineEvent[];
}

/**
 * Applies commands to the engine at once and answers them on the next turn of the event loop, in
 * batches, the way a group commit would. Nothing is written anywhere: NOT durable.
 */
export class MemoryPipeline implements CommandPipeline {
  readonly engine: Engine;
  ready = true;
  private readonly listeners: DurableListener[] = [];
  private batch: Pending[] = [];
  private scheduled = false;
  private seq = 0;
  private time = 0;
  private applied = 0;

  constructor(
    config: EngineConfig,
    private readonly nowMs: () => number = Date.now,
    private readonly queueMax = 100_000,
  ) {
    this.engine = new Engine(config);
  }

  get stats(): PipelineStats {
    return { queueDepth: this.batch.length, commandsTotal: this.applied };
  }

  onDurable(listener: DurableListener): void {
    this.listeners.push(listener);
  }

  submit(cmd: CommandInput): Promise<EngineEvent[]> {
    if (!this.ready) return Promise.reject(new PipelineError("not_ready", "the pipeline is closed"));
    if (this.batch.length >= this.queueMax) {
      return Promise.reject(new PipelineError("overloaded", "the command queue is full"));
    }
    this.time = Math.max(this.time, this.nowMs());
    const stamped = { ...cmd, seq: ++this.seq, time: this.time } as Command;
    const events: EngineEvent[] = [];
    this.engine.apply(stamped, events);
    this.applied++;
    return new Promise((resolve) => {
      this.batch.push({ resolve, events });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.release());
      }
    });
  }

  private release(): void {
    this.scheduled = false;
    const batch = this.batch;
    this.batch = [];
    const all: EngineEvent[] = [];
    for (const p of batch) for (const e of p.events) all.push(e);
    for (const listener of this.listeners) listener(all);
    for (const p of batch) p.resolve(p.events);
  }

  async close(): Promise<void> {
    this.ready = false;
    while (this.batch.length > 0) await new Promise((r) => setImmediate(r));
  }
}

/**
 * The narrow port between the gateway and the command path (sequencer → journal → engine → output
 * gate). The gateway submits commands without seq or time and gets their events back only once the
 * command is durable; every durable batch's events are also handed to listeners (market data, the
 * API's order store), in sequence order, before any of that batch's submitters hear back.
 *
 * The implementation is the journal's DurableEngine, adapted in src/node/journal-pipeline.ts. (An
 * in-memory stand-in served while the journal was being built; it is gone: nothing here is ever
 * answered before it is durable.)
 */

import type { Engine } from "../engine/engine.js";
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
   * Resolves with the command's events once the command is durable. Rejects with a PipelineError or
   * the journal's JournalError (src/api/gateway.ts maps both): overloaded / JOURNAL_BACKLOG_FULL
   * (nothing applied), not_ready / JOURNAL_CLOSED (nothing applied), unavailable / JOURNAL_FAILED
   * (the outcome is unknown and the process stops).
   */
  submit(cmd: CommandInput): Promise<EngineEvent[]>;
  /** Every durable batch's events, in sequence order, before the batch's submitters resolve. */
  onDurable(listener: DurableListener): void;
  /**
   * The recovered engine. The node reads it to seed the durable views at start and to find the owner
   * of an API key (a key is known to a client only after its create_account is durable).
   */
  readonly engine: Engine;
  /** Recovered and accepting commands. */
  readonly ready: boolean;
  readonly stats: PipelineStats;
  /** Stops accepting, waits for every submitted command to be answered, snapshots, releases files. */
  close(): Promise<void>;
}

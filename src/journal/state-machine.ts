/**
 * What the journal needs from the engine: apply stamped commands, take and restore snapshots, hash
 * the state. `Engine` (src/engine/engine.ts) is the one implementation used in production; tests may
 * plug a smaller machine into the same pipeline.
 */

import type { EngineConfig } from "../engine/config.js";
import { Engine } from "../engine/engine.js";
import type { Command, EngineEvent } from "../engine/types.js";

export interface StateMachine {
  apply(cmd: Command, out: EngineEvent[]): void;
  /** Applies a command for its state only, without building events (recovery, followers, verify). */
  replay(cmd: Command): void;
  /** Canonical bytes of the whole state, lastSeq included. */
  snapshot(): Uint8Array;
  /** Hex SHA-256 of the state. */
  stateHash(): string;
  readonly lastSeq: number;
}

export interface StateMachineFactory {
  create(): StateMachine;
  /** Rebuilds a machine from `snapshot()` bytes; throws on damaged bytes or another configuration. */
  restore(bytes: Uint8Array): StateMachine;
}

export function engineFactory(config: EngineConfig): StateMachineFactory {
  return {
    create: () => new Engine(config),
    restore: (bytes) => Engine.restore(config, bytes),
  };
}

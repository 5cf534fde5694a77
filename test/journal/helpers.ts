/** Shared pieces of the journal tests: a data directory on the simulated disk, the engine factory. */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { defaultConfig } from "../../src/engine/config.js";
import { Engine } from "../../src/engine/engine.js";
import type { Command, EngineEvent } from "../../src/engine/types.js";
import { engineFactory } from "../../src/journal/state-machine.js";

export const factory = engineFactory(defaultConfig);

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `bourse-${prefix}-`));
}

/** The hash of a fresh engine after exactly these commands. */
export function cleanReplayHash(commands: Iterable<Command>): string {
  const engine = new Engine(defaultConfig);
  const out: EngineEvent[] = [];
  for (const cmd of commands) {
    engine.apply(cmd, out);
    out.length = 0;
  }
  return engine.stateHash();
}

export const quiet = (): void => {};

/** Shared pieces of the journal tests: a data directory on the simulated disk, the engine factory. */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { defaultConfig } from "../../src/engine/config.js";
import { Engine } from "../../src/engine/engine.js";
import type { Command, EngineEvent } from "../../src/engine/types.js";
import { CommandGenerator } from "../../src/journal/command-generator.js";
import type { CommittedCommand, DurableEngine } from "../../src/journal/durable-engine.js";
import { engineFactory } from "../../src/journal/state-machine.js";
import type { SimulatedClock } from "../../src/platform/clock.js";
import { Prng } from "../../src/platform/prng.js";

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

/**
 * Submits the generator's setup and `count` commands at once, the clock moving 1 ms per command, and
 * checks that every one is acknowledged and that the output gate released them in seq order.
 * Returns the committed commands (what a clean replay must reproduce).
 */
export async function submitInSeqOrder(
  engine: DurableEngine,
  clock: SimulatedClock,
  seed: number,
  count: number,
): Promise<CommittedCommand[]> {
  const generator = new CommandGenerator(new Prng(seed));
  const inputs = [...generator.setup(), ...Array.from({ length: count }, () => generator.next())];
  const committed: CommittedCommand[] = [];
  engine.onCommit((batch) => committed.push(...batch));
  const results = await Promise.all(
    inputs.map((input) => {
      clock.advance(1);
      return engine.submit(input);
    }),
  );
  assert.equal(results.length, inputs.length);
  assert.deepEqual(
    committed.map((c) => c.command.seq),
    inputs.map((_, i) => i + 1),
  );
  return committed;
}

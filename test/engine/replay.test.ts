/**
 * `engine.replay(command)` (no events, for recovery and followers) must change the state exactly as
 * `engine.apply(command, out)` does: the same stream through both gives the same state hash and dump
 * at every checkpoint, on both configurations and across the bigint paths.
 */
import { deepStrictEqual, equal } from "node:assert/strict";
import { describe, it } from "node:test";
import { defaultConfig, type EngineConfig } from "../../src/engine/config.js";
import { Engine } from "../../src/engine/engine.js";
import type { EngineEvent } from "../../src/engine/types.js";
import { CommandGenerator, testConfig } from "./generator.js";

function compare(config: EngineConfig, seed: number, count: number, every: number): void {
  const generator = new CommandGenerator({ seed, config });
  const applied = new Engine(config);
  const replayed = new Engine(config);
  for (let i = 1; i <= count; i++) {
    const command = generator.next();
    const out: EngineEvent[] = [];
    applied.apply(command, out);
    generator.observe(out);
    replayed.replay(command);
    if (i % every === 0 || i === count) {
      equal(replayed.stateHash(), applied.stateHash(), `seed ${seed}: state differs after command ${i}`);
    }
  }
  deepStrictEqual(replayed.dump(), applied.dump());
  // Events resume normally after a replay.
  const command = generator.next();
  const a: EngineEvent[] = [];
  const b: EngineEvent[] = [];
  applied.apply(command, a);
  replayed.apply(command, b);
  deepStrictEqual(b, a);
}

describe("replay without events", () => {
  it("matches apply on the default markets", () => compare(defaultConfig, 21, 20_000, 2_000));
  it("matches apply on the test markets (bigint amounts)", () => compare(testConfig, 22, 20_000, 2_000));
});

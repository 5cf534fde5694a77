/** The command generator: deterministic per seed, seq 1, 2, 3, …, time never decreasing. */
import { deepStrictEqual, notDeepStrictEqual, ok } from "node:assert/strict";
import { describe, it } from "node:test";
import { defaultConfig } from "../../src/engine/config.js";
import type { Command, EngineEvent } from "../../src/engine/types.js";
import { ReferenceEngine } from "../reference/reference-engine.js";
import { CommandGenerator, Rng, testConfig } from "./generator.js";

function stream(seed: number, count: number, withFeedback: boolean): Command[] {
  const generator = new CommandGenerator({ seed, config: testConfig });
  const engine = new ReferenceEngine(testConfig);
  const commands: Command[] = [];
  for (let i = 0; i < count; i++) {
    const command = generator.next();
    commands.push(structuredClone(command));
    if (withFeedback) {
      const out: EngineEvent[] = [];
      engine.apply(command, out);
      generator.observe(out);
    }
  }
  return commands;
}

describe("command generator", () => {
  it("replays the same stream from the same seed, with or without feedback", () => {
    deepStrictEqual(stream(5, 3000, true), stream(5, 3000, true));
    deepStrictEqual(stream(5, 3000, false), stream(5, 3000, false));
    notDeepStrictEqual(stream(5, 500, true), stream(6, 500, true));
  });

  it("numbers commands 1, 2, 3, … and never moves time backwards", () => {
    const commands = stream(8, 5000, true);
    commands.forEach((c, i) => {
      ok(c.seq === i + 1, `command ${i} has seq ${c.seq}`);
      if (i > 0) ok(c.time >= commands[i - 1]!.time, `time goes back at ${i}`);
    });
    const types = new Set(commands.map((c) => c.type));
    deepStrictEqual([...types].sort(), [
      "amend",
      "cancel",
      "cancel_all",
      "create_account",
      "deposit",
      "place",
      "tick",
      "withdraw",
    ]);
  });

  it("draws uniformly enough from its PRNG", () => {
    const rng = new Rng(1);
    const buckets = new Array<number>(10).fill(0);
    for (let i = 0; i < 100_000; i++) buckets[rng.int(0, 9)]! += 1;
    for (const b of buckets) ok(b > 9_500 && b < 10_500, `bucket ${b}`);
    ok(new CommandGenerator({ seed: 1, config: defaultConfig }).next().type === "create_account");
  });
});

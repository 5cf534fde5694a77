/**
 * Snapshots of the fast engine: a restored engine has the same state hash and dump, and behaves
 * identically from there on; identical histories hash identically; a damaged snapshot, or one taken
 * under another configuration, is refused.
 */
import { deepStrictEqual, equal, notEqual, ok, throws } from "node:assert/strict";
import { describe, it } from "node:test";
import { defaultConfig, type EngineConfig } from "../../src/engine/config.js";
import { Engine } from "../../src/engine/engine.js";
import type { Command, EngineEvent } from "../../src/engine/types.js";
import { CommandGenerator, type Scenario, testConfig } from "./generator.js";

/** Runs `count` generated commands on `engine`, feeding its events back to the generator. */
function drive(engine: Engine, generator: CommandGenerator, count: number): Command[] {
  const commands: Command[] = [];
  for (let i = 0; i < count; i++) {
    const command = generator.next();
    const out: EngineEvent[] = [];
    engine.apply(command, out);
    generator.observe(out);
    commands.push(command);
  }
  return commands;
}

function roundTrip(
  config: EngineConfig,
  seed: number,
  before: number,
  after: number,
  without: readonly Scenario[] = [],
): void {
  const generator = new CommandGenerator({ seed, config, without });
  const original = new Engine(config);
  drive(original, generator, before);
  const bytes = original.snapshot();
  ok(bytes instanceof Uint8Array && bytes.length > 0);
  const restored = Engine.restore(config, bytes);
  equal(restored.stateHash(), original.stateHash());
  deepStrictEqual(restored.dump(), original.dump());
  deepStrictEqual(restored.snapshot(), bytes, "a restored engine snapshots to the same bytes");
  // From here on, both see the same commands and must say the same things.
  for (let i = 0; i < after; i++) {
    const command = generator.next();
    const a: EngineEvent[] = [];
    const b: EngineEvent[] = [];
    original.apply(structuredClone(command), a);
    restored.apply(structuredClone(command), b);
    deepStrictEqual(
      b,
      a,
      `command ${before + i} after the restore differs: ${JSON.stringify(command, (_k, v) => (typeof v === "bigint" ? `${v}n` : v))}`,
    );
    generator.observe(a);
  }
  equal(restored.stateHash(), original.stateHash());
  deepStrictEqual(restored.dump(), original.dump());
}

describe("engine snapshot and state hash", () => {
  it("restores a snapshot of 5,000 random commands to the same state and the same future (default markets)", () => {
    roundTrip(defaultConfig, 11, 5000, 3000);
  });

  it("restores a snapshot of 5,000 random commands to the same state and the same future (test markets)", () => {
    // Without the buyers squeezed to their last unit: that path is the differential test's business
    // (a known engine failure, see the report), not the snapshot's.
    roundTrip(testConfig, 12, 5000, 3000, ["feeSqueeze", "allIn", "withdrawAll"]);
  });

  it("restores a fresh engine, and snapshots at several points of one history", () => {
    roundTrip(defaultConfig, 13, 0, 500);
    roundTrip(defaultConfig, 14, 1, 100);
    roundTrip(defaultConfig, 15, 37, 100);
  });

  it("hashes identical histories identically and different ones differently", () => {
    const a = new Engine(defaultConfig);
    const b = new Engine(defaultConfig);
    const ga = new CommandGenerator({ seed: 21, config: defaultConfig });
    const gb = new CommandGenerator({ seed: 21, config: defaultConfig });
    equal(a.stateHash(), b.stateHash());
    ok(/^[0-9a-f]{64}$/.test(a.stateHash()), "a SHA-256 in hex");
    drive(a, ga, 2000);
    drive(b, gb, 2000);
    equal(a.stateHash(), b.stateHash());
    const out: EngineEvent[] = [];
    a.apply({ type: "tick", seq: 1_000_000, time: 1_900_000_000_000 }, out);
    notEqual(a.stateHash(), b.stateHash(), "time is part of the state");
  });

  it("refuses a damaged snapshot: any flipped byte, any truncation", () => {
    const engine = new Engine(defaultConfig);
    drive(engine, new CommandGenerator({ seed: 31, config: defaultConfig }), 2000);
    const bytes = engine.snapshot();
    const positions = new Set([
      0,
      1,
      7,
      8,
      31,
      32,
      64,
      bytes.length - 1,
      bytes.length - 32,
      bytes.length - 33,
    ]);
    for (let k = 1; k < 64; k++) positions.add(Math.floor((bytes.length * k) / 64));
    for (const position of positions) {
      if (position < 0 || position >= bytes.length) continue;
      for (const mask of [0x01, 0x80]) {
        const damaged = bytes.slice();
        damaged[position]! ^= mask;
        throws(() => Engine.restore(defaultConfig, damaged), Error, `byte ${position} ^ ${mask} accepted`);
      }
    }
    for (const length of [0, 1, 8, 32, Math.floor(bytes.length / 2), bytes.length - 32, bytes.length - 1]) {
      throws(
        () => Engine.restore(defaultConfig, bytes.slice(0, length)),
        Error,
        `truncated to ${length} accepted`,
      );
    }
    const longer = new Uint8Array(bytes.length + 1);
    longer.set(bytes);
    throws(() => Engine.restore(defaultConfig, longer), Error, "a trailing byte accepted");
    // The undamaged bytes still restore.
    equal(Engine.restore(defaultConfig, bytes).stateHash(), engine.stateHash());
  });

  it("refuses a snapshot taken under another configuration", () => {
    const engine = new Engine(defaultConfig);
    drive(engine, new CommandGenerator({ seed: 41, config: defaultConfig }), 300);
    const bytes = engine.snapshot();
    throws(() => Engine.restore(testConfig, bytes), Error);
    const feeChanged: EngineConfig = {
      ...defaultConfig,
      markets: defaultConfig.markets.map((m, i) => (i === 0 ? { ...m, takerFeeBps: m.takerFeeBps + 1 } : m)),
    };
    throws(() => Engine.restore(feeChanged, bytes), Error);
  });
});

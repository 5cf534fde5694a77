/**
 * The invariants of test/engine/invariants.ts after every single command of a random stream, on the
 * fast engine and on the reference model (25k commands, on both configurations), and a check that
 * checkInvariants does catch a broken state.
 */
import { throws } from "node:assert/strict";
import { describe, it } from "node:test";
import { defaultConfig } from "../../src/engine/config.js";
import type { EngineDump } from "../../src/engine/dump.js";
import { Engine } from "../../src/engine/engine.js";
import { ReferenceEngine } from "../reference/reference-engine.js";
import { runDifferential } from "./differential.js";
import { testConfig } from "./generator.js";
import { checkInvariants, SupplyTracker } from "./invariants.js";

describe("invariants after every command", () => {
  it("15,000 commands on the default markets, engine and reference", () => {
    runDifferential({
      seed: 424_242,
      commands: 15_000,
      config: defaultConfig,
      subject: (config) => new Engine(config),
      checkEvery: 1,
    });
  });

  it("10,000 commands on the test markets, engine and reference", () => {
    runDifferential({
      seed: 99_991,
      commands: 10_000,
      config: testConfig,
      subject: (config) => new Engine(config),
      checkEvery: 1,
    });
  });
});

describe("checkInvariants", () => {
  /** A small valid state: one deposit, one resting buy. */
  function state(): { dump: EngineDump; supply: SupplyTracker } {
    const engine = new ReferenceEngine(defaultConfig);
    const supply = new SupplyTracker();
    const run = (command: Parameters<ReferenceEngine["apply"]>[0]) => {
      const out: Parameters<ReferenceEngine["apply"]>[1] = [];
      engine.apply(command, out);
      supply.observe(out);
    };
    run({ type: "create_account", seq: 1, time: 1 });
    run({
      type: "deposit",
      seq: 2,
      time: 1,
      accountId: 1,
      asset: "USD",
      amount: 10_000_000,
      transferId: "d",
    });
    run({
      type: "place",
      seq: 3,
      time: 1,
      accountId: 1,
      symbol: "BTC-USD",
      side: "buy",
      orderType: "limit",
      price: 3_000_000,
      stopPrice: 0,
      quantity: 2,
      quoteQuantity: 0,
      timeInForce: "GTC",
      expireTime: 0,
      postOnly: false,
      clientOrderId: "",
      selfTradePrevention: "cancel_taker",
    });
    return { dump: engine.dump(), supply };
  }

  it("accepts a valid state", () => {
    const { dump, supply } = state();
    checkInvariants(dump, defaultConfig, supply.supply);
  });

  it("catches money created, a wrong lock, a crossed or inconsistent book", () => {
    const cases: [string, (d: EngineDump) => void][] = [
      ["created", (d) => (d.accounts[1]!.balances[0]![0] = "99999999")],
      ["negative", (d) => (d.accounts[0]!.balances[0]![0] = "-1")],
      ["lock", (d) => (d.orders[0]!.hold = "1")],
      ["missing from book", (d) => (d.markets[0]!.bids = [])],
      ["empty level", (d) => d.markets[0]!.bids.push([1, []])],
      ["wrong level", (d) => (d.markets[0]!.bids[0]![0] = 2_999_999)],
      ["crossed", (d) => d.markets[0]!.asks.push([2_999_999, [1]])],
      ["stop", (d) => d.markets[0]!.stops.push(1)],
      ["status", (d) => (d.orders[0]!.status = "partially_filled")],
    ];
    for (const [name, damage] of cases) {
      const { dump, supply } = state();
      damage(dump);
      throws(() => checkInvariants(dump, defaultConfig, supply.supply), /invariant violated/, name);
    }
  });
});

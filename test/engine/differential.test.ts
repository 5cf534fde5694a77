/**
 * The fast engine against the reference model over 100k seeded commands (60k on the default
 * markets, 40k on the rough-edged test configuration): identical events after every command,
 * identical dumps every 1,000 commands and at the end. A failure names the seed, the command index,
 * the command and both event lists; `npm run fuzz:engine -- --seed S` replays longer streams.
 */
import { ok } from "node:assert/strict";
import { describe, it } from "node:test";
import { defaultConfig } from "../../src/engine/config.js";
import { Engine } from "../../src/engine/engine.js";
import { type DifferentialStats, runDifferential } from "./differential.js";
import { testConfig } from "./generator.js";

/** The stream must keep reaching the paths worth comparing, or a passing run proves little. */
function assertCoverage(stats: DifferentialStats): void {
  ok(stats.trades > stats.commands / 10, `only ${stats.trades} trades`);
  for (const reason of [
    "placed",
    "triggered",
    "traded",
    "amended",
    "cancelled",
    "self_trade",
    "expired_ioc",
    "expired_fok",
    "expired_gtd",
    "insufficient_funds",
  ]) {
    ok((stats.reasons[reason] ?? 0) > 0, `no order event with reason ${reason}`);
  }
  for (const code of [
    "UNKNOWN_ACCOUNT",
    "UNKNOWN_SYMBOL",
    "UNKNOWN_ASSET",
    "ORDER_NOT_FOUND",
    "INVALID_PRICE",
    "INVALID_STOP_PRICE",
    "INVALID_QUANTITY",
    "INVALID_ORDER_TYPE",
    "INVALID_TIME_IN_FORCE",
    "INVALID_EXPIRE_TIME",
    "INVALID_CLIENT_ORDER_ID",
    "INVALID_TRANSFER_ID",
    "INVALID_AMOUNT",
    "MIN_NOTIONAL",
    "AMOUNT_OVERFLOW",
    "TRANSFER_ID_CONFLICT",
    "INSUFFICIENT_FUNDS",
    "POST_ONLY_WOULD_TAKE",
  ]) {
    ok((stats.rejected[code] ?? 0) > 0, `no rejection ${code}`);
  }
  ok(stats.duplicateOrders > 0 && stats.duplicateTransfers > 0, "no duplicate clientOrderId or transferId");
  ok(stats.bigintEvents > 0, "no amount beyond 2^53");
}

describe("differential: fast engine = reference model", () => {
  it("60,000 commands on the default markets", () => {
    const stats = runDifferential({
      seed: 20_260_101,
      commands: 60_000,
      config: defaultConfig,
      subject: (config) => new Engine(config),
    });
    assertCoverage(stats);
  });

  it("40,000 commands on the test markets (maker fee above taker, bigint notionals)", () => {
    const stats = runDifferential({
      seed: 7_031_977,
      commands: 40_000,
      config: testConfig,
      subject: (config) => new Engine(config),
    });
    assertCoverage(stats);
  });
});

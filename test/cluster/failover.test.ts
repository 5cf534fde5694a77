/**
 * Failover under load, real processes (test/cluster/failover.ts): 20 rounds of kill -9 of the
 * leader in CI; `npm run failover:redis` runs 100.
 */
import assert from "node:assert/strict";
import { it } from "node:test";
import { runFailover } from "./failover.js";

it("kill -9 the leader under load, 20 rounds: no acknowledged order lost or applied twice, hash = clean replay", async () => {
  const report = await runFailover({
    rounds: Number(process.env.BOURSE_FAILOVER_ROUNDS ?? 20),
    seed: Number(process.env.BOURSE_FAILOVER_SEED ?? 1),
    minRunMs: 150,
    maxRunMs: 900,
    log: (line) => process.stdout.write(`${line}\n`),
  });
  process.stdout.write(
    `# ${report.acked} orders acknowledged, ${report.commands} commands in the log, ${report.duplicatesAnswered} resends answered as duplicates; ` +
      `failover p50 ${report.failoverMsP50.toFixed(0)} ms, max ${report.failoverMsMax.toFixed(0)} ms\n`,
  );
  assert.ok(report.acked > 0);
  assert.equal(report.failoverMs.length, report.rounds);
});

/**
 * CI's share of the deterministic simulation: 1,000 seeds (JOURNAL_SIM_SEEDS to change, JOURNAL_SIM_SEED
 * to replay one). `npm run sim:journal` runs 10,000.
 */
import assert from "node:assert/strict";
import { it } from "node:test";
import { runSeed, runSeeds } from "./simulation.js";

const one = process.env.JOURNAL_SIM_SEED;
const count = Number(process.env.JOURNAL_SIM_SEEDS ?? 1_000);

if (one !== undefined) {
  it(`journal simulation, seed ${one}`, async () => {
    const report = await runSeed(Number(one));
    console.log(JSON.stringify(report));
  });
} else {
  it(`journal simulation: ${count} seeds, crashes, torn writes, fsync failures; nothing acknowledged is lost`, async () => {
    const reports = await runSeeds(1, count);
    const total = (k: "acked" | "crashes" | "faults" | "snapshots" | "commands") =>
      reports.reduce((s, r) => s + r[k], 0);
    assert.equal(reports.length, count);
    assert.ok(total("crashes") > count, "crashes happen");
    assert.ok(total("snapshots") > 0, "snapshots happen");
    console.log(
      `journal simulation: ${count} seeds, ${total("commands")} commands, ${total("acked")} acknowledged, ` +
        `${total("crashes")} crashes, ${total("faults")} injected faults, ${total("snapshots")} snapshots`,
    );
  });
}

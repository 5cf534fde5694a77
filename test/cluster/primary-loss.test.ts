/**
 * Kill the Redis primary under load and promote its replica (test/cluster/primary-loss.ts). With
 * aof-always+wait every acknowledged order survives the promotion; nothing is acknowledged while
 * no server can confirm it. aof-always (no WAIT) is run too and its losses reported, not asserted:
 * it promises nothing across a failover (docs/cluster.md).
 */
import assert from "node:assert/strict";
import { it } from "node:test";
import { runPrimaryLoss } from "./primary-loss.js";

const note = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

it("aof-always+wait: after the primary is killed and the replica promoted, no acknowledged order is lost", async () => {
  const r = await runPrimaryLoss("aof-always+wait", 1, 300, note);
  note(
    `aof-always+wait: ${r.acked} acknowledged, ${r.lost} lost, outage ${r.outageMs.toFixed(0)} ms, epoch ${r.epochBefore} → ${r.epochAfter}`,
  );
  assert.equal(r.lost, 0);
});

it("aof-always without WAIT: the same failover, losses counted (no promise across a failover)", async () => {
  const r = await runPrimaryLoss("aof-always", 2, 300, note);
  note(
    `aof-always: ${r.acked} acknowledged, ${r.lost} LOST by the promotion, outage ${r.outageMs.toFixed(0)} ms`,
  );
  assert.ok(r.acked > 0);
});

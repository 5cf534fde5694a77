/**
 * The API node's pipeline over a cluster (src/cluster/remote-pipeline.ts), against real engine nodes:
 * replies carry the engine's events with their exact types, the views' listener sees each batch
 * before its submitters hear back, the local engine's state is the leader's, and a kill -9 of the
 * leader is ridden out by resending (clientOrderId) to the new one.
 */
import assert from "node:assert/strict";
import { after, before, it } from "node:test";
import { RemotePipeline } from "../../src/cluster/remote-pipeline.js";
import type { EngineEvent } from "../../src/engine/types.js";
import { NodeProcess, nodeStateHash } from "./harness.js";
import { startReplicatedRedis } from "./redis-servers.js";

let redis: Awaited<ReturnType<typeof startReplicatedRedis>>;
const nodes: NodeProcess[] = [];
let journal = "";
const args = ["--lease-ms", "600", "--poll-ms", "25", "--snapshot-every", "0"];

before(async () => {
  redis = await startReplicatedRedis(1);
  journal = `${redis.primary.url}?namespace=api`;
  nodes.push(NodeProcess.start(journal, "a", args));
  await nodes[0]!.waitFor((e) => e.event === "leader", 20_000, "leadership");
  nodes.push(NodeProcess.start(journal, "b", args));
  await nodes[1]!.waitFor((e) => e.event === "standby", 20_000, "standby");
});

after(async () => {
  for (const n of nodes) await n.kill("SIGKILL");
  await redis?.stop();
});

function place(accountId: number, clientOrderId: string, side: "buy" | "sell", price: number) {
  return {
    type: "place",
    accountId,
    symbol: "BTC-USD",
    side,
    orderType: "limit",
    price,
    stopPrice: 0,
    quantity: 5,
    quoteQuantity: 0,
    timeInForce: "GTC",
    expireTime: 0,
    postOnly: false,
    clientOrderId,
    selfTradePrevention: "cancel_taker",
  } as const;
}

it("submits through the leader; listeners see each batch first; the local engine is the leader's; survives a leader kill", async () => {
  const pipeline = await RemotePipeline.open({ journal, pollMs: 25 });
  const seen: EngineEvent[] = [];
  pipeline.onDurable((events) => seen.push(...events));
  const created = await Promise.all([
    pipeline.submit({ type: "create_account" }),
    pipeline.submit({ type: "create_account" }),
  ]);
  const ids = created.map((events) => {
    const e = events.find((x) => x.type === "account_created");
    assert.ok(e !== undefined && e.type === "account_created");
    return e.accountId;
  });
  const big = 2n ** 60n; // above 2^53: a bigint, and it comes back as one (the follower's own events)
  const deposit = await pipeline.submit({
    type: "deposit",
    accountId: ids[0]!,
    asset: "USD",
    amount: big,
    transferId: "t1",
  });
  const balance = deposit.find((e) => e.type === "balance");
  assert.ok(balance !== undefined && balance.type === "balance" && typeof balance.available === "bigint");
  await pipeline.submit({
    type: "deposit",
    accountId: ids[1]!,
    asset: "BTC",
    amount: 10 ** 12,
    transferId: "t2",
  });
  const resting = await pipeline.submit(place(ids[1]!, "s1", "sell", 5_000_000));
  assert.ok(
    seen.some((e) => e === resting[0]),
    "the listener saw the batch before the submitter",
  );
  const trade = await pipeline.submit(place(ids[0]!, "b1", "buy", 5_000_000));
  assert.ok(trade.some((e) => e.type === "trade"));

  // Kill the leader with an order in flight: the order is resent (same clientOrderId) to the new leader.
  const inFlight = pipeline.submit(place(ids[1]!, "s2", "sell", 5_100_000));
  await nodes[0]!.kill("SIGKILL");
  const after = await inFlight;
  const placed = after.find(
    (e) => (e.type === "order" && e.reason === "placed") || e.type === "duplicate_order",
  );
  assert.ok(placed !== undefined, JSON.stringify(after));
  await nodes[1]!.waitFor((e) => e.event === "leader", 20_000, "takeover");
  await pipeline.submit(place(ids[1]!, "s3", "sell", 5_200_000));

  const leader = await nodeStateHash(String(nodes[1]!.events.find((e) => e.event === "listening")!.address));
  for (let i = 0; i < 100 && pipeline.engine.lastSeq < leader.seq; i++)
    await new Promise((r) => setTimeout(r, 20));
  assert.equal(pipeline.engine.lastSeq, leader.seq);
  assert.equal(pipeline.engine.stateHash(), leader.hash, "the API node's engine is the leader's state");
  await pipeline.close();
});

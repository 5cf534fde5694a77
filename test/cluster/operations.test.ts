/**
 * Operating a cluster, real processes: `bourse cluster status`, `bourse cluster failover` (planned
 * handover under load), and fencing: the leader is frozen with SIGSTOP until the standby takes over,
 * then SIGCONT: its appends are refused by the log (epoch check) and it steps down to standby.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { LeaderClient } from "../../src/cluster/leader-client.js";
import type { ClusterStatus } from "../../src/cluster/status.js";
import { RedisLog } from "../../src/journal/redis-log.js";
import { checkLog, NodeProcess, nodeStateHash, OrderLoad } from "./harness.js";
import { startReplicatedRedis } from "./redis-servers.js";

const cli = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));
const run = promisify(execFile);
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe("cluster operations", () => {
  let redis: Awaited<ReturnType<typeof startReplicatedRedis>>;
  let journal = "";
  const nodes: NodeProcess[] = [];
  let client: LeaderClient;
  let load: OrderLoad;
  const nodeArgs = [
    "--lease-ms",
    "600",
    "--poll-ms",
    "25",
    "--checkpoint-every",
    "500",
    "--snapshot-every",
    "0",
  ];
  const addressOf = (n: NodeProcess): string =>
    String(n.events.find((e) => e.event === "listening")!.address);
  const leader = (): NodeProcess => nodes.find((n) => n.alive && n.isLeader)!;
  const standby = (): NodeProcess => nodes.find((n) => n.alive && !n.isLeader)!;

  before(async () => {
    redis = await startReplicatedRedis(1);
    journal = `${redis.primary.url}?namespace=ops`;
    nodes.push(NodeProcess.start(journal, "a", nodeArgs));
    await nodes[0]!.waitFor((e) => e.event === "leader", 20_000, "leadership");
    nodes.push(NodeProcess.start(journal, "b", nodeArgs));
    await nodes[1]!.waitFor((e) => e.event === "standby", 20_000, "standby");
    client = await LeaderClient.connect({ journal, deadlineMs: 15_000, requestTimeoutMs: 1_000 });
    load = new OrderLoad(client, await OrderLoad.setup(client, 6), 11);
    load.start(6, 4, 0);
  });

  after(async () => {
    await load?.stop();
    await client?.close();
    for (const n of nodes) await n.kill("SIGKILL");
    await redis?.stop();
  });

  it("cluster status shows the leader, the epoch, each node's lag and equal state-hash checkpoints", async () => {
    await sleep(1_500);
    const { stdout } = await run(process.execPath, [
      cli,
      "cluster",
      "status",
      "--journal",
      journal,
      "--json",
    ]);
    const status = JSON.parse(stdout) as ClusterStatus;
    assert.equal(status.lease?.holder, leader().nodeId);
    assert.equal(status.head.epoch, 1);
    const b = status.nodes.find((n) => n.nodeId === "b")!;
    assert.equal(b.role, "standby");
    assert.ok(b.checkpoints > 0, "the standby compared checkpoints");
    assert.equal(b.mismatches, 0);
    assert.equal(b.lastCheckpoint!.leader, b.lastCheckpoint!.own);
    const text = await run(process.execPath, [cli, "cluster", "status", "--journal", journal]);
    assert.match(text.stdout, /leader\s+a at http/);
    assert.match(text.stdout, /b\s+standby .* equal at seq/);
  });

  it("cluster failover hands over under load: the leader drains, the standby takes over", async () => {
    const before = leader();
    const after = standby();
    const { stdout } = await run(process.execPath, [cli, "cluster", "failover", "--journal", journal]);
    assert.match(stdout, new RegExp(`failover: ${before.nodeId} \\(epoch \\d+\\) → ${after.nodeId}`));
    await before.waitFor((e) => e.event === "stepped-down" && e.clean === true, 10_000, "a clean step-down");
    await before.waitFor(
      (e) => e.event === "standby" && before.events.indexOf(e) > 2,
      10_000,
      "standby again",
    );
    await sleep(500);
    assert.ok(after.isLeader);
  });

  it("fencing: SIGSTOP the leader until the standby takes over; after SIGCONT its appends are refused and it steps down", async () => {
    let refused = 0;
    for (let cycle = 1; cycle <= 3 && refused === 0; cycle++) {
      const frozen = leader();
      const next = standby();
      const epoch = Number([...frozen.events].reverse().find((e) => e.event === "leader")!.epoch);
      const seen = frozen.events.length;
      frozen.child.kill("SIGSTOP");
      await next.waitFor((e) => e.event === "leader" && Number(e.epoch) > epoch, 20_000, "takeover");
      await sleep(300); // the new leader appends under its epoch meanwhile
      // An order sent straight to the frozen leader: it is read when the process resumes.
      const direct = fetch(`${addressOf(frozen)}/v1/commands`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ commands: [load.order()] }),
      }).then(
        async (r) =>
          (await r.json()) as { results?: { error?: string; retryable?: boolean }[]; error?: string },
      );
      await sleep(50);
      frozen.child.kill("SIGCONT");
      const answer = await direct;
      const code = answer.results?.[0]?.error ?? answer.error;
      assert.ok(
        code === "JOURNAL_FENCED" || code === "NOT_LEADER",
        `the deposed leader answered ${JSON.stringify(answer)}`,
      );
      const down = await frozen.waitFor(
        (e) => e.event === "stepped-down" && frozen.events.indexOf(e) >= seen,
        10_000,
        "step-down after SIGCONT",
      );
      assert.notEqual(down.clean, undefined);
      if (frozen.events.slice(seen).some((e) => e.event === "append-refused")) refused++;
      process.stdout.write(
        `cycle ${cycle}: the resumed leader answered ${code}; appends refused so far: ${refused}\n`,
      );
      await frozen.waitFor(
        (e) => e.event === "standby" && frozen.events.indexOf(e) >= seen,
        20_000,
        "standby again",
      );
    }
    assert.ok(refused > 0, "a deposed leader's append was refused with FENCED at least once in 3 cycles");
    // Along the log, epochs only go up: nothing from a deposed leader after its successor's first entry.
    const log = await RedisLog.connect({ url: redis.primary.url, namespace: "ops" });
    let last = 0;
    for (let after = "-"; ; ) {
      const entries = await log.entriesAfter(after, 1_000);
      if (entries.length === 0) break;
      for (const e of entries) {
        assert.ok(e.epoch >= last, `entry ${e.id} of epoch ${e.epoch} after epoch ${last}`);
        last = e.epoch;
        after = e.id;
      }
    }
    await log.close();
  });

  it("after all of it: every acknowledged order is in the log once, and the leader's hash is a clean replay's", async () => {
    await load.stop();
    const final = await nodeStateHash(addressOf(leader()));
    const check = await checkLog(journal, load.acks.values(), [final.seq]);
    assert.equal(check.commands, final.seq);
    assert.equal(check.hashAt.get(final.seq), final.hash);
    assert.ok(check.acksChecked > 100);
  });
});

/**
 * Losing the Redis primary under load, real processes: engine nodes reach Redis through a TCP proxy
 * that stands in for a managed endpoint. The primary (with two replicas) is killed with SIGKILL, one
 * replica promoted (REPLICAOF NO ONE) after `promoteAfterMs`, the endpoint moved to it and the other
 * replica pointed at it, as Sentinel or a managed service would. Then:
 *   - which acknowledged orders the promoted replica's log still has (with aof-always+wait: all;
 *     with aof-always alone there is no such promise: they are counted);
 *   - the outage seen by clients: primary killed → first order acknowledged afterwards;
 *   - the leader afterwards has the state hash of a clean replay of the promoted log.
 */
import { LeaderClient } from "../../src/cluster/leader-client.js";
import type { Durability } from "../../src/journal/redis-journal.js";
import { Prng } from "../../src/platform/prng.js";
import { checkLog, NodeProcess, nodeStateHash, OrderLoad } from "./harness.js";
import { type RedisServer, startReplicatedRedis } from "./redis-servers.js";
import { TcpProxy } from "./tcp-proxy.js";

export interface PrimaryLossReport {
  durability: Durability;
  acked: number;
  lost: number;
  outageMs: number;
  epochBefore: number;
  epochAfter: number;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function replicaOffset(replica: RedisServer): Promise<number> {
  const info = String(await replica.command(["INFO", "replication"]));
  return Number(/slave_repl_offset:(\d+)/.exec(info)?.[1] ?? 0);
}

export async function runPrimaryLoss(
  durability: Durability,
  seed: number,
  promoteAfterMs = 300,
  log: (line: string) => void = () => {},
): Promise<PrimaryLossReport> {
  const random = new Prng(seed);
  // Two replicas: one is promoted, the other follows it, so WAIT 1 can be met again afterwards
  // (with a single replica, WAIT 1 cannot be met until a new one is attached: writes stop).
  const redis = await startReplicatedRedis(2);
  const proxy = await TcpProxy.start(redis.primary.port);
  const journal = `${proxy.url}?durability=${encodeURIComponent(durability)}&namespace=loss`;
  const args = [
    "--lease-ms",
    "600",
    "--poll-ms",
    "25",
    "--checkpoint-every",
    "1000",
    "--snapshot-every",
    "0",
  ];
  const nodes = [NodeProcess.start(journal, "a", args)];
  let client: LeaderClient | null = null;
  let load: OrderLoad | null = null;
  try {
    await nodes[0]!.waitFor((e) => e.event === "leader", 20_000, "leadership");
    nodes.push(NodeProcess.start(journal, "b", args));
    await nodes[1]!.waitFor((e) => e.event === "standby", 20_000, "standby");
    client = await LeaderClient.connect({ journal, deadlineMs: 20_000, requestTimeoutMs: 2_000 });
    load = new OrderLoad(client, await OrderLoad.setup(client, 6), seed);
    load.start(6, 4, 0);
    await sleep(random.range(800, 1_600));
    const epochBefore = Number((await redis.primary.command(["HGET", "{loss}:meta", "epoch"])) ?? 0);
    const killedAt = performance.now();
    await redis.primary.kill();
    await sleep(promoteAfterMs);
    // Promote the replica that has received the most (as Sentinel does): WAIT 1 promises that one
    // replica holds each acknowledged batch, not which one.
    const offsets = await Promise.all(redis.replicas.map(async (r) => replicaOffset(r)));
    const best = offsets.indexOf(Math.max(...offsets));
    const replica = redis.replicas[best]!;
    const other = redis.replicas[1 - best]!;
    await replica.command(["REPLICAOF", "NO", "ONE"]);
    const promotedAt = performance.now();
    proxy.retarget(replica.port);
    await other.command(["REPLICAOF", "127.0.0.1", String(replica.port)]);
    log(`${durability}: primary killed, replica promoted ${(promotedAt - killedAt).toFixed(0)} ms later`);
    let firstAck = Number.POSITIVE_INFINITY;
    for (const deadline = performance.now() + 20_000; performance.now() < deadline; await sleep(10)) {
      for (const ack of load.acks.values())
        if (ack.atMs > promotedAt && ack.atMs < firstAck) firstAck = ack.atMs;
      if (firstAck !== Number.POSITIVE_INFINITY) break;
    }
    if (firstAck === Number.POSITIVE_INFINITY) throw new Error("no order acknowledged after the promotion");
    await sleep(800);
    await load.stop();
    const leader = nodes.find((n) => n.alive && n.isLeader);
    if (leader === undefined) throw new Error("no leader after the promotion");
    const final = await nodeStateHash(String(leader.events.find((e) => e.event === "listening")!.address));
    const check = await checkLog(journal, load.acks.values(), [final.seq], { countLost: true });
    if (check.hashAt.get(final.seq) !== final.hash)
      throw new Error(
        "after the promotion, the leader's state hash differs from a clean replay of the promoted log",
      );
    const epochAfter = Number((await replica.command(["HGET", "{loss}:meta", "epoch"])) ?? 0);
    return {
      durability,
      acked: load.acks.size,
      lost: check.lost.length,
      outageMs: firstAck - killedAt,
      epochBefore,
      epochAfter,
    };
  } finally {
    await load?.stop();
    await client?.close();
    for (const n of nodes) await n.kill("SIGKILL");
    await proxy.close();
    await redis.stop();
  }
}

/**
 * Failover under load with real processes: a redis-server primary (appendonly yes, appendfsync
 * always) with one replica, two engine nodes (`bourse standby`), orders flowing through the
 * LeaderClient. Each round kills the leader with SIGKILL at a random moment, waits for the standby
 * to take over (and measures leader killed → first order acknowledged by the new leader), and
 * starts the killed node again as the new standby. At the end:
 *   - every acknowledged order is in the log under the orderId it was acknowledged with (none lost);
 *   - no clientOrderId was placed twice (none applied twice; retries are answered as duplicates);
 *   - the leader's state hash equals a clean replay of the log (fresh engine, seq 1 on) at its seq;
 *   - no standby ever saw a state-hash checkpoint differ.
 */
import { LeaderClient } from "../../src/cluster/leader-client.js";
import { Prng } from "../../src/platform/prng.js";
import { checkLog, NodeProcess, nodeStateHash, OrderLoad, percentile } from "./harness.js";
import { startReplicatedRedis } from "./redis-servers.js";

export interface FailoverOptions {
  rounds: number;
  seed: number;
  /** Lease TTL of the nodes (the failover time is mostly this). */
  leaseMs?: number;
  /** Load: concurrent senders × orders per request, pause between requests. */
  loops?: number;
  batch?: number;
  pauseMs?: number;
  /** Random wait before each kill. */
  minRunMs?: number;
  maxRunMs?: number;
  log?: (line: string) => void;
}

export interface FailoverReport {
  rounds: number;
  acked: number;
  commands: number;
  duplicatesAnswered: number;
  failoverMs: number[];
  failoverMsP50: number;
  failoverMsMax: number;
  takeoverMs: number[];
  ackP50Ms: number;
  ackP99Ms: number;
  failures: Record<string, number>;
  finalHash: string;
  finalSeq: number;
}

export async function runFailover(options: FailoverOptions): Promise<FailoverReport> {
  const log = options.log ?? (() => {});
  const random = new Prng(options.seed);
  const redis = await startReplicatedRedis(1);
  const journal = `${redis.primary.url}?durability=aof-always%2Bwait&replicas=1&namespace=failover`;
  const nodeArgs = [
    "--lease-ms",
    String(options.leaseMs ?? 600),
    "--poll-ms",
    "25",
    "--checkpoint-every",
    "2000",
    "--snapshot-every",
    "0",
  ];
  const nodes: NodeProcess[] = [];
  let client: LeaderClient | null = null;
  let load: OrderLoad | null = null;
  let nodeCount = 0;
  const startNode = (): NodeProcess => {
    const node = NodeProcess.start(journal, `n${++nodeCount}`, nodeArgs);
    nodes.push(node);
    return node;
  };
  try {
    const first = startNode();
    await first.waitFor((e) => e.event === "leader", 20_000, "leadership");
    const second = startNode();
    await second.waitFor((e) => e.event === "standby", 20_000, "standby start");
    client = await LeaderClient.connect({ journal, deadlineMs: 15_000, requestTimeoutMs: 3_000 });
    const accounts = await OrderLoad.setup(client, 8);
    load = new OrderLoad(client, accounts, options.seed);
    load.start(options.loops ?? 3, options.batch ?? 8, options.pauseMs ?? 2);
    const failoverMs: number[] = [];
    const takeoverMs: number[] = [];
    for (let round = 1; round <= options.rounds; round++) {
      await new Promise((resolve) =>
        setTimeout(resolve, random.range(options.minRunMs ?? 200, options.maxRunMs ?? 1_200)),
      );
      const leader = nodes.find((n) => n.alive && n.isLeader);
      const standby = nodes.find((n) => n.alive && !n.isLeader);
      if (leader === undefined || standby === undefined)
        throw new Error(`round ${round}: no leader/standby pair`);
      const leaderEvent = [...leader.events].reverse().find((e) => e.event === "leader")!;
      const oldEpoch = Number(leaderEvent.epoch);
      const ackedBefore = load.acks.size;
      const killedAt = performance.now();
      await leader.kill("SIGKILL");
      const took = await standby.waitFor(
        (e) => e.event === "leader" && Number(e.epoch) > oldEpoch,
        20_000,
        "takeover",
      );
      takeoverMs.push(Number(took.tookOverMs));
      // Leader killed → the first order acknowledged by the new leader.
      const deadline = performance.now() + 20_000;
      let firstAck = Number.POSITIVE_INFINITY;
      while (performance.now() < deadline) {
        for (const ack of load.acks.values())
          if (ack.epoch > oldEpoch && ack.atMs < firstAck) firstAck = ack.atMs;
        if (firstAck !== Number.POSITIVE_INFINITY) break;
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      if (firstAck === Number.POSITIVE_INFINITY)
        throw new Error(`round ${round}: no order acknowledged after the takeover`);
      failoverMs.push(firstAck - killedAt);
      const replacement = startNode();
      await replacement.waitFor((e) => e.event === "standby", 30_000, "standby start");
      log(
        `round ${round}: killed ${leader.nodeId} (epoch ${oldEpoch}) after ${ackedBefore} acks; ${standby.nodeId} leads epoch ${took.epoch} from seq ${took.seq}; ` +
          `first ack ${(firstAck - killedAt).toFixed(0)} ms after the kill (takeover itself ${Number(took.tookOverMs).toFixed(1)} ms); ${replacement.nodeId} standing by`,
      );
    }
    await load.stop();
    const leader = nodes.find((n) => n.alive && n.isLeader)!;
    const address = String(leader.events.find((e) => e.event === "listening")!.address);
    const final = await nodeStateHash(address);
    const check = await checkLog(journal, load.acks.values(), [final.seq]);
    if (check.commands !== final.seq)
      throw new Error(`the log holds ${check.commands} commands, the leader is at seq ${final.seq}`);
    if (check.hashAt.get(final.seq) !== final.hash)
      throw new Error(`the leader's state hash at seq ${final.seq} differs from a clean replay of the log`);
    for (const n of nodes.filter((x) => x.alive)) {
      const status = (await (
        await fetch(`${String(n.events.find((e) => e.event === "listening")!.address)}/v1/status`)
      ).json()) as {
        follower: { mismatches: number } | null;
      };
      if ((status.follower?.mismatches ?? 0) > 0)
        throw new Error(`node ${n.nodeId} saw a state-hash mismatch`);
    }
    return {
      rounds: options.rounds,
      acked: load.acks.size,
      commands: check.commands,
      duplicatesAnswered: check.duplicates,
      failoverMs,
      failoverMsP50: percentile(failoverMs, 50),
      failoverMsMax: Math.max(...failoverMs),
      takeoverMs,
      ackP50Ms: percentile(load.latenciesMs, 50),
      ackP99Ms: percentile(load.latenciesMs, 99),
      failures: Object.fromEntries(load.failures),
      finalHash: final.hash,
      finalSeq: final.seq,
    };
  } finally {
    await load?.stop();
    await client?.close();
    for (const n of nodes) await n.kill("SIGKILL");
    await redis.stop();
  }
}

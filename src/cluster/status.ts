/**
 * What `bourse cluster status` and `bourse cluster failover` read and write in Redis: the log's head
 * and epoch, the lease, the nodes' status keys ({ns}:node:<id>, refreshed every 250 ms, expiring
 * after 5 s), the snapshots; and the handover request a planned failover leaves for the leader.
 */
import { performance } from "node:perf_hooks";
import { parseRedisLocation } from "../journal/open-journal.js";
import { type LogHead, RedisLog } from "../journal/redis-log.js";
import { listRedisSnapshots } from "../journal/redis-snapshots.js";

export interface NodeStatus {
  nodeId: string;
  role: string;
  address: string;
  epoch: number;
  seq: number;
  /** Commands behind the log's head. */
  lag: number;
  checkpoints: number;
  mismatches: number;
  lastCheckpoint: { seq: number; leader: string; own: string } | null;
  snapshots: number;
  updatedMsAgo: number;
}

export interface ClusterStatus {
  log: string;
  head: LogHead;
  lease: { holder: string; ttlMs: number } | null;
  nodes: NodeStatus[];
  snapshots: { seq: number; bytes: number; writtenMsAgo: number }[];
  firstEntry: string | null;
}

async function withLog<T>(journal: string, use: (log: RedisLog) => Promise<T>): Promise<T> {
  const location = parseRedisLocation(journal);
  const log = await RedisLog.connect({
    url: location.url,
    namespace: location.namespace,
    clientName: "bourse-cli",
  });
  try {
    return await use(log);
  } finally {
    await log.close();
  }
}

export function clusterStatus(journal: string): Promise<ClusterStatus> {
  return withLog(journal, async (log) => {
    const head = await log.head();
    const lease = await log.lease();
    const ids = (await log.command(["SMEMBERS", log.keys.nodes])) as string[];
    const nodes: NodeStatus[] = [];
    for (const id of ids.sort()) {
      const raw = (await log.command(["HGETALL", log.keys.node(id)])) as Record<string, string> | string[];
      const h: Record<string, string> = Array.isArray(raw)
        ? Object.fromEntries(raw.flatMap((v, i) => (i % 2 === 0 ? [[v, raw[i + 1]!]] : [])))
        : raw;
      if (h.nodeId === undefined) {
        await log.command(["SREM", log.keys.nodes, id]); // its status expired: the node is gone
        continue;
      }
      const seq = Number(h.seq ?? 0);
      nodes.push({
        nodeId: id,
        role: h.role ?? "?",
        address: h.address ?? "",
        epoch: Number(h.epoch ?? 0),
        seq,
        lag: Math.max(0, head.seq - seq),
        checkpoints: Number(h.checkpoints ?? 0),
        mismatches: Number(h.mismatches ?? 0),
        lastCheckpoint: JSON.parse(h.lastCheckpoint ?? "null") as NodeStatus["lastCheckpoint"],
        snapshots: Number(h.snapshots ?? 0),
        updatedMsAgo: Date.now() - Number(h.updatedMs ?? 0),
      });
    }
    const snapshots = (await listRedisSnapshots(log)).map((m) => ({
      seq: m.lastSeq,
      bytes: m.bytes,
      writtenMsAgo: Date.now() - m.writtenAtMs,
    }));
    return { log: log.url, head, lease, nodes, snapshots, firstEntry: await log.firstEntryId() };
  });
}

export function formatStatus(s: ClusterStatus): string {
  const lines = [
    `log       ${s.log} ${s.head.seq === 0 ? "(empty)" : `head seq ${s.head.seq}`}, first entry ${s.firstEntry ?? "-"}`,
    `leader    ${s.lease === null ? "NONE (lease free)" : `${s.lease.holder} at ${s.head.address || "?"}, lease ${s.lease.ttlMs} ms left`}`,
    `epoch     ${s.head.epoch}`,
    `snapshots ${s.snapshots.length === 0 ? "none" : s.snapshots.map((x) => `seq ${x.seq} (${x.bytes} bytes)`).join(", ")}`,
    "",
    "node                 role           epoch        seq      lag  state hash check",
  ];
  for (const n of s.nodes) {
    const check =
      n.lastCheckpoint === null
        ? n.role === "leader"
          ? "publishes"
          : "no checkpoint yet"
        : n.mismatches > 0
          ? `MISMATCH ×${n.mismatches} (last at seq ${n.lastCheckpoint.seq}: leader ${n.lastCheckpoint.leader.slice(0, 12)}…, here ${n.lastCheckpoint.own.slice(0, 12)}…)`
          : `equal at seq ${n.lastCheckpoint.seq} (${n.lastCheckpoint.own.slice(0, 16)}…), ${n.checkpoints} compared`;
    lines.push(
      `${n.nodeId.padEnd(20)} ${n.role.padEnd(14)} ${String(n.epoch).padStart(5)} ${String(n.seq).padStart(10)} ${String(n.lag).padStart(8)}  ${check}`,
    );
  }
  return `${lines.join("\n")}\n`;
}

export interface FailoverResult {
  from: string;
  fromEpoch: number;
  to: string;
  toEpoch: number;
  ms: number;
}

/** Asks the leader to hand over and waits until another node holds a newer epoch. */
export function requestFailover(
  journal: string,
  to: string | undefined,
  timeoutMs: number,
): Promise<FailoverResult> {
  return withLog(journal, async (log) => {
    const before = await log.head();
    const lease = await log.lease();
    if (lease === null) throw new Error("no leader holds the lease: nothing to hand over");
    const started = performance.now();
    await log.command(["SET", log.keys.handover, JSON.stringify({ to: to ?? "" }), "PX", String(timeoutMs)]);
    for (;;) {
      const head = await log.head();
      const now = await log.lease();
      if (head.epoch > before.epoch && now !== null && now.holder !== lease.holder) {
        return {
          from: lease.holder,
          fromEpoch: before.epoch,
          to: now.holder,
          toEpoch: head.epoch,
          ms: performance.now() - started,
        };
      }
      if (performance.now() - started > timeoutMs) {
        await log.command(["DEL", log.keys.handover]);
        throw new Error(`no standby took over within ${timeoutMs} ms (is one running and caught up?)`);
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  });
}

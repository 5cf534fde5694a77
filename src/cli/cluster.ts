/**
 * The cluster commands (docs/cluster.md):
 *
 *   bourse standby --journal redis://…          an engine node: hot standby, leader when the lease is free
 *   bourse cluster status --journal redis://…   leader, epoch, lease, each node's lag and state-hash check
 *   bourse cluster failover --journal redis://… planned handover (the leader drains, frees the lease)
 */
import os from "node:os";
import type { Command } from "commander";
import { parseRedisCacheUrl } from "../cache/redis-connection.js";
import { ClusterNode } from "../cluster/engine-node.js";
import { clusterStatus, formatStatus, requestFailover } from "../cluster/status.js";
import { defaultConfig, type EngineConfig } from "../engine/config.js";
import { isRedisUrl } from "../journal/open-journal.js";
import { defaultMarketsFile, loadMarkets } from "../node/config.js";

function marketsOf(file: string | undefined): EngineConfig {
  if (file !== undefined) return loadMarkets(file);
  try {
    return loadMarkets(defaultMarketsFile());
  } catch {
    return defaultConfig;
  }
}

function journalOf(flag: string | undefined): string {
  const journal = flag ?? process.env.BOURSE_JOURNAL;
  if (journal === undefined || !isRedisUrl(journal))
    throw new Error(
      "--journal redis://host:port[?durability=…&replicas=…&namespace=…] is required (env BOURSE_JOURNAL)",
    );
  return journal;
}

function whole(text: string | undefined, name: string, fallback: number): number {
  if (text === undefined) return fallback;
  if (!/^[0-9]{1,9}$/.test(text)) throw new Error(`--${name}: "${text}" is not a whole number`);
  return Number(text);
}

interface StandbyFlags {
  journal?: string;
  nodeId?: string;
  host?: string;
  port?: string;
  markets?: string;
  leaseMs?: string;
  pollMs?: string;
  deadAfterMs?: string;
  checkpointEvery?: string;
  snapshotEvery?: string;
  jsonEvents?: boolean;
  cache?: string;
}

function cacheOf(flag: string | undefined): { cacheUrl?: string } {
  const url = flag ?? process.env.BOURSE_CACHE_URL;
  if (url === undefined || url === "" || url === "memory") return {};
  parseRedisCacheUrl(url); // a clear error now rather than at the first takeover
  return { cacheUrl: url };
}

export function registerClusterCommands(program: Command): void {
  engineCommand(
    program,
    "engine",
    "run an engine node of a cluster: leader when the lease is free, hot standby otherwise; the leader publishes market data to --cache (docs/cluster.md, docs/cache.md)",
  );
  engineCommand(
    program,
    "standby",
    "run an engine node that follows the Redis journal and takes over as leader (the same as bourse engine)",
  );
  registerOperatorCommands(program);
}

function engineCommand(program: Command, name: string, description: string): void {
  program
    .command(name)
    .description(description)
    .option("--journal <url>", "redis://host:port?durability=aof-always+wait&replicas=1 (env BOURSE_JOURNAL)")
    .option("--node-id <id>", "this node's name in the cluster (default hostname-pid)")
    .option("--host <host>", "address of the command endpoint (default 127.0.0.1)")
    .option("--port <port>", "port of the command endpoint (default 0: any free port)")
    .option("--markets <file>", "markets configuration, the same on every node (default config/markets.json)")
    .option("--lease-ms <ms>", "leader lease time to live (default 1000)")
    .option("--poll-ms <ms>", "how often a standby looks at the lease (default 50)")
    .option(
      "--dead-after-ms <ms>",
      "take over when the leader's Redis connection has been closed this long; 0: lease TTL only (default 100)",
    )
    .option("--checkpoint-every <n>", "commands between state-hash checkpoints (default 10000)")
    .option("--snapshot-every <n>", "commands between the standby's snapshots to Redis (default 1000000)")
    .option("--json-events", "print role changes as JSON lines on stdout")
    .option(
      "--cache <url>",
      "the cluster's cache and market-data bus: redis:// or rediss://user:pass@host:port?ca=…&namespace=… (env BOURSE_CACHE_URL; default: none, API nodes then derive market data from the log)",
    )
    .action(async (flags: StandbyFlags) => {
      const node = await ClusterNode.start({
        journal: journalOf(flags.journal),
        nodeId: flags.nodeId ?? `${os.hostname()}-${process.pid}`,
        config: marketsOf(flags.markets),
        host: flags.host ?? "127.0.0.1",
        port: whole(flags.port, "port", 0),
        leaseTtlMs: whole(flags.leaseMs, "lease-ms", 1_000),
        pollMs: whole(flags.pollMs, "poll-ms", 50),
        deadAfterMs: whole(flags.deadAfterMs, "dead-after-ms", 100),
        checkpointEveryCommands: whole(flags.checkpointEvery, "checkpoint-every", 10_000),
        snapshotEveryCommands: whole(flags.snapshotEvery, "snapshot-every", 1_000_000),
        ...cacheOf(flags.cache),
        ...(flags.jsonEvents ? { event: (e) => process.stdout.write(`${JSON.stringify(e)}\n`) } : {}),
      });
      let stopping = false;
      const stop = (): void => {
        if (stopping) process.exit(1);
        stopping = true;
        node.close().then(
          () => process.exit(0),
          () => process.exit(1),
        );
      };
      process.on("SIGTERM", stop);
      process.on("SIGINT", stop);
    });
}

function registerOperatorCommands(program: Command): void {
  const cluster = program.command("cluster").description("inspect and operate a Redis-journal cluster");
  cluster
    .command("status")
    .description("leader, epoch, lease, and each node's role, lag and state-hash comparison")
    .option("--journal <url>", "the cluster's journal URL (env BOURSE_JOURNAL)")
    .option("--json", "print JSON")
    .action(async (flags: { journal?: string; json?: boolean }) => {
      const status = await clusterStatus(journalOf(flags.journal));
      process.stdout.write(flags.json ? `${JSON.stringify(status, null, 2)}\n` : formatStatus(status));
      process.exitCode = status.nodes.some((n) => n.mismatches > 0) ? 2 : 0;
    });
  cluster
    .command("failover")
    .description(
      "planned handover: the leader stops accepting, drains, frees the lease; a standby takes over",
    )
    .option("--journal <url>", "the cluster's journal URL (env BOURSE_JOURNAL)")
    .option("--to <nodeId>", "the standby that should take over (default: any)")
    .option("--timeout-ms <ms>", "give up after (default 10000)")
    .action(async (flags: { journal?: string; to?: string; timeoutMs?: string }) => {
      const result = await requestFailover(
        journalOf(flags.journal),
        flags.to,
        whole(flags.timeoutMs, "timeout-ms", 10_000),
      );
      process.stdout.write(
        `failover: ${result.from} (epoch ${result.fromEpoch}) → ${result.to} (epoch ${result.toEpoch}) in ${result.ms.toFixed(0)} ms\n`,
      );
    });
}

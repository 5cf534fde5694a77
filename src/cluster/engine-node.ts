/**
 * An engine node of a cluster: a hot standby that becomes the leader when the lease is free, and
 * goes back to standby when it loses it.
 *
 *   standby ── lease free ──▶ acquire (epoch + 1: the old leader is fenced)
 *      ▲                       │ apply the rest of the log (final for every older epoch)
 *      │                       ▼
 *      │                    leader: DurableEngine on the Redis journal, adopting the follower's
 *      │                       │    state (no replay), accepting commands, renewing the lease
 *      └── fenced / lease lost / planned handover: stop accepting, drain or fail what is pending
 *          (every pending command completes once or gets a retryable error), rejoin as standby
 *
 * Commands reach the leader over a small HTTP endpoint (POST /v1/commands, a JSON batch); the
 * leader's address is published in Redis ({ns}:meta address) for API nodes and clients
 * (src/cluster/leader-client.ts). GET /v1/status, /v1/state-hash and /metrics report the node.
 * Every node also writes its status to {ns}:node:<id> for `bourse cluster status`.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { performance } from "node:perf_hooks";
import type { EngineConfig } from "../engine/config.js";
import type { Engine } from "../engine/engine.js";
import type { EngineEvent } from "../engine/types.js";
import type { CommandInput } from "../journal/command-codec.js";
import { DurableEngine } from "../journal/durable-engine.js";
import { JournalCorruptionError, JournalError } from "../journal/errors.js";
import { parseRedisLocation, type RedisLocation } from "../journal/open-journal.js";
import { RedisJournal } from "../journal/redis-journal.js";
import { RedisLog } from "../journal/redis-log.js";
import { engineFactory, type StateMachineFactory } from "../journal/state-machine.js";
import { type Clock, SystemClock } from "../platform/clock.js";
import { StreamFollower } from "./follower.js";
import { LeaderMarketData } from "./leader-market-data.js";
import { LeaderLease } from "./lease.js";

/** Bounds of the engine node (to be folded into src/limits.ts with the journal's). */
export const clusterLimits = {
  /** Commands in one POST /v1/commands. */
  requestCommandsMax: 4_096,
  /** Bytes of one request body. */
  requestBytesMax: 4_194_304,
  /** A node's status key in Redis expires after this long without an update. */
  statusTtlMs: 5_000,
  /** How often a node writes its status. */
  statusEveryMs: 250,
} as const;

export interface ClusterNodeOptions {
  /** redis://…?durability=…&replicas=…&namespace=… (src/journal/open-journal.ts). */
  journal: string;
  nodeId: string;
  config: EngineConfig;
  host?: string;
  port?: number;
  /** Lease time to live; the leader renews every third of it. */
  leaseTtlMs?: number;
  /** How long a standby waits for new entries before it looks at the lease again. */
  pollMs?: number;
  /** Take over when the leader's connection to Redis has been closed this long (0: wait for the lease TTL only). */
  deadAfterMs?: number;
  /** State-hash checkpoints published by the leader (followers compare them). */
  checkpointEveryCommands?: number;
  /** Snapshots written to Redis by the standby. */
  snapshotEveryCommands?: number;
  waitTimeoutMs?: number;
  unavailableAfterMs?: number;
  clock?: Clock;
  /** The cluster's cache and market-data bus: the leader publishes market data there (docs/cache.md). */
  cacheUrl?: string;
  /** Human log lines. */
  log?: (line: string) => void;
  /** Machine-readable events (the tests read them as JSON lines). */
  event?: (event: Record<string, unknown>) => void;
}

export type Role = "starting" | "standby" | "leader" | "stepping-down" | "closed";

/** Codes a client may retry (with the same clientOrderId / transferId): the command was not, or may not have been, applied. */
const retryableCodes = new Set([
  "NOT_LEADER",
  "JOURNAL_FENCED",
  "JOURNAL_FAILED",
  "JOURNAL_UNAVAILABLE",
  "JOURNAL_CLOSED",
  "JOURNAL_BACKLOG_FULL",
]);

export interface CommandOutcome {
  seq?: number;
  /** The leader's epoch that acknowledged it. */
  epoch?: number;
  events?: EngineEvent[];
  error?: string;
  retryable?: boolean;
  message?: string;
}

/**
 * JSON on the command endpoint: amounts may be bigints (Int), which JSON has no type for; they
 * travel as {"$bigint":"<digits>"} both ways, so a command and its events keep their exact values.
 */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_, v: unknown) => (typeof v === "bigint" ? { $bigint: v.toString() } : v));
}

export function fromJson<T>(text: string): T {
  return JSON.parse(text, (_, v: unknown) => {
    if (v !== null && typeof v === "object" && !Array.isArray(v)) {
      const big = (v as { $bigint?: unknown }).$bigint;
      if (typeof big === "string" && /^-?[0-9]{1,400}$/.test(big) && Object.keys(v).length === 1)
        return BigInt(big);
    }
    return v;
  }) as T;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export class ClusterNode {
  role: Role = "starting";
  private readonly location: RedisLocation;
  private readonly factory: StateMachineFactory;
  private readonly clock: Clock;
  private readonly leaseTtlMs: number;
  private readonly pollMs: number;
  private readonly logLine: (line: string) => void;
  private readonly emit: (event: Record<string, unknown>) => void;
  private log!: RedisLog;
  private server!: http.Server;
  private follower: StreamFollower | null = null;
  private durable: DurableEngine | null = null;
  private lease: LeaderLease | null = null;
  private epoch = 0;
  address = "";
  private loop: Promise<void> = Promise.resolve();
  private statusTimer: NodeJS.Timeout | null = null;
  private leaderAddress = "";
  private counters = { takeovers: 0, stepDowns: 0, commands: 0 };
  private deadAfterMs: number;
  private watch = { name: "", seen: false, goneSince: 0 };
  private marketData: LeaderMarketData | null = null;

  private constructor(private readonly options: ClusterNodeOptions) {
    this.location = parseRedisLocation(options.journal);
    this.factory = engineFactory(options.config);
    this.clock = options.clock ?? new SystemClock();
    this.leaseTtlMs = options.leaseTtlMs ?? 1_000;
    this.pollMs = options.pollMs ?? 50;
    this.deadAfterMs = options.deadAfterMs ?? 100;
    this.logLine = options.log ?? ((line) => process.stderr.write(`${line}\n`));
    this.emit = options.event ?? (() => {});
  }

  /** Connects, listens, rebuilds the state from Redis and starts as a standby (taking over if the lease is free). */
  static async start(options: ClusterNodeOptions): Promise<ClusterNode> {
    const node = new ClusterNode(options);
    await node.begin();
    return node;
  }

  private async begin(): Promise<void> {
    this.log = await RedisLog.connect({
      url: this.location.url,
      namespace: this.location.namespace,
      clientName: `bourse-node-${this.options.nodeId}`,
    });
    if (this.options.cacheUrl !== undefined)
      this.marketData = await LeaderMarketData.open(this.options.cacheUrl, this.options.config, (m) =>
        this.logLine(`node ${this.options.nodeId}: ${m}`),
      );
    this.server = http.createServer((request, response) => this.handle(request, response));
    this.server.keepAliveTimeout = 30_000;
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(this.options.port ?? 0, this.options.host ?? "127.0.0.1", () => resolve());
    });
    const { address, port } = this.server.address() as AddressInfo;
    this.address = `http://${address.includes(":") ? `[${address}]` : address}:${port}`;
    this.emit({ event: "listening", nodeId: this.options.nodeId, address: this.address });
    this.follower = await this.newFollower();
    this.becomeStandby();
    this.statusTimer = setInterval(
      () => void this.publishStatus().catch(() => {}),
      clusterLimits.statusEveryMs,
    );
    this.statusTimer.unref();
  }

  private newFollower(): Promise<StreamFollower> {
    return StreamFollower.start(this.followerOptions());
  }

  private followerOptions() {
    return {
      log: this.log,
      factory: this.factory,
      warn: (m: string) => this.logLine(`standby ${this.options.nodeId}: ${m}`),
      snapshotEveryCommands: this.options.snapshotEveryCommands ?? 1_000_000,
    };
  }

  private becomeStandby(): void {
    this.role = "standby";
    const seq = this.follower!.position.lastSeq;
    this.emit({ event: "standby", nodeId: this.options.nodeId, seq });
    this.logLine(`node ${this.options.nodeId}: standby, following ${this.log.url} from seq ${seq}`);
    this.loop = this.standbyLoop();
  }

  /**
   * Follows the log; looks at the lease every pollMs; takes over when it is free. Damage in the log
   * stops the node (fail-stop); anything else (Redis restarting, a connection drop) is retried.
   */
  private async standbyLoop(): Promise<void> {
    let nextLeaseCheck = 0;
    while (this.role === "standby") {
      try {
        const follower = this.follower!;
        await follower.poll(this.pollMs);
        if (performance.now() < nextLeaseCheck || this.role !== "standby") continue;
        nextLeaseCheck = performance.now() + this.pollMs;
        if (follower.diverged) continue; // a standby whose state differs from the leader's must never lead
        const head = await this.log.head();
        if (head.seq < follower.position.lastSeq) {
          await this.rebuild(
            `the log ends at seq ${head.seq}, behind this standby (seq ${follower.position.lastSeq})`,
          );
          continue;
        }
        const lease = await this.log.lease();
        if (lease !== null) {
          this.leaderAddress = head.address;
          if (!(await this.leaderGone(lease.holder, head.epoch)) || (await this.handoverForbids())) continue;
          await this.takeOver(lease.holder);
          continue;
        }
        if (await this.handoverForbids()) continue;
        await this.takeOver();
      } catch (error) {
        if ((this.role as Role) === "closed") return;
        if (error instanceof JournalCorruptionError) return this.fatal(error);
        this.logLine(`standby ${this.options.nodeId}: ${(error as Error).message}; retrying`);
        await sleep(Math.max(this.pollMs, 100));
      }
    }
  }

  /**
   * A leader killed outright (kill -9, a crash, its machine gone) closes its connections, and Redis
   * sees that at once: when the leader's journal connection, seen open before, has been gone for
   * `deadAfterMs`, the standby takes over without waiting for the lease to run out. A leader that
   * hangs with its connections open (SIGSTOP, a partition) is covered by the lease TTL. Either way
   * safety rests on the epoch, not on this guess: a leader wrongly declared dead is fenced, not split.
   */
  private async leaderGone(holder: string, epoch: number): Promise<boolean> {
    if (this.deadAfterMs <= 0) return false;
    const name = `bourse-leader-${holder}-e${epoch}`;
    if (this.watch.name !== name) this.watch = { name, seen: false, goneSince: 0 };
    const names = await this.log.connectionNames();
    if (names === null) {
      this.deadAfterMs = 0;
      this.logLine(
        `standby ${this.options.nodeId}: the server refuses CLIENT LIST: failover waits for the lease TTL`,
      );
      return false;
    }
    const now = performance.now();
    if (names.has(name)) {
      this.watch.seen = true;
      this.watch.goneSince = 0;
      return false;
    }
    if (!this.watch.seen) return false; // a new leader still opening its connection
    if (this.watch.goneSince === 0) this.watch.goneSince = now;
    return now - this.watch.goneSince >= this.deadAfterMs;
  }

  /** A planned handover names who must not (from) or who alone may (to) take the lease. */
  private async handoverForbids(): Promise<boolean> {
    const raw = (await this.log.command(["GET", this.log.keys.handover])) as string | null;
    if (raw === null) return false;
    try {
      const h = JSON.parse(raw) as { from?: string; to?: string };
      if (h.from === this.options.nodeId) return true;
      return h.to !== undefined && h.to !== "" && h.to !== this.options.nodeId;
    } catch {
      return false;
    }
  }

  private async takeOver(deadHolder = ""): Promise<void> {
    const started = performance.now();
    const lease = new LeaderLease({
      log: this.log,
      nodeId: this.options.nodeId,
      ttlMs: this.leaseTtlMs,
      address: this.address,
    });
    const start = await lease.tryAcquire(deadHolder);
    if (start === null) return; // another standby was faster
    // From here on the old epoch is fenced: the log up to start.seq is final. Apply the rest.
    await this.follower!.catchUp(start.seq);
    if (!this.matches(start)) {
      await this.rebuild(
        `at takeover the log ends at seq ${start.seq}, this standby is at seq ${this.follower!.position.lastSeq}`,
      );
      await this.follower!.catchUp(start.seq);
    }
    const follower = this.follower!;
    const position = follower.position;
    if (!this.matches(start)) {
      lease.stop();
      throw new Error(
        `takeover: the log's head is seq ${start.seq} chain ${start.chain}, the standby reached seq ${position.lastSeq} chain ${position.chain}`,
      );
    }
    await follower.idle();
    const journal = new RedisJournal({
      url: this.location.url,
      namespace: this.location.namespace,
      durability: this.location.durability,
      replicas: this.location.replicas,
      epoch: start.epoch,
      adopt: { machine: follower.machine, position, entryId: follower.entryId },
      clientName: `bourse-leader-${this.options.nodeId}-e${start.epoch}`,
      ...(this.options.waitTimeoutMs !== undefined ? { waitTimeoutMs: this.options.waitTimeoutMs } : {}),
      ...(this.options.unavailableAfterMs !== undefined
        ? { unavailableAfterMs: this.options.unavailableAfterMs }
        : {}),
    });
    let durable: DurableEngine;
    try {
      durable = await DurableEngine.open({
        journal,
        factory: this.factory,
        clock: this.clock,
        snapshotter: null,
        checkpointEveryCommands: this.options.checkpointEveryCommands ?? 10_000,
        log: (m) => this.logLine(`leader ${this.options.nodeId}: ${m}`),
        onFatal: (error) => {
          if (error instanceof JournalError && error.code === "JOURNAL_FENCED")
            this.emit({
              event: "append-refused",
              nodeId: this.options.nodeId,
              epoch: start.epoch,
              message: error.message,
            });
          void this.stepDown(error.message);
        },
      });
    } catch (error) {
      lease.stop();
      throw error;
    }
    this.durable = durable;
    this.lease = lease;
    if (this.marketData !== null) {
      const marketData = this.marketData;
      marketData.lead(durable.recovery.machine as Engine);
      durable.onCommit((batch) => marketData.committed(batch));
    }
    this.epoch = start.epoch;
    this.follower = null;
    this.role = "leader";
    this.leaderAddress = this.address;
    this.counters.takeovers++;
    lease.keepRenewing((why, detail) => void this.stepDown(`lease ${why}: ${detail}`));
    await this.log.command(["DEL", this.log.keys.handover]);
    const tookOverMs = performance.now() - started;
    this.emit({
      event: "leader",
      nodeId: this.options.nodeId,
      epoch: start.epoch,
      seq: start.seq,
      tookOverMs,
      why: deadHolder === "" ? "lease free" : `${deadHolder}'s connection closed`,
    });
    this.logLine(
      `node ${this.options.nodeId}: LEADER, epoch ${start.epoch}, from seq ${start.seq} (took over in ${tookOverMs.toFixed(1)} ms)`,
    );
    void this.publishStatus().catch(() => {});
  }

  private matches(head: { seq: number; chain: number }): boolean {
    const p = this.follower!.position;
    return p.lastSeq === head.seq && p.chain === head.chain;
  }

  /**
   * The log no longer contains what this standby applied: a Redis failover lost writes that had
   * reached the old primary (not a replica). Loudly, start again from the log as it now is.
   */
  private async rebuild(why: string): Promise<void> {
    this.logLine(
      `standby ${this.options.nodeId}: ${why}: writes were lost by the log's server (a Redis failover?); rebuilding from the log`,
    );
    this.emit({ event: "rebuild", nodeId: this.options.nodeId, reason: why });
    await this.follower?.idle();
    this.follower = await this.newFollower();
  }

  /**
   * Leaves the leader role: stop accepting, let what is pending finish (each command completes once
   * or fails with a retryable code: a deposed leader's appends are refused by the log), rejoin as
   * standby. After a clean drain the state is exactly the log's and is kept; otherwise rebuilt.
   */
  private async stepDown(reason: string, planned = false): Promise<void> {
    if (this.role !== "leader") return;
    this.role = "stepping-down";
    this.counters.stepDowns++;
    const durable = this.durable!;
    const lease = this.lease!;
    lease.stop();
    this.marketData?.stop();
    this.logLine(`node ${this.options.nodeId}: stepping down from epoch ${this.epoch}: ${reason}`);
    this.emit({ event: "stepping-down", nodeId: this.options.nodeId, epoch: this.epoch, reason });
    let clean = false;
    try {
      await durable.close();
      clean = durable.failed === null;
    } catch {
      clean = false;
    }
    if (planned && clean) await lease.release();
    this.durable = null;
    this.lease = null;
    this.emit({ event: "stepped-down", nodeId: this.options.nodeId, epoch: this.epoch, clean, reason });
    await this.rejoin(clean ? durable : null);
  }

  /** Back to standby: keep a cleanly drained state (it is exactly the log's), else rebuild from Redis. */
  private async rejoin(drained: DurableEngine | null): Promise<void> {
    for (let attempt = 0; this.role === "stepping-down"; attempt++) {
      try {
        const head = await this.log.head();
        const entryId = drained !== null ? await this.log.entryIdAtOrBefore(drained.lastSeq) : null;
        if (drained !== null && head.seq === drained.lastSeq && entryId !== null) {
          this.follower = StreamFollower.adopt(
            this.followerOptions(),
            drained.recovery.machine,
            { lastSeq: drained.lastSeq, lastTime: head.time, chain: head.chain },
            entryId,
          );
        } else {
          this.follower = await this.newFollower();
        }
        this.becomeStandby();
        return;
      } catch (error) {
        if (error instanceof JournalCorruptionError) return this.fatal(error);
        this.logLine(
          `node ${this.options.nodeId}: cannot rejoin as standby yet: ${(error as Error).message}`,
        );
        await sleep(Math.min(100 * 2 ** attempt, 1_000));
      }
    }
  }

  /** `bourse cluster failover` asks the leader to hand over: drain, free the lease, become standby. */
  private async checkHandover(): Promise<void> {
    if (this.role !== "leader") return;
    const raw = (await this.log.command(["GET", this.log.keys.handover])) as string | null;
    if (raw === null) return;
    let request: { from?: string; to?: string } = {};
    try {
      request = JSON.parse(raw) as typeof request;
    } catch {
      return;
    }
    if (request.to === this.options.nodeId) return;
    if (request.from !== this.options.nodeId) {
      // Tag the request with who hands over, so that this node does not take the lease right back.
      await this.log.command([
        "SET",
        this.log.keys.handover,
        JSON.stringify({ ...request, from: this.options.nodeId }),
        "PX",
        "30000",
      ]);
    }
    await this.stepDown(`planned handover${request.to ? ` to ${request.to}` : ""}`, true);
  }

  private async publishStatus(): Promise<void> {
    if (this.role === "leader") await this.checkHandover();
    const f = this.follower?.figures;
    const d = this.durable;
    const fields: Record<string, string> = {
      nodeId: this.options.nodeId,
      role: this.role,
      address: this.address,
      epoch: String(this.epoch),
      seq: String(d !== null ? d.durableSeq : (this.follower?.position.lastSeq ?? 0)),
      checkpoints: String(f?.checkpoints ?? 0),
      mismatches: String(f?.mismatches ?? 0),
      lastCheckpoint: JSON.stringify(f?.lastCheckpoint ?? null),
      snapshots: String(f?.snapshots ?? 0),
      takeovers: String(this.counters.takeovers),
      updatedMs: String(Date.now()),
    };
    const key = this.log.keys.node(this.options.nodeId);
    await this.log.command(["HSET", key, ...Object.entries(fields).flat()]);
    await this.log.command(["PEXPIRE", key, String(clusterLimits.statusTtlMs)]);
    await this.log.command(["SADD", this.log.keys.nodes, this.options.nodeId]);
  }

  // ───────────────────────────── the command endpoint ─────────────────────────────

  private handle(request: http.IncomingMessage, response: http.ServerResponse): void {
    const url = request.url ?? "/";
    if (request.method === "POST" && url === "/v1/commands") {
      this.readBody(request, response, (body) => this.commands(body, response));
      return;
    }
    if (request.method === "GET" && url === "/v1/status") return this.reply(response, 200, this.status());
    if (request.method === "GET" && url === "/v1/state-hash") return this.stateHash(response);
    if (request.method === "GET" && url === "/metrics") {
      response.writeHead(200, { "content-type": "text/plain; version=0.0.4" });
      response.end(this.metrics());
      return;
    }
    this.reply(response, 404, { error: "NOT_FOUND" });
  }

  private readBody(
    request: http.IncomingMessage,
    response: http.ServerResponse,
    then: (body: string) => void,
  ): void {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > clusterLimits.requestBytesMax) {
        this.reply(response, 413, { error: "PAYLOAD_TOO_LARGE", retryable: false });
        request.destroy();
        return;
      }
      chunks.push(chunk);
    });
    request.on("end", () => {
      if (size <= clusterLimits.requestBytesMax) then(Buffer.concat(chunks).toString("utf8"));
    });
  }

  private commands(body: string, response: http.ServerResponse): void {
    const durable = this.durable;
    // No local lease-clock check here: the log's epoch check decides (a leader resumed after its lease
    // ran out has its appends refused, and answers JOURNAL_FENCED: retryable, nothing applied).
    if (this.role !== "leader" || durable === null) {
      this.reply(response, 503, { error: "NOT_LEADER", retryable: true, leader: this.leaderAddress });
      return;
    }
    let commands: CommandInput[];
    try {
      commands = fromJson<{ commands: CommandInput[] }>(body).commands;
      if (!Array.isArray(commands) || commands.length > clusterLimits.requestCommandsMax)
        throw new Error("bad batch");
    } catch {
      this.reply(response, 400, {
        error: "BAD_REQUEST",
        retryable: false,
        message: `{ "commands": [...] } with at most ${clusterLimits.requestCommandsMax} commands`,
      });
      return;
    }
    const results: CommandOutcome[] = new Array(commands.length);
    let left = commands.length;
    if (left === 0) return this.reply(response, 200, { results });
    const done = (): void => {
      if (--left === 0) this.reply(response, 200, { results, epoch: this.epoch });
    };
    for (let i = 0; i < commands.length; i++) {
      durable.submitWith(commands[i]!, (error, committed) => {
        if (error !== null) {
          const code = error instanceof JournalError ? error.code : "JOURNAL_FAILED";
          results[i] = { error: code, retryable: retryableCodes.has(code), message: error.message };
        } else {
          results[i] = { seq: committed!.command.seq, events: committed!.events };
          this.counters.commands++;
        }
        done();
      });
    }
  }

  private status(): Record<string, unknown> {
    const d = this.durable;
    return {
      nodeId: this.options.nodeId,
      role: this.role,
      epoch: this.epoch,
      address: this.address,
      leader: this.leaderAddress,
      seq: d !== null ? d.lastSeq : (this.follower?.position.lastSeq ?? 0),
      durableSeq: d !== null ? d.durableSeq : (this.follower?.position.lastSeq ?? 0),
      pending: d?.pendingCount ?? 0,
      follower: this.follower?.figures ?? null,
    };
  }

  /** The state hash now, with the seq it is at (the leader answers only when nothing is pending). */
  private stateHash(response: http.ServerResponse): void {
    const d = this.durable;
    if (d !== null) {
      if (d.pendingCount > 0) return this.reply(response, 409, { error: "PENDING", retryable: true });
      return this.reply(response, 200, { seq: d.lastSeq, hash: d.stateHash(), role: this.role });
    }
    const f = this.follower;
    if (f === null) return this.reply(response, 409, { error: "CHANGING_ROLE", retryable: true });
    this.reply(response, 200, { seq: f.position.lastSeq, hash: f.machine.stateHash(), role: this.role });
  }

  private metrics(): string {
    const f = this.follower?.figures;
    const lines = [
      "# HELP bourse_cluster_leader 1 while this node is the leader.",
      "# TYPE bourse_cluster_leader gauge",
      `bourse_cluster_leader ${this.role === "leader" ? 1 : 0}`,
      "# HELP bourse_cluster_epoch The epoch this node last led in.",
      "# TYPE bourse_cluster_epoch gauge",
      `bourse_cluster_epoch ${this.epoch}`,
      "# HELP bourse_cluster_state_hash_mismatches_total Checkpoints where the standby's state hash differed from the leader's.",
      "# TYPE bourse_cluster_state_hash_mismatches_total counter",
      `bourse_cluster_state_hash_mismatches_total ${f?.mismatches ?? 0}`,
      "# HELP bourse_cluster_state_hash_checkpoints_total Checkpoints compared by the standby.",
      "# TYPE bourse_cluster_state_hash_checkpoints_total counter",
      `bourse_cluster_state_hash_checkpoints_total ${f?.checkpoints ?? 0}`,
      "# HELP bourse_cluster_applied_seq Last seq in this node's state (durable, for the leader).",
      "# TYPE bourse_cluster_applied_seq gauge",
      `bourse_cluster_applied_seq ${this.durable?.durableSeq ?? this.follower?.position.lastSeq ?? 0}`,
      "# HELP bourse_cluster_takeovers_total Times this node became the leader.",
      "# TYPE bourse_cluster_takeovers_total counter",
      `bourse_cluster_takeovers_total ${this.counters.takeovers}`,
    ];
    return `${lines.join("\n")}\n`;
  }

  private reply(response: http.ServerResponse, status: number, body: unknown): void {
    if (response.headersSent) return;
    const text = toJson(body);
    response.writeHead(status, {
      "content-type": "application/json",
      "content-length": Buffer.byteLength(text),
    });
    response.end(text);
  }

  private fatal(error: Error): void {
    this.logLine(`node ${this.options.nodeId}: FATAL ${error.stack ?? error.message}`);
    this.emit({ event: "fatal", nodeId: this.options.nodeId, message: error.message });
    void this.close().finally(() => process.exit(70));
  }

  /** A planned stop: hands over if leader (drain, free the lease), then disconnects. */
  async close(): Promise<void> {
    if (this.role === "closed") return;
    if (this.role === "leader") await this.stepDown("shutting down", true).catch(() => {});
    this.role = "closed";
    if (this.statusTimer !== null) clearInterval(this.statusTimer);
    await this.loop.catch(() => {});
    await this.follower?.idle();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await this.log.close();
    await this.marketData?.close();
  }
}

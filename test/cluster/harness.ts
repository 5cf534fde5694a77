/**
 * Real processes for the cluster tests and the benchmark: engine nodes (`bourse standby`, the CLI
 * itself) whose role changes are read from their JSON event lines, and a load of orders sent through
 * the LeaderClient, remembering every acknowledgement (clientOrderId → orderId, seq, epoch, time)
 * so that the log can be checked against it afterwards.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { CommandOutcome } from "../../src/cluster/engine-node.js";
import type { LeaderClient } from "../../src/cluster/leader-client.js";
import { defaultConfig } from "../../src/engine/config.js";
import { Engine } from "../../src/engine/engine.js";
import type { Command, EngineEvent } from "../../src/engine/types.js";
import type { CommandInput } from "../../src/journal/command-codec.js";
import { parseRedisLocation } from "../../src/journal/open-journal.js";
import { RedisJournal } from "../../src/journal/redis-journal.js";
import { Prng } from "../../src/platform/prng.js";

const cli = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));

export type NodeEvent = Record<string, unknown> & { event: string };

export class NodeProcess {
  readonly events: NodeEvent[] = [];
  stderr = "";
  private readonly waiters: { test: (e: NodeEvent) => boolean; resolve: (e: NodeEvent) => void }[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(
    readonly nodeId: string,
    readonly child: ChildProcess,
  ) {
    let partial = "";
    child.stdout!.setEncoding("utf8");
    child.stdout!.on("data", (chunk: string) => {
      const parts = (partial + chunk).split("\n");
      partial = parts.pop()!;
      for (const line of parts) {
        if (!line.startsWith("{")) continue;
        const event = JSON.parse(line) as NodeEvent;
        this.events.push(event);
        for (const w of [...this.waiters]) {
          if (w.test(event)) {
            this.waiters.splice(this.waiters.indexOf(w), 1);
            w.resolve(event);
          }
        }
      }
    });
    child.stderr!.setEncoding("utf8");
    child.stderr!.on("data", (chunk: string) => {
      this.stderr = (this.stderr + chunk).slice(-20_000);
    });
    this.exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
  }

  static start(journal: string, nodeId: string, args: string[] = []): NodeProcess {
    const child = spawn(
      process.execPath,
      [cli, "standby", "--journal", journal, "--node-id", nodeId, "--json-events", ...args],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    return new NodeProcess(nodeId, child);
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The first event (already seen or to come) that passes `test`. */
  waitFor(test: (e: NodeEvent) => boolean, timeoutMs: number, what: string): Promise<NodeEvent> {
    const seen = this.events.find(test);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(
          new Error(
            `node ${this.nodeId}: no ${what} within ${timeoutMs} ms; stderr:\n${this.stderr.slice(-3_000)}`,
          ),
        );
      }, timeoutMs);
      this.waiters.push({
        test,
        resolve: (e) => {
          clearTimeout(timer);
          resolve(e);
        },
      });
      void this.exited.then(({ code, signal }) => {
        clearTimeout(timer);
        reject(
          new Error(
            `node ${this.nodeId} exited (${code ?? signal}) before ${what}; stderr:\n${this.stderr.slice(-3_000)}`,
          ),
        );
      });
    });
  }

  get isLeader(): boolean {
    const last = [...this.events]
      .reverse()
      .find((e) => ["leader", "stepping-down", "standby"].includes(e.event));
    return last?.event === "leader";
  }

  async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    if (this.alive) this.child.kill(signal);
    if (signal === "SIGKILL" || signal === "SIGTERM") await this.exited;
  }
}

export interface Ack {
  clientOrderId: string;
  accountId: number;
  /** 0 when the engine rejected the order (its seq still says where). */
  orderId: number;
  seq: number;
  epoch: number;
  atMs: number;
}

/** Orders from a few funded accounts, with unique clientOrderIds, through the leader client. */
export class OrderLoad {
  readonly acks = new Map<string, Ack>();
  /** Ack latencies in ms (submit → reply), and failed submissions by code. */
  readonly latenciesMs: number[] = [];
  readonly failures = new Map<string, number>();
  private running = false;
  private loops: Promise<void>[] = [];
  private next = 0;
  private readonly random: Prng;

  constructor(
    private readonly client: LeaderClient,
    private readonly accounts: number[],
    seed: number,
    private readonly prefix = "o",
  ) {
    this.random = new Prng(seed);
  }

  /** Creates and funds the accounts (before any fault: create_account is not resendable). */
  static async setup(client: LeaderClient, accounts: number): Promise<number[]> {
    const created = await client.submit(
      Array.from({ length: accounts }, () => ({ type: "create_account" }) as CommandInput),
    );
    const ids = created.map((c) => {
      const e = c.events?.find((x) => x.type === "account_created");
      if (e === undefined || e.type !== "account_created")
        throw new Error(`create_account failed: ${JSON.stringify(c)}`);
      return e.accountId;
    });
    const deposits: CommandInput[] = [];
    for (const id of ids)
      for (const asset of ["USD", "BTC", "ETH"])
        deposits.push({
          type: "deposit",
          accountId: id,
          asset,
          amount: 1_000_000_000_000_000,
          transferId: `fund-${id}-${asset}`,
        });
    const funded = await client.submit(deposits);
    for (const f of funded)
      if (f.error !== undefined) throw new Error(`deposit failed: ${JSON.stringify(f)}`);
    return ids;
  }

  order(): CommandInput {
    const r = this.random;
    const buy = r.chance(0.5);
    const ioc = r.chance(0.3);
    const price = 5_000_000 + (buy ? -1 : 1) * r.range(0, 2_000) + (ioc ? (buy ? 3_000 : -3_000) : 0);
    return {
      type: "place",
      accountId: this.accounts[r.range(0, this.accounts.length - 1)]!,
      symbol: "BTC-USD",
      side: buy ? "buy" : "sell",
      orderType: "limit",
      price,
      stopPrice: 0,
      quantity: r.range(1, 20),
      quoteQuantity: 0,
      timeInForce: ioc ? "IOC" : "GTC",
      expireTime: 0,
      postOnly: false,
      clientOrderId: `${this.prefix}${this.next++}`,
      selfTradePrevention: "cancel_taker",
    };
  }

  /** `loops` concurrent senders, each with one batch of `batch` orders in flight, pausing `pauseMs` between. */
  start(loops: number, batch: number, pauseMs: number): void {
    this.running = true;
    for (let i = 0; i < loops; i++) this.loops.push(this.loop(batch, pauseMs));
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
    this.loops = [];
  }

  private async loop(batch: number, pauseMs: number): Promise<void> {
    while (this.running) {
      const orders = Array.from({ length: batch }, () => this.order());
      const t0 = performance.now();
      const outcomes = await this.client.submit(orders);
      const t1 = performance.now();
      for (let i = 0; i < orders.length; i++) this.record(orders[i]!, outcomes[i]!, t0, t1);
      if (pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, pauseMs));
    }
  }

  private record(order: CommandInput, outcome: CommandOutcome, t0: number, t1: number): void {
    if (order.type !== "place") return;
    if (outcome.error !== undefined || outcome.seq === undefined) {
      this.failures.set(outcome.error ?? "?", (this.failures.get(outcome.error ?? "?") ?? 0) + 1);
      return;
    }
    this.latenciesMs.push(t1 - t0);
    let orderId = 0;
    for (const e of outcome.events ?? []) {
      if ((e.type === "order" && e.reason === "placed") || e.type === "duplicate_order") {
        if (e.clientOrderId === order.clientOrderId) orderId = e.orderId;
      }
    }
    this.acks.set(order.clientOrderId, {
      clientOrderId: order.clientOrderId,
      accountId: order.accountId,
      orderId,
      seq: outcome.seq,
      epoch: outcome.epoch ?? 0,
      atMs: t1,
    });
  }
}

export interface LogCheck {
  commands: number;
  /** State hash of a clean replay (fresh engine, seq 1 on) at each seq asked for. */
  hashAt: Map<number, string>;
  placed: number;
  duplicates: number;
  acksChecked: number;
  /** Acknowledged orders missing from the log (only with countLost; otherwise missing ones throw). */
  lost: Ack[];
}

/**
 * Reads the whole log from Redis and replays it from seq 1 in a fresh engine (with events): every
 * acknowledged order must be there under its orderId, no clientOrderId placed twice.
 */
export async function checkLog(
  journal: string,
  acks: Iterable<Ack>,
  hashSeqs: number[],
  options: { countLost?: boolean } = {},
): Promise<LogCheck> {
  const { url, namespace } = parseRedisLocation(journal);
  const reader = new RedisJournal({ url, namespace, durability: "memorydb" });
  const engine = new Engine(defaultConfig);
  const out: EngineEvent[] = [];
  const placedBy = new Map<string, { orderId: number; seq: number; times: number }>();
  const hashAt = new Map<number, string>();
  const wanted = new Set(hashSeqs);
  let commands = 0;
  let duplicates = 0;
  await reader.read(1, (cmd: Command) => {
    engine.apply(cmd, out);
    commands++;
    if (cmd.type === "place" && cmd.clientOrderId !== "") {
      const key = `${cmd.accountId}/${cmd.clientOrderId}`;
      for (const e of out) {
        if (e.type === "order" && e.reason === "placed" && e.clientOrderId === cmd.clientOrderId) {
          const seen = placedBy.get(key);
          placedBy.set(key, { orderId: e.orderId, seq: cmd.seq, times: (seen?.times ?? 0) + 1 });
        }
        if (e.type === "duplicate_order") duplicates++;
      }
      if (!placedBy.has(key) && out.some((e) => e.type === "rejected"))
        placedBy.set(key, { orderId: 0, seq: cmd.seq, times: 1 });
    }
    out.length = 0;
    if (wanted.has(cmd.seq)) hashAt.set(cmd.seq, engine.stateHash());
  });
  await reader.release();
  for (const [key, p] of placedBy)
    if (p.times > 1) throw new Error(`order ${key} was placed ${p.times} times (applied twice)`);
  let acksChecked = 0;
  const lost: Ack[] = [];
  for (const ack of acks) {
    acksChecked++;
    const found = placedBy.get(`${ack.accountId}/${ack.clientOrderId}`);
    if (found === undefined && options.countLost) {
      lost.push(ack);
      continue;
    }
    if (found === undefined)
      throw new Error(
        `acknowledged order ${ack.clientOrderId} (seq ${ack.seq}, epoch ${ack.epoch}) is not in the log: LOST`,
      );
    if (found.orderId !== ack.orderId)
      throw new Error(
        `acknowledged order ${ack.clientOrderId} has orderId ${ack.orderId}, the log ${found.orderId}`,
      );
  }
  return { commands, hashAt, placed: placedBy.size, duplicates, acksChecked, lost };
}

/** GET a node's state hash once nothing is pending. */
export async function nodeStateHash(
  address: string,
  timeoutMs = 10_000,
): Promise<{ seq: number; hash: string }> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const response = await fetch(`${address}/v1/state-hash`);
    if (response.status === 200) return (await response.json()) as { seq: number; hash: string };
    if (performance.now() > deadline) throw new Error(`${address}: no state hash within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/**
 * Real processes of a Bourse cluster for the cache tests (issue #6): engine nodes (`bourse engine`,
 * JSON event lines on stdout) and API nodes (`bourse api`, pino JSON lines on stdout, the URL taken
 * from the "listening on http://…" line), each spawned in its own process group and killed with it;
 * plus a WebSocket watcher that checks the book stream's sequence rule (docs/marketdata.md, "Client
 * recovery") and keeps the book a client would hold.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import WebSocket from "ws";
import { defaultConfig, settleConfig } from "../../src/engine/config.js";
import { Engine } from "../../src/engine/engine.js";
import type { Command, EngineEvent } from "../../src/engine/types.js";
import { parseRedisLocation } from "../../src/journal/open-journal.js";
import { RedisJournal } from "../../src/journal/redis-journal.js";
import { type BookView, MarketData } from "../../src/marketdata/marketdata.js";
import { Prng } from "../../src/platform/prng.js";
import {
  type Account,
  adminRequests,
  fundedAccount,
  type Json,
  type Reply,
  request,
  signed,
  wsAuth,
} from "../api/helpers.js";

const cli = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Every process group started here, killed when the test process exits whatever happened. */
const groups = new Set<number>();
let exitHook = false;
function track(pid: number): void {
  groups.add(pid);
  if (exitHook) return;
  exitHook = true;
  process.on("exit", () => {
    for (const pid of groups) {
      try {
        process.kill(-pid, "SIGKILL");
      } catch {}
    }
  });
}

/** The secrets every node of one cluster shares (the master key seals API secrets in the log). */
export interface ClusterSecrets {
  masterKey: string;
  adminToken: string;
}

export function clusterSecrets(): ClusterSecrets {
  return {
    masterKey: randomBytes(32).toString("hex"),
    adminToken: `admin-${randomBytes(16).toString("hex")}`,
  };
}

function childEnv(secrets: ClusterSecrets): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("BOURSE_")) env[k] = v;
  env.BOURSE_MASTER_KEY = secrets.masterKey;
  env.BOURSE_ADMIN_TOKEN = secrets.adminToken;
  return env;
}

/** A spawned `bourse` process: its stdout lines (JSON parsed when they are), the tail of its stderr. */
export class Proc {
  readonly lines: Json[] = [];
  stdoutTail = "";
  stderr = "";
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly waiters: { test: (line: Json) => boolean; resolve: (line: Json) => void }[] = [];

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    track(child.pid!);
    let partial = "";
    child.stdout!.setEncoding("utf8");
    child.stdout!.on("data", (chunk: string) => {
      this.stdoutTail = (this.stdoutTail + chunk).slice(-20_000);
      const parts = (partial + chunk).split("\n");
      partial = parts.pop()!;
      for (const text of parts) {
        let line: Json;
        try {
          line = text.startsWith("{") ? JSON.parse(text) : { text };
        } catch {
          line = { text };
        }
        this.lines.push(line);
        for (const w of [...this.waiters]) {
          if (w.test(line)) {
            this.waiters.splice(this.waiters.indexOf(w), 1);
            w.resolve(line);
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

  static spawn(name: string, args: string[], secrets: ClusterSecrets): Proc {
    const child = spawn(process.execPath, [cli, ...args], {
      stdio: ["ignore", "pipe", "pipe"],
      env: childEnv(secrets),
      detached: true,
    });
    return new Proc(name, child);
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** What went wrong, for an assertion message: the last lines of stdout and stderr. */
  tail(chars = 3_000): string {
    return `${this.name} stdout:\n${this.stdoutTail.slice(-chars)}\n${this.name} stderr:\n${this.stderr.slice(-chars)}`;
  }

  waitFor(test: (line: Json) => boolean, timeoutMs: number, what: string): Promise<Json> {
    const seen = this.lines.find(test);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`${this.name}: no ${what} within ${timeoutMs} ms\n${this.tail()}`));
      }, timeoutMs);
      this.waiters.push({
        test,
        resolve: (line) => {
          clearTimeout(timer);
          resolve(line);
        },
      });
      void this.exited.then(({ code, signal }) => {
        clearTimeout(timer);
        reject(new Error(`${this.name} exited (${code ?? signal}) before ${what}\n${this.tail()}`));
      });
    });
  }

  /** Signals the whole process group; waits for the exit (SIGKILL after `graceMs`). */
  async stop(signal: NodeJS.Signals = "SIGTERM", graceMs = 5_000): Promise<void> {
    const pid = this.child.pid!;
    if (this.alive) {
      try {
        process.kill(-pid, signal);
      } catch {}
      const timer = setTimeout(() => {
        try {
          process.kill(-pid, "SIGKILL");
        } catch {}
      }, graceMs);
      await this.exited;
      clearTimeout(timer);
    }
    try {
      process.kill(-pid, "SIGKILL"); // anything left in the group
    } catch {}
    groups.delete(pid);
  }
}

export interface EngineNode {
  proc: Proc;
  /** The command endpoint (GET /v1/state-hash, /v1/status). */
  address: string;
}

/** `bourse engine` (one node: it becomes the leader). */
export async function startEngine(options: {
  journal: string;
  cache?: string;
  nodeId: string;
  secrets: ClusterSecrets;
  timeoutMs?: number;
}): Promise<EngineNode> {
  const args = ["engine", "--journal", options.journal, "--node-id", options.nodeId, "--port", "0"];
  if (options.cache !== undefined) args.push("--cache", options.cache);
  args.push("--json-events", "--snapshot-every", "0");
  const proc = Proc.spawn(`engine ${options.nodeId}`, args, options.secrets);
  try {
    const leader = await proc.waitFor((l) => l.event === "leader", options.timeoutMs ?? 20_000, "leadership");
    const listening = proc.lines.find((l) => l.event === "listening");
    const address = (listening?.address ?? leader.address) as string;
    return { proc, address };
  } catch (error) {
    await proc.stop("SIGKILL");
    throw error;
  }
}

export interface ApiNode {
  proc: Proc;
  url: string;
  wsUrl: string;
  dataDir: string;
  secrets: ClusterSecrets;
  admin(method: string, path: string, body?: unknown): Promise<Reply>;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** `bourse api` with its own data directory (history store), rate limits off. */
export async function startApi(options: {
  name: string;
  journal: string;
  cache?: string;
  secrets: ClusterSecrets;
  timeoutMs?: number;
}): Promise<ApiNode> {
  const dataDir = mkdtempSync(join(tmpdir(), "bourse-api-node-"));
  const args = ["api", "--journal", options.journal, "--port", "0", "--data-dir", dataDir];
  if (options.cache !== undefined) args.push("--cache", options.cache);
  args.push("--rate-limit-ip", "0", "--rate-limit-key", "0", "--log-level", "info");
  const proc = Proc.spawn(options.name, args, options.secrets);
  let url: string;
  try {
    const line = await proc.waitFor(
      (l) => typeof l.msg === "string" && /listening on https?:\/\//.test(l.msg),
      options.timeoutMs ?? 30_000,
      'the "listening on" line',
    );
    url = /listening on (https?:\/\/[^\s,)]+)/.exec(line.msg)![1]!;
  } catch (error) {
    await proc.stop("SIGKILL");
    rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
  return {
    proc,
    url,
    wsUrl: `${url.replace(/^http/, "ws")}/v1/ws`,
    dataDir,
    secrets: options.secrets,
    admin: adminRequests(url, options.secrets.adminToken),
    async stop(signal = "SIGTERM") {
      await proc.stop(signal);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** An account created and funded through the admin API of `node`. */
export function createAccount(
  node: ApiNode,
  funds: Record<string, string> = { USD: "100000000", BTC: "100000" },
): Promise<Account> {
  return fundedAccount(node, funds, "cache-test");
}

/** A cluster of the cache tests: its secrets, journal and cache locations, and its engine node. */
export interface CacheCluster {
  secrets: ClusterSecrets;
  /** The command log on `journalRedis` (aof-always, no replicas, namespace t1). */
  journal: string;
  /** The cache and market-data bus on `cacheRedis` (namespace t1). */
  cache: string;
  engine: EngineNode;
}

/** New secrets, the journal and cache locations on these servers, and engine node e1 (the leader). */
export async function startCacheCluster(
  journalRedis: { url: string },
  cacheRedis: { url: string },
): Promise<CacheCluster> {
  const secrets = clusterSecrets();
  const journal = `${journalRedis.url}?durability=aof-always&replicas=0&namespace=t1`;
  const cache = `${cacheRedis.url}?namespace=t1`;
  const engine = await startEngine({ journal, cache, nodeId: "e1", secrets });
  return { secrets, journal, cache, engine };
}

/** Closes the clients, then stops the API nodes, the engine and the servers (in that order; errors ignored). */
export async function stopCacheCluster(parts: {
  watchers: BookWatcher[];
  wsTraders: WsTrader[];
  apis: (ApiNode | undefined)[];
  engine: EngineNode | undefined;
  servers: ({ stop(): Promise<void> } | undefined)[];
}): Promise<void> {
  for (const w of parts.watchers) await w.close().catch(() => {});
  for (const t of parts.wsTraders) t.close();
  await Promise.all(parts.apis.map((a) => a?.stop("SIGTERM").catch(() => {})));
  await parts.engine?.proc.stop("SIGTERM").catch(() => {});
  for (const server of parts.servers) await server?.stop().catch(() => {});
}

/** Polls `check` until it returns true; false at the deadline. */
export async function until(check: () => boolean | Promise<boolean>, timeoutMs: number, stepMs = 20) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(stepMs);
  }
}

/** Waits until `node` authenticates `account` (its follower has applied the create_account). */
export async function accountVisible(node: ApiNode, account: Account, timeoutMs = 10_000): Promise<void> {
  let last: Reply | undefined;
  const ok = await until(async () => {
    last = await signed(node, account, "GET", "/v1/balances");
    return last.status === 200;
  }, timeoutMs);
  if (!ok) throw new Error(`${node.proc.name}: account ${account.accountId}: ${last?.status} ${last?.text}`);
}

export type Level = [string, string];
export interface BookState {
  sequence: number;
  bids: Level[];
  asks: Level[];
}

const isZero = (q: string): boolean => /^0*(\.0*)?$/.test(q);

export function sortLevels(side: Map<string, string>, descending: boolean): Level[] {
  return [...side.entries()].sort((a, b) =>
    descending ? Number(b[0]) - Number(a[0]) : Number(a[0]) - Number(b[0]),
  );
}

/** One anomaly of a book stream, with where it happened. */
export interface StreamFault {
  kind: "gap" | "update-before-snapshot-base" | "snapshot-backwards";
  expected: number;
  got: number;
  at: number;
}

/**
 * A WebSocket client of one API node subscribed to `book` (and `trades`) of a symbol. It keeps the
 * book as the protocol says a client does: the snapshot, then each update whose sequence is the
 * previous + 1; a `snapshot` mid-stream replaces the book (an API node resynced). Anything else
 * is recorded as a fault (this watcher does not resubscribe: a fault is what the tests look for).
 */
export class BookWatcher {
  readonly ws: WebSocket;
  sequence = -1;
  readonly bids = new Map<string, string>();
  readonly asks = new Map<string, string>();
  /** Arrival times (Date.now()) and sequences of every snapshot, the first included. */
  readonly snapshots: { at: number; sequence: number }[] = [];
  readonly faults: StreamFault[] = [];
  updates = 0;
  /** Updates received before the first snapshot (the protocol lets a client buffer them). */
  private readonly early: Json[] = [];
  readonly tradeIds: string[] = [];
  readonly replies = new Map<number, (m: Json) => void>();
  private nextId = 1;
  closed = false;

  private constructor(
    readonly name: string,
    url: string,
  ) {
    this.ws = new WebSocket(url);
    this.ws.on("close", () => {
      this.closed = true;
    });
    this.ws.on("message", (data) => this.onMessage(JSON.parse(data.toString())));
  }

  static async open(name: string, wsUrl: string, symbol: string): Promise<BookWatcher> {
    const w = new BookWatcher(name, wsUrl);
    await new Promise<void>((resolve, reject) => {
      w.ws.once("open", () => resolve());
      w.ws.once("error", reject);
    });
    const book = await w.send({ op: "subscribe", channel: "book", symbol });
    if (book.error !== undefined) throw new Error(`${name}: subscribe book: ${JSON.stringify(book)}`);
    const trades = await w.send({ op: "subscribe", channel: "trades", symbol });
    if (trades.error !== undefined) throw new Error(`${name}: subscribe trades: ${JSON.stringify(trades)}`);
    return w;
  }

  send(message: object): Promise<Json> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.replies.set(id, resolve);
      this.ws.send(JSON.stringify({ ...message, id }));
    });
  }

  private onMessage(m: Json): void {
    if (m.id !== undefined && m.id !== null && this.replies.has(m.id)) {
      const resolve = this.replies.get(m.id)!;
      this.replies.delete(m.id);
      resolve(m);
      return;
    }
    if (m.channel === "trades") {
      for (const t of m.trades) this.tradeIds.push(t.tradeId);
      return;
    }
    if (m.channel !== "book") return;
    if (m.type === "snapshot") {
      if (this.sequence >= 0 && m.sequence < this.sequence)
        this.faults.push({
          kind: "snapshot-backwards",
          expected: this.sequence,
          got: m.sequence,
          at: Date.now(),
        });
      this.snapshots.push({ at: Date.now(), sequence: m.sequence });
      this.bids.clear();
      this.asks.clear();
      this.sequence = m.sequence;
      this.apply(m);
      if (this.snapshots.length === 1) {
        const early = this.early.splice(0);
        for (const u of early) if (u.sequence > this.sequence) this.update(u);
      }
      return;
    }
    if (this.snapshots.length === 0) {
      this.early.push(m);
      return;
    }
    this.update(m);
  }

  private update(m: Json): void {
    this.updates++;
    if (m.sequence !== this.sequence + 1)
      this.faults.push({ kind: "gap", expected: this.sequence + 1, got: m.sequence, at: Date.now() });
    this.sequence = m.sequence;
    this.apply(m);
  }

  private apply(m: Json): void {
    for (const [price, quantity] of m.bids as Level[]) {
      if (isZero(quantity)) this.bids.delete(price);
      else this.bids.set(price, quantity);
    }
    for (const [price, quantity] of m.asks as Level[]) {
      if (isZero(quantity)) this.asks.delete(price);
      else this.asks.set(price, quantity);
    }
  }

  book(): BookState {
    return { sequence: this.sequence, bids: sortLevels(this.bids, true), asks: sortLevels(this.asks, false) };
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.ws.readyState === WebSocket.CLOSED) return resolve();
      this.ws.once("close", () => resolve());
      this.ws.close();
      setTimeout(() => {
        this.ws.terminate();
        resolve();
      }, 2_000).unref();
    });
  }
}

/** A WebSocket connection authenticated as `account`, for order.place / order.cancel. */
export class WsTrader {
  private nextId = 1;
  private readonly replies = new Map<number, (m: Json) => void>();

  private constructor(readonly ws: WebSocket) {
    ws.on("message", (data) => {
      const m = JSON.parse(data.toString());
      if (m.id !== undefined && this.replies.has(m.id)) {
        const resolve = this.replies.get(m.id)!;
        this.replies.delete(m.id);
        resolve(m);
      }
    });
    ws.on("close", () => {
      for (const [id, resolve] of this.replies) {
        this.replies.delete(id);
        resolve({ id, error: { code: "CONNECTION_CLOSED", message: "the WebSocket closed" } });
      }
    });
  }

  static async open(wsUrl: string, account: Account): Promise<WsTrader> {
    const ws = new WebSocket(wsUrl);
    await new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("error", reject);
    });
    const trader = new WsTrader(ws);
    const auth = await trader.send(wsAuth(account));
    if (auth.error !== undefined) throw new Error(`ws auth: ${JSON.stringify(auth)}`);
    return trader;
  }

  send(message: object): Promise<Json> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.replies.set(id, resolve);
      this.ws.send(JSON.stringify({ ...message, id }));
    });
  }

  close(): void {
    this.ws.terminate();
  }
}

/** GET the book (depth 1000) of a node. */
export async function restBook(node: { url: string }, symbol: string): Promise<Reply> {
  return request(node.url, "GET", `/v1/markets/${symbol}/book?depth=1000`);
}

/** Decimal string → integer in units of 10^-decimals (exact; no floats). */
export function units(decimal: string, decimals: number): bigint {
  const [whole, frac = ""] = decimal.split(".");
  return BigInt(whole! + frac.padEnd(decimals, "0").slice(0, decimals));
}

/**
 * The book the open orders imply: remaining quantity summed per (side, price). `orders` are the API's
 * Order objects (status open or partially_filled).
 */
export function impliedBook(
  orders: Json[],
  qtyDecimals: number,
): { bids: Map<string, bigint>; asks: Map<string, bigint> } {
  const bids = new Map<string, bigint>();
  const asks = new Map<string, bigint>();
  for (const o of orders) {
    if (o.status !== "open" && o.status !== "partially_filled") continue;
    const side = o.side === "buy" ? bids : asks;
    side.set(o.price, (side.get(o.price) ?? 0n) + units(o.remainingQuantity, qtyDecimals));
  }
  return { bids, asks };
}

/**
 * Checks that `book`'s levels are what the open orders of `accounts` on `node` imply (remaining
 * quantity per price); returns those open orders.
 */
export async function checkBookIsOpenOrders(
  check: Checks,
  what: string,
  book: { bids: Level[]; asks: Level[] },
  node: ApiNode,
  accounts: Account[],
  symbol: string,
  qtyDecimals: number,
): Promise<Json[]> {
  const open = (await Promise.all(accounts.map((account) => openOrders(node, account, symbol)))).flat();
  const implied = impliedBook(open, qtyDecimals);
  const where = `the open orders on ${node.proc.name} (GET /v1/orders)`;
  check.equal(bookUnits(book.bids, qtyDecimals), implied.bids, `${what}: bids = the buy orders of ${where}`);
  check.equal(bookUnits(book.asks, qtyDecimals), implied.asks, `${what}: asks = the sell orders of ${where}`);
  return open;
}

export function bookUnits(levels: Level[], qtyDecimals: number): Map<string, bigint> {
  return new Map(levels.map(([p, q]) => [p, units(q, qtyDecimals)]));
}

/** Every open order of `account` on `node` (GET /v1/orders?symbol=…&status=open). */
export async function openOrders(node: { url: string }, account: Account, symbol: string): Promise<Json[]> {
  const r = await signed(node, account, "GET", `/v1/orders?symbol=${symbol}&status=open`);
  if (r.status !== 200) throw new Error(`GET open orders: ${r.status} ${r.text}`);
  return Array.isArray(r.body) ? r.body : r.body.orders;
}

export { sleep };

/** A signed request with a deadline: a reply that never comes is an error, not a hung test. */
export function signedWithin(
  node: { url: string },
  account: Account,
  method: string,
  target: string,
  body: unknown,
  timeoutMs: number,
): Promise<Reply> {
  return signed(node, account, method, target, body, {}, timeoutMs);
}

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what}: no reply within ${ms} ms`)), ms);
    promise.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}

/** An order the API acknowledged (201, or a WebSocket result). */
export interface Acked {
  orderId: string;
  clientOrderId: string;
  owner: Account;
  via: string;
  /** Date.now() when sent and when acknowledged. */
  sentAt: number;
  ackedAt: number;
  status: string;
}

/** A placement or cancel that did not get the answer it should have. */
export interface Failure {
  via: string;
  what: string;
  detail: string;
  sentAt: number;
  at: number;
}

/**
 * One client trading BTC-USD on one API node, over REST (signed) or WebSocket (order.place,
 * order.cancel): limit orders around 50,000.00 that rest and cross, and cancels of its own resting
 * orders. Every acknowledgment and every failure is recorded with its time.
 */
export class Trader {
  readonly acked: Acked[] = [];
  readonly failures: Failure[] = [];
  cancels = { done: 0, gone: 0 };
  private readonly random: Prng;
  private readonly resting: string[] = [];
  private next = 0;
  private stopped = false;

  constructor(
    readonly name: string,
    private readonly node: { url: string },
    private readonly account: Account,
    private readonly ws: WsTrader | null,
    seed: number,
    private readonly timeoutMs = 10_000,
  ) {
    this.random = new Prng(seed);
  }

  stop(): void {
    this.stopped = true;
  }

  /** `loops` concurrent senders, `count` operations in all (or until stop()), `pauseMs` between. */
  async run(count: number, loops: number, pauseMs = 0): Promise<void> {
    let left = count;
    const loop = async (): Promise<void> => {
      while (!this.stopped && left > 0) {
        left--;
        await this.step();
        if (pauseMs > 0) await sleep(pauseMs);
      }
    };
    await Promise.all(Array.from({ length: loops }, loop));
  }

  private async step(): Promise<void> {
    const r = this.random;
    if (this.resting.length > 0 && r.chance(0.25)) {
      const orderId = this.resting.splice(r.int(this.resting.length), 1)[0]!;
      await this.cancel(orderId);
      return;
    }
    const buy = r.chance(0.5);
    const ioc = r.chance(0.15);
    // Buys 49,990–50,005, sells 49,995–50,010: the bands overlap, so orders rest and cross.
    const price = `${buy ? 49_990 + r.int(16) : 49_995 + r.int(16)}.00`;
    const quantity = (0.001 * (1 + r.int(20))).toFixed(4);
    const clientOrderId = `${this.name}-${this.next++}`;
    const params = {
      symbol: "BTC-USD",
      side: buy ? "buy" : "sell",
      type: "limit",
      price,
      quantity,
      timeInForce: ioc ? "IOC" : "GTC",
      clientOrderId,
    };
    const sentAt = Date.now();
    try {
      let order: Json;
      if (this.ws === null) {
        const reply = await signedWithin(
          this.node,
          this.account,
          "POST",
          "/v1/orders",
          params,
          this.timeoutMs,
        );
        if (reply.status !== 201) {
          this.fail("place", `${clientOrderId}: ${reply.status} ${reply.text}`, sentAt);
          return;
        }
        order = reply.body;
      } else {
        const reply = await within(
          this.ws.send({ op: "order.place", params }),
          this.timeoutMs,
          "order.place",
        );
        if (reply.error !== undefined || reply.result?.duplicate === true) {
          this.fail("place", `${clientOrderId}: ${JSON.stringify(reply)}`, sentAt);
          return;
        }
        order = reply.result;
      }
      this.acked.push({
        orderId: order.orderId,
        clientOrderId,
        owner: this.account,
        via: this.name,
        sentAt,
        ackedAt: Date.now(),
        status: order.status,
      });
      if (order.status === "open" || order.status === "partially_filled") this.resting.push(order.orderId);
    } catch (error) {
      this.fail("place", `${clientOrderId}: ${(error as Error).message}`, sentAt);
    }
  }

  private async cancel(orderId: string): Promise<void> {
    const sentAt = Date.now();
    try {
      if (this.ws === null) {
        const reply = await signedWithin(
          this.node,
          this.account,
          "DELETE",
          `/v1/orders/${orderId}`,
          undefined,
          this.timeoutMs,
        );
        if (reply.status === 200) this.cancels.done++;
        // Filled (or expired) since its acknowledgment: nothing left to cancel.
        else if (reply.status === 404 || reply.status === 409) this.cancels.gone++;
        else this.fail("cancel", `${orderId}: ${reply.status} ${reply.text}`, sentAt);
      } else {
        const reply = await within(
          this.ws.send({ op: "order.cancel", params: { orderId } }),
          this.timeoutMs,
          "order.cancel",
        );
        if (reply.error === undefined) this.cancels.done++;
        else if (reply.error.code === "ORDER_NOT_FOUND" || reply.error.code === "ORDER_CLOSED")
          this.cancels.gone++;
        else this.fail("cancel", `${orderId}: ${JSON.stringify(reply)}`, sentAt);
      }
    } catch (error) {
      this.fail("cancel", `${orderId}: ${(error as Error).message}`, sentAt);
    }
  }

  private fail(what: string, detail: string, sentAt: number): void {
    this.failures.push({ via: this.name, what, detail, sentAt, at: Date.now() });
  }
}

/**
 * GET /v1/orders/{id} of every acknowledged order on `node`, retried until each answers 200 or the
 * deadline passes; returns the orders found and the ids still missing (with the last reply).
 */
export async function ordersOn(
  node: { url: string },
  acked: Acked[],
  timeoutMs: number,
): Promise<{ found: Map<string, Json>; missing: string[] }> {
  const found = new Map<string, Json>();
  let missing: string[] = [];
  const deadline = Date.now() + timeoutMs;
  let pending = acked;
  for (;;) {
    missing = [];
    const next: Acked[] = [];
    for (let i = 0; i < pending.length; i += 16) {
      const chunk = pending.slice(i, i + 16);
      const replies = await Promise.all(
        chunk.map((a) =>
          signedWithin(node, a.owner, "GET", `/v1/orders/${a.orderId}`, undefined, 10_000).catch(
            (e: Error) => ({ status: 0, text: e.message, body: undefined }) as unknown as Reply,
          ),
        ),
      );
      replies.forEach((reply, j) => {
        const a = chunk[j]!;
        if (reply.status === 200) found.set(a.orderId, reply.body);
        else {
          next.push(a);
          missing.push(`${a.orderId} (${a.via}): ${reply.status} ${reply.text.slice(0, 200)}`);
        }
      });
    }
    pending = next;
    if (pending.length === 0 || Date.now() >= deadline) return { found, missing };
    await sleep(100);
  }
}

/** A node's log lines about market data, and its warnings and errors (pino level ≥ 40), for reports. */
export function notableLines(proc: Proc, max = 30): string {
  const lines = proc.lines.filter(
    (l) =>
      (typeof l.level === "number" && l.level >= 40) ||
      (typeof l.msg === "string" && /market.data|replica|resync|publisher|cache|bus/i.test(l.msg)) ||
      (typeof l.event === "string" && l.event !== "listening") ||
      typeof l.text === "string",
  );
  const shown = lines
    .slice(-max)
    .map((l) => (typeof l.msg === "string" ? `${l.time ?? ""} ${l.msg}` : JSON.stringify(l)));
  const stderr = proc.stderr.length > 0 ? `\n${proc.name} stderr (tail):\n${proc.stderr.slice(-1_500)}` : "";
  return `${proc.name} (${lines.length} notable lines, last ${shown.length}):\n  ${shown.join("\n  ")}${stderr}`;
}

/**
 * Checks that do not stop at the first failure: a run reports every property that broke (the tests'
 * reports are about the product, so one run should say all it can), then `done` fails with the list.
 */
export class Checks {
  readonly problems: string[] = [];

  ok(condition: unknown, message: string): boolean {
    if (!condition) this.problems.push(message);
    return Boolean(condition);
  }

  equal(actual: unknown, expected: unknown, message: string): boolean {
    try {
      assert.deepStrictEqual(actual, expected);
      return true;
    } catch (error) {
      this.problems.push(`${message}\n${(error as Error).message.slice(0, 4_000)}`);
      return false;
    }
  }

  done(context: () => string): void {
    if (this.problems.length === 0) return;
    assert.fail(
      `${this.problems.length} check(s) failed:\n\n${this.problems.map((p, i) => `(${i + 1}) ${p}`).join("\n\n")}\n\n${context()}`,
    );
  }
}

/**
 * The truth to hold the served book against: the whole command log read back from Redis and replayed
 * in a fresh engine with market data (seq 1 on), as the leader computed it.
 */
export async function replayBook(
  journal: string,
  symbol: string,
): Promise<{ lastSeq: number; book: BookView }> {
  const { url, namespace } = parseRedisLocation(journal);
  const reader = new RedisJournal({ url, namespace, durability: "memorydb" });
  const engine = new Engine(defaultConfig);
  const marketData = new MarketData(settleConfig(defaultConfig), { accountMessages: false });
  const out: EngineEvent[] = [];
  let lastSeq = 0;
  try {
    await reader.read(1, (cmd: Command) => {
      engine.apply(cmd, out);
      marketData.apply(out);
      out.length = 0;
      lastSeq = cmd.seq;
    });
  } finally {
    await reader.release();
  }
  return { lastSeq, book: marketData.book(symbol, 1_000)! };
}

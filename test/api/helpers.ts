/**
 * Test harness of the API suite: starts the real node (src/node/bourse.ts: journal, market data, REST,
 * WebSocket) on a free port of 127.0.0.1 with a fresh data directory, and speaks to it over real
 * sockets: fetch for REST, the `ws` client for WebSocket.
 */
import { createHmac } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import WebSocket from "ws";
import type { RateLimitSettings } from "../../src/api/rate-limit.js";
import { type BourseNode, startBourse } from "../../src/node/bourse.js";
import { type NodeConfig, resolveConfig } from "../../src/node/config.js";

/** A parsed JSON reply; the tests check it field by field. */
// biome-ignore lint/suspicious/noExplicitAny: replies are untyped JSON, asserted on field by field
export type Json = any;

export const adminToken = "test-admin-token-0123456789";

export interface TestServer {
  node: BourseNode;
  url: string;
  wsUrl: string;
  dataDir: string;
  /** Stops the node (drain, snapshot); keeps the data directory. */
  stop(): Promise<void>;
  /** Stops the node and removes the data directory. */
  close(): Promise<void>;
  admin(method: string, path: string, body?: unknown): Promise<Reply>;
}

export interface Reply {
  status: number;
  body: Json;
  text: string;
  headers: Headers;
}

export interface ServerOptions {
  dataDir?: string;
  tls?: { certPath: string; keyPath: string };
  rateLimits?: Partial<RateLimitSettings>;
  demo?: boolean;
}

export async function startServer(options: ServerOptions = {}): Promise<TestServer> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), "bourse-api-test-"));
  const base = resolveConfig({ port: "0", host: "127.0.0.1", dataDir }, {});
  const config: NodeConfig = {
    ...base,
    adminToken,
    demo: options.demo === true,
    tls: options.tls ?? null,
    rateLimits: {
      ipRequestsPerSecond: 0,
      keyRequestsPerSecond: 0,
      authFailuresPerIpPerSecond: 0,
      ...options.rateLimits,
    },
    logLevel: "silent",
  };
  const node = await startBourse(config, {
    logger: pino({ level: "silent" }),
    onFatal: (error) => {
      throw error;
    },
  });
  const url = node.url;
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await node.close();
  };
  return {
    node,
    url,
    wsUrl: `${url.replace(/^http/, "ws")}/v1/ws`,
    dataDir,
    stop,
    async close() {
      await stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
    admin: adminRequests(url, adminToken),
  };
}

/** Admin requests to the node at `url` (Bearer `token`): a TestServer's or a cluster node's `admin`. */
export function adminRequests(
  url: string,
  token: string,
): (method: string, path: string, body?: unknown) => Promise<Reply> {
  return (method, path, body) => request(url, method, path, body, { authorization: `Bearer ${token}` });
}

export async function request(
  url: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
  timeoutMs?: number,
): Promise<Reply> {
  const text = body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body);
  const response = await fetch(url + path, {
    method,
    headers: { ...(text === undefined ? {} : { "content-type": "application/json" }), ...headers },
    ...(text === undefined ? {} : { body: text }),
    ...(timeoutMs === undefined ? {} : { signal: AbortSignal.timeout(timeoutMs) }),
  });
  const replyText = await response.text();
  let parsed: unknown;
  try {
    parsed = replyText.length > 0 ? JSON.parse(replyText) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: response.status, body: parsed, text: replyText, headers: response.headers };
}

export interface Account {
  accountId: string;
  apiKey: string;
  apiSecret: string;
}

export function sign(
  secret: string,
  timestamp: string,
  method: string,
  target: string,
  body: string,
): string {
  return createHmac("sha256", secret)
    .update(timestamp + method + target + body)
    .digest("hex");
}

/**
 * A signed account request; `tamper` lets a test break one part of it. With `timeoutMs` a reply that
 * never comes is an error (the request is aborted), not a hung test.
 */
export async function signed(
  server: { url: string },
  account: Account,
  method: string,
  target: string,
  body?: unknown,
  tamper: { timestamp?: string; signature?: string; key?: string; signedBody?: string } = {},
  timeoutMs?: number,
): Promise<Reply> {
  const text = body === undefined ? "" : typeof body === "string" ? body : JSON.stringify(body);
  const timestamp = tamper.timestamp ?? String(Date.now());
  const signature =
    tamper.signature ?? sign(account.apiSecret, timestamp, method, target, tamper.signedBody ?? text);
  return request(
    server.url,
    method,
    target,
    body === undefined ? undefined : text,
    {
      "x-bourse-key": tamper.key ?? account.apiKey,
      "x-bourse-timestamp": timestamp,
      "x-bourse-signature": signature,
    },
    timeoutMs,
  );
}

/**
 * Polls a signed GET until `ready(reply)` holds or the deadline passes (then returns the last reply,
 * for the caller's assertions to explain). The history store is written asynchronously after the
 * output gate, so a fill reaches GET /v1/fills within the history's lag of its order's ack: tests
 * wait for it with a deadline instead of sleeping.
 */
export async function pollSigned(
  server: { url: string },
  account: Account,
  target: string,
  ready: (reply: Reply) => boolean,
  timeoutMs = 5_000,
): Promise<Reply> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const reply = await signed(server, account, "GET", target);
    if (ready(reply) || Date.now() >= deadline) return reply;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** GET /v1/fills (with `query`, e.g. "?symbol=ETH-USD") once it lists at least `count` fills. */
export function fillsWhenAtLeast(
  server: { url: string },
  account: Account,
  count: number,
  query = "",
): Promise<Reply> {
  return pollSigned(
    server,
    account,
    `/v1/fills${query}`,
    (r) => r.status !== 200 || (r.body?.fills?.length ?? 0) >= count,
  );
}

/**
 * Creates an account named `name` and funds it (decimal strings per asset) through `server.admin`:
 * a TestServer, a cluster's API node, or { admin: adminRequests(url, token) }.
 */
export async function fundedAccount(
  server: Pick<TestServer, "admin">,
  funds: Record<string, string> = { USD: "1000000", BTC: "100", ETH: "1000" },
  name = "test",
): Promise<Account> {
  const created = await server.admin("POST", "/v1/admin/accounts", { name });
  if (created.status !== 201) throw new Error(`create account: ${created.status} ${created.text}`);
  const account = created.body as Account;
  for (const [asset, amount] of Object.entries(funds)) {
    const r = await server.admin("POST", `/v1/admin/accounts/${account.accountId}/deposits`, {
      asset,
      amount,
      transferId: `fund-${account.accountId}-${asset}`,
    });
    if (r.status !== 200) throw new Error(`deposit: ${r.status} ${r.text}`);
  }
  return account;
}

export function limit(
  symbol: string,
  side: "buy" | "sell",
  price: string,
  quantity: string,
  extra: object = {},
) {
  return { symbol, side, type: "limit", price, quantity, ...extra };
}

/** The WebSocket `auth` message of `account` (signature over timestamp + "WS/v1/ws"). */
export function wsAuth(
  account: Account,
  timestamp = String(Date.now()),
): { op: "auth"; key: string; timestamp: string; signature: string } {
  const signature = createHmac("sha256", account.apiSecret).update(`${timestamp}WS/v1/ws`).digest("hex");
  return { op: "auth", key: account.apiKey, timestamp, signature };
}

/** A WebSocket client: replies by id, and a queue of pushed messages. */
export class WsClient {
  readonly ws: WebSocket;
  private nextId = 1;
  private readonly waiting = new Map<string | number, (message: Json) => void>();
  readonly pushed: Json[] = [];
  private readonly watchers: { predicate: (m: Json) => boolean; resolve: (m: Json) => void }[] = [];
  readonly opened: Promise<void>;
  /** Replies with a null id (bad JSON and the like). */
  readonly anonymous: Json[] = [];

  constructor(url: string) {
    this.ws = new WebSocket(url);
    this.opened = new Promise((resolve, reject) => {
      this.ws.once("open", () => resolve());
      this.ws.once("error", reject);
    });
    this.ws.on("message", (data) => {
      const message = JSON.parse(data.toString());
      if ("id" in message && message.id !== null && this.waiting.has(message.id)) {
        const resolve = this.waiting.get(message.id)!;
        this.waiting.delete(message.id);
        resolve(message);
        return;
      }
      if ("id" in message && message.id === null) {
        this.anonymous.push(message);
        return;
      }
      const i = this.watchers.findIndex((w) => w.predicate(message));
      if (i >= 0) {
        const [w] = this.watchers.splice(i, 1);
        w!.resolve(message);
        return;
      }
      this.pushed.push(message);
    });
  }

  static async open(url: string): Promise<WsClient> {
    const client = new WsClient(url);
    await client.opened;
    return client;
  }

  send(message: object): Promise<Json> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.ws.send(JSON.stringify({ ...message, id }));
    });
  }

  sendRaw(text: string): void {
    this.ws.send(text);
  }

  /** The next pushed message matching `predicate` (already received or still to come). */
  next(predicate: (m: Json) => boolean, timeoutMs = 5_000): Promise<Json> {
    const i = this.pushed.findIndex(predicate);
    if (i >= 0) return Promise.resolve(this.pushed.splice(i, 1)[0]);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("WsClient.next: timed out")), timeoutMs);
      this.watchers.push({
        predicate,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
      });
    });
  }

  async auth(account: Account, timestamp = String(Date.now())): Promise<Json> {
    return this.send(wsAuth(account, timestamp));
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.ws.readyState === WebSocket.CLOSED) return resolve();
      this.ws.once("close", () => resolve());
      this.ws.close();
    });
  }
}

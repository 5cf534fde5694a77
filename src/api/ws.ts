/**
 * The WebSocket endpoint GET /v1/ws (the `ws` library on fastify's HTTP server).
 *
 * Client messages are `{ op, id?, … }`; every op gets exactly one reply with the same id:
 * `{ id, result }` or `{ id, error: { code, message } }`. Public channels (book, trades, ticker) need
 * no auth; `auth` unlocks the account's `orders` and `balances` channels and order entry
 * (order.place, order.cancel, plus order.amend and order.cancel_all). Order replies are sent only once
 * the command is durable (the Gateway waits for the pipeline).
 *
 * Fan-out: the node hands every durable batch's market-data updates to `publish`; each update is
 * serialized and framed once. A subscriber's frames of the turn are written together at the end of the
 * event-loop turn: the frames broadcast in a turn are kept in one list, each subscriber notes which it
 * gets, and a subscriber that gets a run of consecutive ones (the usual case: every subscriber of a
 * market's channels) is sent that run concatenated, built once per turn and shared by every such
 * subscriber: one socket write per subscriber and turn whatever the number of messages. Replies and
 * other sends are corked for the rest of the turn (after the frames broadcast to that connection
 * before them), so a burst leaves in one syscall rather than one per message.
 * A client that does not read is cut off once apiLimits.wsBufferedBytesMax bytes wait for it.
 */
import type { IncomingMessage } from "node:http";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import { type RawData, WebSocket, WebSocketServer } from "ws";
import type { PublicMarketData } from "../cache/public-market-data.js";
import type { EngineEvent } from "../engine/types.js";
import type { BookView, MarketDataUpdate } from "../marketdata/marketdata.js";
import { marketDataLimits } from "../marketdata/marketdata-limits.js";
import type { Views } from "../marketdata/views.js";
import { AccountFeed, type AccountMessage } from "./account-feed.js";
import type { Authenticator } from "./auth.js";
import { ApiError, errorCatalog } from "./errors.js";
import type { Gateway } from "./gateway.js";
import { apiLimits } from "./limits.js";
import type { ApiMetrics } from "./metrics.js";
import { queryInt } from "./parse.js";
import type { RateLimits } from "./rate-limit.js";

type MessageId = string | number | null;

/** One unmasked, unfragmented text frame (RFC 6455 §5.2): what a server sends. */
function textFrame(text: string): Buffer {
  const length = Buffer.byteLength(text);
  const header = length < 126 ? 2 : length < 65_536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(header + length);
  frame[0] = 0x81; // FIN, opcode 1 (text)
  if (length < 126) frame[1] = length;
  else if (length < 65_536) {
    frame[1] = 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 127;
    frame.writeUInt32BE(Math.floor(length / 2 ** 32), 2);
    frame.writeUInt32BE(length >>> 0, 6);
  }
  frame.write(text, header, "utf8");
  return frame;
}

/** The first message of a book subscription, and what a resync sends again. */
function bookSnapshot(book: BookView): string {
  return JSON.stringify({ channel: "book", type: "snapshot", ...book });
}

const publicChannels: ReadonlySet<string> = new Set(["book", "trades", "ticker"]);
const accountChannels: ReadonlySet<string> = new Set(["orders", "balances"]);
const messageIdLengthMax = 128;

class Connection {
  accountId = -1;
  apiKey = "";
  readonly subscriptions = new Set<string>();
  /** Depth asked for by each book subscription (symbol → depth): a resync sends that much again. */
  readonly bookDepths = new Map<string, number>();
  inFlight = 0;
  alive = true;
  corked = false;
  closed = false;
  /** Frames broadcast to it this turn and not written yet: indices into WsGateway.turnFrames, ascending. */
  readonly pending: number[] = [];
  readonly socket: Socket;

  constructor(
    readonly ws: WebSocket,
    readonly ip: string,
  ) {
    this.socket = (ws as unknown as { _socket: Socket })._socket;
  }
}

export interface WsContext {
  gateway: Gateway;
  /** Public market data: MarketData next to the engine, or an API node's replica (src/cache/md-replica.ts). */
  marketData: PublicMarketData;
  views: Views;
  auth: Authenticator;
  rateLimits: RateLimits;
  metrics: ApiMetrics;
}

export class WsGateway {
  private readonly wss: WebSocketServer;
  private readonly connections = new Set<Connection>();
  /** Channel key ("book:BTC-USD", "orders:42") → subscribers. */
  private readonly channels = new Map<string, Set<Connection>>();
  /** Accounts with an `orders` / `balances` subscriber → number of subscriptions. */
  private readonly orderListeners = new Map<number, number>();
  private readonly balanceListeners = new Map<number, number>();
  private readonly accountFeed: AccountFeed;
  private readonly corked: Connection[] = [];
  /** The frames broadcast this turn, and the connections with some of them pending. */
  private turnFrames: Buffer[] = [];
  private readonly queued: Connection[] = [];
  /** Runs of consecutive turnFrames concatenated this turn (first * 2^24 + last → bytes). */
  private readonly turnRuns = new Map<number, Buffer>();
  private flushScheduled = false;
  private readonly heartbeat: NodeJS.Timeout;
  private accepting = true;

  constructor(private readonly ctx: WsContext) {
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: apiLimits.wsMessageBytesMax,
      perMessageDeflate: false,
      clientTracking: false,
      // JSON.parse rejects what a broken UTF-8 sequence decodes to; skipping the check saves a pass.
      skipUTF8Validation: true,
    });
    this.accountFeed = new AccountFeed(
      ctx.views,
      (id) => this.orderListeners.has(id),
      (id) => this.balanceListeners.has(id),
    );
    this.heartbeat = setInterval(() => this.ping(), apiLimits.wsHeartbeatMs);
    this.heartbeat.unref();
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  get bufferedBytes(): number {
    let total = 0;
    for (const c of this.connections) total += c.ws.bufferedAmount;
    return total;
  }

  /** fastify's server 'upgrade' event. */
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer, ip: string): void {
    const path = (request.url ?? "").split("?")[0];
    const refuse = (status: number, code: string): void => {
      const entry = errorCatalog.get(code as never);
      const body = JSON.stringify({ error: { code, message: entry?.message ?? code } });
      socket.end(
        `HTTP/1.1 ${status} ${status === 404 ? "Not Found" : status === 429 ? "Too Many Requests" : "Service Unavailable"}\r\n` +
          `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
    };
    if (path !== "/v1/ws") return refuse(404, "NOT_FOUND");
    if (!this.accepting) return refuse(503, "NOT_READY");
    if (this.connections.size >= apiLimits.wsConnectionsMax) return refuse(503, "OVERLOADED");
    if (!this.ctx.rateLimits.ip.take(ip)) return refuse(429, "RATE_LIMITED");
    this.wss.handleUpgrade(request, socket, head, (ws) => this.accept(ws, ip));
  }

  private accept(ws: WebSocket, ip: string): void {
    const conn = new Connection(ws, ip);
    this.connections.add(conn);
    ws.on("message", (data, isBinary) => this.onMessage(conn, data, isBinary));
    ws.on("pong", () => {
      conn.alive = true;
    });
    ws.on("error", () => ws.terminate());
    ws.on("close", () => this.drop(conn));
  }

  private drop(conn: Connection): void {
    if (conn.closed) return;
    conn.closed = true;
    this.connections.delete(conn);
    for (const key of conn.subscriptions) this.unsubscribeKey(conn, key);
  }

  private ping(): void {
    for (const conn of this.connections) {
      if (!conn.alive) {
        conn.ws.terminate();
        continue;
      }
      conn.alive = false;
      conn.ws.ping();
    }
  }

  // ───────────────────────────── sending ─────────────────────────────

  private send(conn: Connection, text: string): void {
    if (conn.closed || conn.ws.readyState !== WebSocket.OPEN) return;
    this.cork(conn);
    // What was broadcast to it before goes first.
    if (conn.pending.length > 0) this.writePending(conn);
    conn.ws.send(text);
    this.checkBackPressure(conn);
  }

  /**
   * Fan-out of one message to many subscribers: the WebSocket frame is built once and the same bytes
   * go to every socket (ws would encode the string and frame it again for each), written at the end
   * of the turn (flush). Safe next to ws's own sends: without permessage-deflate (off here) ws writes
   * its frames straight to the socket too, and `send` writes a connection's pending frames first, so
   * frames never interleave or reorder.
   */
  private broadcast(subscribers: Iterable<Connection>, text: string): void {
    const index = this.turnFrames.push(textFrame(text)) - 1;
    for (const conn of subscribers) {
      if (conn.closed || conn.ws.readyState !== WebSocket.OPEN || conn.socket === undefined) continue;
      if (conn.pending.length === 0) {
        this.queued.push(conn);
        this.scheduleFlush();
      }
      conn.pending.push(index);
    }
  }

  /** Writes a connection's pending frames: one write of a shared run, or one write each. */
  private writePending(conn: Connection): void {
    const pending = conn.pending;
    const n = pending.length;
    if (n === 0) return;
    if (conn.closed || conn.ws.readyState !== WebSocket.OPEN) {
      pending.length = 0;
      return;
    }
    const frames = this.turnFrames;
    const first = pending[0]!;
    const last = pending[n - 1]!;
    if (n === 1) conn.socket.write(frames[first]!);
    else if (last - first + 1 === n) {
      const key = first * 16_777_216 + last;
      let run = this.turnRuns.get(key);
      if (run === undefined) {
        run = Buffer.concat(frames.slice(first, last + 1));
        this.turnRuns.set(key, run);
      }
      conn.socket.write(run);
    } else {
      this.cork(conn);
      for (let k = 0; k < n; k++) conn.socket.write(frames[pending[k]!]!);
    }
    pending.length = 0;
    this.checkBackPressure(conn);
  }

  private cork(conn: Connection): void {
    if (!conn.corked && conn.socket !== undefined) {
      conn.corked = true;
      conn.socket.cork();
      this.corked.push(conn);
      this.scheduleFlush();
    }
  }

  private scheduleFlush(): void {
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flush);
    }
  }

  private checkBackPressure(conn: Connection): void {
    if (conn.ws.bufferedAmount > apiLimits.wsBufferedBytesMax) {
      // A client that does not read would make the server hold its messages without bound.
      conn.ws.terminate();
      this.drop(conn);
    }
  }

  private readonly flush = (): void => {
    this.flushScheduled = false;
    const queued = this.queued;
    for (let i = 0; i < queued.length; i++) this.writePending(queued[i]!);
    queued.length = 0;
    this.turnFrames = [];
    this.turnRuns.clear();
    const corked = this.corked;
    for (let i = 0; i < corked.length; i++) {
      const conn = corked[i]!;
      conn.corked = false;
      conn.socket.uncork();
    }
    corked.length = 0;
  };

  private reply(conn: Connection, id: MessageId, result: unknown): void {
    this.send(conn, JSON.stringify({ id, result }));
  }

  private fail(conn: Connection, id: MessageId, error: unknown): void {
    const e = error instanceof ApiError ? error : new ApiError("INTERNAL_ERROR");
    this.send(conn, JSON.stringify({ id, error: { code: e.code, message: e.message } }));
  }

  // ───────────────────────────── fan-out ─────────────────────────────

  /**
   * One durable batch: its public market-data updates, then its account messages (built here only for
   * subscribed accounts, see src/api/account-feed.ts).
   */
  publish(updates: readonly MarketDataUpdate[], events: readonly EngineEvent[]): void {
    if (this.channels.size === 0) return;
    this.publishUpdates(updates);
    if (this.orderListeners.size > 0 || this.balanceListeners.size > 0) {
      this.publishUpdates(this.accountFeed.messages(events));
    }
  }

  /**
   * The market's data was replaced (an API node resynced it after a gap): every book subscriber of the
   * market gets a fresh snapshot, which a client applies like the first one (docs/marketdata.md).
   */
  resync(symbol: string): void {
    const subscribers = this.channels.get(`book:${symbol}`);
    if (subscribers === undefined) return;
    const bySize = new Map<number, string>();
    for (const conn of subscribers) {
      const depth = conn.bookDepths.get(symbol) ?? marketDataLimits.bookDepthMax;
      let text = bySize.get(depth);
      if (text === undefined) {
        const book = this.ctx.marketData.book(symbol, depth);
        if (book === undefined) return;
        text = bookSnapshot(book);
        bySize.set(depth, text);
      }
      this.send(conn, text);
    }
  }

  private publishUpdates(updates: readonly (MarketDataUpdate | AccountMessage)[]): void {
    for (let i = 0; i < updates.length; i++) {
      const u = updates[i]!;
      let key: string;
      let message: unknown;
      switch (u.channel) {
        case "book":
          key = `book:${u.symbol}`;
          message = {
            channel: "book",
            type: "update",
            symbol: u.symbol,
            sequence: u.sequence,
            bids: u.bids,
            asks: u.asks,
          };
          break;
        case "trades":
          key = `trades:${u.symbol}`;
          message = u;
          break;
        case "ticker":
          key = `ticker:${u.symbol}`;
          message = u;
          break;
        case "orders":
          key = `orders:${u.accountId}`;
          message = { channel: "orders", accountId: String(u.accountId), order: u.order };
          break;
        case "balances":
          key = `balances:${u.accountId}`;
          message = { channel: "balances", accountId: String(u.accountId), balance: u.balance };
          break;
      }
      const subscribers = this.channels.get(key);
      if (subscribers === undefined) continue;
      this.broadcast(subscribers, JSON.stringify(message));
    }
  }

  // ───────────────────────────── client messages ─────────────────────────────

  private onMessage(conn: Connection, data: RawData, isBinary: boolean): void {
    const { rateLimits, metrics } = this.ctx;
    if (!rateLimits.ip.take(conn.ip)) {
      metrics.rateLimited.inc({ limit: rateLimits.ip.rule.name });
      return this.fail(
        conn,
        null,
        new ApiError("RATE_LIMITED", `rate limit ${rateLimits.ip.rule.name} exceeded`),
      );
    }
    if (isBinary) return this.fail(conn, null, new ApiError("INVALID_REQUEST", "messages are JSON text"));
    let message: unknown;
    try {
      message = JSON.parse(data.toString());
    } catch {
      return this.fail(conn, null, new ApiError("INVALID_REQUEST", "the message is not valid JSON"));
    }
    if (typeof message !== "object" || message === null || Array.isArray(message)) {
      return this.fail(conn, null, new ApiError("VALIDATION_ERROR", "a message is a JSON object"));
    }
    const m = message as Record<string, unknown>;
    const rawId = m.id;
    let id: MessageId = null;
    if (typeof rawId === "number" && Number.isFinite(rawId)) id = rawId;
    else if (typeof rawId === "string" && rawId.length <= messageIdLengthMax) id = rawId;
    else if (rawId !== undefined && rawId !== null) {
      return this.fail(conn, null, new ApiError("VALIDATION_ERROR", "id must be a number or a short string"));
    }
    const op = m.op;
    metrics.wsMessages.inc({ op: typeof op === "string" && knownOps.has(op) ? op : "unknown" });
    try {
      switch (op) {
        case "ping":
          return this.reply(conn, id, { pong: Date.now() });
        case "subscribe":
          return this.subscribe(conn, id, m);
        case "unsubscribe":
          return this.unsubscribe(conn, id, m);
        case "auth":
          return this.authenticate(conn, id, m);
        case "order.place":
        case "order.cancel":
        case "order.amend":
        case "order.cancel_all":
          return this.orderOp(conn, id, op, m.params);
        default:
          throw new ApiError("VALIDATION_ERROR", `unknown op; ops are ${[...knownOps].join(", ")}`);
      }
    } catch (error) {
      this.fail(conn, id, error);
    }
  }

  private channelKey(
    conn: Connection,
    m: Record<string, unknown>,
  ): { key: string; channel: string; symbol?: string } {
    const channel = m.channel;
    if (typeof channel !== "string" || !(publicChannels.has(channel) || accountChannels.has(channel))) {
      throw new ApiError("VALIDATION_ERROR", "channel must be book, trades, ticker, orders or balances");
    }
    if (accountChannels.has(channel)) {
      if (conn.accountId < 0) throw new ApiError("UNAUTHORIZED", "authenticate first (op auth)");
      return { key: `${channel}:${conn.accountId}`, channel };
    }
    const symbol = m.symbol;
    this.ctx.gateway.parser.market(symbol);
    return { key: `${channel}:${symbol as string}`, channel, symbol: symbol as string };
  }

  private subscribe(conn: Connection, id: MessageId, m: Record<string, unknown>): void {
    for (const field of Object.keys(m)) {
      if (
        field !== "op" &&
        field !== "id" &&
        field !== "channel" &&
        field !== "symbol" &&
        field !== "depth"
      ) {
        throw new ApiError("VALIDATION_ERROR", `subscribe: unknown field "${field.slice(0, 40)}"`);
      }
    }
    const { key, channel, symbol } = this.channelKey(conn, m);
    const depth =
      m.depth === undefined
        ? marketDataLimits.bookDepthMax
        : queryInt(
            typeof m.depth === "number" ? String(m.depth) : m.depth,
            "depth",
            0,
            1,
            marketDataLimits.bookDepthMax,
          );
    if (!conn.subscriptions.has(key)) {
      if (conn.subscriptions.size >= apiLimits.wsSubscriptionsPerConnectionMax) {
        throw new ApiError(
          "VALIDATION_ERROR",
          `at most ${apiLimits.wsSubscriptionsPerConnectionMax} subscriptions`,
        );
      }
      conn.subscriptions.add(key);
      this.countListener(key, +1);
      let subscribers = this.channels.get(key);
      if (subscribers === undefined) this.channels.set(key, (subscribers = new Set()));
      subscribers.add(conn);
    }
    const result: Record<string, unknown> = { channel };
    if (symbol !== undefined) result.symbol = symbol;
    this.reply(conn, id, result);
    // The first message of a channel is its current state: what a client applies updates to.
    if (channel === "book") {
      conn.bookDepths.set(symbol!, depth);
      // An API node that is not synced yet sends the snapshot when it is (resync below).
      const book = this.ctx.marketData.book(symbol!, depth);
      if (book !== undefined) this.send(conn, bookSnapshot(book));
    } else if (channel === "ticker") {
      const ticker = this.ctx.marketData.ticker(symbol!);
      if (ticker !== undefined) this.send(conn, JSON.stringify({ channel: "ticker", ...ticker }));
    } else if (channel === "balances") {
      const balances = this.ctx.gateway.balances(conn.accountId);
      this.send(
        conn,
        JSON.stringify({
          channel: "balances",
          type: "snapshot",
          accountId: String(conn.accountId),
          balances,
        }),
      );
    }
  }

  private unsubscribe(conn: Connection, id: MessageId, m: Record<string, unknown>): void {
    const { key, channel, symbol } = this.channelKey(conn, m);
    this.unsubscribeKey(conn, key);
    const result: Record<string, unknown> = { channel, unsubscribed: true };
    if (symbol !== undefined) result.symbol = symbol;
    this.reply(conn, id, result);
  }

  private countListener(key: string, delta: number): void {
    const colon = key.indexOf(":");
    const channel = key.slice(0, colon);
    const listeners =
      channel === "orders" ? this.orderListeners : channel === "balances" ? this.balanceListeners : null;
    if (listeners === null) return;
    const accountId = Number(key.slice(colon + 1));
    const n = (listeners.get(accountId) ?? 0) + delta;
    if (n > 0) listeners.set(accountId, n);
    else listeners.delete(accountId);
  }

  private unsubscribeKey(conn: Connection, key: string): void {
    if (!conn.subscriptions.delete(key)) return;
    if (key.startsWith("book:")) conn.bookDepths.delete(key.slice(5));
    this.countListener(key, -1);
    const subscribers = this.channels.get(key);
    if (subscribers === undefined) return;
    subscribers.delete(conn);
    if (subscribers.size === 0) this.channels.delete(key);
  }

  private authenticate(conn: Connection, id: MessageId, m: Record<string, unknown>): void {
    const { rateLimits, auth, metrics } = this.ctx;
    if (rateLimits.authFailures.exhausted(conn.ip)) {
      metrics.rateLimited.inc({ limit: rateLimits.authFailures.rule.name });
      throw new ApiError("RATE_LIMITED", `rate limit ${rateLimits.authFailures.rule.name} exceeded`);
    }
    const timestamp =
      typeof m.timestamp === "number" && Number.isSafeInteger(m.timestamp)
        ? String(m.timestamp)
        : m.timestamp;
    let accountId: number;
    try {
      accountId = auth.verify(m.key, timestamp, m.signature, (ts) => `${ts}WS/v1/ws`);
    } catch (error) {
      rateLimits.authFailures.take(conn.ip);
      throw error;
    }
    if (conn.accountId !== accountId) {
      // A connection re-authenticating as another account leaves the old account's channels.
      for (const key of [...conn.subscriptions]) {
        if (key.startsWith("orders:") || key.startsWith("balances:")) this.unsubscribeKey(conn, key);
      }
    }
    conn.accountId = accountId;
    conn.apiKey = m.key as string;
    this.reply(conn, id, { accountId: String(accountId) });
  }

  private orderOp(conn: Connection, id: MessageId, op: string, params: unknown): void {
    const { rateLimits, metrics, gateway } = this.ctx;
    if (conn.accountId < 0) throw new ApiError("UNAUTHORIZED", "authenticate first (op auth)");
    if (!rateLimits.key.take(conn.apiKey)) {
      metrics.rateLimited.inc({ limit: rateLimits.key.rule.name });
      throw new ApiError("RATE_LIMITED", `rate limit ${rateLimits.key.rule.name} exceeded`);
    }
    if (conn.inFlight >= apiLimits.wsInFlightPerConnectionMax) {
      throw new ApiError("RATE_LIMITED", "too many order ops waiting for durability on this connection");
    }
    const accountId = conn.accountId;
    let pending: Promise<unknown>;
    if (op === "order.place") {
      pending = gateway
        .placeOrder(accountId, params, "ws")
        .then((r) => (r.created ? r.order : { ...r.order, duplicate: true }));
    } else {
      const p = (typeof params === "object" && params !== null ? params : {}) as Record<string, unknown>;
      if (op === "order.cancel_all") {
        const symbol = p.symbol;
        if (symbol !== undefined && typeof symbol !== "string")
          throw new ApiError("VALIDATION_ERROR", "symbol must be a string");
        pending = gateway.cancelAll(accountId, symbol);
      } else {
        const orderId = p.orderId;
        if (typeof orderId !== "string")
          throw new ApiError("VALIDATION_ERROR", "params.orderId must be a string");
        if (op === "order.cancel") pending = gateway.cancelOrder(accountId, orderId, "ws");
        else {
          const { orderId: _, ...amendment } = p;
          pending = gateway.amendOrder(accountId, orderId, amendment);
        }
      }
    }
    conn.inFlight++;
    pending.then(
      (result) => {
        conn.inFlight--;
        this.reply(conn, id, result);
      },
      (error: unknown) => {
        conn.inFlight--;
        this.fail(conn, id, error);
      },
    );
  }

  /** Stops accepting connections. */
  stopAccepting(): void {
    this.accepting = false;
  }

  /** Order ops of every connection still waiting for durability. */
  get inFlight(): number {
    let n = 0;
    for (const c of this.connections) n += c.inFlight;
    return n;
  }

  /** Closes every connection (1001: going away). */
  close(): void {
    clearInterval(this.heartbeat);
    this.flush();
    for (const conn of this.connections) conn.ws.close(1001, "server shutting down");
    this.wss.close();
  }
}

const knownOps: ReadonlySet<string> = new Set([
  "ping",
  "subscribe",
  "unsubscribe",
  "auth",
  "order.place",
  "order.cancel",
  "order.amend",
  "order.cancel_all",
]);

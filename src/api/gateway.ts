/**
 * The gateway's operations, independent of transport: REST and WebSocket both call these, so that an
 * order placed either way is validated, submitted and answered the same way. Commands go through the
 * pipeline and every answer that reflects a command is built only after the pipeline has released the
 * command's events, i.e. after the command is durable. Queries read the durable views (order store,
 * balances), never the engine's live state, so nothing not yet durable ever leaves.
 */
import { performance } from "node:perf_hooks";
import type { SettledConfig } from "../engine/config.js";
import type { EngineEvent, OrderEvent, OrderStatus, TradeEvent } from "../engine/types.js";
import { CursorError, encodeCursor } from "../history/cursor.js";
import type { HistoryStore } from "../history/history-store.js";
import type { FillQuery, FillRecord, LedgerEntry } from "../history/records.js";
import type {
  AccountFillView,
  BalanceView as BalanceReply,
  FillView,
  OrderView,
  Views,
} from "../marketdata/views.js";
import { type CommandInput, type CommandPipeline, PipelineError } from "../node/pipeline.js";
import { type Authenticator, generateApiKey, generateApiSecret, sealSecret } from "./auth.js";
import { ApiError, type ErrorCode } from "./errors.js";
import { apiLimits, historyApiLimits } from "./limits.js";
import type { ApiMetrics } from "./metrics.js";
import { type BalanceView, isClosed, isOpen, type OrderRecord, type OrderStore } from "./order-store.js";
import { parseId, type RequestParser } from "./parse.js";

export type Transport = "rest" | "ws";

export interface PlaceResult {
  /** false: a repeat of an accepted clientOrderId, answered with the original order (HTTP 200). */
  created: boolean;
  order: OrderView;
}

export interface CreatedAccount {
  accountId: string;
  apiKey: string;
  apiSecret: string;
}

const orderStatuses: ReadonlySet<string> = new Set<OrderStatus>([
  "untriggered",
  "open",
  "partially_filled",
  "filled",
  "cancelled",
  "expired",
]);

export interface GatewayDeps {
  config: SettledConfig;
  pipeline: CommandPipeline;
  views: Views;
  parser: RequestParser;
  orders: OrderStore;
  balances: BalanceView;
  auth: Authenticator;
  masterKey: Buffer;
  metrics: ApiMetrics;
  /** The history store (src/history/): GET /v1/fills and the admin ledger read it. */
  history: HistoryStore;
}

/** One ledger entry as GET /v1/admin/accounts/{accountId}/ledger lists it (amounts: decimal strings). */
export interface LedgerEntryView {
  seq: number;
  time: number;
  asset: string;
  deposit: string;
  withdrawal: string;
  settlementIn: string;
  settlementOut: string;
  feeIn: string;
  feeOut: string;
  hold: string;
  release: string;
  /** The balance after the command, as the engine reported it. */
  available: string;
  locked: string;
  /** Deposits and withdrawals only. */
  transferId?: string;
}

export interface LedgerReply {
  accountId: string;
  entries: LedgerEntryView[];
  nextCursor?: string;
}

/** Maps a failure of the history store: a cursor it did not give → 400, anything else → 503. */
export function historyFailure(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  if (error instanceof CursorError) return new ApiError("INVALID_CURSOR", error.message);
  return new ApiError("UNAVAILABLE", "the history store did not answer");
}

/** Maps a failure of the pipeline (or of the journal behind it) to the catalog. */
export function pipelineFailure(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  if (error instanceof PipelineError) {
    if (error.kind === "overloaded") return new ApiError("OVERLOADED");
    if (error.kind === "not_ready") return new ApiError("NOT_READY");
    return new ApiError("UNAVAILABLE");
  }
  const code = (error as { code?: unknown } | null)?.code;
  if (code === "JOURNAL_BACKLOG_FULL") return new ApiError("OVERLOADED");
  if (code === "JOURNAL_CLOSED") return new ApiError("NOT_READY");
  if (code === "JOURNAL_COMMAND_TOO_LARGE")
    return new ApiError("PAYLOAD_TOO_LARGE", "the command is too large");
  if (code === "JOURNAL_INVALID_COMMAND") return new ApiError("VALIDATION_ERROR", "a field cannot be stored");
  return new ApiError("UNAVAILABLE");
}

function rejection(events: readonly EngineEvent[]): ApiError | null {
  for (let i = events.length - 1; i >= 0; i--) {
    const e = events[i]!;
    if (e.type === "rejected") return new ApiError(e.code as ErrorCode);
  }
  return null;
}

/** Lone UTF-16 surrogates cannot be stored as UTF-8 by the journal. */
const loneSurrogate = /\p{Cs}/u;

export class Gateway {
  readonly config: SettledConfig;
  private readonly pipeline: CommandPipeline;
  private readonly views: Views;
  readonly parser: RequestParser;
  readonly orders: OrderStore;
  readonly balanceView: BalanceView;
  private readonly auth: Authenticator;
  private readonly masterKey: Buffer;
  private readonly metrics: ApiMetrics;
  private readonly history: HistoryStore;

  constructor(deps: GatewayDeps) {
    this.history = deps.history;
    this.config = deps.config;
    this.pipeline = deps.pipeline;
    this.views = deps.views;
    this.parser = deps.parser;
    this.orders = deps.orders;
    this.balanceView = deps.balances;
    this.auth = deps.auth;
    this.masterKey = deps.masterKey;
    this.metrics = deps.metrics;
  }

  get ready(): boolean {
    return this.pipeline.ready;
  }

  private async submit(cmd: CommandInput): Promise<EngineEvent[]> {
    try {
      return await this.pipeline.submit(cmd);
    } catch (error) {
      throw pipelineFailure(error);
    }
  }

  // ───────────────────────────── admin ─────────────────────────────

  async createAccount(name: string | undefined): Promise<CreatedAccount> {
    if (name !== undefined && (name.length > apiLimits.accountNameLengthMax || loneSurrogate.test(name))) {
      throw new ApiError(
        "VALIDATION_ERROR",
        `name must be at most ${apiLimits.accountNameLengthMax} characters`,
      );
    }
    const apiKey = generateApiKey();
    const apiSecret = generateApiSecret();
    const sealedSecret = sealSecret(this.masterKey, apiKey, apiSecret);
    const events = await this.submit({ type: "create_account", name: name ?? "", apiKey, sealedSecret });
    const rejected = rejection(events);
    if (rejected !== null) throw rejected;
    const created = events.find((e) => e.type === "account_created");
    if (created === undefined) throw new Error("gateway: create_account produced no account_created event");
    this.auth.remember(apiKey, apiSecret);
    return { accountId: String(created.accountId), apiKey, apiSecret };
  }

  /** A deposit or withdrawal; the reply is the asset's balance after it. */
  async transfer(kind: "deposit" | "withdraw", accountIdText: string, body: unknown): Promise<BalanceReply> {
    const accountId = this.tradableAccount(accountIdText);
    const cmd = this.parser.transfer(kind, accountId, body);
    const events = await this.submit(cmd);
    const rejected = rejection(events);
    if (rejected !== null) throw rejected;
    return this.balanceOf(accountId, cmd.asset);
  }

  adminBalances(accountIdText: string): BalanceReply[] {
    return this.balances(this.tradableAccount(accountIdText));
  }

  /** An account id of the path: an existing account other than the fee account, else UNKNOWN_ACCOUNT. */
  private tradableAccount(text: string): number {
    const id = parseId(text);
    if (id === null || id === 0 || !this.balanceView.has(id)) throw new ApiError("UNKNOWN_ACCOUNT");
    return id;
  }

  // ───────────────────────────── account queries ─────────────────────────────

  balances(accountId: number): BalanceReply[] {
    const rows = this.balanceView.of(accountId);
    if (rows === undefined) throw new ApiError("UNKNOWN_ACCOUNT");
    return rows.map((b) => this.views.balanceView(b));
  }

  private balanceOf(accountId: number, asset: string): BalanceReply {
    const row = this.balanceView.of(accountId)?.find((b) => b.asset === asset);
    if (row === undefined) throw new ApiError("UNKNOWN_ACCOUNT");
    return this.views.balanceView(row);
  }

  /** The account's order of the path, or ORDER_NOT_FOUND (another account's order is not found either). */
  private ownRecord(accountId: number, orderIdText: string): OrderRecord {
    const id = parseId(orderIdText);
    const record = id === null ? undefined : this.orders.get(id);
    if (record === undefined || record.order.accountId !== accountId) throw new ApiError("ORDER_NOT_FOUND");
    return record;
  }

  getOrder(accountId: number, orderIdText: string): OrderView {
    return this.viewOf(this.ownRecord(accountId, orderIdText));
  }

  listOrders(accountId: number, symbol: string | undefined, status: string | undefined): OrderView[] {
    if (symbol !== undefined) this.parser.market(symbol);
    if (status !== undefined && !orderStatuses.has(status)) {
      throw new ApiError(
        "VALIDATION_ERROR",
        "status must be one of untriggered, open, partially_filled, filled, cancelled, expired",
      );
    }
    const matches = (o: OrderEvent): boolean =>
      (symbol === undefined || o.symbol === symbol) &&
      (status === undefined || (status === "open" ? isOpen(o) : o.status === status));
    const found: OrderRecord[] = [];
    const liveOnly = status === "open" || status === "untriggered" || status === "partially_filled";
    const candidates = liveOnly ? this.orders.liveOf(accountId) : this.orders.ofAccount(accountId);
    for (const record of candidates) if (matches(record.order)) found.push(record);
    found.sort((a, b) => b.order.orderId - a.order.orderId);
    return found.slice(0, apiLimits.ordersListMax).map((r) => this.viewOf(r));
  }

  /**
   * The account's fills from the history store, newest first. The store is written asynchronously
   * after the output gate: a fill appears here within the history's lag (bourse_history_lag_ms) of
   * its order's acknowledgment.
   */
  async fills(
    accountId: number,
    query: { symbol?: string; from?: number; to?: number; limit: number; cursor?: string },
  ): Promise<{ fills: AccountFillView[]; nextCursor?: string }> {
    if (query.symbol !== undefined) this.parser.market(query.symbol);
    const q: FillQuery = { accountId, limit: query.limit };
    if (query.symbol !== undefined) q.symbol = query.symbol;
    if (query.from !== undefined) q.fromTime = query.from;
    if (query.to !== undefined) q.toTime = query.to;
    if (query.cursor !== undefined && query.cursor !== "") q.cursor = query.cursor;
    let page: Awaited<ReturnType<HistoryStore["fills"]>>;
    try {
      page = await this.history.fills(q);
    } catch (error) {
      throw historyFailure(error);
    }
    const reply: { fills: AccountFillView[]; nextCursor?: string } = {
      fills: page.items.map((f) => this.accountFillView(f)),
    };
    if (page.nextCursor !== undefined) reply.nextCursor = page.nextCursor;
    return reply;
  }

  private accountFillView(f: FillRecord): AccountFillView {
    return {
      tradeId: String(f.tradeId),
      price: this.views.price(f.symbol, f.price),
      quantity: this.views.quantity(f.symbol, f.quantity),
      fee: this.views.amount(f.feeAsset, f.fee),
      feeAsset: f.feeAsset,
      liquidity: f.liquidity,
      time: f.time,
      orderId: String(f.orderId),
      symbol: f.symbol,
      side: f.side,
    };
  }

  // ───────────────────────────── admin: ledger ─────────────────────────────

  /**
   * An account's ledger from the history store, newest first: every balance movement by kind, with
   * the balance after it. `asset` keeps one asset's entries; `fromSeq` stops at entries older than
   * that command. Filtering reads at most historyApiLimits.ledgerStorePagesPerRequestMax pages of the
   * store per request, so a page may come back shorter than `limit` (even empty) with a nextCursor:
   * follow it until it is absent.
   */
  async ledger(
    accountIdText: string,
    query: { asset?: string; fromSeq?: number; limit: number; cursor?: string },
  ): Promise<LedgerReply> {
    const accountId = this.tradableAccount(accountIdText);
    if (query.asset !== undefined && !this.config.assetByName.has(query.asset))
      throw new ApiError("UNKNOWN_ASSET");
    const entries: LedgerEntryView[] = [];
    let cursor = query.cursor === "" ? undefined : query.cursor;
    let nextCursor: string | undefined;
    try {
      for (let pages = 0; pages < historyApiLimits.ledgerStorePagesPerRequestMax; pages++) {
        nextCursor = undefined;
        const page = await this.history.ledger({
          accountId,
          limit: query.limit,
          ...(cursor === undefined ? {} : { cursor }),
        });
        let done = page.nextCursor === undefined;
        for (let k = 0; k < page.items.length; k++) {
          const e = page.items[k]!;
          if (query.fromSeq !== undefined && e.seq < query.fromSeq) {
            done = true;
            break;
          }
          if (query.asset !== undefined && e.asset !== query.asset) continue;
          entries.push(this.ledgerEntryView(e));
          if (entries.length === query.limit) {
            const last = k === page.items.length - 1;
            if (!(last && page.nextCursor === undefined)) {
              nextCursor = last ? page.nextCursor : encodeCursor({ t: e.time, i: e.seq, a: e.asset });
            }
            done = true;
            break;
          }
        }
        if (done) break;
        cursor = page.nextCursor;
        nextCursor = cursor;
      }
    } catch (error) {
      throw historyFailure(error);
    }
    const reply: LedgerReply = { accountId: String(accountId), entries };
    if (nextCursor !== undefined) reply.nextCursor = nextCursor;
    return reply;
  }

  private ledgerEntryView(e: LedgerEntry): LedgerEntryView {
    const a = (units: LedgerEntry["deposit"]): string => this.views.amount(e.asset, units);
    const view: LedgerEntryView = {
      seq: e.seq,
      time: e.time,
      asset: e.asset,
      deposit: a(e.deposit),
      withdrawal: a(e.withdrawal),
      settlementIn: a(e.settlementIn),
      settlementOut: a(e.settlementOut),
      feeIn: a(e.feeIn),
      feeOut: a(e.feeOut),
      hold: a(e.hold),
      release: a(e.release),
      available: a(e.availableAfter),
      locked: a(e.lockedAfter),
    };
    if (e.transferId !== "") view.transferId = e.transferId;
    return view;
  }

  private viewOf(record: OrderRecord): OrderView {
    const orderId = record.order.orderId;
    const fills: FillView[] = record.fills.map((t) => this.views.fillView(t, orderId));
    const view = this.views.orderView(record.order, fills);
    view.updatedAt = record.updatedAt;
    return view;
  }

  // ───────────────────────────── order entry ─────────────────────────────

  async placeOrder(accountId: number, body: unknown, transport: Transport): Promise<PlaceResult> {
    const started = performance.now();
    let outcome = "error";
    try {
      const cmd = this.parser.place(accountId, body);
      const events = await this.submit(cmd);
      const result = this.placeResult(events);
      outcome = result.created ? "created" : "duplicate";
      return result;
    } catch (error) {
      if (error instanceof ApiError) outcome = error.code;
      throw error;
    } finally {
      this.metrics.observeAck(transport, outcomeLabel(outcome), (performance.now() - started) / 1000);
    }
  }

  private placeResult(events: readonly EngineEvent[]): PlaceResult {
    let orderId = 0;
    let last: OrderEvent | undefined;
    const trades: TradeEvent[] = [];
    for (let i = 0; i < events.length; i++) {
      const e = events[i]!;
      if (e.type === "order") {
        if (orderId === 0 && e.reason === "placed") orderId = e.orderId;
        if (e.orderId === orderId) last = e;
      } else if (e.type === "trade") {
        if (orderId !== 0 && (e.takerOrderId === orderId || e.makerOrderId === orderId)) trades.push(e);
      } else if (e.type === "rejected") {
        throw new ApiError(e.code as ErrorCode);
      } else if (e.type === "duplicate_order") {
        return { created: false, order: this.original(e.orderId, e.clientOrderId) };
      }
    }
    if (last === undefined) throw new Error("gateway: an accepted place produced no order event");
    const fills = trades.map((t) => this.views.fillView(t, orderId));
    return { created: true, order: this.views.orderView(last, fills) };
  }

  private original(orderId: number, clientOrderId: string): OrderView {
    const record = this.orders.get(orderId);
    if (record === undefined) {
      throw new ApiError(
        "DUPLICATE_CLIENT_ORDER_ID",
        `clientOrderId "${clientOrderId}" was used by order ${orderId}, which this server no longer remembers`,
      );
    }
    return this.viewOf(record);
  }

  async cancelOrder(accountId: number, orderIdText: string, transport: Transport): Promise<OrderView> {
    const started = performance.now();
    let outcome = "error";
    try {
      const record = this.ownRecord(accountId, orderIdText);
      if (isClosed(record.order)) throw new ApiError("ORDER_CLOSED");
      const orderId = record.order.orderId;
      const events = await this.submit({ type: "cancel", accountId, orderId });
      const rejected = rejection(events);
      if (rejected !== null) {
        // Closed by a command that went first (a fill, an expiry): the store has it by now.
        if (rejected.code === "ORDER_NOT_FOUND" && isClosed(record.order)) throw new ApiError("ORDER_CLOSED");
        throw rejected;
      }
      outcome = "cancelled";
      return this.viewOf(this.orders.get(orderId) ?? record);
    } catch (error) {
      if (error instanceof ApiError) outcome = error.code;
      throw error;
    } finally {
      this.metrics.observeAck(transport, outcomeLabel(outcome), (performance.now() - started) / 1000);
    }
  }

  async cancelAll(accountId: number, symbol: string | undefined): Promise<{ cancelled: string[] }> {
    if (symbol !== undefined) this.parser.market(symbol);
    const events = await this.submit({ type: "cancel_all", accountId, symbol: symbol ?? "" });
    const rejected = rejection(events);
    if (rejected !== null) throw rejected;
    const cancelled: string[] = [];
    for (const e of events) {
      if (e.type === "order" && e.reason === "cancelled" && e.accountId === accountId) {
        cancelled.push(String(e.orderId));
      }
    }
    return { cancelled };
  }

  async amendOrder(accountId: number, orderIdText: string, body: unknown): Promise<OrderView> {
    const record = this.ownRecord(accountId, orderIdText);
    const cmd = this.parser.amend(accountId, record.order.orderId, record.order.symbol, body);
    if (isClosed(record.order)) throw new ApiError("ORDER_CLOSED");
    const events = await this.submit(cmd);
    const rejected = rejection(events);
    if (rejected !== null) {
      if (rejected.code === "ORDER_NOT_FOUND" && isClosed(record.order)) throw new ApiError("ORDER_CLOSED");
      throw rejected;
    }
    return this.viewOf(this.orders.get(record.order.orderId) ?? record);
  }
}

/** Keeps the label set of the ack histogram small: business codes fold into "rejected". */
function outcomeLabel(outcome: string): string {
  if (outcome === "created" || outcome === "duplicate" || outcome === "cancelled" || outcome === "error") {
    return outcome;
  }
  if (outcome === "OVERLOADED" || outcome === "NOT_READY" || outcome === "UNAVAILABLE") return "unavailable";
  return "rejected";
}

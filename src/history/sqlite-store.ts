/**
 * The embedded history: one SQLite database (WAL) in the data directory.
 *
 * Tables (docs/history.md has the access patterns and example SQL):
 *   trade           one row per trade, tradeId INTEGER PRIMARY KEY: appended in tradeId (= time) order;
 *                   index (symbol, time, tradeId): a symbol's trades by time
 *   account_bucket  per account and writer batch, that account's fills, ledger entries and order rows as
 *                   JSON arrays (the "bucket pattern" of time-series stores); index (accountId, lastTime,
 *                   lastSeq): an account's history by time, either way
 *   order_home      orderId INTEGER PRIMARY KEY → account and seq of placement (appended: ids increase),
 *                   and the order's final state once it is closed (one point lookup for a closed order)
 *   balance         (accountId, asset): the balance as of the checkpoint (the writer's memory after a restart)
 *   ledger_opening  (accountId, asset): the balance at the end of the archived periods (archive.ts): a
 *                   rebuild starts there when the entries before it are in the archive, not here
 *   archive_period  each archived day: where its files are, archived or restored
 *   meta            checkpoint (seq), checkpointTime, schemaVersion
 *
 * Why buckets: one row per movement (five ledger rows, two fills and two order rows per trade) costs a
 * B-tree insert each at a random place (keyed by account), which caps ingest far below the engine's
 * trade rate. A bucket is one insert per account per batch, whatever the number of rows it holds; the
 * rows stay queryable in SQL through json_each (docs/history.md), and the queries below read them with
 * bounded work per page.
 *
 * Exactly once: a batch's rows and the new checkpoint are one transaction, and every insert is a
 * plain INSERT on a natural key (tradeId, orderId, account+position): were a row ever written twice
 * the transaction would fail (a broken invariant stops the writer) rather than duplicate it.
 *
 * Amounts: INTEGER in `trade` and `balance` (every amount the engine produces fits in a signed 64-bit
 * integer: it rejects anything that would not), bound as bigint beyond 2^53 and read with
 * safeIntegers; in JSON, a number while it is a safe integer, a decimal string beyond. Exact both ways.
 * synchronous=NORMAL in WAL mode: a power loss may lose the last transactions, never half of one; the
 * checkpoint goes back with them and the writer rewrites them from the journal.
 */
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import { type Int, inInt64, normalize } from "../engine/int.js";
import type { OrderStatus, OrderType, SelfTradePrevention, Side, TimeInForce } from "../engine/types.js";
import { decodeCursor, encodeCursor, type Position, pageSize } from "./cursor.js";
import { historyLimits } from "./history-limits.js";
import type { HistoryStore } from "./history-store.js";
import { type BalanceKey, HistoryIntegrityError } from "./projector.js";
import {
  type BalanceRecord,
  type FillQuery,
  type FillRecord,
  fillOf,
  type HistoryBatch,
  type LedgerEntry,
  type LedgerQuery,
  type OrderEventsQuery,
  type OrderRecord,
  type Page,
  type TradeQuery,
  type TradeRecord,
} from "./records.js";

const schemaVersion = 3;
const maxKey = Number.MAX_SAFE_INTEGER;

const schema = `
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS trade (
  tradeId INTEGER PRIMARY KEY, seq INTEGER NOT NULL, time INTEGER NOT NULL, symbol TEXT NOT NULL,
  price INTEGER NOT NULL, quantity INTEGER NOT NULL, notional INTEGER NOT NULL, takerSide TEXT NOT NULL,
  takerOrderId INTEGER NOT NULL, takerAccountId INTEGER NOT NULL, makerOrderId INTEGER NOT NULL,
  makerAccountId INTEGER NOT NULL, takerFee INTEGER NOT NULL, makerFee INTEGER NOT NULL, quoteAsset TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS trade_by_symbol ON trade (symbol, time, tradeId);
CREATE TABLE IF NOT EXISTS account_bucket (
  bucketId INTEGER PRIMARY KEY, accountId INTEGER NOT NULL,
  firstSeq INTEGER NOT NULL, lastSeq INTEGER NOT NULL, firstTime INTEGER NOT NULL, lastTime INTEGER NOT NULL,
  fills TEXT NOT NULL, ledger TEXT NOT NULL, orders TEXT NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS account_bucket_by_time ON account_bucket (accountId, lastTime, lastSeq);
CREATE TABLE IF NOT EXISTS order_home (
  orderId INTEGER PRIMARY KEY, accountId INTEGER NOT NULL, seq INTEGER NOT NULL, time INTEGER NOT NULL,
  placed TEXT NOT NULL, final TEXT);
CREATE TABLE IF NOT EXISTS balance (
  accountId INTEGER NOT NULL, asset TEXT NOT NULL, seq INTEGER NOT NULL,
  available INTEGER NOT NULL, locked INTEGER NOT NULL,
  PRIMARY KEY (accountId, asset)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS ledger_opening (
  accountId INTEGER NOT NULL, asset TEXT NOT NULL, seq INTEGER NOT NULL,
  available INTEGER NOT NULL, locked INTEGER NOT NULL,
  PRIMARY KEY (accountId, asset)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS archive_period (
  period TEXT PRIMARY KEY, fromTime INTEGER NOT NULL, toTime INTEGER NOT NULL, state TEXT NOT NULL,
  directory TEXT NOT NULL) WITHOUT ROWID;
`;

export type Row = Record<string, unknown>;
export type Json = (string | number)[];

interface BucketRow {
  accountId: bigint;
  firstSeq: bigint;
  lastSeq: bigint;
  firstTime: bigint;
  lastTime: bigint;
  fills: string;
  ledger: string;
  orders: string;
}

export class HistoryQueryError extends Error {
  override name = "HistoryQueryError";
}

function n(v: unknown): number {
  return Number(v as bigint);
}

function amount(v: unknown): Int {
  return normalize(v as bigint);
}

export function exact(v: Int, what: string): Int {
  if (!inInt64(v)) throw new HistoryIntegrityError(`sqlite history: ${what} ${String(v)} is outside 64 bits`);
  return v;
}

/** An amount in JSON: a number while safe, a decimal string beyond. */
function j(v: Int): number | string {
  return typeof v === "bigint" ? v.toString() : v;
}

function fromJ(v: unknown): Int {
  return typeof v === "string" ? normalize(BigInt(v)) : (v as number);
}

export function tradeFrom(r: Row): TradeRecord {
  return {
    tradeId: n(r.tradeId),
    seq: n(r.seq),
    time: n(r.time),
    symbol: r.symbol as string,
    price: n(r.price),
    quantity: n(r.quantity),
    notional: amount(r.notional),
    takerSide: r.takerSide as Side,
    takerOrderId: n(r.takerOrderId),
    takerAccountId: n(r.takerAccountId),
    makerOrderId: n(r.makerOrderId),
    makerAccountId: n(r.makerAccountId),
    takerFee: amount(r.takerFee),
    makerFee: amount(r.makerFee),
    quoteAsset: r.quoteAsset as string,
  };
}

// JSON row layouts inside a bucket (documented in docs/history.md). A fill is [tradeId, taker 1 | maker 0]:
// the trade row has the rest. An order row holds what changes ([orderId, seq, time, reasons, status, price,
// quantity, filledQuantity, filledNotional]); what never changes is stored once, in order_home.placed.
// seq and time inside a bucket are relative to the bucket's firstSeq and firstTime (shorter JSON).
export function ledgerJson(e: LedgerEntry, baseSeq: number, baseTime: number): Json {
  return [
    e.seq - baseSeq,
    e.time - baseTime,
    e.asset,
    j(e.deposit),
    j(e.withdrawal),
    j(e.settlementIn),
    j(e.settlementOut),
    j(e.feeIn),
    j(e.feeOut),
    j(e.hold),
    j(e.release),
    j(e.availableAfter),
    j(e.lockedAfter),
    e.transferId,
  ];
}

export function ledgerFromJson(accountId: number, a: Json, baseSeq: number, baseTime: number): LedgerEntry {
  return {
    accountId,
    seq: (a[0] as number) + baseSeq,
    time: (a[1] as number) + baseTime,
    asset: a[2] as string,
    deposit: fromJ(a[3]),
    withdrawal: fromJ(a[4]),
    settlementIn: fromJ(a[5]),
    settlementOut: fromJ(a[6]),
    feeIn: fromJ(a[7]),
    feeOut: fromJ(a[8]),
    hold: fromJ(a[9]),
    release: fromJ(a[10]),
    availableAfter: fromJ(a[11]),
    lockedAfter: fromJ(a[12]),
    transferId: a[13] as string,
  };
}

export function orderJson(o: OrderRecord, baseSeq: number, baseTime: number): Json {
  return [
    o.orderId,
    o.seq - baseSeq,
    o.time - baseTime,
    o.reasons,
    o.status,
    o.price,
    o.quantity,
    o.filledQuantity,
    j(o.filledNotional),
  ];
}

/** The fields of an order that never change, stored once at placement. */
export function placedJson(o: OrderRecord): Json {
  return [
    o.symbol,
    o.side,
    o.orderType,
    o.timeInForce,
    o.stopPrice,
    j(o.quoteQuantity),
    o.postOnly ? 1 : 0,
    o.expireTime,
    o.clientOrderId,
    o.selfTradePrevention,
    o.createdAt,
  ];
}

export function orderFromJson(
  accountId: number,
  placed: Json,
  a: Json,
  baseSeq: number,
  baseTime: number,
): OrderRecord {
  return {
    orderId: a[0] as number,
    seq: (a[1] as number) + baseSeq,
    time: (a[2] as number) + baseTime,
    reasons: a[3] as string,
    accountId,
    symbol: placed[0] as string,
    side: placed[1] as Side,
    orderType: placed[2] as OrderType,
    timeInForce: placed[3] as TimeInForce,
    price: a[5] as number,
    stopPrice: placed[4] as number,
    quantity: a[6] as number,
    filledQuantity: a[7] as number,
    filledNotional: fromJ(a[8]),
    quoteQuantity: fromJ(placed[5]),
    status: a[4] as OrderStatus,
    postOnly: placed[6] === 1,
    expireTime: placed[7] as number,
    clientOrderId: placed[8] as string,
    selfTradePrevention: placed[9] as SelfTradePrevention,
    createdAt: placed[10] as number,
  };
}

export function balanceFrom(r: Row): BalanceRecord {
  return {
    accountId: n(r.accountId),
    asset: r.asset as string,
    seq: n(r.seq),
    available: amount(r.available),
    locked: amount(r.locked),
  };
}

export const finalStatuses = new Set<string>(["filled", "cancelled", "expired"]);

/** An account's rows of one batch, gathered before they are written as one bucket. */
class Bucket {
  fills: Json[] = [];
  ledger: LedgerEntry[] = [];
  orders: OrderRecord[] = [];
  firstSeq = maxKey;
  lastSeq = 0;
  firstTime = maxKey;
  lastTime = 0;

  span(seq: number, time: number): void {
    if (seq < this.firstSeq) this.firstSeq = seq;
    if (seq > this.lastSeq) this.lastSeq = seq;
    if (time < this.firstTime) this.firstTime = time;
    if (time > this.lastTime) this.lastTime = time;
  }
}

/** Newest-first (time, id, liquidity) order of fills: a before b. */
function fillBefore(a: FillRecord, t: number, i: number, l: number): boolean {
  const al = a.liquidity === "taker" ? 1 : 0;
  return a.time < t || (a.time === t && (a.tradeId < i || (a.tradeId === i && al < l)));
}

function ledgerCompare(
  a: { seq: number; time: number; asset: string },
  t: number,
  i: number,
  x: string,
): number {
  if (a.time !== t) return a.time < t ? -1 : 1;
  if (a.seq !== i) return a.seq < i ? -1 : 1;
  return a.asset < x ? -1 : a.asset > x ? 1 : 0;
}

export class SqliteHistoryStore implements HistoryStore {
  readonly backend = "sqlite";
  private db: Database.Database | null = null;
  private statements: ReturnType<typeof prepare> | null = null;

  /** `path`: the database file (created with its directory), or ":memory:". */
  constructor(readonly path: string) {}

  async open(): Promise<void> {
    if (this.db !== null) return;
    if (this.path !== ":memory:") mkdirSync(dirname(this.path), { recursive: true });
    const db = new Database(this.path);
    // 16 KiB pages (set before the first table; an existing database keeps its own): buckets are a few
    // KiB each, and 4 KiB pages would give most of them a page, or an overflow chain, of their own.
    db.pragma("page_size = 16384");
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = NORMAL");
    db.pragma("cache_size = -131072"); // 128 MiB of page cache: hot index pages stay in memory
    db.pragma("busy_timeout = 5000");
    if (process.env.HB_PRAGMA) db.pragma(process.env.HB_PRAGMA); // a CLI reading while the server writes waits instead of failing
    db.exec(schema);
    const version = db.prepare("SELECT value FROM meta WHERE name = 'schemaVersion'").get() as
      | { value: number }
      | undefined;
    if (version === undefined) {
      db.prepare("INSERT INTO meta (name, value) VALUES ('schemaVersion', ?)").run(schemaVersion);
    } else if (version.value !== schemaVersion) {
      db.close();
      throw new HistoryIntegrityError(
        `sqlite history ${this.path}: schema version ${version.value}, this build reads ${schemaVersion}`,
      );
    }
    this.db = db;
    this.statements = prepare(db);
  }

  private get s(): ReturnType<typeof prepare> {
    if (this.statements === null) throw new Error("sqlite history: not open");
    return this.statements;
  }

  private get database(): Database.Database {
    if (this.db === null) throw new Error("sqlite history: not open");
    return this.db;
  }

  /** The connection itself, for the archive (archive.ts), which reads and rewrites whole periods. */
  get sqlite(): Database.Database {
    return this.database;
  }

  async openingBalances(accountId: number): Promise<BalanceRecord[]> {
    return (this.s.openingsOf.all(accountId) as Row[]).map(balanceFrom);
  }

  async checkpoint(): Promise<number> {
    return this.checkpointSync();
  }

  checkpointSync(): number {
    const row = this.s.getMeta.get("checkpoint") as { value: bigint } | undefined;
    return row === undefined ? 0 : Number(row.value);
  }

  async checkpointTime(): Promise<number> {
    const row = this.s.getMeta.get("checkpointTime") as { value: bigint } | undefined;
    return row === undefined ? 0 : Number(row.value);
  }

  async write(batch: HistoryBatch): Promise<void> {
    this.writeSync(batch);
  }

  /** The batch and its checkpoint in one transaction. */
  writeSync(batch: HistoryBatch): void {
    const s = this.s;
    const buckets = new Map<number, Bucket>();
    const bucket = (accountId: number): Bucket => {
      let b = buckets.get(accountId);
      if (b === undefined) buckets.set(accountId, (b = new Bucket()));
      return b;
    };
    this.database.transaction(() => {
      const checkpoint = this.checkpointSync();
      if (batch.firstSeq !== checkpoint + 1) {
        throw new HistoryIntegrityError(
          `sqlite history: a batch from seq ${batch.firstSeq} after checkpoint ${checkpoint}: history must be written in order, once`,
        );
      }
      for (const t of batch.trades) {
        s.insertTrade.run(
          t.tradeId,
          t.seq,
          t.time,
          t.symbol,
          t.price,
          t.quantity,
          exact(t.notional, "notional"),
          t.takerSide,
          t.takerOrderId,
          t.takerAccountId,
          t.makerOrderId,
          t.makerAccountId,
          exact(t.takerFee, "fee"),
          exact(t.makerFee, "fee"),
          t.quoteAsset,
        );
        // Maker first: within a bucket fills ascend by (time, tradeId, taker 0 | 1).
        const maker = bucket(t.makerAccountId);
        maker.fills.push([t.tradeId, 0]);
        maker.span(t.seq, t.time);
        const taker = bucket(t.takerAccountId);
        taker.fills.push([t.tradeId, 1]);
        taker.span(t.seq, t.time);
      }
      // order_home: one INSERT at placement (with the final state if it closed in the same batch),
      // one UPDATE when it closes in a later batch.
      for (const o of batch.orders) {
        const b = bucket(o.accountId);
        b.orders.push(o);
        b.span(o.seq, o.time);
        const closed = finalStatuses.has(o.status);
        if (o.reasons.startsWith("placed")) {
          const final = closed ? JSON.stringify(orderJson(o, 0, 0)) : null;
          s.insertOrderHome.run(o.orderId, o.accountId, o.seq, o.time, JSON.stringify(placedJson(o)), final);
        } else if (closed) {
          s.closeOrderHome.run(JSON.stringify(orderJson(o, 0, 0)), o.orderId);
        }
      }
      for (const e of batch.ledger) {
        exact(e.availableAfter, "balance");
        exact(e.lockedAfter, "balance");
        const b = bucket(e.accountId);
        b.ledger.push(e);
        b.span(e.seq, e.time);
      }
      for (const [accountId, b] of buckets) {
        b.ledger.sort((x, y) => x.seq - y.seq || (x.asset < y.asset ? -1 : x.asset > y.asset ? 1 : 0));
        s.insertBucket.run(
          accountId,
          b.firstSeq,
          b.lastSeq,
          b.firstTime,
          b.lastTime,
          JSON.stringify(b.fills),
          JSON.stringify(b.ledger.map((e) => ledgerJson(e, b.firstSeq, b.firstTime))),
          JSON.stringify(b.orders.map((o) => orderJson(o, b.firstSeq, b.firstTime))),
        );
      }
      for (const { after: b } of batch.balances) {
        s.upsertBalance.run(
          b.accountId,
          b.asset,
          b.seq,
          exact(b.available, "balance"),
          exact(b.locked, "balance"),
        );
      }
      s.setMeta.run("checkpoint", batch.lastSeq);
      s.setMeta.run("checkpointTime", batch.lastTime);
    })();
  }

  async loadBalances(keys: readonly BalanceKey[]): Promise<BalanceRecord[]> {
    const result: BalanceRecord[] = [];
    for (const k of keys) {
      const row = this.s.getBalance.get(k.accountId, k.asset) as Row | undefined;
      if (row !== undefined) result.push(balanceFrom(row));
    }
    return result;
  }

  /**
   * An account's buckets newest first, starting with the one that holds position (t, s) or the oldest
   * one after it (a position past every bucket starts at the newest).
   */
  private *bucketsDown(accountId: number, t: number, s: number): Generator<BucketRow> {
    const holder = this.s.bucketAtOrAfter.get(accountId, t, s) as BucketRow | undefined;
    const top: [number, number] =
      holder === undefined ? [maxKey, maxKey] : [n(holder.lastTime), n(holder.lastSeq)];
    const rows = this.s.bucketsDown.iterate(accountId, top[0], top[1]) as IterableIterator<BucketRow>;
    try {
      for (const row of rows) yield row;
    } finally {
      rows.return?.();
    }
  }

  /** An account's buckets oldest first, from the one that holds position (t, s). */
  private *bucketsUp(accountId: number, t: number, s: number): Generator<BucketRow> {
    const rows = this.s.bucketsUp.iterate(accountId, t, s) as IterableIterator<BucketRow>;
    try {
      for (const row of rows) yield row;
    } finally {
      rows.return?.();
    }
  }

  async fills(q: FillQuery): Promise<Page<FillRecord>> {
    const size = pageSize(q.limit);
    const position = decodeCursor(q.cursor);
    const fromTime = q.fromTime ?? 0;
    // Fills run newest first by (time, tradeId, taker 1 | maker 0); the page takes those strictly
    // below the start: the cursor, or just above toTime.
    let t = q.toTime ?? maxKey;
    let i = maxKey;
    let l = 1;
    let s = maxKey;
    if (position !== null && position.t <= t) {
      t = position.t;
      i = position.i;
      l = position.l ?? 0;
      s = position.s ?? maxKey;
    }
    const items: FillRecord[] = [];
    let scanned = 0;
    for (const row of this.bucketsDown(q.accountId, t, s)) {
      if (n(row.lastTime) < fromTime) break;
      const fills = JSON.parse(row.fills) as [number, number][];
      scanned++;
      for (let k = fills.length - 1; k >= 0; k--) {
        const [tradeId, taker] = fills[k]!;
        const trade = this.s.tradeById.get(tradeId) as Row | undefined;
        if (trade === undefined)
          throw new HistoryIntegrityError(`sqlite history: fill of trade ${tradeId} without its trade`);
        const f = fillOf(tradeFrom(trade), taker === 1);
        scanned++;
        if (!fillBefore(f, t, i, l)) continue;
        if (f.time < fromTime) return { items };
        if (q.symbol !== undefined && f.symbol !== q.symbol) {
          if (scanned >= historyLimits.rowsScannedPerPageMax) return { items, nextCursor: fillCursor(f) };
          continue;
        }
        items.push(f);
        if (items.length === size || scanned >= historyLimits.rowsScannedPerPageMax) {
          return { items, nextCursor: fillCursor(f) };
        }
      }
    }
    return { items };
  }

  async trades(q: TradeQuery): Promise<Page<TradeRecord>> {
    const size = pageSize(q.limit);
    const position = decodeCursor(q.cursor);
    let t = q.toTime ?? maxKey;
    let i = maxKey;
    if (position !== null && position.t <= t) {
      t = position.t;
      i = position.i;
    }
    const rows = this.s.trades.all(q.symbol, t, i, q.fromTime ?? 0, size) as Row[];
    const items = rows.map(tradeFrom);
    const last = items[items.length - 1];
    return items.length === size && last !== undefined
      ? { items, nextCursor: encodeCursor({ t: last.time, i: last.tradeId }) }
      : { items };
  }

  /** The order's rows after seq `after`, oldest first, reading its account's buckets from its placement. */
  private orderRows(orderId: number, after: number, limit: number): { rows: OrderRecord[]; final: boolean } {
    const home = this.s.orderHome.get(orderId) as Row | undefined;
    if (home === undefined) return { rows: [], final: true };
    const accountId = n(home.accountId);
    const placed = JSON.parse(home.placed as string) as Json;
    const rows: OrderRecord[] = [];
    let scanned = 0;
    for (const bucket of this.bucketsUp(accountId, n(home.time), n(home.seq))) {
      if (++scanned > historyLimits.rowsScannedPerPageMax) {
        throw new HistoryQueryError(
          `order ${orderId}: its rows span more than ${historyLimits.rowsScannedPerPageMax} batches of its account (rowsScannedPerPageMax)`,
        );
      }
      if (bucket.orders === "[]") continue;
      for (const a of JSON.parse(bucket.orders) as Json[]) {
        if (a[0] !== orderId) continue;
        const o = orderFromJson(accountId, placed, a, n(bucket.firstSeq), n(bucket.firstTime));
        if (o.seq > after) rows.push(o);
        if (finalStatuses.has(o.status)) return { rows, final: true };
        if (rows.length >= limit) return { rows, final: false };
      }
    }
    return { rows, final: true };
  }

  async order(orderId: number): Promise<OrderRecord | null> {
    const home = this.s.orderHome.get(orderId) as Row | undefined;
    if (home === undefined) return null;
    const accountId = n(home.accountId);
    const placed = JSON.parse(home.placed as string) as Json;
    if (home.final !== null)
      return orderFromJson(accountId, placed, JSON.parse(home.final as string) as Json, 0, 0);
    // Still open: its newest row, reading the account's buckets from the newest back to its placement.
    const placedSeq = n(home.seq);
    let scanned = 0;
    for (const bucket of this.bucketsDown(accountId, maxKey, maxKey)) {
      if (n(bucket.lastSeq) < placedSeq) break;
      if (++scanned > historyLimits.rowsScannedPerPageMax) {
        throw new HistoryQueryError(
          `order ${orderId}: open, and its account has more than ${historyLimits.rowsScannedPerPageMax} batches since it was placed (rowsScannedPerPageMax); the engine holds its state`,
        );
      }
      if (bucket.orders === "[]") continue;
      const rows = JSON.parse(bucket.orders) as Json[];
      for (let k = rows.length - 1; k >= 0; k--) {
        if (rows[k]![0] === orderId) {
          return orderFromJson(accountId, placed, rows[k]!, n(bucket.firstSeq), n(bucket.firstTime));
        }
      }
    }
    throw new HistoryIntegrityError(
      `order ${orderId}: placed at seq ${placedSeq} but none of its rows is stored`,
    );
  }

  async orderEvents(q: OrderEventsQuery): Promise<Page<OrderRecord>> {
    const size = pageSize(q.limit);
    const position = decodeCursor(q.cursor);
    const { rows, final } = this.orderRows(q.orderId, position?.i ?? 0, size);
    const last = rows[rows.length - 1];
    return !final && last !== undefined
      ? { items: rows, nextCursor: encodeCursor({ t: last.time, i: last.seq }) }
      : { items: rows };
  }

  async ledger(q: LedgerQuery): Promise<Page<LedgerEntry>> {
    const size = pageSize(q.limit);
    const position = decodeCursor(q.cursor);
    const items: LedgerEntry[] = [];
    let scanned = 0;
    const done = (): boolean => items.length === size || scanned >= historyLimits.rowsScannedPerPageMax;
    const cursorOf = (e: LedgerEntry): string => encodeCursor({ t: e.time, i: e.seq, a: e.asset });
    if (q.ascending) {
      let t = q.fromTime ?? 0;
      let i = -1;
      let a = "";
      if (position !== null && position.t >= t) {
        t = position.t;
        i = position.i;
        a = position.a ?? "";
      }
      const toTime = q.toTime ?? maxKey;
      for (const row of this.bucketsUp(q.accountId, t, Math.max(i, 0))) {
        if (n(row.firstTime) > toTime) break;
        scanned++;
        const baseSeq = n(row.firstSeq);
        const baseTime = n(row.firstTime);
        for (const x of JSON.parse(row.ledger) as Json[]) {
          const e = ledgerFromJson(q.accountId, x, baseSeq, baseTime);
          scanned++;
          if (ledgerCompare(e, t, i, a) <= 0) continue;
          if (e.time > toTime) return { items };
          items.push(e);
          if (done()) return { items, nextCursor: cursorOf(e) };
        }
      }
      return { items };
    }
    let t = q.toTime ?? maxKey;
    let i = maxKey;
    let a = "\uffff";
    if (position !== null && position.t <= t) {
      t = position.t;
      i = position.i;
      a = position.a ?? "";
    }
    const fromTime = q.fromTime ?? 0;
    for (const row of this.bucketsDown(q.accountId, t, i)) {
      if (n(row.lastTime) < fromTime) break;
      scanned++;
      const entries = JSON.parse(row.ledger) as Json[];
      const baseSeq = n(row.firstSeq);
      const baseTime = n(row.firstTime);
      for (let k = entries.length - 1; k >= 0; k--) {
        const e = ledgerFromJson(q.accountId, entries[k]!, baseSeq, baseTime);
        scanned++;
        if (ledgerCompare(e, t, i, a) >= 0) continue;
        if (e.time < fromTime) return { items };
        items.push(e);
        if (done()) return { items, nextCursor: cursorOf(e) };
      }
    }
    return { items };
  }

  async balances(accountId: number): Promise<BalanceRecord[]> {
    return (this.s.balancesOf.all(accountId) as Row[]).map(balanceFrom);
  }

  async accounts(afterAccountId: number, limit: number): Promise<number[]> {
    return (this.s.accounts.all(afterAccountId, limit) as Row[]).map((r) => n(r.accountId));
  }

  async reset(): Promise<void> {
    this.database.exec(
      "DELETE FROM trade; DELETE FROM account_bucket; DELETE FROM order_home; DELETE FROM balance; " +
        "DELETE FROM ledger_opening; DELETE FROM archive_period; DELETE FROM meta WHERE name <> 'schemaVersion';",
    );
  }

  async close(): Promise<void> {
    this.db?.close();
    this.db = null;
    this.statements = null;
  }
}

function fillCursor(f: FillRecord): string {
  const p: Position = { t: f.time, i: f.tradeId, l: f.liquidity === "taker" ? 1 : 0, s: f.seq };
  return encodeCursor(p);
}

function prepare(db: Database.Database) {
  const safe = <T extends Database.Statement>(s: T): T => s.safeIntegers(true) as T;
  return {
    getMeta: safe(db.prepare("SELECT value FROM meta WHERE name = ?")),
    setMeta: db.prepare("INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)"),
    insertTrade: db.prepare("INSERT INTO trade VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"),
    insertBucket: db.prepare(
      "INSERT INTO account_bucket (accountId, firstSeq, lastSeq, firstTime, lastTime, fills, ledger, orders) VALUES (?,?,?,?,?,?,?,?)",
    ),
    insertOrderHome: db.prepare("INSERT INTO order_home VALUES (?,?,?,?,?,?)"),
    closeOrderHome: db.prepare("UPDATE order_home SET final = ? WHERE orderId = ?"),
    upsertBalance: db.prepare("INSERT OR REPLACE INTO balance VALUES (?,?,?,?,?)"),
    getBalance: safe(db.prepare("SELECT * FROM balance WHERE accountId = ? AND asset = ?")),
    balancesOf: safe(db.prepare("SELECT * FROM balance WHERE accountId = ? ORDER BY asset")),
    openingsOf: safe(db.prepare("SELECT * FROM ledger_opening WHERE accountId = ? ORDER BY asset")),
    accounts: safe(
      db.prepare("SELECT DISTINCT accountId FROM balance WHERE accountId > ? ORDER BY accountId LIMIT ?"),
    ),
    orderHome: safe(db.prepare("SELECT * FROM order_home WHERE orderId = ?")),
    tradeById: safe(db.prepare("SELECT * FROM trade WHERE tradeId = ?")),
    bucketAtOrAfter: safe(
      db.prepare(
        "SELECT lastTime, lastSeq FROM account_bucket WHERE accountId = ? AND (lastTime, lastSeq) >= (?, ?) ORDER BY lastTime, lastSeq LIMIT 1",
      ),
    ),
    bucketsDown: safe(
      db.prepare(
        "SELECT * FROM account_bucket WHERE accountId = ? AND (lastTime, lastSeq) <= (?, ?) ORDER BY lastTime DESC, lastSeq DESC",
      ),
    ),
    bucketsUp: safe(
      db.prepare(
        "SELECT * FROM account_bucket WHERE accountId = ? AND (lastTime, lastSeq) >= (?, ?) ORDER BY lastTime, lastSeq",
      ),
    ),
    trades: safe(
      db.prepare(
        "SELECT * FROM trade WHERE symbol = ? AND (time, tradeId) < (?, ?) AND time >= ? ORDER BY time DESC, tradeId DESC LIMIT ?",
      ),
    ),
  };
}

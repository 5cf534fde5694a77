/**
 * The embedded history: one SQLite database (WAL) in the data directory.
 *
 * Tables (docs/history.md has the access patterns):
 *   trade        tradeId INTEGER PRIMARY KEY, appended in tradeId order (= time order)
 *                indexes (takerAccountId, time, tradeId), (makerAccountId, time, tradeId): an account's fills
 *                index (symbol, time, tradeId): a symbol's trades
 *   order_event  (orderId, seq): an order's lifecycle, its last row its final state
 *   ledger       (accountId, time, seq, asset): every balance movement, by account and time
 *   balance      (accountId, asset): the balance as of the checkpoint (the writer's memory after a restart)
 *   meta         checkpoint (seq) and checkpointTime, schemaVersion
 *
 * Exactly once: a batch's rows and the new checkpoint are one transaction, and every insert is a
 * plain INSERT on the row's natural key: were a row ever written twice the transaction would fail
 * (a broken invariant stops the writer) rather than duplicate it.
 *
 * Amounts are INTEGER: every amount the engine produces fits in a signed 64-bit integer (it rejects
 * anything that would not), bound as bigint beyond 2^53 and read back with safeIntegers, so exact.
 * synchronous=NORMAL in WAL mode: a power loss may lose the last transactions, never half of one;
 * the checkpoint goes back with them and the writer rewrites them from the journal.
 */
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import { type Int, inInt64, normalize } from "../engine/int.js";
import type { OrderStatus, OrderType, SelfTradePrevention, Side, TimeInForce } from "../engine/types.js";
import { decodeCursor, encodeCursor, pageSize } from "./cursor.js";
import { historyLimits } from "./history-limits.js";
import type { HistoryStore } from "./history-store.js";
import { type BalanceKey, HistoryIntegrityError } from "./projector.js";
import type {
  BalanceRecord,
  FillQuery,
  FillRecord,
  HistoryBatch,
  LedgerEntry,
  LedgerQuery,
  OrderEventsQuery,
  OrderRecord,
  Page,
  TradeQuery,
  TradeRecord,
} from "./records.js";

const schemaVersion = 1;
const maxKey = Number.MAX_SAFE_INTEGER;

const schema = `
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS trade (
  tradeId INTEGER PRIMARY KEY, seq INTEGER NOT NULL, time INTEGER NOT NULL, symbol TEXT NOT NULL,
  price INTEGER NOT NULL, quantity INTEGER NOT NULL, notional INTEGER NOT NULL, takerSide TEXT NOT NULL,
  takerOrderId INTEGER NOT NULL, takerAccountId INTEGER NOT NULL, makerOrderId INTEGER NOT NULL,
  makerAccountId INTEGER NOT NULL, takerFee INTEGER NOT NULL, makerFee INTEGER NOT NULL, quoteAsset TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS trade_by_taker ON trade (takerAccountId, time, tradeId);
CREATE INDEX IF NOT EXISTS trade_by_maker ON trade (makerAccountId, time, tradeId);
CREATE INDEX IF NOT EXISTS trade_by_symbol ON trade (symbol, time, tradeId);
CREATE TABLE IF NOT EXISTS order_event (
  orderId INTEGER NOT NULL, seq INTEGER NOT NULL, time INTEGER NOT NULL, reasons TEXT NOT NULL,
  accountId INTEGER NOT NULL, symbol TEXT NOT NULL, side TEXT NOT NULL, orderType TEXT NOT NULL,
  timeInForce TEXT NOT NULL, price INTEGER NOT NULL, stopPrice INTEGER NOT NULL, quantity INTEGER NOT NULL,
  filledQuantity INTEGER NOT NULL, filledNotional INTEGER NOT NULL, quoteQuantity INTEGER NOT NULL,
  status TEXT NOT NULL, postOnly INTEGER NOT NULL, expireTime INTEGER NOT NULL, clientOrderId TEXT NOT NULL,
  selfTradePrevention TEXT NOT NULL, createdAt INTEGER NOT NULL,
  PRIMARY KEY (orderId, seq)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS ledger (
  accountId INTEGER NOT NULL, time INTEGER NOT NULL, seq INTEGER NOT NULL, asset TEXT NOT NULL,
  deposit INTEGER NOT NULL, withdrawal INTEGER NOT NULL, settlementIn INTEGER NOT NULL,
  settlementOut INTEGER NOT NULL, feeIn INTEGER NOT NULL, feeOut INTEGER NOT NULL, hold INTEGER NOT NULL,
  release INTEGER NOT NULL, availableAfter INTEGER NOT NULL, lockedAfter INTEGER NOT NULL,
  transferId TEXT NOT NULL,
  PRIMARY KEY (accountId, time, seq, asset)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS balance (
  accountId INTEGER NOT NULL, asset TEXT NOT NULL, seq INTEGER NOT NULL,
  available INTEGER NOT NULL, locked INTEGER NOT NULL,
  PRIMARY KEY (accountId, asset)) WITHOUT ROWID;
`;

type Row = Record<string, unknown>;

function n(v: unknown): number {
  return Number(v as bigint);
}

function amount(v: unknown): Int {
  return normalize(v as bigint);
}

function exact(v: Int, what: string): Int {
  if (!inInt64(v)) throw new HistoryIntegrityError(`sqlite history: ${what} ${String(v)} is outside 64 bits`);
  return v;
}

function tradeFrom(r: Row): TradeRecord {
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

export function fillOf(t: TradeRecord, taker: boolean): FillRecord {
  const buyerIsTaker = t.takerSide === "buy";
  return {
    tradeId: t.tradeId,
    seq: t.seq,
    time: t.time,
    accountId: taker ? t.takerAccountId : t.makerAccountId,
    orderId: taker ? t.takerOrderId : t.makerOrderId,
    symbol: t.symbol,
    side: taker === buyerIsTaker ? "buy" : "sell",
    liquidity: taker ? "taker" : "maker",
    price: t.price,
    quantity: t.quantity,
    fee: taker ? t.takerFee : t.makerFee,
    feeAsset: t.quoteAsset,
  };
}

function orderFrom(r: Row): OrderRecord {
  return {
    orderId: n(r.orderId),
    seq: n(r.seq),
    time: n(r.time),
    reasons: r.reasons as string,
    accountId: n(r.accountId),
    symbol: r.symbol as string,
    side: r.side as Side,
    orderType: r.orderType as OrderType,
    timeInForce: r.timeInForce as TimeInForce,
    price: n(r.price),
    stopPrice: n(r.stopPrice),
    quantity: n(r.quantity),
    filledQuantity: n(r.filledQuantity),
    filledNotional: amount(r.filledNotional),
    quoteQuantity: amount(r.quoteQuantity),
    status: r.status as OrderStatus,
    postOnly: n(r.postOnly) === 1,
    expireTime: n(r.expireTime),
    clientOrderId: r.clientOrderId as string,
    selfTradePrevention: r.selfTradePrevention as SelfTradePrevention,
    createdAt: n(r.createdAt),
  };
}

function ledgerFrom(r: Row): LedgerEntry {
  return {
    accountId: n(r.accountId),
    seq: n(r.seq),
    time: n(r.time),
    asset: r.asset as string,
    deposit: amount(r.deposit),
    withdrawal: amount(r.withdrawal),
    settlementIn: amount(r.settlementIn),
    settlementOut: amount(r.settlementOut),
    feeIn: amount(r.feeIn),
    feeOut: amount(r.feeOut),
    hold: amount(r.hold),
    release: amount(r.release),
    availableAfter: amount(r.availableAfter),
    lockedAfter: amount(r.lockedAfter),
    transferId: r.transferId as string,
  };
}

function balanceFrom(r: Row): BalanceRecord {
  return {
    accountId: n(r.accountId),
    asset: r.asset as string,
    seq: n(r.seq),
    available: amount(r.available),
    locked: amount(r.locked),
  };
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
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = NORMAL");
    db.pragma("cache_size = -131072"); // 128 MiB of page cache: the indexes' hot pages stay in memory
    db.pragma("busy_timeout = 5000"); // a CLI reading while the server writes waits instead of failing
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

  async checkpoint(): Promise<number> {
    return this.checkpointSync();
  }

  checkpointSync(): number {
    const row = this.s.getMeta.get("checkpoint") as { value: bigint } | undefined;
    return row === undefined ? 0 : Number(row.value);
  }

  async write(batch: HistoryBatch): Promise<void> {
    this.writeSync(batch);
  }

  /** The batch and its checkpoint in one transaction. */
  writeSync(batch: HistoryBatch): void {
    const s = this.s;
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
      }
      for (const o of batch.orders) {
        s.insertOrder.run(
          o.orderId,
          o.seq,
          o.time,
          o.reasons,
          o.accountId,
          o.symbol,
          o.side,
          o.orderType,
          o.timeInForce,
          o.price,
          o.stopPrice,
          o.quantity,
          o.filledQuantity,
          exact(o.filledNotional, "filledNotional"),
          exact(o.quoteQuantity, "quoteQuantity"),
          o.status,
          o.postOnly ? 1 : 0,
          o.expireTime,
          o.clientOrderId,
          o.selfTradePrevention,
          o.createdAt,
        );
      }
      for (const e of batch.ledger) {
        s.insertLedger.run(
          e.accountId,
          e.time,
          e.seq,
          e.asset,
          exact(e.deposit, "deposit"),
          exact(e.withdrawal, "withdrawal"),
          exact(e.settlementIn, "settlement"),
          exact(e.settlementOut, "settlement"),
          exact(e.feeIn, "fee"),
          exact(e.feeOut, "fee"),
          exact(e.hold, "hold"),
          exact(e.release, "release"),
          exact(e.availableAfter, "balance"),
          exact(e.lockedAfter, "balance"),
          e.transferId,
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

  async fills(q: FillQuery): Promise<Page<FillRecord>> {
    const size = pageSize(q.limit);
    const position = decodeCursor(q.cursor);
    const fromTime = q.fromTime ?? 0;
    // Fills run newest first by (time, tradeId, taker 1 | maker 0). Start just above toTime, or strictly
    // below the cursor: (time, tradeId, 1) < (t, i, l) is (time, tradeId) < (t, i); (time, tradeId, 0) < (t, i, l)
    // also holds at (t, i) itself when l = 1, which is (time, tradeId) < (t, i + 1) for integer ids.
    let t = q.toTime ?? maxKey;
    let takerI = maxKey;
    let makerI = maxKey;
    if (position !== null && position.t <= t) {
      t = position.t;
      takerI = position.i;
      makerI = position.i + (position.l === 1 ? 1 : 0);
    }
    const takerRows = this.s.fillsTaker.iterate(q.accountId, t, takerI, fromTime);
    const makerRows = this.s.fillsMaker.iterate(q.accountId, t, makerI, fromTime);
    const items: FillRecord[] = [];
    let scanned = 0;
    let last: FillRecord | null = null;
    let takerNext = takerRows.next();
    let makerNext = makerRows.next();
    try {
      while (items.length < size && scanned < historyLimits.rowsScannedPerPageMax) {
        let fill: FillRecord;
        if (takerNext.done && makerNext.done) break;
        const taker = takerNext.done ? null : tradeFrom(takerNext.value as Row);
        const maker = makerNext.done ? null : tradeFrom(makerNext.value as Row);
        if (taker !== null && (maker === null || newerOrSame(taker, maker))) {
          fill = fillOf(taker, true);
          takerNext = takerRows.next();
        } else {
          fill = fillOf(maker!, false);
          makerNext = makerRows.next();
        }
        scanned++;
        last = fill;
        if (q.symbol === undefined || fill.symbol === q.symbol) items.push(fill);
      }
      const more = !(takerNext.done && makerNext.done);
      return more && last !== null
        ? {
            items,
            nextCursor: encodeCursor({
              t: last.time,
              i: last.tradeId,
              l: last.liquidity === "taker" ? 1 : 0,
            }),
          }
        : { items };
    } finally {
      takerRows.return?.();
      makerRows.return?.();
    }
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

  async order(orderId: number): Promise<OrderRecord | null> {
    const row = this.s.orderLast.get(orderId) as Row | undefined;
    return row === undefined ? null : orderFrom(row);
  }

  async orderEvents(q: OrderEventsQuery): Promise<Page<OrderRecord>> {
    const size = pageSize(q.limit);
    const position = decodeCursor(q.cursor);
    const rows = this.s.orderEvents.all(q.orderId, position?.i ?? 0, size) as Row[];
    const items = rows.map(orderFrom);
    const last = items[items.length - 1];
    return items.length === size && last !== undefined
      ? { items, nextCursor: encodeCursor({ t: last.time, i: last.seq }) }
      : { items };
  }

  async ledger(q: LedgerQuery): Promise<Page<LedgerEntry>> {
    const size = pageSize(q.limit);
    const position = decodeCursor(q.cursor);
    let rows: Row[];
    if (q.ascending) {
      let t = q.fromTime ?? 0;
      let i = -1;
      let a = "";
      if (position !== null && position.t >= t) {
        t = position.t;
        i = position.i;
        a = position.a ?? "";
      }
      rows = this.s.ledgerUp.all(q.accountId, t, i, a, q.toTime ?? maxKey, size) as Row[];
    } else {
      let t = q.toTime ?? maxKey;
      let i = maxKey;
      let a = "";
      if (position !== null && position.t <= t) {
        t = position.t;
        i = position.i;
        a = position.a ?? "";
      }
      rows = this.s.ledgerDown.all(q.accountId, t, i, a, q.fromTime ?? 0, size) as Row[];
    }
    const items = rows.map(ledgerFrom);
    const last = items[items.length - 1];
    return items.length === size && last !== undefined
      ? { items, nextCursor: encodeCursor({ t: last.time, i: last.seq, a: last.asset }) }
      : { items };
  }

  async balances(accountId: number): Promise<BalanceRecord[]> {
    return (this.s.balancesOf.all(accountId) as Row[]).map(balanceFrom);
  }

  async accounts(afterAccountId: number, limit: number): Promise<number[]> {
    return (this.s.accounts.all(afterAccountId, limit) as Row[]).map((r) => n(r.accountId));
  }

  async reset(): Promise<void> {
    this.database.exec(
      "DELETE FROM trade; DELETE FROM order_event; DELETE FROM ledger; DELETE FROM balance; DELETE FROM meta WHERE name <> 'schemaVersion';",
    );
  }

  async close(): Promise<void> {
    this.db?.close();
    this.db = null;
    this.statements = null;
  }
}

/** a is at or after b in (time, tradeId) order. */
function newerOrSame(a: TradeRecord, b: TradeRecord): boolean {
  return a.time > b.time || (a.time === b.time && a.tradeId >= b.tradeId);
}

function prepare(db: Database.Database) {
  const safe = <T extends Database.Statement>(s: T): T => s.safeIntegers(true) as T;
  return {
    getMeta: safe(db.prepare("SELECT value FROM meta WHERE name = ?")),
    setMeta: db.prepare("INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)"),
    insertTrade: db.prepare("INSERT INTO trade VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"),
    insertOrder: db.prepare("INSERT INTO order_event VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"),
    insertLedger: db.prepare("INSERT INTO ledger VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"),
    upsertBalance: db.prepare("INSERT OR REPLACE INTO balance VALUES (?,?,?,?,?)"),
    getBalance: safe(db.prepare("SELECT * FROM balance WHERE accountId = ? AND asset = ?")),
    balancesOf: safe(db.prepare("SELECT * FROM balance WHERE accountId = ? ORDER BY asset")),
    accounts: safe(
      db.prepare("SELECT DISTINCT accountId FROM balance WHERE accountId > ? ORDER BY accountId LIMIT ?"),
    ),
    fillsTaker: safe(
      db.prepare(
        "SELECT * FROM trade WHERE takerAccountId = ? AND (time, tradeId) < (?, ?) AND time >= ? ORDER BY time DESC, tradeId DESC",
      ),
    ),
    fillsMaker: safe(
      db.prepare(
        "SELECT * FROM trade WHERE makerAccountId = ? AND (time, tradeId) < (?, ?) AND time >= ? ORDER BY time DESC, tradeId DESC",
      ),
    ),
    trades: safe(
      db.prepare(
        "SELECT * FROM trade WHERE symbol = ? AND (time, tradeId) < (?, ?) AND time >= ? ORDER BY time DESC, tradeId DESC LIMIT ?",
      ),
    ),
    orderLast: safe(db.prepare("SELECT * FROM order_event WHERE orderId = ? ORDER BY seq DESC LIMIT 1")),
    orderEvents: safe(
      db.prepare("SELECT * FROM order_event WHERE orderId = ? AND seq > ? ORDER BY seq LIMIT ?"),
    ),
    ledgerDown: safe(
      db.prepare(
        "SELECT * FROM ledger WHERE accountId = ? AND (time, seq, asset) < (?, ?, ?) AND time >= ? ORDER BY time DESC, seq DESC, asset DESC LIMIT ?",
      ),
    ),
    ledgerUp: safe(
      db.prepare(
        "SELECT * FROM ledger WHERE accountId = ? AND (time, seq, asset) > (?, ?, ?) AND time <= ? ORDER BY time, seq, asset LIMIT ?",
      ),
    ),
  };
}

/**
 * Cost-optimized long-term storage of the embedded history: closed periods (UTC days) leave the hot
 * SQLite store for compressed files, and can come back.
 *
 *   archive(before)  every closed day before `before` (a day is closed once the history's checkpoint is
 *                    past its end: no command of it can still arrive) is written to
 *                      <dir>/<YYYY-MM-DD>/trades-<SYMBOL>.jsonl.gz   the day's trades of one symbol
 *                      <dir>/<YYYY-MM-DD>/orders-<SYMBOL>.jsonl.gz   the day's order rows of one symbol
 *                      <dir>/<YYYY-MM-DD>/ledger.jsonl.gz            the day's ledger entries (all accounts)
 *                      <dir>/<YYYY-MM-DD>/manifest.json              per file: rows, bytes, SHA-256
 *                    (gzip JSON lines, amounts as decimal strings), each file written to .tmp, synced and
 *                    renamed; then every file is read back and checked against the manifest (checksum,
 *                    rows, and the rows themselves), and only then are the rows removed from the store,
 *                    in one transaction, which also records each (account, asset)'s balance at the end of
 *                    the archived days (ledger_opening): a balance rebuild starts there.
 *   restore(period)  checks the manifest's checksums and puts the day's rows back (trades, ledger and
 *                    order rows, the fills of its trades); restoring every archived day drops the
 *                    opening balances, since the ledger is whole again.
 *
 * DynamoDB does not go through here: its retention is TTL (ttlDays in the URL) and its exports are
 * DynamoDB's own export to S3 (docs/history.md).
 */
import { createHash } from "node:crypto";
import {
  closeSync,
  createReadStream,
  createWriteStream,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { pipeline } from "node:stream/promises";
import { createGunzip, createGzip, type Gzip } from "node:zlib";
import { type Int, normalize } from "../engine/int.js";
import { historyLimits } from "./history-limits.js";
import { HistoryIntegrityError } from "./projector.js";
import type { LedgerEntry, OrderRecord, TradeRecord } from "./records.js";
import {
  exact,
  finalStatuses,
  type Json,
  ledgerFromJson,
  ledgerJson,
  orderFromJson,
  orderJson,
  placedJson,
  type Row,
  type SqliteHistoryStore,
  tradeFrom,
} from "./sqlite-store.js";

const dayMs = 86_400_000;

export interface ArchivedFile {
  name: string;
  rows: number;
  bytes: number;
  sha256: string;
}

export interface Manifest {
  format: "bourse-history-archive";
  version: 1;
  period: string;
  fromTime: number;
  toTime: number;
  files: ArchivedFile[];
}

export interface ArchiveResult {
  periods: { period: string; files: ArchivedFile[] }[];
  /** Days not archived because the history has not reached their end yet. */
  openFromTime: number | null;
}

export function dayOf(time: number): string {
  return new Date(Math.floor(time / dayMs) * dayMs).toISOString().slice(0, 10);
}

/** Midnight UTC of a YYYY-MM-DD date, in ms. */
export function parseDay(text: string): number {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(text)) throw new Error(`"${text}" is not a date (YYYY-MM-DD)`);
  const time = Date.parse(`${text}T00:00:00Z`);
  if (Number.isNaN(time) || dayOf(time) !== text) throw new Error(`"${text}" is not a date (YYYY-MM-DD)`);
  return time;
}

/** JSON with every bigint as a decimal string; amounts in the archive are always strings. */
function line(record: object): string {
  return `${JSON.stringify(record, (_k, v) => (typeof v === "bigint" ? v.toString() : v))}\n`;
}

const tradeAmounts = ["notional", "takerFee", "makerFee"] as const;
const orderAmounts = ["filledNotional", "quoteQuantity"] as const;
const ledgerAmounts = [
  "deposit",
  "withdrawal",
  "settlementIn",
  "settlementOut",
  "feeIn",
  "feeOut",
  "hold",
  "release",
  "availableAfter",
  "lockedAfter",
] as const;

function withStrings(record: object, amounts: readonly string[]): Record<string, unknown> {
  const copy: Record<string, unknown> = { ...record };
  for (const k of amounts) copy[k] = String(copy[k]);
  return copy;
}

function withInts<T extends object>(record: Record<string, unknown>, amounts: readonly string[]): T {
  for (const k of amounts) record[k] = normalize(BigInt(record[k] as string)) as Int;
  return record as T;
}

/** One gzip JSON-lines file being written: to <name>.tmp, hashed as it goes. */
class ArchiveWriter {
  private readonly gzip: Gzip;
  private readonly done: Promise<void>;
  private readonly hash = createHash("sha256");
  private bytes = 0;
  rows = 0;

  constructor(
    readonly dir: string,
    readonly name: string,
  ) {
    this.gzip = createGzip({ level: 6 });
    const out = createWriteStream(join(dir, `${name}.tmp`));
    this.gzip.on("data", (chunk: Buffer) => {
      this.hash.update(chunk);
      this.bytes += chunk.length;
    });
    this.done = pipeline(this.gzip, out);
  }

  async write(text: string): Promise<void> {
    this.rows++;
    if (!this.gzip.write(text)) await new Promise((r) => this.gzip.once("drain", r));
  }

  /** Finishes the file, syncs it, renames it into place. */
  async finish(): Promise<ArchivedFile> {
    this.gzip.end();
    await this.done;
    const tmp = join(this.dir, `${this.name}.tmp`);
    const fd = openSync(tmp, "r+");
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, join(this.dir, this.name));
    return { name: this.name, rows: this.rows, bytes: this.bytes, sha256: this.hash.digest("hex") };
  }
}

/** The files of one day, opened as rows arrive. */
class Period {
  readonly writers = new Map<string, ArchiveWriter>();
  constructor(
    readonly period: string,
    readonly dir: string,
  ) {
    mkdirSync(dir, { recursive: true });
  }

  writer(name: string): ArchiveWriter {
    let w = this.writers.get(name);
    if (w === undefined) this.writers.set(name, (w = new ArchiveWriter(this.dir, name)));
    return w;
  }
}

/** Reads one archived file back, line by line (checksum verified by the caller). */
async function* readLines(path: string): AsyncGenerator<string> {
  const lines = createInterface({
    input: createReadStream(path).pipe(createGunzip()),
    crlfDelay: Number.POSITIVE_INFINITY,
  });
  for await (const l of lines) if (l !== "") yield l;
}

function sha256File(path: string): { sha256: string; bytes: number } {
  const bytes = readFileSync(path);
  return { sha256: createHash("sha256").update(bytes).digest("hex"), bytes: bytes.length };
}

/**
 * Archives every closed day before `beforeTime` into `dir`. Returns what was archived; writes nothing
 * to the store unless every file was verified.
 */
export async function archiveBefore(
  store: SqliteHistoryStore,
  beforeTime: number,
  dir: string,
): Promise<ArchiveResult> {
  const db = store.sqlite;
  const checkpointTime = await store.checkpointTime();
  // Closed: the checkpoint's command is past the day's end, so every command of the day is stored.
  const closedBefore = Math.floor(checkpointTime / dayMs) * dayMs;
  const bound = Math.min(Math.floor(beforeTime / dayMs) * dayMs, closedBefore);
  const result: ArchiveResult = {
    periods: [],
    openFromTime: beforeTime > closedBefore ? closedBefore : null,
  };
  if (bound <= 0) return result;
  const periods = new Map<string, Period>();
  const period = (time: number): Period => {
    const day = dayOf(time);
    let p = periods.get(day);
    if (p === undefined) periods.set(day, (p = new Period(day, join(dir, day))));
    return p;
  };
  // Read in pages (the connection cannot run other statements while an iterator is open, and the
  // files are written asynchronously): a bounded number of rows in memory at a time.
  const chunk = historyLimits.archiveChunkRowsMax;
  // Trades: rowid (tradeId) order is time order.
  let lastTradeId = 0;
  const tradePage = db
    .prepare("SELECT * FROM trade WHERE tradeId > ? AND time < ? ORDER BY tradeId LIMIT ?")
    .safeIntegers(true);
  for (;;) {
    const rows = tradePage.all(lastTradeId, bound, chunk) as Row[];
    if (rows.length === 0) break;
    for (const row of rows) {
      const t = tradeFrom(row);
      lastTradeId = t.tradeId;
      await period(t.time)
        .writer(`trades-${t.symbol}.jsonl.gz`)
        .write(line(withStrings(t, tradeAmounts)));
    }
  }
  // Buckets with rows before the bound: ledger entries and order rows.
  const openings = new Map<
    string,
    { accountId: number; asset: string; seq: number; available: Int; locked: Int }
  >();
  const straddling: Row[] = [];
  const placedOf = new Map<number, Json>();
  const homes = db.prepare("SELECT placed FROM order_home WHERE orderId = ?");
  const bucketPage = db
    .prepare("SELECT * FROM account_bucket WHERE bucketId > ? AND firstTime < ? ORDER BY bucketId LIMIT ?")
    .safeIntegers(true);
  const bucketRows = function* (): Generator<Row> {
    let after = 0n;
    for (;;) {
      const rows = bucketPage.all(after, bound, Math.max(1, Math.floor(chunk / 100))) as Row[];
      if (rows.length === 0) return;
      for (const row of rows) yield row;
      after = rows[rows.length - 1]!.bucketId as bigint;
    }
  };
  for (const row of bucketRows()) {
    const accountId = Number(row.accountId as bigint);
    const baseSeq = Number(row.firstSeq as bigint);
    const baseTime = Number(row.firstTime as bigint);
    if (Number(row.lastTime as bigint) >= bound) straddling.push(row);
    for (const a of JSON.parse(row.ledger as string) as Json[]) {
      const e = ledgerFromJson(accountId, a, baseSeq, baseTime);
      if (e.time >= bound) continue;
      await period(e.time)
        .writer("ledger.jsonl.gz")
        .write(line(withStrings(e, ledgerAmounts)));
      const key = `${accountId}|${e.asset}`;
      const known = openings.get(key);
      if (known === undefined || e.seq > known.seq) {
        openings.set(key, {
          accountId,
          asset: e.asset,
          seq: e.seq,
          available: e.availableAfter,
          locked: e.lockedAfter,
        });
      }
    }
    for (const a of JSON.parse(row.orders as string) as Json[]) {
      const orderId = a[0] as number;
      let placed = placedOf.get(orderId);
      if (placed === undefined) {
        const home = homes.get(orderId) as { placed: string } | undefined;
        if (home === undefined)
          throw new HistoryIntegrityError(`archive: order ${orderId} has rows but no order_home`);
        placed = JSON.parse(home.placed) as Json;
        if (placedOf.size < historyLimits.archiveChunkRowsMax) placedOf.set(orderId, placed);
      }
      const o = orderFromJson(accountId, placed, a, baseSeq, baseTime);
      if (o.time >= bound) continue;
      await period(o.time)
        .writer(`orders-${o.symbol}.jsonl.gz`)
        .write(line(withStrings(o, orderAmounts)));
    }
  }
  // Finish, then verify every file before anything leaves the store.
  const manifests: Manifest[] = [];
  for (const p of [...periods.values()].sort((a, b) => (a.period < b.period ? -1 : 1))) {
    const files: ArchivedFile[] = [];
    for (const w of p.writers.values()) files.push(await w.finish());
    files.sort((a, b) => (a.name < b.name ? -1 : 1));
    const fromTime = parseDay(p.period);
    const manifest: Manifest = {
      format: "bourse-history-archive",
      version: 1,
      period: p.period,
      fromTime,
      toTime: fromTime + dayMs,
      files,
    };
    writeFileSync(join(p.dir, "manifest.json.tmp"), `${JSON.stringify(manifest, null, 2)}\n`);
    const fd = openSync(join(p.dir, "manifest.json.tmp"), "r+");
    fsyncSync(fd);
    closeSync(fd);
    renameSync(join(p.dir, "manifest.json.tmp"), join(p.dir, "manifest.json"));
    await verifyPeriod(p.dir);
    manifests.push(manifest);
  }
  // Remove from the hot store, in one transaction.
  const rewrite = db.prepare(
    "UPDATE account_bucket SET firstSeq = ?, firstTime = ?, fills = ?, ledger = ?, orders = ? WHERE bucketId = ?",
  );
  const upsertOpening = db.prepare(
    "INSERT INTO ledger_opening VALUES (?,?,?,?,?) ON CONFLICT (accountId, asset) DO UPDATE SET seq = excluded.seq, available = excluded.available, locked = excluded.locked WHERE excluded.seq > ledger_opening.seq",
  );
  const markPeriod = db.prepare("INSERT OR REPLACE INTO archive_period VALUES (?,?,?,'archived',?)");
  db.transaction(() => {
    db.prepare("DELETE FROM trade WHERE tradeId <= ? AND time < ?").run(lastTradeId, bound);
    for (const row of straddling) trimBucket(row, bound, lastTradeId, rewrite);
    db.prepare("DELETE FROM account_bucket WHERE lastTime < ?").run(bound);
    // Orders whose every row is archived (closed before the bound): their home goes too.
    db.prepare("DELETE FROM order_home WHERE final IS NOT NULL AND json_extract(final, '$[2]') < ?").run(
      bound,
    );
    for (const o of openings.values()) {
      upsertOpening.run(
        o.accountId,
        o.asset,
        o.seq,
        exact(o.available, "balance"),
        exact(o.locked, "balance"),
      );
    }
    for (const m of manifests) markPeriod.run(m.period, m.fromTime, m.toTime, join(dir, m.period));
  })();
  for (const m of manifests) result.periods.push({ period: m.period, files: m.files });
  return result;
}

/** Keeps only a straddling bucket's rows at or after the bound (relative seq and time re-based). */
function trimBucket(
  row: Row,
  bound: number,
  lastTradeId: number,
  rewrite: { run: (...args: unknown[]) => unknown },
): void {
  const accountId = Number(row.accountId as bigint);
  const baseSeq = Number(row.firstSeq as bigint);
  const baseTime = Number(row.firstTime as bigint);
  const ledger = (JSON.parse(row.ledger as string) as Json[])
    .map((a) => ledgerFromJson(accountId, a, baseSeq, baseTime))
    .filter((e) => e.time >= bound);
  const orders = (JSON.parse(row.orders as string) as Json[]).filter(
    (a) => (a[2] as number) + baseTime >= bound,
  );
  const fills = (JSON.parse(row.fills as string) as Json[]).filter((f) => (f[0] as number) > lastTradeId);
  let firstSeq = Number.MAX_SAFE_INTEGER;
  let firstTime = Number.MAX_SAFE_INTEGER;
  for (const e of ledger) {
    firstSeq = Math.min(firstSeq, e.seq);
    firstTime = Math.min(firstTime, e.time);
  }
  for (const a of orders) {
    firstSeq = Math.min(firstSeq, (a[1] as number) + baseSeq);
    firstTime = Math.min(firstTime, (a[2] as number) + baseTime);
  }
  if (firstSeq === Number.MAX_SAFE_INTEGER) {
    // Only fills remain: their rows hold no time; the bound is a lower limit of their time.
    firstSeq = baseSeq;
    firstTime = bound;
  }
  const rebased = orders.map((a) => {
    const copy = [...a];
    copy[1] = (a[1] as number) + baseSeq - firstSeq;
    copy[2] = (a[2] as number) + baseTime - firstTime;
    return copy;
  });
  rewrite.run(
    firstSeq,
    firstTime,
    JSON.stringify(fills),
    JSON.stringify(ledger.map((e) => ledgerJson(e, firstSeq, firstTime))),
    JSON.stringify(rebased),
    row.bucketId,
  );
}

/** Checks a period's files against its manifest: checksums, sizes, and that every row parses. */
export async function verifyPeriod(periodDir: string): Promise<Manifest> {
  const path = join(periodDir, "manifest.json");
  if (!existsSync(path)) throw new HistoryIntegrityError(`archive: ${path} is missing`);
  const manifest = JSON.parse(readFileSync(path, "utf8")) as Manifest;
  if (manifest.format !== "bourse-history-archive" || manifest.version !== 1) {
    throw new HistoryIntegrityError(`archive: ${path} is not a Bourse history archive manifest (version 1)`);
  }
  for (const f of manifest.files) {
    const file = join(periodDir, f.name);
    if (!existsSync(file)) throw new HistoryIntegrityError(`archive: ${file} is missing`);
    const { sha256, bytes } = sha256File(file);
    if (sha256 !== f.sha256 || bytes !== f.bytes) {
      throw new HistoryIntegrityError(`archive: ${file} does not match its manifest (SHA-256 or size)`);
    }
    let rows = 0;
    for await (const l of readLines(file)) {
      JSON.parse(l);
      rows++;
    }
    if (rows !== f.rows)
      throw new HistoryIntegrityError(`archive: ${file} holds ${rows} rows, its manifest ${f.rows}`);
  }
  return manifest;
}

/** Puts an archived day back into the store. */
export async function restorePeriod(
  store: SqliteHistoryStore,
  periodDir: string,
): Promise<{ period: string; rows: number }> {
  const manifest = await verifyPeriod(periodDir);
  const db = store.sqlite;
  const state = db.prepare("SELECT state FROM archive_period WHERE period = ?").get(manifest.period) as
    | { state: string }
    | undefined;
  if (state?.state === "restored") return { period: manifest.period, rows: 0 };
  const trades: TradeRecord[] = [];
  const orders: OrderRecord[] = [];
  const ledger: LedgerEntry[] = [];
  for (const f of manifest.files) {
    for await (const l of readLines(join(periodDir, f.name))) {
      const record = JSON.parse(l) as Record<string, unknown>;
      if (f.name.startsWith("trades-")) trades.push(withInts<TradeRecord>(record, tradeAmounts));
      else if (f.name.startsWith("orders-")) orders.push(withInts<OrderRecord>(record, orderAmounts));
      else ledger.push(withInts<LedgerEntry>(record, ledgerAmounts));
    }
  }
  // One bucket per account with the day's rows; fills from the day's trades.
  const buckets = new Map<
    number,
    { fills: Json[]; ledger: LedgerEntry[]; orders: OrderRecord[]; seqs: number[]; times: number[] }
  >();
  const bucket = (accountId: number) => {
    let b = buckets.get(accountId);
    if (b === undefined)
      buckets.set(accountId, (b = { fills: [], ledger: [], orders: [], seqs: [], times: [] }));
    return b;
  };
  trades.sort((a, b) => a.tradeId - b.tradeId);
  for (const t of trades) {
    for (const [accountId, taker] of [
      [t.makerAccountId, 0],
      [t.takerAccountId, 1],
    ] as const) {
      const b = bucket(accountId);
      b.fills.push([t.tradeId, taker]);
      b.seqs.push(t.seq);
      b.times.push(t.time);
    }
  }
  for (const e of ledger) {
    const b = bucket(e.accountId);
    b.ledger.push(e);
    b.seqs.push(e.seq);
    b.times.push(e.time);
  }
  orders.sort((a, b) => a.seq - b.seq || a.orderId - b.orderId);
  for (const o of orders) {
    const b = bucket(o.accountId);
    b.orders.push(o);
    b.seqs.push(o.seq);
    b.times.push(o.time);
  }
  const insertTrade = db.prepare("INSERT OR IGNORE INTO trade VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
  const insertBucket = db.prepare(
    "INSERT INTO account_bucket (accountId, firstSeq, lastSeq, firstTime, lastTime, fills, ledger, orders) VALUES (?,?,?,?,?,?,?,?)",
  );
  const insertHome = db.prepare("INSERT OR IGNORE INTO order_home VALUES (?,?,?,?,?,?)");
  const closeHome = db.prepare("UPDATE order_home SET final = ? WHERE orderId = ? AND final IS NULL");
  db.transaction(() => {
    for (const t of trades) {
      insertTrade.run(
        t.tradeId,
        t.seq,
        t.time,
        t.symbol,
        t.price,
        t.quantity,
        t.notional,
        t.takerSide,
        t.takerOrderId,
        t.takerAccountId,
        t.makerOrderId,
        t.makerAccountId,
        t.takerFee,
        t.makerFee,
        t.quoteAsset,
      );
    }
    for (const [accountId, b] of buckets) {
      const firstSeq = Math.min(...b.seqs);
      const firstTime = Math.min(...b.times);
      b.ledger.sort((x, y) => x.seq - y.seq || (x.asset < y.asset ? -1 : x.asset > y.asset ? 1 : 0));
      insertBucket.run(
        accountId,
        firstSeq,
        Math.max(...b.seqs),
        firstTime,
        Math.max(...b.times),
        JSON.stringify(b.fills),
        JSON.stringify(b.ledger.map((e) => ledgerJson(e, firstSeq, firstTime))),
        JSON.stringify(b.orders.map((o) => orderJson(o, firstSeq, firstTime))),
      );
    }
    for (const o of orders) {
      const final = finalStatuses.has(o.status) ? JSON.stringify(orderJson(o, 0, 0)) : null;
      if (o.reasons.startsWith("placed")) {
        insertHome.run(o.orderId, o.accountId, o.seq, o.time, JSON.stringify(placedJson(o)), final);
      }
      if (final !== null) closeHome.run(final, o.orderId);
    }
    db.prepare("INSERT OR REPLACE INTO archive_period VALUES (?,?,?,'restored',?)").run(
      manifest.period,
      manifest.fromTime,
      manifest.toTime,
      periodDir,
    );
    // Every archived day back: the ledger is whole again, a rebuild starts from zero.
    const stillArchived = db
      .prepare("SELECT count(*) AS n FROM archive_period WHERE state = 'archived'")
      .get() as { n: number };
    if (stillArchived.n === 0) db.prepare("DELETE FROM ledger_opening").run();
  })();
  return { period: manifest.period, rows: trades.length + orders.length + ledger.length };
}

/** Archived days known to the store (archived or restored). */
export function archivedPeriods(
  store: SqliteHistoryStore,
): { period: string; state: string; directory: string }[] {
  return store.sqlite
    .prepare("SELECT period, state, directory FROM archive_period ORDER BY period")
    .all() as {
    period: string;
    state: string;
    directory: string;
  }[];
}

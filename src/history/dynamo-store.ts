/**
 * The history at scale: DynamoDB (AWS, DynamoDB Local, compatible endpoints), through @aws-sdk/client-dynamodb.
 *
 * Tables (prefix from the URL; on-demand capacity). Every access pattern is a Query, never a Scan:
 *
 *   <p>trades    PK symbol (S)      SK tk = time(13)#tradeId(16)            a symbol's trades by time
 *   <p>fills     PK accountId (N)   SK fk = time(13)#tradeId(16)#(0 maker|1 taker)
 *                                                                           an account's fills, newest first, paged
 *                GSI bySymbol: PK accountSymbol = accountId#symbol, SK fk   the same for one symbol
 *   <p>orders    PK orderId (N)     SK seq (N)                              an order by id: its lifecycle; last = final
 *   <p>ledger    PK accountId (N)   SK lk = time(13)#seq(16)#asset          an account's ledger by time (= by seq)
 *   <p>balances  PK accountId (N)   SK asset (S)                            balances as of the checkpoint (writer memory)
 *                PK -1, SK accountId(12): the directory of accounts (verify lists accounts with a Query)
 *   <p>meta      PK name (S)                                                "checkpoint": seq and time
 *
 * Exactly once without transactions: every key is a function of the journal (the same commands give
 * the same tradeIds, orderIds, seqs and times), so writing a batch again after a crash overwrites items
 * with identical ones; the checkpoint is written last, conditionally on the previous one (a second
 * writer racing on the same tables is detected, not silently merged). A balance item carries its value
 * before the batch that wrote it (prev*), so that "the balance as of the checkpoint" stays answerable
 * when a crash leaves some of a batch's items written and the checkpoint not moved.
 *
 * BatchWriteItem: 25 items per request, several requests in flight, UnprocessedItems retried with
 * exponential backoff and full jitter (historyLimits.dynamo*). TTL: items of trades, fills, orders and
 * ledger carry `expiresAt` (epoch seconds) when the URL sets ttlDays; archive first (docs/history.md).
 * Amounts are N attributes written as decimal strings: exact (DynamoDB numbers hold 38 digits).
 */
import {
  type AttributeValue,
  BatchGetItemCommand,
  BatchWriteItemCommand,
  ConditionalCheckFailedException,
  CreateTableCommand,
  type CreateTableCommandInput,
  DeleteTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  type DynamoDBClientConfig,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  type QueryCommandInput,
  ResourceInUseException,
  ResourceNotFoundException,
  UpdateTimeToLiveCommand,
  type WriteRequest,
} from "@aws-sdk/client-dynamodb";
import { type Int, normalize } from "../engine/int.js";
import type { OrderStatus, OrderType, SelfTradePrevention, Side, TimeInForce } from "../engine/types.js";
import { decodeCursor, encodeCursor, pad, pageSize } from "./cursor.js";
import { historyLimits } from "./history-limits.js";
import type { HistoryStore } from "./history-store.js";
import type { HistoryLocation } from "./open-store.js";
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

type Item = Record<string, AttributeValue>;
type Location = Extract<HistoryLocation, { kind: "dynamodb" }>;

const timeWidth = 13;
const idWidth = 16;
const timeMax = 9_999_999_999_999;
const directoryAccountId = -1;
const tableActiveWaitMs = 120_000;

const S = (s: string): AttributeValue => ({ S: s });
const N = (v: Int): AttributeValue => ({ N: String(v) });

function num(item: Item, name: string): number {
  const v = item[name]?.N;
  if (v === undefined) throw new HistoryIntegrityError(`dynamodb history: item without ${name}`);
  return Number(v);
}

function int(item: Item, name: string): Int {
  const v = item[name]?.N;
  if (v === undefined) throw new HistoryIntegrityError(`dynamodb history: item without ${name}`);
  return normalize(BigInt(v));
}

function str(item: Item, name: string): string {
  return item[name]?.S ?? "";
}

/** Empty strings are left out (older DynamoDB-compatible endpoints refuse them) and read back as "". */
function putString(item: Item, name: string, value: string): void {
  if (value !== "") item[name] = S(value);
}

function tradeKey(time: number, tradeId: number): string {
  return `${pad(time, timeWidth)}#${pad(tradeId, idWidth)}`;
}

function fillKey(time: number, tradeId: number, taker: boolean): string {
  return `${tradeKey(time, tradeId)}#${taker ? 1 : 0}`;
}

function ledgerKey(time: number, seq: number, asset: string): string {
  return `${pad(time, timeWidth)}#${pad(seq, idWidth)}#${asset}`;
}

function timeBound(time: number | undefined, fallback: number): string {
  return pad(Math.min(Math.max(time ?? fallback, 0), timeMax), timeWidth);
}

export class DynamoHistoryStore implements HistoryStore {
  readonly backend = "dynamodb";
  private readonly client: DynamoDBClient;
  private readonly tables: {
    trades: string;
    fills: string;
    orders: string;
    ledger: string;
    balances: string;
    meta: string;
  };
  private readonly ttlSeconds: number | null;
  private checkpointSeq = 0;
  private opened = false;

  constructor(
    readonly location: Location,
    clientConfig: DynamoDBClientConfig = {},
  ) {
    const config: DynamoDBClientConfig = { region: location.region, maxAttempts: 3, ...clientConfig };
    if (location.endpoint !== undefined) {
      config.endpoint = location.endpoint;
      // DynamoDB Local accepts any credentials; use the environment's when it has some.
      if (process.env.AWS_ACCESS_KEY_ID === undefined && config.credentials === undefined) {
        config.credentials = { accessKeyId: "local", secretAccessKey: "local" };
      }
    }
    this.client = new DynamoDBClient(config);
    const p = location.prefix;
    this.tables = {
      trades: `${p}trades`,
      fills: `${p}fills`,
      orders: `${p}orders`,
      ledger: `${p}ledger`,
      balances: `${p}balances`,
      meta: `${p}meta`,
    };
    this.ttlSeconds = location.ttlDays === undefined ? null : location.ttlDays * 86_400;
  }

  // ───────────────────────────── tables ─────────────────────────────

  private definitions(): CreateTableCommandInput[] {
    const t = this.tables;
    const table = (
      name: string,
      pk: [string, "S" | "N"],
      sk: [string, "S" | "N"] | null,
      extra: Partial<CreateTableCommandInput> = {},
    ): CreateTableCommandInput => ({
      TableName: name,
      BillingMode: "PAY_PER_REQUEST",
      AttributeDefinitions: [
        { AttributeName: pk[0], AttributeType: pk[1] },
        ...(sk ? [{ AttributeName: sk[0], AttributeType: sk[1] }] : []),
        ...(extra.AttributeDefinitions ?? []),
      ],
      KeySchema: [
        { AttributeName: pk[0], KeyType: "HASH" },
        ...(sk ? [{ AttributeName: sk[0], KeyType: "RANGE" as const }] : []),
      ],
      ...(extra.GlobalSecondaryIndexes ? { GlobalSecondaryIndexes: extra.GlobalSecondaryIndexes } : {}),
    });
    return [
      table(t.trades, ["symbol", "S"], ["tk", "S"]),
      table(t.fills, ["accountId", "N"], ["fk", "S"], {
        AttributeDefinitions: [{ AttributeName: "accountSymbol", AttributeType: "S" }],
        GlobalSecondaryIndexes: [
          {
            IndexName: "bySymbol",
            KeySchema: [
              { AttributeName: "accountSymbol", KeyType: "HASH" },
              { AttributeName: "fk", KeyType: "RANGE" },
            ],
            Projection: { ProjectionType: "ALL" },
          },
        ],
      }),
      table(t.orders, ["orderId", "N"], ["seq", "N"]),
      table(t.ledger, ["accountId", "N"], ["lk", "S"]),
      table(t.balances, ["accountId", "N"], ["asset", "S"]),
      table(t.meta, ["name", "S"], null),
    ];
  }

  async open(): Promise<void> {
    if (this.opened) return;
    for (const definition of this.definitions()) await this.ensureTable(definition);
    if (this.ttlSeconds !== null) {
      for (const name of [this.tables.trades, this.tables.fills, this.tables.orders, this.tables.ledger]) {
        try {
          await this.client.send(
            new UpdateTimeToLiveCommand({
              TableName: name,
              TimeToLiveSpecification: { AttributeName: "expiresAt", Enabled: true },
            }),
          );
        } catch (error) {
          // Already enabled is fine; anything else is reported (retention would silently not happen).
          if (!/already enabled/i.test((error as Error).message)) throw error;
        }
      }
    }
    this.checkpointSeq = await this.readCheckpoint();
    this.opened = true;
  }

  private async ensureTable(definition: CreateTableCommandInput): Promise<void> {
    const name = definition.TableName!;
    try {
      await this.client.send(new DescribeTableCommand({ TableName: name }));
    } catch (error) {
      if (!(error instanceof ResourceNotFoundException)) throw error;
      try {
        await this.client.send(new CreateTableCommand(definition));
      } catch (createError) {
        if (!(createError instanceof ResourceInUseException)) throw createError; // created meanwhile
      }
    }
    const deadline = Date.now() + tableActiveWaitMs;
    for (;;) {
      const d = await this.client.send(new DescribeTableCommand({ TableName: name }));
      const indexesActive = (d.Table?.GlobalSecondaryIndexes ?? []).every((i) => i.IndexStatus === "ACTIVE");
      if (d.Table?.TableStatus === "ACTIVE" && indexesActive) return;
      if (Date.now() > deadline)
        throw new Error(`dynamodb history: table ${name} not ACTIVE after ${tableActiveWaitMs} ms`);
      await sleep(200);
    }
  }

  private async readCheckpoint(): Promise<number> {
    const r = await this.client.send(
      new GetItemCommand({
        TableName: this.tables.meta,
        Key: { name: S("checkpoint") },
        ConsistentRead: true,
      }),
    );
    return r.Item === undefined ? 0 : num(r.Item, "seq");
  }

  async checkpoint(): Promise<number> {
    this.checkpointSeq = await this.readCheckpoint();
    return this.checkpointSeq;
  }

  async checkpointTime(): Promise<number> {
    const r = await this.client.send(
      new GetItemCommand({
        TableName: this.tables.meta,
        Key: { name: S("checkpoint") },
        ConsistentRead: true,
      }),
    );
    return r.Item === undefined ? 0 : num(r.Item, "time");
  }

  // ───────────────────────────── writing ─────────────────────────────

  private expires(time: number, item: Item): Item {
    if (this.ttlSeconds !== null) item.expiresAt = N(Math.floor(time / 1000) + this.ttlSeconds);
    return item;
  }

  private tradeItem(t: TradeRecord): Item {
    return this.expires(t.time, {
      symbol: S(t.symbol),
      tk: S(tradeKey(t.time, t.tradeId)),
      tradeId: N(t.tradeId),
      seq: N(t.seq),
      time: N(t.time),
      price: N(t.price),
      quantity: N(t.quantity),
      notional: N(t.notional),
      takerSide: S(t.takerSide),
      takerOrderId: N(t.takerOrderId),
      takerAccountId: N(t.takerAccountId),
      makerOrderId: N(t.makerOrderId),
      makerAccountId: N(t.makerAccountId),
      takerFee: N(t.takerFee),
      makerFee: N(t.makerFee),
      quoteAsset: S(t.quoteAsset),
    });
  }

  private fillItem(f: FillRecord): Item {
    return this.expires(f.time, {
      accountId: N(f.accountId),
      fk: S(fillKey(f.time, f.tradeId, f.liquidity === "taker")),
      accountSymbol: S(`${f.accountId}#${f.symbol}`),
      tradeId: N(f.tradeId),
      seq: N(f.seq),
      time: N(f.time),
      orderId: N(f.orderId),
      symbol: S(f.symbol),
      side: S(f.side),
      liquidity: S(f.liquidity),
      price: N(f.price),
      quantity: N(f.quantity),
      fee: N(f.fee),
      feeAsset: S(f.feeAsset),
    });
  }

  private orderItem(o: OrderRecord): Item {
    const item: Item = {
      orderId: N(o.orderId),
      seq: N(o.seq),
      time: N(o.time),
      reasons: S(o.reasons),
      accountId: N(o.accountId),
      symbol: S(o.symbol),
      side: S(o.side),
      orderType: S(o.orderType),
      timeInForce: S(o.timeInForce),
      price: N(o.price),
      stopPrice: N(o.stopPrice),
      quantity: N(o.quantity),
      filledQuantity: N(o.filledQuantity),
      filledNotional: N(o.filledNotional),
      quoteQuantity: N(o.quoteQuantity),
      status: S(o.status),
      postOnly: { BOOL: o.postOnly },
      expireTime: N(o.expireTime),
      selfTradePrevention: S(o.selfTradePrevention),
      createdAt: N(o.createdAt),
    };
    putString(item, "clientOrderId", o.clientOrderId);
    return this.expires(o.time, item);
  }

  private ledgerItem(e: LedgerEntry): Item {
    const item: Item = {
      accountId: N(e.accountId),
      lk: S(ledgerKey(e.time, e.seq, e.asset)),
      seq: N(e.seq),
      time: N(e.time),
      asset: S(e.asset),
      deposit: N(e.deposit),
      withdrawal: N(e.withdrawal),
      settlementIn: N(e.settlementIn),
      settlementOut: N(e.settlementOut),
      feeIn: N(e.feeIn),
      feeOut: N(e.feeOut),
      hold: N(e.hold),
      release: N(e.release),
      availableAfter: N(e.availableAfter),
      lockedAfter: N(e.lockedAfter),
    };
    putString(item, "transferId", e.transferId);
    return this.expires(e.time, item);
  }

  async write(batch: HistoryBatch): Promise<void> {
    if (batch.firstSeq !== this.checkpointSeq + 1) {
      throw new HistoryIntegrityError(
        `dynamodb history: a batch from seq ${batch.firstSeq} after checkpoint ${this.checkpointSeq}: history must be written in order`,
      );
    }
    const t = this.tables;
    const puts: [string, Item][] = [];
    for (const trade of batch.trades) {
      puts.push([t.trades, this.tradeItem(trade)]);
      puts.push([t.fills, this.fillItem(fillOf(trade, true))]);
      puts.push([t.fills, this.fillItem(fillOf(trade, false))]);
    }
    for (const o of batch.orders) puts.push([t.orders, this.orderItem(o)]);
    for (const e of batch.ledger) puts.push([t.ledger, this.ledgerItem(e)]);
    const newAccounts = new Set<number>();
    for (const { after, before } of batch.balances) {
      puts.push([
        t.balances,
        {
          accountId: N(after.accountId),
          asset: S(after.asset),
          seq: N(after.seq),
          available: N(after.available),
          locked: N(after.locked),
          prevSeq: N(before.seq),
          prevAvailable: N(before.available),
          prevLocked: N(before.locked),
        },
      ]);
      if (before.seq === 0) newAccounts.add(after.accountId);
    }
    for (const accountId of newAccounts) {
      puts.push([t.balances, { accountId: N(directoryAccountId), asset: S(pad(accountId, 12)) }]);
    }
    await this.batchWrite(puts);
    // Last, and only over the checkpoint this batch follows.
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: t.meta,
          Item: { name: S("checkpoint"), seq: N(batch.lastSeq), time: N(batch.lastTime) },
          ConditionExpression: "attribute_not_exists(#s) OR #s = :previous",
          ExpressionAttributeNames: { "#s": "seq" },
          ExpressionAttributeValues: { ":previous": N(batch.firstSeq - 1) },
        }),
      );
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) {
        throw new HistoryIntegrityError(
          `dynamodb history: the checkpoint is no longer ${batch.firstSeq - 1}: another writer is writing these tables`,
        );
      }
      throw error;
    }
    this.checkpointSeq = batch.lastSeq;
  }

  /** Every item, 25 per BatchWriteItem, a bounded number of requests in flight, unprocessed items retried. */
  private async batchWrite(puts: readonly [string, Item][]): Promise<void> {
    const size = historyLimits.dynamoBatchWriteItemsMax;
    let next = 0;
    let failed = false;
    const worker = async (): Promise<void> => {
      // After a failure the others stop taking requests: the writer retries the whole batch.
      while (next < puts.length && !failed) {
        const start = next;
        next = Math.min(puts.length, next + size);
        const requestItems: Record<string, WriteRequest[]> = {};
        for (let i = start; i < next; i++) {
          const [table, item] = puts[i]!;
          (requestItems[table] ??= []).push({ PutRequest: { Item: item } });
        }
        try {
          await this.sendWithRetries(requestItems);
        } catch (error) {
          failed = true;
          throw error;
        }
      }
    };
    const workers: Promise<void>[] = [];
    for (let w = 0; w < historyLimits.dynamoBatchWritesInFlightMax; w++) workers.push(worker());
    // Every worker settles before the batch is reported: no request of it is still in flight after.
    const results = await Promise.allSettled(workers);
    for (const r of results) if (r.status === "rejected") throw r.reason;
  }

  private async sendWithRetries(requestItems: Record<string, WriteRequest[]>): Promise<void> {
    let pending = requestItems;
    for (let attempt = 0; ; attempt++) {
      let unprocessed: Record<string, WriteRequest[]> | undefined;
      try {
        const result = await this.client.send(new BatchWriteItemCommand({ RequestItems: pending }));
        unprocessed = result.UnprocessedItems;
      } catch (error) {
        if (!retryable(error) || attempt + 1 >= historyLimits.dynamoWriteAttemptsMax) throw error;
        unprocessed = pending;
      }
      if (unprocessed === undefined || Object.keys(unprocessed).length === 0) return;
      if (attempt + 1 >= historyLimits.dynamoWriteAttemptsMax) {
        throw new Error(
          `dynamodb history: items still unprocessed after ${historyLimits.dynamoWriteAttemptsMax} attempts (throttled)`,
        );
      }
      pending = unprocessed;
      await sleep(backoffMs(attempt));
    }
  }

  async loadBalances(keys: readonly BalanceKey[]): Promise<BalanceRecord[]> {
    const checkpoint = this.checkpointSeq;
    const result: BalanceRecord[] = [];
    const size = historyLimits.dynamoBatchGetKeysMax;
    for (let i = 0; i < keys.length; i += size) {
      let requested: Item[] = keys
        .slice(i, i + size)
        .map((k) => ({ accountId: N(k.accountId), asset: S(k.asset) }));
      for (let attempt = 0; requested.length > 0; attempt++) {
        const r = await this.client.send(
          new BatchGetItemCommand({
            RequestItems: { [this.tables.balances]: { Keys: requested, ConsistentRead: true } },
          }),
        );
        for (const item of r.Responses?.[this.tables.balances] ?? [])
          result.push(balanceAt(item, checkpoint));
        requested = r.UnprocessedKeys?.[this.tables.balances]?.Keys ?? [];
        if (requested.length > 0) {
          if (attempt + 1 >= historyLimits.dynamoWriteAttemptsMax)
            throw new Error("dynamodb history: balances unread (throttled)");
          await sleep(backoffMs(attempt));
        }
      }
    }
    return result;
  }

  // ───────────────────────────── queries ─────────────────────────────

  /**
   * Items of one partition in sort-key order between lo and hi, skipping `exclusive` (the cursor's own
   * item), until `want` are found or the partition ends. Reports whether more may follow.
   */
  private async range(
    input: QueryCommandInput,
    want: number,
    exclusive: string | null,
    skField: string,
  ): Promise<{ items: Item[]; more: boolean }> {
    const items: Item[] = [];
    let start: Item | undefined;
    for (;;) {
      const r = await this.client.send(
        new QueryCommand({
          ...input,
          Limit: want + 2 - items.length,
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      );
      for (const item of r.Items ?? []) {
        if (exclusive !== null && item[skField]?.S === exclusive) continue;
        items.push(item);
      }
      if (items.length > want) return { items: items.slice(0, want), more: true };
      if (r.LastEvaluatedKey === undefined) return { items, more: false };
      start = r.LastEvaluatedKey;
    }
  }

  async fills(q: FillQuery): Promise<Page<FillRecord>> {
    const size = pageSize(q.limit);
    const position = decodeCursor(q.cursor);
    const lo = `${timeBound(q.fromTime, 0)}#`;
    let hi = `${timeBound(q.toTime, timeMax)}#~`;
    let exclusive: string | null = null;
    if (position !== null && (q.toTime === undefined || position.t <= q.toTime)) {
      hi = fillKey(position.t, position.i, position.l === 1);
      exclusive = hi;
    }
    const bySymbol = q.symbol !== undefined;
    const { items, more } = await this.range(
      {
        TableName: this.tables.fills,
        ...(bySymbol ? { IndexName: "bySymbol" } : {}),
        KeyConditionExpression: `#pk = :pk AND fk BETWEEN :lo AND :hi`,
        ExpressionAttributeNames: { "#pk": bySymbol ? "accountSymbol" : "accountId" },
        ExpressionAttributeValues: {
          ":pk": bySymbol ? S(`${q.accountId}#${q.symbol}`) : N(q.accountId),
          ":lo": S(lo),
          ":hi": S(hi),
        },
        ScanIndexForward: false,
      },
      size,
      exclusive,
      "fk",
    );
    const fills = items.map(fillFrom);
    const last = fills[fills.length - 1];
    return more && last !== undefined
      ? {
          items: fills,
          nextCursor: encodeCursor({
            t: last.time,
            i: last.tradeId,
            l: last.liquidity === "taker" ? 1 : 0,
            s: last.seq,
          }),
        }
      : { items: fills };
  }

  async trades(q: TradeQuery): Promise<Page<TradeRecord>> {
    const size = pageSize(q.limit);
    const position = decodeCursor(q.cursor);
    let hi = `${timeBound(q.toTime, timeMax)}#~`;
    let exclusive: string | null = null;
    if (position !== null && (q.toTime === undefined || position.t <= q.toTime)) {
      hi = tradeKey(position.t, position.i);
      exclusive = hi;
    }
    const { items, more } = await this.range(
      {
        TableName: this.tables.trades,
        KeyConditionExpression: "symbol = :s AND tk BETWEEN :lo AND :hi",
        ExpressionAttributeValues: {
          ":s": S(q.symbol),
          ":lo": S(`${timeBound(q.fromTime, 0)}#`),
          ":hi": S(hi),
        },
        ScanIndexForward: false,
      },
      size,
      exclusive,
      "tk",
    );
    const trades = items.map(tradeFrom);
    const last = trades[trades.length - 1];
    return more && last !== undefined
      ? { items: trades, nextCursor: encodeCursor({ t: last.time, i: last.tradeId }) }
      : { items: trades };
  }

  async order(orderId: number): Promise<OrderRecord | null> {
    const r = await this.client.send(
      new QueryCommand({
        TableName: this.tables.orders,
        KeyConditionExpression: "orderId = :o",
        ExpressionAttributeValues: { ":o": N(orderId) },
        ScanIndexForward: false,
        Limit: 1,
      }),
    );
    const item = r.Items?.[0];
    return item === undefined ? null : orderFrom(item);
  }

  async orderEvents(q: OrderEventsQuery): Promise<Page<OrderRecord>> {
    const size = pageSize(q.limit);
    const position = decodeCursor(q.cursor);
    const { items, more } = await this.range(
      {
        TableName: this.tables.orders,
        KeyConditionExpression: "orderId = :o AND seq > :after",
        ExpressionAttributeValues: { ":o": N(q.orderId), ":after": N(position?.i ?? 0) },
        ScanIndexForward: true,
      },
      size,
      null,
      "seq",
    );
    const orders = items.map(orderFrom);
    const last = orders[orders.length - 1];
    return more && last !== undefined
      ? { items: orders, nextCursor: encodeCursor({ t: last.time, i: last.seq }) }
      : { items: orders };
  }

  async ledger(q: LedgerQuery): Promise<Page<LedgerEntry>> {
    const size = pageSize(q.limit);
    const position = decodeCursor(q.cursor);
    let lo = `${timeBound(q.fromTime, 0)}#`;
    let hi = `${timeBound(q.toTime, timeMax)}#~`;
    let exclusive: string | null = null;
    if (position !== null) {
      const at = ledgerKey(position.t, position.i, position.a ?? "");
      if (q.ascending && (q.fromTime === undefined || position.t >= q.fromTime)) {
        lo = at;
        exclusive = at;
      } else if (!q.ascending && (q.toTime === undefined || position.t <= q.toTime)) {
        hi = at;
        exclusive = at;
      }
    }
    const { items, more } = await this.range(
      {
        TableName: this.tables.ledger,
        KeyConditionExpression: "accountId = :a AND lk BETWEEN :lo AND :hi",
        ExpressionAttributeValues: { ":a": N(q.accountId), ":lo": S(lo), ":hi": S(hi) },
        ScanIndexForward: q.ascending === true,
        ConsistentRead: true,
      },
      size,
      exclusive,
      "lk",
    );
    const entries = items.map(ledgerFrom);
    const last = entries[entries.length - 1];
    return more && last !== undefined
      ? { items: entries, nextCursor: encodeCursor({ t: last.time, i: last.seq, a: last.asset }) }
      : { items: entries };
  }

  async balances(accountId: number): Promise<BalanceRecord[]> {
    const checkpoint = await this.checkpoint();
    const { items } = await this.range(
      {
        TableName: this.tables.balances,
        KeyConditionExpression: "accountId = :a",
        ExpressionAttributeValues: { ":a": N(accountId) },
        ConsistentRead: true,
      },
      historyLimits.pageSizeMax,
      null,
      "asset",
    );
    return items.map((item) => balanceAt(item, checkpoint)).filter((b) => b.seq > 0);
  }

  /** Retention on DynamoDB is TTL (docs/history.md): nothing is archived out of these tables by Bourse. */
  async openingBalances(_accountId: number): Promise<BalanceRecord[]> {
    return [];
  }

  async accounts(afterAccountId: number, limit: number): Promise<number[]> {
    const { items } = await this.range(
      {
        TableName: this.tables.balances,
        KeyConditionExpression: "accountId = :d AND asset > :after",
        ExpressionAttributeValues: {
          ":d": N(directoryAccountId),
          ":after": S(afterAccountId < 0 ? "" : pad(afterAccountId, 12)),
        },
        ConsistentRead: true,
      },
      limit,
      null,
      "asset",
    );
    return items.map((item) => Number(str(item, "asset")));
  }

  /** Drops and recreates every table (rebuild starts from an empty store). */
  async reset(): Promise<void> {
    for (const name of Object.values(this.tables)) {
      try {
        await this.client.send(new DeleteTableCommand({ TableName: name }));
      } catch (error) {
        if (!(error instanceof ResourceNotFoundException)) throw error;
      }
      const deadline = Date.now() + tableActiveWaitMs;
      for (;;) {
        try {
          await this.client.send(new DescribeTableCommand({ TableName: name }));
        } catch (error) {
          if (error instanceof ResourceNotFoundException) break;
          throw error;
        }
        if (Date.now() > deadline) throw new Error(`dynamodb history: table ${name} still exists`);
        await sleep(200);
      }
    }
    this.opened = false;
    await this.open();
  }

  async close(): Promise<void> {
    this.client.destroy();
  }
}

/** The balance as of the checkpoint: the item's value, or its value before the batch that is not checkpointed yet. */
function balanceAt(item: Item, checkpoint: number): BalanceRecord {
  const accountId = num(item, "accountId");
  const asset = str(item, "asset");
  const seq = num(item, "seq");
  if (seq <= checkpoint)
    return { accountId, asset, seq, available: int(item, "available"), locked: int(item, "locked") };
  const prevSeq = num(item, "prevSeq");
  if (prevSeq > checkpoint) {
    throw new HistoryIntegrityError(
      `dynamodb history: balance ${accountId} ${asset} moved at seq ${prevSeq} and ${seq}, both past checkpoint ${checkpoint}`,
    );
  }
  return {
    accountId,
    asset,
    seq: prevSeq,
    available: int(item, "prevAvailable"),
    locked: int(item, "prevLocked"),
  };
}

function tradeFrom(item: Item): TradeRecord {
  return {
    tradeId: num(item, "tradeId"),
    seq: num(item, "seq"),
    time: num(item, "time"),
    symbol: str(item, "symbol"),
    price: num(item, "price"),
    quantity: num(item, "quantity"),
    notional: int(item, "notional"),
    takerSide: str(item, "takerSide") as Side,
    takerOrderId: num(item, "takerOrderId"),
    takerAccountId: num(item, "takerAccountId"),
    makerOrderId: num(item, "makerOrderId"),
    makerAccountId: num(item, "makerAccountId"),
    takerFee: int(item, "takerFee"),
    makerFee: int(item, "makerFee"),
    quoteAsset: str(item, "quoteAsset"),
  };
}

function fillFrom(item: Item): FillRecord {
  return {
    tradeId: num(item, "tradeId"),
    seq: num(item, "seq"),
    time: num(item, "time"),
    accountId: num(item, "accountId"),
    orderId: num(item, "orderId"),
    symbol: str(item, "symbol"),
    side: str(item, "side") as Side,
    liquidity: str(item, "liquidity") as "maker" | "taker",
    price: num(item, "price"),
    quantity: num(item, "quantity"),
    fee: int(item, "fee"),
    feeAsset: str(item, "feeAsset"),
  };
}

function orderFrom(item: Item): OrderRecord {
  return {
    orderId: num(item, "orderId"),
    seq: num(item, "seq"),
    time: num(item, "time"),
    reasons: str(item, "reasons"),
    accountId: num(item, "accountId"),
    symbol: str(item, "symbol"),
    side: str(item, "side") as Side,
    orderType: str(item, "orderType") as OrderType,
    timeInForce: str(item, "timeInForce") as TimeInForce,
    price: num(item, "price"),
    stopPrice: num(item, "stopPrice"),
    quantity: num(item, "quantity"),
    filledQuantity: num(item, "filledQuantity"),
    filledNotional: int(item, "filledNotional"),
    quoteQuantity: int(item, "quoteQuantity"),
    status: str(item, "status") as OrderStatus,
    postOnly: item.postOnly?.BOOL === true,
    expireTime: num(item, "expireTime"),
    clientOrderId: str(item, "clientOrderId"),
    selfTradePrevention: str(item, "selfTradePrevention") as SelfTradePrevention,
    createdAt: num(item, "createdAt"),
  };
}

function ledgerFrom(item: Item): LedgerEntry {
  return {
    accountId: num(item, "accountId"),
    seq: num(item, "seq"),
    time: num(item, "time"),
    asset: str(item, "asset"),
    deposit: int(item, "deposit"),
    withdrawal: int(item, "withdrawal"),
    settlementIn: int(item, "settlementIn"),
    settlementOut: int(item, "settlementOut"),
    feeIn: int(item, "feeIn"),
    feeOut: int(item, "feeOut"),
    hold: int(item, "hold"),
    release: int(item, "release"),
    availableAfter: int(item, "availableAfter"),
    lockedAfter: int(item, "lockedAfter"),
    transferId: str(item, "transferId"),
  };
}

const retryableNames = new Set([
  "ProvisionedThroughputExceededException",
  "ThrottlingException",
  "RequestLimitExceeded",
  "InternalServerError",
  "ServiceUnavailable",
  "TimeoutError",
]);

function retryable(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number }; code?: string };
  if (e.name !== undefined && retryableNames.has(e.name)) return true;
  const status = e.$metadata?.httpStatusCode;
  if (status !== undefined && status >= 500) return true;
  return e.code === "ECONNRESET" || e.code === "ECONNREFUSED" || e.code === "EPIPE";
}

/** Exponential backoff with full jitter (AWS's recommendation), capped. */
function backoffMs(attempt: number): number {
  const ceiling = Math.min(
    historyLimits.dynamoBackoffCapMs,
    historyLimits.dynamoBackoffBaseMs * 2 ** attempt,
  );
  return Math.floor(Math.random() * ceiling);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

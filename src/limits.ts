/**
 * Every bound of Bourse, in one place (TigerBeetle's constants.zig habit).
 * Each bound names the rejection code a command gets when it would exceed it.
 * Relations between bounds are asserted once, at module load, so a bad edit fails fast.
 */
export const limits = {
  /** Open (resting or untriggered) orders one account may have, all markets together. TOO_MANY_OPEN_ORDERS */
  openOrdersPerAccountMax: 10_000,
  /** Distinct price levels on one side of one book. BOOK_LEVELS_FULL */
  priceLevelsPerSideMax: 100_000,
  /** Resting orders at one price level. PRICE_LEVEL_FULL */
  ordersPerLevelMax: 1_000_000,
  /** Untriggered stop orders in one market. TOO_MANY_STOP_ORDERS */
  stopOrdersPerMarketMax: 100_000,
  /** Remembered clientOrderIds per account (oldest forgotten first). Repeats older than this are new orders. */
  clientOrderIdsPerAccountMax: 100_000,
  /** Accounts the engine holds. TOO_MANY_ACCOUNTS */
  accountsMax: 10_000_000,
  /** Remembered transfer ids (deposits and withdrawals), all accounts. TOO_MANY_TRANSFERS */
  transfersMax: 10_000_000,
  /** Characters of a clientOrderId, and of a transferId. INVALID_CLIENT_ORDER_ID / INVALID_TRANSFER_ID */
  clientOrderIdLengthMax: 36,
  transferIdLengthMax: 64,
  /** Characters of any decimal string the API accepts. INVALID_PRICE / INVALID_QUANTITY / INVALID_AMOUNT */
  decimalLengthMax: 64,
  /** Price in ticks: kept a safe integer so that tick arithmetic never needs bigint. INVALID_PRICE */
  priceTicksMax: Number.MAX_SAFE_INTEGER,
  /** Quantity in lots: likewise. INVALID_QUANTITY */
  quantityLotsMax: Number.MAX_SAFE_INTEGER,
  /** Fee rates: 10,000 bps is 100%; a fee can never exceed the notional it is charged on. */
  feeBpsMax: 10_000,
  /** Decimal places of an asset. Keeps 10^precision exactly representable. */
  assetPrecisionMax: 18,
  /** Markets and assets in one engine. */
  marketsMax: 1_000,
  assetsMax: 1_000,
  /** Fills one incoming order may produce (it stops and expires beyond). Bounds a command's work and event count. */
  fillsPerOrderMax: 100_000,
  /** Stop orders triggered by one command, in cascade (the rest wait for the next trade). */
  stopTriggersPerCommandMax: 10_000,
} as const;

/** The journal (src/journal): command sizes, group commit, segments, snapshots. Relations asserted in journal-limits.ts. */
export const journalLimits = {
  /** Bytes of one encoded command body. A bigger command is refused before it reaches the engine. JOURNAL_COMMAND_TOO_LARGE */
  commandBytesMax: 1_024,
  /** UTF-8 bytes of one string field of a command (symbol, asset, clientOrderId, transferId). JOURNAL_COMMAND_TOO_LARGE */
  commandStringBytesMax: 255,
  /** Records in one group-commit batch (one write + one fdatasync). */
  batchCommandsMax: 8_192,
  /** Bytes of one group-commit batch. */
  batchBytesMax: 1_048_576,
  /** Commands applied but not yet durable (the output gate's backlog). Beyond: JOURNAL_BACKLOG_FULL. */
  pendingCommandsMax: 200_000,
  /** A segment file is closed and the next one started before it would exceed this size. */
  segmentBytesMax: 67_108_864,
  /** Periodic snapshots: after this many commands... */
  snapshotEveryCommands: 1_000_000,
  /** ...or this much time with at least one new command, whichever comes first. */
  snapshotEveryMs: 600_000,
  /** Snapshots kept; segments wholly older than the oldest kept one are removed or archived. */
  snapshotsRetained: 2,
  /** Bytes of one snapshot file (engine state). */
  snapshotBytesMax: 4_294_967_295,
  /** Durable batches queued for the snapshot follower before it is dropped (snapshots pause until restart). */
  followerBacklogBytesMax: 268_435_456,
  /** Bytes of journal to replay above which recovery shows a progress bar (on a terminal). */
  progressBytesMin: 67_108_864,
} as const;

/** Market data (src/marketdata): what is kept per market for REST replies and WebSocket snapshots. */
export const marketDataLimits = {
  /** Recent trades kept per market, newest first: GET /trades?limit returns at most this many. */
  tradesPerMarketMax: 1_000,
  /**
   * Candles kept per market and interval (oldest dropped first): 1,440 is one day of 1m candles,
   * five days of 5m, sixty days of 1h, about four years of 1d.
   */
  candlesPerIntervalMax: 1_440,
  /** Price levels a side that one book query returns at most (deeper requests are clamped). */
  bookDepthMax: 1_000,
} as const;

/** The API gateway (src/api): request sizes, what the API keeps, rate limits, WebSocket back-pressure. Relations asserted in src/api/limits.ts. */
export const apiLimits = {
  /** Bytes of an HTTP request body. PAYLOAD_TOO_LARGE (413) */
  bodyBytesMax: 64 * 1024,
  /** Bytes of one WebSocket message from a client. The connection is closed with 1009. */
  wsMessageBytesMax: 64 * 1024,
  /** Bytes queued for one WebSocket client that is not reading: past it the connection is dropped. */
  wsBufferedBytesMax: 8 * 1024 * 1024,
  /** Open WebSocket connections. Upgrades past it get 503. */
  wsConnectionsMax: 10_000,
  /** Channel subscriptions of one WebSocket connection. VALIDATION_ERROR */
  wsSubscriptionsPerConnectionMax: 64,
  /** Order ops of one WebSocket connection waiting for durability. RATE_LIMITED */
  wsInFlightPerConnectionMax: 20_000,
  /** HTTP headers: bytes of one header section (node's maxHeaderSize). HEADERS_TOO_LARGE (431) */
  headerBytesMax: 16 * 1024,
  /** Signed requests are accepted this far from server time, either way. UNAUTHORIZED */
  authWindowMs: 5_000,
  /** Decrypted API secrets kept in memory (least recently used dropped first). */
  secretCacheMax: 100_000,
  /**
   * Orders the API remembers for GET /v1/orders/{id}, ORDER_CLOSED and their fills: the newest this
   * many by id, open or closed, plus every open order older than that.
   */
  recentOrdersKeptMax: 100_000,
  /** Fills kept per order in the order store (the newest are kept). */
  fillsPerOrderKeptMax: 1_000,
  /** Trades kept (all markets) for GET /v1/fills until the history store serves it: the newest. */
  recentTradesKeptMax: 200_000,
  /** Book depth and trades when the query gives none (maxima: src/marketdata/marketdata-limits.ts). */
  bookDepthDefault: 50,
  tradesLimitDefault: 100,
  /** Orders of one GET /v1/orders reply (newest first): every open order of an account fits. */
  ordersListMax: limits.openOrdersPerAccountMax,
  /** WebSocket heartbeat: a ping this often; a connection that did not answer the previous one is closed. */
  wsHeartbeatMs: 30_000,
  /** Fills of one GET /v1/fills page. VALIDATION_ERROR */
  fillsLimitMax: 1_000,
  fillsLimitDefault: 100,
  /** Distinct keys (IPs, API keys) a rate limiter tracks; idle ones are dropped past it. */
  rateLimitKeysMax: 100_000,
  /** Default rate limits (requests per second; the burst is twice the rate). 0 turns a limit off. */
  ipRequestsPerSecondDefault: 10_000,
  keyRequestsPerSecondDefault: 5_000,
  authFailuresPerIpPerSecondDefault: 20,
  /** Characters of an account name. VALIDATION_ERROR */
  accountNameLengthMax: 64,
  /** Time the server waits for in-flight requests at shutdown before closing connections. */
  drainMsMax: 10_000,
} as const;

/** The history layer (src/history): writer queue and batches, DynamoDB request shapes, pages. Relations asserted in history-limits.ts. */
export const historyLimits = {
  /**
   * Durable commands waiting in the writer's queue. Beyond, the writer stops queueing (it never
   * blocks matching, never grows without bound) and later catches up from the journal.
   */
  queueCommandsMax: 65_536,
  /** Events waiting in the writer's queue, all commands together (one command may carry many trades). */
  queueEventsMax: 1_048_576,
  /** Commands written in one store transaction (SQLite) or one round of BatchWriteItem calls (DynamoDB). */
  batchCommandsMax: 4_096,
  /** Commands read from the journal per catch-up step (their events are held in memory meanwhile). */
  catchUpCommandsMax: 16_384,
  /** Balances (account, asset) the writer remembers to derive ledger movements without a store read. */
  balanceCacheEntriesMax: 1_000_000,
  /** Items of one DynamoDB BatchWriteItem request (the service's own limit). */
  dynamoBatchWriteItemsMax: 25,
  /** Keys of one DynamoDB BatchGetItem request (the service's own limit). */
  dynamoBatchGetKeysMax: 100,
  /** BatchWriteItem requests in flight at once per writer batch. */
  dynamoBatchWritesInFlightMax: 8,
  /** Attempts of one BatchWriteItem (UnprocessedItems and throttling) before the writer reports a failure. */
  dynamoWriteAttemptsMax: 12,
  /** Backoff of those retries: base × 2^attempt with full jitter, capped. */
  dynamoBackoffBaseMs: 25,
  dynamoBackoffCapMs: 2_000,
  /** Records in one page of a history query (fills, trades, ledger). */
  pageSizeMax: 1_000,
  pageSizeDefault: 100,
  /**
   * Rows a filtered query may examine for one page (a symbol filter on an account's fills). When it is
   * reached the page comes back short, with a cursor to go on from: the work of one request stays bounded.
   */
  rowsScannedPerPageMax: 10_000,
  /** Ledger entries summed by one balance rebuild (an account's whole history up to a seq). */
  rebuildEntriesMax: 100_000_000,
  /** Rows held in memory while archiving one period of one symbol (written out in streaming chunks). */
  archiveChunkRowsMax: 10_000,
  /** Delay before a partly filled batch is written, so that a trickle of commands is still batched. */
  flushDelayMs: 2,
} as const;

/**
 * The cache and the market-data bus (src/cache, the ElastiCache role): what each cached kind may hold
 * and for how long, and the bus's bounds. Losing any of it loses nothing: every entry is derived from
 * the journal and rewritten by the engine's publisher.
 */
export const cacheLimits = {
  /** L2 book snapshots (one per market; also the rendered REST answers per market and depth). */
  bookEntriesMax: 4_096,
  bookTtlMs: 60_000,
  /** Recent trades per market (the newest marketDataLimits.tradesPerMarketMax). */
  tradesEntriesMax: 4_096,
  tradesTtlMs: 60_000,
  /** Tickers, one per market. */
  tickerEntriesMax: 4_096,
  tickerTtlMs: 60_000,
  /** Candles per market and interval. */
  candlesEntriesMax: 16_384,
  candlesTtlMs: 300_000,
  /** Order-status lookups (GET /v1/orders/{id}) by order id. */
  orderStatusEntriesMax: 100_000,
  orderStatusTtlMs: 30_000,
  /** One cached value, in bytes (a full-depth book of 1,000 levels a side is ~60 kB). */
  valueBytesMax: 1_048_576,
  /** Cache writes waiting for Redis; beyond, writes are dropped (counted) rather than queued. */
  pendingWritesMax: 10_000,
  /** Bus entries kept in the Redis stream (approximate trim): how far a subscriber may fall behind. */
  busStreamEntriesMax: 100_000,
  /** Bus batches waiting to be published; beyond, they are dropped and subscribers resync. */
  busPendingBatchesMax: 10_000,
  /** Entries one subscriber read returns at most. */
  busReadCountMax: 1_000,
  /** A Redis cache reply not received within this is a failure (a hung server): a miss, a dropped write. */
  redisReplyTimeoutMs: 1_000,
  /** Connecting to the cache's Redis at start gives up after this long. */
  redisConnectTimeoutMs: 5_000,
  /**
   * An engine or API node waits this long for the cache at start, then starts without it (orders
   * never wait for the cache) and connects in the background.
   */
  nodeStartCacheWaitMs: 2_000,
  /** An API node waits this long for its first market-data sync before it listens anyway. */
  replicaStartWaitMs: 5_000,
  /** How often the publisher rewrites the snapshot of a market whose book changed. */
  snapshotEveryMs: 100,
} as const;

/** Signed 64-bit range: balances, notionals and supplies are exact within it, rejected beyond (AMOUNT_OVERFLOW). */
export const int64Max = (1n << 63n) - 1n;

function assertLimits(): void {
  const l = limits;
  if (l.clientOrderIdsPerAccountMax < l.openOrdersPerAccountMax) {
    throw new Error("limits: clientOrderIdsPerAccountMax must cover every open order of an account");
  }
  if (l.feeBpsMax > 10_000) throw new Error("limits: a fee above 100% could exceed its notional");
  if (10 ** l.assetPrecisionMax > Number.MAX_VALUE) throw new Error("limits: assetPrecisionMax too large");
  for (const [name, value] of Object.entries(l)) {
    if (!Number.isSafeInteger(value) || value <= 0)
      throw new Error(`limits: ${name} must be a positive safe integer`);
  }
}
assertLimits();

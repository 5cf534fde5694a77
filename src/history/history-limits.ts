/**
 * Every bound of the history layer, named, with its relations asserted at load (TigerBeetle's habit).
 * To be folded into src/limits.ts by the lead; kept here while both files change concurrently.
 */
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

function assertHistoryLimits(): void {
  const l = historyLimits;
  for (const [name, value] of Object.entries(l)) {
    if (!Number.isSafeInteger(value) || value <= 0)
      throw new Error(`historyLimits: ${name} must be a positive safe integer`);
  }
  if (l.batchCommandsMax > l.queueCommandsMax)
    throw new Error("historyLimits: the queue must hold a full batch");
  if (l.pageSizeDefault > l.pageSizeMax)
    throw new Error("historyLimits: pageSizeDefault exceeds pageSizeMax");
  if (l.rowsScannedPerPageMax < l.pageSizeMax)
    throw new Error("historyLimits: a page must be able to scan at least a full page of rows");
  if (l.dynamoBatchWriteItemsMax > 25)
    throw new Error("historyLimits: DynamoDB takes at most 25 items per batch");
  if (l.dynamoBatchGetKeysMax > 100)
    throw new Error("historyLimits: DynamoDB takes at most 100 keys per get");
  if (l.dynamoBackoffBaseMs > l.dynamoBackoffCapMs)
    throw new Error("historyLimits: backoff base above its cap");
}
assertHistoryLimits();

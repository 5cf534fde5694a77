/**
 * The history layer's bounds are defined in src/limits.ts with every other bound; this module
 * re-exports them and asserts their relations at load (TigerBeetle's habit).
 */
import { historyLimits } from "../limits.js";

export { historyLimits };

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

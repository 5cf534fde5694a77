/**
 * The API layer's bounds (request sizes, memory the API keeps, rate limits, WebSocket back-pressure)
 * are defined in src/limits.ts with every other bound; this module re-exports them and asserts their
 * relations at load.
 */
import { apiLimits, limits as engineLimits } from "../limits.js";

export { apiLimits };

/** Bounds of the API's reads from the history store (src/history/). */
export const historyApiLimits = {
  /**
   * Store pages read by one GET /v1/admin/accounts/{accountId}/ledger when `asset` or `fromSeq`
   * filters rows out: a request costs at most this many store queries, then answers with a cursor.
   */
  ledgerStorePagesPerRequestMax: 8,
} as const;

function assertApiLimits(): void {
  const l = apiLimits;
  for (const [name, value] of Object.entries(l)) {
    if (!Number.isSafeInteger(value) || value < 0)
      throw new Error(`apiLimits: ${name} must be a safe integer`);
  }
  if (l.fillsLimitDefault > l.fillsLimitMax)
    throw new Error("apiLimits: fillsLimitDefault exceeds fillsLimitMax");
  // A place body holds at most a few decimals of decimalLengthMax characters; the body limit must fit them.
  if (l.bodyBytesMax < 16 * engineLimits.decimalLengthMax)
    throw new Error("apiLimits: bodyBytesMax too small");
  if (l.wsMessageBytesMax < l.bodyBytesMax) throw new Error("apiLimits: a WS message must fit an order body");
}
assertApiLimits();

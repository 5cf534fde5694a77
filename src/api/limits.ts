/**
 * Every bound of the API layer, in one place. src/limits.ts holds the engine's bounds; these are the
 * gateway's (request sizes, memory the API keeps, rate limits, WebSocket back-pressure). Each names
 * what happens past it. Relations are asserted at module load.
 */
import { limits as engineLimits } from "../limits.js";

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
  ordersListMax: engineLimits.openOrdersPerAccountMax,
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

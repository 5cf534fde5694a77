/**
 * JSON schemas of every request (validated by fastify's ajv, with type coercion and removal of
 * unknown fields turned off) and of every reply (documentation only: replies are not filtered by
 * them, so that a field added to a view is never silently dropped). The OpenAPI document
 * (src/api/openapi.ts) is built from these same objects.
 *
 * Decimal fields are typed as strings here; their format (digits, tick, lot, precision) is checked
 * by src/api/parse.ts so that a bad price answers INVALID_PRICE rather than a generic error.
 */
import { limits } from "../limits.js";
import { marketDataLimits } from "../marketdata/marketdata-limits.js";
import { apiLimits } from "./limits.js";

type Schema = Record<string, unknown>;

export const decimalSchema = {
  type: "string",
  minLength: 1,
  maxLength: limits.decimalLengthMax,
  description: "plain decimal string: digits, an optional fraction, no sign or exponent",
  examples: ["42000.50"],
} as const;

const integerText = (max: number): Schema => ({ type: "string", pattern: `^[0-9]{1,${max}}$` });
const idParam = { type: "string", minLength: 1, maxLength: 20 } as const;
const symbolParam = { type: "string", minLength: 1, maxLength: 40 } as const;

export const placeOrderBody = {
  type: "object",
  additionalProperties: false,
  required: ["symbol", "side", "type"],
  properties: {
    symbol: { type: "string", maxLength: 40 },
    side: { type: "string", enum: ["buy", "sell"] },
    type: { type: "string", enum: ["limit", "market", "stop_limit", "stop_market"] },
    price: decimalSchema,
    stopPrice: decimalSchema,
    quantity: decimalSchema,
    quoteQuantity: decimalSchema,
    timeInForce: { type: "string", enum: ["GTC", "IOC", "FOK", "GTD"] },
    expireTime: { type: "integer", minimum: 0, description: "ms since the epoch; GTD only" },
    postOnly: { type: "boolean" },
    clientOrderId: {
      type: "string",
      description: "1-36 characters of [A-Za-z0-9_-] (else INVALID_CLIENT_ORDER_ID)",
    },
    selfTradePrevention: { type: "string", enum: ["cancel_taker", "cancel_maker", "cancel_both"] },
  },
} as const;

export const amendOrderBody = {
  type: "object",
  additionalProperties: false,
  properties: { quantity: decimalSchema, price: decimalSchema },
} as const;

export const transferBody = {
  type: "object",
  additionalProperties: false,
  required: ["asset", "amount", "transferId"],
  properties: {
    asset: { type: "string", maxLength: 16 },
    amount: decimalSchema,
    transferId: {
      type: "string",
      description: `1-${limits.transferIdLengthMax} characters of [A-Za-z0-9_.:-] (else INVALID_TRANSFER_ID)`,
    },
  },
} as const;

export const createAccountBody = {
  type: "object",
  additionalProperties: false,
  properties: { name: { type: "string", maxLength: apiLimits.accountNameLengthMax } },
} as const;

/** Page cursors of the history store (src/history/cursor.ts): opaque, at most 256 characters. */
const cursorQuery = {
  type: "string",
  maxLength: 256,
  description: "nextCursor of the previous page (else INVALID_CURSOR)",
} as const;

const noQuery = { type: "object", additionalProperties: false, properties: {} } as const;

export const routeSchemas = {
  none: { querystring: noQuery },
  book: {
    params: { type: "object", properties: { symbol: symbolParam } },
    querystring: {
      type: "object",
      additionalProperties: false,
      properties: { depth: { ...integerText(4), description: `1 to ${marketDataLimits.bookDepthMax}` } },
    },
  },
  trades: {
    params: { type: "object", properties: { symbol: symbolParam } },
    querystring: {
      type: "object",
      additionalProperties: false,
      properties: {
        limit: { ...integerText(4), description: `1 to ${marketDataLimits.tradesPerMarketMax}` },
      },
    },
  },
  ticker: { params: { type: "object", properties: { symbol: symbolParam } }, querystring: noQuery },
  candles: {
    params: { type: "object", properties: { symbol: symbolParam } },
    querystring: {
      type: "object",
      additionalProperties: false,
      required: ["interval"],
      properties: {
        interval: { type: "string", enum: ["1m", "5m", "1h", "1d"] },
        from: integerText(16),
        to: integerText(16),
      },
    },
  },
  /** The body is optional (checked in the handler); createAccountBody documents it. */
  createAccount: { querystring: noQuery },
  transfer: {
    params: { type: "object", properties: { accountId: idParam } },
    body: transferBody,
    querystring: noQuery,
  },
  adminBalances: { params: { type: "object", properties: { accountId: idParam } }, querystring: noQuery },
  placeOrder: { body: placeOrderBody, querystring: noQuery },
  orderById: { params: { type: "object", properties: { orderId: idParam } }, querystring: noQuery },
  amendOrder: {
    params: { type: "object", properties: { orderId: idParam } },
    body: amendOrderBody,
    querystring: noQuery,
  },
  cancelAll: {
    querystring: { type: "object", additionalProperties: false, properties: { symbol: symbolParam } },
  },
  listOrders: {
    querystring: {
      type: "object",
      additionalProperties: false,
      properties: {
        symbol: symbolParam,
        status: {
          type: "string",
          enum: ["open", "untriggered", "partially_filled", "filled", "cancelled", "expired"],
        },
      },
    },
  },
  fills: {
    querystring: {
      type: "object",
      additionalProperties: false,
      properties: {
        symbol: symbolParam,
        from: integerText(16),
        to: integerText(16),
        limit: { ...integerText(5), description: `1 to ${apiLimits.fillsLimitMax}` },
        cursor: cursorQuery,
      },
    },
  },
  adminLedger: {
    params: { type: "object", properties: { accountId: idParam } },
    querystring: {
      type: "object",
      additionalProperties: false,
      properties: {
        asset: { type: "string", maxLength: 16, description: "only this asset's entries" },
        fromSeq: { ...integerText(16), description: "only entries of commands at or after this seq" },
        limit: { ...integerText(5), description: `1 to ${apiLimits.fillsLimitMax}` },
        cursor: cursorQuery,
      },
    },
  },
} as const satisfies Record<string, Schema>;

// ───────────────────────────── replies (documentation) ─────────────────────────────

const decimal = { type: "string", examples: ["42000.50"] } as const;

export const errorSchema = {
  type: "object",
  required: ["error"],
  properties: {
    error: {
      type: "object",
      required: ["code", "message"],
      properties: { code: { type: "string" }, message: { type: "string" } },
    },
  },
} as const;

export const balanceSchema = {
  type: "object",
  required: ["asset", "available", "locked"],
  properties: { asset: { type: "string" }, available: decimal, locked: decimal },
} as const;

export const fillSchema = {
  type: "object",
  required: ["tradeId", "price", "quantity", "fee", "feeAsset", "liquidity", "time"],
  properties: {
    tradeId: { type: "string" },
    price: decimal,
    quantity: decimal,
    fee: decimal,
    feeAsset: { type: "string" },
    liquidity: { type: "string", enum: ["maker", "taker"] },
    time: { type: "integer" },
  },
} as const;

/** One entry of GET /v1/admin/accounts/{accountId}/ledger: one asset's movements in one command. */
export const ledgerEntrySchema = {
  type: "object",
  required: [
    "seq",
    "time",
    "asset",
    "deposit",
    "withdrawal",
    "settlementIn",
    "settlementOut",
    "feeIn",
    "feeOut",
    "hold",
    "release",
    "available",
    "locked",
  ],
  properties: {
    seq: { type: "integer", description: "the journal sequence number of the command" },
    time: { type: "integer" },
    asset: { type: "string" },
    deposit: decimal,
    withdrawal: decimal,
    settlementIn: { ...decimal, description: "what a trade delivered, into available" },
    settlementOut: { ...decimal, description: "what a trade took, out of the order's hold" },
    feeIn: { ...decimal, description: "fees credited (the exchange's fee account)" },
    feeOut: { ...decimal, description: "a trade's fee, out of available" },
    hold: { ...decimal, description: "funds locked by orders (placed, amended)" },
    release: { ...decimal, description: "funds unlocked by orders (ended, amended)" },
    available: { ...decimal, description: "available balance after the command" },
    locked: { ...decimal, description: "locked balance after the command" },
    transferId: { type: "string", description: "deposits and withdrawals only" },
  },
} as const;

export const orderSchema = {
  type: "object",
  required: [
    "orderId",
    "accountId",
    "symbol",
    "side",
    "type",
    "timeInForce",
    "quantity",
    "filledQuantity",
    "remainingQuantity",
    "status",
    "createdAt",
    "updatedAt",
    "fills",
  ],
  properties: {
    orderId: { type: "string" },
    clientOrderId: { type: "string" },
    accountId: { type: "string" },
    symbol: { type: "string" },
    side: { type: "string", enum: ["buy", "sell"] },
    type: { type: "string", enum: ["limit", "market", "stop_limit", "stop_market"] },
    timeInForce: { type: "string", enum: ["GTC", "IOC", "FOK", "GTD"] },
    price: decimal,
    stopPrice: decimal,
    quantity: decimal,
    quoteQuantity: decimal,
    filledQuantity: decimal,
    remainingQuantity: decimal,
    averagePrice: decimal,
    status: {
      type: "string",
      enum: ["untriggered", "open", "partially_filled", "filled", "cancelled", "expired"],
    },
    postOnly: { type: "boolean" },
    selfTradePrevention: { type: "string", enum: ["cancel_taker", "cancel_maker", "cancel_both"] },
    expireTime: { type: "integer" },
    createdAt: { type: "integer" },
    updatedAt: { type: "integer" },
    fills: { type: "array", items: fillSchema },
  },
} as const;

export const marketSchema = {
  type: "object",
  properties: {
    symbol: { type: "string" },
    base: { type: "string" },
    quote: { type: "string" },
    tickSize: decimal,
    lotSize: decimal,
    minQuantity: decimal,
    maxQuantity: decimal,
    minNotional: decimal,
    makerFeeBps: { type: "integer" },
    takerFeeBps: { type: "integer" },
  },
} as const;

const level = { type: "array", items: decimal, minItems: 2, maxItems: 2 } as const;

export const bookSchema = {
  type: "object",
  properties: {
    symbol: { type: "string" },
    sequence: { type: "integer" },
    bids: { type: "array", items: level },
    asks: { type: "array", items: level },
  },
} as const;

export const tradeSchema = {
  type: "object",
  properties: {
    tradeId: { type: "string" },
    price: decimal,
    quantity: decimal,
    takerSide: { type: "string", enum: ["buy", "sell"] },
    time: { type: "integer" },
  },
} as const;

const nullableDecimal = { type: ["string", "null"] } as const;

export const tickerSchema = {
  type: "object",
  properties: {
    symbol: { type: "string" },
    last: nullableDecimal,
    bestBid: nullableDecimal,
    bestAsk: nullableDecimal,
    volume24h: decimal,
    high24h: nullableDecimal,
    low24h: nullableDecimal,
    time: { type: ["integer", "null"] },
  },
} as const;

export const candleSchema = {
  type: "object",
  properties: {
    time: { type: "integer" },
    open: decimal,
    high: decimal,
    low: decimal,
    close: decimal,
    volume: decimal,
  },
} as const;

/**
 * Result codes of the engine, grouped by the stage that produced them (exchange-core's
 * CommandResultCode habit). The API returns exactly these codes; each has an HTTP status and a
 * message, and docs/errors.md lists them all (a test checks that every code is documented).
 */
export type Stage = "validation" | "risk" | "matching";

interface CodeInfo {
  readonly stage: Stage;
  readonly status: number;
  readonly message: string;
}

export const engineCodes = {
  // validation: the command is malformed or names something that does not exist
  UNKNOWN_SYMBOL: { stage: "validation", status: 400, message: "no such market" },
  UNKNOWN_ASSET: { stage: "validation", status: 400, message: "no such asset" },
  UNKNOWN_ACCOUNT: { stage: "validation", status: 404, message: "no such account" },
  ORDER_NOT_FOUND: { stage: "validation", status: 404, message: "no such order" },
  INVALID_PRICE: {
    stage: "validation",
    status: 400,
    message: "price is missing, not positive, off the tick or too large",
  },
  INVALID_STOP_PRICE: {
    stage: "validation",
    status: 400,
    message: "stopPrice is missing, not positive or off the tick",
  },
  INVALID_QUANTITY: {
    stage: "validation",
    status: 400,
    message: "quantity is missing, off the lot, below minQuantity or above maxQuantity",
  },
  INVALID_ORDER_TYPE: {
    stage: "validation",
    status: 400,
    message: "unsupported type or combination of fields",
  },
  INVALID_TIME_IN_FORCE: {
    stage: "validation",
    status: 400,
    message: "timeInForce does not apply to this order",
  },
  INVALID_EXPIRE_TIME: {
    stage: "validation",
    status: 400,
    message: "GTD needs an expireTime in the future; only GTD takes one",
  },
  INVALID_CLIENT_ORDER_ID: {
    stage: "validation",
    status: 400,
    message: "clientOrderId must be 1-36 characters of [A-Za-z0-9_-]",
  },
  INVALID_TRANSFER_ID: {
    stage: "validation",
    status: 400,
    message: "transferId must be 1-64 characters of [A-Za-z0-9_.:-]",
  },
  INVALID_AMOUNT: {
    stage: "validation",
    status: 400,
    message: "amount must be positive and within the asset's precision",
  },
  MIN_NOTIONAL: {
    stage: "validation",
    status: 400,
    message: "price × quantity is below the market's minNotional",
  },
  AMOUNT_OVERFLOW: {
    stage: "validation",
    status: 400,
    message: "amount exceeds the signed 64-bit range of base units",
  },
  TRANSFER_ID_CONFLICT: {
    stage: "validation",
    status: 409,
    message: "transferId was already used for a different transfer",
  },
  // risk: the account cannot afford it or is over a bound
  INSUFFICIENT_FUNDS: { stage: "risk", status: 400, message: "available balance is too low" },
  TOO_MANY_OPEN_ORDERS: { stage: "risk", status: 400, message: "the account has too many open orders" },
  TOO_MANY_ACCOUNTS: {
    stage: "risk",
    status: 503,
    message: "the exchange holds its maximum number of accounts",
  },
  TOO_MANY_TRANSFERS: {
    stage: "risk",
    status: 503,
    message: "the exchange holds its maximum number of transfers",
  },
  // matching: the book refuses it
  POST_ONLY_WOULD_TAKE: { stage: "matching", status: 400, message: "a post-only order would take liquidity" },
  ORDER_CLOSED: {
    stage: "matching",
    status: 409,
    message: "the order is already filled, cancelled or expired",
  },
  BOOK_LEVELS_FULL: {
    stage: "matching",
    status: 400,
    message: "the book holds its maximum number of price levels",
  },
  PRICE_LEVEL_FULL: {
    stage: "matching",
    status: 400,
    message: "the price level holds its maximum number of orders",
  },
  TOO_MANY_STOP_ORDERS: {
    stage: "matching",
    status: 400,
    message: "the market holds its maximum number of stop orders",
  },
} as const satisfies Record<string, CodeInfo>;

export type EngineCode = keyof typeof engineCodes;

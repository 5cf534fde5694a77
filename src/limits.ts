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

/**
 * Every bound of the market data module, in one place (to be folded into src/limits.ts). Memory of
 * the module is: the L2 books (bounded by the engine's own book bounds), plus per market at most
 * `tradesPerMarketMax` trades, 4 × `candlesPerIntervalMax` candles and one 24-hour window of
 * `tickerWindowMinutes` minute buckets, each allocated on the market's first trade.
 */
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

export type MarketDataLimits = { readonly [K in keyof typeof marketDataLimits]: number };

/** The ticker's rolling window: 24 hours of one-minute buckets. A definition, not a tunable bound. */
export const tickerWindowMinutes = 1_440;

export function checkMarketDataLimits(l: MarketDataLimits): void {
  for (const [name, value] of Object.entries(l)) {
    if (!Number.isSafeInteger(value) || value <= 0)
      throw new Error(`marketdata limits: ${name} must be a positive safe integer`);
  }
}
checkMarketDataLimits(marketDataLimits);

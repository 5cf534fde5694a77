/**
 * The market data module's bounds (defined in src/limits.ts with every other bound). Memory of
 * the module is: the L2 books (bounded by the engine's own book bounds), plus per market at most
 * `tradesPerMarketMax` trades, 4 × `candlesPerIntervalMax` candles and one 24-hour window of
 * `tickerWindowMinutes` minute buckets, each allocated on the market's first trade.
 */
import { marketDataLimits } from "../limits.js";

export { marketDataLimits };

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

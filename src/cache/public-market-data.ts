/**
 * What the REST routes and the WebSocket read to answer public market data. Two implementations:
 *
 *   - `MarketData` (src/marketdata/marketdata.ts) in the process that matches (all-in-one, or the
 *     engine), fed by the output gate;
 *   - `MarketDataReplica` (src/cache/md-replica.ts) in an API node: book replicas and recent trades
 *     kept from the bus, joined to snapshots from the cache, candles read through the cache.
 *
 * `undefined` for an unknown symbol (the routes check the symbol first, so that is a 404 earlier).
 */
import type { BookView, CandleInterval, CandleView, TickerView } from "../marketdata/marketdata.js";
import type { TradeView } from "../marketdata/views.js";

export interface PublicMarketData {
  book(symbol: string, depth?: number): BookView | undefined;
  trades(symbol: string, limit?: number): TradeView[] | undefined;
  ticker(symbol: string): TickerView | undefined;
  candles(
    symbol: string,
    interval: CandleInterval,
    from?: number,
    to?: number,
  ): CandleView[] | undefined | Promise<CandleView[] | undefined>;
}

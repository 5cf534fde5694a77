/** The market data module: derived from the engine's events, queried by the API. */
export * from "./marketdata.js";
export * from "./marketdata-limits.js";
export { type CandleInterval, candleIntervalMs, candleIntervals } from "./stats.js";
export * from "./views.js";

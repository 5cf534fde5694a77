/**
 * Assets and markets, from configuration, settled once into the integers the engine computes with.
 * A configuration that cannot be settled exactly is refused with a message that says why.
 */
import { limits } from "../limits.js";
import { type Decimal, divideExact, formatDecimal, parseDecimal } from "./decimal.js";
import type { Int } from "./int.js";
import { normalize } from "./int.js";

export interface AssetConfig {
  asset: string;
  /** Decimal places of every amount of this asset. */
  precision: number;
}

export interface MarketConfig {
  symbol: string;
  base: string;
  quote: string;
  tickSize: string;
  lotSize: string;
  minQuantity: string;
  maxQuantity: string;
  minNotional: string;
  makerFeeBps: number;
  takerFeeBps: number;
}

export interface EngineConfig {
  assets: AssetConfig[];
  markets: MarketConfig[];
}

export interface Asset {
  readonly index: number;
  readonly asset: string;
  readonly precision: number;
}

/** A market with every decimal turned into exact integers of ticks, lots and asset units. */
export interface Market {
  readonly index: number;
  readonly config: MarketConfig;
  readonly symbol: string;
  readonly base: Asset;
  readonly quote: Asset;
  readonly tickSize: Decimal;
  readonly lotSize: Decimal;
  /** Quote units of one tick × one lot: notional = priceTicks × quantityLots × this. */
  readonly quoteUnitsPerTickLot: number;
  /** Base units of one lot. */
  readonly baseUnitsPerLot: number;
  readonly minQuantityLots: number;
  readonly maxQuantityLots: number;
  readonly minNotional: Int;
  readonly makerFeeBps: number;
  readonly takerFeeBps: number;
  /** A resting buy holds its fee at the higher of the two rates. */
  readonly holdFeeBps: number;
}

export interface SettledConfig {
  readonly assets: readonly Asset[];
  readonly markets: readonly Market[];
  readonly assetByName: ReadonlyMap<string, Asset>;
  readonly marketBySymbol: ReadonlyMap<string, Market>;
  /** The configuration as given, for snapshots (a snapshot is only restored under the same config). */
  readonly source: EngineConfig;
}

export class ConfigError extends Error {
  override name = "ConfigError";
}

const namePattern = /^[A-Z0-9]{1,16}$/;
const symbolPattern = /^[A-Z0-9]{1,16}-[A-Z0-9]{1,16}$/;

function positiveDecimal(where: string, field: string, text: string): Decimal {
  const d = parseDecimal(text);
  if (d === null || d.digits === 0n)
    throw new ConfigError(`${where}: ${field} "${text}" is not a positive decimal`);
  return d;
}

function wholeMultiple(
  where: string,
  field: string,
  value: Decimal,
  unit: Decimal,
  unitName: string,
): bigint {
  const n = divideExact(value, unit);
  if (n === null) {
    throw new ConfigError(
      `${where}: ${field} ${formatDecimal(value)} is not a whole multiple of ${unitName} ${formatDecimal(unit)}`,
    );
  }
  return n;
}

function safe(where: string, field: string, n: bigint): number {
  if (n > BigInt(Number.MAX_SAFE_INTEGER)) throw new ConfigError(`${where}: ${field} is too large`);
  return Number(n);
}

function feeBps(where: string, field: string, bps: number): number {
  if (!Number.isInteger(bps) || bps < 0 || bps > limits.feeBpsMax) {
    throw new ConfigError(`${where}: ${field} must be an integer from 0 to ${limits.feeBpsMax}`);
  }
  return bps;
}

export function settleConfig(source: EngineConfig): SettledConfig {
  if (source.assets.length === 0 || source.assets.length > limits.assetsMax) {
    throw new ConfigError(`config: between 1 and ${limits.assetsMax} assets are needed`);
  }
  if (source.markets.length > limits.marketsMax)
    throw new ConfigError(`config: at most ${limits.marketsMax} markets`);
  const assets: Asset[] = [];
  const assetByName = new Map<string, Asset>();
  for (const a of source.assets) {
    if (!namePattern.test(a.asset))
      throw new ConfigError(`asset "${a.asset}": name must match ${namePattern}`);
    if (assetByName.has(a.asset)) throw new ConfigError(`asset ${a.asset}: listed twice`);
    if (!Number.isInteger(a.precision) || a.precision < 0 || a.precision > limits.assetPrecisionMax) {
      throw new ConfigError(
        `asset ${a.asset}: precision must be an integer from 0 to ${limits.assetPrecisionMax}`,
      );
    }
    const asset: Asset = { index: assets.length, asset: a.asset, precision: a.precision };
    assets.push(asset);
    assetByName.set(a.asset, asset);
  }
  const markets: Market[] = [];
  const marketBySymbol = new Map<string, Market>();
  for (const m of source.markets) {
    const where = `market ${m.symbol}`;
    if (!symbolPattern.test(m.symbol)) throw new ConfigError(`${where}: symbol must look like BASE-QUOTE`);
    if (marketBySymbol.has(m.symbol)) throw new ConfigError(`${where}: listed twice`);
    const base = assetByName.get(m.base);
    const quote = assetByName.get(m.quote);
    if (!base) throw new ConfigError(`${where}: base asset ${m.base} is not configured`);
    if (!quote) throw new ConfigError(`${where}: quote asset ${m.quote} is not configured`);
    if (base === quote) throw new ConfigError(`${where}: base and quote must differ`);
    const tickSize = positiveDecimal(where, "tickSize", m.tickSize);
    const lotSize = positiveDecimal(where, "lotSize", m.lotSize);
    const baseUnit: Decimal = { digits: 1n, scale: base.precision };
    const quoteUnit: Decimal = { digits: 1n, scale: quote.precision };
    const baseUnitsPerLot = wholeMultiple(where, "lotSize", lotSize, baseUnit, `the ${base.asset} precision`);
    // tick × lot must be a whole number of quote units, or a trade's notional could not be settled exactly.
    const tickLot: Decimal = {
      digits: tickSize.digits * lotSize.digits,
      scale: tickSize.scale + lotSize.scale,
    };
    const perTickLot = divideExact(tickLot, quoteUnit);
    if (perTickLot === null) {
      throw new ConfigError(
        `${where}: tickSize × lotSize = ${formatDecimal(tickLot)} is finer than the ${quote.asset} precision ` +
          `(${quote.precision} decimals), so notionals could not be settled exactly`,
      );
    }
    const minQuantityLots = wholeMultiple(
      where,
      "minQuantity",
      positiveDecimal(where, "minQuantity", m.minQuantity),
      lotSize,
      "lotSize",
    );
    const maxQuantityLots = wholeMultiple(
      where,
      "maxQuantity",
      positiveDecimal(where, "maxQuantity", m.maxQuantity),
      lotSize,
      "lotSize",
    );
    if (maxQuantityLots < minQuantityLots)
      throw new ConfigError(`${where}: maxQuantity is below minQuantity`);
    if (maxQuantityLots > BigInt(limits.quantityLotsMax))
      throw new ConfigError(`${where}: maxQuantity is too large`);
    const minNotionalDecimal = parseDecimal(m.minNotional);
    if (minNotionalDecimal === null)
      throw new ConfigError(`${where}: minNotional "${m.minNotional}" is not a decimal`);
    const minNotional = wholeMultiple(
      where,
      "minNotional",
      minNotionalDecimal,
      quoteUnit,
      `the ${quote.asset} precision`,
    );
    const makerFeeBps = feeBps(where, "makerFeeBps", m.makerFeeBps);
    const takerFeeBps = feeBps(where, "takerFeeBps", m.takerFeeBps);
    const market: Market = {
      index: markets.length,
      config: m,
      symbol: m.symbol,
      base,
      quote,
      tickSize,
      lotSize,
      quoteUnitsPerTickLot: safe(where, "tickSize × lotSize", perTickLot),
      baseUnitsPerLot: safe(where, "lotSize", baseUnitsPerLot),
      minQuantityLots: safe(where, "minQuantity", minQuantityLots),
      maxQuantityLots: safe(where, "maxQuantity", maxQuantityLots),
      minNotional: normalize(minNotional),
      makerFeeBps,
      takerFeeBps,
      holdFeeBps: Math.max(makerFeeBps, takerFeeBps),
    };
    markets.push(market);
    marketBySymbol.set(m.symbol, market);
  }
  return { assets, markets, assetByName, marketBySymbol, source };
}

/** Markets of `npm start` and of the tests: BTC-USD, ETH-USD, ETH-BTC. */
export const defaultConfig: EngineConfig = {
  assets: [
    { asset: "USD", precision: 6 },
    { asset: "BTC", precision: 8 },
    { asset: "ETH", precision: 8 },
  ],
  markets: [
    {
      symbol: "BTC-USD",
      base: "BTC",
      quote: "USD",
      tickSize: "0.01",
      lotSize: "0.0001",
      minQuantity: "0.0001",
      maxQuantity: "1000",
      minNotional: "1.00",
      makerFeeBps: 10,
      takerFeeBps: 20,
    },
    {
      symbol: "ETH-USD",
      base: "ETH",
      quote: "USD",
      tickSize: "0.01",
      lotSize: "0.001",
      minQuantity: "0.001",
      maxQuantity: "10000",
      minNotional: "1.00",
      makerFeeBps: 10,
      takerFeeBps: 20,
    },
    {
      symbol: "ETH-BTC",
      base: "ETH",
      quote: "BTC",
      tickSize: "0.00001",
      lotSize: "0.001",
      minQuantity: "0.001",
      maxQuantity: "10000",
      minNotional: "0.0001",
      makerFeeBps: 10,
      takerFeeBps: 20,
    },
  ],
};

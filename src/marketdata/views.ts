/**
 * Engine units → the API's shapes and decimal strings, in one place: the market data module, the REST
 * routes and the WebSocket all format through these, so a price or an Order reads the same everywhere.
 *
 * - price: ticks × tickSize, with exactly the tickSize's decimals ("42000.50").
 * - quantity: lots × lotSize, with exactly the lotSize's decimals ("0.0100").
 * - amount (balances, fees, quoteQuantity): smallest units of the asset, with exactly its precision.
 * - averagePrice: see `averagePrice` below (integer math, round half up, documented scale).
 *
 * Integer math only. The common case (a product below 2^53) formats with plain numbers and string
 * slicing; anything larger goes through bigint (src/engine/decimal.ts), so every value of the
 * engine's range formats exactly.
 */
import type { Asset, Market, SettledConfig } from "../engine/config.js";
import { type Decimal, formatUnits, pow10 } from "../engine/decimal.js";
import { big, type Int } from "../engine/int.js";
import type {
  BalanceEvent,
  OrderEvent,
  OrderStatus,
  OrderType,
  SelfTradePrevention,
  Side,
  TimeInForce,
  TradeEvent,
} from "../engine/types.js";

/** An API `Fill`: one side of a trade, seen by the order that took part in it. */
export interface FillView {
  tradeId: string;
  price: string;
  quantity: string;
  fee: string;
  feeAsset: string;
  liquidity: "maker" | "taker";
  time: number;
}

/** A fill as GET /v1/fills lists it: the Fill plus its order, market and side. */
export interface AccountFillView extends FillView {
  orderId: string;
  symbol: string;
  side: Side;
}

/** The API's `Order`. Optional fields are absent (not null) when the order has none. */
export interface OrderView {
  orderId: string;
  clientOrderId?: string;
  accountId: string;
  symbol: string;
  side: Side;
  type: OrderType;
  timeInForce: TimeInForce;
  price?: string;
  stopPrice?: string;
  quantity: string;
  /** Market buy by quoteQuantity only: its notional budget, in the quote asset. */
  quoteQuantity?: string;
  filledQuantity: string;
  remainingQuantity: string;
  averagePrice?: string;
  status: OrderStatus;
  postOnly: boolean;
  selfTradePrevention: SelfTradePrevention;
  /** GTD only. */
  expireTime?: number;
  createdAt: number;
  updatedAt: number;
  fills: FillView[];
}

/** A public trade, as GET /v1/markets/{symbol}/trades lists it. */
export interface TradeView {
  tradeId: string;
  price: string;
  quantity: string;
  takerSide: Side;
  time: number;
}

export interface BalanceView {
  asset: string;
  available: string;
  locked: string;
}

export type UnitFormatter = (units: Int) => string;

/**
 * A formatter of `units × unit` with exactly unit.scale decimals; same result as
 * formatUnits(units, unit) for every Int, without bigint while the product is a safe integer.
 */
export function unitFormatter(unit: Decimal): UnitFormatter {
  const scale = unit.scale;
  const factor = unit.digits <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(unit.digits) : 0;
  return (units: Int): string => {
    if (typeof units === "number" && factor !== 0) {
      const value = units * factor;
      // A rounded product is a safe integer only if the exact one is (rounding is monotonic, 2^53 exact).
      if (Number.isSafeInteger(value)) {
        const negative = value < 0;
        let digits = String(negative ? -value : value);
        if (scale > 0) {
          if (digits.length <= scale) digits = digits.padStart(scale + 1, "0");
          const cut = digits.length - scale;
          digits = `${digits.slice(0, cut)}.${digits.slice(cut)}`;
        }
        return negative ? `-${digits}` : digits;
      }
    }
    return formatUnits(units, unit);
  };
}

/** Formats of one market, precomputed once. */
export class MarketFormat {
  readonly symbol: string;
  /** ticks → price string. */
  readonly price: UnitFormatter;
  /** lots → quantity string. */
  readonly quantity: UnitFormatter;
  /** smallest quote units → amount string. */
  readonly quote: UnitFormatter;
  /** smallest base units → amount string. */
  readonly base: UnitFormatter;
  /** Decimals of averagePrice: max(tickSize decimals, quote precision). */
  readonly averageScale: number;
  // averagePrice × 10^averageScale = filledNotional × avgNumScale / (filledLots × avgDenScale).
  private readonly avgNumScale: bigint;
  private readonly avgDenScale: bigint;
  private readonly average: UnitFormatter;

  constructor(readonly market: Market) {
    this.symbol = market.symbol;
    this.price = unitFormatter(market.tickSize);
    this.quantity = unitFormatter(market.lotSize);
    this.quote = unitFormatter({ digits: 1n, scale: market.quote.precision });
    this.base = unitFormatter({ digits: 1n, scale: market.base.precision });
    const s = Math.max(market.tickSize.scale, market.quote.precision);
    this.averageScale = s;
    // avg = N·10^−qp / (F·lotDigits·10^−lotScale) quote per base; scaled by 10^s it is
    // N·10^(lotScale + s − qp) / (F·lotDigits), and s ≥ qp makes the exponent ≥ 0.
    this.avgNumScale = pow10(market.lotSize.scale + s - market.quote.precision);
    this.avgDenScale = market.lotSize.digits;
    this.average = unitFormatter({ digits: 1n, scale: s });
  }

  /**
   * Average fill price of `filledLots` lots that cost `filledNotional` quote units (fees excluded),
   * as a decimal string with `averageScale` decimals (the finer of the tick and the quote asset's
   * precision), rounded half up at that last decimal. Integer (bigint) math only. undefined when
   * nothing filled.
   */
  averagePrice(filledNotional: Int, filledLots: Int): string | undefined {
    if (filledLots === 0 || filledLots === 0n) return undefined;
    const num = big(filledNotional) * this.avgNumScale;
    const den = big(filledLots) * this.avgDenScale;
    const scaled = (2n * num + den) / (2n * den); // round half up (all values ≥ 0)
    return this.average(scaled);
  }
}

/** Every view of the API, for one settled configuration. */
export class Views {
  private readonly formats = new Map<string, MarketFormat>();
  private readonly assetFormats = new Map<string, UnitFormatter>();

  constructor(readonly config: SettledConfig) {
    for (const m of config.markets) this.formats.set(m.symbol, new MarketFormat(m));
    for (const a of config.assets)
      this.assetFormats.set(a.asset, unitFormatter({ digits: 1n, scale: a.precision }));
  }

  /** The formats of a market; undefined for an unknown symbol. */
  market(symbol: string): MarketFormat | undefined {
    return this.formats.get(symbol);
  }

  private marketOf(symbol: string): MarketFormat {
    const f = this.formats.get(symbol);
    if (f === undefined) throw new Error(`marketdata: unknown symbol ${symbol}`);
    return f;
  }

  /** ticks → price string of the market. */
  price(symbol: string, ticks: Int): string {
    return this.marketOf(symbol).price(ticks);
  }

  /** lots → quantity string of the market. */
  quantity(symbol: string, lots: Int): string {
    return this.marketOf(symbol).quantity(lots);
  }

  /** Smallest units → amount string of the asset (its precision). */
  amount(asset: string | Asset, units: Int): string {
    const name = typeof asset === "string" ? asset : asset.asset;
    const f = this.assetFormats.get(name);
    if (f === undefined) throw new Error(`marketdata: unknown asset ${name}`);
    return f(units);
  }

  /** averagePrice of the market: see MarketFormat.averagePrice. */
  averagePrice(symbol: string, filledNotional: Int, filledLots: Int): string | undefined {
    return this.marketOf(symbol).averagePrice(filledNotional, filledLots);
  }

  /**
   * The API Order for an order event (its state after the change), with the given fills (the array is
   * taken as is, not copied).
   * - orderId, accountId: strings. updatedAt: the event's time.
   * - price, stopPrice: absent when 0 (market, stop_market; non-stop orders). clientOrderId: absent when "".
   * - A market buy by quoteQuantity has no quantity of its own: quantity reads as what it filled,
   *   remainingQuantity "0", and quoteQuantity gives its budget.
   * - remainingQuantity = quantity − filledQuantity, whatever the status (for a cancelled or expired
   *   order: what was left unfilled).
   * - averagePrice: filledNotional / filledQuantity (MarketFormat.averagePrice), absent before a fill.
   */
  orderView(e: OrderEvent, fills: FillView[] = []): OrderView {
    const f = this.marketOf(e.symbol);
    const byQuote = e.quoteQuantity !== 0;
    const quantity = byQuote ? e.filledQuantity : e.quantity;
    const view: OrderView = {
      orderId: String(e.orderId),
      accountId: String(e.accountId),
      symbol: e.symbol,
      side: e.side,
      type: e.orderType,
      timeInForce: e.timeInForce,
      quantity: f.quantity(quantity),
      filledQuantity: f.quantity(e.filledQuantity),
      remainingQuantity: f.quantity(quantity - e.filledQuantity),
      status: e.status,
      postOnly: e.postOnly,
      selfTradePrevention: e.selfTradePrevention,
      createdAt: e.createdAt,
      updatedAt: e.time,
      fills,
    };
    if (e.clientOrderId !== "") view.clientOrderId = e.clientOrderId;
    if (e.price !== 0) view.price = f.price(e.price);
    if (e.stopPrice !== 0) view.stopPrice = f.price(e.stopPrice);
    if (byQuote) view.quoteQuantity = f.quote(e.quoteQuantity);
    const average = f.averagePrice(e.filledNotional, e.filledQuantity);
    if (average !== undefined) view.averagePrice = average;
    if (e.timeInForce === "GTD") view.expireTime = e.expireTime;
    return view;
  }

  /**
   * The Fill of `orderId` in a trade: taker when it is the trade's taker order, else maker. The fee
   * is the one actually charged to that side (the trade event's), in the quote asset.
   */
  fillView(t: TradeEvent, orderId: number): FillView {
    const f = this.marketOf(t.symbol);
    const taker = orderId === t.takerOrderId;
    return {
      tradeId: String(t.tradeId),
      price: f.price(t.price),
      quantity: f.quantity(t.quantity),
      fee: f.quote(taker ? t.takerFee : t.makerFee),
      feeAsset: f.market.quote.asset,
      liquidity: taker ? "taker" : "maker",
      time: t.time,
    };
  }

  /** A fill with its order, market and side (GET /v1/fills). */
  accountFillView(t: TradeEvent, orderId: number): AccountFillView {
    const taker = orderId === t.takerOrderId;
    const side: Side = taker ? t.takerSide : t.takerSide === "buy" ? "sell" : "buy";
    return { ...this.fillView(t, orderId), orderId: String(orderId), symbol: t.symbol, side };
  }

  /** A public trade. */
  tradeView(
    t: Pick<TradeEvent, "tradeId" | "symbol" | "price" | "quantity" | "takerSide" | "time">,
  ): TradeView {
    const f = this.marketOf(t.symbol);
    return {
      tradeId: String(t.tradeId),
      price: f.price(t.price),
      quantity: f.quantity(t.quantity),
      takerSide: t.takerSide,
      time: t.time,
    };
  }

  /** A balance `{ asset, available, locked }`. */
  balanceView(b: Pick<BalanceEvent, "asset" | "available" | "locked">): BalanceView {
    return {
      asset: b.asset,
      available: this.amount(b.asset, b.available),
      locked: this.amount(b.asset, b.locked),
    };
  }
}

/**
 * Request bodies (already JSON) → engine commands. Shared by REST and WebSocket so that both reject
 * the same inputs with the same codes. Decimal strings become ticks, lots or asset units here, with
 * src/engine/decimal.ts; anything that is not a plain decimal string (a JSON number, an exponent, a
 * sign, more decimals than the tick, lot or precision, more than 64 characters) is a 400 with the
 * code of the field (INVALID_PRICE, INVALID_STOP_PRICE, INVALID_QUANTITY, INVALID_AMOUNT).
 */
import type { Market, SettledConfig } from "../engine/config.js";
import { type Decimal, divideExact, parseDecimal } from "../engine/decimal.js";
import type { Int } from "../engine/int.js";
import { normalize } from "../engine/int.js";
import type {
  AmendOrderCommand,
  OrderType,
  PlaceOrderCommand,
  SelfTradePrevention,
  Side,
  TimeInForce,
  TransferCommand,
} from "../engine/types.js";
import { limits } from "../limits.js";
import type { Unstamped } from "../node/pipeline.js";
import { ApiError, type ErrorCode } from "./errors.js";

export type PlaceInput = Unstamped<PlaceOrderCommand>;
export type AmendInput = Unstamped<AmendOrderCommand>;
export type TransferInput = Unstamped<TransferCommand>;

const sides: ReadonlySet<string> = new Set<Side>(["buy", "sell"]);
const orderTypes: ReadonlySet<string> = new Set<OrderType>(["limit", "market", "stop_limit", "stop_market"]);
const timesInForce: ReadonlySet<string> = new Set<TimeInForce>(["GTC", "IOC", "FOK", "GTD"]);
const selfTradeModes: ReadonlySet<string> = new Set<SelfTradePrevention>([
  "cancel_taker",
  "cancel_maker",
  "cancel_both",
]);
const placeFields: ReadonlySet<string> = new Set([
  "symbol",
  "side",
  "type",
  "price",
  "stopPrice",
  "quantity",
  "quoteQuantity",
  "timeInForce",
  "expireTime",
  "postOnly",
  "clientOrderId",
  "selfTradePrevention",
]);
const amendFields: ReadonlySet<string> = new Set(["quantity", "price"]);
const transferFields: ReadonlySet<string> = new Set(["asset", "amount", "transferId"]);
const clientOrderIdPattern = /^[A-Za-z0-9_-]{1,36}$/;
const transferIdPattern = /^[A-Za-z0-9_.:-]{1,64}$/;

function invalid(message: string): ApiError {
  return new ApiError("VALIDATION_ERROR", message);
}

/** A JSON object (not an array, not null) with only the allowed keys. */
function objectBody(body: unknown, allowed: ReadonlySet<string>, what: string): Record<string, unknown> {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw invalid(`${what} must be a JSON object`);
  }
  for (const key of Object.keys(body)) {
    if (!allowed.has(key)) throw invalid(`${what}: unknown field "${key.slice(0, 40)}"`);
  }
  return body as Record<string, unknown>;
}

/** Decimal places of a unit such as a tick size, trailing zeros ignored ("0.010" has 2). */
export function placesOf(unit: Decimal): number {
  let digits = unit.digits;
  let scale = unit.scale;
  while (scale > 0 && digits % 10n === 0n) {
    digits /= 10n;
    scale--;
  }
  return scale;
}

const plainDecimal = /^[0-9]+(\.[0-9]+)?$/;

/**
 * A unit of the API's decimals (a tick, a lot, an asset's smallest unit): text → whole units. The
 * text must be a plain decimal string of at most decimalLengthMax characters with no more decimals
 * than the unit has, and a whole multiple of it. Short inputs (every real price and quantity) are
 * computed with exact double arithmetic below 2^53; anything longer goes through bigint
 * (src/engine/decimal.ts). Both give the same answer: the test suite checks them against each other.
 */
export class DecimalUnit {
  readonly places: number;
  /** The unit in steps of 10^-places (an integer, since places keeps every significant digit). */
  private readonly step: number;

  constructor(readonly unit: Decimal) {
    this.places = placesOf(unit);
    const step = unit.digits / 10n ** BigInt(unit.scale - this.places);
    this.step = step <= 1_000_000n ? Number(step) : 0;
  }

  /** Whole units, or null when the text is not a valid amount of this unit. */
  units(text: unknown): bigint | number | null {
    if (typeof text !== "string") return null;
    if (text.length <= 15 && this.places <= 15 && this.step !== 0) {
      const dot = text.indexOf(".");
      const fraction = dot < 0 ? 0 : text.length - dot - 1;
      const integer = dot < 0 ? text.length : dot;
      if (integer + this.places <= 15 && fraction <= this.places && plainDecimal.test(text)) {
        const digits = dot < 0 ? text : text.slice(0, dot) + text.slice(dot + 1);
        const scaled = Number(digits) * 10 ** (this.places - fraction); // exact: below 10^15
        return scaled % this.step === 0 ? scaled / this.step : null;
      }
    }
    return this.slowUnits(text);
  }

  /** The bigint path: any length up to decimalLengthMax. */
  slowUnits(text: string): bigint | null {
    const value = parseDecimal(text);
    if (value === null || value.scale > this.places) return null;
    return divideExact(value, this.unit);
  }
}

function decimalField(
  body: Record<string, unknown>,
  field: string,
  unit: DecimalUnit,
  code: ErrorCode,
  max: number,
): number {
  const text = body[field];
  if (text === undefined) return 0;
  if (typeof text !== "string") throw invalid(`${field} must be a decimal string`);
  const units = unit.units(text);
  if (units === null)
    throw new ApiError(code, `${field} "${text.slice(0, 70)}" is not a valid decimal for this market`);
  if (units > max) throw new ApiError(code, `${field} is too large`);
  return Number(units);
}

/** Per market: its units, settled once. */
interface MarketUnits {
  readonly market: Market;
  readonly tick: DecimalUnit;
  readonly lot: DecimalUnit;
  readonly quote: DecimalUnit;
}

export class RequestParser {
  private readonly markets = new Map<string, MarketUnits>();
  private readonly assets = new Map<string, DecimalUnit>();

  constructor(readonly config: SettledConfig) {
    for (const market of config.markets) {
      this.markets.set(market.symbol, {
        market,
        tick: new DecimalUnit(market.tickSize),
        lot: new DecimalUnit(market.lotSize),
        quote: new DecimalUnit({ digits: 1n, scale: market.quote.precision }),
      });
    }
    for (const asset of config.assets) {
      this.assets.set(asset.asset, new DecimalUnit({ digits: 1n, scale: asset.precision }));
    }
  }

  market(symbol: unknown): Market {
    if (typeof symbol !== "string") throw invalid("symbol must be a string");
    const units = this.markets.get(symbol);
    if (units === undefined) throw new ApiError("UNKNOWN_SYMBOL", `no market "${symbol.slice(0, 40)}"`);
    return units.market;
  }

  /** A POST /v1/orders body (or WS order.place params) → a place command. */
  place(accountId: number, raw: unknown): PlaceInput {
    const body = objectBody(raw, placeFields, "order");
    const symbol = body.symbol;
    if (typeof symbol !== "string") throw invalid("symbol is required and must be a string");
    const side = body.side;
    if (typeof side !== "string" || !sides.has(side)) throw invalid('side must be "buy" or "sell"');
    const type = body.type;
    if (typeof type !== "string" || !orderTypes.has(type)) {
      throw invalid('type must be "limit", "market", "stop_limit" or "stop_market"');
    }
    const timeInForce = body.timeInForce ?? "GTC";
    if (typeof timeInForce !== "string" || !timesInForce.has(timeInForce)) {
      throw invalid('timeInForce must be "GTC", "IOC", "FOK" or "GTD"');
    }
    const selfTradePrevention = body.selfTradePrevention ?? "cancel_taker";
    if (typeof selfTradePrevention !== "string" || !selfTradeModes.has(selfTradePrevention)) {
      throw invalid('selfTradePrevention must be "cancel_taker", "cancel_maker" or "cancel_both"');
    }
    const postOnly = body.postOnly ?? false;
    if (typeof postOnly !== "boolean") throw invalid("postOnly must be a boolean");
    const expireTime = body.expireTime ?? 0;
    if (typeof expireTime !== "number") throw invalid("expireTime must be an integer (ms since the epoch)");
    if (!Number.isSafeInteger(expireTime) || expireTime < 0) {
      throw new ApiError("INVALID_EXPIRE_TIME", "expireTime must be a non-negative integer of ms");
    }
    const clientOrderId = body.clientOrderId ?? "";
    if (typeof clientOrderId !== "string") throw invalid("clientOrderId must be a string");
    if (body.clientOrderId !== undefined && !clientOrderIdPattern.test(clientOrderId)) {
      throw new ApiError("INVALID_CLIENT_ORDER_ID");
    }
    const units = this.markets.get(symbol);
    if (units === undefined) throw new ApiError("UNKNOWN_SYMBOL", `no market "${symbol.slice(0, 40)}"`);
    const price = decimalField(body, "price", units.tick, "INVALID_PRICE", limits.priceTicksMax);
    const stopPrice = decimalField(body, "stopPrice", units.tick, "INVALID_STOP_PRICE", limits.priceTicksMax);
    const quantity = decimalField(body, "quantity", units.lot, "INVALID_QUANTITY", limits.quantityLotsMax);
    let quoteQuantity: Int = 0;
    if (body.quoteQuantity !== undefined) {
      const text = body.quoteQuantity;
      if (typeof text !== "string") throw invalid("quoteQuantity must be a decimal string");
      const q = units.quote.units(text);
      if (q === null)
        throw new ApiError("INVALID_QUANTITY", `quoteQuantity "${text.slice(0, 70)}" is not a valid amount`);
      quoteQuantity = typeof q === "number" ? q : normalize(q);
    }
    return {
      type: "place",
      accountId,
      symbol,
      side: side as Side,
      orderType: type as OrderType,
      price,
      stopPrice,
      quantity,
      quoteQuantity,
      timeInForce: timeInForce as TimeInForce,
      expireTime,
      postOnly,
      clientOrderId,
      selfTradePrevention: selfTradePrevention as SelfTradePrevention,
    };
  }

  /** A PATCH /v1/orders/{id} body → an amend command; the symbol comes from the order. */
  amend(accountId: number, orderId: number, symbol: string, raw: unknown): AmendInput {
    const body = objectBody(raw, amendFields, "amendment");
    const units = this.markets.get(symbol)!;
    return {
      type: "amend",
      accountId,
      orderId,
      quantity: decimalField(body, "quantity", units.lot, "INVALID_QUANTITY", limits.quantityLotsMax),
      price: decimalField(body, "price", units.tick, "INVALID_PRICE", limits.priceTicksMax),
    };
  }

  /** A deposit or withdrawal body → a transfer command. */
  transfer(kind: "deposit" | "withdraw", accountId: number, raw: unknown): TransferInput {
    const body = objectBody(raw, transferFields, kind);
    if (typeof body.asset !== "string") throw invalid("asset must be a string");
    if (typeof body.amount !== "string") throw invalid("amount must be a decimal string");
    if (typeof body.transferId !== "string") throw invalid("transferId must be a string");
    const asset = this.config.assetByName.get(body.asset);
    if (asset === undefined) throw new ApiError("UNKNOWN_ASSET", `no asset "${body.asset.slice(0, 40)}"`);
    if (!transferIdPattern.test(body.transferId)) throw new ApiError("INVALID_TRANSFER_ID");
    const units = this.assets.get(asset.asset)!.units(body.amount);
    if (units === null) {
      throw new ApiError(
        "INVALID_AMOUNT",
        `amount "${body.amount.slice(0, 70)}" is not a valid ${asset.asset} amount`,
      );
    }
    return {
      type: kind,
      accountId,
      asset: asset.asset,
      amount: typeof units === "number" ? units : normalize(units),
      transferId: body.transferId,
    };
  }
}

const accountFields: ReadonlySet<string> = new Set(["name"]);

/** The optional body of POST /v1/admin/accounts (none at all is fine): its name, if any. */
export function accountName(raw: unknown): string | undefined {
  if (raw === undefined) return undefined;
  const body = objectBody(raw, accountFields, "account");
  if (body.name === undefined) return undefined;
  if (typeof body.name !== "string") throw invalid("name must be a string");
  return body.name;
}

/** An id of the API ("42") → the engine's integer, or null (then the thing is "not found"). */
export function parseId(text: unknown): number | null {
  if (typeof text !== "string" || !/^[0-9]{1,16}$/.test(text)) return null;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : null;
}

/** A non-negative integer query parameter within [min, max], or VALIDATION_ERROR. */
export function queryInt(value: unknown, name: string, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "string" || !/^[0-9]{1,16}$/.test(value)) throw invalid(`${name} must be an integer`);
  const n = Number(value);
  if (n < min || n > max) throw invalid(`${name} must be from ${min} to ${max}`);
  return n;
}

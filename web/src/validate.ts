/**
 * Order entry validation: the form's fields → a POST /v1/orders body, or the first problem, checked
 * against GET /v1/markets (tick, lot, min/max quantity, min notional) and GET /v1/assets (quote
 * precision) before anything is sent. The rules follow docs/engine.md ("place"); the server checks
 * everything again (balances, post-only, book limits), this only spares the user a round trip.
 */
import { checkUnits, compareDec, mulDec, parseDec, trim } from "./decimal.js";
import type { Market, OrderType, PlaceOrder, Side, TimeInForce } from "./types.js";

export interface OrderForm {
  side: Side;
  type: OrderType;
  price: string;
  stopPrice: string;
  quantity: string;
  /** Market and stop-market buys: spend an amount of the quote asset instead of a quantity. */
  byQuote: boolean;
  quoteQuantity: string;
  timeInForce: TimeInForce;
  /** GTD: ms since the epoch. */
  expireTime: number | null;
  postOnly: boolean;
}

export type FormField = "price" | "stopPrice" | "quantity" | "quoteQuantity" | "timeInForce" | "postOnly";

export type Validation = { ok: true; order: PlaceOrder } | { ok: false; field: FormField; error: string };

function fail(field: FormField, error: string): Validation {
  return { ok: false, field, error };
}

export function hasLimitPrice(type: OrderType): boolean {
  return type === "limit" || type === "stop_limit";
}

export function hasStopPrice(type: OrderType): boolean {
  return type === "stop_limit" || type === "stop_market";
}

export function isMarketLike(type: OrderType): boolean {
  return type === "market" || type === "stop_market";
}

/** Times in force a type accepts (docs/engine.md, place, rule 6). */
export function timesInForceFor(type: OrderType, byQuote: boolean): TimeInForce[] {
  if (isMarketLike(type)) return byQuote ? ["IOC", "GTC"] : ["IOC", "FOK", "GTC"];
  return ["GTC", "IOC", "FOK", "GTD"];
}

export function validateOrder(
  market: Market,
  quotePrecision: number,
  form: OrderForm,
  nowMs: number,
): Validation {
  const order: PlaceOrder = { symbol: market.symbol, side: form.side, type: form.type };
  const byQuote = form.byQuote && form.side === "buy" && isMarketLike(form.type);

  if (hasStopPrice(form.type)) {
    const stop = checkUnits("Stop price", form.stopPrice, market.tickSize);
    if (stop.text === null) return fail("stopPrice", stop.error!);
    order.stopPrice = stop.text;
  }
  let price: ReturnType<typeof checkUnits> | undefined;
  if (hasLimitPrice(form.type)) {
    price = checkUnits("Price", form.price, market.tickSize);
    if (price.text === null) return fail("price", price.error!);
    order.price = price.text;
  }

  let quantity: ReturnType<typeof checkUnits> | undefined;
  if (byQuote) {
    const unit = quotePrecision === 0 ? "1" : `0.${"0".repeat(quotePrecision - 1)}1`;
    const amount = checkUnits(`Amount (${market.quote})`, form.quoteQuantity, unit);
    if (amount.text === null) return fail("quoteQuantity", amount.error!);
    const minNotional = parseDec(market.minNotional);
    if (minNotional !== null && compareDec(amount.value!, minNotional) < 0) {
      return fail("quoteQuantity", `Amount must be at least ${market.minNotional} ${market.quote}`);
    }
    order.quoteQuantity = amount.text;
  } else {
    quantity = checkUnits("Quantity", form.quantity, market.lotSize);
    if (quantity.text === null) return fail("quantity", quantity.error!);
    const min = parseDec(market.minQuantity);
    const max = parseDec(market.maxQuantity);
    if (min !== null && compareDec(quantity.value!, min) < 0) {
      return fail("quantity", `Quantity must be at least ${market.minQuantity} ${market.base}`);
    }
    if (max !== null && compareDec(quantity.value!, max) > 0) {
      return fail("quantity", `Quantity must be at most ${market.maxQuantity} ${market.base}`);
    }
    order.quantity = quantity.text;
  }

  if (price !== undefined && quantity !== undefined) {
    const minNotional = parseDec(market.minNotional);
    const notional = mulDec(price.value!, quantity.value!);
    if (minNotional !== null && compareDec(trim(notional), minNotional) < 0) {
      return fail(
        "quantity",
        `Order value (price × quantity) must be at least ${market.minNotional} ${market.quote}`,
      );
    }
  }

  const allowed = timesInForceFor(form.type, byQuote);
  if (!allowed.includes(form.timeInForce)) {
    return fail("timeInForce", `${form.timeInForce} is not available for this order type`);
  }
  order.timeInForce = form.timeInForce;
  if (form.timeInForce === "GTD") {
    if (form.expireTime === null || !Number.isSafeInteger(form.expireTime)) {
      return fail("timeInForce", "GTD needs an expiry time");
    }
    if (form.expireTime <= nowMs) return fail("timeInForce", "The expiry time must be in the future");
    order.expireTime = form.expireTime;
  }

  if (form.postOnly) {
    if (form.type !== "limit") return fail("postOnly", "Post-only is for limit orders");
    if (form.timeInForce !== "GTC" && form.timeInForce !== "GTD") {
      return fail("postOnly", "Post-only orders rest: use GTC or GTD");
    }
    order.postOnly = true;
  }
  return { ok: true, order };
}

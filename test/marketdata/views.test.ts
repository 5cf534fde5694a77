/** Formatting of prices, quantities and amounts (bigint values too), averagePrice, and the API views. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { defaultConfig, settleConfig } from "../../src/engine/config.js";
import { type Decimal, formatUnits } from "../../src/engine/decimal.js";
import type { OrderEvent, TradeEvent } from "../../src/engine/types.js";
import { int64Max } from "../../src/limits.js";
import { unitFormatter, Views } from "../../src/marketdata/views.js";
import { Rng } from "../engine/generator.js";

const config = settleConfig(defaultConfig);
const views = new Views(config);

test("prices are ticks × tickSize with the tick's decimals", () => {
  assert.equal(views.price("BTC-USD", 0), "0.00");
  assert.equal(views.price("BTC-USD", 1), "0.01");
  assert.equal(views.price("BTC-USD", 4_200_050), "42000.50");
  assert.equal(views.price("ETH-BTC", 6_000), "0.06000");
  assert.equal(views.price("ETH-BTC", 123_456_789), "1234.56789");
  assert.equal(views.price("BTC-USD", Number.MAX_SAFE_INTEGER), "90071992547409.91");
});

test("quantities are lots × lotSize with the lot's decimals", () => {
  assert.equal(views.quantity("BTC-USD", 0), "0.0000");
  assert.equal(views.quantity("BTC-USD", 1), "0.0001");
  assert.equal(views.quantity("BTC-USD", 10_000), "1.0000");
  assert.equal(views.quantity("ETH-USD", 1_234_567), "1234.567");
  // A volume sum past 2^53 lots is a bigint.
  assert.equal(views.quantity("BTC-USD", 2n ** 60n), "115292150460684.6976");
});

test("amounts use the asset's precision, over the whole signed 64-bit range", () => {
  assert.equal(views.amount("USD", 0), "0.000000");
  assert.equal(views.amount("USD", 1), "0.000001");
  assert.equal(views.amount("USD", 1_500_000), "1.500000");
  assert.equal(views.amount("BTC", 123_456_789), "1.23456789");
  assert.equal(views.amount("USD", int64Max), "9223372036854.775807");
  assert.equal(views.amount("BTC", 2n ** 53n), "90071992.54740992");
  assert.equal(views.amount("USD", -1_500_000), "-1.500000");
  assert.throws(() => views.amount("XYZ", 1), /unknown asset/);
});

test("unitFormatter equals formatUnits for numbers and bigints of every size", () => {
  const rng = new Rng(7);
  const units: Decimal[] = [
    { digits: 1n, scale: 0 },
    { digits: 1n, scale: 2 },
    { digits: 5n, scale: 1 },
    { digits: 25n, scale: 3 },
    { digits: 1n, scale: 18 },
    { digits: 123_456_789n, scale: 4 },
    { digits: 10n ** 20n, scale: 2 }, // a unit whose digits are not a safe integer
    { digits: 7n, scale: 0 },
  ];
  for (const unit of units) {
    const f = unitFormatter(unit);
    const values: (number | bigint)[] = [0, 1, 9, 10, 99, 100, Number.MAX_SAFE_INTEGER, -1, -123_456];
    for (let i = 0; i < 300; i++) {
      const digits = rng.int(1, 16);
      values.push(Math.floor(rng.next() * 10 ** digits));
      values.push(BigInt(Math.floor(rng.next() * 2 ** 53)) * BigInt(rng.int(1, 1 << 20)) + 2n ** 53n);
    }
    for (const v of values) assert.equal(f(v), formatUnits(v, unit), `${v} × ${unit.digits}e-${unit.scale}`);
  }
});

test("averagePrice: filledNotional / filledQuantity at max(tick decimals, quote precision), half up", () => {
  // BTC-USD: tick 0.01, lot 0.0001 BTC, USD 6 decimals: one tick × one lot = 1 USD unit.
  const btc = views.market("BTC-USD")!;
  assert.equal(btc.averageScale, 6);
  assert.equal(btc.averagePrice(0, 0), undefined);
  assert.equal(btc.averagePrice(10_000, 1), "100.000000"); // 1 lot at 100.00
  assert.equal(btc.averagePrice(10_000 + 10_001, 2), "100.005000"); // 100.00 and 100.01
  assert.equal(btc.averagePrice(10_000 * 2 + 10_001, 3), "100.003333"); // 100.0033333…
  assert.equal(btc.averagePrice(10_000 + 10_001 * 2, 3), "100.006667"); // 100.0066666… rounds up
  // ETH-BTC: tick 0.00001 BTC, lot 0.001 ETH, BTC 8 decimals: scale 8; avg = N·10^3 / F.
  const eth = views.market("ETH-BTC")!;
  assert.equal(eth.averageScale, 8);
  assert.equal(eth.averagePrice(1, 2_000), "0.00000001"); // exactly 0.5 of the last unit: half up
  assert.equal(eth.averagePrice(1, 2_001), "0.00000000"); // just below half: down
  assert.equal(eth.averagePrice(6_000 * 7, 7), "0.06000000");
  // bigint notional: 2^62 USD units over 2^40 lots.
  assert.equal(
    btc.averagePrice(2n ** 62n, 2 ** 40),
    formatUnits(2n ** 22n * 10n ** 4n, { digits: 1n, scale: 6 }),
  );
});

test("averagePrice is the nearest value at its scale (ties up), on random fills", () => {
  const rng = new Rng(11);
  for (const symbol of ["BTC-USD", "ETH-USD", "ETH-BTC"]) {
    const f = views.market(symbol)!;
    const m = f.market;
    for (let i = 0; i < 2_000; i++) {
      const lots = BigInt(rng.int(1, 1_000_000)) * (rng.chance(0.1) ? 2n ** 30n : 1n);
      const notional =
        lots * BigInt(rng.int(1, 10_000_000)) * BigInt(m.quoteUnitsPerTickLot) + BigInt(rng.int(0, 999));
      const text = f.averagePrice(notional, lots)!;
      const a = BigInt(text.replace(".", ""));
      // a / 10^s vs the exact notional·10^-qp / (lots·lotSize): compare 2·a·den with 2·num ± den.
      const num = notional * 10n ** BigInt(m.lotSize.scale + f.averageScale - m.quote.precision);
      const den = lots * m.lotSize.digits;
      const diff = 2n * a * den - 2n * num; // 2·(a − exact)·den
      assert.ok(diff <= den && diff > -den, `${symbol} ${notional}/${lots} → ${text}`);
    }
  }
});

function orderEvent(overrides: Partial<OrderEvent>): OrderEvent {
  return {
    type: "order",
    seq: 10,
    time: 1_700_000_000_500,
    reason: "traded",
    orderId: 42,
    accountId: 7,
    symbol: "BTC-USD",
    side: "buy",
    orderType: "limit",
    timeInForce: "GTC",
    price: 5_000_000,
    stopPrice: 0,
    quantity: 30,
    filledQuantity: 10,
    filledNotional: 5_000_000 * 10,
    quoteQuantity: 0,
    status: "partially_filled",
    postOnly: false,
    expireTime: 0,
    clientOrderId: "",
    selfTradePrevention: "cancel_taker",
    createdAt: 1_700_000_000_000,
    ...overrides,
  };
}

const trade: TradeEvent = {
  type: "trade",
  seq: 10,
  time: 1_700_000_000_500,
  tradeId: 9,
  symbol: "BTC-USD",
  price: 5_000_000,
  quantity: 10,
  notional: 50_000_000,
  takerSide: "buy",
  takerOrderId: 42,
  takerAccountId: 7,
  makerOrderId: 40,
  makerAccountId: 3,
  takerFee: 100_000,
  makerFee: 50_000,
};

test("orderView: the API Order of an order event", () => {
  const fill = views.fillView(trade, 42);
  assert.deepEqual(fill, {
    tradeId: "9",
    price: "50000.00",
    quantity: "0.0010",
    fee: "0.100000",
    feeAsset: "USD",
    liquidity: "taker",
    time: 1_700_000_000_500,
  });
  assert.deepEqual(views.orderView(orderEvent({}), [fill]), {
    orderId: "42",
    accountId: "7",
    symbol: "BTC-USD",
    side: "buy",
    type: "limit",
    timeInForce: "GTC",
    price: "50000.00",
    quantity: "0.0030",
    filledQuantity: "0.0010",
    remainingQuantity: "0.0020",
    averagePrice: "50000.000000",
    status: "partially_filled",
    postOnly: false,
    selfTradePrevention: "cancel_taker",
    createdAt: 1_700_000_000_000,
    updatedAt: 1_700_000_000_500,
    fills: [fill],
  });
  // Nothing filled: no averagePrice; clientOrderId and GTD expireTime present when given.
  const open = views.orderView(
    orderEvent({
      reason: "placed",
      filledQuantity: 0,
      filledNotional: 0,
      status: "open",
      clientOrderId: "abc-1",
      timeInForce: "GTD",
      expireTime: 1_700_000_060_000,
    }),
  );
  assert.equal(open.averagePrice, undefined);
  assert.equal("averagePrice" in open, false);
  assert.equal(open.clientOrderId, "abc-1");
  assert.equal(open.expireTime, 1_700_000_060_000);
  assert.deepEqual(open.fills, []);
  // A stop market: no price, a stopPrice.
  const stop = views.orderView(
    orderEvent({
      orderType: "stop_market",
      price: 0,
      stopPrice: 4_900_000,
      status: "untriggered",
      filledQuantity: 0,
      filledNotional: 0,
    }),
  );
  assert.equal("price" in stop, false);
  assert.equal(stop.stopPrice, "49000.00");
  assert.equal("clientOrderId" in stop, false);
  assert.equal("expireTime" in stop, false);
  // A market buy by quoteQuantity: quantity reads as what it filled; the budget is quoteQuantity.
  const byQuote = views.orderView(
    orderEvent({
      orderType: "market",
      timeInForce: "IOC",
      price: 0,
      quantity: 0,
      quoteQuantity: 100_000_000,
      filledQuantity: 19,
      filledNotional: 5_000_000 * 19,
      status: "filled",
    }),
  );
  assert.equal(byQuote.quantity, "0.0019");
  assert.equal(byQuote.filledQuantity, "0.0019");
  assert.equal(byQuote.remainingQuantity, "0.0000");
  assert.equal(byQuote.quoteQuantity, "100.000000");
  assert.equal(byQuote.averagePrice, "50000.000000");
  // A cancelled order keeps what was left unfilled as remainingQuantity.
  assert.equal(
    views.orderView(orderEvent({ status: "cancelled", reason: "cancelled" })).remainingQuantity,
    "0.0020",
  );
});

test("fill, account fill, trade and balance views", () => {
  const maker = views.fillView(trade, 40);
  assert.equal(maker.liquidity, "maker");
  assert.equal(maker.fee, "0.050000");
  assert.deepEqual(views.accountFillView(trade, 40), {
    ...maker,
    orderId: "40",
    symbol: "BTC-USD",
    side: "sell",
  });
  assert.equal(views.accountFillView(trade, 42).side, "buy");
  assert.deepEqual(views.tradeView(trade), {
    tradeId: "9",
    price: "50000.00",
    quantity: "0.0010",
    takerSide: "buy",
    time: 1_700_000_000_500,
  });
  assert.deepEqual(views.balanceView({ asset: "BTC", available: 2n ** 62n, locked: 5 }), {
    asset: "BTC",
    available: "46116860184.27387904",
    locked: "0.00000005",
  });
});

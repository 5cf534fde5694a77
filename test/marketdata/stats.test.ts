/** Candles, ticker, the 24-hour window and the trade ring, on hand-made trades with known numbers. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { defaultConfig, settleConfig } from "../../src/engine/config.js";
import type { Side, TradeEvent } from "../../src/engine/types.js";
import { MarketData } from "../../src/marketdata/index.js";
import { Rolling24h } from "../../src/marketdata/stats.js";
import { Rng } from "../engine/generator.js";

const config = settleConfig(defaultConfig);
const T = Date.UTC(2024, 0, 1); // a day boundary
const minute = 60_000;
const hour = 3_600_000;
const day = 86_400_000;

let seq = 0;
let tradeId = 0;
/** A BTC-USD trade: price in ticks (0.01 USD), quantity in lots (0.0001 BTC). */
function trade(time: number, price: number, quantity: number, takerSide: Side = "buy"): TradeEvent {
  return {
    type: "trade",
    seq: ++seq,
    time,
    tradeId: ++tradeId,
    symbol: "BTC-USD",
    price,
    quantity,
    notional: price * quantity,
    takerSide,
    takerOrderId: 2,
    takerAccountId: 0, // the fee account: no per-account messages, market data only
    makerOrderId: 1,
    makerAccountId: 0,
    takerFee: 0,
    makerFee: 0,
  };
}

function feed(md: MarketData, trades: TradeEvent[]): void {
  for (const t of trades) md.apply([t]);
}

const day1 = [
  trade(T, 10_000, 5), // 100.00 × 0.0005
  trade(T + 30_000, 10_100, 10, "sell"), // 101.00 × 0.0010
  trade(T + 61_000, 9_900, 1), // 99.00 × 0.0001
  trade(T + 5 * minute + 1_000, 10_050, 2), // 100.50 × 0.0002
  trade(T + hour, 10_200, 3), // 102.00 × 0.0003
];

test("candles of every interval from known trades", () => {
  const md = new MarketData(config);
  feed(md, day1);
  assert.deepEqual(md.candles("BTC-USD", "1m"), [
    { time: T, open: "100.00", high: "101.00", low: "100.00", close: "101.00", volume: "0.0015" },
    { time: T + minute, open: "99.00", high: "99.00", low: "99.00", close: "99.00", volume: "0.0001" },
    {
      time: T + 5 * minute,
      open: "100.50",
      high: "100.50",
      low: "100.50",
      close: "100.50",
      volume: "0.0002",
    },
    { time: T + hour, open: "102.00", high: "102.00", low: "102.00", close: "102.00", volume: "0.0003" },
  ]);
  assert.deepEqual(md.candles("BTC-USD", "5m"), [
    { time: T, open: "100.00", high: "101.00", low: "99.00", close: "99.00", volume: "0.0016" },
    {
      time: T + 5 * minute,
      open: "100.50",
      high: "100.50",
      low: "100.50",
      close: "100.50",
      volume: "0.0002",
    },
    { time: T + hour, open: "102.00", high: "102.00", low: "102.00", close: "102.00", volume: "0.0003" },
  ]);
  assert.deepEqual(md.candles("BTC-USD", "1h"), [
    { time: T, open: "100.00", high: "101.00", low: "99.00", close: "100.50", volume: "0.0018" },
    { time: T + hour, open: "102.00", high: "102.00", low: "102.00", close: "102.00", volume: "0.0003" },
  ]);
  assert.deepEqual(md.candles("BTC-USD", "1d"), [
    { time: T, open: "100.00", high: "102.00", low: "99.00", close: "102.00", volume: "0.0021" },
  ]);
  // from / to bound the candles' start times, inclusive; limit keeps the newest.
  assert.deepEqual(
    md.candles("BTC-USD", "1m", T + minute, T + 5 * minute)!.map((c) => c.time),
    [T + minute, T + 5 * minute],
  );
  assert.deepEqual(
    md.candles("BTC-USD", "1m", T + 1)!.map((c) => c.time),
    [T + minute, T + 5 * minute, T + hour],
  );
  assert.deepEqual(
    md.candles("BTC-USD", "1m", undefined, T)!.map((c) => c.time),
    [T],
  );
  assert.deepEqual(
    md.candles("BTC-USD", "1m", undefined, undefined, 2)!.map((c) => c.time),
    [T + 5 * minute, T + hour],
  );
  assert.deepEqual(md.candles("ETH-USD", "1h"), []);
  assert.equal(md.candles("XYZ-USD", "1h"), undefined);
});

test("candles are bounded per interval, oldest dropped first", () => {
  const md = new MarketData(config, { limits: { candlesPerIntervalMax: 3 } });
  for (let i = 0; i < 10; i++) md.apply([trade(T + i * minute, 10_000 + i, 1)]);
  assert.deepEqual(
    md.candles("BTC-USD", "1m")!.map((c) => [c.time, c.close]),
    [
      [T + 7 * minute, "100.07"],
      [T + 8 * minute, "100.08"],
      [T + 9 * minute, "100.09"],
    ],
  );
  assert.equal(md.candles("BTC-USD", "1h")!.length, 1);
});

test("ticker: last, 24h volume, high and low over a rolling window by event time", () => {
  const md = new MarketData(config);
  assert.deepEqual(md.ticker("BTC-USD"), {
    symbol: "BTC-USD",
    last: null,
    bestBid: null,
    bestAsk: null,
    volume24h: "0.0000",
    high24h: null,
    low24h: null,
    time: null,
  });
  const updates = md.apply([day1[0]!]);
  assert.deepEqual(
    updates.map((u) => u.channel),
    ["trades", "ticker"],
  );
  feed(md, day1.slice(1));
  assert.deepEqual(md.ticker("BTC-USD"), {
    symbol: "BTC-USD",
    last: "102.00",
    bestBid: null,
    bestAsk: null,
    volume24h: "0.0021",
    high24h: "102.00",
    low24h: "99.00",
    time: T + hour,
  });
  // 24 hours later, to the minute: minute T leaves the window (0.0015 at 100.00 and 101.00).
  md.advanceTime(T + day + 30_000);
  const t1 = md.ticker("BTC-USD")!;
  assert.deepEqual(
    [t1.volume24h, t1.high24h, t1.low24h, t1.time],
    ["0.0006", "102.00", "99.00", T + day + 30_000],
  );
  md.advanceTime(T + day + minute); // minute T+1 leaves too (99.00)
  const t2 = md.ticker("BTC-USD")!;
  assert.deepEqual([t2.volume24h, t2.high24h, t2.low24h], ["0.0005", "102.00", "100.50"]);
  // A trade a day later: only what is within 24 hours counts.
  md.apply([trade(T + day + hour - 1, 9_000, 4)]);
  const t3 = md.ticker("BTC-USD")!;
  assert.deepEqual([t3.last, t3.volume24h, t3.high24h, t3.low24h], ["90.00", "0.0007", "102.00", "90.00"]);
  md.advanceTime(T + 3 * day);
  const t4 = md.ticker("BTC-USD")!;
  assert.deepEqual([t4.last, t4.volume24h, t4.high24h, t4.low24h], ["90.00", "0.0000", null, null]);
  // Older times are ignored.
  md.advanceTime(T);
  assert.equal(md.ticker("BTC-USD")!.time, T + 3 * day);
});

test("Rolling24h equals a brute-force window on random trades", () => {
  const rng = new Rng(99);
  const r = new Rolling24h();
  const trades: [number, number, number][] = [];
  let time = T;
  for (let i = 0; i < 20_000; i++) {
    time += rng.chance(0.01) ? rng.int(0, 2 * day) : rng.int(0, 20_000);
    const price = rng.int(1, 1_000);
    const quantity = rng.int(1, 100);
    r.add(time, price, quantity);
    trades.push([time, price, quantity]);
    if (i % 97 === 0) {
      const probe = time + (rng.chance(0.5) ? rng.int(0, day) : 0);
      r.advance(probe);
      const m = Math.floor(probe / minute);
      let volume = 0;
      let high = 0;
      let low = 0;
      for (const [t, p, q] of trades) {
        if (Math.floor(t / minute) <= m - 1_440) continue;
        volume += q;
        if (p > high) high = p;
        if (low === 0 || p < low) low = p;
      }
      assert.deepEqual([r.volume, r.high(), r.low()], [volume, high, low], `at trade ${i}`);
      // Keep the brute force small: drop what can never count again.
      while (trades.length > 0 && Math.floor(trades[0]![0] / minute) <= m - 1_440) trades.shift();
      time = probe;
    }
  }
});

test("recent trades: newest first, bounded ring", () => {
  const md = new MarketData(config, { limits: { tradesPerMarketMax: 5 } });
  assert.deepEqual(md.trades("BTC-USD", 10), []);
  const first = tradeId + 1;
  for (let i = 0; i < 12; i++) md.apply([trade(T + i, 10_000 + i, i + 1, i % 2 === 0 ? "buy" : "sell")]);
  const recent = md.trades("BTC-USD", 100)!;
  assert.equal(recent.length, 5);
  assert.deepEqual(recent[0], {
    tradeId: String(first + 11),
    price: "100.11",
    quantity: "0.0012",
    takerSide: "sell",
    time: T + 11,
  });
  assert.deepEqual(
    recent.map((t) => t.tradeId),
    [11, 10, 9, 8, 7].map((k) => String(first + k)),
  );
  assert.deepEqual(
    md.trades("BTC-USD", 2)!.map((t) => t.price),
    ["100.11", "100.10"],
  );
  assert.deepEqual(md.trades("BTC-USD", 0), []);
  assert.equal(md.trades("NOPE-USD", 1), undefined);
});

test("restoreTrades refills trades, candles and the ticker without messages", () => {
  const md = new MarketData(config);
  md.restoreTrades(day1);
  assert.equal(md.trades("BTC-USD", 10)!.length, 5);
  assert.equal(md.candles("BTC-USD", "1d")![0]!.volume, "0.0021");
  const t = md.ticker("BTC-USD")!;
  assert.deepEqual([t.last, t.volume24h, t.time], ["102.00", "0.0021", T + hour]);
});

/** MarketData on small scenarios of the real engine: the exact messages, sequences, init and queries. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { defaultConfig, settleConfig } from "../../src/engine/config.js";
import { Engine } from "../../src/engine/engine.js";
import type { Command, EngineEvent, PlaceOrderCommand } from "../../src/engine/types.js";
import {
  type BookUpdate,
  MarketData,
  type MarketDataUpdate,
  type OrderUpdate,
} from "../../src/marketdata/index.js";

const config = settleConfig(defaultConfig);
const T0 = 1_700_000_000_000;

type Stamp = { seq: number; time: number };
type Cmd = Command extends infer C ? (C extends Command ? Omit<C, "seq" | "time"> : never) : never;

/** The engine plus market data, one command at a time. */
class Harness {
  readonly engine = new Engine(config);
  readonly md: MarketData;
  seq = 0;
  time = T0;
  lastEvents: EngineEvent[] = [];
  constructor(md?: MarketData) {
    this.md = md ?? new MarketData(config);
  }
  stamp(): Stamp {
    return { seq: ++this.seq, time: (this.time += 1_000) };
  }
  run(cmd: Cmd): MarketDataUpdate[] {
    const events: EngineEvent[] = [];
    this.engine.apply({ ...cmd, ...this.stamp() } as Command, events);
    this.lastEvents = events;
    return this.md.apply(events);
  }
  /** Two accounts with 1,000,000 USD and 100 BTC each. */
  setup(): void {
    for (let a = 1; a <= 2; a++) {
      this.run({ type: "create_account" });
      this.run({
        type: "deposit",
        accountId: a,
        asset: "USD",
        amount: 1_000_000_000_000,
        transferId: `usd${a}`,
      });
      this.run({
        type: "deposit",
        accountId: a,
        asset: "BTC",
        amount: 10_000_000_000,
        transferId: `btc${a}`,
      });
    }
  }
}

function limit(
  accountId: number,
  side: "buy" | "sell",
  price: number,
  quantity: number,
  extra: Partial<PlaceOrderCommand> = {},
): Omit<PlaceOrderCommand, "seq" | "time"> {
  return {
    type: "place",
    accountId,
    symbol: "BTC-USD",
    side,
    orderType: "limit",
    price,
    stopPrice: 0,
    quantity,
    quoteQuantity: 0,
    timeInForce: "GTC",
    expireTime: 0,
    postOnly: false,
    clientOrderId: "",
    selfTradePrevention: "cancel_taker",
    ...extra,
  };
}

function books(updates: MarketDataUpdate[]): BookUpdate[] {
  return updates.filter((u): u is BookUpdate => u.channel === "book");
}

test("the messages of a resting order, a trade, and a taker that trades then rests", () => {
  const h = new Harness();
  h.setup();

  // Account 1 offers 0.0050 BTC at 50,000.00.
  const a = h.run(limit(1, "sell", 5_000_000, 50));
  assert.deepEqual(
    a.map((u) => u.channel),
    ["book", "ticker", "orders", "balances"],
  );
  assert.deepEqual(a[0], {
    channel: "book",
    symbol: "BTC-USD",
    sequence: 1,
    bids: [],
    asks: [["50000.00", "0.0050"]],
  });
  assert.deepEqual(a[1], {
    channel: "ticker",
    symbol: "BTC-USD",
    last: null,
    bestBid: null,
    bestAsk: "50000.00",
    volume24h: "0.0000",
    high24h: null,
    low24h: null,
    time: h.time,
  });
  const placed = (a[2] as OrderUpdate).order;
  assert.equal((a[2] as OrderUpdate).accountId, 1);
  assert.deepEqual(
    [placed.orderId, placed.status, placed.price, placed.quantity, placed.remainingQuantity, placed.fills],
    ["1", "open", "50000.00", "0.0050", "0.0050", []],
  );
  assert.deepEqual(a[3], {
    channel: "balances",
    accountId: 1,
    balance: { asset: "BTC", available: "99.99500000", locked: "0.00500000" },
  });

  // Account 2 takes 0.0020 with an IOC at 50,001.00: one trade at the maker's price.
  const b = h.run(limit(2, "buy", 5_000_100, 20, { timeInForce: "IOC" }));
  assert.deepEqual(
    b.map((u) => u.channel),
    ["book", "trades", "ticker", "orders", "orders", "balances", "balances", "balances", "balances"],
  );
  assert.deepEqual(b[0], {
    channel: "book",
    symbol: "BTC-USD",
    sequence: 2,
    bids: [],
    asks: [["50000.00", "0.0030"]],
  });
  assert.deepEqual(b[1], {
    channel: "trades",
    symbol: "BTC-USD",
    trades: [{ tradeId: "1", price: "50000.00", quantity: "0.0020", takerSide: "buy", time: h.time }],
  });
  const tickerB = b[2] as Extract<MarketDataUpdate, { channel: "ticker" }>;
  assert.deepEqual(
    [tickerB.last, tickerB.volume24h, tickerB.high24h, tickerB.low24h],
    ["50000.00", "0.0020", "50000.00", "50000.00"],
  );
  const taker = (b[3] as OrderUpdate).order;
  const maker = (b[4] as OrderUpdate).order;
  assert.deepEqual(
    [taker.orderId, taker.status, taker.filledQuantity, taker.averagePrice, taker.fills.length],
    ["2", "filled", "0.0020", "50000.000000", 1],
  );
  assert.deepEqual(taker.fills[0], {
    tradeId: "1",
    price: "50000.00",
    quantity: "0.0020",
    fee: "0.200000", // 20 bps of 100.00 USD
    feeAsset: "USD",
    liquidity: "taker",
    time: h.time,
  });
  assert.deepEqual(
    [
      maker.orderId,
      maker.status,
      maker.filledQuantity,
      maker.remainingQuantity,
      maker.fills[0]!.liquidity,
      maker.fills[0]!.fee,
    ],
    ["1", "partially_filled", "0.0020", "0.0030", "maker", "0.100000"],
  );
  // Balances of accounts 1 and 2 only (the fee account has no messages), by (account, asset).
  assert.deepEqual(
    b.slice(5).map((u) => (u.channel === "balances" ? [u.accountId, u.balance.asset] : null)),
    [
      [1, "USD"],
      [1, "BTC"],
      [2, "USD"],
      [2, "BTC"],
    ],
  );

  // Account 2 bids 0.0050 at 50,000.00: takes the remaining 0.0030 and rests 0.0020 at the same price.
  const c = h.run(limit(2, "buy", 5_000_000, 50));
  assert.deepEqual(books(c), [
    {
      channel: "book",
      symbol: "BTC-USD",
      sequence: 3,
      bids: [["50000.00", "0.0020"]],
      asks: [["50000.00", "0"]],
    },
  ]);
  const orders = c.filter((u): u is OrderUpdate => u.channel === "orders").map((u) => u.order);
  assert.deepEqual(
    orders.map((o) => [o.orderId, o.status, o.filledQuantity, o.fills.length]),
    [
      ["3", "partially_filled", "0.0030", 1],
      ["1", "filled", "0.0050", 1],
    ],
  );
  assert.deepEqual(h.md.book("BTC-USD", 10), {
    symbol: "BTC-USD",
    sequence: 3,
    bids: [["50000.00", "0.0020"]],
    asks: [],
  });
  const ticker = h.md.ticker("BTC-USD")!;
  assert.deepEqual([ticker.bestBid, ticker.bestAsk, ticker.volume24h], ["50000.00", null, "0.0050"]);
});

test("commands that do not change a book publish no book update and keep its sequence", () => {
  const h = new Harness();
  h.setup();
  h.run(limit(1, "sell", 5_000_000, 50));
  assert.equal(h.md.sequence("BTC-USD"), 1);
  assert.deepEqual(
    books(h.run({ type: "deposit", accountId: 1, asset: "USD", amount: 5, transferId: "x" })),
    [],
  );
  assert.deepEqual(books(h.run({ type: "cancel", accountId: 2, orderId: 1 })), []); // rejected: not its order
  // A stop order waits outside the book.
  const stop = h.run({ ...limit(2, "buy", 5_100_000, 10), orderType: "stop_limit", stopPrice: 5_050_000 });
  assert.deepEqual(books(stop), []);
  assert.deepEqual(
    stop.map((u) => u.channel),
    ["orders", "balances"],
  );
  // A post-only bid that rests on another price: one level, other market untouched.
  const p = h.run(limit(2, "buy", 4_999_000, 10, { postOnly: true }));
  assert.deepEqual(books(p), [
    { channel: "book", symbol: "BTC-USD", sequence: 2, bids: [["49990.00", "0.0010"]], asks: [] },
  ]);
  assert.equal(h.md.sequence("ETH-USD"), 0);
});

test("amend: a smaller quantity changes the level in place, a new price moves it (one update)", () => {
  const h = new Harness();
  h.setup();
  h.run(limit(1, "sell", 5_000_000, 50)); // order 1
  h.run(limit(1, "sell", 5_000_000, 30)); // order 2, same level: 0.0080
  assert.deepEqual(h.md.book("BTC-USD", 5)!.asks, [["50000.00", "0.0080"]]);
  const smaller = books(h.run({ type: "amend", accountId: 1, orderId: 1, quantity: 20, price: 0 }));
  assert.deepEqual(smaller, [
    { channel: "book", symbol: "BTC-USD", sequence: 3, bids: [], asks: [["50000.00", "0.0050"]] },
  ]);
  const moved = books(h.run({ type: "amend", accountId: 1, orderId: 2, quantity: 0, price: 5_000_500 }));
  assert.deepEqual(moved, [
    {
      channel: "book",
      symbol: "BTC-USD",
      sequence: 4,
      bids: [],
      asks: [
        ["50000.00", "0.0020"],
        ["50005.00", "0.0030"],
      ],
    },
  ]);
  // A bid of account 2 amended through the asks: it trades 0.0020 at 50,000.00, then rests the rest.
  h.run(limit(2, "buy", 4_990_000, 40)); // order 3
  const crossed = h.run({ type: "amend", accountId: 2, orderId: 3, quantity: 0, price: 5_000_000 });
  assert.deepEqual(books(crossed), [
    {
      channel: "book",
      symbol: "BTC-USD",
      sequence: 6,
      bids: [
        ["50000.00", "0.0020"],
        ["49900.00", "0"],
      ],
      asks: [["50000.00", "0"]],
    },
  ]);
  const raw = h.md.rawBook("BTC-USD")!;
  assert.deepEqual({ bids: raw.bids, asks: raw.asks }, h.engine.book("BTC-USD", 1_000));
});

test("GTD expiry and cancel_all remove levels; one update per market per command", () => {
  const h = new Harness();
  h.setup();
  h.run(limit(1, "sell", 5_000_000, 10, { timeInForce: "GTD", expireTime: h.time + 60_000 }));
  h.run({ ...limit(1, "sell", 300_000, 10), symbol: "ETH-USD" });
  h.run({ type: "deposit", accountId: 1, asset: "ETH", amount: 100_000_000_000, transferId: "eth1" });
  h.run({ ...limit(1, "sell", 300_000, 10), symbol: "ETH-USD" });
  h.run({ ...limit(1, "sell", 300_100, 10), symbol: "ETH-USD" });
  h.time += 100_000;
  const tick = h.run({ type: "tick" });
  assert.deepEqual(books(tick), [
    { channel: "book", symbol: "BTC-USD", sequence: 2, bids: [], asks: [["50000.00", "0"]] },
  ]);
  assert.equal((tick.find((u) => u.channel === "orders") as OrderUpdate).order.status, "expired");
  const all = books(h.run({ type: "cancel_all", accountId: 1, symbol: "" }));
  assert.deepEqual(all, [
    {
      channel: "book",
      symbol: "ETH-USD",
      sequence: 3,
      bids: [],
      asks: [
        ["3000.00", "0"],
        ["3001.00", "0"],
      ],
    },
  ]);
});

test("init restarts every book sequence at the given value and keeps the resting orders' levels", () => {
  const h = new Harness();
  h.setup();
  h.run(limit(1, "sell", 5_000_000, 50));
  h.run(limit(1, "sell", 5_000_100, 30));
  h.run(limit(2, "buy", 4_999_000, 20));
  h.run({ ...limit(2, "buy", 5_100_000, 10), orderType: "stop_limit", stopPrice: 5_050_000 });
  h.run(limit(2, "buy", 5_000_000, 10)); // a trade: last price 50,000.00
  const dump = h.engine.dump();
  const md = new MarketData(config);
  md.init(h.engine.lastSeq, dump.orders, dump.markets);
  assert.equal(md.sequence("BTC-USD"), h.engine.lastSeq);
  assert.equal(md.sequence("ETH-BTC"), h.engine.lastSeq);
  assert.deepEqual(md.book("BTC-USD"), {
    symbol: "BTC-USD",
    sequence: h.engine.lastSeq,
    bids: [["49990.00", "0.0020"]],
    asks: [
      ["50000.00", "0.0040"],
      ["50001.00", "0.0030"],
    ],
  });
  assert.equal(md.ticker("BTC-USD")!.last, "50000.00");
  // Continuing from the restarted state: an amend of an order placed before the restart (order 1,
  // 0.0040 left of 0.0050 after a fill of 0.0010, amended to a total of 0.0030: 0.0020 left).
  const events: EngineEvent[] = [];
  const stamp = h.stamp();
  h.engine.apply({ type: "amend", accountId: 1, orderId: 1, quantity: 30, price: 0, ...stamp }, events);
  const updates = md.apply(events);
  assert.deepEqual(books(updates), [
    { channel: "book", symbol: "BTC-USD", sequence: stamp.seq, bids: [], asks: [["50000.00", "0.0020"]] },
  ]);
  const raw = md.rawBook("BTC-USD")!;
  assert.deepEqual({ bids: raw.bids, asks: raw.asks }, h.engine.book("BTC-USD", 1_000));
});

test("one call may carry several commands: one update each, contiguous sequences", () => {
  const h = new Harness();
  h.setup();
  const events: EngineEvent[] = [];
  for (const cmd of [
    limit(1, "sell", 5_000_000, 10),
    limit(1, "sell", 5_000_100, 10),
    limit(2, "buy", 5_000_100, 15),
  ]) {
    h.engine.apply({ ...cmd, ...h.stamp() } as Command, events);
  }
  const updates = h.md.apply(events);
  assert.deepEqual(
    books(updates).map((u) => [u.sequence, u.bids, u.asks]),
    [
      [1, [], [["50000.00", "0.0010"]]],
      [2, [], [["50001.00", "0.0010"]]],
      [
        3,
        [],
        [
          ["50000.00", "0"],
          ["50001.00", "0.0005"],
        ],
      ],
    ],
  );
});

test("queries: depth, unknown symbols, account messages off", () => {
  const md = new MarketData(config, { accountMessages: false, limits: { bookDepthMax: 2 } });
  const h = new Harness(md);
  h.setup();
  for (let i = 0; i < 4; i++) {
    const u = h.run(limit(1, "sell", 5_000_000 + i * 100, 10));
    assert.ok(u.every((m) => m.channel !== "orders" && m.channel !== "balances"));
  }
  assert.equal(md.book("BTC-USD", 100)!.asks.length, 2); // clamped to bookDepthMax
  assert.deepEqual(md.book("BTC-USD", 1)!.asks, [["50000.00", "0.0010"]]);
  assert.deepEqual(md.book("BTC-USD", 0)!.asks, []);
  assert.equal(md.book("NOPE-USD", 5), undefined);
  assert.equal(md.ticker("NOPE-USD"), undefined);
  assert.equal(md.sequence("NOPE-USD"), undefined);
  assert.deepEqual(md.symbols(), ["BTC-USD", "ETH-USD", "ETH-BTC"]);
  assert.throws(() => md.candles("BTC-USD", "2m" as "1m"), /interval/);
});

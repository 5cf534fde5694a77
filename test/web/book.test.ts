/**
 * The dashboard's pure parts, in Node: the book replica and its sequence rule (snapshot, stale and
 * next updates, gaps → REST resync with buffering), exact decimals, and order entry validation.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BookSync, OrderBook } from "../../web/src/book.js";
import { addText, checkUnits, formatDec, parseDec, placesOf } from "../../web/src/decimal.js";
import type { BookSnapshot, Market } from "../../web/src/types.js";
import { type OrderForm, validateOrder } from "../../web/src/validate.js";

const snap = (sequence: number, bids: [string, string][], asks: [string, string][] = []): BookSnapshot => ({
  symbol: "BTC-USD",
  sequence,
  bids,
  asks,
});

const levels = (book: OrderBook): { bids: string[]; asks: string[] } => ({
  bids: book.bids.prices.map(
    (p) => `${book.bids.levels.get(p)!.priceText}x${book.bids.levels.get(p)!.quantityText}`,
  ),
  asks: book.asks.prices.map(
    (p) => `${book.asks.levels.get(p)!.priceText}x${book.asks.levels.get(p)!.quantityText}`,
  ),
});

function manual(): { sync: BookSync; served: BookSnapshot[]; requests: string[]; states: string[] } {
  const served: BookSnapshot[] = [];
  const requests: string[] = [];
  const states: string[] = [];
  const sync = new BookSync({
    fetchSnapshot: async (symbol) => {
      requests.push(symbol);
      const s = served.shift();
      if (s === undefined) throw new Error("no snapshot");
      return s;
    },
    onState: (s) => states.push(s),
    retryMinMs: 0,
    retryMaxMs: 0,
  });
  return { sync, served, requests, states };
}

const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 5));

describe("OrderBook", () => {
  it("keeps levels sorted best first and removes zero levels", () => {
    const book = new OrderBook();
    book.load(
      snap(
        1,
        [
          ["100.00", "1"],
          ["101.00", "2"],
          ["99.50", "3"],
        ],
        [
          ["103.00", "1"],
          ["102.00", "4"],
        ],
      ),
    );
    assert.deepEqual(levels(book), {
      bids: ["101.00x2", "100.00x1", "99.50x3"],
      asks: ["102.00x4", "103.00x1"],
    });
    book.apply(
      snap(
        2,
        [
          ["100.00", "0"],
          ["100.50", "5"],
        ],
        [
          ["102.00", "0.0000"],
          ["102.50", "1"],
        ],
      ),
    );
    assert.deepEqual(levels(book), {
      bids: ["101.00x2", "100.50x5", "99.50x3"],
      asks: ["102.50x1", "103.00x1"],
    });
    assert.equal(book.sequence, 2);
    book.apply(snap(3, [["42.00", "0"]]));
    assert.equal(book.bids.size, 3, "removing an absent level is a no-op");
  });
});

describe("BookSync", () => {
  it("buffers until the snapshot, drops stale updates, applies the next ones", () => {
    const { sync } = manual();
    sync.reset("BTC-USD");
    sync.update(snap(5, [["100.00", "1"]]));
    sync.update(snap(6, [["100.00", "2"]]));
    sync.snapshot(
      snap(5, [
        ["100.00", "1"],
        ["99.00", "1"],
      ]),
    );
    assert.equal(sync.state, "live");
    assert.deepEqual(levels(sync.book).bids, ["100.00x2", "99.00x1"]);
    sync.update(snap(6, [["100.00", "9"]]));
    assert.deepEqual(levels(sync.book).bids, ["100.00x2", "99.00x1"], "stale update ignored");
    sync.update(snap(7, [["99.00", "0"]]));
    assert.deepEqual(levels(sync.book).bids, ["100.00x2"]);
    assert.equal(sync.gaps, 0);
  });

  it("ignores other markets' messages", () => {
    const { sync } = manual();
    sync.reset("BTC-USD");
    sync.snapshot({ ...snap(1, [["1.00", "1"]]), symbol: "ETH-USD" });
    assert.equal(sync.state, "waiting");
  });

  it("on a gap resyncs from REST, then applies the buffered updates past the snapshot", async () => {
    const { sync, served, requests, states } = manual();
    sync.reset("BTC-USD");
    sync.snapshot(snap(10, [["100.00", "1"]]));
    served.push(
      snap(12, [
        ["100.00", "3"],
        ["98.00", "1"],
      ]),
    );
    sync.update(snap(12, [["100.00", "3"]])); // 11 is missing
    assert.equal(sync.state, "resyncing");
    sync.update(snap(13, [["97.00", "1"]]));
    await settle();
    assert.deepEqual(requests, ["BTC-USD"]);
    assert.equal(sync.state, "live");
    assert.deepEqual(levels(sync.book).bids, ["100.00x3", "98.00x1", "97.00x1"]);
    assert.equal(sync.book.sequence, 13);
    assert.deepEqual(states, ["live", "resyncing", "live"]);
  });

  it("resyncs again when the buffer still has a hole, and retries a failed request", async () => {
    const { sync, served, requests } = manual();
    sync.reset("BTC-USD");
    sync.snapshot(snap(1, []));
    sync.update(snap(3, [["1.00", "1"]]));
    // First request fails (nothing served); the retry gets a snapshot at 3, but 5 arrived without 4.
    await settle();
    served.push(snap(3, [["1.00", "1"]]));
    sync.update(snap(5, [["2.00", "1"]]));
    await settle();
    await settle();
    assert.equal(sync.state, "resyncing");
    served.push(
      snap(5, [
        ["1.00", "1"],
        ["2.00", "1"],
      ]),
    );
    await settle();
    await settle();
    assert.equal(sync.state, "live");
    assert.equal(sync.book.sequence, 5);
    assert.ok(requests.length >= 3, String(requests.length));
  });

  it("a reset during a resync discards the late snapshot", async () => {
    let resolve: (s: BookSnapshot) => void = () => {};
    const sync = new BookSync({
      fetchSnapshot: () => new Promise((r) => (resolve = r)),
      retryMinMs: 0,
    });
    sync.reset("BTC-USD");
    sync.snapshot(snap(1, []));
    sync.update(snap(3, []));
    await settle();
    sync.reset("BTC-USD");
    resolve(snap(3, [["5.00", "1"]]));
    await settle();
    assert.equal(sync.state, "waiting");
    assert.equal(sync.book.bids.size, 0);
  });
});

describe("decimals", () => {
  it("parses plain decimals only", () => {
    for (const bad of ["", "-1", "+1", "1e3", " 1", "1.", ".5", "0x10", "1,5", "1".repeat(65)]) {
      assert.equal(parseDec(bad), null, bad);
    }
    assert.deepEqual(parseDec("0042.50"), { digits: 4250n, scale: 2 });
    assert.equal(placesOf("0.010"), 2);
    assert.equal(formatDec(parseDec("1.5")!, 3), "1.500");
    assert.equal(formatDec(parseDec("0.000001")!, 6), "0.000001");
    assert.equal(addText("999999.999999", "0.000001"), "1000000.000000");
  });

  it("checks amounts against a unit exactly", () => {
    assert.equal(checkUnits("Price", "100.50", "0.01").text, "100.50", "kept as typed");
    assert.equal(checkUnits("Price", "100.500", "0.01").text, "100.50", "zeros past the tick dropped");
    assert.equal(checkUnits("Price", "0042.5", "0.01").text, "42.5");
    assert.match(checkUnits("Price", "100.505", "0.01").error!, /multiple of 0.01/);
    assert.match(checkUnits("Price", "0", "0.01").error!, /greater than 0/);
    assert.match(checkUnits("Qty", "0.3", "0.25").error!, /multiple of 0.25/);
    assert.equal(checkUnits("Qty", "0.75", "0.25").text, "0.75");
    // Binary floating point would get this wrong: 0.1 + 0.2 style values stay exact.
    assert.equal(checkUnits("Qty", "0.3", "0.1").text, "0.3");
    assert.equal(checkUnits("Price", "123456789012345678.01", "0.01").text, "123456789012345678.01");
  });
});

describe("order validation", () => {
  const market: Market = {
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
  };
  const form = (over: Partial<OrderForm>): OrderForm => ({
    side: "buy",
    type: "limit",
    price: "60000.00",
    stopPrice: "",
    quantity: "0.0100",
    byQuote: false,
    quoteQuantity: "",
    timeInForce: "GTC",
    expireTime: null,
    postOnly: false,
    ...over,
  });
  const now = 1_700_000_000_000;

  it("builds the contract's body", () => {
    assert.deepEqual(validateOrder(market, 6, form({ postOnly: true }), now), {
      ok: true,
      order: {
        symbol: "BTC-USD",
        side: "buy",
        type: "limit",
        price: "60000.00",
        quantity: "0.0100",
        timeInForce: "GTC",
        postOnly: true,
      },
    });
    const stop = validateOrder(
      market,
      6,
      form({ type: "stop_market", side: "sell", stopPrice: "59000.5", timeInForce: "IOC" }),
      now,
    );
    assert.deepEqual(stop, {
      ok: true,
      order: {
        symbol: "BTC-USD",
        side: "sell",
        type: "stop_market",
        stopPrice: "59000.5",
        quantity: "0.0100",
        timeInForce: "IOC",
      },
    });
    const byQuote = validateOrder(
      market,
      6,
      form({ type: "market", byQuote: true, quoteQuantity: "250.5", timeInForce: "IOC" }),
      now,
    );
    assert.deepEqual(byQuote, {
      ok: true,
      order: { symbol: "BTC-USD", side: "buy", type: "market", quoteQuantity: "250.5", timeInForce: "IOC" },
    });
    const gtd = validateOrder(market, 6, form({ timeInForce: "GTD", expireTime: now + 60_000 }), now);
    assert.equal(gtd.ok && gtd.order.expireTime, now + 60_000);
  });

  it("names the first problem and its field", () => {
    const cases: [Partial<OrderForm>, string, RegExp][] = [
      [{ price: "60000.001" }, "price", /multiple of 0.01/],
      [{ price: "" }, "price", /required/],
      [{ quantity: "0.00001" }, "quantity", /multiple of 0.0001/],
      [{ quantity: "1000.0001" }, "quantity", /at most 1000/],
      [{ price: "1.00", quantity: "0.0001" }, "quantity", /at least 1.00/],
      [{ type: "stop_limit", stopPrice: "abc" }, "stopPrice", /plain decimal/],
      [{ type: "market", timeInForce: "GTD" }, "timeInForce", /not available/],
      [
        { type: "market", byQuote: true, quoteQuantity: "0.5", timeInForce: "IOC" },
        "quoteQuantity",
        /at least 1.00/,
      ],
      [
        { type: "market", byQuote: true, quoteQuantity: "10", timeInForce: "FOK" },
        "timeInForce",
        /not available/,
      ],
      [
        { type: "market", byQuote: true, quoteQuantity: "1.0000001", timeInForce: "IOC" },
        "quoteQuantity",
        /multiple/,
      ],
      [{ timeInForce: "GTD", expireTime: now - 1 }, "timeInForce", /future/],
      [{ postOnly: true, timeInForce: "IOC" }, "postOnly", /GTC or GTD/],
      [{ postOnly: true, type: "stop_limit", stopPrice: "1.00" }, "postOnly", /limit orders/],
    ];
    for (const [over, field, message] of cases) {
      const result = validateOrder(market, 6, form(over), now);
      assert.equal(result.ok, false, JSON.stringify(over));
      if (!result.ok) {
        assert.equal(result.field, field, JSON.stringify(over));
        assert.match(result.error, message, JSON.stringify(over));
      }
    }
  });
});

/**
 * End-to-end REST: every endpoint of the contract against the real node over HTTP.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  type Account,
  adminToken,
  fillsWhenAtLeast,
  fundedAccount,
  limit,
  request,
  signed,
  startServer,
  type TestServer,
} from "./helpers.js";

describe("REST API", () => {
  let server: TestServer;
  let alice: Account;
  let bob: Account;

  before(async () => {
    server = await startServer();
    alice = await fundedAccount(server);
    bob = await fundedAccount(server);
  });
  after(async () => server.close());

  it("serves assets and markets from the configuration", async () => {
    const assets = await request(server.url, "GET", "/v1/assets");
    assert.equal(assets.status, 200);
    assert.deepEqual(assets.body, [
      { asset: "USD", precision: 6 },
      { asset: "BTC", precision: 8 },
      { asset: "ETH", precision: 8 },
    ]);
    const markets = await request(server.url, "GET", "/v1/markets");
    assert.equal(markets.status, 200);
    assert.deepEqual(
      markets.body.map((m: { symbol: string }) => m.symbol),
      ["BTC-USD", "ETH-USD", "ETH-BTC"],
    );
    assert.deepEqual(markets.body[0], {
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
    });
  });

  it("admin: creates accounts, deposits idempotently, withdraws, lists balances", async () => {
    const created = await server.admin("POST", "/v1/admin/accounts", {});
    assert.equal(created.status, 201);
    const noBody = await server.admin("POST", "/v1/admin/accounts");
    assert.equal(noBody.status, 201, "the body is optional");
    const badName = await server.admin("POST", "/v1/admin/accounts", { name: 5 });
    assert.equal(badName.body.error.code, "VALIDATION_ERROR");
    const extra = await server.admin("POST", "/v1/admin/accounts", { name: "x", admin: true });
    assert.equal(extra.body.error.code, "VALIDATION_ERROR");
    assert.match(created.body.accountId, /^[0-9]+$/);
    assert.equal(typeof created.body.apiKey, "string");
    assert.match(created.body.apiSecret, /^[0-9a-f]{64}$/);
    const id = created.body.accountId;
    const deposit = { asset: "USD", amount: "150.25", transferId: `dep-${id}` };
    const first = await server.admin("POST", `/v1/admin/accounts/${id}/deposits`, deposit);
    assert.equal(first.status, 200);
    assert.deepEqual(first.body, { asset: "USD", available: "150.250000", locked: "0.000000" });
    const again = await server.admin("POST", `/v1/admin/accounts/${id}/deposits`, deposit);
    assert.equal(again.status, 200);
    assert.deepEqual(again.body, first.body, "a repeated transferId moves nothing");
    const conflict = await server.admin("POST", `/v1/admin/accounts/${id}/deposits`, {
      ...deposit,
      amount: "1",
    });
    assert.equal(conflict.status, 409);
    assert.equal(conflict.body.error.code, "TRANSFER_ID_CONFLICT");
    const withdrawal = await server.admin("POST", `/v1/admin/accounts/${id}/withdrawals`, {
      asset: "USD",
      amount: "50",
      transferId: `wd-${id}`,
    });
    assert.equal(withdrawal.status, 200);
    assert.equal(withdrawal.body.available, "100.250000");
    const tooMuch = await server.admin("POST", `/v1/admin/accounts/${id}/withdrawals`, {
      asset: "USD",
      amount: "1000",
      transferId: `wd2-${id}`,
    });
    assert.equal(tooMuch.status, 400);
    assert.equal(tooMuch.body.error.code, "INSUFFICIENT_FUNDS");
    const balances = await server.admin("GET", `/v1/admin/accounts/${id}/balances`);
    assert.equal(balances.status, 200);
    assert.deepEqual(balances.body, [
      { asset: "USD", available: "100.250000", locked: "0.000000" },
      { asset: "BTC", available: "0.00000000", locked: "0.00000000" },
      { asset: "ETH", available: "0.00000000", locked: "0.00000000" },
    ]);
    const unknown = await server.admin("GET", "/v1/admin/accounts/999999/balances");
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error.code, "UNKNOWN_ACCOUNT");
    const fee = await server.admin("GET", "/v1/admin/accounts/0/balances");
    assert.equal(fee.status, 404, "the fee account is not an account of the API");
  });

  it("admin endpoints need the admin token", async () => {
    const none = await request(server.url, "POST", "/v1/admin/accounts", {});
    assert.equal(none.status, 401);
    assert.equal(none.body.error.code, "UNAUTHORIZED");
    const wrong = await request(server.url, "GET", "/v1/admin/accounts/1/balances", undefined, {
      authorization: `Bearer ${adminToken}x`,
    });
    assert.equal(wrong.status, 401);
  });

  it("places a resting limit order, reads, lists, amends and cancels it", async () => {
    const placed = await signed(
      server,
      alice,
      "POST",
      "/v1/orders",
      limit("BTC-USD", "buy", "30000.00", "0.5000"),
    );
    assert.equal(placed.status, 201, placed.text);
    const order = placed.body;
    assert.equal(order.status, "open");
    assert.equal(order.accountId, alice.accountId);
    assert.equal(order.price, "30000.00");
    assert.equal(order.quantity, "0.5000");
    assert.equal(order.filledQuantity, "0.0000");
    assert.equal(order.remainingQuantity, "0.5000");
    assert.equal(order.timeInForce, "GTC");
    assert.deepEqual(order.fills, []);
    assert.equal(typeof order.createdAt, "number");

    const balances = await signed(server, alice, "GET", "/v1/balances");
    assert.equal(balances.status, 200);
    const usd = balances.body.find((b: { asset: string }) => b.asset === "USD");
    // 30000 × 0.5 = 15000, plus the fee at the higher rate (20 bps) = 30.
    assert.equal(usd.locked, "15030.000000");

    const got = await signed(server, alice, "GET", `/v1/orders/${order.orderId}`);
    assert.equal(got.status, 200);
    assert.equal(got.body.orderId, order.orderId);

    const list = await signed(server, alice, "GET", "/v1/orders?symbol=BTC-USD&status=open");
    assert.equal(list.status, 200);
    assert.ok(list.body.some((o: { orderId: string }) => o.orderId === order.orderId));

    const amended = await signed(server, alice, "PATCH", `/v1/orders/${order.orderId}`, {
      quantity: "0.2500",
    });
    assert.equal(amended.status, 200, amended.text);
    assert.equal(amended.body.quantity, "0.2500");
    const repriced = await signed(server, alice, "PATCH", `/v1/orders/${order.orderId}`, {
      price: "30001.00",
    });
    assert.equal(repriced.status, 200);
    assert.equal(repriced.body.price, "30001.00");

    const cancelled = await signed(server, alice, "DELETE", `/v1/orders/${order.orderId}`);
    assert.equal(cancelled.status, 200);
    assert.equal(cancelled.body.status, "cancelled");
    const again = await signed(server, alice, "DELETE", `/v1/orders/${order.orderId}`);
    assert.equal(again.status, 409);
    assert.equal(again.body.error.code, "ORDER_CLOSED");
    const amendClosed = await signed(server, alice, "PATCH", `/v1/orders/${order.orderId}`, {
      quantity: "0.1000",
    });
    assert.equal(amendClosed.status, 409);
    const closed = await signed(server, alice, "GET", `/v1/orders/${order.orderId}`);
    assert.equal(closed.status, 200);
    assert.equal(closed.body.status, "cancelled");
  });

  it("matches crossing orders: fills with fees, book, trades, ticker, candles, fills", async () => {
    const maker = await signed(
      server,
      bob,
      "POST",
      "/v1/orders",
      limit("ETH-USD", "sell", "2000.00", "1.000"),
    );
    assert.equal(maker.status, 201);
    const book = await request(server.url, "GET", "/v1/markets/ETH-USD/book?depth=5");
    assert.equal(book.status, 200);
    assert.deepEqual(book.body.asks, [["2000.00", "1.000"]]);
    assert.equal(typeof book.body.sequence, "number");

    const taker = await signed(
      server,
      alice,
      "POST",
      "/v1/orders",
      limit("ETH-USD", "buy", "2001.00", "0.400"),
    );
    assert.equal(taker.status, 201);
    assert.equal(taker.body.status, "filled");
    assert.equal(taker.body.averagePrice, "2000.000000");
    assert.equal(taker.body.fills.length, 1);
    const fill = taker.body.fills[0];
    assert.equal(fill.price, "2000.00");
    assert.equal(fill.quantity, "0.400");
    assert.equal(fill.liquidity, "taker");
    assert.equal(fill.feeAsset, "USD");
    assert.equal(fill.fee, "1.600000"); // 800 × 20 bps

    const makerNow = await signed(server, bob, "GET", `/v1/orders/${maker.body.orderId}`);
    assert.equal(makerNow.body.status, "partially_filled");
    assert.equal(makerNow.body.fills[0].liquidity, "maker");
    assert.equal(makerNow.body.fills[0].fee, "0.800000");

    const trades = await request(server.url, "GET", "/v1/markets/ETH-USD/trades?limit=10");
    assert.equal(trades.status, 200);
    assert.equal(trades.body[0].price, "2000.00");
    assert.equal(trades.body[0].takerSide, "buy");
    assert.equal(typeof trades.body[0].tradeId, "string");

    const ticker = await request(server.url, "GET", "/v1/markets/ETH-USD/ticker");
    assert.equal(ticker.status, 200);
    assert.equal(ticker.body.last, "2000.00");
    assert.equal(ticker.body.bestAsk, "2000.00");

    const candles = await request(server.url, "GET", "/v1/markets/ETH-USD/candles?interval=1m");
    assert.equal(candles.status, 200);
    assert.equal(candles.body.length, 1);
    assert.equal(candles.body[0].open, "2000.00");
    const noInterval = await request(server.url, "GET", "/v1/markets/ETH-USD/candles");
    assert.equal(noInterval.status, 400);
    assert.equal(noInterval.body.error.code, "VALIDATION_ERROR");

    // The history store is written just after the ack: wait for it (bounded) rather than sleep.
    const fills = await fillsWhenAtLeast(server, alice, 1, "?symbol=ETH-USD");
    assert.equal(fills.status, 200);
    assert.equal(fills.body.fills[0].orderId, taker.body.orderId);
    assert.equal(fills.body.fills[0].side, "buy");
    assert.equal(fills.body.fills[0].symbol, "ETH-USD");
  });

  it("pages fills newest first with a cursor", async () => {
    const seller = await fundedAccount(server);
    const buyer = await fundedAccount(server);
    for (let i = 0; i < 5; i++) {
      await signed(
        server,
        seller,
        "POST",
        "/v1/orders",
        limit("BTC-USD", "sell", `${50000 + i}.00`, "0.0100"),
      );
    }
    const taker = await signed(
      server,
      buyer,
      "POST",
      "/v1/orders",
      limit("BTC-USD", "buy", "50010.00", "0.0500"),
    );
    assert.equal(taker.body.fills.length, 5);
    const all = await fillsWhenAtLeast(server, buyer, 5);
    assert.equal(all.body.fills.length, 5);
    const page1 = await signed(server, buyer, "GET", "/v1/fills?limit=2");
    assert.equal(page1.body.fills.length, 2);
    assert.ok(page1.body.nextCursor);
    const page2 = await signed(server, buyer, "GET", `/v1/fills?limit=2&cursor=${page1.body.nextCursor}`);
    const page3 = await signed(server, buyer, "GET", `/v1/fills?limit=2&cursor=${page2.body.nextCursor}`);
    assert.equal(page3.body.fills.length, 1);
    assert.equal(page3.body.nextCursor, undefined);
    const ids = [...page1.body.fills, ...page2.body.fills, ...page3.body.fills].map(
      (f: { tradeId: string }) => Number(f.tradeId),
    );
    assert.deepEqual(
      ids,
      [...ids].sort((a, b) => b - a),
      "newest first",
    );
    assert.equal(new Set(ids).size, 5);
  });

  it("market, IOC, FOK, post-only and stop orders", async () => {
    const seller = await fundedAccount(server);
    const buyer = await fundedAccount(server);
    await signed(server, seller, "POST", "/v1/orders", limit("ETH-BTC", "sell", "0.05000", "2.000"));
    const market = await signed(server, buyer, "POST", "/v1/orders", {
      symbol: "ETH-BTC",
      side: "buy",
      type: "market",
      quantity: "0.500",
    });
    assert.equal(market.status, 201);
    assert.equal(market.body.status, "filled");
    assert.equal(market.body.price, undefined);
    const byQuote = await signed(server, buyer, "POST", "/v1/orders", {
      symbol: "ETH-BTC",
      side: "buy",
      type: "market",
      quoteQuantity: "0.01000000",
    });
    assert.equal(byQuote.status, 201, byQuote.text);
    assert.equal(byQuote.body.quoteQuantity, "0.01000000");
    assert.equal(byQuote.body.filledQuantity, "0.200");
    const ioc = await signed(
      server,
      buyer,
      "POST",
      "/v1/orders",
      limit("ETH-BTC", "buy", "0.04000", "1.000", { timeInForce: "IOC" }),
    );
    assert.equal(ioc.status, 201);
    assert.equal(ioc.body.status, "expired", "an IOC remainder is not an error");
    const fok = await signed(
      server,
      buyer,
      "POST",
      "/v1/orders",
      limit("ETH-BTC", "buy", "0.05000", "100.000", { timeInForce: "FOK" }),
    );
    assert.equal(fok.body.status, "expired");
    assert.deepEqual(fok.body.fills, []);
    const postOnly = await signed(
      server,
      buyer,
      "POST",
      "/v1/orders",
      limit("ETH-BTC", "buy", "0.05000", "0.100", { postOnly: true }),
    );
    assert.equal(postOnly.status, 400);
    assert.equal(postOnly.body.error.code, "POST_ONLY_WOULD_TAKE");
    const stop = await signed(server, buyer, "POST", "/v1/orders", {
      symbol: "ETH-BTC",
      side: "buy",
      type: "stop_limit",
      price: "0.06000",
      stopPrice: "0.05500",
      quantity: "0.100",
    });
    assert.equal(stop.status, 201);
    assert.equal(stop.body.status, "untriggered");
    assert.equal(stop.body.stopPrice, "0.05500");
    const untriggered = await signed(server, buyer, "GET", "/v1/orders?status=untriggered");
    assert.ok(untriggered.body.some((o: { orderId: string }) => o.orderId === stop.body.orderId));
    const gtd = await signed(
      server,
      buyer,
      "POST",
      "/v1/orders",
      limit("ETH-BTC", "buy", "0.01000", "0.100", { timeInForce: "GTD", expireTime: Date.now() + 60_000 }),
    );
    assert.equal(gtd.status, 201);
    assert.equal(typeof gtd.body.expireTime, "number");
  });

  it("cancels all open orders of a symbol, then of every symbol", async () => {
    const trader = await fundedAccount(server);
    const a = await signed(
      server,
      trader,
      "POST",
      "/v1/orders",
      limit("BTC-USD", "buy", "1000.00", "0.0100"),
    );
    const b = await signed(server, trader, "POST", "/v1/orders", limit("ETH-USD", "buy", "100.00", "0.100"));
    const bySymbol = await signed(server, trader, "DELETE", "/v1/orders?symbol=BTC-USD");
    assert.equal(bySymbol.status, 200);
    assert.deepEqual(bySymbol.body, { cancelled: [a.body.orderId] });
    const all = await signed(server, trader, "DELETE", "/v1/orders");
    assert.deepEqual(all.body, { cancelled: [b.body.orderId] });
    const none = await signed(server, trader, "GET", "/v1/orders?status=open");
    assert.deepEqual(none.body, []);
  });

  it("answers a repeated clientOrderId with the original order (200) and creates nothing", async () => {
    const trader = await fundedAccount(server);
    const body = limit("BTC-USD", "buy", "1000.00", "0.0100", { clientOrderId: "my-order_1" });
    const first = await signed(server, trader, "POST", "/v1/orders", body);
    assert.equal(first.status, 201);
    assert.equal(first.body.clientOrderId, "my-order_1");
    const repeat = await signed(server, trader, "POST", "/v1/orders", { ...body, quantity: "0.0200" });
    assert.equal(repeat.status, 200);
    assert.equal(repeat.body.orderId, first.body.orderId);
    assert.equal(repeat.body.quantity, "0.0100");
    const open = await signed(server, trader, "GET", "/v1/orders?status=open");
    assert.equal(open.body.length, 1);
    // Another account may use the same clientOrderId.
    const other = await signed(server, alice, "POST", "/v1/orders", body);
    assert.equal(other.status, 201);
    assert.notEqual(other.body.orderId, first.body.orderId);
    await signed(server, alice, "DELETE", `/v1/orders/${other.body.orderId}`);
  });

  it("another account's order is not found (404), for every verb", async () => {
    const placed = await signed(
      server,
      alice,
      "POST",
      "/v1/orders",
      limit("BTC-USD", "buy", "1000.00", "0.0100"),
    );
    const id = placed.body.orderId;
    for (const [method, body] of [
      ["GET", undefined],
      ["DELETE", undefined],
      ["PATCH", { quantity: "0.0200" }],
    ] as const) {
      const r = await signed(server, bob, method, `/v1/orders/${id}`, body);
      assert.equal(r.status, 404, `${method}: ${r.text}`);
      assert.equal(r.body.error.code, "ORDER_NOT_FOUND");
    }
    const unknown = await signed(server, bob, "GET", "/v1/orders/987654321");
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error.code, "ORDER_NOT_FOUND");
    const mine = await signed(server, alice, "DELETE", `/v1/orders/${id}`);
    assert.equal(mine.status, 200);
  });

  it("operations: healthz, readyz, metrics, OpenAPI docs", async () => {
    const health = await request(server.url, "GET", "/healthz");
    assert.equal(health.status, 200);
    const ready = await request(server.url, "GET", "/readyz");
    assert.equal(ready.status, 200);
    const metrics = await request(server.url, "GET", "/metrics");
    assert.equal(metrics.status, 200);
    for (const name of [
      "bourse_http_request_duration_seconds",
      "bourse_order_ack_seconds",
      "bourse_journal_fsync_seconds",
      "bourse_journal_batch_records",
      "bourse_pipeline_queue_depth",
      "bourse_engine_commands_total",
      "bourse_engine_commands_per_second",
    ]) {
      assert.ok(metrics.text.includes(name), `metrics include ${name}`);
    }
    assert.match(metrics.text, /bourse_journal_fsync_seconds_count [1-9]/);
    const docs = await request(server.url, "GET", "/docs");
    assert.equal(docs.status, 200);
    assert.equal(docs.body.openapi, "3.1.0");
    for (const path of [
      "/v1/assets",
      "/v1/markets",
      "/v1/markets/{symbol}/book",
      "/v1/markets/{symbol}/trades",
      "/v1/markets/{symbol}/ticker",
      "/v1/markets/{symbol}/candles",
      "/v1/admin/accounts",
      "/v1/admin/accounts/{accountId}/deposits",
      "/v1/admin/accounts/{accountId}/withdrawals",
      "/v1/admin/accounts/{accountId}/balances",
      "/v1/admin/accounts/{accountId}/ledger",
      "/v1/orders",
      "/v1/orders/{orderId}",
      "/v1/balances",
      "/v1/fills",
      "/v1/ws",
      "/healthz",
      "/readyz",
      "/metrics",
    ]) {
      assert.ok(docs.body.paths[path], `OpenAPI documents ${path}`);
    }
  });
});

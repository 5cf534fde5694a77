/**
 * End-to-end WebSocket: public channels, auth, account channels, order entry, errors, and the book
 * sequence staying gap-free while many clients trade at once.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Prng } from "../../src/platform/prng.js";
import {
  type Account,
  fundedAccount,
  type Json,
  limit,
  request,
  signed,
  startServer,
  type TestServer,
  WsClient,
} from "./helpers.js";

describe("WebSocket API", () => {
  let server: TestServer;
  let alice: Account;
  let bob: Account;

  before(async () => {
    server = await startServer();
    alice = await fundedAccount(server);
    bob = await fundedAccount(server);
  });
  after(async () => server.close());

  it("book, trades and ticker channels: snapshot, then updates with consecutive sequences", async () => {
    const ws = await WsClient.open(server.wsUrl);
    const sub = await ws.send({ op: "subscribe", channel: "book", symbol: "BTC-USD" });
    assert.deepEqual(sub.result, { channel: "book", symbol: "BTC-USD" });
    const snapshot = await ws.next((m) => m.channel === "book" && m.type === "snapshot");
    assert.equal(snapshot.symbol, "BTC-USD");
    assert.equal(typeof snapshot.sequence, "number");
    assert.ok((await ws.send({ op: "subscribe", channel: "trades", symbol: "BTC-USD" })).result);
    assert.ok((await ws.send({ op: "subscribe", channel: "ticker", symbol: "BTC-USD" })).result);
    await ws.next((m) => m.channel === "ticker");

    await signed(server, bob, "POST", "/v1/orders", limit("BTC-USD", "sell", "40000.00", "0.1000"));
    const update1 = await ws.next((m) => m.channel === "book" && m.type === "update");
    assert.equal(update1.sequence, snapshot.sequence + 1);
    assert.deepEqual(update1.asks, [["40000.00", "0.1000"]]);
    await signed(server, alice, "POST", "/v1/orders", limit("BTC-USD", "buy", "40000.00", "0.0400"));
    const update2 = await ws.next((m) => m.channel === "book" && m.type === "update");
    assert.equal(update2.sequence, snapshot.sequence + 2);
    assert.deepEqual(update2.asks, [["40000.00", "0.0600"]]);
    const trades = await ws.next((m) => m.channel === "trades");
    assert.equal(trades.trades[0].price, "40000.00");
    assert.equal(trades.trades[0].quantity, "0.0400");
    assert.equal(trades.trades[0].takerSide, "buy");
    const ticker = await ws.next((m) => m.channel === "ticker" && m.last === "40000.00");
    assert.equal(ticker.bestAsk, "40000.00");

    const unsub = await ws.send({ op: "unsubscribe", channel: "book", symbol: "BTC-USD" });
    assert.equal(unsub.result.unsubscribed, true);
    await signed(server, alice, "DELETE", "/v1/orders");
    await signed(server, bob, "DELETE", "/v1/orders");
    await ws.close();
  });

  it("auth, account channels and order entry", async () => {
    const ws = await WsClient.open(server.wsUrl);
    const early = await ws.send({ op: "order.place", params: limit("ETH-USD", "buy", "100.00", "0.100") });
    assert.equal(early.error.code, "UNAUTHORIZED");
    const earlyChannel = await ws.send({ op: "subscribe", channel: "orders" });
    assert.equal(earlyChannel.error.code, "UNAUTHORIZED");
    const auth = await ws.auth(alice);
    assert.deepEqual(auth.result, { accountId: alice.accountId });
    assert.ok((await ws.send({ op: "subscribe", channel: "orders" })).result);
    assert.ok((await ws.send({ op: "subscribe", channel: "balances" })).result);
    const balanceSnapshot = await ws.next((m) => m.channel === "balances" && m.type === "snapshot");
    assert.equal(balanceSnapshot.balances.length, 3);

    const placed = await ws.send({
      op: "order.place",
      params: limit("ETH-USD", "buy", "100.00", "0.100", { clientOrderId: "ws-1" }),
    });
    assert.equal(placed.result.status, "open");
    assert.equal(placed.result.clientOrderId, "ws-1");
    const pushed = await ws.next((m) => m.channel === "orders" && m.order.orderId === placed.result.orderId);
    assert.equal(pushed.order.status, "open");
    const balance = await ws.next((m) => m.channel === "balances" && m.balance?.asset === "USD");
    assert.equal(balance.balance.locked, "10.020000");

    const repeat = await ws.send({
      op: "order.place",
      params: limit("ETH-USD", "buy", "100.00", "0.100", { clientOrderId: "ws-1" }),
    });
    assert.equal(repeat.result.orderId, placed.result.orderId);
    assert.equal(repeat.result.duplicate, true);

    const amended = await ws.send({
      op: "order.amend",
      params: { orderId: placed.result.orderId, quantity: "0.050" },
    });
    assert.equal(amended.result.quantity, "0.050");
    const cancelled = await ws.send({ op: "order.cancel", params: { orderId: placed.result.orderId } });
    assert.equal(cancelled.result.status, "cancelled");
    const again = await ws.send({ op: "order.cancel", params: { orderId: placed.result.orderId } });
    assert.equal(again.error.code, "ORDER_CLOSED");
    const rejected = await ws.send({
      op: "order.place",
      params: limit("ETH-USD", "buy", "100.001", "0.100"),
    });
    assert.equal(rejected.error.code, "INVALID_PRICE");
    const all = await ws.send({ op: "order.cancel_all", params: {} });
    assert.deepEqual(all.result, { cancelled: [] });

    // Another account's order is not found.
    const bobs = await signed(server, bob, "POST", "/v1/orders", limit("ETH-USD", "buy", "100.00", "0.100"));
    const foreign = await ws.send({ op: "order.cancel", params: { orderId: bobs.body.orderId } });
    assert.equal(foreign.error.code, "ORDER_NOT_FOUND");
    await signed(server, bob, "DELETE", `/v1/orders/${bobs.body.orderId}`);
    await ws.close();
  });

  it("refuses bad auth, stale timestamps, bad messages and unknown ops", async () => {
    const ws = await WsClient.open(server.wsUrl);
    const stale = await ws.auth(alice, String(Date.now() - 10_000));
    assert.equal(stale.error.code, "UNAUTHORIZED");
    const wrong = await ws.send({
      op: "auth",
      key: alice.apiKey,
      timestamp: String(Date.now()),
      signature: "0".repeat(64),
    });
    assert.equal(wrong.error.code, "UNAUTHORIZED");
    assert.equal(stale.error.message, wrong.error.message, "the reply never says which part failed");
    const unknownKey = await ws.auth({ ...alice, apiKey: "bk_nope" });
    assert.equal(unknownKey.error.code, "UNAUTHORIZED");
    const numeric = await ws.auth(alice);
    assert.ok(numeric.result);
    const unknownOp = await ws.send({ op: "dance" });
    assert.equal(unknownOp.error.code, "VALIDATION_ERROR");
    const badChannel = await ws.send({ op: "subscribe", channel: "gossip" });
    assert.equal(badChannel.error.code, "VALIDATION_ERROR");
    const badSymbol = await ws.send({ op: "subscribe", channel: "book", symbol: "NOPE-USD" });
    assert.equal(badSymbol.error.code, "UNKNOWN_SYMBOL");
    const badParams = await ws.send({
      op: "order.place",
      params: { symbol: "BTC-USD", side: "buy", type: "limit", price: 1 },
    });
    assert.equal(badParams.error.code, "VALIDATION_ERROR");
    const noOrderId = await ws.send({ op: "order.cancel", params: {} });
    assert.equal(noOrderId.error.code, "VALIDATION_ERROR");
    ws.sendRaw("{not json");
    ws.sendRaw("[1,2]");
    const pong = await ws.send({ op: "ping" });
    assert.equal(typeof pong.result.pong, "number");
    assert.equal(ws.anonymous.length, 2);
    assert.equal(ws.anonymous[0].error.code, "INVALID_REQUEST");
    assert.equal(ws.anonymous[1].error.code, "VALIDATION_ERROR");
    await ws.close();
  });

  it("keeps the book sequence gap-free while many clients trade at once", async () => {
    const symbol = "ETH-USD";
    const watchers = await Promise.all([WsClient.open(server.wsUrl), WsClient.open(server.wsUrl)]);
    const books: { sequence: number; bids: Map<string, string>; asks: Map<string, string>; gaps: number }[] =
      [];
    for (const watcher of watchers) {
      const state = {
        sequence: -1,
        bids: new Map<string, string>(),
        asks: new Map<string, string>(),
        gaps: 0,
      };
      books.push(state);
      const apply = (side: Map<string, string>, levels: [string, string][]) => {
        for (const [price, quantity] of levels) {
          if (Number(quantity) === 0) side.delete(price);
          else side.set(price, quantity);
        }
      };
      watcher.ws.on("message", (data) => {
        const m = JSON.parse(data.toString());
        if (m.channel !== "book") return;
        if (m.type === "snapshot") {
          state.sequence = m.sequence;
          apply(state.bids, m.bids);
          apply(state.asks, m.asks);
        } else {
          if (m.sequence !== state.sequence + 1) state.gaps++;
          state.sequence = m.sequence;
          apply(state.bids, m.bids);
          apply(state.asks, m.asks);
        }
      });
      await watcher.send({ op: "subscribe", channel: "book", symbol });
    }

    const traders = await Promise.all(Array.from({ length: 6 }, () => fundedAccount(server)));
    const clients = await Promise.all(traders.map(() => WsClient.open(server.wsUrl)));
    await Promise.all(clients.map((c, i) => c.auth(traders[i]!)));
    const prng = new Prng(42);
    const perClient = 300;
    const results = await Promise.all(
      clients.map((client) =>
        Promise.all(
          Array.from({ length: perClient }, () => {
            const side = prng.chance(0.5) ? "buy" : "sell";
            const price = (2990 + prng.int(21)).toFixed(2);
            const quantity = (0.01 * (1 + prng.int(50))).toFixed(3);
            return client.send({ op: "order.place", params: limit(symbol, side, price, quantity) });
          }),
        ),
      ),
    );
    const placed = results.flat();
    assert.equal(placed.filter((r: Json) => r.error !== undefined).length, 0);
    assert.ok(
      placed.some((r: Json) => r.result.fills.length > 0),
      "orders crossed",
    );

    const final = await request(server.url, "GET", `/v1/markets/${symbol}/book?depth=1000`);
    const deadline = Date.now() + 5_000;
    while (books.some((b) => b.sequence < final.body.sequence) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
    }
    for (const book of books) {
      assert.equal(book.gaps, 0, "no sequence gap");
      assert.equal(book.sequence, final.body.sequence);
      const sorted = (side: Map<string, string>, descending: boolean) =>
        [...side.entries()].sort((a, b) =>
          descending ? Number(b[0]) - Number(a[0]) : Number(a[0]) - Number(b[0]),
        );
      assert.deepEqual(sorted(book.bids, true), final.body.bids, "snapshot + updates = the book");
      assert.deepEqual(sorted(book.asks, false), final.body.asks);
    }
    await Promise.all([...clients, ...watchers].map((c) => c.close()));
  });
});

/**
 * Every error code of the catalog, reached end to end over HTTP or WebSocket against the real node,
 * with the status of the catalog. The few that cannot be reached from outside in a test (bounds of
 * millions, a failing disk, a bug) are listed with the reason, and the test fails if a new code is
 * neither reached nor listed.
 */
import assert from "node:assert/strict";
import { connect } from "node:net";
import { after, before, describe, it } from "node:test";
import { errorCatalog, statusOf } from "../../src/api/errors.js";
import { pipelineFailure } from "../../src/api/gateway.js";
import { PipelineError } from "../../src/node/pipeline.js";
import {
  type Account,
  fundedAccount,
  limit,
  type Reply,
  request,
  signed,
  startServer,
  type TestServer,
  WsClient,
} from "./helpers.js";

/** Not reachable from outside in a test run, and why. */
const unreachable: Record<string, string> = {
  TOO_MANY_ACCOUNTS: "accountsMax is 10,000,000 (src/limits.ts)",
  TOO_MANY_TRANSFERS: "transfersMax is 10,000,000",
  BOOK_LEVELS_FULL: "priceLevelsPerSideMax is 100,000 levels",
  PRICE_LEVEL_FULL: "ordersPerLevelMax is 1,000,000 orders, 100 accounts' worth of open orders",
  TOO_MANY_STOP_ORDERS: "stopOrdersPerMarketMax is 100,000",
  INTERNAL_ERROR: "a bug; the fuzz suite checks that no request produces it",
};
/** Reached, but by another file of this suite. */
const elsewhere: Record<string, string> = {
  DUPLICATE_CLIENT_ORDER_ID: "durability.test.ts (a closed order's clientOrderId after a restart)",
  MARKET_DATA_UNAVAILABLE: "test/cache (an API node of a cluster before its market data is synced)",
};

describe("every error code", () => {
  let server: TestServer;
  let alice: Account;
  const seen = new Set<string>();

  const expectCode = (reply: Reply, code: string): void => {
    assert.equal(
      reply.body?.error?.code,
      code,
      `expected ${code}, got ${reply.status} ${reply.text.slice(0, 200)}`,
    );
    assert.equal(reply.status, statusOf(code as never), `${code} has the catalog's status`);
    assert.equal(typeof reply.body.error.message, "string");
    seen.add(code);
  };
  const order = (body: unknown): Promise<Reply> => signed(server, alice, "POST", "/v1/orders", body);

  before(async () => {
    server = await startServer();
    alice = await fundedAccount(server);
  });
  after(async () => server.close());

  it("gateway codes over HTTP", async () => {
    expectCode(await order({ ...limit("BTC-USD", "buy", "1.00", "1.0000"), price: 1 }), "VALIDATION_ERROR");
    expectCode(await signed(server, alice, "POST", "/v1/orders", "{not json"), "INVALID_REQUEST");
    const text = await fetch(`${server.url}/v1/orders`, {
      method: "POST",
      headers: { "content-type": "text/plain" },
      body: "hello",
    });
    expectCode(
      { status: text.status, body: await text.json(), text: "", headers: text.headers },
      "UNSUPPORTED_MEDIA_TYPE",
    );
    expectCode(
      await signed(server, alice, "GET", "/v1/balances", undefined, { signature: "0".repeat(64) }),
      "UNAUTHORIZED",
    );
    expectCode(await request(server.url, "GET", "/v1/nothing"), "NOT_FOUND");
    const wrongMethod = await request(server.url, "PUT", "/v1/markets");
    expectCode(wrongMethod, "METHOD_NOT_ALLOWED");
    assert.equal(wrongMethod.headers.get("allow"), "GET");
    expectCode(await order(JSON.stringify({ symbol: "x".repeat(100_000) })), "PAYLOAD_TOO_LARGE");
    expectCode(await request(server.url, "GET", "/v1/ws"), "UPGRADE_REQUIRED");
  });

  it("HEADERS_TOO_LARGE for a 20 KB header", async () => {
    const { port } = new URL(server.url);
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(port), "127.0.0.1");
      let data = "";
      socket.on("data", (chunk) => (data += chunk.toString()));
      socket.on("end", () => resolve(data));
      socket.on("error", reject);
      socket.write(`GET /v1/assets HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`);
    });
    const status = Number(raw.split(" ")[1]);
    const body = JSON.parse(raw.slice(raw.indexOf("\r\n\r\n") + 4));
    expectCode({ status, body, text: raw, headers: new Headers() }, "HEADERS_TOO_LARGE");
  });

  it("engine validation codes", async () => {
    expectCode(await order(limit("XXX-YYY", "buy", "1.00", "1.0000")), "UNKNOWN_SYMBOL");
    const deposit = (id: string, body: object) =>
      server.admin("POST", `/v1/admin/accounts/${id}/deposits`, body);
    expectCode(
      await deposit(alice.accountId, { asset: "DOGE", amount: "1", transferId: "d1" }),
      "UNKNOWN_ASSET",
    );
    expectCode(await deposit("99999", { asset: "USD", amount: "1", transferId: "d2" }), "UNKNOWN_ACCOUNT");
    expectCode(await signed(server, alice, "GET", "/v1/orders/99999999"), "ORDER_NOT_FOUND");
    expectCode(await order(limit("BTC-USD", "buy", "1e5", "1.0000")), "INVALID_PRICE");
    expectCode(
      await order({
        symbol: "BTC-USD",
        side: "buy",
        type: "stop_limit",
        price: "100.00",
        quantity: "0.1000",
      }),
      "INVALID_STOP_PRICE",
    );
    expectCode(await order(limit("BTC-USD", "buy", "100.00", "0.00001")), "INVALID_QUANTITY");
    expectCode(
      await order({ symbol: "BTC-USD", side: "buy", type: "market", quantity: "0.1000", postOnly: true }),
      "INVALID_ORDER_TYPE",
    );
    expectCode(
      await order({ symbol: "BTC-USD", side: "buy", type: "market", quantity: "0.1000", timeInForce: "GTD" }),
      "INVALID_TIME_IN_FORCE",
    );
    expectCode(
      await order(limit("BTC-USD", "buy", "100.00", "0.1000", { timeInForce: "GTD", expireTime: 1000 })),
      "INVALID_EXPIRE_TIME",
    );
    expectCode(
      await order(limit("BTC-USD", "buy", "100.00", "0.1000", { clientOrderId: "bad id!" })),
      "INVALID_CLIENT_ORDER_ID",
    );
    expectCode(
      await deposit(alice.accountId, { asset: "USD", amount: "1", transferId: "bad id!" }),
      "INVALID_TRANSFER_ID",
    );
    expectCode(
      await deposit(alice.accountId, { asset: "USD", amount: "0", transferId: "zero" }),
      "INVALID_AMOUNT",
    );
    expectCode(await order(limit("BTC-USD", "buy", "1.00", "0.0001")), "MIN_NOTIONAL");
    expectCode(
      await deposit(alice.accountId, { asset: "USD", amount: "99999999999999", transferId: "huge" }),
      "AMOUNT_OVERFLOW",
    );
    await deposit(alice.accountId, { asset: "USD", amount: "1", transferId: "once" });
    expectCode(
      await deposit(alice.accountId, { asset: "USD", amount: "2", transferId: "once" }),
      "TRANSFER_ID_CONFLICT",
    );
  });

  it("engine risk and matching codes", async () => {
    expectCode(await order(limit("BTC-USD", "buy", "100000.00", "100.0000")), "INSUFFICIENT_FUNDS");
    const maker = await order(limit("ETH-USD", "sell", "3000.00", "0.100"));
    assert.equal(maker.status, 201);
    expectCode(
      await order(limit("ETH-USD", "buy", "3000.00", "0.100", { postOnly: true })),
      "POST_ONLY_WOULD_TAKE",
    );
    const cancelled = await signed(server, alice, "DELETE", `/v1/orders/${maker.body.orderId}`);
    assert.equal(cancelled.status, 200);
    expectCode(await signed(server, alice, "DELETE", `/v1/orders/${maker.body.orderId}`), "ORDER_CLOSED");
  });

  it("TOO_MANY_OPEN_ORDERS after 10,000 open orders (over WebSocket)", async () => {
    const trader = await fundedAccount(server, { BTC: "10" });
    const ws = await WsClient.open(server.wsUrl);
    assert.ok((await ws.auth(trader)).result);
    const replies = await Promise.all(
      Array.from({ length: 10_001 }, () =>
        ws.send({ op: "order.place", params: limit("BTC-USD", "sell", "99999.00", "0.0001") }),
      ),
    );
    const failures = replies.filter((r) => r.error !== undefined);
    assert.equal(failures.length, 1);
    assert.equal(failures[0].error.code, "TOO_MANY_OPEN_ORDERS");
    seen.add("TOO_MANY_OPEN_ORDERS");
    const all = await ws.send({ op: "order.cancel_all", params: { symbol: "BTC-USD" } });
    assert.equal(all.result.cancelled.length, 10_000);
    await ws.close();
  });

  it("RATE_LIMITED by the per-IP and per-key limits", async () => {
    const limited = await startServer({ rateLimits: { ipRequestsPerSecond: 5, keyRequestsPerSecond: 2 } });
    try {
      const replies = await Promise.all(
        Array.from({ length: 30 }, () => request(limited.url, "GET", "/v1/assets")),
      );
      const refused = replies.filter((r) => r.status === 429);
      assert.ok(refused.length > 0);
      expectCode(refused[0]!, "RATE_LIMITED");
      assert.match(refused[0]!.body.error.message, /ipRequests/);
    } finally {
      await limited.close();
    }
    const keyLimited = await startServer({ rateLimits: { keyRequestsPerSecond: 2 } });
    try {
      const trader = await fundedAccount(keyLimited);
      const replies = await Promise.all(
        Array.from({ length: 10 }, () => signed(keyLimited, trader, "GET", "/v1/balances")),
      );
      const refused = replies.find((r) => r.status === 429);
      assert.ok(refused);
      assert.match(refused.body.error.message, /keyRequests/);
    } finally {
      await keyLimited.close();
    }
  });

  it("NOT_READY once the command path is closed (readyz turns 503)", async () => {
    const closing = await startServer();
    try {
      const trader = await fundedAccount(closing);
      await closing.node.pipeline.close();
      expectCode(
        await signed(closing, trader, "POST", "/v1/orders", limit("BTC-USD", "buy", "100.00", "0.1000")),
        "NOT_READY",
      );
      const ready = await request(closing.url, "GET", "/readyz");
      assert.equal(ready.status, 503);
    } finally {
      await closing.close();
    }
  });

  it("INVALID_CURSOR: a page cursor the history store did not give", async () => {
    expectCode(await signed(server, alice, "GET", "/v1/fills?cursor=bm90LWEtY3Vyc29y"), "INVALID_CURSOR");
    expectCode(
      await server.admin("GET", `/v1/admin/accounts/${alice.accountId}/ledger?cursor=x`),
      "INVALID_CURSOR",
    );
  });

  it("OVERLOADED and UNAVAILABLE: the pipeline's failures map to the catalog", () => {
    const overloaded = pipelineFailure(new PipelineError("overloaded", "full"));
    assert.equal(overloaded.code, "OVERLOADED");
    seen.add(overloaded.code);
    const backlog = pipelineFailure(Object.assign(new Error("x"), { code: "JOURNAL_BACKLOG_FULL" }));
    assert.equal(backlog.code, "OVERLOADED");
    const failed = pipelineFailure(Object.assign(new Error("x"), { code: "JOURNAL_FAILED" }));
    assert.equal(failed.code, "UNAVAILABLE");
    seen.add(failed.code);
    assert.equal(pipelineFailure(new PipelineError("unavailable", "disk")).code, "UNAVAILABLE");
  });

  it("reaches every code of the catalog, or says why not", () => {
    for (const code of errorCatalog.keys()) {
      if (seen.has(code) || code in unreachable || code in elsewhere) continue;
      assert.fail(`error code ${code} is neither reached by this suite nor listed as unreachable`);
    }
  });
});

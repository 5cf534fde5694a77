/**
 * The history store wired into the node (src/node/bourse.ts): GET /v1/fills is served from it, so
 * fills survive a restart; the admin ledger endpoint; the writer's lag in /metrics. The writer is
 * asynchronous: tests wait for the history with a deadline (pollSigned), never with a sleep.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  type Account,
  fillsWhenAtLeast,
  fundedAccount,
  type Json,
  limit,
  request,
  signed,
  startServer,
  type TestServer,
} from "./helpers.js";

/** A maker and a taker who traded `trades` times on BTC-USD (one taker order sweeping the makers). */
async function trade(
  server: TestServer,
  trades: number,
): Promise<{ maker: Account; taker: Account; ack: Json }> {
  const maker = await fundedAccount(server);
  const taker = await fundedAccount(server);
  for (let i = 0; i < trades; i++) {
    const r = await signed(
      server,
      maker,
      "POST",
      "/v1/orders",
      limit("BTC-USD", "sell", `${50000 + i}.00`, "0.0100"),
    );
    assert.equal(r.status, 201, r.text);
  }
  const ack = await signed(
    server,
    taker,
    "POST",
    "/v1/orders",
    limit("BTC-USD", "buy", "51000.00", (trades / 100).toFixed(4)),
  );
  assert.equal(ack.status, 201, ack.text);
  assert.equal(ack.body.fills.length, trades);
  return { maker, taker, ack: ack.body };
}

describe("history store in the node", () => {
  let dataDir: string;
  let server: TestServer;

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "bourse-api-history-"));
    server = await startServer({ dataDir });
  });
  after(async () => {
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("GET /v1/fills is served from the history store, formatted like the order's fills", async () => {
    const { maker, taker, ack } = await trade(server, 3);
    const fills = await fillsWhenAtLeast(server, taker, 3);
    assert.equal(fills.status, 200, fills.text);
    assert.equal(fills.body.fills.length, 3);
    assert.equal(fills.body.nextCursor, undefined);
    // The same fills as the store holds, newest first.
    const stored = await server.node.historyStore.fills({ accountId: Number(taker.accountId) });
    assert.deepEqual(
      fills.body.fills.map((f: Json) => Number(f.tradeId)),
      stored.items.map((f) => f.tradeId),
    );
    // Each one equals the fill the order's ack carried (price, quantity, fee strings), plus its order.
    const byTrade = new Map(ack.fills.map((f: Json) => [f.tradeId, f]));
    for (const f of fills.body.fills) {
      const { orderId, symbol, side, ...fill } = f;
      assert.deepEqual(fill, byTrade.get(f.tradeId));
      assert.equal(orderId, ack.orderId);
      assert.equal(symbol, "BTC-USD");
      assert.equal(side, "buy");
    }
    const makerFills = await fillsWhenAtLeast(server, maker, 3, "?symbol=BTC-USD");
    assert.ok(makerFills.body.fills.every((f: Json) => f.side === "sell" && f.liquidity === "maker"));
    const other = await signed(server, maker, "GET", "/v1/fills?symbol=ETH-USD");
    assert.deepEqual(other.body.fills, []);
    const future = await signed(server, taker, "GET", `/v1/fills?from=${Date.now() + 60_000}`);
    assert.deepEqual(future.body.fills, []);
  });

  it("a malformed cursor is INVALID_CURSOR (400); an unknown symbol is still UNKNOWN_SYMBOL", async () => {
    const account = await fundedAccount(server);
    const bad = await signed(server, account, "GET", "/v1/fills?cursor=eyJ0IjoieCJ9");
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, "INVALID_CURSOR");
    const long = await signed(server, account, "GET", `/v1/fills?cursor=${"a".repeat(300)}`);
    assert.equal(long.status, 400);
    assert.equal(long.body.error.code, "VALIDATION_ERROR");
    const symbol = await signed(server, account, "GET", "/v1/fills?symbol=NOPE-USD");
    assert.equal(symbol.body.error.code, "UNKNOWN_SYMBOL");
    const limitTooLarge = await signed(server, account, "GET", "/v1/fills?limit=1001");
    assert.equal(limitTooLarge.body.error.code, "VALIDATION_ERROR");
  });

  it("the admin ledger lists every balance movement, filters by asset and fromSeq, and pages", async () => {
    const { taker } = await trade(server, 2);
    const path = `/v1/admin/accounts/${taker.accountId}/ledger`;
    // Funded with three deposits, then one order (a hold) that traded twice: wait until it is all there.
    let all: Json;
    const deadline = Date.now() + 5_000;
    for (;;) {
      all = await server.admin("GET", path);
      assert.equal(all.status, 200, all.text);
      if (
        all.body.entries.some((e: Json) => e.asset === "BTC" && Number(e.settlementIn) > 0) ||
        Date.now() > deadline
      )
        break;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const entries = all.body.entries as Json[];
    assert.equal(all.body.accountId, taker.accountId);
    assert.equal(all.body.nextCursor, undefined);
    const seqs = entries.map((e) => e.seq);
    assert.deepEqual(
      seqs,
      [...seqs].sort((a, b) => b - a),
      "newest first",
    );
    const deposits = entries.filter((e) => e.transferId !== undefined);
    assert.deepEqual(deposits.map((e) => e.asset).sort(), ["BTC", "ETH", "USD"]);
    const usdDeposit = deposits.find((e) => e.asset === "USD")!;
    assert.equal(Number(usdDeposit.deposit), 1_000_000);
    assert.equal(Number(usdDeposit.available), 1_000_000);
    assert.equal(usdDeposit.transferId, `fund-${taker.accountId}-USD`);
    // The newest USD entry's balance is the account's balance.
    const balances = await server.admin("GET", `/v1/admin/accounts/${taker.accountId}/balances`);
    const usd = balances.body.find((b: Json) => b.asset === "USD");
    const newestUsd = entries.find((e) => e.asset === "USD")!;
    assert.equal(newestUsd.available, usd.available);
    assert.equal(newestUsd.locked, usd.locked);
    assert.ok(entries.some((e) => e.asset === "USD" && Number(e.settlementOut) > 0));
    assert.ok(entries.some((e) => e.asset === "USD" && Number(e.feeOut) > 0));
    assert.ok(entries.some((e) => e.asset === "USD" && Number(e.hold) > 0));

    const onlyBtc = await server.admin("GET", `${path}?asset=BTC`);
    assert.ok(onlyBtc.body.entries.length > 0);
    assert.ok(onlyBtc.body.entries.every((e: Json) => e.asset === "BTC"));
    assert.deepEqual(
      onlyBtc.body.entries,
      entries.filter((e) => e.asset === "BTC"),
    );

    const fromSeq = entries[1].seq;
    const recent = await server.admin("GET", `${path}?fromSeq=${fromSeq}`);
    assert.deepEqual(
      recent.body.entries,
      entries.filter((e) => e.seq >= fromSeq),
    );
    assert.equal(recent.body.nextCursor, undefined);

    // One entry a page, cursor to cursor, gives the whole ledger once, in order.
    const paged: Json[] = [];
    let cursor: string | undefined;
    for (let i = 0; i < 50; i++) {
      const page = await server.admin(
        "GET",
        `${path}?limit=1${cursor === undefined ? "" : `&cursor=${cursor}`}`,
      );
      assert.equal(page.status, 200, page.text);
      paged.push(...page.body.entries);
      cursor = page.body.nextCursor;
      if (cursor === undefined) break;
    }
    assert.deepEqual(paged, entries);
    // Paged with the asset filter too.
    const pagedBtc: Json[] = [];
    cursor = undefined;
    for (let i = 0; i < 50; i++) {
      const page = await server.admin(
        "GET",
        `${path}?asset=BTC&limit=1${cursor === undefined ? "" : `&cursor=${cursor}`}`,
      );
      pagedBtc.push(...page.body.entries);
      cursor = page.body.nextCursor;
      if (cursor === undefined) break;
    }
    assert.deepEqual(pagedBtc, onlyBtc.body.entries);
  });

  it("the admin ledger refuses what it cannot answer", async () => {
    const account = await fundedAccount(server);
    const path = `/v1/admin/accounts/${account.accountId}/ledger`;
    const noToken = await request(server.url, "GET", path);
    assert.equal(noToken.status, 401);
    const unknown = await server.admin("GET", "/v1/admin/accounts/999999/ledger");
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error.code, "UNKNOWN_ACCOUNT");
    const asset = await server.admin("GET", `${path}?asset=DOGE`);
    assert.equal(asset.status, 400);
    assert.equal(asset.body.error.code, "UNKNOWN_ASSET");
    const cursor = await server.admin("GET", `${path}?cursor=bm90LWEtY3Vyc29y`);
    assert.equal(cursor.status, 400);
    assert.equal(cursor.body.error.code, "INVALID_CURSOR");
    const extra = await server.admin("GET", `${path}?assets=BTC`);
    assert.equal(extra.body.error.code, "VALIDATION_ERROR");
    const post = await server.admin("POST", path, {});
    assert.equal(post.status, 405);
  });

  it("/metrics shows the history writer's lag", async () => {
    const metrics = await request(server.url, "GET", "/metrics");
    assert.equal(metrics.status, 200);
    const lag = /^bourse_history_lag_ms (\S+)$/m.exec(metrics.text);
    assert.ok(lag !== null, "bourse_history_lag_ms is in /metrics");
    assert.ok(Number(lag[1]) >= 0);
    assert.match(metrics.text, /^bourse_history_lag_commands \d+$/m);
    assert.match(metrics.text, /^bourse_history_failed 0$/m);
  });

  it("fills survive a restart on the same data directory, and old cursors still page", async () => {
    const { taker } = await trade(server, 4);
    const before = await fillsWhenAtLeast(server, taker, 4);
    assert.equal(before.body.fills.length, 4);
    const page1 = await signed(server, taker, "GET", "/v1/fills?limit=2");
    assert.ok(page1.body.nextCursor);
    await server.stop();

    server = await startServer({ dataDir });
    const afterRestart = await signed(server, taker, "GET", "/v1/fills");
    assert.equal(afterRestart.status, 200);
    assert.deepEqual(afterRestart.body.fills, before.body.fills);
    const page2 = await signed(server, taker, "GET", `/v1/fills?limit=2&cursor=${page1.body.nextCursor}`);
    assert.deepEqual(page2.body.fills, before.body.fills.slice(2));
    await server.node.history.drain();
    const m = server.node.history.metrics();
    assert.equal(m.checkpointSeq, m.headSeq);
    assert.equal(m.lagCommands, 0);
  });

  it("a lost history store is rebuilt from the journal at start", async () => {
    const { taker } = await trade(server, 2);
    const before = await fillsWhenAtLeast(server, taker, 2);
    await server.stop();
    rmSync(join(dataDir, "history"), { recursive: true, force: true });

    server = await startServer({ dataDir });
    const rebuilt = await fillsWhenAtLeast(server, taker, 2);
    assert.deepEqual(rebuilt.body.fills, before.body.fills);
  });
});

/**
 * Issue #6, several API nodes over one cluster (real processes): a redis-server (the journal and the
 * cache on the same server), one `bourse engine` (leader, publishing market data to the cache and
 * bus), two `bourse api` nodes. WebSocket clients on both nodes follow the BTC-USD book and trades
 * while orders are placed, crossed and cancelled through both nodes at once, over signed REST and
 * WebSocket order.place. Then:
 *
 *   - every client's book stream is gap-free: one snapshot, then sequence + 1 each (no resync here);
 *   - every client on both nodes ends with the same book, equal to GET /book on both nodes, to the
 *     book of the log replayed (the truth), and to what the open orders imply (remaining quantity
 *     per price);
 *   - every client saw the same trades, in the same order;
 *   - every acknowledged order is visible on both nodes via GET /v1/orders/{id}, in the same state.
 */
import assert from "node:assert/strict";
import { after, before, it } from "node:test";
import type { Account, Json } from "../api/helpers.js";
import { type RedisServer, startRedis } from "../cluster/redis-servers.js";
import {
  type ApiNode,
  accountVisible,
  BookWatcher,
  Checks,
  checkBookIsOpenOrders,
  createAccount,
  type EngineNode,
  notableLines,
  ordersOn,
  replayBook,
  restBook,
  startApi,
  startCacheCluster,
  stopCacheCluster,
  Trader,
  until,
  WsTrader,
} from "./cluster-nodes.js";

const symbol = "BTC-USD";
const qtyDecimals = 4; // BTC-USD lot 0.0001

let redis: RedisServer | undefined;
let engine: EngineNode | undefined;
let journal = "";
const apis: ApiNode[] = [];
const watchers: BookWatcher[] = [];
const wsTraders: WsTrader[] = [];

before(async () => {
  redis = await startRedis(); // appendonly yes, appendfsync always: the journal's aof-always check
  const cluster = await startCacheCluster(redis, redis);
  ({ journal, engine } = cluster);
  const { cache, secrets } = cluster;
  const started = await Promise.allSettled([
    startApi({ name: "api-a", journal, cache, secrets }),
    startApi({ name: "api-b", journal, cache, secrets }),
  ]);
  for (const s of started) if (s.status === "fulfilled") apis.push(s.value);
  for (const s of started) if (s.status === "rejected") throw s.reason;
});

after(() => stopCacheCluster({ watchers, wsTraders, apis, engine, servers: [redis] }));

it("two API nodes: gap-free book streams, one final book everywhere, every order on both nodes", {
  timeout: 85_000,
}, async () => {
  const [a, b] = [apis[0]!, apis[1]!];
  const accounts: Account[] = [await createAccount(a), await createAccount(a)];
  for (const account of accounts) await accountVisible(b, account);

  // Watchers first, so that every one of them sees every trade.
  for (const [node, n] of [
    [a, 3],
    [b, 3],
  ] as const) {
    for (let i = 0; i < n; i++)
      watchers.push(await BookWatcher.open(`${node.proc.name}/ws${i}`, node.wsUrl, symbol));
  }
  const synced = await until(() => watchers.every((w) => w.snapshots.length > 0), 15_000);
  assert.ok(
    synced,
    `every watcher gets its first book snapshot within 15 s; without one: ${watchers
      .filter((w) => w.snapshots.length === 0)
      .map((w) => w.name)
      .join(", ")}\n${a.proc.tail(1500)}\n${b.proc.tail(1500)}`,
  );

  wsTraders.push(await WsTrader.open(a.wsUrl, accounts[1]!), await WsTrader.open(b.wsUrl, accounts[0]!));
  const traders = [
    new Trader("rest-a", a, accounts[0]!, null, 1),
    new Trader("rest-b", b, accounts[1]!, null, 2),
    new Trader("ws-a", a, accounts[1]!, wsTraders[0]!, 3),
    new Trader("ws-b", b, accounts[0]!, wsTraders[1]!, 4),
  ];
  const t0 = Date.now();
  await Promise.all(traders.map((t) => t.run(100, 4)));
  const tradingMs = Date.now() - t0;

  const failures = traders.flatMap((t) => t.failures);
  const acked = traders.flatMap((t) => t.acked);
  const check = new Checks();
  check.equal(
    failures.map((f) => `${f.via} ${f.what} ${f.detail}`),
    [],
    "every placement acknowledged, every cancel answered",
  );
  check.ok(acked.length >= 250, `a few hundred orders acknowledged (${acked.length})`);

  // Quiescence: the truth is the log replayed (what the engine computed); both nodes and every
  // watcher must reach its sequence.
  const truth = await replayBook(journal, symbol);
  let bookA: Json;
  let bookB: Json;
  const settled = await until(
    async () => {
      [bookA, bookB] = (await Promise.all([restBook(a, symbol), restBook(b, symbol)])).map((r) => r.body);
      return (
        bookA?.sequence !== undefined &&
        bookA.sequence >= truth.book.sequence &&
        bookA.sequence === bookB?.sequence &&
        watchers.every((w) => w.sequence === bookA.sequence)
      );
    },
    15_000,
    50,
  );
  const positions = watchers.map((w) => `${w.name}: ${w.sequence}`).join(", ");
  check.ok(
    settled,
    `books reach the log's book sequence ${truth.book.sequence} (log seq ${truth.lastSeq}) within 15 s: GET /book on A ${bookA?.sequence}, on B ${bookB?.sequence}; watchers ${positions}`,
  );

  for (const w of watchers) {
    check.equal(w.faults, [], `${w.name}: the book stream is gap-free (snapshot, then +1 each)`);
    check.ok(
      w.snapshots.length === 1,
      `${w.name}: one book snapshot expected (no resync in this test), got ${w.snapshots.length}: ${JSON.stringify(
        w.snapshots.map((s) => ({ ms: s.at - t0, sequence: s.sequence })),
      )} (ms after trading began)`,
    );
  }
  check.equal(bookA!, bookB!, "GET /book is the same on both nodes");
  check.equal(
    bookA!,
    { ...truth.book },
    `GET /book on A = the book of the log replayed (log seq ${truth.lastSeq})`,
  );
  for (const w of watchers)
    check.equal({ symbol, ...w.book() }, bookA!, `${w.name}: snapshot + updates = GET /book on A`);

  // The book is what the open orders say (read on each node).
  for (const node of [a, b])
    await checkBookIsOpenOrders(check, "GET /book on A", bookA!, node, accounts, symbol, qtyDecimals);

  // Trades: the same list everywhere, no repeats, and the orders did cross.
  const first = watchers[0]!.tradeIds;
  check.ok(first.length > 0, "orders crossed");
  check.ok(new Set(first).size === first.length, `${watchers[0]!.name}: no trade twice`);
  for (const w of watchers)
    check.equal(w.tradeIds, first, `${w.name}: the same trades in the same order as ${watchers[0]!.name}`);
  const restTrades = (await (await fetch(`${a.url}/v1/markets/${symbol}/trades?limit=1000`)).json()) as Json;
  const listed = ((Array.isArray(restTrades) ? restTrades : restTrades.trades) as Json[])
    .map((t) => t.tradeId)
    .reverse();
  if (first.length <= 1000) check.equal(listed, first, "GET /trades on A (oldest first) = the trades pushed");

  // Every acknowledged order on both nodes, in the same state.
  const onA = await ordersOn(a, acked, 10_000);
  const onB = await ordersOn(b, acked, 10_000);
  check.equal(onA.missing, [], "every acknowledged order is visible on node A");
  check.equal(onB.missing, [], "every acknowledged order is visible on node B");
  let differing = 0;
  for (const ack of acked) {
    const x = onA.found.get(ack.orderId);
    const y = onB.found.get(ack.orderId);
    if (x === undefined || y === undefined) continue;
    if (differing < 3 && !check.equal(x, y, `order ${ack.orderId} (${ack.via}) is the same on both nodes`))
      differing++;
  }
  check.done(() => `${notableLines(a.proc)}\n${notableLines(b.proc)}\n${notableLines(engine!.proc)}`);

  const cancels = traders.reduce((n, t) => n + t.cancels.done, 0);
  console.log(
    `multi-node: ${acked.length} orders acknowledged in ${tradingMs} ms (${cancels} cancelled), ${first.length} trades, book sequence ${bookA!.sequence}, ${watchers.length} watchers gap-free`,
  );
});

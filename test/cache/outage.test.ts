/**
 * Issue #6, the cache fails alone (real processes): the journal on one redis-server (J, appendonly,
 * appendfsync always), the cache and market-data bus on another (C), one `bourse engine` and one
 * `bourse api`. While orders flow through the API node (signed REST and WebSocket order.place), C
 * goes down for about four seconds and is started again on the same port, in two ways: killed (-9)
 * and restarted empty (no persistence), or stopped (SIGTERM) and restarted with its data (AOF: the
 * bus stream and snapshots from before the outage come back, stale). Then:
 *
 *   - every order placed during the outage was acknowledged, and is durable: in the log under the
 *     orderId it was acknowledged with, and the engine's state hash is a clean replay of that log;
 *   - within 15 s of the restart every WebSocket client of the book gets a fresh snapshot (the API
 *     node resynced), and the stream is gap-free throughout (a stall, then a snapshot, never a
 *     skipped sequence);
 *   - before the kill there is one snapshot per client (no resync without a cause);
 *   - at quiescence GET /book and every client reach the book of the log replayed (the truth, what
 *     the engine computed), the book each client holds = GET /book = the replay's = what the open
 *     orders imply, and every acknowledged order answers GET /v1/orders/{id} in a state consistent
 *     with its acknowledgment.
 *
 * Reported, not asserted: what GET /book answers 1.5 s into the outage (its sequence against the
 * log's, and bourse_marketdata_stale).
 */
import assert from "node:assert/strict";
import { it } from "node:test";
import type { Account, Json } from "../api/helpers.js";
import { checkLog, nodeStateHash } from "../cluster/harness.js";
import { type RedisServer, startRedis } from "../cluster/redis-servers.js";
import {
  type ApiNode,
  BookWatcher,
  Checks,
  checkBookIsOpenOrders,
  createAccount,
  type EngineNode,
  notableLines,
  ordersOn,
  replayBook,
  restBook,
  sleep,
  startApi,
  startCacheCluster,
  stopCacheCluster,
  Trader,
  units,
  until,
  WsTrader,
} from "./cluster-nodes.js";
import { type CacheRedisInstance, startCacheRedis } from "./redis-instances.js";

const symbol = "BTC-USD";
const qtyDecimals = 4;
const resyncWithinMs = 15_000;

interface Outage {
  /** How the cache goes down: kill -9, or SIGTERM (a clean shutdown that writes its AOF). */
  stop: "SIGKILL" | "SIGTERM";
  /** Restarted with its data (appendonly yes: the stream and snapshots from before the outage). */
  keepData: boolean;
}

interface Cluster {
  journalRedis?: RedisServer;
  cacheRedis?: CacheRedisInstance;
  engine?: EngineNode;
  api?: ApiNode;
  journal: string;
  watchers: BookWatcher[];
  wsTraders: WsTrader[];
}

async function setUp(outage: Outage, cluster: Cluster): Promise<void> {
  cluster.journalRedis = await startRedis();
  cluster.cacheRedis = await startCacheRedis(
    outage.keepData ? { settings: { appendonly: "yes", appendfsync: "always" } } : {},
  );
  const { secrets, journal, cache, engine } = await startCacheCluster(
    cluster.journalRedis,
    cluster.cacheRedis,
  );
  cluster.journal = journal;
  cluster.engine = engine;
  cluster.api = await startApi({ name: "api", journal: cluster.journal, cache, secrets });
}

function tearDown(cluster: Cluster): Promise<void> {
  const { watchers, wsTraders, api, engine, cacheRedis, journalRedis } = cluster;
  return stopCacheCluster({ watchers, wsTraders, apis: [api], engine, servers: [cacheRedis, journalRedis] });
}

const outages: [string, Outage][] = [
  ["killed (-9) and restarted empty", { stop: "SIGKILL", keepData: false }],
  ["stopped (SIGTERM) and restarted with its data", { stop: "SIGTERM", keepData: true }],
];

for (const [how, outage] of outages) {
  it(`the cache ${how}: orders acknowledged and durable, clients resynced, books equal`, {
    timeout: 85_000,
  }, async () => {
    const cluster: Cluster = { journal: "", watchers: [], wsTraders: [] };
    try {
      await setUp(outage, cluster);
      await trade(outage, cluster);
    } finally {
      await tearDown(cluster);
    }
  });
}

async function trade(outage: Outage, cluster: Cluster): Promise<void> {
  const { journal, watchers, wsTraders } = cluster;
  const node = cluster.api!;
  const engine = cluster.engine;
  const cacheRedis = cluster.cacheRedis;
  const accounts: Account[] = [await createAccount(node), await createAccount(node)];
  for (let i = 0; i < 2; i++) watchers.push(await BookWatcher.open(`ws${i}`, node.wsUrl, symbol));
  assert.ok(
    await until(() => watchers.every((w) => w.snapshots.length > 0), 15_000),
    `every watcher gets its first snapshot\n${node.proc.tail(1500)}`,
  );
  wsTraders.push(await WsTrader.open(node.wsUrl, accounts[1]!));
  const traders = [
    new Trader("rest", node, accounts[0]!, null, 11),
    new Trader("ws", node, accounts[1]!, wsTraders[0]!, 12),
  ];
  const running = Promise.all(traders.map((t) => t.run(Number.POSITIVE_INFINITY, 2, 10)));

  // Phase 1: normal trading.
  await sleep(2_000);
  const beforeKill = traders.reduce((n, t) => n + t.acked.length, 0);

  // Phase 2: the cache is gone.
  const killedAt = Date.now();
  if (outage.stop === "SIGKILL") await cacheRedis!.kill();
  else await cacheRedis!.stop({ keep: true });
  await sleep(1_500);
  // What a client is told meanwhile (reported, not asserted: the cache's outage is allowed to stall
  // public market data, not to make it wrong once it is back).
  const duringBook = await restBook(node, symbol).catch((e: Error) => ({
    status: 0,
    text: e.message,
    body: undefined,
  }));
  const duringTruth = await replayBook(journal, symbol);
  const duringStale = /^bourse_marketdata_stale (\S+)/m.exec(
    await (await fetch(`${node.url}/metrics`)).text(),
  )?.[1];
  await sleep(2_500);
  const restartedAt = Date.now();
  const ackedInOutage = traders
    .flatMap((t) => t.acked)
    .filter((a) => a.sentAt >= killedAt && a.sentAt < restartedAt);

  // Phase 3: the cache is back, empty, on the same port.
  await cacheRedis!.restart();
  const resynced = await until(
    () => watchers.every((w) => w.snapshots.some((s) => s.at >= restartedAt)),
    resyncWithinMs,
    25,
  );
  const resyncMs = watchers.map(
    (w) => (w.snapshots.find((s) => s.at >= restartedAt)?.at ?? Number.NaN) - restartedAt,
  );
  await sleep(2_000);
  for (const t of traders) t.stop();
  await running;

  const check = new Checks();
  check.ok(engine!.proc.alive, `the engine node survives the cache's outage\n${engine!.proc.tail()}`);
  check.ok(node.proc.alive, `the API node survives the cache's outage\n${node.proc.tail()}`);

  const acked = traders.flatMap((t) => t.acked);
  const failures = traders.flatMap((t) => t.failures);
  const phase = (at: number) => (at < killedAt ? "before" : at < restartedAt ? "OUTAGE" : "after");
  check.equal(
    failures.map((f) => `[${phase(f.sentAt)} +${f.sentAt - killedAt} ms] ${f.via} ${f.what} ${f.detail}`),
    [],
    "every order acknowledged and every cancel answered, during the outage too",
  );
  check.ok(
    ackedInOutage.length >= 10,
    `orders were placed and acknowledged during the outage (${ackedInOutage.length})`,
  );
  const snapshotsSeen = watchers
    .map(
      (w) =>
        `${w.name} ${JSON.stringify(w.snapshots.map((s) => ({ ms: s.at - killedAt, sequence: s.sequence })))}`,
    )
    .join("; ");
  check.ok(
    resynced,
    `every WebSocket client gets a fresh book snapshot within ${resyncWithinMs} ms of the cache's restart; ` +
      `ms after the restart: ${resyncMs.join(", ")}; snapshots (ms after the kill): ${snapshotsSeen}`,
  );

  // Before the kill nothing gave an API node a reason to resync: one snapshot, the first.
  for (const w of watchers) {
    const early = w.snapshots.filter((x) => x.at < killedAt);
    check.ok(
      early.length === 1,
      `${w.name}: one book snapshot before the cache was killed (no resync without a cause), got ${early.length}: ${JSON.stringify(
        early.map((x) => ({ ms: x.at - killedAt, sequence: x.sequence })),
      )} (ms relative to the kill)`,
    );
  }

  // Quiescence: the truth is the log replayed (what the engine computed); GET /book and every watcher
  // must reach its sequence.
  const truth = await replayBook(journal, symbol);
  let book: Json;
  const settled = await until(
    async () => {
      const r = await restBook(node, symbol);
      book = r.status === 200 ? r.body : undefined;
      return (
        book !== undefined &&
        book.sequence >= truth.book.sequence &&
        watchers.every((w) => w.sequence === book.sequence)
      );
    },
    15_000,
    50,
  );
  check.ok(
    settled,
    `GET /book and the watchers reach the log's book sequence ${truth.book.sequence} (log seq ${truth.lastSeq}) within 15 s after trading stopped: GET /book ${book?.sequence}; watchers ${watchers
      .map((w) => `${w.name} ${w.sequence}`)
      .join(", ")}`,
  );
  for (const w of watchers) {
    const faults = w.faults.map((f) => ({ ...f, phase: phase(f.at), at: f.at - killedAt }));
    check.equal(faults, [], `${w.name}: the book stream never skips a sequence (at: ms after the kill)`);
    if (book! !== undefined)
      check.equal({ symbol, ...w.book() }, book!, `${w.name}: the book the client holds = GET /book`);
  }
  if (book! !== undefined) {
    check.equal(
      { bids: book!.bids, asks: book!.asks },
      { bids: truth.book.bids, asks: truth.book.asks },
      `GET /book (sequence ${book!.sequence}) = the book of the log replayed (sequence ${truth.book.sequence}, log seq ${truth.lastSeq})`,
    );
    check.equal(book!.sequence, truth.book.sequence, "GET /book's sequence = the replay's");
  }
  const open = await checkBookIsOpenOrders(
    check,
    "the replayed book",
    truth.book,
    node,
    accounts,
    symbol,
    qtyDecimals,
  );

  // Every acknowledged order is known to the API node, consistently with its acknowledgment.
  const seen = await ordersOn(node, acked, 10_000);
  check.equal(seen.missing, [], "every acknowledged order answers GET /v1/orders/{id}");
  const terminal = new Set(["filled", "cancelled", "rejected", "expired"]);
  const inconsistent: string[] = [];
  for (const ack of acked) {
    const o = seen.found.get(ack.orderId);
    if (o === undefined) continue;
    const why: string[] = [];
    if (o.clientOrderId !== ack.clientOrderId) why.push(`clientOrderId ${o.clientOrderId}`);
    if (terminal.has(ack.status) && o.status !== ack.status)
      why.push(`acknowledged ${ack.status}, now ${o.status}`);
    if (
      units(o.filledQuantity, qtyDecimals) + units(o.remainingQuantity, qtyDecimals) >
      units(o.quantity, qtyDecimals)
    )
      why.push(`filled ${o.filledQuantity} + remaining ${o.remainingQuantity} > ${o.quantity}`);
    const listed = open.some((x) => x.orderId === o.orderId);
    if ((o.status === "open" || o.status === "partially_filled") !== listed)
      why.push(`status ${o.status} but ${listed ? "" : "not "}listed among the open orders`);
    if (why.length > 0)
      inconsistent.push(`${ack.orderId} (${ack.via}, ${phase(ack.sentAt)}): ${why.join("; ")}`);
  }
  check.equal(
    inconsistent.slice(0, 20),
    [],
    `every acknowledged order is consistent (${inconsistent.length} not)`,
  );

  // Durable: the log holds every acknowledged order under its orderId, and the engine's state is a
  // clean replay of it.
  const engineHash = await nodeStateHash(engine!.address);
  let commands = 0;
  try {
    const log = await checkLog(
      journal,
      acked.map((a) => ({
        clientOrderId: a.clientOrderId,
        accountId: Number(a.owner.accountId),
        orderId: Number(a.orderId),
        seq: 0,
        epoch: 0,
        atMs: a.ackedAt,
      })),
      [engineHash.seq],
    );
    commands = log.commands;
    check.equal(log.acksChecked, acked.length, "every acknowledgment checked against the log");
    check.equal(
      log.hashAt.get(engineHash.seq),
      engineHash.hash,
      "the engine's state = a clean replay of the log",
    );
  } catch (error) {
    check.ok(false, `the log holds every acknowledged order once: ${(error as Error).message}`);
  }

  const diagnosis = check.problems.length === 0 ? "" : await diagnose(node, cacheRedis!);
  check.done(
    () =>
      `cache killed at ${killedAt}, restarted at ${restartedAt} (node log times are ms since the epoch)\n${diagnosis}\n${notableLines(node.proc)}\n${notableLines(engine!.proc)}`,
  );
  console.log(
    `outage (${outage.stop}, ${outage.keepData ? "restarted with its data" : "restarted empty"}): ${beforeKill} orders before the kill, ${ackedInOutage.length} acknowledged during the ${restartedAt - killedAt} ms outage, ${acked.length} in all; ` +
      `1.5 s into the outage GET /book answered ${duringBook.status} at sequence ${(duringBook.body as Json)?.sequence} (the log's: ${duringTruth.book.sequence}), bourse_marketdata_stale ${duringStale}; resync ${resyncMs.join(", ")} ms after the restart; ` +
      `snapshots per client ${watchers.map((w) => w.snapshots.length).join(", ")}; final sequence ${book!.sequence}; log ${commands} commands`,
  );
}

/** What the API node and the cache say about market data, for a failure's report. */
async function diagnose(node: ApiNode, cache: CacheRedisInstance): Promise<string> {
  const out: string[] = [];
  try {
    const metrics = await (await fetch(`${node.url}/metrics`)).text();
    out.push(
      `API node /metrics: ${metrics
        .split("\n")
        .filter((l) => /^bourse_(marketdata|cache|bus)/.test(l))
        .join("; ")}`,
    );
  } catch (error) {
    out.push(`API node /metrics: ${(error as Error).message}`);
  }
  try {
    const keys = (await cache.command(["KEYS", "*"])) as string[];
    const xlen = await cache.command(["XLEN", "{t1}:md"]);
    const top = await cache.command(["XREVRANGE", "{t1}:md", "+", "-", "COUNT", "1"]);
    out.push(
      `cache: ${keys.length} keys (${keys.sort().slice(0, 40).join(", ")}); bus stream length ${xlen}, top ${JSON.stringify(top).slice(0, 200)}`,
    );
  } catch (error) {
    out.push(`cache: ${(error as Error).message}`);
  }
  return out.join("\n");
}

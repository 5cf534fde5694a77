/**
 * THE shared suite: every HistoryStore backend runs exactly these tests (sqlite.test.ts, dynamodb.test.ts),
 * fed by the real engine through the real writer.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { settleConfig } from "../../src/engine/config.js";
import { CursorError } from "../../src/history/cursor.js";
import type { HistoryStore } from "../../src/history/history-store.js";
import { createHistoryStore } from "../../src/history/open-store.js";
import { rebuildBalance } from "../../src/history/rebuild-balance.js";
import { HistoryWriter } from "../../src/history/writer.js";
import {
  ArraySource,
  all,
  expectedFills,
  fillKey,
  type Generated,
  generate,
  storedTradeIds,
  workloadConfig,
} from "./helpers.js";
import { Workload } from "./workload.js";

const symbols = workloadConfig.markets.map((m) => m.symbol);
const quiet = (): void => {};

export interface SuiteOptions {
  /** Commands generated for the main tests (DynamoDB Local is slower than SQLite). */
  commands: number;
  /** A fresh, empty, opened store. */
  fresh: () => Promise<HistoryStore>;
  /** The URL of a fresh store, for child processes (the crash test), and the commands they write. */
  freshUrl: () => string;
  crashCommands: number;
  crashBatchCommands: number;
}

const childPath = fileURLToPath(new URL("./crash-child.js", import.meta.url));

/** Runs crash-child.js; kills it with SIGKILL as soon as its checkpoint reaches killAtSeq. */
function runChild(
  url: string,
  count: number,
  batch: number,
  mode: "live" | "resume",
  killAtSeq: number | null,
): Promise<{ killed: boolean; checkpoint: number; code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [childPath, url, "7", String(count), String(batch), mode], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" },
    });
    let killed = false;
    let checkpoint = 0;
    let stderr = "";
    let buffered = "";
    child.stdout.on("data", (chunk: Buffer) => {
      buffered += chunk.toString();
      let nl = buffered.indexOf("\n");
      while (nl >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        const m = /^checkpoint (\d+)$/.exec(line);
        if (m !== null) {
          checkpoint = Number(m[1]);
          if (!killed && killAtSeq !== null && checkpoint >= killAtSeq) {
            killed = true;
            child.kill("SIGKILL");
          }
        }
        nl = buffered.indexOf("\n");
      }
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.once("error", reject);
    child.once("exit", (code) => resolve({ killed, checkpoint, code, stderr }));
  });
}

/** Writes commands through a writer (live path), waits until stored. */
export async function writeAll(
  store: HistoryStore,
  g: Generated,
  batchCommandsMax = 256,
): Promise<HistoryWriter> {
  const writer = new HistoryWriter({
    store,
    config: workloadConfig,
    source: new ArraySource(g.commands),
    batchCommandsMax,
    log: quiet,
  });
  await writer.start();
  for (const c of g.commands) writer.enqueue(c.seq, c.time, c.events);
  await writer.drain();
  await writer.close();
  return writer;
}

export function historySuite(backend: string, options: SuiteOptions): void {
  describe(`history store on ${backend}`, () => {
    let generated: Generated | null = null;
    const g = (): Generated => (generated ??= generate(20240501, options.commands));
    let shared: HistoryStore | null = null;
    /** One store written once, read by several tests. */
    const written = async (): Promise<HistoryStore> => {
      if (shared === null) {
        shared = await options.fresh();
        await writeAll(shared, g());
      }
      return shared;
    };

    test("stores every trade once, every order's final state, and the checkpoint", async () => {
      const store = await written();
      const gen = g();
      assert.ok(gen.trades.length > 100, `the workload trades (${gen.trades.length})`);
      assert.equal(await store.checkpoint(), gen.lastSeq);
      const ids = await storedTradeIds(store, symbols);
      assert.deepEqual(
        ids,
        gen.trades.map((t) => t.tradeId),
      );
      const first = (await store.trades({ symbol: "BTC-USD", limit: 1 })).items[0]!;
      const event = gen.trades.filter((t) => t.symbol === "BTC-USD").at(-1)!;
      assert.deepEqual(
        { ...first, quoteAsset: undefined },
        {
          tradeId: event.tradeId,
          seq: event.seq,
          time: event.time,
          symbol: event.symbol,
          price: event.price,
          quantity: event.quantity,
          notional: event.notional,
          takerSide: event.takerSide,
          takerOrderId: event.takerOrderId,
          takerAccountId: event.takerAccountId,
          makerOrderId: event.makerOrderId,
          makerAccountId: event.makerAccountId,
          takerFee: event.takerFee,
          makerFee: event.makerFee,
          quoteAsset: undefined,
        },
      );
      // Every order's final state is its last event; a sample keeps DynamoDB Local quick.
      const orders = [...gen.finalOrders.values()];
      for (let i = 0; i < orders.length; i += Math.max(1, Math.floor(orders.length / 40))) {
        const e = orders[i]!;
        const o = await store.order(e.orderId);
        assert.ok(o !== null, `order ${e.orderId}`);
        assert.equal(o.status, e.status);
        assert.equal(o.filledQuantity, e.filledQuantity);
        assert.equal(o.filledNotional, e.filledNotional);
        assert.equal(o.seq, e.seq);
      }
      assert.equal(await store.order(10_000_000), null);
    });

    test("an account's fills: newest first, paged, filtered by symbol and time, each fill once", async () => {
      const store = await written();
      const gen = g();
      for (const accountId of [1, 2, 3]) {
        const expected = expectedFills(gen.trades, accountId);
        const got = await all((cursor) =>
          store.fills({ accountId, limit: 7, ...(cursor ? { cursor } : {}) }),
        );
        assert.deepEqual(got.map(fillKey), expected, `account ${accountId}`);
        for (const f of got) assert.equal(f.accountId, accountId);
        const eth = await all((cursor) =>
          store.fills({ accountId, symbol: "ETH-USD", limit: 5, ...(cursor ? { cursor } : {}) }),
        );
        assert.deepEqual(
          eth.map(fillKey),
          expected.filter((k) => k.endsWith(":ETH-USD")),
        );
      }
      // A time window in the middle of the history.
      const mid = gen.trades[Math.floor(gen.trades.length / 2)]!;
      const fromTime = mid.time - 50;
      const toTime = mid.time + 50;
      const inWindow = gen.trades.filter((t) => t.time >= fromTime && t.time <= toTime);
      const accountId = mid.takerAccountId;
      const expected = expectedFills(inWindow, accountId);
      const got = await all((cursor) =>
        store.fills({ accountId, fromTime, toTime, limit: 3, ...(cursor ? { cursor } : {}) }),
      );
      assert.deepEqual(got.map(fillKey), expected);
      const taker = got.find((f) => f.tradeId === mid.tradeId)!;
      assert.equal(taker.liquidity, "taker");
      assert.equal(taker.side, mid.takerSide);
      assert.equal(taker.fee, mid.takerFee);
      assert.equal(taker.orderId, mid.takerOrderId);
      assert.equal(taker.feeAsset, settleConfig(workloadConfig).marketBySymbol.get(mid.symbol)!.quote.asset);
    });

    test("a symbol's trades by time window, newest first", async () => {
      const store = await written();
      const gen = g();
      const eth = gen.trades.filter((t) => t.symbol === "ETH-BTC");
      const fromTime = eth[Math.floor(eth.length / 4)]!.time;
      const toTime = eth[Math.floor((eth.length * 3) / 4)]!.time;
      const expected = eth
        .filter((t) => t.time >= fromTime && t.time <= toTime)
        .map((t) => t.tradeId)
        .reverse();
      const got = await all((cursor) =>
        store.trades({ symbol: "ETH-BTC", fromTime, toTime, limit: 9, ...(cursor ? { cursor } : {}) }),
      );
      assert.deepEqual(
        got.map((t) => t.tradeId),
        expected,
      );
    });

    test("an account's balance rebuilt from its ledger at random seqs equals the engine's at that seq", async () => {
      const store = await written();
      const gen = g();
      assert.ok(gen.samples.length >= 10);
      for (const sample of gen.samples) {
        const rebuilt = await rebuildBalance(store, sample.accountId, sample.seq);
        const byAsset = new Map(rebuilt.map((b) => [b.asset, b]));
        for (const engine of sample.balances) {
          const b = byAsset.get(engine.asset);
          assert.equal(
            b?.available ?? 0,
            engine.available,
            `account ${sample.accountId} ${engine.asset} at ${sample.seq}`,
          );
          assert.equal(
            b?.locked ?? 0,
            engine.locked,
            `account ${sample.accountId} ${engine.asset} at ${sample.seq}`,
          );
        }
      }
      // Account 1 holds bigint dollars: exact through the store.
      const big = await rebuildBalance(store, 1, gen.lastSeq);
      assert.equal(typeof big.find((b) => b.asset === "USD")!.available, "bigint");
    });

    test("the ledger pages the same both ways and its kinds explain every change", async () => {
      const store = await written();
      const down = await all((cursor) =>
        store.ledger({ accountId: 2, limit: 11, ...(cursor ? { cursor } : {}) }),
      );
      const up = await all((cursor) =>
        store.ledger({ accountId: 2, ascending: true, limit: 13, ...(cursor ? { cursor } : {}) }),
      );
      assert.ok(down.length > 10);
      assert.deepEqual(up, [...down].reverse());
      const kinds = new Set<string>();
      for (const e of up) {
        for (const k of [
          "deposit",
          "withdrawal",
          "settlementIn",
          "settlementOut",
          "feeOut",
          "hold",
          "release",
        ] as const) {
          if (e[k] !== 0) kinds.add(k);
        }
      }
      assert.deepEqual([...kinds].sort(), [
        "deposit",
        "feeOut",
        "hold",
        "release",
        "settlementIn",
        "settlementOut",
        "withdrawal",
      ]);
      const fees = await store.ledger({ accountId: 0, limit: 5 });
      assert.ok(fees.items.every((e) => e.feeIn !== 0));
      const current = await store.balances(2);
      const rebuilt = await rebuildBalance(store, 2, Number.MAX_SAFE_INTEGER);
      assert.deepEqual(
        current.map((b) => [b.asset, b.available, b.locked]),
        rebuilt.map((b) => [b.asset, b.available, b.locked]),
      );
    });

    test("an order's lifecycle, oldest first, paged", async () => {
      const store = await written();
      const gen = g();
      const traded = gen.trades[gen.trades.length - 1]!;
      const events = await all((cursor) =>
        store.orderEvents({ orderId: traded.makerOrderId, limit: 1, ...(cursor ? { cursor } : {}) }),
      );
      assert.ok(events.length >= 2);
      assert.ok(events[0]!.reasons.startsWith("placed"));
      assert.ok(events.some((e) => e.reasons.includes("traded")));
      for (let i = 1; i < events.length; i++) assert.ok(events[i]!.seq > events[i - 1]!.seq);
    });

    test("a writer restarted from the checkpoint replays the journal and stores nothing twice", async () => {
      const store = await options.fresh();
      const gen = g();
      const half = Math.floor(gen.commands.length / 2);
      const first = new HistoryWriter({ store, config: workloadConfig, batchCommandsMax: 100, log: quiet });
      await first.start();
      for (const c of gen.commands.slice(0, half)) first.enqueue(c.seq, c.time, c.events);
      await first.drain();
      await first.close();
      assert.equal(await store.checkpoint(), half);
      // A new process: the journal is at lastSeq, the history at `half`.
      const source = new ArraySource(gen.commands);
      const second = new HistoryWriter({
        store,
        config: workloadConfig,
        source,
        batchCommandsMax: 333,
        log: quiet,
      });
      await second.start(gen.lastSeq - 10);
      assert.equal(second.lastCheckpoint(), half);
      // The live stream resumes while the writer is still reading back: overlap and gap both handled.
      for (const c of gen.commands.slice(gen.lastSeq - 30)) second.enqueue(c.seq, c.time, c.events);
      await second.drain();
      await second.close();
      assert.ok(source.reads > 0);
      assert.equal(await store.checkpoint(), gen.lastSeq);
      assert.deepEqual(
        await storedTradeIds(store, symbols),
        gen.trades.map((t) => t.tradeId),
      );
      const sample = gen.samples.at(-1)!;
      const rebuilt = await rebuildBalance(store, sample.accountId, sample.seq);
      for (const e of sample.balances) {
        const b = rebuilt.find((r) => r.asset === e.asset);
        assert.equal(b?.available ?? 0, e.available);
      }
      await store.close();
    });

    test("a full queue never blocks: the writer falls behind, reads back from the journal, catches up", async () => {
      const store = await options.fresh();
      const gen = g();
      const commands = gen.commands.slice(0, Math.min(600, gen.commands.length));
      const source = new ArraySource(gen.commands);
      const writer = new HistoryWriter({
        store,
        config: workloadConfig,
        source,
        queueCommandsMax: 16,
        batchCommandsMax: 8,
        catchUpCommandsMax: 64,
        log: quiet,
      });
      await writer.start();
      for (const c of commands) writer.enqueue(c.seq, c.time, c.events);
      const m = writer.metrics();
      assert.equal(m.behind, true);
      assert.equal(m.queueCommands, 16);
      assert.equal(m.lagCommands, commands.length);
      await writer.drain();
      const after = writer.metrics();
      assert.equal(after.behind, false);
      assert.equal(after.checkpointSeq, commands.length);
      assert.equal(after.lagCommands, 0);
      assert.equal(after.lagMs, 0);
      assert.ok(after.commandsReadBack >= commands.length - 16);
      // Live again: the next command is queued, not read back.
      const next = gen.commands[commands.length]!;
      const readsBefore = source.reads;
      writer.enqueue(next.seq, next.time, next.events);
      await writer.drain();
      assert.equal(source.reads, readsBefore);
      assert.equal(await store.checkpoint(), next.seq);
      await writer.close();
      const expected = gen.trades.filter((t) => t.seq <= next.seq).map((t) => t.tradeId);
      assert.deepEqual(await storedTradeIds(store, symbols), expected);
      await store.close();
    });

    test("a missing seq with no journal to read it from stops the writer", async () => {
      const store = await options.fresh();
      const gen = g();
      let fatal: Error | null = null;
      const writer = new HistoryWriter({
        store,
        config: workloadConfig,
        log: quiet,
        onFatal: (e) => {
          fatal = e;
        },
      });
      await writer.start();
      writer.enqueue(1, gen.commands[0]!.time, gen.commands[0]!.events);
      writer.enqueue(3, gen.commands[2]!.time, gen.commands[2]!.events);
      await assert.rejects(writer.drain(), /no journal/);
      assert.ok(fatal !== null);
      assert.equal(await store.checkpoint(), 1);
      await writer.close();
      await store.close();
    });

    test("a malformed cursor or limit is refused with a typed error", async () => {
      const store = await written();
      await assert.rejects(store.fills({ accountId: 1, cursor: "!!" }), CursorError);
      await assert.rejects(store.fills({ accountId: 1, cursor: "eyJ0IjoiYSJ9" }), CursorError);
      await assert.rejects(store.trades({ symbol: "BTC-USD", limit: 0 }), CursorError);
      const capped = await store.trades({ symbol: "BTC-USD", limit: 1_000_000 });
      assert.ok(capped.items.length <= 1_000);
    });

    test("kill -9 while writing, twice, then restart: every trade exactly once, balances as the engine's", async () => {
      const url = options.freshUrl();
      const count = options.crashCommands;
      const batch = options.crashBatchCommands;
      const first = await runChild(url, count, batch, "live", Math.floor(count * 0.3));
      assert.equal(first.killed, true, `first run not killed mid-stream: ${first.stderr}`);
      const second = await runChild(url, count, batch, "resume", Math.floor(count * 0.65));
      assert.equal(second.killed, true, `second run not killed mid-stream: ${second.stderr}`);
      assert.ok(second.checkpoint < count);
      const third = await runChild(url, count, batch, "resume", null);
      assert.equal(third.code, 0, third.stderr);
      // The journal twin: the same seeded stream, regenerated here.
      const w = new Workload({ seed: 7, accounts: 12 });
      const trades: number[] = [];
      for (let i = 0; i < count; i++)
        for (const e of w.step().events) if (e.type === "trade") trades.push(e.tradeId);
      const store = await createHistoryStore(url, "");
      await store.open();
      assert.equal(await store.checkpoint(), count);
      assert.deepEqual(await storedTradeIds(store, symbols), trades);
      for (let accountId = 0; accountId <= 12; accountId++) {
        const rebuilt = await rebuildBalance(store, accountId, count);
        for (const e of w.engine.balances(accountId) ?? []) {
          const b = rebuilt.find((r) => r.asset === e.asset);
          assert.equal(b?.available ?? 0, e.available, `account ${accountId} ${e.asset}`);
          assert.equal(b?.locked ?? 0, e.locked, `account ${accountId} ${e.asset}`);
        }
      }
      await store.close();
    });

    test("closes", async () => {
      if (shared !== null) await shared.close();
    });
  });
}

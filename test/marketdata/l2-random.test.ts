/**
 * The L2 derivation, proven against the engine itself: a long seeded random stream drives the real
 * Engine; after every command the market data book must equal engine.book() level for level, the
 * book updates must apply to a client replica that equals the snapshot, and sequences must be
 * contiguous. Half way, a second MarketData starts from a restored engine's state (init) and must
 * agree from then on.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { defaultConfig, settleConfig } from "../../src/engine/config.js";
import { Engine } from "../../src/engine/engine.js";
import type { EngineEvent } from "../../src/engine/types.js";
import { type BookUpdate, MarketData, type MarketDataUpdate } from "../../src/marketdata/index.js";
import { CommandStream } from "./driver.js";

const config = settleConfig(defaultConfig);
const symbols = config.markets.map((m) => m.symbol);
const allDepth = 1_000_000;

/** A client's copy of one book, fed by snapshot + updates. */
class Replica {
  bids = new Map<string, string>();
  asks = new Map<string, string>();
  sequence = 0;
  constructor(md: MarketData, symbol: string) {
    const snap = md.book(symbol, allDepth)!;
    this.sequence = snap.sequence;
    for (const [p, q] of snap.bids) this.bids.set(p, q);
    for (const [p, q] of snap.asks) this.asks.set(p, q);
  }
  apply(u: BookUpdate): void {
    assert.equal(u.sequence, this.sequence + 1, `${u.symbol}: sequence gap`);
    this.sequence = u.sequence;
    assert.ok(u.bids.length + u.asks.length > 0, "an update carries at least one level");
    for (const [p, q] of u.bids) {
      if (q === "0" || /^0\.0+$/.test(q)) assert.ok(this.bids.delete(p), `bid ${p} removed but absent`);
      else this.bids.set(p, q);
    }
    for (const [p, q] of u.asks) {
      if (q === "0" || /^0\.0+$/.test(q)) assert.ok(this.asks.delete(p), `ask ${p} removed but absent`);
      else this.asks.set(p, q);
    }
  }
  matches(md: MarketData, symbol: string): void {
    const snap = md.book(symbol, allDepth)!;
    assert.equal(snap.sequence, this.sequence);
    assert.deepEqual(new Map(snap.bids), this.bids);
    assert.deepEqual(new Map(snap.asks), this.asks);
  }
}

function sameAsEngine(md: MarketData, engine: Engine, at: number): void {
  for (const symbol of symbols) {
    const expected = engine.book(symbol, allDepth)!;
    const got = md.rawBook(symbol, allDepth)!;
    assert.deepEqual(got.bids, expected.bids, `${symbol} bids after command ${at}`);
    assert.deepEqual(got.asks, expected.asks, `${symbol} asks after command ${at}`);
  }
}

function checkUpdates(
  updates: MarketDataUpdate[],
  events: readonly EngineEvent[],
  replicas: Map<string, Replica>,
) {
  const bookSymbols = new Set<string>();
  const orderIds = new Set<number>();
  for (const u of updates) {
    if (u.channel === "book") {
      assert.ok(!bookSymbols.has(u.symbol), "one book update per market per command");
      bookSymbols.add(u.symbol);
      replicas.get(u.symbol)!.apply(u);
    } else if (u.channel === "orders") {
      assert.ok(!orderIds.has(Number(u.order.orderId)), "one orders message per order per command");
      orderIds.add(Number(u.order.orderId));
      // The message carries the order's last event state and every fill of the command.
      let last: EngineEvent | undefined;
      let fills = 0;
      for (const e of events) {
        if (e.type === "order" && String(e.orderId) === u.order.orderId) last = e;
        if (
          e.type === "trade" &&
          (String(e.takerOrderId) === u.order.orderId || String(e.makerOrderId) === u.order.orderId)
        )
          fills++;
      }
      assert.ok(last !== undefined && last.type === "order");
      assert.equal(u.order.status, last.status);
      assert.equal(u.order.fills.length, fills);
    }
  }
  const balances = events.filter((e) => e.type === "balance" && e.accountId !== 0).length;
  assert.equal(updates.filter((u) => u.channel === "balances").length, balances);
  const orders = new Set(events.flatMap((e) => (e.type === "order" ? [e.orderId] : [])));
  assert.equal(orderIds.size, orders.size);
}

function run(seed: number, commands: number, accounts: number) {
  const engine = new Engine(config);
  const stream = new CommandStream(config, seed, accounts);
  const md = new MarketData(config, { limits: { bookDepthMax: allDepth } });
  const replicas = new Map(symbols.map((s) => [s, new Replica(md, s)]));
  let late: { md: MarketData; replicas: Map<string, Replica> } | null = null;
  const seen = {
    trades: 0,
    amended: 0,
    expiredGtd: 0,
    triggered: 0,
    selfTrade: 0,
    bookUpdates: 0,
    tickers: 0,
  };
  const events: EngineEvent[] = [];
  for (let i = 1; i <= commands; i++) {
    if (i === Math.floor(commands / 2)) {
      // Restart: a fresh MarketData from a snapshot-restored engine, sequences from its lastSeq.
      const restored = Engine.restore(defaultConfig, engine.snapshot());
      const dump = restored.dump();
      const md2 = new MarketData(config, { limits: { bookDepthMax: allDepth } });
      md2.init(restored.lastSeq, dump.orders, dump.markets);
      for (const s of symbols) {
        assert.equal(md2.sequence(s), restored.lastSeq);
        assert.ok(md2.sequence(s)! >= md.sequence(s)!, "a restart never moves a book sequence backwards");
      }
      sameAsEngine(md2, engine, i);
      late = { md: md2, replicas: new Map(symbols.map((s) => [s, new Replica(md2, s)])) };
    }
    events.length = 0;
    const cmd = stream.next();
    engine.apply(cmd, events);
    stream.observe(events);
    const updates = md.apply(events);
    sameAsEngine(md, engine, i);
    checkUpdates(updates, events, replicas);
    if (late !== null) {
      const updates2 = late.md.apply(events);
      sameAsEngine(late.md, engine, i);
      checkUpdates(updates2, events, late.replicas);
    }
    for (const e of events) {
      if (e.type === "trade") seen.trades++;
      else if (e.type === "order") {
        if (e.reason === "amended") seen.amended++;
        else if (e.reason === "expired_gtd") seen.expiredGtd++;
        else if (e.reason === "triggered") seen.triggered++;
        else if (e.reason === "self_trade") seen.selfTrade++;
      }
    }
    for (const u of updates) {
      if (u.channel === "book") seen.bookUpdates++;
      else if (u.channel === "ticker") {
        seen.tickers++;
        const top = engine.book(u.symbol, 1)!;
        const f = md.views.market(u.symbol)!;
        assert.equal(u.bestBid, top.bids.length ? f.price(top.bids[0]![0]) : null);
        assert.equal(u.bestAsk, top.asks.length ? f.price(top.asks[0]![0]) : null);
      }
    }
    if (i % 1_000 === 0) {
      for (const s of symbols) replicas.get(s)!.matches(md, s);
      if (late !== null) for (const s of symbols) late.replicas.get(s)!.matches(late.md, s);
    }
  }
  for (const s of symbols) replicas.get(s)!.matches(md, s);
  return seen;
}

test("L2 book equals engine.book() after every command of a 25k-command random stream", () => {
  const seen = run(20240601, 25_000, 8);
  // The stream exercised every path that moves a level.
  assert.ok(seen.trades > 5_000, `trades ${seen.trades}`);
  assert.ok(seen.amended > 500, `amended ${seen.amended}`);
  assert.ok(seen.expiredGtd > 100, `expired_gtd ${seen.expiredGtd}`);
  assert.ok(seen.triggered > 100, `triggered ${seen.triggered}`);
  assert.ok(seen.selfTrade > 100, `self_trade ${seen.selfTrade}`);
  assert.ok(seen.bookUpdates > 10_000, `book updates ${seen.bookUpdates}`);
});

test("L2 book equals engine.book() with two accounts (self-trade prevention everywhere)", () => {
  const seen = run(7, 10_000, 2);
  assert.ok(seen.selfTrade > 500, `self_trade ${seen.selfTrade}`);
});

/**
 * Memory per resting order and snapshot times, each in its own fresh process (the harness spawns
 * one per measurement), so the heap holds nothing but the book under test.
 *
 * Bytes per resting order = (heapUsed + external after placing N non-crossing orders − before) / N,
 * each read after two full GCs (run with --expose-gc; without it the figure is noisy and flagged).
 * `external` is included so that state kept off the V8 heap (ArrayBuffers) is counted too.
 * The orders are built one at a time inside the loop (and become garbage), so the figure is what the
 * book retains, not the commands.
 */
import { Engine } from "../../src/engine/engine.js";
import type { EngineEvent } from "../../src/engine/types.js";
import { createAccount, deposit, limitOrder } from "./commands.js";
import { RegionProfiler } from "./cpu-profile.js";
import { newNobBook, nobLimitOp } from "./nob.js";
import { Rng } from "./rng.js";
import { benchConfig, benchSymbol, btcDeposit, midPrice, usdDeposit } from "./workloads.js";

const gcFn = (globalThis as { gc?: () => void }).gc;
export const gcExposed = gcFn !== undefined;

function fullGc(): void {
  if (gcFn === undefined) return;
  gcFn();
  gcFn();
}

function used(): { heap: number; external: number } {
  const m = process.memoryUsage();
  return { heap: m.heapUsed, external: m.external };
}

export interface BookShape {
  orders: number;
  accounts: number;
  /** Levels a side: orders spread evenly over them. */
  levelsPerSide: number;
}

export const defaultShape: BookShape = { orders: 1_000_000, accounts: 2000, levelsPerSide: 5000 };

/** The i-th resting order of the book shape: alternating sides, levels cycling away from the mid. */
function orderAt(
  shape: BookShape,
  i: number,
  rng: Rng,
): { isBuy: boolean; price: number; lots: number; account: number } {
  const isBuy = (i & 1) === 0;
  const level = (i >> 1) % shape.levelsPerSide;
  const price = isBuy ? midPrice - 1 - level : midPrice + 1 + level;
  const lots = 1 + rng.int(6) * rng.int(6) * rng.int(6);
  const account = 1 + 2 * rng.int(shape.accounts >> 1) + (isBuy ? 0 : 1);
  return { isBuy, price, lots, account };
}

export interface EngineMemoryResult {
  restingOrders: number;
  accounts: number;
  priceLevels: number;
  bytesPerRestingOrder: number;
  heapBytesPerRestingOrder: number;
  externalBytesPerRestingOrder: number;
  buildOpsPerSec: number;
  gcExposed: boolean;
  snapshotBytes: number;
  snapshotWriteMs: number;
  snapshotLoadMs: number;
  snapshotWriteRunsMs: number[];
  snapshotLoadRunsMs: number[];
  /** Time of engine.stateHash() on the 1M-order book; -1 when not measured (--quick). */
  stateHashMs: number;
  /** restore(snapshot()) has the same state hash. */
  snapshotRoundTrip: boolean;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const r1 = (x: number) => Math.round(x * 10) / 10;

/**
 * `verifyByHash`: compare state hashes of the original and the restored engine (and time stateHash);
 * otherwise (--quick) compare the restored engine's snapshot bytes with the original's (one write
 * instead of two hashes).
 */
export function measureEngineMemory(
  shape: BookShape,
  snapshotRuns: number,
  verifyByHash: boolean,
  log: (line: string) => void,
  profileDir = "",
): EngineMemoryResult {
  const engine = new Engine(benchConfig);
  const out: EngineEvent[] = [];
  let seq = 0;
  const apply = (cmd: Parameters<Engine["apply"]>[0]) => {
    engine.apply(cmd, out);
    if (out.length > 0 && out[0]!.type === "rejected")
      throw new Error(`memory: rejected ${JSON.stringify(out[0])}`);
    out.length = 0;
  };
  for (let i = 1; i <= shape.accounts; i++) apply(createAccount(++seq));
  for (let i = 1; i <= shape.accounts; i++) {
    apply(deposit(++seq, i, "USD", usdDeposit, `usd-${i}`));
    apply(deposit(++seq, i, "BTC", btcDeposit, `btc-${i}`));
  }
  const rng = new Rng(7);
  fullGc();
  const before = used();
  const t0 = performance.now();
  for (let i = 0; i < shape.orders; i++) {
    const o = orderAt(shape, i, rng);
    apply(limitOrder(++seq, o.account, benchSymbol, o.isBuy, o.price, o.lots, "GTC"));
  }
  const buildMs = performance.now() - t0;
  fullGc();
  const after = used();
  const heap = (after.heap - before.heap) / shape.orders;
  const external = (after.external - before.external) / shape.orders;
  log(
    `  engine: ${shape.orders} resting orders: ${r1(heap + external)} bytes/order ` +
      `(heap ${r1(heap)}, external ${r1(external)}), built at ${Math.round(shape.orders / (buildMs / 1000))} orders/s`,
  );
  const book = engine.book(benchSymbol, Number.MAX_SAFE_INTEGER)!;
  const priceLevels = book.bids.length + book.asks.length;

  const writes: number[] = [];
  const loads: number[] = [];
  let bytes: Uint8Array = new Uint8Array(0);
  let roundTrip = true;
  let hash = "";
  let stateHashMs = -1;
  if (verifyByHash) {
    const hash0 = performance.now();
    hash = engine.stateHash();
    stateHashMs = performance.now() - hash0;
  }
  const profiler = profileDir === "" ? null : new RegionProfiler(profileDir);
  for (let r = 0; r < snapshotRuns; r++) {
    fullGc();
    profiler?.start();
    const w0 = performance.now();
    bytes = engine.snapshot();
    writes.push(performance.now() - w0);
    if (profiler) log(`  profile: ${profiler.stop(`snapshot-write-run${r + 1}`)}`);
    fullGc();
    profiler?.start();
    const l0 = performance.now();
    const restored = Engine.restore(benchConfig, bytes);
    loads.push(performance.now() - l0);
    if (profiler) log(`  profile: ${profiler.stop(`snapshot-load-run${r + 1}`)}`);
    if (r === 0) {
      roundTrip = verifyByHash
        ? restored.stateHash() === hash
        : Buffer.compare(Buffer.from(restored.snapshot()), Buffer.from(bytes)) === 0;
    }
    log(
      `  snapshot ${r + 1}: write ${Math.round(writes[r]!)} ms, load ${Math.round(loads[r]!)} ms, ${bytes.length} bytes`,
    );
  }
  profiler?.close();
  return {
    restingOrders: shape.orders,
    accounts: shape.accounts,
    priceLevels,
    bytesPerRestingOrder: r1(heap + external),
    heapBytesPerRestingOrder: r1(heap),
    externalBytesPerRestingOrder: r1(external),
    buildOpsPerSec: Math.round(shape.orders / (buildMs / 1000)),
    gcExposed,
    snapshotBytes: bytes.length,
    snapshotWriteMs: Math.round(median(writes)),
    snapshotLoadMs: Math.round(median(loads)),
    snapshotWriteRunsMs: writes.map(Math.round),
    snapshotLoadRunsMs: loads.map(Math.round),
    stateHashMs: Math.round(stateHashMs),
    snapshotRoundTrip: roundTrip,
  };
}

export interface NobMemoryResult {
  restingOrders: number;
  bytesPerRestingOrder: number;
  heapBytesPerRestingOrder: number;
  buildOpsPerSec: number;
  gcExposed: boolean;
}

/** The same book shape in nodejs-order-book (it has no accounts: holds and balances are not its job). */
export function measureNobMemory(shape: BookShape, log: (line: string) => void): NobMemoryResult {
  const ob = newNobBook();
  const rng = new Rng(7);
  fullGc();
  const before = used();
  const t0 = performance.now();
  for (let i = 0; i < shape.orders; i++) {
    const o = orderAt(shape, i, rng);
    ob.limit(nobLimitOp(i + 1, o.isBuy, o.price, o.lots, false).limit!);
  }
  const buildMs = performance.now() - t0;
  fullGc();
  const after = used();
  const heap = (after.heap - before.heap) / shape.orders;
  const external = (after.external - before.external) / shape.orders;
  // Keep the book reachable until after the second reading.
  if (ob.order("1") === undefined) throw new Error("memory: nodejs-order-book lost order 1");
  log(`  nodejs-order-book: ${shape.orders} resting orders: ${r1(heap + external)} bytes/order`);
  return {
    restingOrders: shape.orders,
    bytesPerRestingOrder: r1(heap + external),
    heapBytesPerRestingOrder: r1(heap),
    buildOpsPerSec: Math.round(shape.orders / (buildMs / 1000)),
    gcExposed,
  };
}

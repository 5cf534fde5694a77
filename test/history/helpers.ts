/**
 * Test helpers: the expected history computed straight from the engine's events (a reference the
 * stores must match), and a journal twin that reads generated commands back by seq.
 */
import type { Int } from "../../src/engine/int.js";
import type { EngineEvent, OrderEvent, TradeEvent } from "../../src/engine/types.js";
import type { HistoryStore } from "../../src/history/history-store.js";
import type { CommandEvents, FillRecord, Page } from "../../src/history/records.js";
import type { CommandEventSource } from "../../src/history/writer.js";
import { Workload, workloadConfig } from "./workload.js";

/** Reads generated commands back by seq, as the journal does after a restart. */
export class ArraySource implements CommandEventSource {
  reads = 0;
  constructor(private readonly commands: readonly CommandEvents[]) {}

  async read(fromSeq: number, toSeq: number, maxCommands: number): Promise<CommandEvents[]> {
    this.reads++;
    const first = this.commands[0]?.seq ?? 1;
    const start = fromSeq - first;
    const end = Math.min(toSeq - first + 1, start + maxCommands);
    return this.commands.slice(start, end);
  }
}

export interface BalanceSample {
  seq: number;
  accountId: number;
  balances: { asset: string; available: Int; locked: Int }[];
}

export interface Generated {
  commands: CommandEvents[];
  trades: TradeEvent[];
  finalOrders: Map<number, OrderEvent>;
  samples: BalanceSample[];
  accounts: number;
  lastSeq: number;
}

/** Runs the real engine on a seeded workload; samples the engine's balances at random seqs. */
export function generate(seed: number, count: number, accounts = 12, sampleEvery = 97): Generated {
  const w = new Workload({ seed, accounts, dayEvery: Math.max(1, Math.floor(count / 3)) });
  const commands: CommandEvents[] = [];
  const trades: TradeEvent[] = [];
  const finalOrders = new Map<number, OrderEvent>();
  const samples: BalanceSample[] = [];
  for (let i = 0; i < count; i++) {
    const c = w.step();
    commands.push(c);
    for (const e of c.events) {
      if (e.type === "trade") trades.push(e);
      else if (e.type === "order") finalOrders.set(e.orderId, e);
    }
    if (i % sampleEvery === sampleEvery - 1) {
      const accountId = (i * 7) % (accounts + 1); // the fee account (0) included
      samples.push({ seq: c.seq, accountId, balances: w.engine.balances(accountId) ?? [] });
    }
  }
  return { commands, trades, finalOrders, samples, accounts, lastSeq: w.lastSeq };
}

export { workloadConfig };

/** Every fill of an account, newest first, from the trade events. */
export function expectedFills(trades: readonly TradeEvent[], accountId: number): string[] {
  const out: string[] = [];
  for (let i = trades.length - 1; i >= 0; i--) {
    const t = trades[i]!;
    if (t.takerAccountId === accountId) out.push(`${t.tradeId}:taker:${t.symbol}`);
    if (t.makerAccountId === accountId) out.push(`${t.tradeId}:maker:${t.symbol}`);
  }
  return out;
}

export function fillKey(f: FillRecord): string {
  return `${f.tradeId}:${f.liquidity}:${f.symbol}`;
}

/** Follows a paged query to its end. */
export async function all<T>(
  pageOf: (cursor: string | undefined) => Promise<Page<T>>,
  pagesMax = 100_000,
): Promise<T[]> {
  const out: T[] = [];
  let cursor: string | undefined;
  for (let i = 0; i < pagesMax; i++) {
    const page = await pageOf(cursor);
    out.push(...page.items);
    if (page.nextCursor === undefined) return out;
    cursor = page.nextCursor;
  }
  throw new Error("too many pages");
}

/** Every trade in the store, by symbol, tradeIds ascending. */
export async function storedTradeIds(store: HistoryStore, symbols: readonly string[]): Promise<number[]> {
  const ids: number[] = [];
  for (const symbol of symbols) {
    const trades = await all((cursor) => store.trades({ symbol, limit: 500, ...(cursor ? { cursor } : {}) }));
    for (const t of trades) ids.push(t.tradeId);
  }
  return ids.sort((a, b) => a - b);
}

export function sameInt(a: Int, b: Int): boolean {
  return a === b;
}

export type { EngineEvent };

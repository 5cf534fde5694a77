/**
 * Invariants that hold after every command, checked on a dump (so they apply to any EngineModel):
 * money is conserved and never negative, holds add up to locked balances, and the books, stops and
 * order set are three consistent views of the same orders. `checkInvariants` throws an Error naming
 * the first violation.
 */
import { type EngineConfig, type SettledConfig, settleConfig } from "../../src/engine/config.js";
import type { EngineDump, OrderDump } from "../../src/engine/dump.js";
import { big } from "../../src/engine/int.js";
import type { EngineEvent } from "../../src/engine/types.js";

/** Deposits − withdrawals per asset, from the `transfer` events (duplicates move nothing). */
export class SupplyTracker {
  readonly supply = new Map<string, bigint>();

  observe(events: readonly EngineEvent[]): void {
    for (const e of events) {
      if (e.type !== "transfer" || e.duplicate) continue;
      const delta = e.kind === "deposit" ? big(e.amount) : -big(e.amount);
      this.supply.set(e.asset, (this.supply.get(e.asset) ?? 0n) + delta);
    }
  }
}

function fail(message: string): never {
  throw new Error(`invariant violated: ${message}`);
}

function settled(config: EngineConfig | SettledConfig): SettledConfig {
  return "marketBySymbol" in config ? config : settleConfig(config);
}

export function checkInvariants(
  dump: EngineDump,
  config: EngineConfig | SettledConfig,
  supply: ReadonlyMap<string, bigint>,
): void {
  const c = settled(config);
  const assetCount = c.assets.length;

  // Accounts: 0 .. nextAccountId-1, every balance non-negative.
  if (dump.accounts.length !== dump.nextAccountId)
    fail(`${dump.accounts.length} accounts, next id ${dump.nextAccountId}`);
  const available: bigint[][] = [];
  const locked: bigint[][] = [];
  dump.accounts.forEach((a, i) => {
    if (a.accountId !== i) fail(`account at position ${i} has id ${a.accountId}`);
    if (a.balances.length !== assetCount) fail(`account ${i} has ${a.balances.length} balances`);
    available.push(a.balances.map(([v]) => BigInt(v)));
    locked.push(a.balances.map(([, l]) => BigInt(l)));
    a.balances.forEach(([v, l], asset) => {
      if (BigInt(v) < 0n || BigInt(l) < 0n) fail(`account ${i} asset ${asset} is negative: ${v} / ${l}`);
    });
  });

  // Orders: each sane on its own, and the holds add up to the locked balances.
  const holds = locked.map((row) => row.map(() => 0n));
  const byId = new Map<number, OrderDump>();
  let previousId = 0;
  for (const o of dump.orders) {
    const where = `order ${o.orderId}`;
    if (o.orderId <= previousId) fail(`orders not strictly by orderId at ${o.orderId}`);
    previousId = o.orderId;
    if (o.orderId >= dump.nextOrderId) fail(`${where} has an id past nextOrderId ${dump.nextOrderId}`);
    byId.set(o.orderId, o);
    const m = c.marketBySymbol.get(o.symbol);
    if (m === undefined) fail(`${where} names unknown market ${o.symbol}`);
    if (o.accountId < 0 || o.accountId >= dump.nextAccountId)
      fail(`${where} of unknown account ${o.accountId}`);
    const hold = BigInt(o.hold);
    if (hold < 0n) fail(`${where} has a negative hold`);
    if (BigInt(o.filledNotional) < 0n) fail(`${where} has a negative filledNotional`);
    const stop = o.orderType === "stop_limit" || o.orderType === "stop_market";
    if (o.status === "untriggered") {
      if (!stop) fail(`${where} is untriggered but a ${o.orderType}`);
      if (o.filledQuantity !== 0) fail(`${where} is untriggered with fills`);
    } else {
      // A resting order: limit-priced, may rest, not filled.
      if (o.orderType !== "limit" && o.orderType !== "stop_limit") fail(`${where} rests as a ${o.orderType}`);
      if (o.timeInForce !== "GTC" && o.timeInForce !== "GTD") fail(`${where} rests with ${o.timeInForce}`);
      if (!(o.filledQuantity < o.quantity))
        fail(`${where} rests with filled ${o.filledQuantity} of ${o.quantity}`);
      const expected = o.filledQuantity > 0 ? "partially_filled" : "open";
      if (o.status !== expected) fail(`${where} is ${o.status} with filled ${o.filledQuantity}`);
    }
    if (o.timeInForce === "GTD" && !(o.expireTime > dump.time)) {
      fail(`${where} expires at ${o.expireTime} but is still held at ${dump.time}`);
    }
    if (o.side === "sell" && hold !== BigInt(o.quantity - o.filledQuantity) * BigInt(m.baseUnitsPerLot)) {
      fail(`${where}: a sell holds ${hold}, not base(remaining)`);
    }
    const asset = o.side === "buy" ? m.quote.index : m.base.index;
    holds[o.accountId]![asset]! += hold;
  }
  for (let a = 0; a < locked.length; a++) {
    for (let s = 0; s < assetCount; s++) {
      if (locked[a]![s] !== holds[a]![s]) {
        fail(
          `account ${a} ${c.assets[s]!.asset}: locked ${locked[a]![s]} but its orders hold ${holds[a]![s]}`,
        );
      }
    }
  }

  // Conservation: every unit of an asset is somewhere.
  for (const asset of c.assets) {
    let total = 0n;
    for (let a = 0; a < available.length; a++)
      total += available[a]![asset.index]! + locked[a]![asset.index]!;
    const expected = supply.get(asset.asset) ?? 0n;
    if (total !== expected)
      fail(`${asset.asset}: balances sum to ${total}, deposits − withdrawals ${expected}`);
  }

  // Books and stops: exactly the open orders, each once, where it claims to be.
  const seen = new Set<number>();
  if (dump.markets.length !== c.markets.length) fail(`${dump.markets.length} markets in the dump`);
  dump.markets.forEach((md, index) => {
    const m = c.markets[index]!;
    if (md.symbol !== m.symbol) fail(`market ${index} is ${md.symbol}, expected ${m.symbol}`);
    if (md.lastPrice < 0) fail(`${m.symbol} lastPrice ${md.lastPrice}`);
    for (const side of ["bids", "asks"] as const) {
      let previous: number | undefined;
      for (const [price, ids] of md[side]) {
        if (ids.length === 0) fail(`${m.symbol} ${side} has an empty level at ${price}`);
        if (previous !== undefined && (side === "bids" ? price >= previous : price <= previous)) {
          fail(`${m.symbol} ${side} levels not strictly best first at ${price}`);
        }
        previous = price;
        for (const id of ids) {
          const o = byId.get(id);
          if (o === undefined) fail(`${m.symbol} ${side} ${price} lists unknown order ${id}`);
          if (seen.has(id)) fail(`order ${id} appears twice`);
          seen.add(id);
          if (o.symbol !== m.symbol || o.price !== price || o.side !== (side === "bids" ? "buy" : "sell")) {
            fail(`order ${id} (${o.symbol} ${o.side} ${o.price}) sits in ${m.symbol} ${side} at ${price}`);
          }
          if (o.status === "untriggered") fail(`untriggered order ${id} sits in the book`);
        }
      }
    }
    const bestBid = md.bids[0]?.[0];
    const bestAsk = md.asks[0]?.[0];
    if (bestBid !== undefined && bestAsk !== undefined && !(bestBid < bestAsk)) {
      fail(`${m.symbol} book crossed: bid ${bestBid} ask ${bestAsk}`);
    }
    let previousStop = 0;
    for (const id of md.stops) {
      if (id <= previousStop) fail(`${m.symbol} stops not by orderId at ${id}`);
      previousStop = id;
      const o = byId.get(id);
      if (o === undefined || o.status !== "untriggered" || o.symbol !== m.symbol) {
        fail(`${m.symbol} stops list order ${id}, which is not an untriggered stop of that market`);
      }
      if (seen.has(id)) fail(`order ${id} appears twice`);
      seen.add(id);
    }
  });
  if (seen.size !== byId.size) {
    const missing = [...byId.keys()].filter((id) => !seen.has(id));
    fail(`orders in no book or stop list: ${missing.slice(0, 10).join(", ")}`);
  }
}
